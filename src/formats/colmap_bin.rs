//! COLMAP sparse models in binary form: `cameras.bin` and `images.bin`, as COLMAP's
//! `WriteCamerasBinary` / `WriteImagesBinary` write them (little-endian, no header):
//!
//! - `cameras.bin`: `u64` camera count, then per camera `i32 CAMERA_ID`, `i32 MODEL_ID`,
//!   `u64 WIDTH`, `u64 HEIGHT` and the model's parameters as `f64`s (how many follows from the
//!   model: the file does not say, so an unknown model id ends the read).
//! - `images.bin`: `u64` image count, then per image `i32 IMAGE_ID`, `f64 QW QX QY QZ TX TY TZ`,
//!   `i32 CAMERA_ID`, the name as NUL-terminated bytes, `u64` point count and that many
//!   `f64 X, f64 Y, i64 POINT3D_ID` (skipped).
//!
//! The records mean what their text counterparts mean ([`super::colmap`]: same models, same
//! pixel convention, same checks); messages give the byte offset of the bad record.

use super::ImportError;
use super::colmap::{ColmapImage, image, intrinsics};
use crate::camera::Intrinsics;
use std::collections::BTreeMap;
use std::path::Path;

/// COLMAP's model ids (`src/colmap/sensor/models.h`) with their names and parameter counts.
const MODELS: [(&str, usize); 11] = [
    ("SIMPLE_PINHOLE", 3),
    ("PINHOLE", 4),
    ("SIMPLE_RADIAL", 4),
    ("RADIAL", 5),
    ("OPENCV", 8),
    ("OPENCV_FISHEYE", 8),
    ("FULL_OPENCV", 12),
    ("FOV", 5),
    ("SIMPLE_RADIAL_FISHEYE", 4),
    ("RADIAL_FISHEYE", 5),
    ("THIN_PRISM_FISHEYE", 12),
];

/// A little-endian reader over a file's bytes that names the offset of what it could not read.
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Bytes<'a> {
    fn new(data: &'a [u8], path: &'a Path) -> Self {
        Self { data, pos: 0, path }
    }

    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ImportError> {
        let start = self.pos;
        self.skip(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.data[start..self.pos]);
        Ok(out)
    }

    fn u64(&mut self, what: &str) -> Result<u64, ImportError> {
        self.take::<8>(what).map(u64::from_le_bytes)
    }

    fn i32(&mut self, what: &str) -> Result<i32, ImportError> {
        self.take::<4>(what).map(i32::from_le_bytes)
    }

    fn f64(&mut self, what: &str) -> Result<f64, ImportError> {
        self.take::<8>(what).map(f64::from_le_bytes)
    }

    /// A count of records of at least `min_record` bytes each, checked against what is left, so
    /// a damaged count cannot ask for more memory than the file could describe.
    fn count(&mut self, what: &str, min_record: usize) -> Result<usize, ImportError> {
        let at = self.pos;
        let n = self.u64(what)?;
        let left = (self.data.len() - self.pos) as u64;
        if n.saturating_mul(min_record as u64) > left {
            return Err(ImportError::invalid(
                self.path,
                format!(
                    "byte {at}: {what} is {n}, but only {left} bytes follow (at least \
                     {min_record} each); truncated or not a COLMAP binary model?"
                ),
            ));
        }
        Ok(n as usize)
    }

    /// A NUL-terminated UTF-8 string.
    fn name(&mut self, what: &str) -> Result<String, ImportError> {
        let at = self.pos;
        let rest = &self.data[self.pos..];
        let Some(len) = rest.iter().position(|&b| b == 0) else {
            return Err(ImportError::invalid(
                self.path,
                format!("byte {at}: {what} has no terminating NUL; truncated?"),
            ));
        };
        let s = std::str::from_utf8(&rest[..len]).map_err(|_| {
            ImportError::invalid(self.path, format!("byte {at}: {what} is not UTF-8"))
        })?;
        self.pos += len + 1;
        Ok(s.to_owned())
    }

    fn skip(&mut self, n: usize, what: &str) -> Result<(), ImportError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(ImportError::invalid(
                self.path,
                format!(
                    "byte {}: the file ends inside {what} ({} bytes long); truncated?",
                    self.pos,
                    self.data.len()
                ),
            ));
        };
        self.pos = end;
        Ok(())
    }

    fn finish(&self) -> Result<(), ImportError> {
        if self.pos != self.data.len() {
            return Err(ImportError::invalid(
                self.path,
                format!(
                    "byte {}: {} bytes left over after the last record; not a COLMAP binary \
                     model of this kind?",
                    self.pos,
                    self.data.len() - self.pos
                ),
            ));
        }
        Ok(())
    }
}

fn id(v: i32, what: &str, at: usize, path: &Path) -> Result<u64, ImportError> {
    u64::try_from(v).map_err(|_| ImportError::invalid(path, format!("byte {at}: {what} {v}")))
}

/// Reads `cameras.bin`: intrinsics by camera id, in replay360's pixel convention.
pub fn parse_cameras(bytes: &[u8], path: &Path) -> Result<BTreeMap<u64, Intrinsics>, ImportError> {
    let mut r = Bytes::new(bytes, path);
    // The smallest record: ids, size and three parameters.
    let n = r.count("the camera count", 4 + 4 + 16 + 3 * 8)?;
    let mut out = BTreeMap::new();
    for _ in 0..n {
        let at = r.pos;
        let camera_id = id(r.i32("a camera id")?, "negative camera id", at, path)?;
        let model_id = r.i32("a model id")?;
        let Some(&(model, count)) = usize::try_from(model_id).ok().and_then(|m| MODELS.get(m))
        else {
            return Err(ImportError::invalid(
                path,
                format!(
                    "byte {at}: camera {camera_id} has model id {model_id}, which COLMAP does \
                     not define (0..{})",
                    MODELS.len() - 1
                ),
            ));
        };
        let size = |v: u64, what: &str| {
            u32::try_from(v).map_err(|_| {
                ImportError::invalid(path, format!("byte {at}: camera {camera_id}: {what} {v}"))
            })
        };
        let width = size(r.u64("a width")?, "width")?;
        let height = size(r.u64("a height")?, "height")?;
        let params = (0..count)
            .map(|_| r.f64("camera parameters"))
            .collect::<Result<Vec<_>, _>>()?;
        if params.iter().any(|v| !v.is_finite()) {
            return Err(ImportError::invalid(
                path,
                format!("byte {at}: camera {camera_id}: NaN or infinite parameter"),
            ));
        }
        let k = intrinsics(
            model,
            width,
            height,
            &params,
            path,
            &format!("byte {at}: camera {camera_id}"),
        )?;
        if out.insert(camera_id, k).is_some() {
            return Err(ImportError::invalid(
                path,
                format!("byte {at}: camera {camera_id} is listed twice"),
            ));
        }
    }
    r.finish()?;
    Ok(out)
}

/// Reads `images.bin`: each image's pose (translation in the model's unit) and name.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<Vec<ColmapImage>, ImportError> {
    let mut r = Bytes::new(bytes, path);
    // The smallest record: id, pose, camera id, a one-byte name, a point count.
    let n = r.count("the image count", 4 + 7 * 8 + 4 + 2 + 8)?;
    let mut out: Vec<ColmapImage> = Vec::with_capacity(n);
    for _ in 0..n {
        let at = r.pos;
        let image_id = id(r.i32("an image id")?, "negative image id", at, path)?;
        let mut v = [0.0; 7];
        for x in &mut v {
            *x = r.f64("an image pose")?;
        }
        let camera_id = id(r.i32("a camera id")?, "negative camera id", at, path)?;
        let name = r.name("an image name")?;
        if name.is_empty() {
            return Err(ImportError::invalid(
                path,
                format!("byte {at}: image {image_id} has an empty name"),
            ));
        }
        let points = r.count("a 2D point count", 24)?;
        r.skip(points * 24, "the 2D points")?;
        let [qw, qx, qy, qz, tx, ty, tz] = v;
        let im = image(
            image_id,
            [qw, qx, qy, qz],
            [tx, ty, tz],
            camera_id,
            name,
            format!("byte {at}"),
            &out,
            path,
        )?;
        out.push(im);
    }
    r.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera_record(id: i32, model: i32, w: u64, h: u64, params: &[f64]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(id.to_le_bytes());
        b.extend(model.to_le_bytes());
        b.extend(w.to_le_bytes());
        b.extend(h.to_le_bytes());
        for p in params {
            b.extend(p.to_le_bytes());
        }
        b
    }

    #[test]
    fn a_pinhole_camera_reads_like_its_text_line() {
        let mut b = 1u64.to_le_bytes().to_vec();
        b.extend(camera_record(3, 1, 640, 480, &[500.0, 510.0, 320.0, 240.0]));
        let k = parse_cameras(&b, Path::new("cameras.bin")).expect("parses");
        let text = super::super::colmap::parse_cameras(
            "3 PINHOLE 640 480 500 510 320 240\n",
            Path::new("cameras.txt"),
        )
        .expect("parses");
        assert_eq!(k[&3], text[&3]);
    }

    #[test]
    fn damage_is_named_with_its_offset() {
        let p = Path::new("cameras.bin");
        let mut b = 1u64.to_le_bytes().to_vec();
        b.extend(camera_record(3, 1, 640, 480, &[500.0, 510.0, 320.0, 240.0]));
        let err = |b: &[u8]| parse_cameras(b, p).expect_err("error").to_string();
        let e = err(&b[..b.len() - 3]);
        assert!(e.contains("truncated") && e.ends_with("cameras.bin"), "{e}");
        let mut huge = b.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        let e = err(&huge);
        assert!(e.contains("byte 0") && e.contains("camera count"), "{e}");
        let mut unknown = b.clone();
        unknown[12..16].copy_from_slice(&42i32.to_le_bytes());
        let e = err(&unknown);
        assert!(e.contains("byte 8") && e.contains("model id 42"), "{e}");
        let mut fov = 1u64.to_le_bytes().to_vec();
        fov.extend(camera_record(
            1,
            7,
            640,
            480,
            &[500.0, 500.0, 320.0, 240.0, 0.9],
        ));
        let e = err(&fov);
        assert!(e.contains("FOV") && e.contains("not supported"), "{e}");
        let mut extra = b.clone();
        extra.push(0);
        assert!(err(&extra).contains("left over"));
    }
}
