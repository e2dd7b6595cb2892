//! replay360: free-viewpoint 360° replays and Spacetime Slices from a multi-camera capture.
//!
//! The pipeline flows one way (see ARCHITECTURE.md):
//! ingest → sync → segment → reconstruct → analyse → compose → render → export.
//! Everything up to `compose` is plain Rust without Bevy types; `render`, `export` and
//! `viewer` wrap it in Bevy.

// Index loops read better than iterator chains in the pixel and voxel code.
#![allow(clippy::needless_range_loop)]

pub mod analyse;
pub mod bench;
pub mod calibrate;
pub mod camera;
pub mod capture;
pub mod compose;
pub mod eval;
pub mod export;
pub mod formats;
pub mod ingest;
pub mod media;
pub mod pipeline;
pub mod reconstruct;
pub mod render;
pub mod segment;
pub mod sync;
pub mod synth;
pub mod util;
pub mod viewer;
