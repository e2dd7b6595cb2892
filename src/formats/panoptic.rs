//! CMU Panoptic Studio `calibration_<sequence>.json`:
//!
//! ```json
//! {"calibDataSource": "171204_calib_norm", "cameras": [{"name": "00_00", "type": "hd",
//!   "resolution": [1920, 1080], "panel": 0, "node": 0,
//!   "K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], "distCoef": [k1, k2, p1, p2, k3],
//!   "R": [[...], [...], [...]], "t": [[tx], [ty], [tz]]}, ...]}
//! ```
//!
//! `R`, `t` map world to camera with OpenCV axes (`x_cam = R x_world + t`); **`t` is in
//! centimetres** (the Panoptic convention), the default unit here. `K` and `distCoef` are
//! OpenCV's (pixel centres at integer coordinates). The dome's world has **y pointing down**:
//! import with `--up -y`.
//!
//! Media beside the calibration: `hdVideos/hd_00_00.mp4`, `vgaVideos/vga_01_01.mp4`,
//! `kinectVideos/kinect_50_01.mp4`; one camera type is imported at a time (`hd` by default),
//! and cameras without a video are skipped with a warning. HD cameras are frame-locked with
//! each other, and so are VGA cameras: those captures are synchronized; Kinects are not.

use super::{ImportError, Imported, ImportedCamera, Units};
use crate::camera::{CameraFromWorld, Distortion, Intrinsics};
use crate::capture::Segmentation;
use nalgebra::{Matrix3, Vector3};
use serde_json::Value;
use std::path::Path;

/// The camera types of the dome.
pub const CAMERA_TYPES: [&str; 3] = ["hd", "vga", "kinect"];

/// One camera of the calibration.
#[derive(Debug, Clone)]
pub struct PanopticCamera {
    pub name: String,
    /// `hd`, `vga` or `kinect`.
    pub kind: String,
    pub intrinsics: Intrinsics,
    /// Translation in the file's unit (centimetres).
    pub pose: CameraFromWorld,
}

/// What to import.
#[derive(Debug, Clone)]
pub struct Options {
    /// `hd`, `vga` or `kinect`.
    pub camera_type: String,
    /// Unit of `t`; Panoptic's is centimetres.
    pub units: Units,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            camera_type: "hd".to_owned(),
            units: Units::Centimetres,
        }
    }
}

/// Numbers of a JSON array that may be nested (`[[1], [2], [3]]` or `[1, 2, 3]`), with the
/// shape of its rows.
fn flatten(v: &Value, out: &mut Vec<f64>) -> Result<(), String> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|i| flatten(i, out)),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => {
                out.push(x);
                Ok(())
            }
            _ => Err(format!("{n} is not a finite number")),
        },
        other => Err(format!("{other} is not a number")),
    }
}

/// A matrix field: its values (row-major) and row lengths.
fn matrix(
    cam: &serde_json::Map<String, Value>,
    field: &str,
    path: &Path,
    what: &str,
) -> Result<(Vec<f64>, Vec<usize>), ImportError> {
    let v = cam
        .get(field)
        .ok_or_else(|| ImportError::invalid(path, format!("{what}: no {field}")))?;
    let mut values = Vec::new();
    flatten(v, &mut values)
        .map_err(|e| ImportError::invalid(path, format!("{what}: {field}: {e}")))?;
    let shape = match v {
        Value::Array(rows) => rows
            .iter()
            .map(|r| r.as_array().map_or(1, Vec::len))
            .collect(),
        _ => vec![1],
    };
    Ok((values, shape))
}

/// Reads a calibration file; `path` is only for messages. Every camera is returned, whatever
/// its type; problems in any camera are errors.
pub fn parse(
    text: &str,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<PanopticCamera>, ImportError> {
    let root: Value = serde_json::from_str(text)
        .map_err(|e| ImportError::invalid(path, format!("not valid JSON ({e})")))?;
    let cameras = root
        .get("cameras")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::invalid(path, "no `cameras` array"))?;
    let mut out = Vec::new();
    for (i, cam) in cameras.iter().enumerate() {
        let cam = cam
            .as_object()
            .ok_or_else(|| ImportError::invalid(path, format!("camera {i} is not an object")))?;
        let text_field = |f: &str| {
            cam.get(f)
                .and_then(Value::as_str)
                .ok_or_else(|| ImportError::invalid(path, format!("camera {i}: no {f} (a string)")))
        };
        let name = text_field("name")?.to_owned();
        let kind = text_field("type")?.to_owned();
        let what = format!("camera {name}");
        let (res, _) = matrix(cam, "resolution", path, &what)?;
        let size =
            |v: f64| (v >= 1.0 && v <= u32::MAX as f64 && v.fract() == 0.0).then_some(v as u32);
        let (width, height) = match res.as_slice() {
            &[w, h] => size(w).zip(size(h)).ok_or_else(|| {
                ImportError::invalid(
                    path,
                    format!("{what}: resolution {w}x{h} is not an image size"),
                )
            })?,
            _ => {
                return Err(ImportError::invalid(
                    path,
                    format!("{what}: resolution has {} values, not 2", res.len()),
                ));
            }
        };
        let (k, shape) = matrix(cam, "K", path, &what)?;
        let &[fx, skew, cx, k10, fy, cy, k20, k21, k22] = k.as_slice() else {
            return Err(ImportError::invalid(
                path,
                format!("{what}: K has rows of {shape:?} values; expected 3x3"),
            ));
        };
        if shape != [3, 3, 3] || [k10, k20, k21].iter().any(|&v| v != 0.0) || k22 != 1.0 {
            return Err(ImportError::invalid(
                path,
                format!("{what}: K is not a camera matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]]"),
            ));
        }
        if skew.abs() > 1e-9 * fx.abs().max(1.0) {
            warnings.push(format!(
                "{what}: the skew {skew} of K is ignored: {}",
                path.display()
            ));
        }
        let distortion = match cam.get("distCoef") {
            None => Distortion::None,
            Some(_) => {
                let (d, _) = matrix(cam, "distCoef", path, &what)?;
                match *d.as_slice() {
                    [k1, k2, p1, p2] => Distortion::RadialTangential {
                        k1,
                        k2,
                        p1,
                        p2,
                        k3: 0.0,
                    },
                    [k1, k2, p1, p2, k3, ref extra @ ..] if extra.iter().all(|&e| e == 0.0) => {
                        Distortion::RadialTangential { k1, k2, p1, p2, k3 }
                    }
                    _ => {
                        return Err(ImportError::invalid(
                            path,
                            format!(
                                "{what}: distCoef has {} values; expected k1 k2 p1 p2 [k3]",
                                d.len()
                            ),
                        ));
                    }
                }
            }
        };
        let intrinsics = Intrinsics {
            width,
            height,
            fx,
            fy,
            cx,
            cy,
            distortion: super::without_zero_terms(distortion),
        };
        super::check_intrinsics(&intrinsics, path, &what)?;
        let (r, shape) = matrix(cam, "R", path, &what)?;
        if shape != [3, 3, 3] || r.len() != 9 {
            return Err(ImportError::invalid(
                path,
                format!("{what}: R has rows of {shape:?} values; expected 3x3"),
            ));
        }
        let m = Matrix3::from_iterator(r.iter().copied()).transpose();
        let rotation = super::rotation_from_matrix(&m, path, &what, warnings)?;
        let (t, _) = matrix(cam, "t", path, &what)?;
        let &[tx, ty, tz] = t.as_slice() else {
            return Err(ImportError::invalid(
                path,
                format!("{what}: t has {} values, not 3", t.len()),
            ));
        };
        out.push(PanopticCamera {
            name,
            kind,
            intrinsics,
            pose: CameraFromWorld {
                rotation,
                translation: Vector3::new(tx, ty, tz),
            },
        });
    }
    Ok(out)
}

/// Imports the cameras of one type from `calibration_*.json`, with their videos from
/// `{type}Videos/{type}_{name}.mp4` beside it.
pub fn import(path: &Path, opts: &Options) -> Result<Imported, ImportError> {
    if !CAMERA_TYPES.contains(&opts.camera_type.as_str()) {
        return Err(ImportError::invalid(
            path,
            format!(
                "unknown Panoptic camera type {:?} (hd, vga or kinect)",
                opts.camera_type
            ),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut warnings = Vec::new();
    let all = parse(&text, path, &mut warnings)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let kind = opts.camera_type.as_str();
    let videos = dir.join(format!("{kind}Videos"));
    let s = opts.units.to_metres();
    let mut cameras = Vec::new();
    for c in all.into_iter().filter(|c| c.kind == kind) {
        let media = videos.join(format!("{kind}_{}.mp4", c.name));
        if !media.is_file() {
            warnings.push(format!(
                "camera {}: no video, skipped: {}",
                c.name,
                media.display()
            ));
            continue;
        }
        cameras.push(ImportedCamera {
            id: c.name,
            media,
            background: None,
            mask: None,
            intrinsics: c.intrinsics,
            pose: c.pose.scaled(s),
            // From the video.
            fps: 0.0,
            frame_count: None,
        });
    }
    if cameras.is_empty() {
        return Err(ImportError::Empty(format!(
            "no {kind} camera of {} has a video in {}",
            path.display(),
            videos.display()
        )));
    }
    Ok(Imported {
        cameras,
        synchronized: kind != "kinect",
        segmentation: Segmentation::Background,
        warnings,
    })
}
