//! Subcommands. Each validates its input, runs the library, and reports what it wrote.

mod calibrate;
mod demo;
mod import;
mod render;
mod stages;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "replay360",
    version,
    about = "Free-viewpoint 360° replays and Spacetime Slices from a multi-camera capture",
    long_about = "Free-viewpoint 360° replays and Spacetime Slices from a multi-camera capture.\n\n\
                  Times everywhere are seconds on the capture's common timeline, whose zero is the \
                  first frame of the first camera listed in the capture manifest."
)]
pub struct Cli {
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The whole pipeline on the embedded synthetic venue: capture, reconstruction, evaluation,
    /// and both shots exported to DIR/replay.mp4, DIR/slices.png and DIR/report.json.
    Demo(demo::DemoArgs),
    /// Writes a synthetic capture (H.264 camera files, manifest, ground truth in truth/).
    Synth(stages::SynthArgs),
    /// Reconstructs a capture (directory or manifest) into a reconstruction directory.
    Reconstruct(stages::ReconstructArgs),
    /// Compares renders of the held-out cameras with what they recorded.
    Eval(stages::EvalArgs),
    /// Renders exactly what one camera of the capture sees at a time, lens included.
    Snapshot(render::SnapshotArgs),
    /// Renders a sequence document (RON) to an MP4.
    Render(render::RenderArgs),
    /// Writes one reconstructed instant as 3D Gaussian splats (INRIA PLY) for other splat tools.
    ExportPly(render::ExportPlyArgs),
    /// Renders a turn around a 3D Gaussian splat PLY (ours or another tool's) to video or PNGs.
    OrbitPly(render::OrbitPlyArgs),
    /// Opens a reconstruction in a window: orbit, zoom, scrub, slices.
    View(render::ViewArgs),
    /// Measures the pipeline on a fresh synthetic capture (see README, "Benchmark").
    Bench(stages::BenchArgs),
    /// Writes a capture manifest from another tool's calibration and media.
    Import(import::ImportArgs),
    /// Summarises a capture and draws its rig from above.
    Inspect(import::InspectArgs),
    /// Camera extrinsics from checkerboard clips, with a reprojection-error report.
    Calibrate(calibrate::CalibrateArgs),
}

pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| {
        format!("{level},wgpu=error,naga=error,bevy_render=error,bevy_app=error,bevy_winit=error,offset_allocator=error")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Synth(a) => stages::synth(a),
        Command::Reconstruct(a) => stages::reconstruct(a),
        Command::Eval(a) => stages::eval(a),
        Command::Snapshot(a) => render::snapshot(a),
        Command::Render(a) => render::render(a),
        Command::ExportPly(a) => render::export_ply(a),
        Command::OrbitPly(a) => render::orbit_ply(a),
        Command::View(a) => render::view(a),
        Command::Bench(a) => stages::bench(a),
        Command::Import(a) => import::import(a),
        Command::Inspect(a) => import::inspect(a),
        Command::Calibrate(a) => calibrate::calibrate(a),
    }
}

/// Parses `a,b,c` into ids.
pub fn id_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn ensure_exists(path: &std::path::Path, what: &str) -> anyhow::Result<()> {
    if !path.exists() {
        anyhow::bail!("{what} does not exist: {}", path.display());
    }
    Ok(())
}

/// Window-system and Vulkan loaders want a private `XDG_RUNTIME_DIR`; give them one when the
/// environment has none (headless machines, CI).
pub fn ensure_runtime_dir() {
    let ok = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir());
    if ok {
        return;
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "user".to_owned());
    let dir = std::env::temp_dir().join(format!("replay360-runtime-{user}"));
    if std::fs::create_dir_all(&dir).is_ok() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        // SAFETY: called at start-up, before any thread that reads the environment exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}
