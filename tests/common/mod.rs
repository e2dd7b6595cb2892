//! Running the `replay360` binary from integration tests.

// Each test crate uses some of these.
#![allow(dead_code)]

use std::process::{Command, Output};

pub fn replay360(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replay360"))
        .args(args)
        .env("REPLAY360_NO_PROGRESS", "1")
        .output()
        .expect("run replay360")
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
