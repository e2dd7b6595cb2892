//! `import`, `inspect`.

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use replay360::capture::{Capture, inspect};
use replay360::formats::{self, Units};
use std::path::PathBuf;

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// One folder per camera: an OpenCV FileStorage calibration (XML or YAML), a video,
    /// optionally `background.*` (e.g. the Utrecht 4-camera set). Needs --units.
    Opencv,
    /// A Middlebury multi-view stereo `*_par.txt` with its images.
    Middlebury,
    /// A COLMAP model, text (cameras.txt, images.txt) or binary (cameras.bin, images.bin): the
    /// model folder or the project above sparse/0; each image becomes a single-image camera. Images from --images, else
    /// images/ beside the model or up to two folders up. Scale: --units, else metres.
    Colmap,
    /// A nerfstudio / instant-ngp transforms.json (the file or its folder); each frame becomes
    /// a single-image camera, segmented by alpha when the images have it. Scale: --units, else
    /// metres; the up axis varies by dataset (--up).
    Nerfstudio,
    /// A CMU Panoptic calibration_*.json with hdVideos/ (or vgaVideos/, kinectVideos/) beside
    /// it; translations in centimetres unless --units says otherwise; the dome's up is -y.
    Panoptic,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanopticType {
    /// The 31 HD cameras (1920x1080), frame-locked.
    Hd,
    /// The 480 VGA cameras (640x480), frame-locked.
    Vga,
    /// The 10 Kinects' colour cameras (not frame-locked).
    Kinect,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    pub format: Format,
    /// The rig folder (opencv), the `_par.txt` file (middlebury), the model folder (colmap),
    /// transforms.json or its folder (nerfstudio), or calibration_*.json (panoptic).
    pub source: PathBuf,
    /// Output capture directory (the manifest refers to the media where they are).
    #[arg(long)]
    pub out: PathBuf,
    /// Unit of the calibration's translations: m, cm or mm (required for OpenCV files, which
    /// do not say; colmap and nerfstudio default to m with a warning; panoptic to cm).
    #[arg(long)]
    pub units: Option<String>,
    /// Which axis of the source's world points up (+z, -z, +y, -y, +x, -x); replay360's world
    /// is Z up.
    #[arg(long, default_value = "+z", allow_hyphen_values = true)]
    pub up: String,
    /// Middlebury: luma (0..1) above which a pixel is the object.
    #[arg(long, default_value_t = 0.19)]
    pub threshold: f64,
    /// COLMAP: the folder the image names in the model are relative to.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Panoptic: which cameras to import.
    #[arg(long, value_enum, default_value = "hd")]
    pub camera_type: PanopticType,
}

pub fn import(a: ImportArgs) -> anyhow::Result<()> {
    super::ensure_exists(&a.source, "the source")?;
    let units = a
        .units
        .as_deref()
        .map(|u| Units::parse(u).ok_or_else(|| anyhow::anyhow!("unknown unit {u:?} (m, cm or mm)")))
        .transpose()?;
    let imported = match a.format {
        Format::Opencv => {
            let units = units.ok_or_else(|| {
                anyhow::anyhow!(
                    "OpenCV calibrations do not state their unit; pass --units m, cm or mm"
                )
            })?;
            formats::opencv::import_dir(&a.source, units)?
        }
        Format::Middlebury => formats::middlebury::import(&a.source, a.threshold)?,
        Format::Colmap => formats::colmap::import(
            &a.source,
            &formats::colmap::Options {
                images: a.images.clone(),
                units,
            },
        )?,
        Format::Nerfstudio => formats::nerfstudio::import(&a.source, units)?,
        Format::Panoptic => formats::panoptic::import(
            &a.source,
            &formats::panoptic::Options {
                camera_type: match a.camera_type {
                    PanopticType::Hd => "hd",
                    PanopticType::Vga => "vga",
                    PanopticType::Kinect => "kinect",
                }
                .to_owned(),
                units: units.unwrap_or(Units::Centimetres),
            },
        )?,
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
