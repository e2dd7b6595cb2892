//! Video writer: H.264 (libx264) in MP4 for delivery, ProRes 422 HQ (prores_ks) in MOV for
//! designers. Frames go in as RGB or RGBA; the file is written under a temporary name and
//! renamed into place by [`VideoWriter::finish`].

use super::{MediaError, init};
use crate::util::AtomicFile;
use ff::format::Pixel;
use ff::software::scaling::{context::Context as Scaler, flag::Flags};
use ffmpeg_next as ff;
use std::path::{Path, PathBuf};

/// The codec and container of an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// H.264 High profile, yuv420p, in MP4.
    H264,
    /// Apple ProRes 422 HQ, 10-bit 4:2:2, in QuickTime MOV.
    ProRes422Hq,
}

impl Codec {
    fn encoder(self) -> &'static str {
        match self {
            Codec::H264 => "libx264",
            Codec::ProRes422Hq => "prores_ks",
        }
    }
    fn container(self) -> &'static str {
        match self {
            Codec::H264 => "mp4",
            Codec::ProRes422Hq => "mov",
        }
    }
    fn pixel(self) -> Pixel {
        match self {
            Codec::H264 => Pixel::YUV420P,
            Codec::ProRes422Hq => Pixel::YUV422P10LE,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EncoderSettings {
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    /// Frames per second; the frame rate is written as an exact rational (fps * 1000 / 1000).
    pub fps: f64,
    /// x264 constant rate factor (lower is better; 18 is visually lossless for most content).
    pub crf: u32,
    /// x264 preset (ultrafast ... veryslow).
    pub preset: String,
    /// Keyframe interval in frames.
    pub gop: u32,
    /// x264 thread count (0 = automatic).
    pub threads: usize,
}

impl EncoderSettings {
    pub fn new(width: u32, height: u32, fps: f64) -> Self {
        Self {
            codec: Codec::H264,
            width,
            height,
            fps,
            crf: 18,
            preset: "veryfast".to_owned(),
            gop: (fps.round() as u32).max(1),
            threads: 0,
        }
    }
}

pub struct VideoWriter {
    file: Option<AtomicFile>,
    path: PathBuf,
    output: ff::format::context::Output,
    encoder: ff::encoder::Video,
    scaler_rgb: Option<Scaler>,
    scaler_rgba: Option<Scaler>,
    settings: EncoderSettings,
    time_base: ff::Rational,
    stream_time_base: ff::Rational,
    frames: i64,
}

// SAFETY: the writer exclusively owns its FFmpeg muxer, encoder and scaler contexts and only
// uses them through `&mut self`; FFmpeg contexts may move between threads.
unsafe impl Send for VideoWriter {}

fn rational_fps(fps: f64) -> ff::Rational {
    let milli = (fps * 1000.0).round() as i32;
    let g = gcd(milli, 1000);
    ff::Rational::new(milli / g, 1000 / g)
}

fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 {
        a.abs().max(1)
    } else {
        gcd(b, a % b)
    }
}

impl VideoWriter {
    /// Creates `path` (written as a temporary file until [`VideoWriter::finish`]).
    pub fn create(path: &Path, settings: EncoderSettings) -> Result<Self, MediaError> {
        init();
        let io_err = |source| MediaError::Io {
            path: path.to_path_buf(),
            source,
        };
        let enc_err = |what: &'static str| {
            let path = path.to_path_buf();
            move |source| MediaError::Encode {
                path: path.clone(),
                what,
                source,
            }
        };
        if !settings.width.is_multiple_of(2) || !settings.height.is_multiple_of(2) {
            return Err(MediaError::FrameSize {
                path: path.to_path_buf(),
                got_w: settings.width,
                got_h: settings.height,
                want_w: settings.width & !1,
                want_h: settings.height & !1,
            });
        }
        let file = AtomicFile::new(path).map_err(io_err)?;
        let mut output = ff::format::output_as(file.temp_path(), settings.codec.container())
            .map_err(enc_err("opening the MP4 muxer"))?;
        let codec = ff::encoder::find_by_name(settings.codec.encoder()).ok_or_else(|| {
            MediaError::NoEncoder {
                encoder: settings.codec.encoder(),
                path: path.to_path_buf(),
            }
        })?;
        let global_header = output
            .format()
            .flags()
            .contains(ff::format::Flags::GLOBAL_HEADER);
        let frame_rate = rational_fps(settings.fps);
        let time_base = frame_rate.invert();
        let mut stream = output
            .add_stream(codec)
            .map_err(enc_err("adding the video stream"))?;
        let mut ctx = ff::codec::context::Context::new_with_codec(codec);
        if settings.threads > 0 {
            ctx.set_threading(ff::codec::threading::Config {
                kind: ff::codec::threading::Type::Frame,
                count: settings.threads,
                ..Default::default()
            });
        }
        let mut enc = ctx
            .encoder()
            .video()
            .map_err(enc_err("creating the encoder"))?;
        enc.set_width(settings.width);
        enc.set_height(settings.height);
        enc.set_format(settings.codec.pixel());
        enc.set_time_base(time_base);
        enc.set_frame_rate(Some(frame_rate));
        enc.set_gop(settings.gop);
        if global_header {
            enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
        }
        let mut opts = ff::Dictionary::new();
        match settings.codec {
            Codec::H264 => {
                opts.set("preset", &settings.preset);
                opts.set("crf", &settings.crf.to_string());
            }
            Codec::ProRes422Hq => {
                // prores_ks profile 3 is 422 HQ; apl0 marks the stream as Apple's.
                opts.set("profile", "3");
                opts.set("vendor", "apl0");
            }
        }
        let encoder = enc.open_with(opts).map_err(enc_err("opening libx264"))?;
        stream.set_parameters(&encoder);
        stream.set_time_base(time_base);
        stream.set_avg_frame_rate(frame_rate);
        output
            .write_header()
            .map_err(enc_err("writing the MP4 header"))?;
        let stream_time_base = output.stream(0).map(|s| s.time_base()).unwrap_or(time_base);
        Ok(Self {
            file: Some(file),
            path: path.to_path_buf(),
            output,
            encoder,
            scaler_rgb: None,
            scaler_rgba: None,
            settings,
            time_base,
            stream_time_base,
            frames: 0,
        })
    }

    pub fn frames_written(&self) -> i64 {
        self.frames
    }

    fn check_size(&self, w: u32, h: u32) -> Result<(), MediaError> {
        if w != self.settings.width || h != self.settings.height {
            return Err(MediaError::FrameSize {
                path: self.path.clone(),
                got_w: w,
                got_h: h,
                want_w: self.settings.width,
                want_h: self.settings.height,
            });
        }
        Ok(())
    }

    /// Appends one RGB frame.
    pub fn write_rgb(&mut self, img: &image::RgbImage) -> Result<(), MediaError> {
        self.check_size(img.width(), img.height())?;
        self.write_raw(img.as_raw(), Pixel::RGB24, 3)
    }

    /// Appends one RGBA frame (alpha ignored).
    pub fn write_rgba(&mut self, img: &image::RgbaImage) -> Result<(), MediaError> {
        self.check_size(img.width(), img.height())?;
        self.write_raw(img.as_raw(), Pixel::RGBA, 4)
    }

    fn write_raw(&mut self, data: &[u8], format: Pixel, bpp: usize) -> Result<(), MediaError> {
        let (w, h) = (self.settings.width, self.settings.height);
        let mut src = ff::frame::Video::new(format, w, h);
        let stride = src.stride(0);
        let row = w as usize * bpp;
        {
            let dst = src.data_mut(0);
            for y in 0..h as usize {
                dst[y * stride..y * stride + row].copy_from_slice(&data[y * row..(y + 1) * row]);
            }
        }
        let path = self.path.clone();
        let slot = if format == Pixel::RGB24 {
            &mut self.scaler_rgb
        } else {
            &mut self.scaler_rgba
        };
        if slot.is_none() {
            *slot = Some(
                Scaler::get(
                    format,
                    w,
                    h,
                    self.settings.codec.pixel(),
                    w,
                    h,
                    Flags::BICUBIC,
                )
                .map_err(|source| MediaError::Encode {
                    path: path.clone(),
                    what: "creating the colour converter",
                    source,
                })?,
            );
        }
        let mut yuv = ff::frame::Video::empty();
        if let Some(scaler) = slot.as_mut() {
            scaler
                .run(&src, &mut yuv)
                .map_err(|source| MediaError::Encode {
                    path: path.clone(),
                    what: "converting RGB to YUV",
                    source,
                })?;
        }
        yuv.set_pts(Some(self.frames));
        self.frames += 1;
        self.encoder
            .send_frame(&yuv)
            .map_err(|source| MediaError::Encode {
                path: path.clone(),
                what: "sending a frame to libx264",
                source,
            })?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), MediaError> {
        let mut packet = ff::Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            packet.rescale_ts(self.time_base, self.stream_time_base);
            packet
                .write_interleaved(&mut self.output)
                .map_err(|source| MediaError::Encode {
                    path: self.path.clone(),
                    what: "writing a packet",
                    source,
                })?;
        }
        Ok(())
    }

    /// Flushes the encoder, writes the trailer and renames the file into place.
    pub fn finish(mut self) -> Result<PathBuf, MediaError> {
        self.encoder
            .send_eof()
            .map_err(|source| MediaError::Encode {
                path: self.path.clone(),
                what: "flushing libx264",
                source,
            })?;
        self.drain()?;
        self.output
            .write_trailer()
            .map_err(|source| MediaError::Encode {
                path: self.path.clone(),
                what: "writing the MP4 trailer",
                source,
            })?;
        let file = self.file.take();
        match file {
            Some(f) => f.commit().map_err(|source| MediaError::Io {
                path: self.path.clone(),
                source,
            }),
            None => Ok(self.path.clone()),
        }
    }
}
