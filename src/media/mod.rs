//! Video files through FFmpeg (ffmpeg-next): a streaming decoder that yields RGB frames one at
//! a time, and an H.264 writer used by the synthetic venue and the exporter.

mod decode;
mod encode;

pub use decode::{DecodedFrame, VideoInfo, VideoReader};
pub use encode::{Codec, EncoderSettings, VideoWriter};

use std::path::PathBuf;
use std::sync::Once;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("cannot open video ({source}): {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: ffmpeg_next::Error,
    },
    #[error("the file has no video stream: {path}")]
    NoVideoStream { path: PathBuf },
    #[error("video decoding failed at frame {frame} ({source}): {path}")]
    Decode {
        path: PathBuf,
        frame: u64,
        #[source]
        source: ffmpeg_next::Error,
    },
    #[error("video encoding failed ({what}: {source}): {path}")]
    Encode {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: ffmpeg_next::Error,
    },
    #[error("the encoder {encoder} is not available in this FFmpeg build: {path}")]
    NoEncoder {
        encoder: &'static str,
        path: PathBuf,
    },
    #[error("frame size {got_w}x{got_h} does not match the video's {want_w}x{want_h}: {path}")]
    FrameSize {
        path: PathBuf,
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
    #[error("{source}: {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Initialises FFmpeg once and quiets its logging to errors.
pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Err(e) = ffmpeg_next::init() {
            tracing::error!("FFmpeg failed to initialise: {e}");
        }
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Error);
    });
}
