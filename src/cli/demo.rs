//! `demo`: the whole pipeline on the embedded synthetic venue.

use anyhow::Context as _;
use clap::Args;
use replay360::compose::Sequence;
use replay360::export::{self, ExportSettings};
use replay360::{eval, pipeline, render, synth};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The example documents, embedded so the demo runs from anywhere.
pub const FROZEN_MOMENT: &str = include_str!("../../scenes/frozen_moment.ron");
pub const SPACETIME_SLICES: &str = include_str!("../../scenes/spacetime_slices.ron");

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output directory (replay.mp4, slices.png, report.json, and the capture and
    /// reconstruction they came from).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "demo")]
    pub preset: String,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Export size and rate (default 1920x1080 at 50 fps, from the shots' documents).
    #[arg(long)]
    pub width: Option<u32>,
    #[arg(long)]
    pub height: Option<u32>,
    #[arg(long)]
    pub fps: Option<f64>,
}

pub fn run(a: DemoArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let preset = synth::Preset::by_name(&a.preset).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown preset {:?} (known: {})",
            a.preset,
            synth::Preset::names().join(", ")
        )
    })?;
    let capture = a.out.join("capture");
    let recon = a.out.join("recon");

    eprintln!(
        "[1/4] synthesising the {} venue ({} cameras + {} held out)",
        preset.name, preset.cameras, preset.held_out
    );
    let t = Instant::now();
    synth::generate(
        &synth::SynthOptions {
            preset: preset.clone(),
            seed: a.seed,
        },
        &capture,
    )
    .with_context(|| format!("synthesising {}", capture.display()))?;
    let synth_s = t.elapsed().as_secs_f64();

    eprintln!("[2/4] reconstructing");
    let rec = pipeline::reconstruct(&capture, &recon, &pipeline::ReconstructOptions::default())
        .with_context(|| format!("reconstructing {}", capture.display()))?;

    eprintln!("[3/4] evaluating on the held-out cameras");
    let t = Instant::now();
    let evaluation =
        eval::evaluate(&recon, &capture, &eval::EvalOptions::default()).context("evaluating")?;
    let eval_s = t.elapsed().as_secs_f64();

    eprintln!("[4/4] rendering the 360° freeze and the Spacetime Slices");
    let docs = [
        Sequence::parse(FROZEN_MOMENT, Path::new("scenes/frozen_moment.ron"))?,
        Sequence::parse(SPACETIME_SLICES, Path::new("scenes/spacetime_slices.ron"))?,
    ];
    let scene = render::load_scene(&recon)?;
    let (mut views, mut slices_from) = (Vec::new(), 0);
    for d in &docs {
        slices_from = views.len();
        views.extend(d.frames(&scene.context));
    }
    // The still: the Spacetime Slices shot (the last) with every after-image and call-out in.
    let still = slices_from + replay360::compose::still_frame(&views[slices_from..]);
    let out = &docs[0].output;
    let settings = ExportSettings::new(
        a.width.unwrap_or(out.width),
        a.height.unwrap_or(out.height),
        a.fps.unwrap_or(out.fps),
    );
    let analysis = scene.recon.manifest.analysis.clone();
    let slices_png = a.out.join("slices.png");
    let mp4 = a.out.join("replay.mp4");
    let rep = export::export(
        scene,
        &views,
        &settings,
        &mp4,
        &[(still, slices_png.clone())],
    )
    .with_context(|| format!("rendering {}", mp4.display()))?;

    let mut timings = serde_json::Map::new();
    timings.insert("synth_s".into(), json!(synth_s));
    for (k, v) in &rec.timings {
        timings.insert(k.clone(), json!(v));
    }
    timings.insert("eval_s".into(), json!(eval_s));
    timings.insert("render_s".into(), json!(rep.render_s));
    timings.insert("total_s".into(), json!(start.elapsed().as_secs_f64()));
    let report = json!({
        "preset": preset.name,
        "seed": a.seed,
        "timings": timings,
        "evaluation": evaluation,
        "reconstruction": {
            "instants": rec.frames,
            "splats_mean": rec.splats_mean,
            "voxel_size_m": rec.voxel_size,
        },
        "analysis": analysis.map(|an| json!({
            "takeoff_time": an.takeoff_time,
            "apex_time": an.apex_time,
            "landing_time": an.landing_time,
            "apex_height_m": an.apex_height_m,
            "takeoff_speed_mps": an.takeoff_speed_mps,
            "distance_m": an.distance_m,
        })),
        "export": rep,
        "outputs": {
            "replay": mp4,
            "slices": slices_png,
            "capture": capture,
            "reconstruction": recon,
        },
    });
    let report_path = a.out.join("report.json");
    replay360::util::write_atomic(
        &report_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )
    .with_context(|| format!("writing {}", report_path.display()))?;
    println!(
        "replay: {}\nslices: {}\nreport: {}\nheld-out PSNR {:.2} dB (athlete {:.2} dB), SSIM {:.4}; {:.0} s in all",
        mp4.display(),
        slices_png.display(),
        report_path.display(),
        evaluation.psnr_db,
        evaluation.psnr_athlete_db,
        evaluation.ssim,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
