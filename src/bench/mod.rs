//! `replay360 bench`: the whole pipeline on a fresh synthetic capture, measured.
//!
//! - `decode_only_s`: every camera file decoded to RGB with the pipeline's own decoder, cameras
//!   in parallel as the pipeline does it; the floor any pipeline that reads the files pays.
//! - `ingest_s`, `sync_s`, `segment_s`, `reconstruct_s`, `pipeline_s`: the stage timings of
//!   `replay360 reconstruct` (wall time; parallel sections shared out by CPU time).
//! - `ratio_to_decode` = `pipeline_s / decode_only_s`.
//! - `reconstruct_frames_per_s`: reconstructed instants per second of the reconstruct stage.
//! - `moment_to_first_frame_s`: camera files on disk → first exported frame of an automatic
//!   360° replay of the apex (pipeline, scene load, renderer start, first frame).
//! - `peak_rss_mb`: the process's peak resident memory from the start of the pipeline on.

use crate::capture::Capture;
use crate::compose::Sequence;
use crate::media::VideoReader;
use crate::pipeline::{ReconstructOptions, reconstruct};
use crate::render::{FrameRequest, OffscreenRenderer, load_scene};
use crate::synth::{Preset, SynthOptions, generate};
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("unknown preset {0:?} (known: tiny, demo, aerials16)")]
    Preset(String),
    #[error("{0}")]
    Stage(String),
}

fn stage<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> BenchError + '_ {
    move |e| BenchError::Stage(format!("{what}: {e}"))
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub preset: String,
    pub cameras: usize,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub frames_per_camera: u64,
    pub synth_s: f64,
    pub decode_only_s: f64,
    pub ingest_s: f64,
    pub sync_s: f64,
    pub segment_s: f64,
    pub reconstruct_s: f64,
    pub venue_s: f64,
    pub pipeline_s: f64,
    pub ratio_to_decode: f64,
    pub reconstruct_frames_per_s: f64,
    pub moment_to_first_frame_s: f64,
    pub peak_rss_mb: f64,
    pub threads: usize,
}

/// Peak resident set size of this process in MiB (Linux), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets the peak RSS counter (Linux 4.0+); harmless elsewhere.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Decodes every used camera file once, cameras in parallel.
pub fn decode_only(capture: &Capture) -> Result<f64, BenchError> {
    let start = Instant::now();
    let cams: Vec<_> = capture.cameras.iter().filter(|c| !c.held_out).collect();
    cams.par_iter()
        .map(|c| {
            let mut r = VideoReader::open(&c.video, 1).map_err(stage("decoding"))?;
            while r.next_frame().map_err(stage("decoding"))?.is_some() {}
            Ok(())
        })
        .collect::<Result<Vec<()>, BenchError>>()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Runs the benchmark in `work` (a scratch directory).
pub fn run(
    preset: &str,
    seed: u64,
    work: &Path,
    replay_doc: &str,
) -> Result<BenchReport, BenchError> {
    let preset = Preset::by_name(preset).ok_or_else(|| BenchError::Preset(preset.to_owned()))?;
    let cap = work.join("capture");
    let rec = work.join("recon");
    let t = Instant::now();
    let s = generate(
        &SynthOptions {
            preset: preset.clone(),
            seed,
        },
        &cap,
    )
    .map_err(stage("synthesising"))?;
    let synth_s = t.elapsed().as_secs_f64();
    let capture = Capture::open(&cap).map_err(stage("opening the capture"))?;
    let decode_only_s = decode_only(&capture)?;

    reset_peak_rss();
    let t = Instant::now();
    let r =
        reconstruct(&cap, &rec, &ReconstructOptions::default()).map_err(stage("reconstructing"))?;
    let scene = load_scene(&rec).map_err(stage("loading the scene"))?;
    let seq = Sequence::parse(replay_doc, Path::new("frozen_moment.ron"))
        .map_err(stage("the replay document"))?;
    let views = seq.frames(&scene.context);
    let first = views
        .first()
        .ok_or_else(|| BenchError::Stage("the replay document has no frames".into()))?;
    let req = FrameRequest::from_view(first, seq.output.width, seq.output.height);
    let mut renderer =
        OffscreenRenderer::new(scene, req.clone(), seq.output.width, seq.output.height)
            .map_err(stage("starting the renderer"))?;
    renderer.render_one(&req).map_err(stage("rendering"))?;
    let moment_to_first_frame_s = t.elapsed().as_secs_f64();
    let peak = peak_rss_mb().unwrap_or(f64::NAN);

    let g = |k: &str| r.timings.get(k).copied().unwrap_or(f64::NAN);
    Ok(BenchReport {
        preset: preset.name.clone(),
        cameras: preset.cameras,
        width: preset.width,
        height: preset.height,
        fps: preset.fps,
        frames_per_camera: s.frames_per_camera,
        synth_s,
        decode_only_s,
        ingest_s: g("ingest_s"),
        sync_s: g("sync_s"),
        segment_s: g("segment_s"),
        reconstruct_s: g("reconstruct_s"),
        venue_s: g("venue_s"),
        pipeline_s: g("pipeline_s"),
        ratio_to_decode: g("pipeline_s") / decode_only_s,
        reconstruct_frames_per_s: r.frames as f64 / g("reconstruct_s"),
        moment_to_first_frame_s,
        peak_rss_mb: peak,
        threads: rayon::current_num_threads(),
    })
}
