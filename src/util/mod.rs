//! Small shared services: atomic outputs, progress bars, clean interruption, image helpers.

pub mod atomic;
pub mod hash;
pub mod images;
pub mod interrupt;
pub mod progress;

pub use atomic::{AtomicDir, AtomicFile, write_atomic};
pub use interrupt::{Interrupted, check_interrupt};

/// `x.floor() as i64`, without the call into libm that `f64::floor` compiles to on the x86-64
/// baseline (no SSE4.1 rounding instruction): the carve, the sync refinement and the ground
/// matching take it millions of times. Saturates like the cast; NaN gives 0.
#[inline]
pub fn floor_i64(x: f64) -> i64 {
    let i = x as i64;
    if (i as f64) > x {
        i.saturating_sub(1)
    } else {
        i
    }
}

/// `x.ceil() as i64`, as [`floor_i64`].
#[inline]
pub fn ceil_i64(x: f64) -> i64 {
    let i = x as i64;
    if (i as f64) < x {
        i.saturating_add(1)
    } else {
        i
    }
}

/// Logs at debug level how long `what` took since `since` (`-vv` shows stage timings).
pub fn log_elapsed(what: &str, since: std::time::Instant) {
    tracing::debug!("{what} in {:.2} s", since.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::{ceil_i64, floor_i64};

    #[test]
    fn integer_floor_and_ceil_match_the_float_ones() {
        let xs = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.999,
            -2.999,
            1e-300,
            -1e-300,
            123456.75,
            -123456.75,
            4.5e15,
            -4.5e15,
            1e300,
            -1e300,
            f64::NAN,
        ];
        for x in xs {
            assert_eq!(floor_i64(x), x.floor() as i64, "floor of {x}");
            assert_eq!(ceil_i64(x), x.ceil() as i64, "ceil of {x}");
        }
    }
}
