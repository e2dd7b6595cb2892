//! Curves and easing for camera paths and time remapping.

use nalgebra::Point3;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Ease {
    Linear,
    /// Slow in, slow out (smootherstep).
    #[default]
    InOut,
    In,
    Out,
}

impl Ease {
    pub fn apply(self, t: f64) -> f64 {
        let t = t.clamp(0.0, 1.0);
        match self {
            Ease::Linear => t,
            Ease::InOut => t * t * t * (t * (t * 6.0 - 15.0) + 10.0),
            Ease::In => t * t * t,
            Ease::Out => 1.0 - (1.0 - t).powi(3),
        }
    }
}

/// Centripetal Catmull-Rom through `pts` at parameter `u` in [0, pts.len() - 1]
/// (no cusps or self-intersections, even with uneven spacing).
pub fn catmull_rom(pts: &[Point3<f64>], u: f64) -> Point3<f64> {
    let n = pts.len();
    match n {
        0 => return Point3::origin(),
        1 => return pts[0],
        _ => {}
    }
    let u = u.clamp(0.0, (n - 1) as f64);
    let i = (u.floor() as usize).min(n - 2);
    let s = u - i as f64;
    let p1 = pts[i];
    let p2 = pts[i + 1];
    let p0 = if i > 0 { pts[i - 1] } else { p1 + (p1 - p2) };
    let p3 = if i + 2 < n {
        pts[i + 2]
    } else {
        p2 + (p2 - p1)
    };
    let knot = |a: &Point3<f64>, b: &Point3<f64>| (b - a).norm().sqrt().max(1e-6);
    let t0 = 0.0;
    let t1 = t0 + knot(&p0, &p1);
    let t2 = t1 + knot(&p1, &p2);
    let t3 = t2 + knot(&p2, &p3);
    let t = t1 + s * (t2 - t1);
    let lerp = |a: &Point3<f64>, b: &Point3<f64>, ta: f64, tb: f64| {
        let w = (t - ta) / (tb - ta);
        a + (b - a) * w
    };
    let a1 = lerp(&p0, &p1, t0, t1);
    let a2 = lerp(&p1, &p2, t1, t2);
    let a3 = lerp(&p2, &p3, t2, t3);
    let b1 = lerp(&a1, &a2, t0, t2);
    let b2 = lerp(&a2, &a3, t1, t3);
    lerp(&b1, &b2, t1, t2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catmull_rom_passes_through_its_points() {
        let pts = [
            Point3::new(0.0, 0.0, 0.0),
            Point3::new(1.0, 2.0, 0.0),
            Point3::new(5.0, 2.0, 1.0),
            Point3::new(6.0, -1.0, 1.0),
        ];
        for (i, p) in pts.iter().enumerate() {
            assert!((catmull_rom(&pts, i as f64) - p).norm() < 1e-9);
        }
        let mid = catmull_rom(&pts, 1.5);
        assert!(mid.x > 1.0 && mid.x < 5.0);
    }

    #[test]
    fn easing_is_monotonic_with_fixed_ends() {
        for e in [Ease::Linear, Ease::InOut, Ease::In, Ease::Out] {
            assert_eq!(e.apply(0.0), 0.0);
            assert!((e.apply(1.0) - 1.0).abs() < 1e-12);
            let mut prev = 0.0;
            for i in 1..=100 {
                let v = e.apply(i as f64 / 100.0);
                assert!(v >= prev);
                prev = v;
            }
        }
        // Ease in/out starts and ends slowly.
        assert!(Ease::InOut.apply(0.05) < 0.01);
    }
}
