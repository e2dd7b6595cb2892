//! Analytic primitives for the synthetic athlete: ray intersection and signed distance.
//! The ground truth is rendered by ray casting these shapes directly on the CPU, a code path
//! that shares nothing with the splat renderer it is used to evaluate.

use nalgebra::{Isometry3, Point3, Vector3};

#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Axis-aligned ellipsoid centred at `centre` (local frame).
    Ellipsoid {
        centre: Point3<f64>,
        radii: Vector3<f64>,
    },
    /// Sphere-swept segment from `a` to `b` (local frame).
    Capsule {
        a: Point3<f64>,
        b: Point3<f64>,
        radius: f64,
    },
    /// Axis-aligned box (local frame).
    Cuboid {
        centre: Point3<f64>,
        half: Vector3<f64>,
    },
}

/// A shape placed in the world; `local` is the frame of the body segment it belongs to, so
/// surface patterns move with the segment.
#[derive(Debug, Clone, Copy)]
pub struct Primitive {
    pub shape: Shape,
    pub world_from_local: Isometry3<f64>,
    /// Index into the athlete's material table.
    pub material: usize,
    /// World-space bounding sphere for quick rejection.
    pub bound_centre: Point3<f64>,
    pub bound_radius: f64,
}

/// A ray hit: distance along the (unit) ray, world normal and the local hit point.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub t: f64,
    pub normal: Vector3<f64>,
    pub local: Point3<f64>,
    pub material: usize,
}

impl Shape {
    /// Bounding sphere in the local frame.
    pub fn local_bound(&self) -> (Point3<f64>, f64) {
        match *self {
            Shape::Ellipsoid { centre, radii } => (centre, radii.max()),
            Shape::Capsule { a, b, radius } => {
                (nalgebra::center(&a, &b), (b - a).norm() / 2.0 + radius)
            }
            Shape::Cuboid { centre, half } => (centre, half.norm()),
        }
    }

    /// Nearest intersection with t > t_min of a local-frame ray (direction need not be unit).
    fn intersect_local(
        &self,
        o: &Point3<f64>,
        d: &Vector3<f64>,
        t_min: f64,
    ) -> Option<(f64, Vector3<f64>)> {
        match *self {
            Shape::Ellipsoid { centre, radii } => {
                let oc = (o - centre).component_div(&radii);
                let dd = d.component_div(&radii);
                let a = dd.dot(&dd);
                let b = oc.dot(&dd);
                let c = oc.dot(&oc) - 1.0;
                let disc = b * b - a * c;
                if disc < 0.0 {
                    return None;
                }
                let s = disc.sqrt();
                let t = [(-b - s) / a, (-b + s) / a]
                    .into_iter()
                    .find(|&t| t > t_min)?;
                let p = o + d * t - centre;
                let n = Vector3::new(
                    p.x / (radii.x * radii.x),
                    p.y / (radii.y * radii.y),
                    p.z / (radii.z * radii.z),
                );
                Some((t, n.normalize()))
            }
            Shape::Capsule { a, b, radius } => capsule_hit(o, d, &a, &b, radius, t_min),
            Shape::Cuboid { centre, half } => {
                let oc = o - centre;
                let mut t0 = f64::NEG_INFINITY;
                let mut t1 = f64::INFINITY;
                let mut n0 = Vector3::zeros();
                let mut n1 = Vector3::zeros();
                for i in 0..3 {
                    if d[i].abs() < 1e-15 {
                        if oc[i].abs() > half[i] {
                            return None;
                        }
                        continue;
                    }
                    let inv = 1.0 / d[i];
                    let mut ta = (-half[i] - oc[i]) * inv;
                    let mut tb = (half[i] - oc[i]) * inv;
                    let mut na = Vector3::zeros();
                    na[i] = -1.0;
                    let mut nb = Vector3::zeros();
                    nb[i] = 1.0;
                    if ta > tb {
                        std::mem::swap(&mut ta, &mut tb);
                        std::mem::swap(&mut na, &mut nb);
                    }
                    if ta > t0 {
                        t0 = ta;
                        n0 = na;
                    }
                    if tb < t1 {
                        t1 = tb;
                        n1 = nb;
                    }
                    if t0 > t1 {
                        return None;
                    }
                }
                if t0 > t_min {
                    Some((t0, n0))
                } else if t1 > t_min {
                    Some((t1, -n1))
                } else {
                    None
                }
            }
        }
    }

    /// Signed distance in the local frame (exact for capsules and boxes, a close bound for
    /// ellipsoids).
    pub fn signed_distance_local(&self, p: &Point3<f64>) -> f64 {
        match *self {
            Shape::Ellipsoid { centre, radii } => {
                // Iq's ellipsoid bound: exact on the surface, good near it.
                let q = p - centre;
                let k0 = q.component_div(&radii).norm();
                let k1 = q.component_div(&radii.component_mul(&radii)).norm();
                if k1 < 1e-12 {
                    -radii.min()
                } else {
                    k0 * (k0 - 1.0) / k1
                }
            }
            Shape::Capsule { a, b, radius } => {
                let ab = b - a;
                let h = ((p - a).dot(&ab) / ab.dot(&ab)).clamp(0.0, 1.0);
                (p - (a + ab * h)).norm() - radius
            }
            Shape::Cuboid { centre, half } => {
                let q = (p - centre).abs() - half;
                let outside = Vector3::new(q.x.max(0.0), q.y.max(0.0), q.z.max(0.0)).norm();
                outside + q.max().min(0.0)
            }
        }
    }
}

fn capsule_hit(
    o: &Point3<f64>,
    d: &Vector3<f64>,
    a: &Point3<f64>,
    b: &Point3<f64>,
    r: f64,
    t_min: f64,
) -> Option<(f64, Vector3<f64>)> {
    // Inigo Quilez's capsule intersection, extended to return the first hit beyond t_min.
    let dl = d.norm();
    let rd = d / dl;
    let ba = b - a;
    let oa = o - a;
    let baba = ba.dot(&ba);
    let bard = ba.dot(&rd);
    let baoa = ba.dot(&oa);
    let rdoa = rd.dot(&oa);
    let oaoa = oa.dot(&oa);
    let aa = baba - bard * bard;
    let bb = baba * rdoa - baoa * bard;
    let cc = baba * oaoa - baoa * baoa - r * r * baba;
    let mut best: Option<f64> = None;
    if aa.abs() > 1e-12 {
        let h = bb * bb - aa * cc;
        if h >= 0.0 {
            let s = h.sqrt();
            for t in [(-bb - s) / aa, (-bb + s) / aa] {
                let y = baoa + t * bard;
                if y > 0.0 && y < baba && t > t_min * dl {
                    best = Some(best.map_or(t, |bt: f64| bt.min(t)));
                }
            }
        }
    }
    // Caps.
    for cap in [a, b] {
        let oc = o - cap;
        let bq = rd.dot(&oc);
        let cq = oc.dot(&oc) - r * r;
        let h = bq * bq - cq;
        if h >= 0.0 {
            let s = h.sqrt();
            for t in [-bq - s, -bq + s] {
                if t > t_min * dl {
                    best = Some(best.map_or(t, |bt: f64| bt.min(t)));
                }
            }
        }
    }
    let t = best?;
    let p = o + rd * t;
    let h = ((p - a).dot(&ba) / baba).clamp(0.0, 1.0);
    let n = (p - (a + ba * h)).normalize();
    Some((t / dl, n))
}

impl Primitive {
    pub fn new(shape: Shape, world_from_local: Isometry3<f64>, material: usize) -> Self {
        let (c, r) = shape.local_bound();
        Self {
            shape,
            world_from_local,
            material,
            bound_centre: world_from_local * c,
            bound_radius: r,
        }
    }

    /// Nearest hit along a world ray (unit direction) beyond `t_min`.
    pub fn intersect(&self, origin: &Point3<f64>, dir: &Vector3<f64>, t_min: f64) -> Option<Hit> {
        // Bounding-sphere rejection.
        let oc = origin - self.bound_centre;
        let b = oc.dot(dir);
        let c = oc.dot(&oc) - self.bound_radius * self.bound_radius;
        if c > 0.0 && b > 0.0 {
            return None;
        }
        if b * b - c < 0.0 {
            return None;
        }
        let inv = self.world_from_local.inverse();
        let lo = inv * origin;
        let ld = inv * dir;
        let (t, ln) = self.shape.intersect_local(&lo, &ld, t_min)?;
        Some(Hit {
            t,
            normal: self.world_from_local * ln,
            local: lo + ld * t,
            material: self.material,
        })
    }

    pub fn signed_distance(&self, p: &Point3<f64>) -> f64 {
        let lp = self.world_from_local.inverse() * p;
        self.shape.signed_distance_local(&lp)
    }
}

/// Nearest hit among many primitives.
pub fn intersect_all(
    prims: &[Primitive],
    origin: &Point3<f64>,
    dir: &Vector3<f64>,
    t_min: f64,
) -> Option<Hit> {
    let mut best: Option<Hit> = None;
    for p in prims {
        if let Some(h) = p.intersect(origin, dir, t_min)
            && best.is_none_or(|b| h.t < b.t)
        {
            best = Some(h);
        }
    }
    best
}

/// Whether any primitive blocks the ray within (t_min, t_max).
pub fn occluded(
    prims: &[Primitive],
    origin: &Point3<f64>,
    dir: &Vector3<f64>,
    t_min: f64,
    t_max: f64,
) -> bool {
    prims
        .iter()
        .any(|p| p.intersect(origin, dir, t_min).is_some_and(|h| h.t < t_max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Translation3, UnitQuaternion};

    #[test]
    fn shapes_hit_where_their_distance_is_zero() {
        let pose = Isometry3::from_parts(
            Translation3::new(1.0, 2.0, 3.0),
            UnitQuaternion::from_euler_angles(0.3, -0.7, 1.1),
        );
        let shapes = [
            Shape::Ellipsoid {
                centre: Point3::new(0.1, 0.0, -0.2),
                radii: Vector3::new(0.2, 0.3, 0.5),
            },
            Shape::Capsule {
                a: Point3::new(0.0, 0.0, 0.0),
                b: Point3::new(0.0, 0.0, -0.4),
                radius: 0.06,
            },
            Shape::Cuboid {
                centre: Point3::new(0.1, 0.0, -0.15),
                half: Vector3::new(0.85, 0.045, 0.012),
            },
        ];
        for shape in shapes {
            let prim = Primitive::new(shape, pose, 0);
            let mut hits = 0;
            for i in 0..200 {
                let a = i as f64 * 0.731;
                let dir = Vector3::new(a.cos() * 0.3, a.sin() * 0.3 + 0.1, -1.0).normalize();
                let origin =
                    prim.bound_centre - dir * 3.0 + Vector3::new(a.sin(), a.cos(), 0.5) * 0.05;
                if let Some(hit) = prim.intersect(&origin, &dir, 0.0) {
                    hits += 1;
                    let p = origin + dir * hit.t;
                    let d = prim.signed_distance(&p);
                    assert!(d.abs() < 1e-6, "{shape:?}: distance {d} at hit");
                    assert!(hit.normal.dot(&dir) < 0.0, "normal faces the ray");
                }
            }
            assert!(hits > 10, "{shape:?}: only {hits} hits");
        }
    }
}
