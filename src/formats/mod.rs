//! Calibration and capture formats other tools write, one module per format. Each reads its
//! files into [`ImportedCamera`]s; [`write_manifest`] turns them into a replay360 capture.
//! Problems that leave a camera unusable are errors naming the file; problems the import can
//! work around are warnings. [`gaussian_ply`] reads and writes 3D Gaussian splat clouds in the
//! INRIA PLY layout, so reconstructions travel both ways between replay360 and splat tools.

pub mod gaussian_ply;
pub mod middlebury;
pub mod opencv;

use crate::camera::{CameraFromWorld, Intrinsics};
use crate::capture::{
    CAPTURE_FORMAT, CAPTURE_VERSION, CameraEntry, CaptureManifest, Extrinsics, IntrinsicsEntry,
    Segmentation, WorldFrame,
};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read ({source}): {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{problem}: {path}")]
    Invalid { path: PathBuf, problem: String },
    #[error("cannot read the media file ({source}): {path}")]
    Media {
        path: PathBuf,
        #[source]
        source: crate::media::MediaError,
    },
    #[error("nothing to import: {0}")]
    Empty(String),
}

impl ImportError {
    pub fn invalid(path: &Path, problem: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}

/// Length unit of a calibration's translations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    Metres,
    Millimetres,
    Centimetres,
}

impl Units {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "m" | "metres" | "meters" => Some(Self::Metres),
            "mm" | "millimetres" | "millimeters" => Some(Self::Millimetres),
            "cm" | "centimetres" | "centimeters" => Some(Self::Centimetres),
            _ => None,
        }
    }
    pub fn to_metres(self) -> f64 {
        match self {
            Self::Metres => 1.0,
            Self::Millimetres => 0.001,
            Self::Centimetres => 0.01,
        }
    }
}

/// One camera read from another tool's files.
#[derive(Debug, Clone)]
pub struct ImportedCamera {
    pub id: String,
    /// Video, image sequence pattern or single image.
    pub media: PathBuf,
    /// The empty scene from this camera, when the source has one.
    pub background: Option<PathBuf>,
    pub intrinsics: Intrinsics,
    pub pose: CameraFromWorld,
    pub fps: f64,
    pub frame_count: Option<u64>,
}

/// What an import produced.
pub struct Imported {
    pub cameras: Vec<ImportedCamera>,
    pub synchronized: bool,
    pub segmentation: Segmentation,
    pub warnings: Vec<String>,
}

impl Imported {
    /// Re-expresses every pose in a world whose `up` axis ("+z", "-z", "+y", "-y", "+x", "-x"
    /// of the source's frame) becomes replay360's +Z.
    pub fn set_up_axis(&mut self, up: &str) -> Result<(), String> {
        use nalgebra::{Rotation3, Vector3};
        let q = match up {
            "+z" | "z" => Rotation3::identity(),
            "-z" => Rotation3::from_axis_angle(&Vector3::x_axis(), std::f64::consts::PI),
            "+y" | "y" => {
                Rotation3::from_axis_angle(&Vector3::x_axis(), std::f64::consts::FRAC_PI_2)
            }
            "-y" => Rotation3::from_axis_angle(&Vector3::x_axis(), -std::f64::consts::FRAC_PI_2),
            "+x" | "x" => {
                Rotation3::from_axis_angle(&Vector3::y_axis(), -std::f64::consts::FRAC_PI_2)
            }
            "-x" => Rotation3::from_axis_angle(&Vector3::y_axis(), std::f64::consts::FRAC_PI_2),
            other => {
                return Err(format!(
                    "unknown up axis {other:?} (+z, -z, +y, -y, +x, -x)"
                ));
            }
        };
        for c in &mut self.cameras {
            // x_cam = R x + t with x = Qᵀ x'.
            c.pose.rotation *= q.inverse();
        }
        Ok(())
    }
}

/// Checks each camera's media against its calibration (size, readability) and writes the
/// capture manifest to `out/capture.json`. Returns the manifest path.
pub fn write_manifest(imported: &Imported, name: &str, out: &Path) -> Result<PathBuf, ImportError> {
    if imported.cameras.is_empty() {
        return Err(ImportError::Empty(name.to_owned()));
    }
    std::fs::create_dir_all(out).map_err(|source| ImportError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut cameras = Vec::new();
    for c in &imported.cameras {
        let reader =
            crate::media::VideoReader::open(&c.media, 1).map_err(|source| ImportError::Media {
                path: c.media.clone(),
                source,
            })?;
        let info = reader.info();
        if (info.width, info.height) != (c.intrinsics.width, c.intrinsics.height) {
            return Err(ImportError::invalid(
                &c.media,
                format!(
                    "camera {}: the media is {}x{} but the calibration is for {}x{}",
                    c.id, info.width, info.height, c.intrinsics.width, c.intrinsics.height
                ),
            ));
        }
        let fps = if c.fps > 0.0 {
            c.fps
        } else if info.fps > 0.0 {
            info.fps
        } else {
            1.0
        };
        let absolute = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        cameras.push(CameraEntry {
            id: c.id.clone(),
            video: absolute(&c.media),
            width: c.intrinsics.width,
            height: c.intrinsics.height,
            fps,
            frame_count: c.frame_count.or(info.frame_count),
            held_out: false,
            background: c.background.as_deref().map(absolute),
            offset_s: imported.synchronized.then_some(0.0),
            intrinsics: IntrinsicsEntry::from(&c.intrinsics),
            extrinsics: Extrinsics::from_camera_from_world(&c.pose),
        });
    }
    let manifest = CaptureManifest {
        format: CAPTURE_FORMAT.to_owned(),
        version: CAPTURE_VERSION,
        name: name.to_owned(),
        description: format!(
            "imported with replay360 import; {} camera(s)",
            cameras.len()
        ),
        world: WorldFrame::default(),
        timeline: "seconds; zero is the first frame of the first listed camera".to_owned(),
        volume: None,
        synchronized: imported.synchronized,
        segmentation: imported.segmentation,
        cameras,
    };
    let path = out.join("capture.json");
    crate::util::write_atomic(&path, manifest.to_json().as_bytes()).map_err(|source| {
        ImportError::Io {
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}
