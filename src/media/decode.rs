//! Streaming decode: one frame in memory at a time.

use super::{MediaError, init};
use ff::format::Pixel;
use ff::software::scaling::{context::Context as Scaler, flag::Flags};
use ffmpeg_next as ff;
use image::{GrayImage, RgbImage};
use std::path::{Path, PathBuf};

/// What the container says about a video stream.
#[derive(Debug, Clone)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Average frame rate from the container (0 when unknown).
    pub fps: f64,
    /// Frame count from the container header, when it states one.
    pub frame_count: Option<u64>,
}

/// One decoded frame.
pub struct DecodedFrame {
    /// Index in decode order, from 0.
    pub index: u64,
    /// Presentation time in seconds from the stream start, when the container has timestamps.
    pub pts_seconds: Option<f64>,
    pub image: RgbImage,
    /// The frame's alpha channel, when the reader was asked to keep it
    /// ([`VideoReader::keep_alpha`]) and the stream has one.
    pub alpha: Option<GrayImage>,
}

/// The most keyframes [`VideoReader::picked_keyframes`] keeps in memory while counting (their
/// packets: a few hundred kB each at 1080p).
pub const MAX_KEPT_KEYFRAMES: usize = 512;

/// Decodes a video file to RGB frames, one at a time.
pub struct VideoReader {
    path: PathBuf,
    input: ff::format::context::Input,
    stream_index: usize,
    decoder: ff::decoder::Video,
    scaler: Option<Scaler>,
    time_base: f64,
    start_pts: Option<i64>,
    info: VideoInfo,
    next_index: u64,
    eof_sent: bool,
    finished: bool,
    decoded: ff::frame::Video,
    keep_alpha: bool,
    /// Whether the scaler converts to RGBA (the stream has alpha and it is kept).
    rgba: bool,
}

// SAFETY: a `VideoReader` exclusively owns its FFmpeg demuxer, decoder and scaler contexts and
// only touches them through `&mut self`, so they are never used from two threads at once.
// FFmpeg contexts are not bound to the thread that created them; moving one between threads
// (what `Send` allows) is supported by FFmpeg.
unsafe impl Send for VideoReader {}

impl VideoReader {
    /// Opens `path` decoding only its keyframes: a cheap, even sample of a long file.
    pub fn open_keyframes(path: &Path) -> Result<Self, MediaError> {
        let mut r = Self::open(path, 1)?;
        r.decoder.skip_frame(ff::codec::discard::Discard::NonKey);
        Ok(r)
    }

    /// Decodes only the keyframes of `path` whose ordinals (0 for the file's first keyframe)
    /// are in `wanted`; the others' packets are never decoded. Each is decoded on its own (the
    /// decoder drained and reset after it), so skipped keyframes leave no gap in its state.
    pub fn some_keyframes(
        path: &Path,
        wanted: &std::collections::BTreeSet<usize>,
    ) -> Result<Vec<DecodedFrame>, MediaError> {
        let mut r = Self::open(path, 1)?;
        let index = r.stream_index;
        let last = wanted.last().copied().unwrap_or(0);
        let mut out = Vec::new();
        let mut ordinal = 0usize;
        while let Some((stream, packet)) = r.input.packets().next() {
            if stream.index() != index || !packet.is_key() {
                continue;
            }
            let k = ordinal;
            ordinal += 1;
            if !wanted.contains(&k) {
                continue;
            }
            r.decode_alone(&packet, k, &mut out)?;
            if k >= last {
                break;
            }
        }
        Ok(out)
    }

    /// The keyframes whose ordinals `pick` chooses, given how many the file has: one read of
    /// the file, the keyframes' packets kept while counting (a file with more than
    /// [`MAX_KEPT_KEYFRAMES`] is counted, then read again by [`VideoReader::some_keyframes`]).
    pub fn picked_keyframes(
        mut self,
        pick: impl FnOnce(usize) -> std::collections::BTreeSet<usize>,
    ) -> Result<Vec<DecodedFrame>, MediaError> {
        let index = self.stream_index;
        let mut kept = Vec::new();
        let mut count = 0usize;
        while let Some((stream, packet)) = self.input.packets().next() {
            if stream.index() == index && packet.is_key() {
                count += 1;
                if count <= MAX_KEPT_KEYFRAMES {
                    kept.push(packet);
                }
            }
        }
        let wanted = pick(count);
        if count > kept.len() {
            drop(kept);
            return Self::some_keyframes(&self.path, &wanted);
        }
        let mut out = Vec::new();
        for &k in &wanted {
            if let Some(packet) = kept.get(k) {
                self.decode_alone(packet, k, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Decodes keyframe `k`'s packet by itself (the decoder drained and reset after it); a
    /// packet the decoder refuses is a warning, not an error.
    fn decode_alone(
        &mut self,
        packet: &ff::Packet,
        k: usize,
        out: &mut Vec<DecodedFrame>,
    ) -> Result<(), MediaError> {
        if let Err(e) = self.decoder.send_packet(packet) {
            tracing::warn!(
                "keyframe {k} could not be decoded ({e}): {}",
                self.path.display()
            );
        } else {
            self.decoder.send_eof().map_err(|e| self.decode_err(e))?;
            while self.decoder.receive_frame(&mut self.decoded).is_ok() {
                out.push(self.convert()?);
            }
        }
        self.decoder.flush();
        Ok(())
    }

    /// The number of keyframes in the file, from its packets alone (nothing is decoded; the
    /// reader is used up).
    pub fn count_keyframes(mut self) -> usize {
        let index = self.stream_index;
        self.input
            .packets()
            .filter(|(stream, packet)| stream.index() == index && packet.is_key())
            .count()
    }

    /// Opens `path`. `threads` is FFmpeg's decoder thread count (0 lets FFmpeg choose).
    pub fn open(path: &Path, threads: usize) -> Result<Self, MediaError> {
        init();
        let open_err = |source| MediaError::Open {
            path: path.to_path_buf(),
            source,
        };
        let input = ff::format::input(&path).map_err(open_err)?;
        let stream = input
            .streams()
            .best(ff::media::Type::Video)
            .ok_or_else(|| MediaError::NoVideoStream {
                path: path.to_path_buf(),
            })?;
        let stream_index = stream.index();
        let tb = stream.time_base();
        let time_base = if tb.denominator() != 0 {
            f64::from(tb)
        } else {
            0.0
        };
        let rate = stream.avg_frame_rate();
        let fps = if rate.denominator() != 0 && rate.numerator() > 0 {
            f64::from(rate)
        } else {
            let r = stream.rate();
            if r.denominator() != 0 {
                f64::from(r)
            } else {
                0.0
            }
        };
        let frames = stream.frames();
        let mut ctx =
            ff::codec::context::Context::from_parameters(stream.parameters()).map_err(open_err)?;
        if threads != 1 {
            ctx.set_threading(ff::codec::threading::Config {
                kind: ff::codec::threading::Type::Frame,
                count: threads,
                ..Default::default()
            });
        }
        let decoder = ctx.decoder().video().map_err(open_err)?;
        let info = VideoInfo {
            width: decoder.width(),
            height: decoder.height(),
            fps,
            frame_count: (frames > 0).then_some(frames as u64),
        };
        Ok(Self {
            path: path.to_path_buf(),
            input,
            stream_index,
            decoder,
            scaler: None,
            time_base,
            start_pts: None,
            info,
            next_index: 0,
            eof_sent: false,
            finished: false,
            decoded: ff::frame::Video::empty(),
            keep_alpha: false,
            rgba: false,
        })
    }

    /// Also return each frame's alpha channel ([`DecodedFrame::alpha`]) when the stream's pixel
    /// format has one.
    pub fn keep_alpha(&mut self) {
        self.keep_alpha = true;
    }

    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn decode_err(&self, source: ff::Error) -> MediaError {
        MediaError::Decode {
            path: self.path.clone(),
            frame: self.next_index,
            source,
        }
    }

    /// The next frame, or `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<DecodedFrame>, MediaError> {
        loop {
            if self.finished {
                return Ok(None);
            }
            match self.decoder.receive_frame(&mut self.decoded) {
                Ok(()) => return self.convert().map(Some),
                Err(ff::Error::Eof) => {
                    self.finished = true;
                    return Ok(None);
                }
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {}
                Err(e) => return Err(self.decode_err(e)),
            }
            if self.eof_sent {
                // Drained after EOF without a frame: done.
                self.finished = true;
                return Ok(None);
            }
            // Feed the decoder the next packet of our stream.
            let mut fed = false;
            while let Some((stream, packet)) = self.input.packets().next() {
                if stream.index() == self.stream_index {
                    match self.decoder.send_packet(&packet) {
                        Ok(()) => {}
                        // Corrupt packets: FFmpeg conceals what it can; report the rest.
                        Err(ff::Error::InvalidData) => {
                            tracing::warn!(
                                "corrupt packet before frame {} skipped: {}",
                                self.next_index,
                                self.path.display()
                            );
                        }
                        Err(e) => return Err(self.decode_err(e)),
                    }
                    fed = true;
                    break;
                }
            }
            if !fed {
                self.decoder.send_eof().map_err(|e| self.decode_err(e))?;
                self.eof_sent = true;
            }
        }
    }

    fn convert(&mut self) -> Result<DecodedFrame, MediaError> {
        let (w, h) = (self.decoded.width(), self.decoded.height());
        if self.scaler.is_none() {
            let format = self.decoded.format();
            self.rgba = self.keep_alpha && has_alpha(format);
            let scaler = Scaler::get(
                format,
                w,
                h,
                if self.rgba { Pixel::RGBA } else { Pixel::RGB24 },
                w,
                h,
                Flags::BILINEAR,
            )
            .map_err(|e| self.decode_err(e))?;
            self.scaler = Some(scaler);
        }
        let mut rgb = ff::frame::Video::empty();
        if let Some(scaler) = self.scaler.as_mut() {
            scaler
                .run(&self.decoded, &mut rgb)
                .map_err(|e| MediaError::Decode {
                    path: self.path.clone(),
                    frame: self.next_index,
                    source: e,
                })?;
        }
        let stride = rgb.stride(0);
        let data = rgb.data(0);
        let row = w as usize * 3;
        let mut buf = Vec::with_capacity(row * h as usize);
        let mut alpha = None;
        if self.rgba {
            let mut a = Vec::with_capacity(w as usize * h as usize);
            for y in 0..h as usize {
                for px in data[y * stride..y * stride + 4 * w as usize].chunks_exact(4) {
                    buf.extend_from_slice(&px[..3]);
                    a.push(px[3]);
                }
            }
            alpha = GrayImage::from_raw(w, h, a);
        } else {
            for y in 0..h as usize {
                buf.extend_from_slice(&data[y * stride..y * stride + row]);
            }
        }
        let image = RgbImage::from_raw(w, h, buf).ok_or_else(|| MediaError::Decode {
            path: self.path.clone(),
            frame: self.next_index,
            source: ff::Error::InvalidData,
        })?;
        let pts = self.decoded.timestamp().or(self.decoded.pts());
        let pts_seconds = pts.map(|p| {
            let start = *self.start_pts.get_or_insert(p);
            (p - start) as f64 * self.time_base
        });
        let index = self.next_index;
        self.next_index += 1;
        Ok(DecodedFrame {
            index,
            pts_seconds,
            image,
            alpha,
        })
    }
}

/// Whether a pixel format carries alpha: two or four components (grey + alpha, RGBA, YUVA), or
/// a palette (whose entries may be transparent).
fn has_alpha(format: Pixel) -> bool {
    format == Pixel::PAL8
        || format
            .descriptor()
            .is_some_and(|d| matches!(d.nb_components(), 2 | 4))
}

impl Iterator for VideoReader {
    type Item = Result<DecodedFrame, MediaError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().transpose()
    }
}

#[cfg(test)]
mod keyframe_tests {
    use super::*;
    use crate::media::{EncoderSettings, VideoWriter};

    /// Every other keyframe decoded on its own equals the same keyframe from a keyframe-only
    /// pass over the whole file (x264 with B-frames, a keyframe every 4 frames), and the count
    /// from the packets matches.
    #[test]
    fn selected_keyframes_match_a_full_keyframe_pass() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clip.mp4");
        let mut settings = EncoderSettings::new(64, 48, 25.0);
        settings.gop = 4;
        let mut w = VideoWriter::create(&path, settings).expect("encoder");
        for k in 0..30u32 {
            let img = RgbImage::from_fn(64, 48, |x, y| {
                image::Rgb([(x * 4 + k * 7) as u8, (y * 5) as u8, (k * 8) as u8])
            });
            w.write_rgb(&img).expect("frame");
        }
        w.finish().expect("finish");

        let mut all = Vec::new();
        let mut r = VideoReader::open_keyframes(&path).expect("open");
        while let Some(f) = r.next_frame().expect("decode") {
            all.push(f.image);
        }
        let n = VideoReader::open(&path, 1).expect("open").count_keyframes();
        assert_eq!(n, all.len());
        assert!(n >= 7, "{n} keyframes");
        let wanted: std::collections::BTreeSet<usize> = (0..n).step_by(2).collect();
        let some = VideoReader::some_keyframes(&path, &wanted).expect("some keyframes");
        assert_eq!(some.len(), wanted.len());
        for (f, &i) in some.iter().zip(&wanted) {
            assert!(f.image == all[i], "keyframe {i} differs");
        }
        // The same keyframes from one read, picked once the count is known.
        let reader = VideoReader::open(&path, 1).expect("open");
        let picked = reader
            .picked_keyframes(|count| {
                assert_eq!(count, n);
                wanted.clone()
            })
            .expect("picked keyframes");
        assert_eq!(picked.len(), wanted.len());
        for (f, &i) in picked.iter().zip(&wanted) {
            assert!(f.image == all[i], "picked keyframe {i} differs");
        }
    }
}
