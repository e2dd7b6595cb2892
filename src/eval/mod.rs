//! Evaluation against the exam: render what each held-out camera would see (through its full
//! calibration, lens included) and compare with the frame it really recorded, over the whole
//! frame and over the athlete (the true mask's box, grown by 8 pixels). Also: each camera's
//! sync error against the truth, and the "nearest real camera" baseline (what a system that
//! switches to the closest real camera would show instead of the held-out view).

pub mod metrics;
pub mod venue;

use crate::capture::{Capture, CaptureError};
use crate::media::{MediaError, VideoReader};
use crate::reconstruct::{ReconError, Reconstruction};
use crate::render::distortion::LensRemap;
use crate::render::{FrameRequest, OffscreenRenderer, RenderError, SceneError, load_scene};
use crate::synth::truth::{Truth, TruthError};
use image::RgbImage;
use metrics::{Rect, TemporalSums, psnr, ssim, temporal};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Recon(#[from] ReconError),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("evaluation needs the capture's ground truth (truth/truth.json): {0}")]
    Truth(#[from] TruthError),
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(
        "the reconstruction held out no cameras, so there is nothing to evaluate on; reconstruct with --hold-out"
    )]
    NothingHeldOut,
    #[error("could not write an evaluation picture ({reason}): {}", path.display())]
    Images {
        reason: String,
        path: std::path::PathBuf,
    },
    #[error("held-out camera {0} is not in the capture's ground truth")]
    NoTruthFor(String),
}

#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Frames evaluated per held-out camera (spread over the reconstruction, apex included).
    pub frames_per_camera: usize,
    /// Score only these held-out cameras (default: every camera the reconstruction held out).
    /// A reconstruction from a subset of the rig holds out the cameras it dropped as well; the
    /// exam stays the capture's own held-out cameras.
    pub cameras: Option<Vec<String>>,
    /// Write each scored frame here as `CAMERA_FRAME_{render,real,error}.png` (the error picture
    /// is the per-pixel colour difference, amplified four times), to see where the score is lost.
    pub images: Option<std::path::PathBuf>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            frames_per_camera: 6,
            cameras: None,
            images: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CameraScore {
    pub camera: String,
    pub frames: usize,
    pub psnr_db: f64,
    pub psnr_athlete_db: f64,
    pub ssim: f64,
    pub ssim_athlete: f64,
    pub nearest_camera: String,
    pub baseline_nearest_camera_psnr_db: f64,
    /// See [`EvalReport::temporal_error_athlete`].
    pub temporal_error_athlete: f64,
    /// See [`EvalReport::temporal_change_athlete`].
    pub temporal_change_athlete: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub psnr_db: f64,
    pub psnr_athlete_db: f64,
    pub ssim: f64,
    pub ssim_athlete: f64,
    pub baseline_nearest_camera_psnr_db: f64,
    /// Temporal stability over the athlete (the true masks' boxes of a scored frame and the
    /// next, grown by 8 pixels): the RMS, in 8-bit levels, of the render's change from one
    /// frame to the next less the real footage's change. A render that flickers, or that lags
    /// or stutters against the footage, raises it; so does an error that moves with the
    /// athlete (it follows the athlete's PSNR too), and the footage's own noise sets its floor.
    pub temporal_error_athlete: f64,
    /// The render's change from frame to frame over the real footage's (RMS over RMS, same
    /// boxes): about 1 when the athlete changes as it does on the footage, above 1 where the
    /// render flickers, below where it holds still (or is smoother than the noisy footage).
    pub temporal_change_athlete: f64,
    pub per_camera: Vec<CameraScore>,
    pub sync_error_frames_max: f64,
    pub sync_error_frames: BTreeMap<String, f64>,
    /// Mean intersection-over-union of the segmentation's mattes with the true masks, over a
    /// few frames of every camera the reconstruction used (each matted with that camera's
    /// stored background plate, inside the true mask's box grown by 40% + 32 pixels).
    pub matte_iou: f64,
    pub evaluated_frames: usize,
    /// The venue model against the synthetic venue's truth (see [`venue::score`]); `None`
    /// when the reconstruction has no venue model.
    pub venue: Option<venue::VenueScore>,
}

/// Where a splat cloud covers a camera's image (each splat a disc of its radius), as a mask.
pub fn splat_silhouette(
    frame: &crate::reconstruct::SplatFrame,
    camera: &crate::camera::Camera,
) -> image::GrayImage {
    let (w, h) = camera.intrinsics.width_height();
    let mut mask = image::GrayImage::new(w, h);
    let f = 0.5 * (camera.intrinsics.fx + camera.intrinsics.fy);
    for (p, r) in frame.positions.iter().zip(&frame.radii) {
        let q = nalgebra::Point3::new(p[0] as f64, p[1] as f64, p[2] as f64);
        let Some((px, d)) = camera.project_with_depth(&q) else {
            continue;
        };
        let rp = (*r as f64 * f / d).max(0.5);
        let (x0, x1) = (
            (px.x - rp).floor().max(0.0) as i64,
            (px.x + rp).ceil() as i64,
        );
        let (y0, y1) = (
            (px.y - rp).floor().max(0.0) as i64,
            (px.y + rp).ceil() as i64,
        );
        for y in y0..=y1.min(h as i64 - 1) {
            for x in x0..=x1.min(w as i64 - 1) {
                let (dx, dy) = (x as f64 - px.x, y as f64 - px.y);
                if dx * dx + dy * dy <= rp * rp {
                    mask.put_pixel(x as u32, y as u32, image::Luma([255]));
                }
            }
        }
    }
    mask
}

/// Decodes the listed frames of a video.
pub fn decode_frames(
    path: &Path,
    wanted: &BTreeSet<u64>,
) -> Result<BTreeMap<u64, RgbImage>, MediaError> {
    let mut out = BTreeMap::new();
    let Some(&last) = wanted.iter().next_back() else {
        return Ok(out);
    };
    let mut reader = VideoReader::open(path, 0)?;
    while let Some(f) = reader.next_frame()? {
        if wanted.contains(&f.index) {
            out.insert(f.index, f.image);
        }
        if f.index >= last {
            break;
        }
    }
    Ok(out)
}

fn mean(v: &[f64]) -> f64 {
    let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    }
}

/// The rendered and the real frame, and their difference amplified four times, as PNGs.
fn write_images(
    dir: &Path,
    camera: &str,
    frame: u64,
    rendered: &RgbImage,
    real: &RgbImage,
) -> Result<(), EvalError> {
    let error = RgbImage::from_fn(real.width(), real.height(), |x, y| {
        let (a, b) = (rendered.get_pixel(x, y), real.get_pixel(x, y));
        image::Rgb(std::array::from_fn(|c| {
            (4 * (i32::from(a[c]) - i32::from(b[c])).unsigned_abs()).min(255) as u8
        }))
    });
    std::fs::create_dir_all(dir).map_err(|e| EvalError::Images {
        reason: e.to_string(),
        path: dir.into(),
    })?;
    for (what, img) in [("render", rendered), ("real", real), ("error", &error)] {
        let path = dir.join(format!("{camera}_{frame:05}_{what}.png"));
        crate::util::images::save_png_rgb(img, &path).map_err(|e| EvalError::Images {
            reason: e.to_string(),
            path: path.clone(),
        })?;
    }
    Ok(())
}

/// The true mask's bounding box grown by `margin`, or `None` if the mask is empty.
fn mask_box(mask: &image::GrayImage, margin: u32) -> Option<Rect> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in mask.enumerate_pixels() {
        if p.0[0] > 127 {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    (x0 != u32::MAX).then(|| Rect {
        x0: x0.saturating_sub(margin),
        y0: y0.saturating_sub(margin),
        x1: (x1 + 1 + margin).min(mask.width()),
        y1: (y1 + 1 + margin).min(mask.height()),
    })
}

/// Segmentation quality against the true masks (see [`EvalReport::matte_iou`]).
fn matte_iou(
    recon: &Reconstruction,
    capture: &Capture,
    per_camera: usize,
) -> Result<f64, EvalError> {
    use rayon::prelude::*;
    let results: Vec<Result<Vec<f64>, EvalError>> = recon
        .manifest
        .backgrounds
        .par_iter()
        .map(|bg| {
            let Some(cam) = capture.camera(&bg.camera) else {
                return Ok(Vec::new());
            };
            let Ok(plate) = image::open(recon.dir.join(&bg.file)).map(|i| i.to_rgb8()) else {
                return Ok(Vec::new());
            };
            let model = crate::segment::BackgroundModel {
                image: plate,
                sigma: 2.0,
            };
            let n = cam.frame_count.unwrap_or(0);
            if n == 0 {
                return Ok(Vec::new());
            }
            let k = per_camera as u64;
            let wanted: BTreeSet<u64> = (0..k).map(|i| (n - 1) * (2 * i + 1) / (2 * k)).collect();
            let frames = decode_frames(&cam.video, &wanted)?;
            let mut out = Vec::new();
            for (k, img) in &frames {
                let Ok(truth) =
                    image::open(Truth::mask_path(&capture.dir, &cam.id, *k)).map(|m| m.to_luma8())
                else {
                    continue;
                };
                let Some(b) = mask_box(&truth, 0) else {
                    continue;
                };
                let grow = |a: u32, b: u32| ((b - a) as f64 * 0.4) as u32 + 32;
                let (gx, gy) = (grow(b.x0, b.x1), grow(b.y0, b.y1));
                let roi = crate::segment::Roi {
                    x0: b.x0.saturating_sub(gx),
                    y0: b.y0.saturating_sub(gy),
                    x1: (b.x1 + gx).min(img.width()),
                    y1: (b.y1 + gy).min(img.height()),
                };
                let sil = crate::segment::Silhouette::extract(img, &model, roi);
                let got = sil.matte.to_gray(img.width(), img.height());
                // For looking at the mattes: REPLAY360_DUMP_MATTES=DIR writes them with the truth.
                if let Some(dir) = std::env::var_os("REPLAY360_DUMP_MATTES") {
                    let dir = std::path::PathBuf::from(dir);
                    let _ = got.save(dir.join(format!("{}-{k}-matte.png", cam.id)));
                    let _ = truth.save(dir.join(format!("{}-{k}-truth.png", cam.id)));
                    let _ = img.save(dir.join(format!("{}-{k}-frame.png", cam.id)));
                }
                if let Some(iou) = crate::segment::iou(&got, &truth) {
                    out.push(iou);
                }
            }
            Ok(out)
        })
        .collect();
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    Ok(mean(&all))
}

pub fn evaluate(
    recon_dir: &Path,
    capture_path: &Path,
    opts: &EvalOptions,
) -> Result<EvalReport, EvalError> {
    let recon = Reconstruction::open(recon_dir)?;
    let capture = Capture::open(capture_path)?;
    let truth = Truth::load(&capture.dir)?;
    // Sync errors of the cameras the reconstruction used.
    let mut sync_err = BTreeMap::new();
    for s in &recon.manifest.sync {
        if let Some(t) = truth.camera(&s.camera) {
            sync_err.insert(s.camera.clone(), ((s.offset_s - t.offset_s) * s.fps).abs());
        }
    }
    let held: Vec<String> = match &opts.cameras {
        Some(only) => recon
            .manifest
            .held_out
            .iter()
            .filter(|c| only.contains(c))
            .cloned()
            .collect(),
        None => recon.manifest.held_out.clone(),
    };
    if held.is_empty() {
        return Err(EvalError::NothingHeldOut);
    }
    let (t0, t1) = recon.time_range();
    let apex = recon
        .manifest
        .analysis
        .as_ref()
        .map(|a| a.apex_time)
        .unwrap_or(0.5 * (t0 + t1));
    let scene_centre = {
        let f = &recon.manifest.frames;
        let c = f.iter().fold(nalgebra::Vector3::zeros(), |a, e| {
            a + nalgebra::Vector3::from(e.centroid)
        });
        nalgebra::Point3::from(c / f.len().max(1) as f64)
    };
    let mut per_camera = Vec::new();
    let mut renderer: Option<OffscreenRenderer> = None;
    let mut total_frames = 0;
    for id in &held {
        let Some(cam) = capture.camera(id) else {
            continue;
        };
        let ct = truth
            .camera(id)
            .ok_or_else(|| EvalError::NoTruthFor(id.clone()))?;
        // Frames of this camera inside the reconstructed time range.
        let first = ((t0 - ct.offset_s) * ct.fps).ceil().max(0.0) as u64;
        let last = (((t1 - ct.offset_s) * ct.fps).floor() as i64).min(ct.frames as i64 - 1);
        if last < first as i64 {
            continue;
        }
        let last = last as u64;
        let n = opts.frames_per_camera.max(1) as u64;
        let mut wanted: BTreeSet<u64> = (0..n)
            .map(|i| first + (last - first) * i / (n - 1).max(1))
            .collect();
        let apex_frame = ((apex - ct.offset_s) * ct.fps)
            .round()
            .clamp(first as f64, last as f64) as u64;
        wanted.insert(apex_frame);
        // Each scored frame's successor too, for the temporal figures (a frame and the next).
        let next: BTreeSet<u64> = wanted
            .iter()
            .map(|&k| k + 1)
            .filter(|&k| k <= last)
            .collect();
        let shown: BTreeSet<u64> = wanted.union(&next).copied().collect();
        let real = decode_frames(&cam.video, &shown)?;
        // The nearest real camera (by viewing direction onto the scene), for the baseline.
        let dir = (cam.camera.centre() - scene_centre).normalize();
        let nearest = recon
            .manifest
            .sync
            .iter()
            .filter_map(|s| capture.camera(&s.camera).map(|c| (s, c)))
            .max_by(|a, b| {
                let da = (a.1.camera.centre() - scene_centre).normalize().dot(&dir);
                let db = (b.1.camera.centre() - scene_centre).normalize().dot(&dir);
                da.total_cmp(&db)
            });
        let mut nearest_frames = BTreeMap::new();
        let mut nearest_id = String::new();
        if let Some((s, c)) = nearest {
            nearest_id = c.id.clone();
            let idx: BTreeMap<u64, u64> = wanted
                .iter()
                .map(|&k| {
                    let t = ct.offset_s + k as f64 / ct.fps;
                    (k, ((t - s.offset_s) * s.fps).round().max(0.0) as u64)
                })
                .collect();
            let frames = decode_frames(&c.video, &idx.values().copied().collect())?;
            for (k, j) in idx {
                if let Some(img) = frames.get(&j)
                    && img.dimensions() == cam.camera.intrinsics.width_height()
                {
                    nearest_frames.insert(k, img.clone());
                }
            }
        }
        // Render the held-out views.
        let remap = LensRemap::new(&cam.camera);
        let (w, h) = cam.camera.intrinsics.width_height();
        let requests: Vec<(u64, FrameRequest)> = shown
            .iter()
            .map(|&k| {
                (
                    k,
                    FrameRequest {
                        camera: remap.pinhole.clone(),
                        time: ct.offset_s + k as f64 / ct.fps,
                        show_athlete: true,
                        ghosts: Vec::new(),
                        trajectory: None,
                        show_venue: true,
                        venue_softness: 0.0,
                        shadow: None,
                        show_rig: false,
                        transparent: false,
                        overlay: Default::default(),
                    },
                )
            })
            .collect();
        if renderer.as_ref().is_none_or(|r| r.size() != (w, h)) {
            renderer = Some(OffscreenRenderer::new(
                load_scene(recon_dir)?,
                requests[0].1.clone(),
                w,
                h,
            )?);
        }
        let Some(r) = renderer.as_mut() else {
            continue;
        };
        let mut rendered = BTreeMap::new();
        r.render(
            &requests.iter().map(|(_, q)| q.clone()).collect::<Vec<_>>(),
            |i, img| {
                rendered.insert(requests[i].0, remap.apply(&img));
                Ok(())
            },
        )?;
        // The true masks' boxes, grown by 8 pixels, of the frames rendered.
        let boxes: BTreeMap<u64, Rect> = shown
            .iter()
            .filter_map(|&k| {
                let mask = image::open(Truth::mask_path(&capture.dir, id, k)).ok()?;
                Some((k, mask_box(&mask.to_luma8(), 8)?))
            })
            .collect();
        let (mut p, mut pa, mut s, mut sa, mut base) = (vec![], vec![], vec![], vec![], vec![]);
        let mut change = TemporalSums::default();
        for (k, img) in rendered.iter().filter(|(k, _)| wanted.contains(k)) {
            let Some(truth_img) = real.get(k) else {
                continue;
            };
            // The athlete's change to the next frame, over both frames' boxes.
            if let (Some(img1), Some(truth1), Some(b0), Some(b1)) = (
                rendered.get(&(k + 1)),
                real.get(&(k + 1)),
                boxes.get(k),
                boxes.get(&(k + 1)),
            ) {
                change += temporal(img, img1, truth_img, truth1, b0.union(b1));
            }
            let full = Rect::full(truth_img);
            p.push(psnr(img, truth_img, full));
            s.push(ssim(img, truth_img, full));
            if let Some(&r) = boxes.get(k) {
                pa.push(psnr(img, truth_img, r));
                sa.push(ssim(img, truth_img, r));
            }
            if let Some(nb) = nearest_frames.get(k) {
                base.push(psnr(nb, truth_img, full));
            }
            if let Some(dir) = &opts.images {
                write_images(dir, id, *k, img, truth_img)?;
            }
        }
        total_frames += p.len();
        per_camera.push(CameraScore {
            camera: id.clone(),
            frames: p.len(),
            psnr_db: mean(&p),
            psnr_athlete_db: mean(&pa),
            ssim: mean(&s),
            ssim_athlete: mean(&sa),
            nearest_camera: nearest_id,
            baseline_nearest_camera_psnr_db: mean(&base),
            temporal_error_athlete: change.rms_error(),
            temporal_change_athlete: change.change_ratio(),
        });
    }
    let matte_iou = matte_iou(&recon, &capture, opts.frames_per_camera.clamp(1, 4))?;
    let col = |f: fn(&CameraScore) -> f64| mean(&per_camera.iter().map(f).collect::<Vec<_>>());
    Ok(EvalReport {
        psnr_db: col(|c| c.psnr_db),
        psnr_athlete_db: col(|c| c.psnr_athlete_db),
        ssim: col(|c| c.ssim),
        ssim_athlete: col(|c| c.ssim_athlete),
        baseline_nearest_camera_psnr_db: col(|c| c.baseline_nearest_camera_psnr_db),
        temporal_error_athlete: col(|c| c.temporal_error_athlete),
        temporal_change_athlete: col(|c| c.temporal_change_athlete),
        sync_error_frames_max: sync_err.values().copied().fold(0.0, f64::max),
        sync_error_frames: sync_err,
        matte_iou,
        per_camera,
        evaluated_frames: total_frames,
        venue: recon
            .manifest
            .venue
            .as_ref()
            .map(|m| venue::score(m, &truth.venue)),
    })
}
