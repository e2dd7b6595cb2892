//! Middlebury multi-view stereo `*_par.txt`: one line per image,
//! `name k11 k12 k13 k21 k22 k23 k31 k32 k33 r11 r12 r13 r21 r22 r23 r31 r32 r33 t1 t2 t3`,
//! with the projection K·[R|t] (world to camera, OpenCV axes). The first line is the count.
//! Each image is one camera of a static capture; the objects are bright on black, so the
//! capture is segmented by threshold.

use super::{ImportError, Imported, ImportedCamera};
use crate::camera::{CameraFromWorld, Distortion, Intrinsics};
use crate::capture::Segmentation;
use nalgebra::{Matrix3, Rotation3, Vector3};
use std::path::Path;

/// One line of a `_par.txt`: an image and its camera.
#[derive(Debug, Clone)]
pub struct ParView {
    /// Line number (1-based), for messages.
    pub line: usize,
    /// The image's file name, relative to the `_par.txt`.
    pub name: String,
    pub k: Matrix3<f64>,
    pub pose: CameraFromWorld,
}

/// Parses the text of a `_par.txt` (`path` names it in messages): the image count its header
/// announces, and the views.
pub fn parse(text: &str, path: &Path) -> Result<(usize, Vec<ParView>), ImportError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines
        .next()
        .ok_or_else(|| ImportError::invalid(path, "the file is empty"))?;
    let count: usize = first.trim().parse().map_err(|_| {
        ImportError::invalid(
            path,
            format!("line 1: expected the number of images, found {first:?}"),
        )
    })?;
    let mut views = Vec::new();
    for (i, line) in lines {
        let bad = |what: String| ImportError::invalid(path, format!("line {}: {what}", i + 1));
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 22 {
            return Err(bad(format!("expected 22 fields, found {}", f.len())));
        }
        let v: Vec<f64> = f[1..]
            .iter()
            .map(|x| x.parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if v.iter().any(|x| !x.is_finite()) {
            return Err(bad("NaN or infinite value".into()));
        }
        let k = Matrix3::from_row_slice(&v[0..9]);
        if !(k[(0, 0)] > 0.0 && k[(1, 1)] > 0.0)
            || k[(1, 0)] != 0.0
            || k[(2, 0)] != 0.0
            || k[(2, 1)] != 0.0
            || (k[(2, 2)] - 1.0).abs() > 1e-9
        {
            return Err(bad(
                "K is not a camera matrix (positive focal lengths, last row 0 0 1)".into(),
            ));
        }
        let r = Matrix3::from_row_slice(&v[9..18]);
        let orth = (r.transpose() * r - Matrix3::identity()).abs().max();
        if orth > 1e-3 || r.determinant() < 0.0 {
            return Err(bad(format!("R is not a rotation (|RᵀR - I| = {orth:.2e})")));
        }
        views.push(ParView {
            line: i + 1,
            name: f[0].to_owned(),
            k,
            pose: CameraFromWorld {
                rotation: Rotation3::from_matrix(&r),
                translation: Vector3::new(v[18], v[19], v[20]),
            },
        });
    }
    Ok((count, views))
}

/// Reads a `_par.txt` file; images are looked up beside it. `threshold` is the luma (0..1)
/// above which a pixel is the object (the Middlebury recipe uses 0.19).
pub fn import(par: &Path, threshold: f64) -> Result<Imported, ImportError> {
    let text = std::fs::read_to_string(par).map_err(|source| ImportError::Io {
        path: par.to_path_buf(),
        source,
    })?;
    let dir = par.parent().unwrap_or(Path::new("."));
    let (count, views) = parse(&text, par)?;
    let mut cameras = Vec::new();
    let mut warnings = Vec::new();
    for view in views {
        let image = dir.join(&view.name);
        let (w, h) = match image::image_dimensions(&image) {
            Ok(d) => d,
            Err(e) => {
                warnings.push(format!("{}: skipped ({e})", image.display()));
                continue;
            }
        };
        let id = Path::new(&view.name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("view{}", view.line));
        let k = view.k;
        cameras.push(ImportedCamera::still(
            id,
            image,
            Intrinsics {
                width: w,
                height: h,
                fx: k[(0, 0)],
                fy: k[(1, 1)],
                cx: k[(0, 2)],
                cy: k[(1, 2)],
                distortion: Distortion::None,
            },
            view.pose,
        ));
    }
    if cameras.len() != count {
        warnings.push(format!(
            "{}: the header announces {count} images, {} were read",
            par.display(),
            cameras.len()
        ));
    }
    Ok(Imported {
        cameras,
        synchronized: true,
        segmentation: Segmentation::Threshold { threshold },
        warnings,
    })
}
