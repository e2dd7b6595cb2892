//! Rendering in Bevy (wgpu): the reconstruction, after-images, trajectory and venue backdrop as
//! entities, drawn by one scene plugin that serves both the window ([`crate::viewer`]) and the
//! offscreen exporter ([`offscreen`]). WGSL lives in `shaders/`.

pub mod convert;
pub mod distortion;
pub mod gaussians;
pub mod materials;
pub mod meshes;
pub mod offscreen;
pub mod overlay;
pub mod projection;
pub mod scene;
pub mod venue;

pub use offscreen::{OffscreenRenderer, RenderError};
pub use scene::{CurrentView, FrameRequest, SceneData};

use crate::capture::{Capture, CaptureError};
use crate::compose::Context;
use crate::reconstruct::{ReconError, Reconstruction};
use nalgebra::Point3;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    #[error(transparent)]
    Recon(#[from] ReconError),
    #[error("the reconstruction's capture cannot be opened: {0}")]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Venue(#[from] venue::VenueError),
}

/// Loads what the renderer needs for a reconstruction directory.
pub fn load_scene(recon_dir: &Path) -> Result<SceneData, SceneError> {
    let recon = Reconstruction::open(recon_dir)?;
    let capture = Capture::open(&recon.capture_path())?;
    // Every real camera can be cut to, held-out ones included (the shot shows the
    // reconstruction from there, never their footage).
    let context = context_for(&recon)
        .with_cameras(capture.cameras.iter().map(|c| (c.id.as_str(), &c.camera)));
    let venue = match venue::VenueData::load(&recon) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("venue backdrop unavailable: {e}");
            None
        }
    };
    let rig = capture.cameras.iter().map(|c| c.camera.clone()).collect();
    Ok(SceneData {
        recon,
        context,
        venue,
        rig,
        gaussian_athlete: false,
    })
}

/// Composition context (events and centre-of-mass track) of a reconstruction.
pub fn context_for(recon: &Reconstruction) -> Context {
    let centroids: Vec<(f64, Point3<f64>)> = recon
        .manifest
        .frames
        .iter()
        .filter(|f| f.splats > 0)
        .map(|f| (f.time, Point3::from(f.centroid)))
        .collect();
    Context::new(
        recon.time_range(),
        recon.manifest.analysis.as_ref(),
        &centroids,
    )
}
