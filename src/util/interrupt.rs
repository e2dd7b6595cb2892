//! Clean interruption: Ctrl-C sets a flag that long loops poll; they stop, drop their partial
//! outputs (see [`crate::util::atomic`]) and return [`Interrupted`].

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, thiserror::Error)]
#[error("interrupted by the user")]
pub struct Interrupted;

/// Installs the Ctrl-C handler (once; later calls are ignored).
pub fn install_handler() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Err(e) = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            // Second Ctrl-C: the user really wants out.
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupting: finishing the current step and cleaning up (Ctrl-C again to abort)"
        );
    }) {
        tracing::warn!("could not install the Ctrl-C handler: {e}");
    }
}

/// Returns `Err(Interrupted)` once the user has pressed Ctrl-C.
pub fn check_interrupt() -> Result<(), Interrupted> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        Err(Interrupted)
    } else {
        Ok(())
    }
}
