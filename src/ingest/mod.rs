//! Ingest: opens the capture's camera files and streams their frames.
//!
//! Files are decoded as streams, one frame at a time ([`crate::media::VideoReader`]); a whole
//! video is never held in memory. [`sample_frames`] takes a handful of frames spread over a clip
//! for its background model, from the keyframes alone when there are enough, so each file is
//! decoded in full only once (by the segmentation pass).

use crate::capture::{Capture, CaptureCamera};
use crate::media::{MediaError, VideoReader};
use image::RgbImage;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(
        "camera {camera}: the video is {got_w}x{got_h} but the calibration says {want_w}x{want_h}: {path}"
    )]
    SizeMismatch {
        camera: String,
        path: PathBuf,
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
    #[error(
        "camera {camera}: the capture is segmented by alpha but the media has no alpha channel: {path}"
    )]
    NoAlpha { camera: String, path: PathBuf },
    #[error("camera {camera}: the capture is segmented by masks but this camera has none: {path}")]
    NoMask { camera: String, path: PathBuf },
    #[error("camera {camera}: the mask does not match the media: {problem}: {path}")]
    MaskMismatch {
        camera: String,
        problem: String,
        path: PathBuf,
    },
    #[error("camera {camera}: the video has no frames: {path}")]
    Empty { camera: String, path: PathBuf },
    #[error("camera {camera} is not in the capture (known: {known})")]
    UnknownCamera { camera: String, known: String },
    #[error("no cameras left to reconstruct from after holding out {held_out}")]
    NoCameras { held_out: String },
    #[error(
        "reconstruction needs at least two cameras that see the athlete, but only {have} can be read (held out: {held_out}): {path}"
    )]
    TooFewCameras {
        have: usize,
        held_out: String,
        path: PathBuf,
    },
}

/// Chooses the cameras reconstruction may read: all but the held-out ones. When `hold_out` is
/// `None`, the manifest's `held_out` flags decide.
pub fn select_cameras(
    capture: &Capture,
    hold_out: Option<&[String]>,
) -> Result<Vec<CaptureCamera>, IngestError> {
    if let Some(ids) = hold_out {
        for id in ids {
            if capture.camera(id).is_none() {
                return Err(IngestError::UnknownCamera {
                    camera: id.clone(),
                    known: capture
                        .cameras
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    let held = |c: &CaptureCamera| match hold_out {
        Some(ids) => ids.iter().any(|id| id == &c.id),
        None => c.held_out,
    };
    let chosen: Vec<CaptureCamera> = capture
        .cameras
        .iter()
        .filter(|c| !held(c))
        .cloned()
        .collect();
    let held_ids = || -> Vec<&str> {
        capture
            .cameras
            .iter()
            .filter(|c| held(c))
            .map(|c| c.id.as_str())
            .collect()
    };
    if chosen.is_empty() {
        return Err(IngestError::NoCameras {
            held_out: held_ids().join(", "),
        });
    }
    if chosen.len() < 2 {
        let held = held_ids();
        return Err(IngestError::TooFewCameras {
            have: chosen.len(),
            held_out: if held.is_empty() {
                "none".to_owned()
            } else {
                held.join(", ")
            },
            path: capture.manifest_path.clone(),
        });
    }
    Ok(chosen)
}

/// Thumbnail scale so thumbnails are at most ~320 pixels wide.
pub fn thumb_scale(width: u32) -> u32 {
    width.div_ceil(320).max(1)
}

/// Box-filtered RGB thumbnail.
pub fn thumbnail(img: &RgbImage, scale: u32) -> RgbImage {
    if scale <= 1 {
        return img.clone();
    }
    let (w, h) = ((img.width() / scale).max(1), (img.height() / scale).max(1));
    let mut out = vec![0u8; (w * h * 3) as usize];
    let raw = img.as_raw();
    let stride = img.width() as usize * 3;
    let n = scale * scale;
    for ty in 0..h {
        for tx in 0..w {
            let mut acc = [0u32; 3];
            for dy in 0..scale {
                let row = (ty * scale + dy) as usize * stride;
                for dx in 0..scale {
                    let i = row + (tx * scale + dx) as usize * 3;
                    for c in 0..3 {
                        acc[c] += raw.get(i + c).copied().unwrap_or(0) as u32;
                    }
                }
            }
            let o = ((ty * w + tx) * 3) as usize;
            for c in 0..3 {
                out[o + c] = (acc[c] / n) as u8;
            }
        }
    }
    RgbImage::from_raw(w, h, out).unwrap_or_else(|| RgbImage::new(w, h))
}

/// Up to `samples` frames spread over a file of the empty scene (a video or a single image).
pub fn background_samples(
    path: &std::path::Path,
    samples: usize,
) -> Result<Vec<RgbImage>, IngestError> {
    let mut reader = VideoReader::open(path, 1)?;
    let expected = reader.info().frame_count.unwrap_or(1).max(1);
    let stride = (expected as usize / samples.max(1)).max(1);
    let mut out = Vec::new();
    while let Some(frame) = reader.next_frame()? {
        if (frame.index as usize).is_multiple_of(stride) && out.len() < samples {
            out.push(frame.image);
        }
    }
    Ok(out)
}

/// Up to `samples` frames spread over a camera's clip for its background model. Keyframes are
/// used when the file has at least seven (then only they are decoded); otherwise the whole file
/// is decoded and sampled evenly.
pub fn sample_frames(camera: &CaptureCamera, samples: usize) -> Result<Vec<RgbImage>, IngestError> {
    let mut reader = VideoReader::open_keyframes(&camera.video)?;
    check_size(camera, &reader)?;
    let mut keys = Vec::new();
    while let Some(f) = reader.next_frame()? {
        keys.push(f.image);
        if keys.len() > 4 * samples.max(1) {
            // Thin out evenly to bound memory on very long files.
            keys = keys.into_iter().step_by(2).collect();
        }
    }
    if keys.len() >= 7 {
        let step = (keys.len() as f64 / samples.max(1) as f64).max(1.0);
        let picked = (0..samples.min(keys.len()))
            .map(|i| ((i as f64 * step) as usize).min(keys.len() - 1))
            .collect::<std::collections::BTreeSet<_>>();
        return Ok(keys
            .into_iter()
            .enumerate()
            .filter(|(i, _)| picked.contains(i))
            .map(|(_, f)| f)
            .collect());
    }
    let mut reader = VideoReader::open(&camera.video, 1)?;
    let expected = camera
        .frame_count
        .or(reader.info().frame_count)
        .unwrap_or(1)
        .max(1);
    let stride = (expected as usize / samples.max(1)).max(1);
    let mut out = Vec::new();
    while let Some(frame) = reader.next_frame()? {
        if frame.index as usize % stride == stride / 2 && out.len() < samples {
            out.push(frame.image);
        }
    }
    if out.is_empty() {
        return Err(IngestError::Empty {
            camera: camera.id.clone(),
            path: camera.video.clone(),
        });
    }
    Ok(out)
}

fn check_size(camera: &CaptureCamera, reader: &VideoReader) -> Result<(), IngestError> {
    let info = reader.info();
    let want = (
        camera.camera.intrinsics.width,
        camera.camera.intrinsics.height,
    );
    if (info.width, info.height) != want {
        return Err(IngestError::SizeMismatch {
            camera: camera.id.clone(),
            path: camera.video.clone(),
            got_w: info.width,
            got_h: info.height,
            want_w: want.0,
            want_h: want.1,
        });
    }
    Ok(())
}
