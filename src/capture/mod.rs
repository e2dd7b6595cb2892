//! The capture: a set of calibrated cameras, each with a video file, described by a versioned
//! manifest (`capture.json`). See `docs` in README.md for the schema.

pub mod inspect;
mod manifest;

pub use manifest::{
    CAPTURE_FORMAT, CAPTURE_VERSION, CameraEntry, CaptureManifest, Extrinsics,
    ExtrinsicsConvention, IntrinsicsEntry, Segmentation, Volume, WorldFrame,
};

use crate::camera::Camera;
use std::path::{Path, PathBuf};

/// Everything that can be wrong with a capture on disk.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read the capture manifest: {source}: {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the capture manifest is not valid JSON for schema {CAPTURE_FORMAT} v{CAPTURE_VERSION}: {source}: {path}"
    )]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the capture manifest has format {found:?}, expected {CAPTURE_FORMAT:?}: {path}")]
    WrongFormat { path: PathBuf, found: String },
    #[error(
        "the capture manifest uses schema version {found}, newer than this build understands ({CAPTURE_VERSION}); upgrade replay360: {path}"
    )]
    NewerVersion { path: PathBuf, found: u32 },
    #[error("camera {camera}: {problem}: {path}")]
    InvalidCamera {
        path: PathBuf,
        camera: String,
        problem: String,
    },
    #[error("{problem}: {path}")]
    Invalid { path: PathBuf, problem: String },
}

/// One camera of a loaded capture, with absolute paths and a validated calibration.
#[derive(Debug, Clone)]
pub struct CaptureCamera {
    pub id: String,
    pub video: PathBuf,
    pub camera: Camera,
    pub fps: f64,
    pub frame_count: Option<u64>,
    /// Marked in the manifest as held out from reconstruction (an evaluation camera).
    pub held_out: bool,
    /// Video or image of the empty scene, if the manifest gives one.
    pub background: Option<PathBuf>,
    /// The subject's mattes, frame for frame with `video`, if the manifest gives them.
    pub mask: Option<PathBuf>,
    /// Known start offset (s), if the manifest gives one.
    pub offset_s: Option<f64>,
}

/// A loaded, validated capture.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The directory holding the manifest; relative paths resolve against it.
    pub dir: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: CaptureManifest,
    pub cameras: Vec<CaptureCamera>,
}

impl Capture {
    /// Loads a capture from its directory or its manifest file.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let manifest_path = if path.is_dir() {
            path.join("capture.json")
        } else {
            path.to_path_buf()
        };
        let manifest = CaptureManifest::load(&manifest_path)?;
        let dir = manifest_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut cameras = Vec::with_capacity(manifest.cameras.len());
        for entry in &manifest.cameras {
            let camera = entry
                .camera()
                .map_err(|problem| CaptureError::InvalidCamera {
                    path: manifest_path.clone(),
                    camera: entry.id.clone(),
                    problem,
                })?;
            cameras.push(CaptureCamera {
                id: entry.id.clone(),
                video: dir.join(&entry.video),
                camera,
                fps: entry.fps,
                frame_count: entry.frame_count,
                held_out: entry.held_out,
                background: entry.background.as_ref().map(|b| dir.join(b)),
                mask: entry.mask.as_ref().map(|m| dir.join(m)),
                offset_s: entry.offset_s,
            });
        }
        Ok(Self {
            dir,
            manifest_path,
            manifest,
            cameras,
        })
    }

    pub fn camera(&self, id: &str) -> Option<&CaptureCamera> {
        self.cameras.iter().find(|c| c.id == id)
    }

    /// The reference camera: the first listed. Its first frame is time zero.
    pub fn reference(&self) -> &CaptureCamera {
        // `CaptureManifest::validate` rejects manifests without cameras.
        &self.cameras[0]
    }
}
