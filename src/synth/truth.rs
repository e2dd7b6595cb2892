//! Ground truth of a synthetic capture, in `truth/` beside the manifest:
//! - `truth.json` (schema `replay360-truth` v1): the true start offset of every camera, the
//!   athlete's motion parameters (from which its exact surface can be evaluated at any time), and
//!   per reference frame the centre of mass and joint positions;
//! - `masks/<camera>/<frame:05>.png`: true foreground masks (255 = athlete).
//!
//! Nothing in the pipeline reads this folder; only evaluation and tests do.

use super::athlete::{Athlete, AthleteParams};
use super::preset::Preset;
use super::venue::{Venue, VenueParams};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const TRUTH_FORMAT: &str = "replay360-truth";
pub const TRUTH_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CameraTruth {
    pub id: String,
    /// Common-timeline time of the camera's first frame (s). The reference camera's is 0.
    pub offset_s: f64,
    pub fps: f64,
    pub frames: u64,
    pub held_out: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrameTruth {
    pub time: f64,
    pub centre_of_mass: [f64; 3],
    pub airborne: bool,
    pub joints: BTreeMap<String, [f64; 3]>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Truth {
    pub format: String,
    pub version: u32,
    pub seed: u64,
    pub preset: Preset,
    pub athlete: AthleteParams,
    pub venue: VenueParams,
    pub takeoff_time: f64,
    pub apex_time: f64,
    pub landing_time: f64,
    pub cameras: Vec<CameraTruth>,
    pub frames: Vec<FrameTruth>,
}

#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("cannot read ground truth ({source}): {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("ground truth is not valid {TRUTH_FORMAT} v{TRUTH_VERSION} JSON ({source}): {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Truth {
    /// Loads `truth/truth.json` from a capture directory (or the truth directory itself).
    pub fn load(capture_dir: &Path) -> Result<Self, TruthError> {
        let path = Self::dir(capture_dir).join("truth.json");
        let text = std::fs::read_to_string(&path).map_err(|source| TruthError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| TruthError::Parse { path, source })
    }

    pub fn dir(capture_dir: &Path) -> PathBuf {
        if capture_dir.join("truth.json").exists() {
            capture_dir.to_path_buf()
        } else {
            capture_dir.join("truth")
        }
    }

    pub fn mask_path(capture_dir: &Path, camera: &str, frame: u64) -> PathBuf {
        Self::dir(capture_dir)
            .join("masks")
            .join(camera)
            .join(format!("{frame:05}.png"))
    }

    /// The athlete model, for exact surface and pose queries.
    pub fn athlete(&self) -> Athlete {
        Athlete::with_venue(self.athlete.clone(), Venue::new(self.venue.clone()))
    }

    pub fn camera(&self, id: &str) -> Option<&CameraTruth> {
        self.cameras.iter().find(|c| c.id == id)
    }
}
