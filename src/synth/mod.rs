//! The embedded synthetic venue: an aerials jump filmed by a camera matrix, written as a real
//! capture (H.264 files + manifest) with ground truth beside it.

pub mod athlete;
pub mod preset;
pub mod raycast;
pub mod rig;
pub mod shapes;
pub mod truth;
pub mod venue;

pub use preset::Preset;
pub use truth::Truth;

use crate::capture::{
    CAPTURE_FORMAT, CAPTURE_VERSION, CameraEntry, CaptureManifest, Extrinsics, IntrinsicsEntry,
    Volume, WorldFrame,
};
use crate::media::{EncoderSettings, MediaError, VideoWriter};
use crate::util::{AtomicDir, Interrupted, check_interrupt, hash};
use athlete::{Athlete, AthleteParams};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use truth::{CameraTruth, FrameTruth, TRUTH_FORMAT, TRUTH_VERSION};
use venue::{Venue, VenueParams};

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("unknown preset {0:?} (known: tiny, demo, aerials16)")]
    UnknownPreset(String),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("cannot write the capture ({source}): {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write a mask image ({source}): {path}")]
    Image {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub preset: Preset,
    pub seed: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthReport {
    pub cameras: usize,
    pub held_out: usize,
    pub frames_per_camera: u64,
    pub seconds: f64,
}

/// The jump and venue for a seed (deterministic).
pub fn design(preset: &Preset, seed: u64, reference_offset: f64) -> (Athlete, VenueParams) {
    let mut rng = hash::Rng::new(seed ^ 0xA7_4117);
    let params = AthleteParams {
        // Take-off on the common timeline: the window starts max_offset after the earliest
        // possible camera start, and the reference camera started at `reference_offset`.
        takeoff_time: preset.max_offset + preset.pre_takeoff - reference_offset,
        takeoff_speed: 11.5 + rng.uniform(-0.2, 0.2),
        flight_time: 2.5,
        body_scale: 1.0 + rng.uniform(-0.03, 0.03),
        ..AthleteParams::default()
    };
    Athlete::design(params, VenueParams::default())
}

/// Writes a synthetic capture to `out` (replaced atomically when complete).
pub fn generate(opts: &SynthOptions, out: &Path) -> Result<SynthReport, SynthError> {
    let start = std::time::Instant::now();
    let preset = &opts.preset;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SynthError::Io {
            path: path.clone(),
            source,
        }
    };
    let dir = AtomicDir::new(out).map_err(io(out))?;
    let root = dir.path().to_path_buf();

    // Each camera's start time (absolute), sub-frame and unknown to the pipeline.
    let mut rng = hash::Rng::new(opts.seed ^ 0x0FF5E7);
    let starts: Vec<f64> = (0..preset.cameras + preset.held_out)
        .map(|_| rng.uniform(-preset.max_offset, preset.max_offset))
        .collect();
    let reference_offset = starts[0];
    let (athlete, venue_params) = design(preset, opts.seed, reference_offset);
    let venue = Venue::new(venue_params.clone());
    let rig = rig::build(
        &venue,
        preset.cameras,
        preset.held_out,
        preset.width,
        preset.height,
        opts.seed,
    );
    let frames = preset.frames_per_camera();

    for sub in ["videos", "truth/masks"] {
        std::fs::create_dir_all(root.join(sub)).map_err(io(&root.join(sub)))?;
    }
    let progress = crate::util::progress::bar(frames * rig.len() as u64, "synthesising cameras");
    let stop = AtomicBool::new(false);
    let results: Vec<Result<(), SynthError>> = rig
        .par_iter()
        .enumerate()
        .map(|(ci, rc)| {
            let offset = starts[ci] - reference_offset;
            let plate = raycast::Plate::render(&rc.camera, &venue);
            let video = root.join("videos").join(format!("{}.mp4", rc.id));
            let mut settings = EncoderSettings::new(preset.width, preset.height, preset.fps);
            settings.crf = preset.crf;
            settings.preset = "superfast".to_owned();
            // A keyframe every 10 frames, as replay rigs record short-GOP: ingest builds the
            // background model from keyframes alone.
            settings.gop = 10;
            settings.threads = 1;
            let mut writer = VideoWriter::create(&video, settings)?;
            let mask_dir = root.join("truth/masks").join(&rc.id);
            std::fs::create_dir_all(&mask_dir).map_err(io(&mask_dir))?;
            for k in 0..frames {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if let Err(e) = check_interrupt() {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e.into());
                }
                let t = offset + k as f64 / preset.fps;
                let pose = athlete.pose(t);
                let key = hash::hash(&[opts.seed, ci as u64, k]);
                let out = raycast::render_frame(
                    &rc.camera,
                    &plate,
                    &venue,
                    &athlete,
                    &pose,
                    key,
                    preset.noise_sigma,
                );
                writer.write_rgb(&out.image)?;
                let mask_path = mask_dir.join(format!("{k:05}.png"));
                out.mask
                    .save_with_format(&mask_path, image::ImageFormat::Png)
                    .map_err(|source| SynthError::Image {
                        path: mask_path.clone(),
                        source,
                    })?;
                progress.inc(1);
            }
            writer.finish()?;
            Ok(())
        })
        .collect();
    progress.finish_and_clear();
    for r in results {
        r?;
    }

    let (lo, hi) = rig::flight_zone();
    let manifest = CaptureManifest {
        format: CAPTURE_FORMAT.to_owned(),
        version: CAPTURE_VERSION,
        name: format!("synthetic aerials ({}, seed {})", preset.name, opts.seed),
        description: "replay360 embedded synthetic venue: freestyle aerials, two back flips with a full twist. \
                      Ground truth in truth/ (never read by the pipeline)."
            .to_owned(),
        world: WorldFrame::default(),
        timeline: "seconds; zero is the first frame of the first listed camera".to_owned(),
        synchronized: false,
        segmentation: Default::default(),
        volume: Some(Volume {
            min: [lo.x - 12.0, lo.y - 3.0, lo.z - 4.0],
            max: [hi.x + 6.0, hi.y + 3.0, hi.z + 3.0],
        }),
        cameras: rig
            .iter()
            .map(|rc| CameraEntry {
                id: rc.id.clone(),
                video: PathBuf::from("videos").join(format!("{}.mp4", rc.id)),
                width: preset.width,
                height: preset.height,
                fps: preset.fps,
                frame_count: Some(frames),
                held_out: rc.held_out,
                background: None,
                mask: None,
                offset_s: None,
                intrinsics: IntrinsicsEntry::from(&rc.camera.intrinsics),
                extrinsics: Extrinsics::from_camera_from_world(&rc.camera.pose),
            })
            .collect(),
    };
    let manifest_path = root.join("capture.json");
    std::fs::write(&manifest_path, manifest.to_json()).map_err(io(&manifest_path))?;

    let truth = truth::Truth {
        format: TRUTH_FORMAT.to_owned(),
        version: TRUTH_VERSION,
        seed: opts.seed,
        preset: preset.clone(),
        athlete: athlete.params.clone(),
        venue: venue_params,
        takeoff_time: athlete.takeoff_time(),
        apex_time: athlete.apex_time(),
        landing_time: athlete.landing_time(),
        cameras: rig
            .iter()
            .enumerate()
            .map(|(ci, rc)| CameraTruth {
                id: rc.id.clone(),
                offset_s: starts[ci] - reference_offset,
                fps: preset.fps,
                frames,
                held_out: rc.held_out,
            })
            .collect(),
        frames: (0..frames)
            .map(|k| {
                let t = k as f64 / preset.fps;
                let pose = athlete.pose(t);
                let p = |v: &nalgebra::Point3<f64>| [v.x, v.y, v.z];
                FrameTruth {
                    time: t,
                    centre_of_mass: p(&pose.centre_of_mass),
                    airborne: pose.airborne,
                    joints: pose
                        .joints
                        .iter()
                        .map(|(n, v)| (n.to_string(), p(v)))
                        .collect::<BTreeMap<_, _>>(),
                }
            })
            .collect(),
    };
    let truth_path = root.join("truth/truth.json");
    let text = serde_json::to_string_pretty(&truth).unwrap_or_default();
    std::fs::write(&truth_path, text).map_err(io(&truth_path))?;
    dir.commit().map_err(io(out))?;
    Ok(SynthReport {
        cameras: preset.cameras,
        held_out: preset.held_out,
        frames_per_camera: frames,
        seconds: start.elapsed().as_secs_f64(),
    })
}
