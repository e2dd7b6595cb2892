//! The capture manifest, schema `replay360-capture` version 1 (JSON).
//!
//! ```json
//! {
//!   "format": "replay360-capture", "version": 1, "name": "demo",
//!   "world": { "up": "+z", "units": "metres" },
//!   "timeline": "seconds; zero is the first frame of the first listed camera",
//!   "volume": { "min": [-8, -6, -9], "max": [24, 6, 9] },
//!   "cameras": [{
//!     "id": "cam00", "video": "videos/cam00.mp4", "width": 960, "height": 540, "fps": 25.0,
//!     "frame_count": 125, "held_out": false,
//!     "intrinsics": { "fx": 1100.0, "fy": 1100.0, "cx": 479.5, "cy": 269.5,
//!                     "distortion": { "model": "radial_tangential", "k1": -0.05, "k2": 0.01,
//!                                     "p1": 0.0, "p2": 0.0, "k3": 0.0 } },
//!     "extrinsics": { "convention": "world_to_camera_opencv",
//!                     "rotation": [[..],[..],[..]], "translation": [x, y, z] }
//!   }]
//! }
//! ```
//! Optional: `"synchronized": true` with a per-camera `"offset_s"` (known offsets, no sync
//! estimate), a per-camera `"background"` file (the empty scene, for subjects that do not move)
//! and `"segmentation": {"method": "threshold", "threshold": 0.19}` (bright subject on black) or
//! `{"method": "alpha"}` (media with an alpha channel: alpha above one half is subject).
//! Distortion models: `none`, `radial_tangential` (k1 k2 p1 p2 k3) and `fisheye` (k1 k2 k3 k4,
//! OpenCV's `cv::fisheye`).
//! `rotation` is row-major. With `world_to_camera_opencv`, `x_cam = R x_world + t` and the camera
//! axes are x right, y down, z forward. With `camera_to_world_opengl`, `x_world = R x_cam + t` and
//! the camera axes are x right, y up, looking down -z (nerfstudio, Blender). Pixel centres are at
//! integer coordinates (OpenCV).

use crate::camera::{
    Camera, CameraFromWorld, Distortion, Intrinsics, WorldFromCamera, WorldFromCameraGl,
};
use nalgebra::{Matrix3, Point3, Rotation3, Vector3};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::CaptureError;

pub const CAPTURE_FORMAT: &str = "replay360-capture";
pub const CAPTURE_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaptureManifest {
    pub format: String,
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub world: WorldFrame,
    #[serde(default = "default_timeline")]
    pub timeline: String,
    /// Region of interest for reconstruction (world metres). Optional: without it the
    /// reconstruction searches the volume all cameras see.
    #[serde(default)]
    pub volume: Option<Volume>,
    /// The cameras were genlocked (or their offsets are known): use each camera's `offset_s`
    /// instead of estimating offsets from the footage.
    #[serde(default)]
    pub synchronized: bool,
    /// How to separate the subject from the background (default: a background model).
    #[serde(default)]
    pub segmentation: Segmentation,
    pub cameras: Vec<CameraEntry>,
}

/// How mattes are made.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Segmentation {
    /// Compare with a background model: the camera's own `background` file when given, else
    /// the temporal median of its video.
    #[default]
    Background,
    /// A bright subject on a dark background: luma above `threshold` (0..1) is subject.
    Threshold { threshold: f64 },
    /// The media carry their mattes in an alpha channel (RGBA images, PNG sequences, ProRes
    /// 4444): alpha above one half is subject.
    Alpha,
    /// Every camera has a `mask` file beside its media (a matte image, sequence or video with
    /// the same frames): luma above one half is subject.
    Mask,
}

fn default_timeline() -> String {
    "seconds; zero is the first frame of the first listed camera".to_owned()
}

/// The world frame, stated in the manifest so nobody has to guess.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorldFrame {
    pub up: String,
    pub units: String,
}

impl Default for WorldFrame {
    fn default() -> Self {
        Self {
            up: "+z".to_owned(),
            units: "metres".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Volume {
    pub min: [f64; 3],
    pub max: [f64; 3],
}

impl Volume {
    pub fn min(&self) -> Point3<f64> {
        Point3::from(self.min)
    }
    pub fn max(&self) -> Point3<f64> {
        Point3::from(self.max)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CameraEntry {
    pub id: String,
    /// Video file, relative to the manifest's directory.
    pub video: PathBuf,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    #[serde(default)]
    pub frame_count: Option<u64>,
    #[serde(default)]
    pub held_out: bool,
    /// Video or image of the empty scene from this camera (relative to the manifest's
    /// directory), for the background model of a subject that does not move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<PathBuf>,
    /// The subject's matte for each frame of `video` (image, sequence or video; luma above one
    /// half is subject), read when the segmentation method is `mask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<PathBuf>,
    /// Common-timeline time of the first frame, when known (used with `synchronized`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_s: Option<f64>,
    pub intrinsics: IntrinsicsEntry,
    pub extrinsics: Extrinsics,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct IntrinsicsEntry {
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    #[serde(default)]
    pub distortion: Distortion,
}

impl From<&Intrinsics> for IntrinsicsEntry {
    fn from(k: &Intrinsics) -> Self {
        Self {
            fx: k.fx,
            fy: k.fy,
            cx: k.cx,
            cy: k.cy,
            distortion: k.distortion,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExtrinsicsConvention {
    /// `x_cam = R x_world + t`, OpenCV camera axes.
    WorldToCameraOpencv,
    /// `x_world = R x_cam + t`, OpenGL camera axes.
    CameraToWorldOpengl,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Extrinsics {
    pub convention: ExtrinsicsConvention,
    /// Row-major 3x3 rotation.
    pub rotation: [[f64; 3]; 3],
    pub translation: [f64; 3],
}

impl Extrinsics {
    pub fn from_camera_from_world(pose: &CameraFromWorld) -> Self {
        let m = pose.rotation.matrix();
        Self {
            convention: ExtrinsicsConvention::WorldToCameraOpencv,
            rotation: [
                [m[(0, 0)], m[(0, 1)], m[(0, 2)]],
                [m[(1, 0)], m[(1, 1)], m[(1, 2)]],
                [m[(2, 0)], m[(2, 1)], m[(2, 2)]],
            ],
            translation: [pose.translation.x, pose.translation.y, pose.translation.z],
        }
    }

    /// The pose in our internal convention, after checking the rotation is a rotation.
    pub fn camera_from_world(&self) -> Result<CameraFromWorld, String> {
        let flat: Vec<f64> = self
            .rotation
            .iter()
            .flatten()
            .copied()
            .chain(self.translation)
            .collect();
        if flat.iter().any(|v| !v.is_finite()) {
            return Err("extrinsics contain NaN or infinite values".to_owned());
        }
        let m = Matrix3::from_row_slice(&self.rotation.concat());
        let orth = (m.transpose() * m - Matrix3::identity()).abs().max();
        if orth > 1e-4 {
            return Err(format!(
                "extrinsic rotation is not orthonormal (|RᵀR - I| = {orth:.2e})"
            ));
        }
        let det = m.determinant();
        if det < 0.0 {
            return Err(format!(
                "extrinsic rotation is a reflection (det = {det:.4})"
            ));
        }
        let rotation = Rotation3::from_matrix(&m);
        let t = Vector3::from(self.translation);
        Ok(match self.convention {
            ExtrinsicsConvention::WorldToCameraOpencv => CameraFromWorld {
                rotation,
                translation: t,
            },
            ExtrinsicsConvention::CameraToWorldOpengl => WorldFromCamera::from(WorldFromCameraGl {
                rotation,
                centre: Point3::from(t),
            })
            .inverse(),
        })
    }
}

impl CameraEntry {
    pub fn intrinsics(&self) -> Intrinsics {
        Intrinsics {
            width: self.width,
            height: self.height,
            fx: self.intrinsics.fx,
            fy: self.intrinsics.fy,
            cx: self.intrinsics.cx,
            cy: self.intrinsics.cy,
            distortion: self.intrinsics.distortion,
        }
    }

    /// The validated camera model, or what is wrong with it.
    pub fn camera(&self) -> Result<Camera, String> {
        let k = &self.intrinsics;
        if ![k.fx, k.fy, k.cx, k.cy].iter().all(|v| v.is_finite()) {
            return Err("intrinsics contain NaN or infinite values".to_owned());
        }
        if k.fx <= 0.0 || k.fy <= 0.0 {
            return Err(format!(
                "focal lengths must be positive (fx {}, fy {})",
                k.fx, k.fy
            ));
        }
        if self.width == 0 || self.height == 0 {
            return Err(format!(
                "image size {}x{} is empty",
                self.width, self.height
            ));
        }
        if !(self.fps.is_finite() && self.fps > 0.0) {
            return Err(format!("frame rate {} is not a positive number", self.fps));
        }
        let pose = self.extrinsics.camera_from_world()?;
        Ok(Camera::new(self.intrinsics(), pose))
    }
}

impl CaptureManifest {
    pub fn load(path: &Path) -> Result<Self, CaptureError> {
        let text = std::fs::read_to_string(path).map_err(|source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // Check format and version first so a newer schema gets a clear message rather than a
        // confusing field error.
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            version: Option<u32>,
        }
        let header: Header = serde_json::from_str(&text).map_err(|source| CaptureError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        let format = header.format.unwrap_or_default();
        if format != CAPTURE_FORMAT {
            return Err(CaptureError::WrongFormat {
                path: path.to_path_buf(),
                found: format,
            });
        }
        if let Some(v) = header.version
            && v > CAPTURE_VERSION
        {
            return Err(CaptureError::NewerVersion {
                path: path.to_path_buf(),
                found: v,
            });
        }
        let manifest: Self = serde_json::from_str(&text).map_err(|source| CaptureError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        manifest.validate(path)?;
        Ok(manifest)
    }

    fn validate(&self, path: &Path) -> Result<(), CaptureError> {
        let invalid = |problem: String| CaptureError::Invalid {
            path: path.to_path_buf(),
            problem,
        };
        if self.cameras.is_empty() {
            return Err(invalid("the capture lists no cameras".to_owned()));
        }
        let mut ids = std::collections::BTreeSet::new();
        for c in &self.cameras {
            if !ids.insert(c.id.as_str()) {
                return Err(invalid(format!("camera id {:?} is listed twice", c.id)));
            }
        }
        if self.world.up != "+z" || self.world.units != "metres" {
            return Err(invalid(format!(
                "world frame up={:?} units={:?} is not supported (expected +z, metres)",
                self.world.up, self.world.units
            )));
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
