//! Runs the stages for `replay360 reconstruct`:
//! 1. ingest, survey pass: thumbnails of every frame and background samples per camera;
//! 2. sync, coarse: athlete tracks from the thumbnails, offsets from epipolar consistency;
//! 3. segment: background models, then a second decoding pass that keeps, per frame, the
//!    athlete's matte and pixels in a tight region (a few kilobytes, not the frame);
//! 4. sync, fine: the same estimator on full-resolution silhouette centroids;
//! 5. reconstruct each instant from the stored silhouettes, motion-compensated to the instant;
//! 6. analyse the centre-of-mass track.
//!
//! Each file is decoded twice; no more than one frame per camera is in memory at a time.

use crate::analyse;
use crate::capture::{Capture, CaptureCamera, CaptureError, Segmentation};
use crate::ingest::{self, IngestError};
use crate::media::VideoReader;
use crate::reconstruct::format::{
    BackgroundEntry, FrameEntry, RECON_FORMAT, RECON_VERSION, ReconError, ReconManifest, SyncEntry,
    write_ply,
};
use crate::reconstruct::venue::{AxisMap, Plate, VenueModel, bake_dome, bake_ground};
use crate::reconstruct::{View, hull::CarveParams, reconstruct_instant};
use crate::segment::{self, BackgroundModel, Roi, Silhouette};
use crate::sync::{self, Track};
use crate::util::{AtomicDir, Interrupted, check_interrupt};
use nalgebra::{Matrix3, Point3, Vector3};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Recon(#[from] ReconError),
    #[error("cannot write the reconstruction ({source}): {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no instant is covered by enough cameras to reconstruct (need {need} of {have})")]
    NoCoverage { need: usize, have: usize },
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

#[derive(Debug, Clone)]
pub struct ReconstructOptions {
    /// Cameras never to read; `None` uses the manifest's `held_out` flags.
    pub hold_out: Option<Vec<String>>,
    /// Leaf voxel size (m); `None` picks one from the cameras' resolution.
    pub voxel: Option<f64>,
    /// Largest camera offset searched by sync (s).
    pub sync_range: f64,
    /// Reconstruct every `stride`-th reference frame.
    pub stride: usize,
    /// Full frames per camera kept for the background model.
    pub background_samples: usize,
    /// Pixels of slack when carving against mattes (real calibrations are off by a pixel or
    /// so); `None`: 0 for synthetic captures, 1 otherwise.
    pub matte_slack: Option<u32>,
}

impl Default for ReconstructOptions {
    fn default() -> Self {
        Self {
            hold_out: None,
            voxel: None,
            sync_range: 1.0,
            stride: 1,
            background_samples: 21,
            matte_slack: None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ReconstructReport {
    pub frames: usize,
    pub splats_mean: f64,
    pub voxel_size: f64,
    pub timings: BTreeMap<String, f64>,
}

/// A camera after the segmentation pass: its silhouettes and CPU seconds decoding and matting.
type Segmented = (Vec<Silhouette>, f64, f64);

/// One camera's silhouettes over the whole clip and its estimated start offset.
struct CameraSilhouettes {
    fps: f64,
    offset: f64,
    frames: Vec<Silhouette>,
}

impl CameraSilhouettes {
    /// The silhouette nearest to common time `t` and the athlete's image motion from that frame
    /// to `t` (linear between the bracketing frames' centroids).
    fn at(&self, t: f64) -> Option<(&Silhouette, (f64, f64))> {
        let n = self.frames.len();
        let f = (t - self.offset) * self.fps;
        if n == 0 || f < -0.5 || f > n as f64 - 0.5 {
            return None;
        }
        let f = f.clamp(0.0, (n - 1) as f64);
        let k0 = f.floor() as usize;
        let frac = f - k0 as f64;
        let k1 = (k0 + 1).min(n - 1);
        let (s0, s1) = (&self.frames[k0], &self.frames[k1]);
        let d = match (s0.matte.centroid, s1.matte.centroid) {
            (Some(c0), Some(c1)) if k1 != k0 => (c1.0 - c0.0, c1.1 - c0.1),
            _ => (0.0, 0.0),
        };
        let (sil, shift) = if frac < 0.5 {
            (s0, (d.0 * frac, d.1 * frac))
        } else {
            (s1, (-d.0 * (1.0 - frac), -d.1 * (1.0 - frac)))
        };
        // A camera that lost the athlete must not carve it away.
        (sil.matte.area > 0).then_some((sil, shift))
    }

    /// Drops silhouettes that no instant at or after `t` can use.
    fn release_before(&mut self, t: f64) {
        let f = ((t - self.offset) * self.fps).floor() as i64 - 1;
        for k in 0..f.clamp(0, self.frames.len() as i64) as usize {
            if self.frames[k].colour.width() != 0 {
                self.frames[k] = Silhouette::empty();
            }
        }
    }

    fn track(&self, width: u32, height: u32) -> Track {
        Track {
            fps: self.fps,
            detections: self
                .frames
                .iter()
                .map(|s| {
                    let (cx, cy) = s.matte.centroid?;
                    let r = s.matte.roi;
                    Some(sync::Detection {
                        centroid: crate::camera::Pixel::new(cx, cy),
                        area: s.matte.area as f64,
                        bbox: [r.x0 as f64, r.y0 as f64, r.x1 as f64, r.y1 as f64],
                        clipped: r.x0 == 0 || r.y0 == 0 || r.x1 >= width || r.y1 >= height,
                    })
                })
                .collect(),
        }
    }
}

/// Region of interest around a thumbnail detection, in full-resolution pixels.
fn roi_around(d: &sync::Detection, width: u32, height: u32) -> Roi {
    let [x0, y0, x1, y1] = d.bbox;
    let margin = 0.35 * (x1 - x0).max(y1 - y0) + 16.0;
    let (w, h) = (width as f64, height as f64);
    Roi {
        x0: (x0 - margin).clamp(0.0, w) as u32,
        y0: (y0 - margin).clamp(0.0, h) as u32,
        x1: (x1 + margin).clamp(0.0, w) as u32,
        y1: (y1 + margin).clamp(0.0, h) as u32,
    }
}

/// The single full decoding pass over one camera: per frame, a thumbnail locates the athlete
/// against the background's thumbnail, then the full-resolution matte is made around it.
/// Returns the silhouettes and the CPU seconds spent decoding and segmenting.
fn segment_camera(
    cam: &CaptureCamera,
    background: &BackgroundModel,
    mode: Segmentation,
) -> Result<Segmented, PipelineError> {
    let mut reader = VideoReader::open(&cam.video, 1).map_err(IngestError::from)?;
    if mode == Segmentation::Alpha {
        reader.keep_alpha();
    }
    let (w, h) = (cam.camera.intrinsics.width, cam.camera.intrinsics.height);
    let scale = ingest::thumb_scale(w);
    let bg_thumb = ingest::thumbnail(&background.image, scale);
    // Box-filtering s x s pixels divides the noise by s.
    let thumb_threshold = (4.0 * background.sigma / scale as f32).max(9.0);
    let mut out = Vec::new();
    let (mut decode_s, mut segment_s) = (0.0, 0.0);
    loop {
        check_interrupt()?;
        let t0 = Instant::now();
        let Some(frame) = reader.next_frame().map_err(IngestError::from)? else {
            break;
        };
        decode_s += t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let sil = match mode {
            Segmentation::Threshold { threshold } => {
                Silhouette::extract_threshold(&frame.image, threshold)
            }
            Segmentation::Alpha => match &frame.alpha {
                Some(alpha) => Silhouette::extract_alpha(&frame.image, alpha),
                None => {
                    return Err(IngestError::NoAlpha {
                        camera: cam.id.clone(),
                        path: cam.video.clone(),
                    }
                    .into());
                }
            },
            Segmentation::Background => {
                let thumb = ingest::thumbnail(&frame.image, scale);
                match sync::detect(
                    &thumb,
                    bg_thumb.as_raw(),
                    thumb_threshold,
                    scale,
                    &segment::is_foreground,
                ) {
                    Some(d) => Silhouette::extract(&frame.image, background, roi_around(&d, w, h)),
                    None => Silhouette::empty(),
                }
            }
        };
        segment_s += t0.elapsed().as_secs_f64();
        out.push(sil);
    }
    if out.is_empty() {
        return Err(IngestError::Empty {
            camera: cam.id.clone(),
            path: cam.video.clone(),
        }
        .into());
    }
    Ok((out, decode_s, segment_s))
}

/// Point nearest to all the cameras' optical axes (where the rig looks).
fn rig_focus(cams: &[CaptureCamera]) -> Point3<f64> {
    let mut a = Matrix3::zeros();
    let mut b = Vector3::zeros();
    for c in cams {
        let d = c.camera.forward();
        let m = Matrix3::identity() - d * d.transpose();
        a += m;
        b += m * c.camera.centre().coords;
    }
    a.try_inverse()
        .map(|inv| Point3::from(inv * b))
        .unwrap_or_else(Point3::origin)
}

/// Reconstructs `capture` into the directory `out` (replaced atomically when complete).
pub fn reconstruct(
    capture_path: &Path,
    out: &Path,
    opts: &ReconstructOptions,
) -> Result<ReconstructReport, PipelineError> {
    let mut timings = BTreeMap::new();
    let total = Instant::now();
    let capture = Capture::open(capture_path)?;
    let cams = ingest::select_cameras(&capture, opts.hold_out.as_deref())?;
    if cams[0].id != capture.cameras[0].id {
        tracing::warn!(
            "the first camera {} is held out; times are relative to {} instead",
            capture.cameras[0].id,
            cams[0].id
        );
    }
    let held_out: Vec<String> = capture
        .cameras
        .iter()
        .filter(|c| !cams.iter().any(|u| u.id == c.id))
        .map(|c| c.id.clone())
        .collect();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PipelineError::Io {
            path: path.clone(),
            source,
        }
    };
    let dir = AtomicDir::new(out).map_err(io(out))?;
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("frames")).map_err(io(&root.join("frames")))?;
    std::fs::create_dir_all(root.join("backgrounds")).map_err(io(&root.join("backgrounds")))?;

    // Pass 1: each camera's background model, from the empty-scene file the manifest gives or
    // from frames spread over the clip (keyframes when there are enough: no full decode).
    let t_bg_pass = Instant::now();
    let progress = crate::util::progress::bar(cams.len() as u64, "background models");
    let modelled: Vec<Result<(BackgroundModel, f64, f64), PipelineError>> = cams
        .par_iter()
        .map(|c| {
            check_interrupt()?;
            let t0 = Instant::now();
            let samples = match &c.background {
                Some(path) => ingest::background_samples(path, opts.background_samples)?,
                None => ingest::sample_frames(c, opts.background_samples)?,
            };
            let t_decode = t0.elapsed().as_secs_f64();
            let t0 = Instant::now();
            let bg = BackgroundModel::from_samples(&samples);
            progress.inc(1);
            Ok((bg, t_decode, t0.elapsed().as_secs_f64()))
        })
        .collect();
    progress.finish_and_clear();
    let mut backgrounds = Vec::new();
    let (mut decode_cpu, mut model_cpu) = (0.0, 0.0);
    for r in modelled {
        let (b, d, m) = r?;
        backgrounds.push(b);
        decode_cpu += d;
        model_cpu += m;
    }
    // Wall time of the parallel pass, shared out by each stage's CPU time.
    let wall = t_bg_pass.elapsed().as_secs_f64();
    let share = decode_cpu / (decode_cpu + model_cpu).max(1e-9);
    let mut ingest_s = wall * share;
    let mut segment_s = wall * (1.0 - share);
    let mut sync_s = 0.0;

    // Background plates for the venue renderer.
    let t_bg = Instant::now();
    let mut bg_entries = Vec::new();
    for (c, b) in cams.iter().zip(&backgrounds) {
        let file = PathBuf::from("backgrounds").join(format!("{}.png", c.id));
        let path = root.join(&file);
        b.image
            .save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| PipelineError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
        bg_entries.push(BackgroundEntry {
            camera: c.id.clone(),
            file,
        });
    }
    segment_s += t_bg.elapsed().as_secs_f64();

    // Pass 2: every frame decoded once; the athlete found in a thumbnail, then matted at full
    // resolution around it and kept as a silhouette.
    let t_seg = Instant::now();
    let progress = crate::util::progress::bar(cams.len() as u64, "segmenting cameras");
    let segmented: Vec<Result<Segmented, PipelineError>> = cams
        .par_iter()
        .zip(&backgrounds)
        .map(|(c, b)| {
            let r = segment_camera(c, b, capture.manifest.segmentation);
            progress.inc(1);
            r
        })
        .collect();
    progress.finish_and_clear();
    let mut cameras: Vec<CameraSilhouettes> = Vec::with_capacity(cams.len());
    let (mut decode_cpu, mut segment_cpu) = (0.0, 0.0);
    for (i, r) in segmented.into_iter().enumerate() {
        let (frames, d, s) = r?;
        decode_cpu += d;
        segment_cpu += s;
        cameras.push(CameraSilhouettes {
            fps: cams[i].fps,
            offset: 0.0,
            frames,
        });
    }
    let seg_wall = t_seg.elapsed().as_secs_f64();
    let share = decode_cpu / (decode_cpu + segment_cpu).max(1e-9);
    ingest_s += seg_wall * share;
    segment_s += seg_wall * (1.0 - share);

    // Sync from full-resolution silhouette centroids; known offsets (genlocked rigs, or one
    // frame per camera) need no estimate.
    let t_sync = Instant::now();
    let cam_refs: Vec<&crate::camera::Camera> = cams.iter().map(|c| &c.camera).collect();
    let given_offsets =
        capture.manifest.synchronized || cameras.iter().all(|c| c.frames.len() <= 1);
    let tracks: Vec<Track> = cams
        .iter()
        .zip(&cameras)
        .map(|(c, s)| s.track(c.camera.intrinsics.width, c.camera.intrinsics.height))
        .collect();
    let sync_result = if given_offsets {
        sync::SyncResult {
            offsets: cams
                .iter()
                .map(|c| c.offset_s.unwrap_or(0.0) - cams[0].offset_s.unwrap_or(0.0))
                .collect(),
            residual_px: vec![0.0; cams.len()],
        }
    } else {
        sync::estimate_offsets(&cam_refs, &tracks, opts.sync_range)
    };
    for (i, c) in cameras.iter_mut().enumerate() {
        c.offset = sync_result.offsets[i];
        tracing::info!(
            "sync: {} starts at {:+.4} s (residual {:.2} px)",
            cams[i].id,
            c.offset,
            sync_result.residual_px[i]
        );
    }
    sync_s += t_sync.elapsed().as_secs_f64();

    // Instants to reconstruct: the reference camera's frames covered by enough cameras.
    let frame_counts: Vec<u64> = cameras.iter().map(|c| c.frames.len() as u64).collect();
    let fps = cams[0].fps;
    let need = ((cams.len() as f64 * 0.75).ceil() as usize)
        .max(2)
        .min(cams.len());
    let covers = |i: usize, t: f64| {
        let f = (t - sync_result.offsets[i]) * cams[i].fps;
        f >= -0.5 && f <= frame_counts[i] as f64 - 0.5
    };
    // A camera whose file is clearly shorter than the others' (a recorder that died, a
    // truncated file) is used only where it has frames; say so, since the later instants see
    // the athlete from fewer views. (Different start offsets are normal and not reported.)
    let durations: Vec<f64> = cams
        .iter()
        .zip(&frame_counts)
        .map(|(c, &n)| n as f64 / c.fps)
        .collect();
    let mut sorted = durations.clone();
    sorted.sort_by(f64::total_cmp);
    let typical = sorted[sorted.len() / 2];
    for (i, c) in cams.iter().enumerate() {
        if durations[i] < typical - (0.25f64).max(5.0 / c.fps) {
            tracing::warn!(
                "camera {} has only {} frames ({:.2} s, the others about {typical:.2} s): it ends at {:.2} s and later instants are reconstructed without it: {}",
                c.id,
                frame_counts[i],
                durations[i],
                sync_result.offsets[i] + durations[i],
                c.video.display()
            );
        }
    }
    let times: Vec<f64> = (0..frame_counts[0])
        .step_by(opts.stride.max(1))
        .map(|k| k as f64 / fps)
        .filter(|&t| (0..cams.len()).filter(|&i| covers(i, t)).count() >= need)
        .collect();
    if times.is_empty() {
        return Err(PipelineError::NoCoverage {
            need,
            have: cams.len(),
        });
    }

    // Carving volume and voxel size.
    let (vmin, vmax) = match capture.manifest.volume {
        Some(v) => (v.min(), v.max()),
        None => {
            // Around where the cameras look, half their typical distance each way.
            let c = rig_focus(&cams);
            let mut d: Vec<f64> = cams
                .iter()
                .map(|k| (k.camera.centre() - c).norm())
                .collect();
            d.sort_by(f64::total_cmp);
            let r = 0.5 * d[d.len() / 2];
            (c - Vector3::repeat(r), c + Vector3::repeat(r))
        }
    };
    let centre = nalgebra::center(&vmin, &vmax);
    let leaf = opts.voxel.unwrap_or_else(|| {
        let mut fp: Vec<f64> = cams
            .iter()
            .map(|c| {
                (c.camera.centre() - centre).norm()
                    / (0.5 * (c.camera.intrinsics.fx + c.camera.intrinsics.fy))
            })
            .collect();
        fp.sort_by(f64::total_cmp);
        (fp[fp.len() / 2] * 0.8).clamp(0.0005, 0.05)
    });
    let mut params = CarveParams::new(vmin, vmax, leaf, cams.len());
    params.matte_slack = opts.matte_slack.unwrap_or(0);

    // Reconstruct each instant from the stored silhouettes.
    let progress = crate::util::progress::bar(times.len() as u64, "reconstructing");
    let mut frames = Vec::with_capacity(times.len());
    let mut recon_s = 0.0;
    let mut splat_total = 0usize;
    for (index, &t) in times.iter().enumerate() {
        check_interrupt()?;
        let t1 = Instant::now();
        let views: Vec<View> = cameras
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.at(t).map(|(silhouette, shift)| View {
                    camera: &cams[i].camera,
                    silhouette,
                    shift,
                })
            })
            .collect();
        let mut p = params;
        p.min_views = ((views.len() as f64 * 0.6).ceil() as usize)
            .clamp(2.min(views.len()), views.len().max(1));
        let result = reconstruct_instant(&views, &p);
        drop(views);
        let file = PathBuf::from("frames").join(format!("{index:06}.ply"));
        write_ply(&root.join(&file), &result.splats, &format!("time {t:.6} s"))?;
        for c in cameras.iter_mut() {
            c.release_before(t);
        }
        recon_s += t1.elapsed().as_secs_f64();
        splat_total += result.splats.len();
        let a = |p: &Point3<f64>| [p.x, p.y, p.z];
        frames.push(FrameEntry {
            index,
            time: t,
            file,
            splats: result.splats.len(),
            centroid: a(&result.centroid),
            bbox_min: a(&result.bbox_min),
            bbox_max: a(&result.bbox_max),
            volume_m3: result.volume_m3,
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    timings.insert("ingest_s".to_owned(), ingest_s);
    timings.insert("sync_s".to_owned(), sync_s);
    timings.insert("segment_s".to_owned(), segment_s);
    timings.insert("reconstruct_s".to_owned(), recon_s);

    let t_an = Instant::now();
    let valid: Vec<&FrameEntry> = frames.iter().filter(|f| f.splats > 0).collect();
    let analysis = analyse::analyse(
        &valid.iter().map(|f| f.time).collect::<Vec<_>>(),
        &valid
            .iter()
            .map(|f| Point3::from(f.centroid))
            .collect::<Vec<_>>(),
    );
    if analysis.is_none() {
        tracing::warn!(
            "no ballistic flight found in the reconstruction; shots fall back to the clip's middle"
        );
    }
    timings.insert("analyse_s".to_owned(), t_an.elapsed().as_secs_f64());

    // Venue completion: proxy geometry and textures baked from the plates.
    let t_venue = Instant::now();
    let venue = bake_venue(&root, &cams, &backgrounds, &frames, analysis.as_ref())?;
    drop(backgrounds);
    timings.insert("venue_s".to_owned(), t_venue.elapsed().as_secs_f64());
    timings.insert("pipeline_s".to_owned(), total.elapsed().as_secs_f64());

    let capture_ref =
        std::fs::canonicalize(&capture.manifest_path).unwrap_or(capture.manifest_path.clone());
    let manifest = ReconManifest {
        format: RECON_FORMAT.to_owned(),
        version: RECON_VERSION,
        capture: capture_ref,
        cameras: cams.iter().map(|c| c.id.clone()).collect(),
        held_out,
        sync: cams
            .iter()
            .enumerate()
            .map(|(i, c)| SyncEntry {
                camera: c.id.clone(),
                offset_s: sync_result.offsets[i],
                fps: c.fps,
                frames: frame_counts[i],
                residual_px: sync_result.residual_px[i],
            })
            .collect(),
        voxel_size: leaf,
        fps: fps / opts.stride.max(1) as f64,
        frames,
        backgrounds: bg_entries,
        venue,
        analysis,
        timings: timings.clone(),
    };
    let path = root.join("recon.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&manifest).unwrap_or_default(),
    )
    .map_err(io(&path))?;
    dir.commit().map_err(io(out))?;
    Ok(ReconstructReport {
        frames: times.len(),
        splats_mean: splat_total as f64 / times.len().max(1) as f64,
        voxel_size: leaf,
        timings,
    })
}

/// Bakes the venue model into `root/venue/`.
fn bake_venue(
    root: &Path,
    cams: &[CaptureCamera],
    backgrounds: &[BackgroundModel],
    frames: &[FrameEntry],
    analysis: Option<&analyse::Analysis>,
) -> Result<Option<VenueModel>, PipelineError> {
    let samples: Vec<(f64, Point3<f64>, f64)> = frames
        .iter()
        .filter(|f| f.splats > 0)
        .map(|f| (f.time, Point3::from(f.centroid), f.bbox_min[2]))
        .collect();
    let Some(ground) = analyse::GroundProfile::estimate(&samples, analysis) else {
        return Ok(None);
    };
    let centre =
        samples.iter().fold(Vector3::zeros(), |a, s| a + s.1.coords) / samples.len().max(1) as f64;
    let base = crate::reconstruct::venue::base_profile(&ground, -220.0, 220.0, 4.0);
    let model = VenueModel {
        base,
        ground,
        along: AxisMap::along(),
        across: AxisMap::across(),
        dome_centre: [centre.x, centre.y, centre.z],
        dome_radius: 600.0,
        ground_texture: PathBuf::from("venue/ground.png"),
        dome_texture: PathBuf::from("venue/dome.png"),
    };
    let plates: Vec<Plate> = cams
        .iter()
        .zip(backgrounds)
        .map(|(c, b)| Plate {
            camera: &c.camera,
            image: &b.image,
        })
        .collect();
    let dir = root.join("venue");
    std::fs::create_dir_all(&dir).map_err(|source| PipelineError::Io {
        path: dir.clone(),
        source,
    })?;
    let save = |img: image::RgbImage, file: &Path| {
        let path = root.join(file);
        img.save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| PipelineError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })
    };
    save(
        bake_ground(&model, &plates, 4096, 1024),
        &model.ground_texture,
    )?;
    save(bake_dome(&model, &plates, 2048, 1024), &model.dome_texture)?;
    Ok(Some(model))
}
