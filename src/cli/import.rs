//! `import`, `inspect`.

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use replay360::capture::{Capture, inspect};
use replay360::formats::{self, Units};
use std::path::PathBuf;

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// One folder per camera: an OpenCV FileStorage XML calibration, a video, optionally
    /// `background.*` (e.g. the Utrecht 4-camera set).
    Opencv,
    /// A Middlebury multi-view stereo `*_par.txt` with its images.
    Middlebury,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    pub format: Format,
    /// The rig folder (opencv) or the `_par.txt` file (middlebury).
    pub source: PathBuf,
    /// Output capture directory (the manifest refers to the media where they are).
    #[arg(long)]
    pub out: PathBuf,
    /// Unit of the calibration's translations: m, cm or mm (required for OpenCV files, which
    /// do not say).
    #[arg(long)]
    pub units: Option<String>,
    /// Which axis of the source's world points up (+z, -z, +y, -y, +x, -x); replay360's world
    /// is Z up.
    #[arg(long, default_value = "+z", allow_hyphen_values = true)]
    pub up: String,
    /// Middlebury: luma (0..1) above which a pixel is the object.
    #[arg(long, default_value_t = 0.19)]
    pub threshold: f64,
}

pub fn import(a: ImportArgs) -> anyhow::Result<()> {
    super::ensure_exists(&a.source, "the source")?;
    let imported = match a.format {
        Format::Opencv => {
            let units = a.units.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "OpenCV calibrations do not state their unit; pass --units m, cm or mm"
                )
            })?;
            let units = Units::parse(units)
                .ok_or_else(|| anyhow::anyhow!("unknown unit {units:?} (m, cm or mm)"))?;
            formats::opencv::import_dir(&a.source, units)?
        }
        Format::Middlebury => formats::middlebury::import(&a.source, a.threshold)?,
    };
    let mut imported = imported;
    imported.set_up_axis(&a.up).map_err(anyhow::Error::msg)?;
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    let name = a
        .source
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".to_owned());
    let path = formats::write_manifest(&imported, &name, &a.out)
        .with_context(|| format!("importing {}", a.source.display()))?;
    println!("{} cameras: {}", imported.cameras.len(), path.display());
    Ok(())
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Capture directory or manifest.
    pub capture: PathBuf,
    /// Where to draw the rig from above (default: rig.png beside the manifest).
    #[arg(long)]
    pub picture: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn inspect(a: InspectArgs) -> anyhow::Result<()> {
    super::ensure_exists(&a.capture, "the capture")?;
    let capture = Capture::open(&a.capture)?;
    let rows = inspect::summarise(&capture);
    let picture = a
        .picture
        .clone()
        .unwrap_or_else(|| capture.dir.join("rig.png"));
    replay360::util::images::save_png_rgb(&inspect::rig_picture(&capture, 800), &picture)
        .with_context(|| format!("writing {}", picture.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{} ({} cameras){}",
        capture.manifest.name,
        rows.len(),
        if capture.manifest.synchronized {
            ", synchronized"
        } else {
            ""
        }
    );
    println!(
        "{:<12} {:>11} {:>7} {:>7} {:>8} {:>8} {:>26} {:>9} {:>9}",
        "camera",
        "size",
        "fps",
        "frames",
        "length s",
        "hfov °",
        "centre (m)",
        "to focus",
        "|RᵀR-I|"
    );
    for r in &rows {
        println!(
            "{:<12} {:>11} {:>7.2} {:>7} {:>8} {:>8.1} {:>26} {:>9.2} {:>9.1e}{}",
            r.id,
            format!("{}x{}", r.width, r.height),
            r.fps,
            r.frames
                .map(|f| f.to_string())
                .unwrap_or_else(|| "?".into()),
            r.duration_s
                .map(|d| format!("{d:.2}"))
                .unwrap_or_else(|| "?".into()),
            r.horizontal_fov_deg,
            format!(
                "({:.2}, {:.2}, {:.2})",
                r.centre[0], r.centre[1], r.centre[2]
            ),
            r.distance_to_focus_m,
            r.rotation_error,
            if r.held_out { "  held out" } else { "" }
        );
    }
    println!(
        "reprojection error: not available (the capture carries no calibration target observations)"
    );
    println!("rig picture: {}", picture.display());
    Ok(())
}
