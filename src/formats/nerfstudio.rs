//! nerfstudio / instant-ngp `transforms.json`: intrinsics at the top level or per frame
//! (`fl_x`, `fl_y`, `cx`, `cy`, `w`, `h`, `k1`..`k4`, `p1`, `p2`, `camera_model`; or
//! `camera_angle_x` / `camera_angle_y` as in the Blender scenes of the NeRF paper), and per frame
//! a `file_path` and a `transform_matrix`: camera to world with **OpenGL camera axes** (x right,
//! y up, looking down -z), read as a [`WorldFromCameraGl`].
//!
//! - `camera_model`: `OPENCV` (the default; k1 k2 k3 p1 p2, while k4 must be zero),
//!   `PINHOLE`, `SIMPLE_PINHOLE`, `SIMPLE_RADIAL`, `RADIAL` (the same), or `OPENCV_FISHEYE`
//!   (k1 k2 k3 k4, [`Distortion::Fisheye`]). Others (equirectangular, VR180, ...) are errors.
//! - Pixels: nerfstudio and instant-ngp put the centre of the top-left pixel at (0.5, 0.5) (as
//!   COLMAP, from which they copy `cx`, `cy`); replay360 puts it at (0, 0), so the principal
//!   point moves by -0.5 pixel. Missing `cx`, `cy` mean the image centre.
//! - `file_path` is relative to the folder of `transforms.json`; without an extension `.png`
//!   is tried (the Blender scenes). Missing images are skipped with a warning.
//! - The world is the file's own (after nerfstudio's `applied_transform`, which the matrices
//!   already include); its up axis varies by dataset: pass `--up`. Its scale is arbitrary:
//!   `--units`, metres with a warning otherwise.
//! - Mattes: when every frame names a `mask_path` (relative to the folder, like `file_path`;
//!   nerfstudio's convention: white where the subject is, black to ignore), the capture is
//!   segmented by those masks; otherwise images with an alpha channel are segmented by alpha.
//!   Masks on only some frames, or missing mask files, are warned about and not used.

use super::{ImportError, Imported, ImportedCamera, Units};
use crate::camera::{CameraFromWorld, Distortion, Intrinsics, WorldFromCamera, WorldFromCameraGl};
use nalgebra::{Matrix3, Point3};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The lens of one frame, before the image size is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Lens {
    pub fl_x: Option<f64>,
    pub fl_y: Option<f64>,
    pub camera_angle_x: Option<f64>,
    pub camera_angle_y: Option<f64>,
    /// Principal point in nerfstudio's convention (top-left pixel centre at 0.5).
    pub cx: Option<f64>,
    pub cy: Option<f64>,
    pub distortion: Distortion,
}

/// One frame of `transforms.json`.
#[derive(Debug, Clone)]
pub struct Frame {
    /// 0-based index in `frames`.
    pub index: usize,
    pub file_path: String,
    /// `w`, `h` when the file states them.
    pub size: Option<(u32, u32)>,
    pub lens: Lens,
    /// The pose, translation in the file's unit.
    pub pose: CameraFromWorld,
    /// `mask_path`, when the frame names one.
    pub mask_path: Option<String>,
}

/// What `transforms.json` says.
#[derive(Debug, Clone)]
pub struct Transforms {
    pub frames: Vec<Frame>,
    pub warnings: Vec<String>,
}

impl Lens {
    /// Intrinsics for an image of `width` x `height` (replay360's pixel convention).
    pub fn intrinsics(
        &self,
        width: u32,
        height: u32,
        path: &Path,
        what: &str,
    ) -> Result<Intrinsics, ImportError> {
        let (w, h) = (width as f64, height as f64);
        let from_angle =
            |angle: Option<f64>, size: f64| angle.map(|a| 0.5 * size / (0.5 * a).tan());
        let fx = self
            .fl_x
            .or_else(|| from_angle(self.camera_angle_x, w))
            .ok_or_else(|| {
                ImportError::invalid(
                    path,
                    format!("{what}: no focal length (fl_x or camera_angle_x)"),
                )
            })?;
        let fy = self
            .fl_y
            .or_else(|| from_angle(self.camera_angle_y, h))
            .unwrap_or(fx);
        let k = Intrinsics {
            width,
            height,
            fx,
            fy,
            // nerfstudio: the centre of the top-left pixel is (0.5, 0.5); ours is (0, 0).
            cx: self.cx.unwrap_or(0.5 * w) - 0.5,
            cy: self.cy.unwrap_or(0.5 * h) - 0.5,
            distortion: self.distortion,
        };
        super::check_intrinsics(&k, path, what)?;
        Ok(k)
    }
}

/// A frame's field, else the top level's.
fn field<'a>(
    frame: &'a Map<String, Value>,
    root: &'a Map<String, Value>,
    f: &str,
) -> Option<&'a Value> {
    frame.get(f).or_else(|| root.get(f))
}

fn number(
    v: Option<&Value>,
    name: &str,
    path: &Path,
    what: &str,
) -> Result<Option<f64>, ImportError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(ImportError::invalid(
                path,
                format!("{what}: {name} is not a number ({v})"),
            )),
        },
    }
}

/// Reads `transforms.json`; `path` is only for messages.
pub fn parse(text: &str, path: &Path) -> Result<Transforms, ImportError> {
    let root: Value = serde_json::from_str(text)
        .map_err(|e| ImportError::invalid(path, format!("not valid JSON ({e})")))?;
    let root = root
        .as_object()
        .ok_or_else(|| ImportError::invalid(path, "the top level is not a JSON object"))?;
    let frames = root
        .get("frames")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::invalid(path, "no `frames` array"))?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let what = format!("frame {i}");
        let frame = frame
            .as_object()
            .ok_or_else(|| ImportError::invalid(path, format!("{what} is not a JSON object")))?;
        let num = |name: &str| number(field(frame, root, name), name, path, &what);
        let file_path = frame
            .get("file_path")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportError::invalid(path, format!("{what}: no file_path")))?
            .to_owned();
        let mask_path = match frame.get("mask_path") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| {
                        ImportError::invalid(path, format!("{what}: mask_path is not a string"))
                    })?
                    .to_owned(),
            ),
        };
        let size = |name: &str| -> Result<Option<u32>, ImportError> {
            match num(name)? {
                None => Ok(None),
                Some(v) if v >= 1.0 && v <= u32::MAX as f64 && v.fract() == 0.0 => {
                    Ok(Some(v as u32))
                }
                Some(v) => Err(ImportError::invalid(
                    path,
                    format!("{what}: {name} = {v} is not an image size"),
                )),
            }
        };
        let size = match (size("w")?, size("h")?) {
            (Some(w), Some(h)) => Some((w, h)),
            (None, None) => None,
            _ => {
                return Err(ImportError::invalid(
                    path,
                    format!("{what}: only one of w and h is given"),
                ));
            }
        };
        let model = match field(frame, root, "camera_model") {
            None => "OPENCV",
            Some(v) => v.as_str().ok_or_else(|| {
                ImportError::invalid(path, format!("{what}: camera_model is not a string"))
            })?,
        };
        let c = |name: &str| num(name).map(|v| v.unwrap_or(0.0));
        let (k1, k2, k3, k4, p1, p2) = (c("k1")?, c("k2")?, c("k3")?, c("k4")?, c("p1")?, c("p2")?);
        let distortion = match model {
            "OPENCV" | "PINHOLE" | "SIMPLE_PINHOLE" | "SIMPLE_RADIAL" | "RADIAL" => {
                if k4 != 0.0 {
                    return Err(ImportError::invalid(
                        path,
                        format!(
                            "{what}: k4 = {k4} with camera_model {model}; the r⁸ radial term is \
                             not supported (k1 k2 k3 p1 p2 only)"
                        ),
                    ));
                }
                super::without_zero_terms(Distortion::RadialTangential { k1, k2, p1, p2, k3 })
            }
            "OPENCV_FISHEYE" => {
                if p1 != 0.0 || p2 != 0.0 {
                    return Err(ImportError::invalid(
                        path,
                        format!(
                            "{what}: OPENCV_FISHEYE with tangential terms p1 p2 = {p1} {p2}, \
                             which the fisheye model does not have"
                        ),
                    ));
                }
                Distortion::Fisheye { k1, k2, k3, k4 }
            }
            other => {
                return Err(ImportError::invalid(
                    path,
                    format!(
                        "{what}: camera_model {other} is not supported (OPENCV, OPENCV_FISHEYE, \
                         PINHOLE, SIMPLE_PINHOLE, SIMPLE_RADIAL, RADIAL)"
                    ),
                ));
            }
        };
        let lens = Lens {
            fl_x: num("fl_x")?,
            fl_y: num("fl_y")?,
            camera_angle_x: num("camera_angle_x")?,
            camera_angle_y: num("camera_angle_y")?,
            cx: num("cx")?,
            cy: num("cy")?,
            distortion,
        };
        let pose = transform(frame.get("transform_matrix"), path, &what, &mut warnings)?;
        out.push(Frame {
            index: i,
            file_path,
            size,
            lens,
            pose,
            mask_path,
        });
    }
    Ok(Transforms {
        frames: out,
        warnings,
    })
}

/// A `transform_matrix` (4x4, or 3x4 without the last row): camera to world, OpenGL axes.
fn transform(
    v: Option<&Value>,
    path: &Path,
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<CameraFromWorld, ImportError> {
    let rows = v
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::invalid(path, format!("{what}: no transform_matrix")))?;
    let bad = |problem: String| ImportError::invalid(path, format!("{what}: {problem}"));
    let m: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            r.as_array()
                .ok_or_else(|| bad("transform_matrix is not an array of rows".to_owned()))?
                .iter()
                .map(|x| {
                    x.as_f64()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| bad(format!("transform_matrix holds {x}, not a number")))
                })
                .collect::<Result<Vec<f64>, _>>()
        })
        .collect::<Result<_, _>>()?;
    let shape: Vec<usize> = m.iter().map(Vec::len).collect();
    if !(shape == [4, 4, 4, 4] || shape == [4, 4, 4]) {
        return Err(bad(format!(
            "transform_matrix has rows of {shape:?} values; expected 4x4 (or 3x4)"
        )));
    }
    if let Some(last) = m.get(3)
        && last
            .iter()
            .zip([0.0, 0.0, 0.0, 1.0])
            .any(|(a, b)| (a - b).abs() > 1e-9)
    {
        return Err(bad(format!(
            "transform_matrix's last row is {last:?}, not [0, 0, 0, 1]"
        )));
    }
    let at = |r: usize, c: usize| m.get(r).and_then(|row| row.get(c)).copied().unwrap_or(0.0);
    let r = Matrix3::from_fn(at);
    let rotation = super::rotation_from_matrix(&r, path, what, warnings)?;
    let gl = WorldFromCameraGl {
        rotation,
        centre: Point3::new(at(0, 3), at(1, 3), at(2, 3)),
    };
    Ok(WorldFromCamera::from(gl).inverse())
}

/// Where a frame's image is: `file_path` beside `transforms.json`, or with `.png` added.
fn image_path(dir: &Path, file_path: &str) -> Option<PathBuf> {
    let p = dir.join(file_path);
    if p.is_file() {
        return Some(p);
    }
    let png = dir.join(format!("{file_path}.png"));
    (Path::new(file_path).extension().is_none() && png.is_file()).then_some(png)
}

/// Imports `transforms.json` (or the folder holding it).
pub fn import(source: &Path, units: Option<Units>) -> Result<Imported, ImportError> {
    let path = if source.is_dir() {
        source.join("transforms.json")
    } else {
        source.to_path_buf()
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ImportError::Io {
        path: path.clone(),
        source,
    })?;
    let transforms = parse(&text, &path)?;
    let mut warnings = transforms.warnings;
    let s = super::units_or_metres(units, &path, &mut warnings).to_metres();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut cameras = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for f in transforms.frames {
        let Some(media) = image_path(dir, &f.file_path) else {
            warnings.push(format!(
                "frame {}: the image {} is missing, skipped: {}",
                f.index,
                f.file_path,
                dir.join(&f.file_path).display()
            ));
            continue;
        };
        let (width, height) = match f.size {
            Some(s) => s,
            None => {
                let reader = crate::media::VideoReader::open(&media, 1).map_err(|source| {
                    ImportError::Media {
                        path: media.clone(),
                        source,
                    }
                })?;
                (reader.info().width, reader.info().height)
            }
        };
        let what = format!("frame {}", f.index);
        let intrinsics = f.lens.intrinsics(width, height, &path, &what)?;
        let id = super::unique_id(&mut ids, &f.file_path, f.index);
        let mut camera = ImportedCamera::still(id, media, intrinsics, f.pose.scaled(s));
        if let Some(m) = &f.mask_path {
            match image_path(dir, m) {
                Some(mask) => camera.mask = Some(mask),
                None => warnings.push(format!(
                    "frame {}: the mask {m} is missing: {}",
                    f.index,
                    dir.join(m).display()
                )),
            }
        }
        cameras.push(camera);
    }
    Ok(Imported::stills(cameras, warnings, &path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;

    #[test]
    fn blender_scenes_give_the_focal_length_by_angle() {
        let doc = r#"{"camera_angle_x": 0.6911112070083618, "frames": [{"file_path": "./train/r_0",
            "rotation": 0.012566370614359171, "transform_matrix": [[-0.9999, 0.0042, -0.0133, -0.0538],
            [-0.0140, -0.2997, 0.9539, 3.8455], [0.0, 0.9540, 0.2997, 1.2081], [0.0, 0.0, 0.0, 1.0]]}]}"#;
        let t = parse(doc, Path::new("transforms_train.json")).expect("parses");
        assert_eq!(t.frames.len(), 1);
        // Four-digit matrices are near rotations: used, with a warning.
        assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
        let k = t.frames[0]
            .lens
            .intrinsics(800, 800, Path::new("t.json"), "frame 0")
            .expect("intrinsics");
        assert!((k.fx - 1111.1110311937682).abs() < 1e-6, "{}", k.fx);
        assert_eq!((k.cx, k.cy), (399.5, 399.5));
        // The camera looks down its -z: towards the origin from (-0.05, 3.85, 1.21).
        let fwd = t.frames[0].pose.inverse().rotation * Vector3::z();
        let to_origin = -t.frames[0].pose.centre().coords.normalize();
        assert!(fwd.dot(&to_origin) > 0.99, "{fwd}");
    }
}
