//! The athlete's motion around an instant as a rigid body: a pivot moving at a linear velocity
//! and the body turning about it at an angular velocity.
//!
//! Cameras are not genlocked: each camera's nearest frame is up to half a frame away from the
//! instant being reconstructed. A somersaulting, twisting athlete turns by 20° or more in a
//! frame at 25 fps, so a ski tip a metre from the centre moves 10-20 cm between a camera's
//! frame and the instant; moving the silhouette by the athlete's image motion (a translation)
//! leaves the turn, and cameras whose frames are off carve away the skis and limbs that turned
//! through their mattes. [`Motion`] gives the turn too: the hull is carved with each camera's
//! pose composed with the body's motion from the instant to that camera's frame, so every
//! camera looks at the body as it was when its frame was taken. The same motion moves a
//! reconstructed instant to a time between instants when it is drawn.
//!
//! The motion is measured from the hulls themselves: a coarse hull per instant, registered to
//! the next by iterative closest points ([`register`]).

use crate::util::floor_i64;
use nalgebra::{Isometry3, Matrix3, Point3, Rotation3, Translation3, UnitQuaternion, Vector3};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Rigid motion around an instant (world axes; metres, seconds, radians).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Motion {
    /// The point the body turns about, at the instant (the hull's centroid).
    pub pivot: [f64; 3],
    /// The pivot's velocity (m/s).
    pub linear: [f64; 3],
    /// The body's angular velocity: axis times rate (rad/s).
    pub angular: [f64; 3],
}

impl Motion {
    /// The rigid transform taking the body at the instant to the body `dt` seconds later.
    pub fn at(&self, dt: f64) -> Isometry3<f64> {
        let pivot = Vector3::from(self.pivot);
        let rotation = UnitQuaternion::from_scaled_axis(Vector3::from(self.angular) * dt);
        let moved = pivot + Vector3::from(self.linear) * dt;
        // p -> moved + R (p - pivot)
        Isometry3::from_parts(Translation3::from(moved - rotation * pivot), rotation)
    }

    /// Translation only: the pivot moving, no turn.
    pub fn translation(pivot: Point3<f64>, linear: Vector3<f64>) -> Self {
        Self {
            pivot: pivot.coords.into(),
            linear: linear.into(),
            angular: [0.0; 3],
        }
    }

    /// The motion of a body that goes from `from` at time 0 to `to` (the transform taking the
    /// first to the second) over `dt` seconds, about `pivot` (where the body is at time 0).
    pub fn from_step(step: &Isometry3<f64>, pivot: Point3<f64>, dt: f64) -> Self {
        let moved = step * pivot;
        Self {
            pivot: pivot.coords.into(),
            linear: ((moved - pivot) / dt).into(),
            angular: (step.rotation.scaled_axis() / dt).into(),
        }
    }

    /// The motion with each velocity averaged with `other`'s (the pivot stays this one's).
    pub fn averaged(&self, other: &Motion) -> Self {
        let mean = |a: [f64; 3], b: [f64; 3]| {
            [
                0.5 * (a[0] + b[0]),
                0.5 * (a[1] + b[1]),
                0.5 * (a[2] + b[2]),
            ]
        };
        Self {
            pivot: self.pivot,
            linear: mean(self.linear, other.linear),
            angular: mean(self.angular, other.angular),
        }
    }

    pub fn angular_speed(&self) -> f64 {
        Vector3::from(self.angular).norm()
    }
}

/// What [`register`] found: the transform taking the first cloud onto the second, and how much
/// of the first it then matches.
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    pub transform: Isometry3<f64>,
    /// Fraction of the first cloud's points (of those registered) within the final reach of a
    /// point of the second.
    pub matched: f64,
}

/// Points of a cloud binned on a grid, for nearest-neighbour queries within about a cell.
/// (Thinning the cloud to a point per quarter cell while the reach is wide saved a fifth of
/// the registrations' time on aerials16 but measured the tiny capture's turns worse: median
/// error 3.2 against 2.4 rad/s.)
struct Grid<'a> {
    cell: f64,
    bins: HashMap<u64, Vec<u32>, BuildHasherDefault<CellHasher>>,
    points: &'a [Point3<f64>],
}

/// A multiplicative hash for packed cell keys (the default SipHash was most of the time of a
/// registration: 27 lookups per query).
#[derive(Default)]
struct CellHasher(u64);

impl Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u64(&mut self, k: u64) {
        self.0 = (self.0 ^ k)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

impl<'a> Grid<'a> {
    fn new(points: &'a [Point3<f64>], cell: f64) -> Self {
        let mut bins: HashMap<u64, Vec<u32>, BuildHasherDefault<CellHasher>> = HashMap::default();
        for (i, p) in points.iter().enumerate() {
            bins.entry(Self::key(p, cell)).or_default().push(i as u32);
        }
        Self { cell, bins, points }
    }

    fn key(p: &Point3<f64>, cell: f64) -> u64 {
        let c = |v: f64| floor_i64(v / cell);
        Self::pack(c(p.x), c(p.y), c(p.z))
    }

    /// Cell coordinates packed 21 bits each (a million cells either way of the origin).
    fn pack(i: i64, j: i64, k: i64) -> u64 {
        let f = |v: i64| (v as u64) & 0x1F_FFFF;
        f(i) | f(j) << 21 | f(k) << 42
    }

    /// The nearest point within `reach` of `p`.
    fn nearest(&self, p: &Point3<f64>, reach: f64) -> Option<(u32, f64)> {
        let c = |v: f64| floor_i64(v / self.cell);
        let k = [c(p.x), c(p.y), c(p.z)];
        let r = (reach / self.cell).ceil() as i64;
        let mut best: Option<(u32, f64)> = None;
        for dz in -r..=r {
            for dy in -r..=r {
                for dx in -r..=r {
                    let Some(bin) = self.bins.get(&Self::pack(k[0] + dx, k[1] + dy, k[2] + dz))
                    else {
                        continue;
                    };
                    for &i in bin {
                        let d2 = (self.points[i as usize] - p).norm_squared();
                        if d2 <= reach * reach && best.is_none_or(|(_, b)| d2 < b) {
                            best = Some((i, d2));
                        }
                    }
                }
            }
        }
        best.map(|(i, d2)| (i, d2.sqrt()))
    }
}

/// The rotation and translation that best take `a` onto `b` (pairs, least squares: Kabsch).
fn best_rigid(a: &[Point3<f64>], b: &[Point3<f64>]) -> Option<Isometry3<f64>> {
    let n = a.len();
    if n < 3 {
        return None;
    }
    let ca = a.iter().fold(Vector3::zeros(), |s, p| s + p.coords) / n as f64;
    let cb = b.iter().fold(Vector3::zeros(), |s, p| s + p.coords) / n as f64;
    let mut h = Matrix3::zeros();
    for (p, q) in a.iter().zip(b) {
        h += (p.coords - ca) * (q.coords - cb).transpose();
    }
    let svd = h.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    let v = v_t.transpose();
    let d = (v * u.transpose()).determinant().signum();
    let r = v * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, d)) * u.transpose();
    let rotation = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(r));
    let translation = cb - rotation * ca;
    Some(Isometry3::from_parts(
        Translation3::from(translation),
        rotation,
    ))
}

/// Registers cloud `a` onto cloud `b` by iterative closest points from `init`: each round
/// pairs every point of `a` (moved by the current transform) with the nearest point of `b`
/// within a reach that shrinks from `start_reach` to `end_reach`, and solves for the rigid
/// transform of the pairs. `None` when too few points pair up.
pub fn register(
    a: &[Point3<f64>],
    b: &[Point3<f64>],
    init: Isometry3<f64>,
    start_reach: f64,
    end_reach: f64,
) -> Option<Registration> {
    if a.len() < 10 || b.len() < 10 {
        return None;
    }
    // An even subset of `a` is enough to pin six degrees of freedom.
    let stride = a.len().div_ceil(MAX_REGISTERED);
    let a: Vec<Point3<f64>> = a.iter().step_by(stride).copied().collect();
    let mut transform = init;
    let rounds = 30;
    let (mut from, mut to) = (Vec::with_capacity(a.len()), Vec::with_capacity(a.len()));
    let mut grid = Grid::new(b, start_reach);
    for round in 0..rounds {
        // Geometric shrink over the first two thirds, then the end reach.
        let f = (round as f64 / (rounds as f64 * 2.0 / 3.0)).min(1.0);
        let reach = start_reach * (end_reach / start_reach).powf(f);
        if reach < 0.7 * grid.cell {
            grid = Grid::new(b, reach);
        }
        from.clear();
        to.clear();
        for p in &a {
            let q = transform * p;
            if let Some((i, _)) = grid.nearest(&q, reach) {
                from.push(q);
                to.push(grid.points[i as usize]);
            }
        }
        let step = best_rigid(&from, &to)?;
        transform = step * transform;
        let moved = step.translation.vector.norm() + step.rotation.angle();
        if f >= 1.0 && moved < 1e-5 {
            break;
        }
    }
    // How much matches at the end reach.
    let n = a
        .iter()
        .filter(|p| grid.nearest(&(transform * *p), end_reach).is_some())
        .count();
    (n >= 3).then(|| Registration {
        transform,
        matched: n as f64 / a.len() as f64,
    })
}

/// The most points of the first cloud [`register`] pairs each round.
const MAX_REGISTERED: usize = 800;

#[cfg(test)]
mod tests {
    use super::*;

    /// An elongated, asymmetric test body: a bar with a stub, sampled on its surface.
    fn body() -> Vec<Point3<f64>> {
        let mut pts = Vec::new();
        let step = 0.03;
        let mut add_box = |lo: Vector3<f64>, hi: Vector3<f64>| {
            let n = |a: f64, b: f64| ((b - a) / step).round() as i32;
            for i in 0..=n(lo.x, hi.x) {
                for j in 0..=n(lo.y, hi.y) {
                    for k in 0..=n(lo.z, hi.z) {
                        let p = lo + Vector3::new(i as f64, j as f64, k as f64) * step;
                        let on =
                            |v: f64, a: f64, b: f64| (v - a).abs() < 1e-9 || (v - b).abs() < 1e-9;
                        if on(p.x, lo.x, hi.x) || on(p.y, lo.y, hi.y) || on(p.z, lo.z, hi.z) {
                            pts.push(Point3::from(p));
                        }
                    }
                }
            }
        };
        add_box(
            Vector3::new(-0.9, -0.1, -0.15),
            Vector3::new(0.9, 0.1, 0.15),
        );
        add_box(Vector3::new(0.3, 0.1, -0.1), Vector3::new(0.5, 0.6, 0.1));
        pts
    }

    #[test]
    fn a_turn_and_a_move_are_registered() {
        let a = body();
        let truth = Motion {
            pivot: [0.0; 3],
            linear: [11.0, 0.0, 3.0],
            angular: [4.0, -9.0, 6.0],
        };
        let dt = 0.02; // half a frame at 25 fps: about 13 degrees
        let step = truth.at(dt);
        let b: Vec<_> = a.iter().map(|p| step * p).collect();
        // Started from the pivot's move alone.
        let init = Motion::translation(Point3::origin(), Vector3::new(11.0, 0.0, 3.0)).at(dt);
        let r = register(&a, &b, init, 0.4, 0.04).expect("registered");
        let err = r.transform.inverse() * step;
        assert!(
            err.rotation.angle() < 0.01,
            "rotation off by {}",
            err.rotation.angle()
        );
        assert!(err.translation.vector.norm() < 0.005);
        let m = Motion::from_step(&r.transform, Point3::origin(), dt);
        for k in 0..3 {
            assert!(
                (m.angular[k] - truth.angular[k]).abs() < 0.5,
                "{:?}",
                m.angular
            );
            assert!(
                (m.linear[k] - truth.linear[k]).abs() < 0.2,
                "{:?}",
                m.linear
            );
        }
    }

    #[test]
    fn motion_moves_the_pivot_and_turns_about_it() {
        let m = Motion {
            pivot: [1.0, 2.0, 3.0],
            linear: [1.0, 0.0, 0.0],
            angular: [0.0, 0.0, std::f64::consts::FRAC_PI_2],
        };
        let t = m.at(1.0);
        let p = t * Point3::new(1.0, 2.0, 3.0);
        assert!((p - Point3::new(2.0, 2.0, 3.0)).norm() < 1e-12);
        // A point a metre along +x from the pivot ends a metre along +y from the moved pivot.
        let q = t * Point3::new(2.0, 2.0, 3.0);
        assert!((q - Point3::new(2.0, 3.0, 3.0)).norm() < 1e-12, "{q}");
        // Backwards in time is the inverse.
        let back = m.at(-1.0) * Point3::new(2.0, 2.0, 3.0);
        assert!((back - Point3::new(0.0, 1.0, 3.0)).norm() < 1e-12, "{back}");
    }
}
