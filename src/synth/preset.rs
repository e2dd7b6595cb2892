//! Named synthetic captures.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Preset {
    pub name: String,
    /// Cameras the reconstruction reads.
    pub cameras: usize,
    /// Extra cameras, interleaved on the arc, that reconstruction never reads (the exam).
    pub held_out: usize,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Length of the window every camera covers (s). Each file is longer by twice the largest
    /// possible start offset, so the window is covered whatever the offsets turn out to be.
    pub duration: f64,
    /// Time from the start of the common window to take-off (s).
    pub pre_takeoff: f64,
    /// Largest start offset between cameras (s); each camera's offset is drawn in ±this.
    pub max_offset: f64,
    /// x264 quality of the camera files.
    pub crf: u32,
    /// Standard deviation of the sensor noise, in 8-bit code values.
    pub noise_sigma: f64,
}

impl Preset {
    pub fn names() -> &'static [&'static str] {
        &["tiny", "demo", "aerials16"]
    }

    pub fn by_name(name: &str) -> Option<Self> {
        let base =
            |name: &str, cameras, held_out, width, height, fps, duration, pre_takeoff| Preset {
                name: name.to_owned(),
                cameras,
                held_out,
                width,
                height,
                fps,
                duration,
                pre_takeoff,
                max_offset: 0.5,
                crf: 16,
                noise_sigma: 1.6,
            };
        match name {
            // For tests: small enough to synthesise and reconstruct in seconds.
            "tiny" => Some(base("tiny", 8, 2, 480, 270, 25.0, 3.1, 0.3)),
            // The embedded venue behind `replay360 demo`.
            "demo" => Some(base("demo", 16, 4, 1280, 720, 25.0, 3.6, 0.6)),
            // The standard benchmark workload.
            "aerials16" => Some(base("aerials16", 16, 4, 1920, 1080, 50.0, 3.0, 0.25)),
            _ => None,
        }
    }

    /// Frames in each camera file.
    pub fn frames_per_camera(&self) -> u64 {
        ((self.duration + 2.0 * self.max_offset) * self.fps).round() as u64
    }
}
