//! COLMAP sparse models in text form: `cameras.txt` and `images.txt` (`points3D.txt` is not
//! needed). The binary form (`cameras.bin`, `images.bin`) is read by [`super::colmap_bin`] into
//! the same records; [`import`] takes whichever the model folder has (text first).
//!
//! - `cameras.txt`: `CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]` per line. Models read:
//!   `SIMPLE_PINHOLE` (f cx cy), `PINHOLE` (fx fy cx cy), `SIMPLE_RADIAL` (f cx cy k),
//!   `RADIAL` (f cx cy k1 k2), `OPENCV` (fx fy cx cy k1 k2 p1 p2), `FULL_OPENCV` (… k3 k4 k5 k6:
//!   the rational terms k4..k6 must be zero), `OPENCV_FISHEYE` (fx fy cx cy k1 k2 k3 k4),
//!   `SIMPLE_RADIAL_FISHEYE` (f cx cy k) and `RADIAL_FISHEYE` (f cx cy k1 k2), the last three
//!   as [`Distortion::Fisheye`] (COLMAP's fisheye models share its formula). Others (`FOV`,
//!   thin-prism, division models) are errors naming the line.
//! - `images.txt`: two lines per image, `IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`, then the
//!   image's 2D points (possibly an empty line), which are skipped. `Q` and `T` map world to
//!   camera with OpenCV axes, like [`CameraFromWorld`].
//!
//! COLMAP puts the centre of the top-left pixel at (0.5, 0.5); replay360 (like OpenCV) puts it
//! at (0, 0), so the principal point moves by -0.5 pixel on import. A reconstruction's scale is
//! whatever COLMAP chose: the unit is the user's to state (`--units`), metres with a warning
//! otherwise. Each image becomes a single-image camera of a synchronized capture.

use super::{ImportError, Imported, ImportedCamera, Units};
use crate::camera::{CameraFromWorld, Distortion, Intrinsics};
use nalgebra::{Quaternion, UnitQuaternion, Vector3};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Camera models this reader understands, for messages.
const MODELS: &str = "SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV, FULL_OPENCV, \
                      OPENCV_FISHEYE, SIMPLE_RADIAL_FISHEYE, RADIAL_FISHEYE";

/// One image of `images.txt`.
#[derive(Debug, Clone)]
pub struct ColmapImage {
    pub image_id: u64,
    pub camera_id: u64,
    /// Path relative to the images folder.
    pub name: String,
    /// Translation in the model's unit.
    pub pose: CameraFromWorld,
    /// Where the image is in its file, for messages ("line 7", "byte 1480").
    pub at: String,
}

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The images folder; default: `images/` beside the model, or one or two folders up (the
    /// `sparse/0` layout COLMAP writes).
    pub images: Option<PathBuf>,
    /// Unit of the model; `None`: metres, with a warning.
    pub units: Option<Units>,
}

fn fields(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

fn numbers(fields: &[&str], path: &Path, n: usize) -> Result<Vec<f64>, ImportError> {
    let v: Vec<f64> = fields
        .iter()
        .map(|f| {
            f.parse::<f64>()
                .map_err(|_| ImportError::invalid(path, format!("line {n}: {f:?} is not a number")))
        })
        .collect::<Result<_, _>>()?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(ImportError::invalid(
            path,
            format!("line {n}: NaN or infinite value"),
        ));
    }
    Ok(v)
}

/// Reads `cameras.txt`: intrinsics by camera id, in replay360's pixel convention.
pub fn parse_cameras(text: &str, path: &Path) -> Result<BTreeMap<u64, Intrinsics>, ImportError> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f = fields(line);
        let [id, model, width, height, params @ ..] = f.as_slice() else {
            return Err(ImportError::invalid(
                path,
                format!(
                    "line {n}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS, found {} fields",
                    f.len()
                ),
            ));
        };
        let int = |s: &str, what: &str| {
            s.parse::<u64>().map_err(|_| {
                ImportError::invalid(
                    path,
                    format!("line {n}: {what} {s:?} is not a whole number"),
                )
            })
        };
        let id = int(id, "CAMERA_ID")?;
        let size = |s: &str, what: &str| {
            u32::try_from(int(s, what)?).map_err(|_| {
                ImportError::invalid(path, format!("line {n}: {what} {s} is too large"))
            })
        };
        let (width, height) = (size(width, "WIDTH")?, size(height, "HEIGHT")?);
        let p = numbers(params, path, n)?;
        let k = intrinsics(
            model,
            width,
            height,
            &p,
            path,
            &format!("line {n}: camera {id}"),
        )?;
        if out.insert(id, k).is_some() {
            return Err(ImportError::invalid(
                path,
                format!("line {n}: camera {id} is listed twice"),
            ));
        }
    }
    Ok(out)
}

/// A COLMAP camera model and its parameters as replay360 intrinsics (principal point moved to
/// replay360's pixel convention). `at` locates the camera for messages ("line 3: camera 2").
pub(crate) fn intrinsics(
    model: &str,
    width: u32,
    height: u32,
    p: &[f64],
    path: &Path,
    at: &str,
) -> Result<Intrinsics, ImportError> {
    let wrong_count = |want: usize| {
        ImportError::invalid(
            path,
            format!(
                "{at}: model {model} takes {want} parameters, found {}",
                p.len()
            ),
        )
    };
    let rt = |k1, k2, p1, p2, k3| Distortion::RadialTangential { k1, k2, p1, p2, k3 };
    let fisheye = |k1, k2, k3, k4| Distortion::Fisheye { k1, k2, k3, k4 };
    // (fx, fy, cx, cy, distortion) with COLMAP's principal point.
    let (fx, fy, cx, cy, distortion) = match (model, p) {
        ("SIMPLE_PINHOLE", &[f, cx, cy]) => (f, f, cx, cy, Distortion::None),
        ("PINHOLE", &[fx, fy, cx, cy]) => (fx, fy, cx, cy, Distortion::None),
        ("SIMPLE_RADIAL", &[f, cx, cy, k]) => (f, f, cx, cy, rt(k, 0.0, 0.0, 0.0, 0.0)),
        ("RADIAL", &[f, cx, cy, k1, k2]) => (f, f, cx, cy, rt(k1, k2, 0.0, 0.0, 0.0)),
        ("OPENCV", &[fx, fy, cx, cy, k1, k2, p1, p2]) => (fx, fy, cx, cy, rt(k1, k2, p1, p2, 0.0)),
        ("FULL_OPENCV", &[fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6]) => {
            if [k4, k5, k6].iter().any(|&k| k != 0.0) {
                return Err(ImportError::invalid(
                    path,
                    format!(
                        "{at} (FULL_OPENCV) has rational terms k4 k5 k6 = {k4} {k5} {k6}, which \
                         are not supported (only k1 k2 p1 p2 k3)"
                    ),
                ));
            }
            (fx, fy, cx, cy, rt(k1, k2, p1, p2, k3))
        }
        ("OPENCV_FISHEYE", &[fx, fy, cx, cy, k1, k2, k3, k4]) => {
            (fx, fy, cx, cy, fisheye(k1, k2, k3, k4))
        }
        ("SIMPLE_RADIAL_FISHEYE", &[f, cx, cy, k]) => (f, f, cx, cy, fisheye(k, 0.0, 0.0, 0.0)),
        ("RADIAL_FISHEYE", &[f, cx, cy, k1, k2]) => (f, f, cx, cy, fisheye(k1, k2, 0.0, 0.0)),
        ("SIMPLE_PINHOLE", _) => return Err(wrong_count(3)),
        ("PINHOLE" | "SIMPLE_RADIAL" | "SIMPLE_RADIAL_FISHEYE", _) => {
            return Err(wrong_count(4));
        }
        ("RADIAL" | "RADIAL_FISHEYE", _) => return Err(wrong_count(5)),
        ("OPENCV" | "OPENCV_FISHEYE", _) => return Err(wrong_count(8)),
        ("FULL_OPENCV", _) => return Err(wrong_count(12)),
        (other, _) => {
            return Err(ImportError::invalid(
                path,
                format!("{at}: model {other} is not supported (supported: {MODELS})"),
            ));
        }
    };
    let distortion = super::without_zero_terms(distortion);
    let k = Intrinsics {
        width,
        height,
        fx,
        fy,
        // COLMAP: the centre of the top-left pixel is (0.5, 0.5); ours is (0, 0).
        cx: cx - 0.5,
        cy: cy - 0.5,
        distortion,
    };
    super::check_intrinsics(&k, path, at)?;
    Ok(k)
}

/// Reads `images.txt`: each image's pose (translation in the model's unit) and name.
pub fn parse_images(text: &str, path: &Path) -> Result<Vec<ColmapImage>, ImportError> {
    let mut out: Vec<ColmapImage> = Vec::new();
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'));
    while let Some((i, line)) = lines.next() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        // Nine fields, then the name (which may hold spaces) to the end of the line.
        let mut rest = line.trim();
        let mut f = Vec::with_capacity(9);
        for _ in 0..9 {
            let Some((field, tail)) = rest.split_once(char::is_whitespace) else {
                return Err(ImportError::invalid(
                    path,
                    format!(
                        "line {n}: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME, found \
                         {} fields",
                        fields(line).len()
                    ),
                ));
            };
            f.push(field);
            rest = tail.trim_start();
        }
        let name = rest.trim().to_owned();
        let [image_id, qw, qx, qy, qz, tx, ty, tz, camera_id] = f.as_slice() else {
            return Err(ImportError::invalid(
                path,
                format!("line {n}: too few fields"),
            ));
        };
        let int = |s: &str, what: &str| {
            s.parse::<u64>().map_err(|_| {
                ImportError::invalid(
                    path,
                    format!("line {n}: {what} {s:?} is not a whole number"),
                )
            })
        };
        let image_id = int(image_id, "IMAGE_ID")?;
        let camera_id = int(camera_id, "CAMERA_ID")?;
        let v = numbers(&[*qw, *qx, *qy, *qz, *tx, *ty, *tz], path, n)?;
        let &[qw, qx, qy, qz, tx, ty, tz] = v.as_slice() else {
            return Err(ImportError::invalid(
                path,
                format!("line {n}: too few fields"),
            ));
        };
        let image = image(
            image_id,
            [qw, qx, qy, qz],
            [tx, ty, tz],
            camera_id,
            name,
            format!("line {n}"),
            &out,
            path,
        )?;
        out.push(image);
        // The image's 2D points: skipped, but they must look like points (X Y POINT3D_ID
        // triples), or the file is not two lines per image.
        if let Some((i, points)) = lines.next() {
            let count = fields(points).len();
            if !count.is_multiple_of(3) {
                return Err(ImportError::invalid(
                    path,
                    format!(
                        "line {}: expected the 2D points of image {image_id} (X Y POINT3D_ID \
                         triples), found {count} values; images.txt has two lines per image",
                        i + 1
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// One image record, checked: a unit quaternion (to the digits COLMAP prints) and an id not
/// seen before in `earlier`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn image(
    image_id: u64,
    [qw, qx, qy, qz]: [f64; 4],
    [tx, ty, tz]: [f64; 3],
    camera_id: u64,
    name: String,
    at: String,
    earlier: &[ColmapImage],
    path: &Path,
) -> Result<ColmapImage, ImportError> {
    if [qw, qx, qy, qz, tx, ty, tz].iter().any(|v| !v.is_finite()) {
        return Err(ImportError::invalid(
            path,
            format!("{at}: image {image_id}: NaN or infinite value in its pose"),
        ));
    }
    let q = Quaternion::new(qw, qx, qy, qz);
    let norm = q.norm();
    if (norm - 1.0).abs() > super::ROTATION_LIMIT {
        return Err(ImportError::invalid(
            path,
            format!("{at}: image {image_id}: the quaternion's norm is {norm}, not 1"),
        ));
    }
    if earlier.iter().any(|im| im.image_id == image_id) {
        return Err(ImportError::invalid(
            path,
            format!("{at}: image {image_id} is listed twice"),
        ));
    }
    Ok(ColmapImage {
        image_id,
        camera_id,
        name,
        pose: CameraFromWorld {
            rotation: UnitQuaternion::from_quaternion(q).to_rotation_matrix(),
            translation: Vector3::new(tx, ty, tz),
        },
        at,
    })
}

/// Which form a model folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Text,
    Binary,
}

/// The folder holding the model (`cameras.txt` or `cameras.bin`): `source` itself, or
/// `source/sparse/0`, or `source/sparse`; text is preferred where a folder has both.
fn model_dir(source: &Path) -> Result<(PathBuf, Form), ImportError> {
    let candidates = [
        source.to_path_buf(),
        source.join("sparse").join("0"),
        source.join("sparse"),
    ];
    for d in &candidates {
        if d.join("cameras.txt").is_file() {
            return Ok((d.clone(), Form::Text));
        }
        if d.join("cameras.bin").is_file() {
            return Ok((d.clone(), Form::Binary));
        }
    }
    Err(ImportError::invalid(
        source,
        "no COLMAP model (cameras.txt or cameras.bin) here or in sparse/0",
    ))
}

fn read(path: &Path) -> Result<String, ImportError> {
    std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, ImportError> {
    std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Imports a COLMAP model, text or binary: `source` is the model folder (or the project folder
/// above `sparse/0`).
pub fn import(source: &Path, opts: &Options) -> Result<Imported, ImportError> {
    let (dir, form) = model_dir(source)?;
    let (cameras_path, images_path, cameras, images) = match form {
        Form::Text => {
            let (cp, ip) = (dir.join("cameras.txt"), dir.join("images.txt"));
            let cameras = parse_cameras(&read(&cp)?, &cp)?;
            let images = parse_images(&read(&ip)?, &ip)?;
            (cp, ip, cameras, images)
        }
        Form::Binary => {
            let (cp, ip) = (dir.join("cameras.bin"), dir.join("images.bin"));
            let cameras = super::colmap_bin::parse_cameras(&read_bytes(&cp)?, &cp)?;
            let images = super::colmap_bin::parse_images(&read_bytes(&ip)?, &ip)?;
            (cp, ip, cameras, images)
        }
    };
    let mut warnings = Vec::new();
    let units = super::units_or_metres(opts.units, &cameras_path, &mut warnings);
    let images_dir = match &opts.images {
        Some(d) => d.clone(),
        None => dir
            .ancestors()
            .take(3)
            .map(|d| d.join("images"))
            .find(|d| d.is_dir())
            .ok_or_else(|| {
                ImportError::invalid(
                    &dir,
                    "no images folder beside the model or one or two folders up; pass --images",
                )
            })?,
    };
    let s = units.to_metres();
    let mut out = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for im in images {
        let intrinsics = *cameras.get(&im.camera_id).ok_or_else(|| {
            ImportError::invalid(
                &images_path,
                format!(
                    "{}: image {} refers to camera {}, which {} does not list",
                    im.at,
                    im.image_id,
                    im.camera_id,
                    cameras_path
                        .file_name()
                        .map_or_else(Default::default, |n| n.to_string_lossy())
                ),
            )
        })?;
        let media = images_dir.join(&im.name);
        if !media.is_file() {
            warnings.push(format!(
                "image {} ({}) is missing, skipped: {}",
                im.image_id,
                im.name,
                media.display()
            ));
            continue;
        }
        let id = super::unique_id(&mut ids, &im.name, im.image_id);
        out.push(ImportedCamera::still(
            id,
            media,
            intrinsics,
            im.pose.scaled(s),
        ));
    }
    Ok(Imported::stills(out, warnings, &images_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_point_moves_to_pixel_centres() {
        let k = parse_cameras(
            "# Camera list with one line of data per camera:\n1 PINHOLE 640 480 500 500 320 240\n",
            Path::new("cameras.txt"),
        )
        .expect("parses");
        assert_eq!((k[&1].cx, k[&1].cy), (319.5, 239.5));
        assert!(k[&1].distortion.is_none());
    }

    #[test]
    fn an_image_line_where_points_belong_is_an_error() {
        let text = "1 1 0 0 0 0 0 0 1 a.png\n2 1 0 0 0 0 0 0 1 b.png\n";
        let e = parse_images(text, Path::new("images.txt"))
            .expect_err("error")
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("two lines per image"),
            "{e}"
        );
        // An empty points line is fine, and a name may hold spaces.
        let text = "1 1 0 0 0 0 0 0 1 my image.png\n\n2 1 0 0 0 0 0 0 1 b.png\n1 2 -1\n";
        let images = parse_images(text, Path::new("images.txt")).expect("parses");
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].name, "my image.png");
    }
}
