//! replay360: free-viewpoint 360° replays and Spacetime Slices from a multi-camera capture.
//!
//! The pipeline flows one way (see ARCHITECTURE.md):
//! ingest → sync → segment → reconstruct → analyse → compose → render → export.
//! Everything up to `compose` is plain Rust without Bevy types; `render`, `export` and
//! `viewer` wrap it in Bevy.

pub mod camera;
pub mod capture;
pub mod media;
pub mod synth;
pub mod util;
pub mod analyse;
pub mod ingest;
pub mod pipeline;
pub mod reconstruct;
pub mod segment;
pub mod sync;
pub mod compose;
pub mod render;
pub mod export;
pub mod eval;
pub mod viewer;
