//! Small shared services: atomic outputs, progress bars, clean interruption, image helpers.

pub mod atomic;
pub mod hash;
pub mod images;
pub mod interrupt;
pub mod progress;

pub use atomic::{AtomicDir, AtomicFile, write_atomic};
pub use interrupt::{Interrupted, check_interrupt};

/// Logs at debug level how long `what` took since `since` (`-vv` shows stage timings).
pub fn log_elapsed(what: &str, since: std::time::Instant) {
    tracing::debug!("{what} in {:.2} s", since.elapsed().as_secs_f64());
}
