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
use crate::reconstruct::fence;
use crate::reconstruct::format::{
    BackgroundEntry, FrameEntry, RECON_FORMAT, RECON_VERSION, ReconError, ReconManifest, SyncEntry,
    write_ply,
};
use crate::reconstruct::motion::{Motion, register};
use crate::reconstruct::terrain;
use crate::reconstruct::venue::{AxisMap, Plate, VenueModel, bake_dome, bake_fence, bake_ground};
use crate::reconstruct::{
    HullSurface, View, hull::CarveParams, reconstruct_agreed, reconstruct_instant,
};
use crate::segment::{self, BackgroundModel, Roi, Silhouette};
use crate::sync::{self, Track};
use crate::util::{AtomicDir, Interrupted, ceil_i64, check_interrupt, floor_i64, log_elapsed};
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
    /// Instants per reference frame interval (2: one at each frame and one halfway). A view
    /// between the cameras draws the instant nearest its own time moved by the athlete's rigid
    /// motion ([`Self::motion`]); what that does not carry (a change of posture, a motion that
    /// could not be measured) shrinks with more instants.
    pub substeps: usize,
    /// Full frames per camera kept for the background model (their per-pixel median). Eleven
    /// spread over the clip hide an athlete who moves; 21 scored the same on the demo capture
    /// (seed 3: held-out PSNR 17.41 vs 17.39 dB, matte IoU 0.8296 vs 0.8293) for twice the
    /// keyframes decoded.
    pub background_samples: usize,
    /// Pixels of slack when carving against mattes; `None`: 0. (A pixel of slack on every view
    /// fattens a few-camera hull more than it saves: on the Utrecht rig, 1 px lowers the
    /// hull's reprojection IoU from 0.87–0.95 to 0.83–0.87.)
    pub matte_slack: Option<u32>,
    /// Refine the estimated offsets by hull consistency ([`refine_offsets`]).
    pub sync_refine: bool,
    /// Measure the snow surface from the background plates ([`terrain::estimate`]) instead of
    /// taking the athlete's contact profile, level across, as the venue's ground.
    pub measure_venue: bool,
    /// Carve each instant with every camera's frame carried to the instant by the athlete's
    /// rigid motion ([`crate::reconstruct::motion`]) rather than by its image motion alone.
    pub motion: bool,
    /// Keep with each splat what the cameras that saw it best saw ([`crate::reconstruct::blend`]),
    /// for a colour that depends on the side it is seen from.
    pub view_colour: bool,
}

impl Default for ReconstructOptions {
    fn default() -> Self {
        Self {
            hold_out: None,
            voxel: None,
            sync_range: 1.0,
            stride: 1,
            substeps: 1,
            background_samples: 11,
            matte_slack: None,
            sync_refine: true,
            measure_venue: true,
            motion: true,
            view_colour: true,
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

/// A camera after the segmentation pass: its silhouettes, each frame's time and the CPU seconds
/// spent decoding and matting.
struct Segmented {
    frames: Vec<Silhouette>,
    times: Vec<f64>,
    decode_s: f64,
    segment_s: f64,
}

/// Each frame's time in seconds from the file's first frame: the container's presentation
/// timestamps when every frame has one, they increase and their typical interval agrees with
/// the camera's frame rate (variable frame rate and dropped frames are then placed where they
/// were shot), otherwise `index / fps`. (An image sequence is stamped at the demuxer's default
/// 25 fps whatever rate it was shot at; the manifest's rate is the one to trust then.)
fn frame_times(pts: &[Option<f64>], fps: f64, camera: &str, path: &Path) -> Vec<f64> {
    let stamped: Option<Vec<f64>> = pts.iter().copied().collect();
    let typical_interval = |t: &[f64]| {
        let mut d: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        d.sort_by(f64::total_cmp);
        d.get(d.len() / 2).copied()
    };
    match stamped {
        Some(t)
            if t.windows(2).all(|w| w[1] > w[0])
                && typical_interval(&t).is_none_or(|d| (d * fps - 1.0).abs() < 0.05) =>
        {
            t
        }
        Some(t) if t.windows(2).all(|w| w[1] > w[0]) => {
            tracing::debug!(
                "camera {camera}: timestamps run at another rate than {fps} fps; frames are timed by their index: {}",
                path.display()
            );
            (0..pts.len()).map(|k| k as f64 / fps).collect()
        }
        Some(_) => {
            tracing::warn!(
                "camera {camera}: timestamps do not increase; frames are timed by their index at {fps} fps instead: {}",
                path.display()
            );
            (0..pts.len()).map(|k| k as f64 / fps).collect()
        }
        None => (0..pts.len()).map(|k| k as f64 / fps).collect(),
    }
}

/// Gaps of more than half a frame beyond the nominal interval: `(from_s, to_s, frames_missing)`.
fn dropped_frames(times: &[f64], fps: f64) -> Vec<(f64, f64, u64)> {
    times
        .windows(2)
        .filter_map(|w| {
            let missing = ((w[1] - w[0]) * fps).round() as i64 - 1;
            (missing >= 1).then_some((w[0], w[1], missing as u64))
        })
        .collect()
}

/// One camera's silhouettes over the whole clip and its estimated start offset.
struct CameraSilhouettes {
    fps: f64,
    offset: f64,
    frames: Vec<Silhouette>,
    /// Each frame's time from the file's first frame (increasing; see [`frame_times`]).
    times: Vec<f64>,
    /// The athlete's image position per frame, smoothed over neighbouring frames (see
    /// [`smooth_track`]): what moves a silhouette to an instant between frames.
    track: Vec<Option<(f64, f64)>>,
}

impl CameraSilhouettes {
    fn new(fps: f64, frames: Vec<Silhouette>, times: Vec<f64>) -> Self {
        let centroids: Vec<_> = frames.iter().map(|s| s.matte.centroid).collect();
        let track = smooth_track(&centroids, &times, fps);
        Self {
            fps,
            offset: 0.0,
            frames,
            times,
            track,
        }
    }

    /// Seconds from the file's first frame to half a frame after its last.
    fn span(&self) -> (f64, f64) {
        let half = 0.5 / self.fps;
        match (self.times.first(), self.times.last()) {
            (Some(a), Some(b)) => (a - half, b + half),
            _ => (0.0, 0.0),
        }
    }

    /// Whether the camera has a frame near common time `t`.
    fn covers(&self, t: f64) -> bool {
        let (a, b) = self.span();
        (a..=b).contains(&(t - self.offset))
    }

    /// The silhouette nearest to common time `t` and the athlete's image motion from that frame
    /// to `t` (linear between the bracketing frames' positions on the smoothed track). Frames
    /// are placed by their timestamps, so a camera that dropped frames is not shifted after the
    /// gap; inside a gap longer than two frames the camera has nothing close enough in time and
    /// sits out.
    fn at(&self, t: f64) -> Option<(&Silhouette, (f64, f64))> {
        self.at_with(t, self.offset)
    }

    /// [`Self::at`] as if the camera started at `offset`.
    fn at_with(&self, t: f64, offset: f64) -> Option<(&Silhouette, (f64, f64))> {
        let (k0, k1, frac) = self.bracket(t - offset)?;
        let (s0, s1) = (&self.frames[k0], &self.frames[k1]);
        let d = match (self.track[k0], self.track[k1]) {
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

    /// The frames bracketing local time `local` (the last at or before it, or the first, and
    /// the next) and how far from the first to the second it lies (0..1); `None` outside the
    /// camera's span or where its nearer frame is more than a frame period away.
    fn bracket(&self, local: f64) -> Option<(usize, usize, f64)> {
        let n = self.frames.len();
        let (a, b) = self.span();
        if n == 0 || !(a..=b).contains(&local) {
            return None;
        }
        let k0 = self
            .times
            .partition_point(|&x| x <= local)
            .saturating_sub(1);
        let k1 = (k0 + 1).min(n - 1);
        let (t0, t1) = (self.times[k0], self.times[k1]);
        let frac = if k1 != k0 && t1 > t0 {
            ((local - t0) / (t1 - t0)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let nearest = if frac < 0.5 { t0 } else { t1 };
        ((local - nearest).abs() <= 1.0 / self.fps).then_some((k0, k1, frac))
    }

    /// The silhouette [`Self::at`] chooses for common time `t`, with that frame's common time
    /// instead of an image shift.
    fn nearest(&self, t: f64) -> Option<(&Silhouette, f64)> {
        let (k0, k1, frac) = self.bracket(t - self.offset)?;
        let k = if frac < 0.5 { k0 } else { k1 };
        let sil = &self.frames[k];
        (sil.matte.area > 0).then_some((sil, self.times[k] + self.offset))
    }

    /// Drops silhouettes that no instant at or after `t` can use.
    fn release_before(&mut self, t: f64) {
        let keep_from = t - self.offset - 1.0 / self.fps;
        let k = self.times.partition_point(|&x| x < keep_from);
        for s in &mut self.frames[..k.saturating_sub(1)] {
            if s.colour.width() != 0 {
                *s = Silhouette::empty();
            }
        }
    }

    /// The detections on the nominal frame grid (`index = round(time * fps)`), so a dropped
    /// frame is a gap in the track rather than a shift of everything after it.
    fn track(&self, width: u32, height: u32) -> Track {
        let slots = self
            .times
            .last()
            .map_or(0, |&t| (t * self.fps).round().max(0.0) as usize + 1);
        let mut detections = vec![None; slots];
        for (s, &time) in self.frames.iter().zip(&self.times) {
            let slot = ((time * self.fps).round().max(0.0) as usize).min(slots.saturating_sub(1));
            detections[slot] = s.matte.centroid.map(|(cx, cy)| {
                let r = s.matte.roi;
                sync::Detection {
                    centroid: crate::camera::Pixel::new(cx, cy),
                    area: s.matte.area as f64,
                    bbox: [r.x0 as f64, r.y0 as f64, r.x1 as f64, r.y1 as f64],
                    clipped: r.x0 == 0 || r.y0 == 0 || r.x1 >= width || r.y1 >= height,
                }
            });
        }
        Track {
            fps: self.fps,
            detections,
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
    let mut masks = match (mode, &cam.mask) {
        (Segmentation::Mask, Some(path)) => {
            Some(VideoReader::open(path, 1).map_err(IngestError::from)?)
        }
        _ => None,
    };
    let (w, h) = (cam.camera.intrinsics.width, cam.camera.intrinsics.height);
    let scale = ingest::thumb_scale(w);
    let bg_thumb = ingest::thumbnail(&background.image, scale);
    // Box-filtering s x s pixels divides the noise by s.
    let thumb_threshold = (4.0 * background.sigma / scale as f32).max(9.0);
    let mut out = Vec::new();
    let mut pts = Vec::new();
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
            Segmentation::Mask => {
                let Some(reader) = masks.as_mut() else {
                    return Err(IngestError::NoMask {
                        camera: cam.id.clone(),
                        path: cam.video.clone(),
                    }
                    .into());
                };
                let size = frame.image.dimensions();
                let mask = match reader.next_frame().map_err(IngestError::from)? {
                    Some(m) if m.image.dimensions() == size => m,
                    other => {
                        let problem = match other {
                            Some(m) => {
                                let (mw, mh) = m.image.dimensions();
                                format!("it is {mw}x{mh}, the media {}x{}", size.0, size.1)
                            }
                            None => format!("it ends before frame {} of the media", frame.index),
                        };
                        return Err(IngestError::MaskMismatch {
                            camera: cam.id.clone(),
                            problem,
                            path: reader.path().to_path_buf(),
                        }
                        .into());
                    }
                };
                Silhouette::extract_alpha(&frame.image, &image::imageops::grayscale(&mask.image))
            }
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
        pts.push(frame.pts_seconds);
    }
    if out.is_empty() {
        return Err(IngestError::Empty {
            camera: cam.id.clone(),
            path: cam.video.clone(),
        }
        .into());
    }
    Ok(Segmented {
        times: frame_times(&pts, cam.fps, &cam.id, &cam.video),
        frames: out,
        decode_s,
        segment_s,
    })
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
    tracing::debug!(
        "background models in {wall:.2} s (decoding {decode_cpu:.2} s, medians {model_cpu:.2} s of CPU)"
    );
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
        let seg = r?;
        decode_cpu += seg.decode_s;
        segment_cpu += seg.segment_s;
        for (from, to, missing) in dropped_frames(&seg.times, cams[i].fps) {
            tracing::warn!(
                "camera {} dropped {missing} frame(s) between {from:.3} s and {to:.3} s of its clip; its frames are placed by their timestamps: {}",
                cams[i].id,
                cams[i].video.display()
            );
        }
        cameras.push(CameraSilhouettes::new(cams[i].fps, seg.frames, seg.times));
    }
    let seg_wall = t_seg.elapsed().as_secs_f64();
    tracing::debug!(
        "segmented in {seg_wall:.2} s (decoding {decode_cpu:.2} s, segmenting {segment_cpu:.2} s of CPU)"
    );
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
    // A camera whose file is clearly shorter than the others' (a recorder that died, a
    // truncated file) is used only where it has frames; say so, since the later instants see
    // the athlete from fewer views. (Different start offsets are normal and not reported.)
    let durations: Vec<f64> = cameras.iter().map(|c| c.span().1 + 0.5 / c.fps).collect();
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
    let leaf = opts
        .voxel
        .unwrap_or_else(|| (ground_footprint(&cams, &centre) * 0.8).clamp(0.0005, 0.05));
    let mut params = CarveParams::new(vmin, vmax, leaf, cams.len());
    params.matte_slack = opts.matte_slack.unwrap_or(0);
    params.view_colour = opts.view_colour;

    // Sync refined by the hull: each camera's offset nudged to where the other cameras' hull
    // explains its silhouettes best.
    if !given_offsets && opts.sync_refine {
        let t_refine = Instant::now();
        refine_offsets(&cams, &mut cameras, &params);
        sync_s += t_refine.elapsed().as_secs_f64();
    }
    let sync_result = sync::SyncResult {
        offsets: cameras.iter().map(|c| c.offset).collect(),
        residual_px: sync_result.residual_px,
    };

    let covers = |i: usize, t: f64| cameras[i].covers(t);
    // The reference camera's nominal frame grid (its dropped frames are still instants).
    let grid = cameras[0]
        .times
        .last()
        .map_or(1, |&t| (t * fps).round().max(0.0) as u64 + 1);
    let sub = opts.substeps.max(1) as u64;
    let times: Vec<f64> = (0..(grid - 1) * sub + 1)
        .step_by(opts.stride.max(1))
        .map(|k| k as f64 / (fps * sub as f64))
        .filter(|&t| (0..cams.len()).filter(|&i| covers(i, t)).count() >= need)
        .collect();
    if times.is_empty() {
        return Err(PipelineError::NoCoverage {
            need,
            have: cams.len(),
        });
    }

    // The athlete's rigid motion around each instant, from hulls registered instant to instant:
    // it carries each camera's frame to the instant in 3D (turns included).
    let t_motion = Instant::now();
    let (motions, agreeing) = if opts.motion {
        measure_motion(&cams, &cameras, &times, &params)?
    } else {
        (vec![None; times.len()], Vec::new())
    };
    let motion_s = t_motion.elapsed().as_secs_f64();

    tracing::debug!(
        "athlete motion measured at {} of {} instants in {motion_s:.2} s",
        motions
            .iter()
            .filter(|m| m.is_some_and(|m| m.angular_speed() > 0.0))
            .count(),
        times.len()
    );

    // Reconstruct each instant from the stored silhouettes.
    let progress = crate::util::progress::bar(times.len() as u64, "reconstructing");
    let mut frames = Vec::with_capacity(times.len());
    let mut recon_s = motion_s;
    let mut unmoved = 0usize;
    let mut splat_total = 0usize;
    for (index, &t) in times.iter().enumerate() {
        check_interrupt()?;
        let t1 = Instant::now();
        // With a motion, the cameras that agreed when it was measured, posed by it.
        let mut motion = motions[index];
        let mut p = params;
        let mut result = None;
        if let (Some(m), Some(a)) = (motion, agreeing.get(index)) {
            let moved = cameras_moved(&cams, &cameras, &a.cameras, t, &m);
            let views: Vec<View> = moved
                .iter()
                .map(|(camera, silhouette)| View {
                    camera,
                    silhouette,
                    shift: (0.0, 0.0),
                })
                .collect();
            p.min_views = min_views(a.views);
            let r = reconstruct_agreed(&views, &p);
            if r.volume_m3 >= MOTION_MIN_VOLUME * a.volume_m3 {
                result = Some(r);
            } else {
                motion = None;
                unmoved += 1;
                let (which, views) = indexed_views_at(&cams, &cameras, t, None);
                let views: Vec<View> = which
                    .into_iter()
                    .zip(views)
                    .filter(|(i, _)| a.cameras.contains(i))
                    .map(|(_, v)| v)
                    .collect();
                result = Some(reconstruct_agreed(&views, &p));
            }
        }
        let result = result.unwrap_or_else(|| {
            let views = views_at(&cams, &cameras, t, None);
            p.min_views = min_views(views.len());
            reconstruct_instant(&views, &p)
        });
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
            lowest: (!result.splats.is_empty()).then(|| a(&result.lowest)),
            volume_m3: result.volume_m3,
            motion,
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    if unmoved > 0 {
        tracing::debug!(
            "{unmoved} instants carved without their measured motion, which lost volume"
        );
    }
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
    let venue = bake_venue(
        &root,
        &cams,
        &backgrounds,
        &frames,
        analysis.as_ref(),
        opts.measure_venue,
    )?;
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
        fps: fps * sub as f64 / opts.stride.max(1) as f64,
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

/// Frames either side whose centroids [`smooth_track`] fits.
const TRACK_HALF_WINDOW: usize = 3;

/// The athlete's image position per frame: a line in time fitted by least squares to the
/// matte centroids within [`TRACK_HALF_WINDOW`] frames (and as many frames' time) either side,
/// evaluated at the frame's time. A matte's centroid moves by a pixel or two from frame to frame
/// with what the matte gets wrong (a ski tip lost, a shadow's edge kept); on a camera that sees
/// the athlete move 1-4 pixels a frame, the difference of two raw centroids is mostly that
/// noise. A line rather than a parabola: a parabola keeps more of the noise where the window is
/// lopsided (at a gap, at the clip's ends), and over a symmetric window a line's steps from
/// frame to frame are exact for a steady acceleration anyway. Frames without a centroid keep
/// none; where fewer than three frames are near, the raw centroid stands.
fn smooth_track(
    centroids: &[Option<(f64, f64)>],
    times: &[f64],
    fps: f64,
) -> Vec<Option<(f64, f64)>> {
    let reach = (TRACK_HALF_WINDOW as f64 + 0.5) / fps;
    (0..centroids.len())
        .map(|k| {
            let raw = centroids[k]?;
            let t0 = times[k];
            let lo = k.saturating_sub(TRACK_HALF_WINDOW);
            let hi = (k + TRACK_HALF_WINDOW + 1).min(centroids.len());
            // Sums for the normal equations of a line in u = (t - t0) * fps.
            let (mut n, mut su, mut suu) = (0.0, 0.0, 0.0);
            let (mut sx, mut sy, mut sux, mut suy) = (0.0, 0.0, 0.0, 0.0);
            for j in lo..hi {
                let Some((x, y)) = centroids[j] else { continue };
                if (times[j] - t0).abs() > reach {
                    continue;
                }
                let u = (times[j] - t0) * fps;
                n += 1.0;
                su += u;
                suu += u * u;
                sx += x;
                sy += y;
                sux += u * x;
                suy += u * y;
            }
            let det = n * suu - su * su;
            if n < 3.0 || det.abs() < 1e-9 {
                return Some(raw);
            }
            // The line's value at u = 0.
            Some(((suu * sx - su * sux) / det, (suu * sy - su * suy) / det))
        })
        .collect()
}

/// Each camera's view of common time `t` (those with the athlete then), but camera `except`.
fn views_at<'a>(
    cams: &'a [CaptureCamera],
    cameras: &'a [CameraSilhouettes],
    t: f64,
    except: Option<usize>,
) -> Vec<View<'a>> {
    indexed_views_at(cams, cameras, t, except).1
}

/// [`views_at`] with each view's camera index.
fn indexed_views_at<'a>(
    cams: &'a [CaptureCamera],
    cameras: &'a [CameraSilhouettes],
    t: f64,
    except: Option<usize>,
) -> (Vec<usize>, Vec<View<'a>>) {
    cameras
        .iter()
        .enumerate()
        .filter(|&(i, _)| Some(i) != except)
        .filter_map(|(i, c)| {
            c.at(t).map(|(silhouette, shift)| {
                (
                    i,
                    View {
                        camera: &cams[i].camera,
                        silhouette,
                        shift,
                    },
                )
            })
        })
        .unzip()
}

/// Cameras `which` (those that have a frame near `t`), posed to see the athlete as it was at
/// `t` (see [`crate::camera::Camera::seeing_moved`]), with that frame's silhouette.
fn cameras_moved<'a>(
    cams: &[CaptureCamera],
    cameras: &'a [CameraSilhouettes],
    which: &[usize],
    t: f64,
    motion: &Motion,
) -> Vec<(crate::camera::Camera, &'a Silhouette)> {
    which
        .iter()
        .filter_map(|&i| {
            let (silhouette, frame_time) = cameras[i].nearest(t)?;
            let cam = &cams[i];
            Some((
                cam.camera.seeing_moved(&motion.at(frame_time - t)),
                silhouette,
            ))
        })
        .collect()
}

/// The cameras that agreed about where the athlete is at an instant
/// ([`crate::reconstruct::agreeing_views`]), of the `views` that had a frame near it, and the
/// volume of their hull carved with the image motion alone.
struct Agreeing {
    views: usize,
    cameras: Vec<usize>,
    volume_m3: f64,
}

/// A hull carved with the measured motion that keeps less than this fraction of the volume
/// carved without it had a motion that misaligned the cameras (a right one aligns their
/// silhouettes, so more of the athlete survives: on the demo capture the median instant kept
/// 24% more, on aerials16 10%); the instant is carved without it.
const MOTION_MIN_VOLUME: f64 = 0.97;

/// The largest turn rate believed between instants (rad/s): an aerialist's double-full twists
/// at about 15 rad/s; more is a registration that slipped.
const MAX_TURN_RATE: f64 = 40.0;

/// The most a step's turn rate (rad/s, as a vector) may differ from the median of the steps
/// within two of it and still be believed (during a twist the rate changes by up to about
/// 2 rad/s from one step to the next at 25 fps).
const MAX_TURN_JUMP: f64 = 6.0;

/// The athlete's motion around each instant: hulls carved as before (views moved by the image
/// motion alone) registered each to the next by iterative closest points, started from the
/// centroid's move (no turn: on the demo capture, at 25 fps, starting from the previous step's
/// turn instead found the same turns). A step is trusted when four fifths of the hull match
/// within a voxel and a half, it turns no faster than [`MAX_TURN_RATE`], its pivot moves as the
/// centroids do and its turn is near its neighbours'. Each instant's motion is the mean of its
/// steps in and out (about its own centroid); where neither step is trusted the pivot still
/// moves, with no turn. (Hulls at twice the voxel size cost a little less and measured the turn
/// worse: median error 0.58 against 0.38 rad/s on the demo capture, 3.4 against 2.4 on the
/// tiny one.)
fn measure_motion(
    cams: &[CaptureCamera],
    cameras: &[CameraSilhouettes],
    times: &[f64],
    params: &CarveParams,
) -> Result<(Vec<Option<Motion>>, Vec<Agreeing>), PipelineError> {
    let progress = crate::util::progress::bar(times.len() as u64, "measuring the motion");
    let mut hulls: Vec<Option<HullSurface>> = Vec::with_capacity(times.len());
    let mut agreeing: Vec<Agreeing> = Vec::with_capacity(times.len());
    for &t in times {
        check_interrupt()?;
        let (index, views) = indexed_views_at(cams, cameras, t, None);
        let mut p = *params;
        p.min_views = min_views(views.len());
        let (hull, agree) = crate::reconstruct::hull_surface(&views, &p);
        agreeing.push(Agreeing {
            views: views.len(),
            volume_m3: hull.as_ref().map_or(0.0, |h| h.volume_m3),
            cameras: index
                .into_iter()
                .zip(agree)
                .filter_map(|(i, a)| a.then_some(i))
                .collect(),
        });
        hulls.push(hull);
        progress.inc(1);
    }
    progress.finish_and_clear();

    let leaf = params.leaf;
    // Steps[i]: instant i to i + 1, as a motion about instant i's centroid.
    let steps: Vec<Option<Motion>> = (0..times.len().saturating_sub(1))
        .into_par_iter()
        .map(|i| {
            let (Some(ha), Some(hb)) = (&hulls[i], &hulls[i + 1]) else {
                return None;
            };
            let (a, ca, b, cb) = (&ha.points, &ha.centroid, &hb.points, &hb.centroid);
            let dt = times[i + 1] - times[i];
            let centroid_velocity = (cb - ca) / dt;
            let init = Motion::translation(*ca, centroid_velocity).at(dt);
            let r = register(a, b, init, 8.0 * leaf, 1.5 * leaf)?;
            let m = Motion::from_step(&r.transform, *ca, dt);
            // A registration that slipped turns too fast, or moves the pivot other than the
            // centroids moved (their noise: two voxels over the step).
            let slip = (Vector3::from(m.linear) - centroid_velocity).norm();
            (r.matched >= 0.8
                && m.angular_speed() <= MAX_TURN_RATE
                && slip <= 2.0 * leaf / dt + 0.1 * centroid_velocity.norm())
            .then_some(m)
        })
        .collect();
    // A turn rate far from its neighbours' median is a registration that went wrong (the
    // athlete's turn rate changes smoothly).
    let turn = |m: &Motion| Vector3::from(m.angular);
    let steps: Vec<Option<Motion>> = (0..steps.len())
        .map(|i| {
            let m = steps[i]?;
            let near: Vec<Vector3<f64>> = (i.saturating_sub(2)..(i + 3).min(steps.len()))
                .filter_map(|j| steps[j].as_ref().map(turn))
                .collect();
            if near.len() < 3 {
                return Some(m);
            }
            let median = Vector3::from_fn(|k, _| {
                let mut v: Vec<f64> = near.iter().map(|w| w[k]).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            });
            ((turn(&m) - median).norm() <= MAX_TURN_JUMP).then_some(m)
        })
        .collect();
    let motions = (0..times.len())
        .map(|i| {
            let c = &hulls[i].as_ref()?.centroid;
            let out = steps.get(i).copied().flatten();
            // The step in, about this instant's centroid (a body-fixed point near the last
            // centroid, so it moves at that centroid's velocity).
            let into = i.checked_sub(1).and_then(|j| steps[j]).map(|m| Motion {
                pivot: c.coords.into(),
                ..m
            });
            match (into, out) {
                (Some(a), Some(b)) => Some(b.averaged(&a)),
                (Some(m), None) | (None, Some(m)) => Some(m),
                (None, None) => {
                    // The pivot's move alone, from the neighbouring centroids.
                    let near = |j: Option<usize>| {
                        j.and_then(|j| hulls.get(j)?.as_ref().map(|h| (times[j], h.centroid)))
                    };
                    let (prev, next) = (near(i.checked_sub(1)), near(Some(i + 1)));
                    let (t0, c0, t1, c1) = match (prev, next) {
                        (Some((t0, c0)), Some((t1, c1))) => (t0, c0, t1, c1),
                        (Some((t0, c0)), None) => (t0, c0, times[i], *c),
                        (None, Some((t1, c1))) => (times[i], *c, t1, c1),
                        (None, None) => return None,
                    };
                    Some(Motion::translation(*c, (c1 - c0) / (t1 - t0)))
                }
            }
        })
        .collect();
    Ok((motions, agreeing))
}

/// Cameras that must see a cell for it to be inside the capture zone, of `views` at an
/// instant: three fifths of them (at least two, at most all).
fn min_views(views: usize) -> usize {
    ((views as f64 * 0.6).ceil() as usize).clamp(2.min(views), views.max(1))
}

/// Instants the sync refinement looks at, at most.
const REFINE_INSTANTS: usize = 12;

/// Rounds of sync refinement.
const REFINE_ROUNDS: usize = 3;

/// Refines every camera's offset by hull consistency. At a dozen instants
/// spread over the clip (where at least three quarters of the cameras see the athlete), the
/// hull carved from all the other cameras is projected into the camera and compared (IoU) with
/// its silhouette as it would be at offsets a few tenths of a frame either way; the offset where
/// the summed IoU peaks (a parabola through the best three) wins. Unlike the centroid's
/// epipolar lines this compares whole shapes, which the athlete's changing pose does not bias.
/// Three rounds (steps of a tenth of a frame, then a twentieth), each camera against the
/// others' current offsets. The reference camera is refined too, and everyone then moved by
/// its change, so the timeline's zero stays its first frame: otherwise the others, refined
/// mostly against each other, keep whatever error the centroid estimate gave them in common
/// (on aerials16 they were +0.034 frame on average against the reference; now −0.011).
///
/// Each camera is compared at its own frames' times (the instants are moved to its nearest
/// frame), so its trials move a real silhouette by at most three tenths of a frame. At the
/// reference's frame times instead, every trial of a camera half a frame off the reference
/// moved a silhouette half a frame, and what that shift gets wrong of the pose change biased
/// it (aerials16: cam10 and cam14, 0.48 frame off the reference, +0.063 and +0.060 frame, with
/// everything else as now). The first round carves a hull half as fine again; the later ones
/// the reconstruction's own, whose outline is sharp enough to tell a twentieth of a frame on a
/// camera that sees the athlete move a pixel or two a frame (worst camera on aerials16 0.080
/// frame with the coarse hull throughout, 0.03-0.04 with this; sync 3.1 s → 5.6-5.9 s).
fn refine_offsets(cams: &[CaptureCamera], cameras: &mut [CameraSilhouettes], params: &CarveParams) {
    let n = cams.len();
    if n < 4 {
        return;
    }
    let fps = cams[0].fps;
    let last = cameras[0].times.last().copied().unwrap_or(0.0);
    let all: Vec<f64> = (0..=(last * fps).round() as i64)
        .map(|k| k as f64 / fps)
        .filter(|&t| cameras.iter().filter(|c| c.at(t).is_some()).count() * 4 >= n * 3)
        .collect();
    if all.len() < 3 {
        return;
    }
    let count = REFINE_INSTANTS.min(all.len());
    let pick: Vec<f64> = (0..count)
        .map(|i| all[i * (all.len() - 1) / (count - 1).max(1)])
        .collect();
    let mut coarse = *params;
    coarse.leaf = params.leaf * 1.5;
    coarse.levels = params.levels.saturating_sub(1).max(1);
    coarse.volume_max = coarse.volume_min
        + (params.volume_max - params.volume_min).map(|e| e.max(coarse.leaf * 2.0));
    for round in 0..REFINE_ROUNDS {
        // Tenths of a frame first, then twentieths.
        let unit = if round == 0 { 0.1 } else { 0.05 };
        let hull_params = if round == 0 { coarse } else { *params };
        let steps: [f64; 7] = [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0].map(|k| k * unit);
        let current: Vec<f64> = cameras.iter().map(|c| c.offset).collect();
        let cams_ref = &*cameras;
        let deltas: Vec<f64> = (0..n)
            .into_par_iter()
            .map(|b| {
                let step = 1.0 / cams[b].fps;
                let mut score = [0.0f64; 7];
                for &t in &pick {
                    // The camera's own frame nearest the instant.
                    let t = current[b] + ((t - current[b]) / step).round() * step;
                    let views = views_at(cams, cams_ref, t, Some(b));
                    let mut p = hull_params;
                    p.min_views = min_views(views.len());
                    let occ = crate::reconstruct::hull::carve(&views, &p);
                    let mask = HullMask::new(&occ, &cams[b].camera);
                    // An instant counts only where every trial offset has a silhouette, so
                    // that all trials are summed over the same instants.
                    let trial: Option<Vec<f64>> = steps
                        .iter()
                        .map(|d| {
                            cams_ref[b]
                                .at_with(t, current[b] + d * step)
                                .map(|(sil, shift)| mask.iou(&sil.matte, shift))
                        })
                        .collect();
                    for (total, v) in score.iter_mut().zip(trial.into_iter().flatten()) {
                        *total += v;
                    }
                }
                let (best, _) = score
                    .iter()
                    .enumerate()
                    .fold((3, f64::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
                let mut d = steps[best];
                if best > 0 && best < steps.len() - 1 {
                    let (l, c, r) = (score[best - 1], score[best], score[best + 1]);
                    let den = l - 2.0 * c + r;
                    if den < 0.0 {
                        d += unit * (0.5 * (l - r) / den).clamp(-0.5, 0.5);
                    }
                }
                d * step
            })
            .collect();
        for (b, d) in deltas.into_iter().enumerate() {
            tracing::debug!("sync refine: {} {:+.4} frame", cams[b].id, d * cams[b].fps);
            cameras[b].offset += d;
        }
        // The timeline's zero stays the reference camera's first frame.
        let pin = cameras[0].offset;
        for c in cameras.iter_mut() {
            c.offset -= pin;
        }
    }
}

/// A hull drawn into an image: each pixel's coverage over a box.
struct Coverage {
    x0: i64,
    y0: i64,
    w: usize,
    h: usize,
    /// Row-major, 0..=1.
    values: Vec<f32>,
}

/// A hull projected into one camera: occupied voxels as discs.
struct HullMask {
    /// Each occupied voxel's centre in the image and its radius (pixels).
    discs: Vec<(f64, f64, f64)>,
}

impl HullMask {
    fn new(occ: &crate::reconstruct::hull::Occupancy, cam: &crate::camera::Camera) -> Self {
        let mut discs = Vec::new();
        for k in 0..occ.dims[2] {
            for j in 0..occ.dims[1] {
                for i in 0..occ.dims[0] {
                    if occ.cells[occ.index(i, j, k)] == 0 {
                        continue;
                    }
                    if let Some((px, d)) = cam.project_with_depth(&occ.centre(i, j, k))
                        && d > 0.1
                    {
                        let r = 0.6 * occ.leaf * cam.intrinsics.fx / d;
                        discs.push((px.x, px.y, r));
                    }
                }
            }
        }
        Self { discs }
    }

    /// Soft IoU with `matte` seen at the instant (a point at `p` is at `p - shift` in the
    /// matte). The discs are drawn moved by `-shift` with anti-aliased edges (each pixel's
    /// coverage), so the overlap moves smoothly with a sub-pixel shift. (Interpolating the IoU
    /// of whole-pixel shifts instead gives a curve with a kink at every whole pixel, whose
    /// peak sticks to the trial where the shift is whole: on a camera that sees the athlete
    /// move 1-4 pixels a frame that held the offsets up to 0.08 frame off.)
    fn iou(&self, matte: &crate::segment::Matte, shift: (f64, f64)) -> f64 {
        let Some(Coverage {
            x0,
            y0,
            w,
            h,
            values: cover,
        }) = self.coverage(shift)
        else {
            return 0.0;
        };
        let roi = matte.roi;
        let (xa, ya) = (x0.min(roi.x0 as i64), y0.min(roi.y0 as i64));
        let (xb, yb) = (
            (x0 + w as i64).max(roi.x1 as i64),
            (y0 + h as i64).max(roi.y1 as i64),
        );
        let (mut inter, mut union) = (0.0f64, 0.0f64);
        for yy in ya..yb {
            for xx in xa..xb {
                let (hx, hy) = (xx - x0, yy - y0);
                let hv = if hx >= 0 && hy >= 0 && (hx as usize) < w && (hy as usize) < h {
                    cover[hy as usize * w + hx as usize] as f64
                } else {
                    0.0
                };
                if matte.get(xx, yy) {
                    inter += hv;
                    union += 1.0;
                } else {
                    union += hv;
                }
            }
        }
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// The discs moved by `-shift`, drawn with each pixel's coverage (anti-aliased edges).
    fn coverage(&self, shift: (f64, f64)) -> Option<Coverage> {
        if self.discs.is_empty() {
            return None;
        }
        let (mut a, mut b, mut c, mut d) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(x, y, r) in &self.discs {
            a = a.min(x - r);
            b = b.min(y - r);
            c = c.max(x + r);
            d = d.max(y + r);
        }
        let (x0, y0) = (floor_i64(a - shift.0) - 1, floor_i64(b - shift.1) - 1);
        let (w, h) = (
            (ceil_i64(c - shift.0) - x0 + 2) as usize,
            (ceil_i64(d - shift.1) - y0 + 2) as usize,
        );
        let mut cover = vec![0.0f32; w * h];
        for &(x, y, r) in &self.discs {
            let (x, y) = (x - shift.0, y - shift.1);
            let (xa, xb) = (floor_i64(x - r - 0.5), ceil_i64(x + r + 0.5));
            let (ya, yb) = (floor_i64(y - r - 0.5), ceil_i64(y + r + 0.5));
            for yy in ya.max(y0)..=yb.min(y0 + h as i64 - 1) {
                let row = (yy - y0) as usize * w;
                for xx in xa.max(x0)..=xb.min(x0 + w as i64 - 1) {
                    let (dx, dy) = (xx as f64 - x, yy as f64 - y);
                    let v = (r + 0.5 - (dx * dx + dy * dy).sqrt()).clamp(0.0, 1.0) as f32;
                    let cell = &mut cover[row + (xx - x0) as usize];
                    *cell = cell.max(v);
                }
            }
        }
        Some(Coverage {
            x0,
            y0,
            w,
            h,
            values: cover,
        })
    }
}

/// How far either side of the athlete's line the course is taken to be one height across
/// (where the profile along it is measured; the rise beyond is measured separately).
const COURSE_HALF_WIDTH: f64 = 10.0;

/// The coarsest ground footprint (metres per pixel, the rig's median camera at the athlete)
/// at which the ground is measured from the plates. The correlation needs the snow's texture
/// (ski tracks, grooming lines, a few centimetres across) resolved: at the tiny preset's
/// 480x270 (about 6 cm per pixel) the measured ground is worse than the athlete's contacts;
/// at the demo's 3 cm and aerials16's 2 cm it is better.
const MAX_MEASURE_FOOTPRINT: f64 = 0.045;

/// The rig's median footprint at `at`: metres per pixel of each camera there (the voxel size
/// follows it, and whether the ground is measured).
fn ground_footprint(cams: &[CaptureCamera], at: &Point3<f64>) -> f64 {
    let mut fp: Vec<f64> = cams
        .iter()
        .map(|c| {
            let k = &c.camera.intrinsics;
            (c.camera.centre() - at).norm() / (0.5 * (k.fx + k.fy))
        })
        .collect();
    fp.sort_by(f64::total_cmp);
    fp.get(fp.len() / 2).copied().unwrap_or(f64::INFINITY)
}

/// The fences beside the course in the plates (their textures named, not yet baked). Fences
/// stand between the course and the cameras: searched from beside the athlete's lane out to a
/// metre short of the outermost camera on each side. Where too few views see a fence to judge,
/// it runs on as far as the rig's cameras stand along the course.
fn find_fences(
    model: &VenueModel,
    rig: &[&crate::camera::Camera],
    grey: &[terrain::GreyPlate],
    s_range: (f64, f64),
) -> Vec<fence::FoundFence> {
    let frame = model.frame();
    let ground = |s: f64, l: f64| model.ground_point(s, l).z;
    let outermost = |side: f64| {
        rig.iter()
            .map(|c| side * frame.coords(&c.centre()).1)
            .fold(0.0, f64::max)
    };
    // Along the course, the rig's cameras' own span.
    let (reach, _) = terrain::rig_extent(&frame, rig, 0.0, f64::INFINITY);
    let search = fence::FenceSearch {
        frame,
        ground: &ground,
        plates: grey,
        s_range,
        reach,
        near: 2.0 * crate::reconstruct::venue::LANE_HALF_WIDTH,
        far: (outermost(1.0) - 1.0, outermost(-1.0) - 1.0),
    };
    let mut fences = search.find();
    for (i, f) in fences.iter_mut().map(|f| &mut f.fence).enumerate() {
        f.inner_texture = PathBuf::from(format!("venue/fence{i}_inner.png"));
        f.outer_texture = PathBuf::from(format!("venue/fence{i}_outer.png"));
        tracing::info!(
            "fence found {:.2} m {} of the course, {:.2} m high, from {:.1} to {:.1} m along it",
            f.l.abs(),
            if f.l > 0.0 { "left" } else { "right" },
            f.height,
            f.s.0,
            f.s.1
        );
    }
    fences
}

/// Bakes the venue model into `root/venue/`.
fn bake_venue(
    root: &Path,
    cams: &[CaptureCamera],
    backgrounds: &[BackgroundModel],
    frames: &[FrameEntry],
    analysis: Option<&analyse::Analysis>,
    measure: bool,
) -> Result<Option<VenueModel>, PipelineError> {
    let samples: Vec<analyse::ContactFrame> = frames
        .iter()
        .filter(|f| f.splats > 0)
        .map(|f| {
            let c = Point3::from(f.centroid);
            let low = f
                .lowest
                .map_or(Point3::new(c.x, c.y, f.bbox_min[2]), Point3::from);
            (f.time, c, low)
        })
        .collect();
    let Some(ground) = analyse::GroundProfile::estimate(&samples, analysis) else {
        return Ok(None);
    };
    let centre =
        samples.iter().fold(Vector3::zeros(), |a, s| a + s.1.coords) / samples.len().max(1) as f64;
    let base = crate::reconstruct::venue::base_profile(&ground, -220.0, 220.0, 4.0);
    let mut model = VenueModel {
        base,
        ground,
        terrain: None,
        along: AxisMap::along(),
        across: AxisMap::across(),
        dome_centre: [centre.x, centre.y, centre.z],
        dome_radius: 600.0,
        ground_texture: PathBuf::from("venue/ground.png"),
        dome_texture: PathBuf::from("venue/dome.png"),
        fences: Vec::new(),
    };
    let plates: Vec<Plate> = cams
        .iter()
        .zip(backgrounds)
        .map(|(c, b)| Plate {
            camera: &c.camera,
            image: &b.image,
        })
        .collect();
    // The snow surface from the plates, over the ground the rig looks at; visibility for the
    // bake from that surface.
    let frame = model.frame();
    let rig: Vec<&crate::camera::Camera> = cams.iter().map(|c| &c.camera).collect();
    let (s_range, l_range) = terrain::rig_extent(&frame, &rig, 8.0, 90.0);
    let t_stage = Instant::now();
    let footprint = ground_footprint(cams, &Point3::from(centre));
    let measure = if measure && footprint > MAX_MEASURE_FOOTPRINT {
        tracing::warn!(
            "the background plates are too coarse to measure the snow from ({:.1} cm per pixel at the athlete, at most {:.1}): the venue's ground is the athlete's contact profile",
            footprint * 100.0,
            MAX_MEASURE_FOOTPRINT * 100.0
        );
        false
    } else {
        measure
    };
    if measure {
        let t_grey = Instant::now();
        let grey = terrain::grey_plates(&plates);
        log_elapsed("venue: grey pyramids", t_grey);
        let prior = |s: f64, l: f64| model.profile_point(s, l).z;
        model.terrain = Some(terrain::estimate(
            &frame,
            s_range,
            l_range,
            &prior,
            &model.ground.samples,
            &grey,
            crate::reconstruct::venue::LANE_HALF_WIDTH,
            COURSE_HALF_WIDTH,
        ));
        let t_fence = Instant::now();
        let found = find_fences(&model, &rig, &grey, s_range);
        log_elapsed("venue: fences", t_fence);
        let before = |s: f64, l: f64| model.ground_point(s, l).z;
        if let Some(mut terrain) = model.terrain.clone() {
            fence::settle_on_feet(&mut terrain, &found, &before);
            model.terrain = Some(terrain);
        }
        model.fences = found.into_iter().map(|f| f.fence).collect();
    }
    let surface = |s: f64, l: f64| model.ground_point(s, l);
    let (far_s, far_l) = (model.along.range(), model.across.range());
    let regions = [
        terrain::SampleRegion {
            s: s_range,
            l: l_range,
            step: 0.25,
        },
        terrain::SampleRegion {
            s: far_s,
            l: far_l,
            step: 2.0,
        },
    ];
    log_elapsed("venue: ground measured", t_stage);
    let t_stage = Instant::now();
    let ground = |s: f64, l: f64| surface(s, l).z;
    let fence_cells: Vec<(Point3<f64>, f64)> = model
        .fences
        .iter()
        .flat_map(|f| fence::surface_points(f, &frame, &ground, 0.1))
        .map(|p| (p, 0.1))
        .collect();
    let depth = terrain::DepthMaps::new(&surface, &regions, &fence_cells, &rig, 4.0);
    log_elapsed("venue: depth maps", t_stage);
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
    let t_stage = Instant::now();
    let ground_texture = bake_ground(&model, &plates, Some(&depth), 4096, 1024);
    log_elapsed("venue: ground baked", t_stage);
    let t_stage = Instant::now();
    let dome_texture = bake_dome(&model, &plates, Some(&depth), 2048, 1024);
    log_elapsed("venue: dome baked", t_stage);
    let t_stage = Instant::now();
    let fence_textures: Vec<(image::RgbImage, &Path)> = model
        .fences
        .iter()
        .flat_map(|f| [(f, true, &f.inner_texture), (f, false, &f.outer_texture)])
        .map(|(f, inner, file)| {
            let texture = bake_fence(&model, f, inner, &plates, Some(&depth));
            (texture, file.as_path())
        })
        .collect();
    log_elapsed("venue: fences baked", t_stage);
    let t_stage = Instant::now();
    save(ground_texture, &model.ground_texture)?;
    save(dome_texture, &model.dome_texture)?;
    for (texture, file) in fence_textures {
        save(texture, file)?;
    }
    log_elapsed("venue: textures written", t_stage);
    Ok(Some(model))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x3 silhouette centred on column `x` of a 64-pixel-wide frame.
    fn dot(x: u32) -> Silhouette {
        let mut frame = image::RgbImage::new(64, 4);
        for (px, py) in (x - 1..=x + 1).flat_map(|px| (0..3).map(move |py| (px, py))) {
            frame.put_pixel(px, py, image::Rgb([255, 255, 255]));
        }
        Silhouette::extract_threshold(&frame, 0.5)
    }

    /// A camera at 10 fps whose athlete moves one pixel per frame, which dropped frames 3–5:
    /// frame `k` of the file was shot at slot `k` before the gap and `k + 3` after it.
    fn dropping_camera() -> CameraSilhouettes {
        let slots: Vec<u32> = [0, 1, 2, 6, 7, 8, 9].to_vec();
        let pts: Vec<Option<f64>> = slots.iter().map(|&s| Some(s as f64 / 10.0)).collect();
        CameraSilhouettes::new(
            10.0,
            slots.iter().map(|&s| dot(10 + s)).collect(),
            frame_times(&pts, 10.0, "cam", Path::new("cam.mp4")),
        )
    }

    #[test]
    fn dropped_frames_are_placed_by_their_timestamps() {
        let cam = dropping_camera();
        assert_eq!(dropped_frames(&cam.times, 10.0), vec![(0.2, 0.6, 3)]);
        // After the gap the silhouette is the one shot then, not the file's 7th frame shifted.
        let (sil, shift) = cam.at(0.8).expect("a frame at 0.8 s");
        assert_eq!(sil.matte.centroid.map(|c| c.0), Some(18.0));
        assert!(shift.0.abs() < 1e-9);
        // Between frames the motion is interpolated from the bracketing centroids.
        let (sil, shift) = cam.at(0.72).expect("a frame near 0.72 s");
        assert_eq!(sil.matte.centroid.map(|c| c.0), Some(17.0));
        assert!((shift.0 - 0.2).abs() < 1e-9, "{shift:?}");
        // In the middle of the gap nothing is within a frame: the camera sits out.
        assert!(cam.at(0.4).is_none());
        // At the gap's edges the nearest frame is used.
        assert!(cam.at(0.28).is_some() && cam.at(0.52).is_some());
        // Past the end by more than half a frame: nothing.
        assert!(cam.at(0.96).is_none());
        // The sync track keeps the slots: the gap is empty, later detections are not shifted.
        let track = cam.track(64, 4);
        assert_eq!(track.detections.len(), 10);
        assert!(track.detections[3..6].iter().all(Option::is_none));
        assert_eq!(track.detections[8].map(|d| d.centroid.x), Some(18.0));
    }

    #[test]
    fn frames_without_usable_timestamps_are_timed_by_index() {
        let t = frame_times(&[Some(0.0), None, Some(0.2)], 25.0, "c", Path::new("c.mp4"));
        assert_eq!(t, vec![0.0, 0.04, 0.08]);
        let t = frame_times(
            &[Some(0.0), Some(0.0), Some(0.1)],
            10.0,
            "c",
            Path::new("c.mp4"),
        );
        assert_eq!(t, vec![0.0, 0.1, 0.2]);
        // An image sequence shot at 50 fps, stamped by the demuxer at its default 25.
        let pts: Vec<Option<f64>> = (0..6).map(|k| Some(k as f64 / 25.0)).collect();
        let t = frame_times(&pts, 50.0, "c", Path::new("c_%03d.png"));
        assert_eq!(t, (0..6).map(|k| k as f64 / 50.0).collect::<Vec<_>>());
    }

    #[test]
    fn releasing_keeps_the_frames_later_instants_need() {
        let mut cam = dropping_camera();
        cam.release_before(0.8);
        assert!(cam.at(0.8).is_some() && cam.at(0.7).is_some());
        assert!(cam.frames[0].colour.width() == 0, "early frames are freed");
    }

    /// A track moving two pixels a frame whose centroids alternate a pixel either side of it
    /// (what a matte's errors do): the smoothed positions' steps are the motion, not the noise;
    /// a frame without a centroid keeps none.
    #[test]
    fn the_track_keeps_the_motion_and_drops_matte_noise() {
        let fps = 50.0;
        let times: Vec<f64> = (0..20).map(|k| k as f64 / fps).collect();
        let mut centroids: Vec<Option<(f64, f64)>> = (0..20)
            .map(|k| {
                let noise = if k % 2 == 0 { 1.0 } else { -1.0 };
                Some((100.0 + 2.0 * k as f64 + noise, 50.0))
            })
            .collect();
        centroids[10] = None;
        let track = smooth_track(&centroids, &times, fps);
        assert!(track[10].is_none());
        // Raw positions are a pixel off and raw steps 0 or 4 pixels. A seven-frame line
        // keeps a seventh of this noise (the worst kind for it: it alternates every frame), and
        // up to about two fifths of it where the missing frame makes the window lopsided.
        let err = |k: usize| track[k].unwrap().0 - (100.0 + 2.0 * k as f64);
        for k in (2..18).filter(|&k| k != 10) {
            assert!(err(k).abs() < 0.4, "frame {k}: {:+.3} px", err(k));
        }
        for k in (3..6).chain(14..16) {
            assert!(err(k).abs() < 0.15, "frame {k}: {:+.3} px", err(k));
            let step = 2.0 + err(k + 1) - err(k);
            assert!((step - 2.0).abs() < 0.3, "frame {k}: step {step:.3} px");
        }
    }

    /// The hull's IoU against a matte drawn from the same hull a fraction of a pixel away
    /// peaks that fraction away, to within a tenth of a pixel (the matte is whole pixels, so
    /// some pull to whole shifts stays). The IoUs of whole-pixel shifts interpolated between
    /// them, as before, are linear between whole pixels and peak at one: 0 or 1 here, on a
    /// camera where the athlete moves a pixel a frame up to half a frame of sync.
    #[test]
    fn the_hull_iou_finds_a_sub_pixel_shift() {
        // A body and a limb: outlines at every sub-pixel phase, as a real silhouette's are.
        let mask = HullMask {
            discs: vec![(30.17, 20.41, 8.3), (41.6, 14.2, 3.1), (45.3, 11.8, 2.7)],
        };
        for truth in [0.2, 0.33, 0.5, 0.67, 0.8] {
            let cover = mask.coverage((-truth, 0.0)).unwrap();
            let roi = crate::segment::Roi {
                x0: cover.x0 as u32,
                y0: cover.y0 as u32,
                x1: (cover.x0 + cover.w as i64) as u32,
                y1: (cover.y0 + cover.h as i64) as u32,
            };
            let bits = cover.values.iter().map(|&v| u8::from(v >= 0.5)).collect();
            let matte = crate::segment::Matte::from_bits(roi, bits);
            let trials: Vec<f64> = (-20..=20).map(|k| k as f64 * 0.05).collect();
            let ious: Vec<f64> = trials
                .iter()
                .map(|&s| mask.iou(&matte, (-s, 0.0)))
                .collect();
            let best = (0..trials.len())
                .max_by(|&a, &b| ious[a].total_cmp(&ious[b]))
                .unwrap();
            assert!(
                (trials[best] - truth).abs() <= 0.1,
                "shift {truth}: peak at {} (IoUs {ious:?})",
                trials[best]
            );
        }
    }
}
