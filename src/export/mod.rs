//! Export: composed views rendered offscreen, frame N of the output being output time N / fps
//! of the sequence, as H.264 MP4 (yuv420p, delivery), ProRes 422 HQ MOV (designers), or a PNG
//! sequence with alpha (compositing; the venue is left out and the background is transparent).
//! Outputs are written under a temporary name and renamed when complete; an error or Ctrl-C
//! leaves nothing behind.

use crate::compose::ViewState;
use crate::media::{Codec, EncoderSettings, MediaError, VideoWriter};
use crate::render::{FrameRequest, OffscreenRenderer, RenderError, SceneData};
use crate::util::check_interrupt;
use image::RgbaImage;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("cannot write the still image ({source}): {path}")]
    Still {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("nothing to export: the sequence has no frames")]
    Empty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// H.264 yuv420p in MP4.
    Mp4,
    /// ProRes 422 HQ in MOV.
    ProRes,
    /// A folder of RGBA PNGs (`frame_00000.png` ...), transparent where there is no athlete.
    PngSequence,
}

impl ExportFormat {
    /// The format an output path asks for: `.mp4`, `.mov`, or anything else (a folder) for PNGs.
    pub fn from_path(path: &Path) -> Self {
        match path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("mp4") | Some("m4v") => Self::Mp4,
            Some("mov") => Self::ProRes,
            _ => Self::PngSequence,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExportSettings {
    pub format: ExportFormat,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub crf: u32,
    pub preset: String,
    /// Aspect ratio (width / height) the views were composed for; a narrower output (a 9:16
    /// version) re-frames them so the athlete stays as large.
    pub design_aspect: f64,
}

impl ExportSettings {
    pub fn new(width: u32, height: u32, fps: f64) -> Self {
        Self {
            format: ExportFormat::Mp4,
            width,
            height,
            fps,
            crf: 18,
            preset: "veryfast".to_owned(),
            design_aspect: width as f64 / height as f64,
        }
    }
}

/// Straight (not premultiplied) alpha for PNG: the renderer resolves coverage into both colour
/// and alpha, so edge pixels come out premultiplied.
fn unpremultiply(img: &mut RgbaImage) {
    for p in img.pixels_mut() {
        let a = p.0[3];
        if a > 0 && a < 255 {
            for c in 0..3 {
                p.0[c] = ((p.0[c] as u32 * 255 + a as u32 / 2) / a as u32).min(255) as u8;
            }
        }
    }
}

impl ExportReport {
    fn new(settings: &ExportSettings, frames: usize, start: Instant) -> Self {
        let render_s = start.elapsed().as_secs_f64();
        Self {
            frames,
            width: settings.width,
            height: settings.height,
            fps: settings.fps,
            render_s,
            render_fps: frames as f64 / render_s.max(1e-9),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportReport {
    pub frames: usize,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub render_s: f64,
    pub render_fps: f64,
}

/// Renders `views` into the MP4 `out`; frames listed in `stills` are also saved as PNG.
pub fn export(
    scene: SceneData,
    views: &[ViewState],
    settings: &ExportSettings,
    out: &Path,
    stills: &[(usize, PathBuf)],
) -> Result<ExportReport, ExportError> {
    let Some(first) = views.first() else {
        return Err(ExportError::Empty);
    };
    let request = |v: &ViewState| {
        let mut r =
            FrameRequest::from_view_fit(v, settings.width, settings.height, settings.design_aspect);
        if settings.format == ExportFormat::PngSequence {
            r.transparent = true;
            r.show_venue = false;
        }
        r
    };
    let requests: Vec<FrameRequest> = views.iter().map(request).collect();
    let start = Instant::now();
    let mut renderer =
        OffscreenRenderer::new(scene, request(first), settings.width, settings.height)?;
    export_requests(&mut renderer, &requests, settings, out, stills, start)
}

/// Renders ready-made requests with `renderer` into `out` (the format `settings` names);
/// frames listed in `stills` are also saved as PNG. `start` is when the work began (for the
/// reported rate). PNG sequences are written as the requests ask (set `transparent` for alpha).
pub fn export_requests(
    renderer: &mut OffscreenRenderer,
    requests: &[FrameRequest],
    settings: &ExportSettings,
    out: &Path,
    stills: &[(usize, PathBuf)],
    start: Instant,
) -> Result<ExportReport, ExportError> {
    if requests.is_empty() {
        return Err(ExportError::Empty);
    }
    if settings.format == ExportFormat::PngSequence {
        return export_pngs(renderer, requests, settings, out, start);
    }
    let mut enc = EncoderSettings::new(settings.width, settings.height, settings.fps);
    enc.codec = if settings.format == ExportFormat::ProRes {
        Codec::ProRes422Hq
    } else {
        Codec::H264
    };
    enc.crf = settings.crf;
    enc.preset = settings.preset.clone();
    let writer = VideoWriter::create(out, enc)?;
    // Encode on a second thread so rendering and encoding overlap; the bounded channel keeps
    // memory flat if the encoder falls behind.
    let (tx, rx) = sync_channel::<RgbaImage>(4);
    let encoder = std::thread::spawn(move || -> Result<(VideoWriter, usize), MediaError> {
        let mut writer = writer;
        let mut n = 0;
        for frame in rx {
            writer.write_rgba(&frame)?;
            n += 1;
        }
        Ok((writer, n))
    });
    let progress = crate::util::progress::bar(requests.len() as u64, "rendering");
    let mut still_error: Option<ExportError> = None;
    let result = renderer.render(requests, |i, img| {
        check_interrupt().map_err(|e| e.to_string())?;
        for (idx, path) in stills {
            if *idx == i
                && let Err(source) =
                    crate::util::images::save_png_rgb(&crate::util::images::rgba_to_rgb(&img), path)
            {
                still_error = Some(ExportError::Still {
                    path: path.clone(),
                    source,
                });
            }
        }
        progress.inc(1);
        tx.send(img).map_err(|_| "the encoder stopped".to_owned())
    });
    drop(tx);
    progress.finish_and_clear();
    let encoded = encoder.join().unwrap_or_else(|_| {
        Err(MediaError::Io {
            path: out.to_path_buf(),
            source: std::io::Error::other("the encoder thread panicked"),
        })
    });
    // Report the first failure: rendering, then encoding, then stills.
    result?;
    let (writer, n) = encoded?;
    if let Some(e) = still_error {
        return Err(e);
    }
    writer.finish()?;
    Ok(ExportReport::new(settings, n, start))
}

fn export_pngs(
    renderer: &mut OffscreenRenderer,
    requests: &[FrameRequest],
    settings: &ExportSettings,
    out: &Path,
    start: Instant,
) -> Result<ExportReport, ExportError> {
    let io = |source| {
        ExportError::Media(MediaError::Io {
            path: out.to_path_buf(),
            source,
        })
    };
    let dir = crate::util::AtomicDir::new(out).map_err(io)?;
    let progress = crate::util::progress::bar(requests.len() as u64, "rendering");
    let mut n = 0;
    let root = dir.path().to_path_buf();
    renderer.render(requests, |i, mut img| {
        check_interrupt().map_err(|e| e.to_string())?;
        unpremultiply(&mut img);
        let path = root.join(format!("frame_{i:05}.png"));
        img.save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| format!("{e}: {}", path.display()))?;
        n += 1;
        progress.inc(1);
        Ok(())
    })?;
    progress.finish_and_clear();
    dir.commit().map_err(io)?;
    Ok(ExportReport::new(settings, n, start))
}
