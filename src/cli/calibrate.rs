//! `calibrate`: camera extrinsics from checkerboard clips.

use anyhow::Context as _;
use clap::Args;
use replay360::calibrate::{self, Board};
use replay360::formats::opencv::{self, FileStorage};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Camera folders, each with a checkerboard clip and the camera's intrinsics (the layout
    /// `import opencv` reads).
    #[arg(required = true)]
    pub cameras: Vec<PathBuf>,
    /// Inner corners of the board, COLSxROWS (e.g. 8x6).
    #[arg(long)]
    pub board: Option<String>,
    /// Edge of one square in millimetres.
    #[arg(long)]
    pub square_mm: Option<f64>,
    /// An OpenCV FileStorage file with CheckerBoardWidth, CheckerBoardHeight and
    /// CheckerBoardSquareSize (mm), instead of --board and --square-mm.
    #[arg(long)]
    pub board_file: Option<PathBuf>,
    /// The clip's file name in each folder (default: the first `checkerboard.*`).
    #[arg(long)]
    pub clip: Option<String>,
    /// The intrinsics file in each folder (default: `intrinsics.xml`, else `config.xml`; with
    /// neither, the focal length is found from the board: square pixels, principal point at
    /// the centre, no lens distortion).
    #[arg(long)]
    pub intrinsics: Option<String>,
    /// Written into each folder: CameraMatrix, DistortionCoeffs, Rotation (Rodrigues,
    /// world to camera) and Translation (mm), readable by `import opencv`.
    #[arg(long, default_value = "extrinsics.xml")]
    pub out_name: String,
    /// Camera folders (by name) whose board labelling to turn by half a turn. A board with an
    /// odd number of squares each way looks the same turned round, so each camera labels it
    /// from its own view; cameras on opposite sides can disagree, which the rig picture
    /// (`replay360 inspect`) shows as cameras bunched on one side.
    #[arg(long, value_delimiter = ',')]
    pub turn: Vec<String>,
    /// Frames averaged from each clip (the board must stay still).
    #[arg(long, default_value_t = 32)]
    pub frames: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn board_from_args(a: &CalibrateArgs) -> anyhow::Result<Board> {
    if let Some(f) = &a.board_file {
        let fs = FileStorage::load(f)?;
        let get = |n: &str| {
            fs.scalars
                .get(&n.to_ascii_lowercase())
                .copied()
                .ok_or_else(|| anyhow::anyhow!("no {n} in the board file: {}", f.display()))
        };
        let (w, h, s) = (
            get("CheckerBoardWidth")?,
            get("CheckerBoardHeight")?,
            get("CheckerBoardSquareSize")?,
        );
        if w < 2.0 || h < 2.0 || s <= 0.0 || w.fract() != 0.0 || h.fract() != 0.0 {
            anyhow::bail!(
                "the board must have at least 2x2 inner corners and a positive square size \
                 (got {w}x{h}, {s} mm): {}",
                f.display()
            );
        }
        return Ok(Board {
            cols: (w as usize).max(h as usize),
            rows: (w as usize).min(h as usize),
            square_m: s / 1000.0,
        });
    }
    let (Some(b), Some(s)) = (&a.board, a.square_mm) else {
        anyhow::bail!("say which board: --board COLSxROWS --square-mm MM, or --board-file FILE");
    };
    let (w, h) = b
        .split_once(['x', 'X'])
        .and_then(|(w, h)| {
            Some((
                w.trim().parse::<usize>().ok()?,
                h.trim().parse::<usize>().ok()?,
            ))
        })
        .filter(|&(w, h)| w >= 2 && h >= 2)
        .ok_or_else(|| {
            anyhow::anyhow!("--board wants inner corners as COLSxROWS, e.g. 8x6 (got {b:?})")
        })?;
    if !(s > 0.0 && s.is_finite()) {
        anyhow::bail!("--square-mm must be positive (got {s})");
    }
    Ok(Board {
        cols: w.max(h),
        rows: w.min(h),
        square_m: s / 1000.0,
    })
}

fn find_in(dir: &Path, named: Option<&str>, stems: &[&str]) -> Option<PathBuf> {
    if let Some(n) = named {
        return Some(dir.join(n));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    stems.iter().find_map(|stem| {
        entries
            .iter()
            .find(|p| p.file_stem().is_some_and(|s| s == *stem) && p.is_file())
            .cloned()
    })
}

fn xml(
    k: &replay360::camera::Intrinsics,
    pose: &replay360::camera::CameraFromWorld,
    rms: f64,
) -> String {
    let d = match k.distortion {
        replay360::camera::Distortion::RadialTangential { k1, k2, p1, p2, k3 } => {
            vec![k1, k2, p1, p2, k3]
        }
        replay360::camera::Distortion::Fisheye { k1, k2, k3, k4 } => vec![k1, k2, k3, k4],
        replay360::camera::Distortion::None => vec![0.0; 5],
    };
    let r = pose.rotation.scaled_axis();
    let t = pose.translation * 1000.0;
    let mut s = String::new();
    let _ = writeln!(s, "<?xml version=\"1.0\"?>\n<opencv_storage>");
    let _ = writeln!(
        s,
        "<!-- replay360 calibrate: world = the checkerboard (origin at an inner corner, Z away \
         from the camera); Translation in millimetres; reprojection RMS {rms:.3} px -->"
    );
    let mat = |name: &str, rows: usize, cols: usize, v: &[f64]| {
        let data: Vec<String> = v.iter().map(|x| format!("{x:.17e}")).collect();
        format!(
            "<{name} type_id=\"opencv-matrix\">\n  <rows>{rows}</rows>\n  <cols>{cols}</cols>\n  <dt>d</dt>\n  <data>\n    {}</data></{name}>\n",
            data.join(" ")
        )
    };
    s += &mat(
        "CameraMatrix",
        3,
        3,
        &[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0],
    );
    if matches!(k.distortion, replay360::camera::Distortion::Fisheye { .. }) {
        s += "<fisheye_model>1</fisheye_model>\n";
    }
    s += &mat("DistortionCoeffs", 1, d.len(), &d);
    s += &mat("Rotation", 3, 1, &[r.x, r.y, r.z]);
    s += &mat("Translation", 3, 1, &[t.x, t.y, t.z]);
    s += "</opencv_storage>\n";
    s
}

/// Pixels far from square or a principal point far from the centre usually mean intrinsics
/// calibrated at another resolution; the pose then comes out wrong in scale.
fn warn_if_foreign(k: &replay360::camera::Intrinsics, path: &Path) {
    let (off_x, off_y) = (
        (k.cx / k.width as f64 - 0.5).abs(),
        (k.cy / k.height as f64 - 0.5).abs(),
    );
    if (k.fx / k.fy - 1.0).abs() > 0.1 || off_x > 0.1 || off_y > 0.1 {
        eprintln!(
            "warning: the intrinsics look like another resolution's (fx/fy {:.2}, principal \
             point ({:.0}, {:.0}) in a {}x{} picture); the poses will be off in scale: {}",
            k.fx / k.fy,
            k.cx,
            k.cy,
            k.width,
            k.height,
            path.display()
        );
    }
}

pub fn calibrate(a: CalibrateArgs) -> anyhow::Result<()> {
    let board = board_from_args(&a)?;
    let names: Vec<String> = a
        .cameras
        .iter()
        .map(|d| {
            d.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    if let Some(t) = a.turn.iter().find(|t| !names.contains(t)) {
        anyhow::bail!(
            "--turn {t}: no camera folder of that name (the folders are {})",
            names.join(", ")
        );
    }
    let mut rows = Vec::new();
    for dir in &a.cameras {
        super::ensure_exists(dir, "the camera folder")?;
        let clip = find_in(dir, a.clip.as_deref(), &["checkerboard"]).ok_or_else(|| {
            anyhow::anyhow!(
                "no checkerboard clip (checkerboard.*; or --clip NAME) in {}",
                dir.display()
            )
        })?;
        let (img, frames) = calibrate::average_frames(&clip, a.frames)?;
        let (w, h) = (img.width as u32, img.height as u32);
        // A named intrinsics file must exist; without one, the focal length is found from
        // the board.
        let kpath = match &a.intrinsics {
            Some(n) => {
                let p = dir.join(n);
                super::ensure_exists(&p, "the intrinsics file")?;
                Some(p)
            }
            None => find_in(dir, None, &["intrinsics", "config"]),
        };
        let (k, focal) = match &kpath {
            Some(kpath) => {
                let fs = FileStorage::load(kpath)?;
                let k = opencv::intrinsics(&fs, kpath, w, h)?;
                warn_if_foreign(&k, kpath);
                (k, calibrate::Focal::Known)
            }
            None => {
                eprintln!(
                    "warning: no intrinsics (intrinsics.xml or config.xml; or --intrinsics NAME): \
                     finding the focal length from the board, with square pixels, the principal \
                     point at the centre and no lens distortion: {}",
                    dir.display()
                );
                (
                    replay360::camera::Intrinsics {
                        width: w,
                        height: h,
                        // A first guess (a 60° horizontal field of view); the fit moves it.
                        fx: 0.87 * w as f64,
                        fy: 0.87 * w as f64,
                        cx: (w as f64 - 1.0) / 2.0,
                        cy: (h as f64 - 1.0) / 2.0,
                        distortion: replay360::camera::Distortion::None,
                    },
                    calibrate::Focal::Free,
                )
            }
        };
        let mut found = calibrate::from_average(&img, frames, &clip, &k, &board, focal)?;
        let k = found.intrinsics;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if a.turn.contains(&name) {
            found.pose = calibrate::half_turn(&found.pose, &board);
            found.corners.reverse();
        }
        let out = dir.join(&a.out_name);
        replay360::util::write_atomic(&out, xml(&k, &found.pose, found.rms_px).as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
        let c = found.pose.centre();
        let axis = found.pose.inverse().rotation * nalgebra::Vector3::z();
        rows.push(serde_json::json!({
            "camera": name,
            "turned": a.turn.contains(&name),
            "clip": clip,
            "corners": found.corners.len(),
            "corners_measured": found.measured,
            "frames_averaged": found.frames,
            "blur_px": [found.blur_px.0, found.blur_px.1],
            "board_misfit": found.misfit,
            "focal_px": k.fx,
            "focal_estimated": focal == calibrate::Focal::Free,
            "reprojection_rms_px": found.rms_px,
            "reprojection_max_px": found.max_px,
            "centre_m": [c.x, c.y, c.z],
            "height_above_board_m": -c.z,
            "tilt_below_horizon_deg": axis.z.clamp(-1.0, 1.0).asin().to_degrees(),
            "written": out,
        }));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "board: {}x{} inner corners, {:.1} mm squares; world = the board, Z away from the cameras",
            board.cols,
            board.rows,
            board.square_m * 1000.0
        );
        println!(
            "{:<10} {:>8} {:>9} {:>9} {:>11} {:>7} {:>24} {:>8}",
            "camera", "measured", "rms px", "max px", "blur px", "misfit", "centre (m)", "height"
        );
        for r in &rows {
            let c = &r["centre_m"];
            let blur = &r["blur_px"];
            println!(
                "{:<10} {:>8} {:>9.3} {:>9.3} {:>11} {:>7.3} {:>24} {:>7.3}m",
                r["camera"].as_str().unwrap_or(""),
                format!("{}/{}", r["corners_measured"], r["corners"]),
                r["reprojection_rms_px"].as_f64().unwrap_or(f64::NAN),
                r["reprojection_max_px"].as_f64().unwrap_or(f64::NAN),
                format!(
                    "{:.2}x{:.2}",
                    blur[0].as_f64().unwrap_or(f64::NAN),
                    blur[1].as_f64().unwrap_or(f64::NAN)
                ),
                r["board_misfit"].as_f64().unwrap_or(f64::NAN),
                format!(
                    "({:.3}, {:.3}, {:.3})",
                    c[0].as_f64().unwrap_or(f64::NAN),
                    c[1].as_f64().unwrap_or(f64::NAN),
                    c[2].as_f64().unwrap_or(f64::NAN)
                ),
                r["height_above_board_m"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    Ok(())
}
