//! `snapshot`, `render`, `view`.

use anyhow::Context as _;
use clap::Args;
use replay360::compose::Sequence;
use replay360::export::{self, ExportSettings};
use replay360::render::distortion::LensRemap;
use replay360::render::{self as r, FrameRequest, OffscreenRenderer};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SnapshotArgs {
    /// Reconstruction directory.
    pub recon: PathBuf,
    /// Camera id from the capture (held-out or not).
    #[arg(long)]
    pub camera: String,
    /// Capture time in seconds (default: the apex of the jump).
    #[arg(long)]
    pub time: Option<f64>,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// The capture to take the camera from (default: the one the reconstruction came from).
    #[arg(long)]
    pub capture: Option<PathBuf>,
    /// Draw the athlete only, without the venue backdrop.
    #[arg(long)]
    pub no_venue: bool,
    /// Draw the athlete as depth-sorted, alpha-blended flat Gaussians instead of discs.
    #[arg(long)]
    pub gaussians: bool,
}

pub fn snapshot(a: SnapshotArgs) -> anyhow::Result<()> {
    super::ensure_exists(&a.recon, "the reconstruction")?;
    let mut scene =
        r::load_scene(&a.recon).with_context(|| format!("loading {}", a.recon.display()))?;
    scene.gaussian_athlete = a.gaussians;
    let capture_path = a
        .capture
        .clone()
        .unwrap_or_else(|| scene.recon.capture_path());
    let capture = replay360::capture::Capture::open(&capture_path)?;
    let cam = capture.camera(&a.camera).ok_or_else(|| {
        let known: Vec<&str> = capture.cameras.iter().map(|c| c.id.as_str()).collect();
        anyhow::anyhow!(
            "camera {:?} is not in the capture (known: {}): {}",
            a.camera,
            known.join(", "),
            capture_path.display()
        )
    })?;
    let (t0, t1) = scene.recon.time_range();
    let time = a.time.unwrap_or(scene.context.apex);
    if !(t0 - 1e-6..=t1 + 1e-6).contains(&time) {
        anyhow::bail!("time {time:.3} s is outside the reconstruction ({t0:.3} to {t1:.3} s)");
    }
    let remap = LensRemap::new(&cam.camera);
    let (w, h) = cam.camera.intrinsics.width_height();
    let request = FrameRequest {
        camera: remap.pinhole.clone(),
        time,
        show_athlete: true,
        ghosts: Vec::new(),
        trajectory: None,
        show_venue: !a.no_venue,
        venue_softness: 0.0,
        shadow: None,
        show_rig: false,
        transparent: false,
        overlay: Default::default(),
    };
    let mut renderer = OffscreenRenderer::new(scene, request.clone(), w, h)?;
    let img = remap.apply(&renderer.render_one(&request)?);
    replay360::util::images::save_png_rgb(&img, &a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!("camera {} at {time:.3} s: {}", a.camera, a.out.display());
    Ok(())
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Sequence document (RON).
    pub scene: PathBuf,
    /// Output: FILE.mp4 (H.264), FILE.mov (ProRes 422 HQ) or a folder (PNG sequence with alpha).
    #[arg(long)]
    pub out: PathBuf,
    /// A 9:16 version of the same shots (width and height swapped, re-framed).
    #[arg(long)]
    pub vertical: bool,
    /// Reconstruction directory (overrides the document's `reconstruction`).
    #[arg(long)]
    pub recon: Option<PathBuf>,
    /// Output size and rate (override the document's `output`).
    #[arg(long)]
    pub width: Option<u32>,
    #[arg(long)]
    pub height: Option<u32>,
    #[arg(long)]
    pub fps: Option<f64>,
    /// Save the still at this output time (s) (see --still).
    #[arg(long, requires = "still")]
    pub still_at: Option<f64>,
    /// Also save a still of the sequence as a PNG: the frame at --still-at, else the latest
    /// frame with every after-image and graphic fully in.
    #[arg(long)]
    pub still: Option<PathBuf>,
    /// Draw the live athlete as depth-sorted, alpha-blended flat Gaussians instead of discs
    /// (after-images stay discs).
    #[arg(long)]
    pub gaussians: bool,
}

pub fn render(a: RenderArgs) -> anyhow::Result<()> {
    super::ensure_exists(&a.scene, "the sequence document")?;
    let mut seq = Sequence::load(&a.scene)?;
    if let Some(w) = a.width {
        seq.output.width = w;
    }
    if let Some(h) = a.height {
        seq.output.height = h;
    }
    if let Some(f) = a.fps {
        seq.output.fps = f;
    }
    let recon = match (&a.recon, &seq.reconstruction) {
        (Some(r), _) => r.clone(),
        (None, Some(r)) => a.scene.parent().unwrap_or(Path::new(".")).join(r),
        (None, None) => anyhow::bail!(
            "the document names no reconstruction; pass --recon DIR: {}",
            a.scene.display()
        ),
    };
    super::ensure_exists(&recon, "the reconstruction")?;
    let mut scene =
        r::load_scene(&recon).with_context(|| format!("loading {}", recon.display()))?;
    scene.gaussian_athlete = a.gaussians;
    seq.check_cameras(&scene.context, &a.scene)?;
    let views = seq.frames(&scene.context);
    let mut settings = ExportSettings::new(seq.output.width, seq.output.height, seq.output.fps);
    settings.format = export::ExportFormat::from_path(&a.out);
    if a.vertical {
        settings.width = seq.output.height.min(seq.output.width);
        settings.height = seq.output.width.max(seq.output.height);
    }
    let mut stills = Vec::new();
    if let (Some(t), Some(p)) = (a.still_at, &a.still) {
        let i = ((t * seq.output.fps).round() as usize).min(views.len().saturating_sub(1));
        stills.push((i, p.clone()));
    } else if let Some(p) = &a.still {
        stills.push((replay360::compose::still_frame(&views), p.clone()));
    }
    let rep = export::export(scene, &views, &settings, &a.out, &stills)
        .with_context(|| format!("rendering {}", a.out.display()))?;
    println!(
        "{} frames {}x{} at {} fps ({:.1} frames/s): {}",
        rep.frames,
        rep.width,
        rep.height,
        rep.fps,
        rep.render_fps,
        a.out.display()
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct ViewArgs {
    /// Reconstruction directory.
    pub recon: PathBuf,
    /// Save a screenshot of the window to this PNG after --after frames, then close.
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    #[arg(long, default_value_t = 60)]
    pub after: u32,
    /// Draw the live athlete as depth-sorted, alpha-blended flat Gaussians instead of discs.
    #[arg(long)]
    pub gaussians: bool,
}

pub fn view(a: ViewArgs) -> anyhow::Result<()> {
    super::ensure_exists(&a.recon, "the reconstruction")?;
    let mut scene =
        r::load_scene(&a.recon).with_context(|| format!("loading {}", a.recon.display()))?;
    scene.gaussian_athlete = a.gaussians;
    replay360::viewer::run(scene, a.screenshot.clone().map(|p| (p, a.after)))
        .with_context(|| "running the viewer")?;
    if let Some(p) = &a.screenshot {
        println!("screenshot: {}", p.display());
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct ExportPlyArgs {
    /// Reconstruction directory.
    pub recon: PathBuf,
    /// Capture time in seconds (default: the apex of the jump); the nearest reconstructed
    /// instant is written.
    #[arg(long)]
    pub time: Option<f64>,
    /// Output file: 3D Gaussian splats in the INRIA PLY layout (3DGS, Brush, gsplat,
    /// SuperSplat, bevy_gaussian_splatting open it). Each splat disc of radius r becomes a
    /// flat Gaussian (r/sqrt(2) across, r/10 thick, opacity 0.99).
    #[arg(long)]
    pub out: PathBuf,
    /// Which axis of the written file points up (+z, -z, +y, -y, +x, -x): +z keeps
    /// replay360's world; +y suits tools that expect Y up.
    #[arg(long, default_value = "+z", allow_hyphen_values = true)]
    pub up: String,
}

pub fn export_ply(a: ExportPlyArgs) -> anyhow::Result<()> {
    use replay360::formats::gaussian_ply::{GaussianCloud, up_rotation};
    super::ensure_exists(&a.recon, "the reconstruction")?;
    let q = up_rotation(&a.up).map_err(anyhow::Error::msg)?;
    let recon = replay360::reconstruct::Reconstruction::open(&a.recon)
        .with_context(|| format!("opening {}", a.recon.display()))?;
    let (t0, t1) = recon.time_range();
    let time = match a.time {
        Some(t) => t,
        None => r::context_for(&recon).apex,
    };
    if !(t0 - 1e-6..=t1 + 1e-6).contains(&time) {
        anyhow::bail!("time {time:.3} s is outside the reconstruction ({t0:.3} to {t1:.3} s)");
    }
    // The nearest instant, moved by the athlete's motion to the time asked for.
    let (index, moved) = recon.frame_moved_to(time);
    let mut frame = recon.load_frame(index)?;
    frame.move_by(&moved);
    let mut cloud = GaussianCloud::from_splats(&frame);
    // Our world to the file's: the inverse of the file-to-ours rotation `--up` names.
    cloud.rotate(q.inverse());
    cloud
        .write(&a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{} Gaussians at {time:.3} s (instant {index} at {:.3} s, moved by the athlete's motion): {}",
        cloud.len(),
        recon.manifest.frames[index].time,
        a.out.display()
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct OrbitPlyArgs {
    /// A 3D Gaussian splat PLY (INRIA layout: 3DGS, Brush, gsplat, `replay360 export-ply`).
    pub ply: PathBuf,
    /// Output: FILE.mp4 (H.264), FILE.mov (ProRes 422 HQ) or a folder (PNG sequence with
    /// alpha, transparent background).
    #[arg(long)]
    pub out: PathBuf,
    /// Views in one turn around the cloud.
    #[arg(long, default_value_t = 100)]
    pub frames: usize,
    /// Output size, WIDTHxHEIGHT (even numbers, up to 7680x4320).
    #[arg(long, default_value = "1920x1080")]
    pub size: String,
    #[arg(long, default_value_t = 50.0)]
    pub fps: f64,
    /// Which axis of the file's world points up (+z, -z, +y, -y, +x, -x). Files from
    /// `replay360 export-ply` are +z; the benchmark's person file is +y; COLMAP-trained scenes
    /// are usually -y.
    #[arg(long, default_value = "+z", allow_hyphen_values = true)]
    pub up: String,
    /// Also save the first frame as a PNG.
    #[arg(long)]
    pub still: Option<PathBuf>,
}

/// Parses `WIDTHxHEIGHT`.
pub fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| anyhow::anyhow!("--size must be WIDTHxHEIGHT, got {s:?}"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| anyhow::anyhow!("--size must be WIDTHxHEIGHT, got {s:?}"))
    };
    Ok((parse(w)?, parse(h)?))
}

pub fn orbit_ply(a: OrbitPlyArgs) -> anyhow::Result<()> {
    use replay360::formats::gaussian_ply::GaussianCloud;
    use replay360::render::gaussians::{GaussianScene, GaussianSplats, orbit_requests};
    super::ensure_exists(&a.ply, "the splat file")?;
    let (width, height) = parse_size(&a.size)?;
    if a.frames == 0 {
        anyhow::bail!("--frames must be at least 1");
    }
    if !(a.fps.is_finite() && a.fps > 0.0) {
        anyhow::bail!("--fps must be positive, got {}", a.fps);
    }
    let start = std::time::Instant::now();
    let mut cloud = GaussianCloud::read(&a.ply)?;
    cloud.rotate_up(&a.up).map_err(anyhow::Error::msg)?;
    if cloud.is_empty() {
        anyhow::bail!("the splat file holds no Gaussians: {}", a.ply.display());
    }
    let mut settings = ExportSettings::new(width, height, a.fps);
    settings.format = export::ExportFormat::from_path(&a.out);
    let transparent = settings.format == export::ExportFormat::PngSequence;
    let requests = orbit_requests(&cloud, a.frames, width, height, transparent);
    let splats = GaussianSplats::new(GaussianScene::from_cloud(&cloud));
    let stats = splats.stats.clone();
    let mut renderer = OffscreenRenderer::gaussians(splats, requests[0].clone(), width, height)?;
    let stills: Vec<(usize, PathBuf)> = a.still.iter().map(|p| (0, p.clone())).collect();
    let rep = export::export_requests(&mut renderer, &requests, &settings, &a.out, &stills, start)
        .with_context(|| format!("rendering {}", a.out.display()))?;
    println!(
        "{} Gaussians, {} on screen; {} frames {}x{} ({:.2} frames/s): {}",
        cloud.len(),
        stats.drawn.load(std::sync::atomic::Ordering::Relaxed),
        rep.frames,
        rep.width,
        rep.height,
        rep.render_fps,
        a.out.display()
    );
    Ok(())
}
