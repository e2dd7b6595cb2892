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
    /// Quality from subsets of the rig (`--degrade`), fewest cameras last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub degradation: Vec<DegradeRow>,
}

/// One row of the graceful-degradation table: the pipeline on `cameras` of the rig's cameras
/// (spread evenly around it), scored on the capture's held-out cameras.
#[derive(Debug, Clone, Serialize)]
pub struct DegradeRow {
    pub cameras: usize,
    pub used: Vec<String>,
    pub psnr_db: f64,
    pub psnr_athlete_db: f64,
    pub ssim: f64,
    pub ssim_athlete: f64,
    pub baseline_nearest_camera_psnr_db: f64,
    pub matte_iou: f64,
    pub reconstruct_frames_per_s: f64,
    pub splats_mean: f64,
}

/// Reconstructs the capture in `work/capture` from `counts` cameras each (spread evenly over
/// the cameras that are not held out) and scores each on the held-out cameras.
pub fn degradation(work: &Path, counts: &[usize]) -> Result<Vec<DegradeRow>, BenchError> {
    let cap = work.join("capture");
    let capture = Capture::open(&cap).map_err(stage("opening the capture"))?;
    let exam: Vec<String> = capture
        .cameras
        .iter()
        .filter(|c| c.held_out)
        .map(|c| c.id.clone())
        .collect();
    let rig: Vec<&str> = capture
        .cameras
        .iter()
        .filter(|c| !c.held_out)
        .map(|c| c.id.as_str())
        .collect();
    let mut counts = counts.to_vec();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts.dedup();
    // Checked before any work: the smallest count comes last.
    if let Some(&count) = counts.last().filter(|&&c| c < 2) {
        return Err(BenchError::Stage(format!(
            "--degrade {count}: reconstruction needs at least two cameras"
        )));
    }
    let mut rows = Vec::new();
    for count in counts {
        let used: Vec<String> = spread(&rig, count).into_iter().map(str::to_owned).collect();
        let hold_out: Vec<String> = capture
            .cameras
            .iter()
            .filter(|c| !used.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        let rec = work.join(format!("recon-{}", used.len()));
        tracing::info!("degradation: reconstructing from {}", used.join(", "));
        let r = reconstruct(
            &cap,
            &rec,
            &ReconstructOptions {
                hold_out: Some(hold_out),
                ..Default::default()
            },
        )
        .map_err(stage("reconstructing"))?;
        let e = crate::eval::evaluate(
            &rec,
            &cap,
            &crate::eval::EvalOptions {
                cameras: Some(exam.clone()),
                ..Default::default()
            },
        )
        .map_err(stage("evaluating"))?;
        let reconstruct_s = r.timings.get("reconstruct_s").copied().unwrap_or(f64::NAN);
        rows.push(DegradeRow {
            cameras: used.len(),
            used,
            psnr_db: e.psnr_db,
            psnr_athlete_db: e.psnr_athlete_db,
            ssim: e.ssim,
            ssim_athlete: e.ssim_athlete,
            baseline_nearest_camera_psnr_db: e.baseline_nearest_camera_psnr_db,
            matte_iou: e.matte_iou,
            reconstruct_frames_per_s: r.frames as f64 / reconstruct_s,
            splats_mean: r.splats_mean,
        });
    }
    Ok(rows)
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
        degradation: Vec::new(),
    })
}

/// `replay360 bench --render`: what rendering costs, offscreen on this machine's adapter.
///
/// - `render_fps_1080p`, `render_fps_2160p`: frames per second rendering views of a sequence
///   document (the 360° freeze, `scenes/frozen_moment.ron`) of a reconstruction (venue, athlete
///   splats, MSAA), from the request to the RGBA image in memory (readback included; no
///   encoding). `splats_drawn`: the athlete's splats per frame, mean.
///   `render_gaussian_fps_1080p`: the same views with the athlete drawn as Gaussians.
/// - `ply_fps_1080p`: the same for one turn around a 3D Gaussian splat PLY (by default the
///   benchmark's 250,000-Gaussian person); `ply_splats_drawn`: Gaussians on screen per frame,
///   mean; `ply_prep_ms`: CPU time per frame projecting, sorting and binning them (the rest
///   of the frame is the GPU rasteriser, the composite and the readback);
///   `ply_tile_entries`: entries in the tiles' lists per frame, mean.
/// - `*_cpu_ms_*`: CPU time per frame, all threads of the process (lavapipe's included). On a
///   machine shared with other work the frame rates drop with the load; these stay put.
#[derive(Debug, Clone, Serialize)]
pub struct RenderBenchReport {
    pub device: String,
    pub threads: usize,
    pub sequence: String,
    pub reconstruction: String,
    pub render_frames_1080p: usize,
    pub render_fps_1080p: f64,
    pub render_cpu_ms_1080p: f64,
    pub render_frames_2160p: usize,
    pub render_fps_2160p: f64,
    pub render_cpu_ms_2160p: f64,
    pub render_gaussian_fps_1080p: f64,
    pub render_gaussian_cpu_ms_1080p: f64,
    pub splats_drawn: f64,
    pub ply: String,
    pub ply_source: String,
    pub ply_splats: usize,
    pub ply_frames: usize,
    pub ply_fps_1080p: f64,
    pub ply_cpu_ms_1080p: f64,
    pub ply_splats_drawn: f64,
    pub ply_prep_ms: f64,
    pub ply_tile_entries: f64,
}

pub struct RenderBenchOptions<'a> {
    /// A reconstruction to use; `None` synthesises and reconstructs `preset` in `work`.
    pub recon: Option<std::path::PathBuf>,
    pub preset: String,
    pub seed: u64,
    pub work: std::path::PathBuf,
    /// The splat file; `None` makes the benchmark person in `work` (the script
    /// `make_splat_ply.py` when python3 and numpy are there, else the same recipe in Rust).
    pub ply: Option<std::path::PathBuf>,
    /// Which axis of the splat file's world points up.
    pub ply_up: String,
    /// Views of the sequence rendered at 1080p (a quarter of them at 2160p) and around the PLY.
    pub frames: usize,
    pub sequence: &'a str,
}

/// Where `make_splat_ply.py` may be: `$REPLAY360_SPLAT_SCRIPT`, or `shared/bench/` beside the
/// checkout this was built from or beside the working directory.
fn splat_script() -> Option<std::path::PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("REPLAY360_SPLAT_SCRIPT") {
        candidates.push(std::path::PathBuf::from(p));
    }
    candidates
        .push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/make_splat_ply.py"));
    candidates.push(std::path::PathBuf::from(
        "../shared/bench/make_splat_ply.py",
    ));
    candidates.into_iter().find(|p| p.is_file())
}

/// The benchmark's splat file in `work`, and how it was made.
fn benchmark_ply(work: &Path) -> Result<(std::path::PathBuf, String), BenchError> {
    use crate::formats::gaussian_ply::benchmark_person;
    std::fs::create_dir_all(work).map_err(stage("creating the scratch directory"))?;
    let out = work.join("person250k.ply");
    if let Some(script) = splat_script() {
        let ok = std::process::Command::new("python3")
            .arg(&script)
            .arg(&out)
            .output()
            .is_ok_and(|o| o.status.success());
        if ok && out.is_file() {
            return Ok((out, format!("{}", script.display())));
        }
    }
    benchmark_person(250_000, 1)
        .write(&out)
        .map_err(stage("writing the benchmark splat file"))?;
    Ok((
        out,
        "built-in recipe (make_splat_ply.py's shape and parameters; python3 with numpy or the script not found)"
            .to_owned(),
    ))
}

/// CPU time this process has used, all threads (the renderer's own included), in seconds
/// (Linux; `None` elsewhere).
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // Clock ticks; 100 per second on every Linux this runs on.
    Some((utime + stime) / 100.0)
}

/// Renders `requests` once to warm up on the first, then all of them: frames per second
/// (wall clock) and CPU milliseconds per frame (all threads).
fn time_frames(
    renderer: &mut OffscreenRenderer,
    requests: &[FrameRequest],
) -> Result<(f64, f64), BenchError> {
    let Some(first) = requests.first() else {
        return Ok((f64::NAN, f64::NAN));
    };
    renderer.render_one(first).map_err(stage("rendering"))?;
    let cpu = process_cpu_s();
    let t = Instant::now();
    renderer
        .render(requests, |_, _| Ok(()))
        .map_err(stage("rendering"))?;
    let n = requests.len() as f64;
    let cpu_ms = match (cpu, process_cpu_s()) {
        (Some(a), Some(b)) => (b - a) * 1e3 / n,
        _ => f64::NAN,
    };
    Ok((n / t.elapsed().as_secs_f64().max(1e-9), cpu_ms))
}

/// Every `n`th-ish element, `count` of them spread over `items`.
fn spread<T: Clone>(items: &[T], count: usize) -> Vec<T> {
    let count = count.min(items.len()).max(1);
    (0..count)
        .filter_map(|i| items.get(i * items.len() / count).cloned())
        .collect()
}

pub fn run_render(o: &RenderBenchOptions) -> Result<RenderBenchReport, BenchError> {
    use crate::formats::gaussian_ply::GaussianCloud;
    use crate::render::gaussians::{GaussianScene, GaussianSplats, orbit_requests};
    use std::sync::atomic::Ordering;
    let frames = o.frames.max(4);
    // The reconstruction.
    let (recon, recon_note) = match &o.recon {
        Some(r) => (r.clone(), format!("{}", r.display())),
        None => {
            let preset =
                Preset::by_name(&o.preset).ok_or_else(|| BenchError::Preset(o.preset.clone()))?;
            let cap = o.work.join("capture");
            let rec = o.work.join("recon");
            generate(
                &SynthOptions {
                    preset: preset.clone(),
                    seed: o.seed,
                },
                &cap,
            )
            .map_err(stage("synthesising"))?;
            reconstruct(&cap, &rec, &ReconstructOptions::default())
                .map_err(stage("reconstructing"))?;
            (
                rec,
                format!("{} preset, synthesised (seed {})", preset.name, o.seed),
            )
        }
    };
    let seq = Sequence::parse(o.sequence, Path::new("frozen_moment.ron"))
        .map_err(stage("the sequence document"))?;
    let mut device = String::new();
    let mut fps = [(f64::NAN, f64::NAN); 3];
    let mut counts = [0usize; 3];
    let mut splats_drawn = f64::NAN;
    for (k, (w, h, n)) in [
        (1920u32, 1080u32, frames),
        (3840, 2160, frames / 4),
        (1920, 1080, frames),
    ]
    .into_iter()
    .enumerate()
    {
        let mut scene = load_scene(&recon).map_err(stage("loading the scene"))?;
        // The third run draws the athlete as Gaussians.
        scene.gaussian_athlete = k == 2;
        let views = spread(&seq.frames(&scene.context), n.max(2));
        if k == 0 {
            let f = &scene.recon.manifest.frames;
            splats_drawn = views
                .iter()
                .map(|v| f[scene.recon.frame_at(v.time)].splats as f64)
                .sum::<f64>()
                / views.len().max(1) as f64;
        }
        let requests: Vec<FrameRequest> = views
            .iter()
            .map(|v| FrameRequest::from_view(v, w, h))
            .collect();
        let mut renderer = OffscreenRenderer::new(scene, requests[0].clone(), w, h)
            .map_err(stage("starting the renderer"))?;
        device = renderer.adapter();
        fps[k] = time_frames(&mut renderer, &requests)?;
        counts[k] = requests.len();
    }
    // The splat file.
    let (ply, ply_source) = match &o.ply {
        Some(p) => (p.clone(), "given".to_owned()),
        None => benchmark_ply(&o.work)?,
    };
    let mut cloud = GaussianCloud::read(&ply).map_err(stage("reading the splat file"))?;
    cloud
        .rotate_up(&o.ply_up)
        .map_err(|e| BenchError::Stage(format!("--ply-up: {e}")))?;
    let requests = orbit_requests(&cloud, frames, 1920, 1080, false);
    if requests.is_empty() {
        return Err(BenchError::Stage(
            "the splat file holds no Gaussians".into(),
        ));
    }
    let splats = GaussianSplats::new(GaussianScene::from_cloud(&cloud));
    let stats = splats.stats.clone();
    let mut renderer = OffscreenRenderer::gaussians(splats, requests[0].clone(), 1920, 1080)
        .map_err(stage("starting the renderer"))?;
    renderer
        .render_one(&requests[0])
        .map_err(stage("rendering"))?;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
    let before = [
        get(&stats.bin_ns),
        get(&stats.bins),
        get(&stats.drawn_sum),
        get(&stats.entries_sum),
    ];
    let ply_fps = time_frames(&mut renderer, &requests)?;
    let bins = (get(&stats.bins) - before[1]).max(1.0);
    Ok(RenderBenchReport {
        device,
        threads: rayon::current_num_threads(),
        sequence: "scenes/frozen_moment.ron".to_owned(),
        reconstruction: recon_note,
        render_frames_1080p: counts[0],
        render_fps_1080p: fps[0].0,
        render_cpu_ms_1080p: fps[0].1,
        render_frames_2160p: counts[1],
        render_fps_2160p: fps[1].0,
        render_cpu_ms_2160p: fps[1].1,
        render_gaussian_fps_1080p: fps[2].0,
        render_gaussian_cpu_ms_1080p: fps[2].1,
        splats_drawn,
        ply: format!("{}", ply.display()),
        ply_source,
        ply_splats: cloud.len(),
        ply_frames: requests.len(),
        ply_fps_1080p: ply_fps.0,
        ply_cpu_ms_1080p: ply_fps.1,
        ply_splats_drawn: (get(&stats.drawn_sum) - before[2]) / bins,
        ply_prep_ms: (get(&stats.bin_ns) - before[0]) / bins / 1e6,
        ply_tile_entries: (get(&stats.entries_sum) - before[3]) / bins,
    })
}
