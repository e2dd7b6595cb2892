//! Ingest: opens the capture's camera files and streams their frames.
//!
//! Files are decoded as streams, one frame at a time ([`crate::media::VideoReader`]); a whole
//! video is never held in memory. [`sample_frames`] takes a handful of frames spread over a clip
//! for its background model, from the keyframes alone when there are enough, so each file is
//! decoded in full only once (by the segmentation pass).

use crate::capture::{Capture, CaptureCamera};
use crate::media::{MediaError, VideoReader};
use image::RgbImage;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(
        "camera {camera}: the video is {got_w}x{got_h} but the calibration says {want_w}x{want_h}: {path}"
    )]
    SizeMismatch {
        camera: String,
        path: PathBuf,
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
    #[error(
        "camera {camera}: the capture is segmented by alpha but the media has no alpha channel: {path}"
    )]
    NoAlpha { camera: String, path: PathBuf },
    #[error("camera {camera}: the capture is segmented by masks but this camera has none: {path}")]
    NoMask { camera: String, path: PathBuf },
    #[error("camera {camera}: the mask does not match the media: {problem}: {path}")]
    MaskMismatch {
        camera: String,
        problem: String,
        path: PathBuf,
    },
    #[error("camera {camera}: the video has no frames: {path}")]
    Empty { camera: String, path: PathBuf },
    #[error("camera {camera} is not in the capture (known: {known})")]
    UnknownCamera { camera: String, known: String },
    #[error("no cameras left to reconstruct from after holding out {held_out}")]
    NoCameras { held_out: String },
    #[error(
        "reconstruction needs at least two cameras that see the athlete, but only {have} can be read (held out: {held_out}): {path}"
    )]
    TooFewCameras {
        have: usize,
        held_out: String,
        path: PathBuf,
    },
}

/// Chooses the cameras reconstruction may read: all but the held-out ones. When `hold_out` is
/// `None`, the manifest's `held_out` flags decide.
pub fn select_cameras(
    capture: &Capture,
    hold_out: Option<&[String]>,
) -> Result<Vec<CaptureCamera>, IngestError> {
    if let Some(ids) = hold_out {
        for id in ids {
            if capture.camera(id).is_none() {
                return Err(IngestError::UnknownCamera {
                    camera: id.clone(),
                    known: capture
                        .cameras
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    let held = |c: &CaptureCamera| match hold_out {
        Some(ids) => ids.iter().any(|id| id == &c.id),
        None => c.held_out,
    };
    let chosen: Vec<CaptureCamera> = capture
        .cameras
        .iter()
        .filter(|c| !held(c))
        .cloned()
        .collect();
    let held_ids = || -> Vec<&str> {
        capture
            .cameras
            .iter()
            .filter(|c| held(c))
            .map(|c| c.id.as_str())
            .collect()
    };
    if chosen.is_empty() {
        return Err(IngestError::NoCameras {
            held_out: held_ids().join(", "),
        });
    }
    if chosen.len() < 2 {
        let held = held_ids();
        return Err(IngestError::TooFewCameras {
            have: chosen.len(),
            held_out: if held.is_empty() {
                "none".to_owned()
            } else {
                held.join(", ")
            },
            path: capture.manifest_path.clone(),
        });
    }
    Ok(chosen)
}

/// Thumbnail scale so thumbnails are at most ~320 pixels wide.
pub fn thumb_scale(width: u32) -> u32 {
    width.div_ceil(320).max(1)
}

/// Box-filtered RGB thumbnail: each pixel the mean (rounded down) of a `scale` x `scale` block;
/// a partial block at the right or bottom edge is dropped.
pub fn thumbnail(img: &RgbImage, scale: u32) -> RgbImage {
    if scale <= 1 {
        return img.clone();
    }
    let (w, h) = ((img.width() / scale).max(1), (img.height() / scale).max(1));
    let (s, tw) = (scale as usize, w as usize);
    let stride = img.width() as usize * 3;
    let n = scale * scale;
    let mut out = vec![0u8; tw * h as usize * 3];
    let raw = img.as_raw();
    // Columns summed row by row (contiguous, so it vectorises), then blocks of columns.
    let mut cols = vec![0u32; tw * s * 3];
    for (ty, out_row) in out.chunks_exact_mut(tw * 3).enumerate() {
        cols.fill(0);
        for dy in 0..s {
            let start = (ty * s + dy) * stride;
            // A picture smaller than one block (w or h clamped to 1) adds what it has.
            let Some(row) = raw.get(start..(start + stride).min(raw.len())) else {
                continue;
            };
            for (c, &v) in cols.iter_mut().zip(row) {
                *c += v as u32;
            }
        }
        for (o, block) in out_row.chunks_exact_mut(3).zip(cols.chunks_exact(s * 3)) {
            let mut acc = [0u32; 3];
            for px in block.chunks_exact(3) {
                acc[0] += px[0];
                acc[1] += px[1];
                acc[2] += px[2];
            }
            for c in 0..3 {
                o[c] = (acc[c] / n) as u8;
            }
        }
    }
    RgbImage::from_raw(w, h, out).unwrap_or_else(|| RgbImage::new(w, h))
}

/// Up to `samples` frames spread over a file of the empty scene (a video or a single image).
pub fn background_samples(
    path: &std::path::Path,
    samples: usize,
) -> Result<Vec<RgbImage>, IngestError> {
    let mut reader = VideoReader::open(path, 1)?;
    let expected = reader.info().frame_count.unwrap_or(1).max(1);
    let stride = (expected as usize / samples.max(1)).max(1);
    let mut out = Vec::new();
    while let Some(frame) = reader.next_frame()? {
        if (frame.index as usize).is_multiple_of(stride) && out.len() < samples {
            out.push(frame.image);
        }
    }
    Ok(out)
}

/// Up to `samples` frames spread over a camera's clip for its background model. Keyframes are
/// used when the file has at least seven (then only the chosen ones are decoded); otherwise the
/// whole file is decoded and sampled evenly.
pub fn sample_frames(camera: &CaptureCamera, samples: usize) -> Result<Vec<RgbImage>, IngestError> {
    let reader = VideoReader::open(&camera.video, 1)?;
    check_size(camera, &reader)?;
    let out: Vec<RgbImage> = reader
        .picked_keyframes(|keys| {
            if keys < 7 {
                return Default::default();
            }
            let step = (keys as f64 / samples.max(1) as f64).max(1.0);
            (0..samples.min(keys))
                .map(|i| ((i as f64 * step) as usize).min(keys - 1))
                .collect()
        })?
        .into_iter()
        .map(|f| f.image)
        .collect();
    if out.len() >= 7 {
        return Ok(out);
    }
    let mut reader = VideoReader::open(&camera.video, 1)?;
    let expected = camera
        .frame_count
        .or(reader.info().frame_count)
        .unwrap_or(1)
        .max(1);
    let stride = (expected as usize / samples.max(1)).max(1);
    let mut out = Vec::new();
    while let Some(frame) = reader.next_frame()? {
        if frame.index as usize % stride == stride / 2 && out.len() < samples {
            out.push(frame.image);
        }
    }
    if out.is_empty() {
        return Err(IngestError::Empty {
            camera: camera.id.clone(),
            path: camera.video.clone(),
        });
    }
    Ok(out)
}

fn check_size(camera: &CaptureCamera, reader: &VideoReader) -> Result<(), IngestError> {
    let info = reader.info();
    let want = (
        camera.camera.intrinsics.width,
        camera.camera.intrinsics.height,
    );
    if (info.width, info.height) != want {
        return Err(IngestError::SizeMismatch {
            camera: camera.id.clone(),
            path: camera.video.clone(),
            got_w: info.width,
            got_h: info.height,
            want_w: want.0,
            want_h: want.1,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each thumbnail pixel is the floor of its block's mean, the partial blocks at the right and
    /// bottom edges dropped (checked against a direct sum on a picture that does not divide).
    #[test]
    fn thumbnail_is_the_block_mean() {
        let (w, h, s) = (47u32, 23u32, 6u32);
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 + y * 3) as u8,
                (x * y % 251) as u8,
                (255 - x * 5 % 256) as u8,
            ])
        });
        let t = thumbnail(&img, s);
        assert_eq!(t.dimensions(), (w / s, h / s));
        for (tx, ty, p) in t.enumerate_pixels() {
            for c in 0..3 {
                let mut sum = 0u32;
                for dy in 0..s {
                    for dx in 0..s {
                        sum += img.get_pixel(tx * s + dx, ty * s + dy)[c] as u32;
                    }
                }
                assert_eq!(p[c] as u32, sum / (s * s), "pixel ({tx}, {ty}) channel {c}");
            }
        }
    }
}
