//! `synth`, `reconstruct`, `eval`.

use anyhow::Context as _;
use clap::Args;
use replay360::{eval, pipeline, synth};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// tiny (tests), demo (the demo's capture) or aerials16 (the benchmark workload).
    #[arg(long, default_value = "demo")]
    pub preset: String,
    /// Output capture directory (replaced when complete).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

pub fn synth(a: SynthArgs) -> anyhow::Result<()> {
    let preset = synth::Preset::by_name(&a.preset).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown preset {:?} (known: {})",
            a.preset,
            synth::Preset::names().join(", ")
        )
    })?;
    let report = synth::generate(
        &synth::SynthOptions {
            preset,
            seed: a.seed,
        },
        &a.out,
    )
    .with_context(|| format!("synthesising {}", a.out.display()))?;
    println!(
        "wrote {} cameras + {} held out, {} frames each, in {:.1} s: {}",
        report.cameras,
        report.held_out,
        report.frames_per_camera,
        report.seconds,
        a.out.join("capture.json").display()
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct ReconstructArgs {
    /// Capture directory or its manifest (capture.json).
    pub capture: PathBuf,
    /// Output reconstruction directory (replaced when complete).
    #[arg(long)]
    pub out: PathBuf,
    /// Cameras never to read, comma separated (default: those the manifest marks held out).
    #[arg(long, value_name = "ID,ID")]
    pub hold_out: Option<String>,
    /// Voxel size in metres (default: from the cameras' resolution).
    #[arg(long)]
    pub voxel: Option<f64>,
    /// Reconstruct every Nth reference frame.
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// Largest start offset between cameras that sync searches (s).
    #[arg(long, default_value_t = 1.0)]
    pub sync_range: f64,
    /// Keep sync at the centroid estimate, without refining each camera's offset by how well
    /// the others' hull explains its silhouettes (about 5 s of aerials16's 6 s sync).
    #[arg(long)]
    pub no_sync_refine: bool,
    /// Take the venue's ground from the athlete's contacts (level across the course) instead
    /// of measuring the snow surface from the background plates.
    #[arg(long)]
    pub no_venue_measure: bool,
    /// Carve each instant with the cameras' frames moved by the athlete's image motion alone,
    /// instead of posing each camera by the athlete's measured rigid motion (turns included)
    /// from the instant to its frame; the reconstruction then records no motion either.
    #[arg(long)]
    pub no_motion: bool,
    /// Instants reconstructed per frame interval of the reference camera (2: also halfway
    /// between frames, for what the measured motion does not carry: a change of posture).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub substeps: u16,
    /// Give each splat one colour for every side, without the samples of the cameras that saw
    /// it best, which a view blends by angle (the frames are 2.5 times smaller; the athlete's
    /// stripes blur between the cameras: aerials16's held-out athlete PSNR 0.5 dB lower).
    #[arg(long)]
    pub no_view_colour: bool,
}

pub fn reconstruct(a: ReconstructArgs) -> anyhow::Result<()> {
    super::ensure_exists(&a.capture, "the capture")?;
    if let Some(v) = a.voxel
        && !(v.is_finite() && v > 0.0005 && v < 0.5)
    {
        anyhow::bail!("--voxel must be between 0.0005 and 0.5 metres, got {v}");
    }
    let opts = pipeline::ReconstructOptions {
        hold_out: a.hold_out.as_deref().map(super::id_list),
        voxel: a.voxel,
        stride: a.stride.max(1),
        sync_range: a.sync_range,
        sync_refine: !a.no_sync_refine,
        measure_venue: !a.no_venue_measure,
        motion: !a.no_motion,
        substeps: a.substeps.into(),
        view_colour: !a.no_view_colour,
        ..Default::default()
    };
    let r = pipeline::reconstruct(&a.capture, &a.out, &opts)
        .with_context(|| format!("reconstructing {}", a.capture.display()))?;
    println!(
        "reconstructed {} instants ({:.0} splats each, voxel {:.1} cm) in {:.1} s: {}",
        r.frames,
        r.splats_mean,
        r.voxel_size * 100.0,
        r.timings.get("pipeline_s").copied().unwrap_or_default(),
        a.out.display()
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Reconstruction directory.
    pub recon: PathBuf,
    /// The capture it was made from (directory or manifest), with its ground truth.
    #[arg(long)]
    pub capture: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Frames evaluated per held-out camera.
    #[arg(long, default_value_t = 6)]
    pub frames: usize,
    /// Also write every scored frame to this folder: rendered, real, and their difference
    /// (CAMERA_FRAME_render.png, _real.png, _error.png).
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
}

pub fn eval(a: EvalArgs) -> anyhow::Result<()> {
    super::ensure_exists(&a.recon, "the reconstruction")?;
    super::ensure_exists(&a.capture, "the capture")?;
    let r = eval::evaluate(
        &a.recon,
        &a.capture,
        &eval::EvalOptions {
            frames_per_camera: a.frames,
            cameras: None,
            images: a.images.clone(),
        },
    )
    .with_context(|| format!("evaluating {}", a.recon.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{:<10} {:>7} {:>10} {:>8} {:>12} {:>14}",
            "camera", "frames", "PSNR dB", "SSIM", "athlete dB", "nearest cam dB"
        );
        for c in &r.per_camera {
            println!(
                "{:<10} {:>7} {:>10.2} {:>8.4} {:>12.2} {:>14.2}",
                c.camera,
                c.frames,
                c.psnr_db,
                c.ssim,
                c.psnr_athlete_db,
                c.baseline_nearest_camera_psnr_db
            );
        }
        println!(
            "{:<10} {:>7} {:>10.2} {:>8.4} {:>12.2} {:>14.2}",
            "mean",
            r.evaluated_frames,
            r.psnr_db,
            r.ssim,
            r.psnr_athlete_db,
            r.baseline_nearest_camera_psnr_db
        );
        println!("largest sync error: {:.3} frames", r.sync_error_frames_max);
        println!("matte IoU against the true masks: {:.4}", r.matte_iou);
        println!(
            "athlete from one frame to the next: {:.2} levels RMS off the footage's change, {:.2}x as much change",
            r.temporal_error_athlete, r.temporal_change_athlete
        );
        if let Some(v) = &r.venue {
            print_venue(v);
        }
    }
    Ok(())
}

/// The venue's errors against the truth, as lines of text.
fn print_venue(v: &eval::venue::VenueScore) {
    let height = |name: &str, e: &Option<eval::venue::HeightError>| match e {
        Some(e) => println!(
            "{name}: median |error| {:.2} m, 90th percentile {:.2} m, median {:+.2} m ({} samples)",
            e.median_abs_m, e.p90_abs_m, e.median_m, e.samples
        ),
        None => println!("{name}: nothing to compare"),
    };
    height("snow between the fences", &v.ground_course);
    height("snow over the measured box", &v.ground_measured_box);
    for f in &v.fences {
        let name = format!("fence at y = {:+.1} m", f.y_m);
        match &f.errors {
            Some(e) => {
                println!(
                    "{name}: {:+.2} m out, {:+.2} m tall, starts {:+.1} m and ends {:+.1} m along x",
                    e.offset_error_m, e.height_error_m, e.start_error_m, e.end_error_m
                );
                height(&format!("{name}, foot"), &e.foot_error);
            }
            None => println!("{name}: not found"),
        }
    }
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The workload: aerials16 is the standard one (16 cameras 1920x1080 at 50 fps, 3 s);
    /// with --render, the capture reconstructed for the render figures (default tiny).
    #[arg(long)]
    pub preset: Option<String>,
    /// Measure rendering instead of the pipeline: frames per second at 1080p and 2160p over the
    /// 360° freeze of a reconstruction, and at 1080p around a 3D Gaussian splat PLY.
    #[arg(long)]
    pub render: bool,
    /// With --render: the reconstruction to render (default: synthesise and reconstruct the
    /// preset).
    #[arg(long, requires = "render")]
    pub recon: Option<PathBuf>,
    /// With --render: the splat file to orbit (default: the benchmark's 250,000-Gaussian
    /// person, made by ../shared/bench/make_splat_ply.py when python3 with numpy is there, else
    /// by the same recipe built in).
    #[arg(long, requires = "render")]
    pub ply: Option<PathBuf>,
    /// With --render: which axis of the splat file's world points up (the benchmark person
    /// stands along +y).
    #[arg(long, default_value = "+y", allow_hyphen_values = true)]
    pub ply_up: String,
    /// With --render: views rendered at 1080p and around the PLY (a quarter as many at 2160p).
    #[arg(long, default_value_t = 40)]
    pub frames: usize,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Also reconstruct from subsets of the rig and score each on the held-out cameras, side by
    /// side: e.g. `--degrade 16,12,8` (cameras spread evenly around the rig). Adds
    /// `degradation` to the report.
    #[arg(long, value_delimiter = ',', conflicts_with = "render")]
    pub degrade: Vec<usize>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Keep the capture and reconstruction here (default: a temporary directory, removed).
    #[arg(long)]
    pub keep: Option<PathBuf>,
}

pub fn bench(a: BenchArgs) -> anyhow::Result<()> {
    // Before minutes of synthesis, not after.
    if let Some(c) = a.degrade.iter().find(|&&c| c < 2) {
        anyhow::bail!("--degrade {c}: reconstruction needs at least two cameras");
    }
    let tmp;
    let work = match &a.keep {
        Some(p) => p.clone(),
        None => {
            tmp = tempfile::tempdir().context("creating a scratch directory")?;
            tmp.path().to_path_buf()
        }
    };
    if a.render {
        let r = replay360::bench::run_render(&replay360::bench::RenderBenchOptions {
            recon: a.recon.clone(),
            preset: a.preset.clone().unwrap_or_else(|| "tiny".to_owned()),
            seed: a.seed,
            work: work.clone(),
            ply: a.ply.clone(),
            ply_up: a.ply_up.clone(),
            frames: a.frames,
            sequence: super::demo::FROZEN_MOMENT,
        })?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            println!("{} ({} threads); {}", r.device, r.threads, r.reconstruction);
            println!(
                "{} 1080p  {:6.2} frames/s ({} frames, {:.0} splats each)",
                r.sequence, r.render_fps_1080p, r.render_frames_1080p, r.splats_drawn
            );
            println!(
                "{} 2160p  {:6.2} frames/s ({} frames)",
                r.sequence, r.render_fps_2160p, r.render_frames_2160p
            );
            println!(
                "{} 1080p  {:6.2} frames/s with the athlete as Gaussians",
                r.sequence, r.render_gaussian_fps_1080p
            );
            println!(
                "{} 1080p orbit {:6.2} frames/s ({} frames, {:.0} of {} Gaussians on screen, {:.1} ms CPU sort and binning per frame)",
                r.ply,
                r.ply_fps_1080p,
                r.ply_frames,
                r.ply_splats_drawn,
                r.ply_splats,
                r.ply_prep_ms
            );
        }
        return Ok(());
    }
    let preset = a.preset.clone().unwrap_or_else(|| "aerials16".to_owned());
    let mut r = replay360::bench::run(&preset, a.seed, &work, super::demo::FROZEN_MOMENT)?;
    if !a.degrade.is_empty() {
        r.degradation = replay360::bench::degradation(&work, &a.degrade)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{}: {} cameras {}x{} at {} fps, {} frames each",
            r.preset, r.cameras, r.width, r.height, r.fps, r.frames_per_camera
        );
        println!("decode only         {:8.2} s", r.decode_only_s);
        println!("ingest              {:8.2} s", r.ingest_s);
        println!("sync                {:8.2} s", r.sync_s);
        println!("segment             {:8.2} s", r.segment_s);
        println!(
            "reconstruct         {:8.2} s ({:.1} instants/s)",
            r.reconstruct_s, r.reconstruct_frames_per_s
        );
        println!("venue               {:8.2} s", r.venue_s);
        println!(
            "pipeline            {:8.2} s ({:.2} x decode)",
            r.pipeline_s, r.ratio_to_decode
        );
        println!("moment to 1st frame {:8.2} s", r.moment_to_first_frame_s);
        println!("peak memory         {:8.0} MiB", r.peak_rss_mb);
        if !r.degradation.is_empty() {
            println!(
                "\ncameras  PSNR dB  athlete dB  SSIM   nearest-camera dB  instants/s  splats"
            );
            for d in &r.degradation {
                println!(
                    "{:7}  {:7.2}  {:10.2}  {:5.3}  {:17.2}  {:10.1}  {:6.0}",
                    d.cameras,
                    d.psnr_db,
                    d.psnr_athlete_db,
                    d.ssim,
                    d.baseline_nearest_camera_psnr_db,
                    d.reconstruct_frames_per_s,
                    d.splats_mean
                );
            }
        }
    }
    Ok(())
}
