//! Running the `replay360` binary from integration tests.

// Each test crate uses some of these.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root. Read at run time (cargo sets it for tests), not baked in at compile time:
/// a test binary cached from a clone elsewhere must still look beside *this* checkout.
pub fn repo() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn replay360(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replay360"))
        .args(args)
        .env("REPLAY360_NO_PROGRESS", "1")
        .output()
        .expect("run replay360")
}

/// Synthesises the tiny preset into `out` with `seed`.
pub fn synth_tiny(out: &str, seed: u64) {
    ok(&[
        "synth",
        "--preset",
        "tiny",
        "--out",
        out,
        "--seed",
        &seed.to_string(),
    ]);
}

/// Runs a command that must succeed; its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = replay360(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay360 {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail saying why; its stderr.
pub fn fails(args: &[&str]) -> String {
    let out = replay360(args);
    assert!(!out.status.success(), "replay360 {args:?} should fail");
    assert!(!out.stderr.is_empty(), "a failure says why");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// How far a render may stray from its golden image.
pub struct Tolerance {
    /// A pixel is off when a channel differs by more than this (code values).
    pub per_pixel: u8,
    /// At most this fraction of pixels may be off.
    pub off_fraction: f64,
    /// The mean of each pixel's largest channel difference stays under this.
    pub mean: f64,
}

/// Compares `img` (RGB; alpha is not compared) with `tests/golden/<name>.png`.
/// `REPLAY360_UPDATE_GOLDEN=1` rewrites the golden image first (look at it before committing).
pub fn assert_golden(img: &image::RgbaImage, name: &str, tolerance: &Tolerance) {
    let path = repo().join(format!("tests/golden/{name}.png"));
    if std::env::var_os("REPLAY360_UPDATE_GOLDEN").is_some() {
        img.save(&path).expect("write golden");
    }
    let golden = image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "{e} (REPLAY360_UPDATE_GOLDEN=1 creates it): {}",
                path.display()
            )
        })
        .to_rgba8();
    assert_eq!(golden.dimensions(), img.dimensions(), "{name}");
    let (mut off, mut sum) = (0usize, 0u64);
    for (a, b) in img.pixels().zip(golden.pixels()) {
        let d = (0..3).map(|c| a.0[c].abs_diff(b.0[c])).max().unwrap_or(0);
        sum += d as u64;
        if d > tolerance.per_pixel {
            off += 1;
        }
    }
    let n = (img.width() * img.height()) as usize;
    let mean = sum as f64 / n as f64;
    assert!(
        off as f64 <= tolerance.off_fraction * n as f64,
        "{name}: {off} of {n} pixels differ from the golden image by more than {}",
        tolerance.per_pixel
    );
    assert!(mean < tolerance.mean, "{name}: mean difference {mean:.2}");
}
