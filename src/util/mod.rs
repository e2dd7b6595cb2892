//! Small shared services: atomic outputs, progress bars, clean interruption, image helpers.

pub mod atomic;
pub mod hash;
pub mod images;
pub mod interrupt;
pub mod progress;

pub use atomic::{AtomicDir, AtomicFile, write_atomic};
pub use interrupt::{Interrupted, check_interrupt};
