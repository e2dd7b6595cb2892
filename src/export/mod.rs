//! Export: composed views rendered offscreen and encoded to H.264 MP4 (yuv420p), frame N of the
//! file being output time N / fps of the sequence. The file is written under a temporary name
//! and renamed when complete; an error or Ctrl-C leaves nothing behind.

use crate::compose::ViewState;
use crate::media::{EncoderSettings, MediaError, VideoWriter};
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

#[derive(Debug, Clone)]
pub struct ExportSettings {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub crf: u32,
    pub preset: String,
}

impl ExportSettings {
    pub fn new(width: u32, height: u32, fps: f64) -> Self {
        Self {
            width,
            height,
            fps,
            crf: 18,
            preset: "veryfast".to_owned(),
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
    let requests: Vec<FrameRequest> = views
        .iter()
        .map(|v| FrameRequest::from_view(v, settings.width, settings.height))
        .collect();
    let start = Instant::now();
    let mut renderer = OffscreenRenderer::new(
        scene,
        FrameRequest::from_view(first, settings.width, settings.height),
        settings.width,
        settings.height,
    )?;
    let mut enc = EncoderSettings::new(settings.width, settings.height, settings.fps);
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
    let result = renderer.render(&requests, |i, img| {
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
    let render_s = start.elapsed().as_secs_f64();
    Ok(ExportReport {
        frames: n,
        width: settings.width,
        height: settings.height,
        fps: settings.fps,
        render_s,
        render_fps: n as f64 / render_s.max(1e-9),
    })
}
