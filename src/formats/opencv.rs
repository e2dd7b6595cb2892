//! OpenCV FileStorage XML calibrations (`cv::FileStorage`), as written by `calibrateCamera`
//! tooling: a camera matrix, distortion coefficients (k1 k2 p1 p2 [k3], or k1 k2 k3 k4 of the
//! fisheye model when the document says `fisheye_model: 1` as OpenCV's calibration sample
//! writes), and a rotation (Rodrigues 3x1 or 3x3 matrix, world to camera) with a translation
//! (world to camera, in the unit the caller states). The YAML form of the same documents is
//! read by [`super::opencv_yaml`] into the same [`FileStorage`].
//!
//! Node names are matched case-insensitively among the usual spellings (`CameraMatrix`,
//! `camera_matrix`, `K`; `DistortionCoeffs`, `distortion_coefficients`, `D`; `Rotation`, `R`,
//! `rvec`; `Translation`, `T`, `tvec`).

use super::{ImportError, Units};
use crate::camera::{CameraFromWorld, Distortion, Intrinsics};
use nalgebra::{Matrix3, Rotation3, Vector3};
use std::path::Path;

/// A matrix read from an `opencv-matrix` node.
#[derive(Debug, Clone, PartialEq)]
pub struct CvMatrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

/// The matrices and scalars of a FileStorage document (XML or YAML), by lower-cased node name.
#[derive(Debug)]
pub struct FileStorage {
    pub matrices: std::collections::BTreeMap<String, CvMatrix>,
    pub scalars: std::collections::BTreeMap<String, f64>,
}

impl FileStorage {
    pub fn parse(text: &str, path: &Path) -> Result<Self, ImportError> {
        let doc = roxmltree::Document::parse(text)
            .map_err(|e| ImportError::invalid(path, format!("not valid XML ({e})")))?;
        let root = doc.root_element();
        if root.tag_name().name() != "opencv_storage" {
            return Err(ImportError::invalid(
                path,
                format!(
                    "root element is <{}>, not <opencv_storage>",
                    root.tag_name().name()
                ),
            ));
        }
        let mut matrices = std::collections::BTreeMap::new();
        let mut scalars = std::collections::BTreeMap::new();
        for node in root.children().filter(|n| n.is_element()) {
            let name = node.tag_name().name().to_ascii_lowercase();
            if node.attribute("type_id") == Some("opencv-matrix") {
                let field = |f: &str| {
                    node.children()
                        .find(|c| c.tag_name().name() == f)
                        .and_then(|c| c.text())
                        .map(str::trim)
                };
                let int = |f: &str| -> Result<usize, ImportError> {
                    field(f).and_then(|t| t.parse().ok()).ok_or_else(|| {
                        ImportError::invalid(path, format!("matrix <{name}> has no valid <{f}>"))
                    })
                };
                let (rows, cols) = (int("rows")?, int("cols")?);
                let data: Vec<f64> = field("data")
                    .unwrap_or("")
                    .split_whitespace()
                    .map(|v| v.parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| {
                        ImportError::invalid(
                            path,
                            format!("matrix <{name}> has a value that is not a number ({e})"),
                        )
                    })?;
                if rows.checked_mul(cols) != Some(data.len()) {
                    return Err(ImportError::invalid(
                        path,
                        format!(
                            "matrix <{name}> is {rows}x{cols} but has {} values",
                            data.len()
                        ),
                    ));
                }
                if data.iter().any(|v| !v.is_finite()) {
                    return Err(ImportError::invalid(
                        path,
                        format!("matrix <{name}> contains NaN or infinite values"),
                    ));
                }
                matrices.insert(name, CvMatrix { rows, cols, data });
            } else if let Some(v) = node.text().and_then(|t| t.trim().parse::<f64>().ok()) {
                scalars.insert(name, v);
            }
        }
        Ok(Self { matrices, scalars })
    }

    /// Reads an XML or YAML document: YAML when the file is `*.yml` / `*.yaml` or starts with
    /// a `%YAML` header.
    pub fn load(path: &Path) -> Result<Self, ImportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if ext == "yml" || ext == "yaml" || text.trim_start().starts_with("%YAML") {
            super::opencv_yaml::parse(&text, path)
        } else {
            Self::parse(&text, path)
        }
    }

    fn find(&self, names: &[&str]) -> Option<&CvMatrix> {
        names
            .iter()
            .find_map(|n| self.matrices.get(&n.to_ascii_lowercase()))
    }
}

/// Intrinsics and pose from a FileStorage document, for an image of `width` x `height`.
/// A rotation matrix a little off orthonormal adds a warning.
pub fn camera(
    fs: &FileStorage,
    path: &Path,
    width: u32,
    height: u32,
    units: Units,
    warnings: &mut Vec<String>,
) -> Result<(Intrinsics, CameraFromWorld), ImportError> {
    let intrinsics = intrinsics(fs, path, width, height)?;
    let pose = pose(fs, path, units, warnings)?;
    Ok((intrinsics, pose))
}

/// The camera matrix and distortion of a FileStorage document (e.g. an `intrinsics.xml`
/// without a pose), for an image of `width` x `height`.
pub fn intrinsics(
    fs: &FileStorage,
    path: &Path,
    width: u32,
    height: u32,
) -> Result<Intrinsics, ImportError> {
    let k = fs
        .find(&["CameraMatrix", "camera_matrix", "K", "intrinsic_matrix"])
        .ok_or_else(|| {
            ImportError::invalid(path, "no camera matrix (CameraMatrix / camera_matrix / K)")
        })?;
    if (k.rows, k.cols) != (3, 3) {
        return Err(ImportError::invalid(
            path,
            format!("the camera matrix is {}x{}, not 3x3", k.rows, k.cols),
        ));
    }
    let (fx, fy, cx, cy) = (k.data[0], k.data[4], k.data[2], k.data[5]);
    if fx <= 0.0 || fy <= 0.0 {
        return Err(ImportError::invalid(
            path,
            format!("focal lengths must be positive (fx {fx}, fy {fy})"),
        ));
    }
    let fisheye = fs.scalars.get("fisheye_model").is_some_and(|&v| v != 0.0);
    let distortion = match fs.find(&[
        "DistortionCoeffs",
        "distortion_coefficients",
        "D",
        "dist_coeffs",
    ]) {
        None => Distortion::None,
        Some(d) if fisheye => match d.data[..] {
            [k1, k2, k3, k4] => Distortion::Fisheye { k1, k2, k3, k4 },
            _ => {
                return Err(ImportError::invalid(
                    path,
                    format!(
                        "{} fisheye distortion coefficients; expected k1 k2 k3 k4",
                        d.data.len()
                    ),
                ));
            }
        },
        Some(d) => {
            let v = &d.data;
            if v.len() < 4 {
                return Err(ImportError::invalid(
                    path,
                    format!(
                        "{} distortion coefficients; expected k1 k2 p1 p2 [k3]",
                        v.len()
                    ),
                ));
            }
            // The rational (k4 k5 k6) and thin-prism terms have no place in the model.
            if v.iter().skip(5).any(|&c| c != 0.0) {
                return Err(ImportError::invalid(
                    path,
                    format!(
                        "{} distortion coefficients with rational or thin-prism terms, which are \
                         not supported (k1 k2 p1 p2 k3 only)",
                        v.len()
                    ),
                ));
            }
            Distortion::RadialTangential {
                k1: v[0],
                k2: v[1],
                p1: v[2],
                p2: v[3],
                k3: v.get(4).copied().unwrap_or(0.0),
            }
        }
    };
    Ok(Intrinsics {
        width,
        height,
        fx,
        fy,
        cx,
        cy,
        distortion,
    })
}

/// The world-to-camera pose of a FileStorage document, translations in `units`.
pub fn pose(
    fs: &FileStorage,
    path: &Path,
    units: Units,
    warnings: &mut Vec<String>,
) -> Result<CameraFromWorld, ImportError> {
    let r = fs
        .find(&["Rotation", "R", "rvec", "rotation_vector"])
        .ok_or_else(|| ImportError::invalid(path, "no rotation (Rotation / R / rvec)"))?;
    let rotation = match (r.rows, r.cols) {
        (3, 1) | (1, 3) => Rotation3::new(Vector3::new(r.data[0], r.data[1], r.data[2])),
        (3, 3) => super::rotation_from_matrix(
            &Matrix3::from_row_slice(&r.data),
            path,
            "Rotation",
            warnings,
        )?,
        (a, b) => {
            return Err(ImportError::invalid(
                path,
                format!("the rotation is {a}x{b}; expected 3x1 (Rodrigues) or 3x3"),
            ));
        }
    };
    let t = fs
        .find(&["Translation", "T", "tvec", "translation_vector"])
        .ok_or_else(|| ImportError::invalid(path, "no translation (Translation / T / tvec)"))?;
    if t.data.len() != 3 {
        return Err(ImportError::invalid(
            path,
            format!("the translation has {} values, not 3", t.data.len()),
        ));
    }
    let s = units.to_metres();
    Ok(CameraFromWorld {
        rotation,
        translation: Vector3::new(t.data[0] * s, t.data[1] * s, t.data[2] * s),
    })
}

/// Imports a rig laid out one folder per camera, each holding an OpenCV FileStorage calibration,
/// XML or YAML (`config.*`, else `calibration.*`, else the first `*.xml` / `*.yml` / `*.yaml`
/// with a camera matrix and a rotation), a video
/// (`video.*`, else the first video file) and optionally the empty scene (`background.*`).
/// Cameras are named after their folders and taken as synchronized (one genlocked rig).
pub fn import_dir(dir: &Path, units: Units) -> Result<super::Imported, ImportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Io {
            path: path.clone(),
            source,
        }
    };
    let mut folders: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let video_ext = ["avi", "mp4", "mov", "mkv", "mxf", "m4v", "webm"];
    let mut cameras = Vec::new();
    let mut warnings = Vec::new();
    for folder in folders {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&folder)
            .map_err(io(&folder))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let stem = |p: &std::path::PathBuf| {
            p.file_stem()
                .map(|s| s.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default()
        };
        let ext = |p: &std::path::PathBuf| {
            p.extension()
                .map(|s| s.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default()
        };
        let xmls: Vec<&std::path::PathBuf> = files
            .iter()
            .filter(|p| ["xml", "yml", "yaml"].contains(&ext(p).as_str()))
            .collect();
        let calib = xmls
            .iter()
            .find(|p| stem(p) == "config")
            .or_else(|| xmls.iter().find(|p| stem(p) == "calibration"))
            .or_else(|| {
                xmls.iter().find(|p| {
                    FileStorage::load(p).is_ok_and(|fs| {
                        fs.find(&["CameraMatrix", "camera_matrix", "K"]).is_some()
                            && fs.find(&["Rotation", "R", "rvec"]).is_some()
                    })
                })
            });
        let Some(calib) = calib else {
            warnings.push(format!(
                "{}: no calibration (XML or YAML), folder skipped",
                folder.display()
            ));
            continue;
        };
        let videos: Vec<&std::path::PathBuf> = files
            .iter()
            .filter(|p| video_ext.contains(&ext(p).as_str()))
            .collect();
        let media = videos.iter().find(|p| stem(p) == "video").or_else(|| {
            videos
                .iter()
                .find(|p| !["background", "checkerboard", "intrinsics"].contains(&stem(p).as_str()))
        });
        let Some(media) = media else {
            warnings.push(format!("{}: no video, folder skipped", folder.display()));
            continue;
        };
        let background = files.iter().find(|p| stem(p) == "background").cloned();
        let reader =
            crate::media::VideoReader::open(media, 1).map_err(|source| ImportError::Media {
                path: media.to_path_buf(),
                source,
            })?;
        let info = reader.info().clone();
        let fs = FileStorage::load(calib)?;
        let (intrinsics, pose) = camera(&fs, calib, info.width, info.height, units, &mut warnings)?;
        cameras.push(super::ImportedCamera {
            id: folder
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            media: media.to_path_buf(),
            background,
            mask: None,
            intrinsics,
            pose,
            fps: info.fps,
            frame_count: info.frame_count,
        });
    }
    Ok(super::Imported {
        cameras,
        synchronized: true,
        segmentation: crate::capture::Segmentation::Background,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0"?>
<opencv_storage>
<CameraMatrix type_id="opencv-matrix"><rows>3</rows><cols>3</cols><dt>f</dt>
  <data>500. 0. 320. 0. 510. 240. 0. 0. 1.</data></CameraMatrix>
<DistortionCoeffs type_id="opencv-matrix"><rows>1</rows><cols>5</cols><dt>f</dt>
  <data>-0.3 0.2 0.001 0.0002 -0.07</data></DistortionCoeffs>
<Rotation type_id="opencv-matrix"><rows>3</rows><cols>1</cols><dt>d</dt>
  <data>0.0 0.0 1.5707963267948966</data></Rotation>
<Translation type_id="opencv-matrix"><rows>3</rows><cols>1</cols><dt>d</dt>
  <data>100. 200. 3000.</data></Translation>
</opencv_storage>"#;

    #[test]
    fn reads_rodrigues_and_millimetres() {
        let fs = FileStorage::parse(DOC, Path::new("config.xml")).expect("parses");
        let (k, pose) = camera(
            &fs,
            Path::new("config.xml"),
            640,
            480,
            Units::Millimetres,
            &mut Vec::new(),
        )
        .expect("camera");
        assert_eq!((k.fx, k.fy, k.cx, k.cy), (500.0, 510.0, 320.0, 240.0));
        assert!(
            matches!(k.distortion, Distortion::RadialTangential { k1, k3, .. } if k1 == -0.3 && k3 == -0.07)
        );
        // 90 degrees about z maps x to y.
        let v = pose.rotation * Vector3::x();
        assert!((v - Vector3::y()).norm() < 1e-12);
        assert!((pose.translation - Vector3::new(0.1, 0.2, 3.0)).norm() < 1e-12);
    }

    #[test]
    fn broken_documents_are_explained() {
        let p = Path::new("bad.xml");
        let e = FileStorage::parse("<opencv_storage><CameraMatrix", p).expect_err("error");
        assert!(e.to_string().contains("bad.xml"), "{e}");
        let short = DOC.replace("0. 0. 1.</data></CameraMatrix>", "0.</data></CameraMatrix>");
        let e = FileStorage::parse(&short, p)
            .expect_err("error")
            .to_string();
        assert!(e.contains("3x3") && e.contains("values"), "{e}");
        let nan = DOC.replace("100. 200.", "nan 200.");
        assert!(FileStorage::parse(&nan, p).is_err());
        let no_rot = DOC.replace("Rotation", "Something");
        let fs = FileStorage::parse(&no_rot, p).expect("parses");
        let e = camera(&fs, p, 640, 480, Units::Metres, &mut Vec::new())
            .expect_err("error")
            .to_string();
        assert!(e.contains("no rotation"), "{e}");
    }
}
