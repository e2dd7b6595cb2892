//! The athlete's soft shadow on the snow: the reconstructed instant cast along the sun onto the
//! venue's ground proxy, rasterised in ground coordinates and blurred, as a patch of vertices
//! on the ground with a shadow strength each. Plain geometry; the renderer draws the patch.

use crate::reconstruct::venue::VenueModel;
use nalgebra::{Point3, Vector3};

/// A grid of ground points with a shadow strength (0..1) each, `nx + 1` by `ny + 1`, row by
/// row (along the direction of travel fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowPatch {
    pub nx: usize,
    pub ny: usize,
    pub points: Vec<Point3<f64>>,
    pub strength: Vec<f32>,
}

impl ShadowPatch {
    /// Triangles as vertex index triples.
    pub fn triangles(&self) -> Vec<[u32; 3]> {
        let w = self.nx as u32 + 1;
        let mut out = Vec::with_capacity(self.nx * self.ny * 2);
        for j in 0..self.ny as u32 {
            for i in 0..self.nx as u32 {
                let a = j * w + i;
                out.push([a, a + 1, a + w + 1]);
                out.push([a, a + w + 1, a + w]);
            }
        }
        out
    }
}

/// Where the ray from `p` towards `-sun` meets the ground, as (along, across) venue
/// coordinates, or `None` when `p` is below the ground or the ray never reaches it.
fn cast(model: &VenueModel, p: &Point3<f64>, sun: &Vector3<f64>) -> Option<(f64, f64)> {
    let o = Point3::from(model.ground.origin);
    let travel = Vector3::from(model.ground.travel);
    let left = model.left();
    let coords = |q: &Point3<f64>| ((q - o).dot(&travel), (q - o).dot(&left));
    let above = |t: f64| {
        let q = p - sun * t;
        let (s, l) = coords(&q);
        q.z - model.ground_point(s, l).z
    };
    if above(0.0) < -0.05 {
        return None;
    }
    // The athlete is at most tens of metres up; bracket, then bisect.
    let mut hi = 1.0;
    while above(hi) > 0.0 {
        hi *= 2.0;
        if hi > 400.0 {
            return None;
        }
    }
    let mut lo = 0.0;
    for _ in 0..24 {
        let mid = 0.5 * (lo + hi);
        if above(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(coords(&(p - sun * hi)))
}

/// The shadow of the splats at `positions` (world, m) cast along `sun` (a unit vector towards
/// the sun, pointing up) onto the model's ground. `softness` is the blur at the ground (m); it
/// widens with the athlete's height above the snow, as a real penumbra and the sky's fill do.
/// `None` when nothing casts onto the ground.
pub fn contact_shadow(
    positions: &[[f32; 3]],
    model: &VenueModel,
    sun: &Vector3<f64>,
    softness: f64,
) -> Option<ShadowPatch> {
    if sun.z <= 0.05 || positions.is_empty() {
        return None;
    }
    let sun = sun.normalize();
    let cast: Vec<(f64, f64, f64)> = positions
        .iter()
        .filter_map(|p| {
            let p = Point3::new(p[0] as f64, p[1] as f64, p[2] as f64);
            let (s, l) = cast(model, &p, &sun)?;
            let height = p.z - model.ground_point(s, l).z;
            Some((s, l, height))
        })
        .collect();
    if cast.len() < 8 {
        return None;
    }
    let mean_height = cast.iter().map(|c| c.2).sum::<f64>() / cast.len() as f64;
    let sigma = softness.max(0.005) * (1.0 + 0.35 * mean_height.max(0.0));
    let margin = 3.0 * sigma + 0.05;
    let (mut s0, mut s1, mut l0, mut l1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(s, l, _) in &cast {
        s0 = s0.min(s);
        s1 = s1.max(s);
        l0 = l0.min(l);
        l1 = l1.max(l);
    }
    let (s0, s1, l0, l1) = (s0 - margin, s1 + margin, l0 - margin, l1 + margin);
    let cell = ((s1 - s0).max(l1 - l0) / 64.0).max(0.015);
    let nx = ((s1 - s0) / cell).ceil().max(1.0) as usize;
    let ny = ((l1 - l0) / cell).ceil().max(1.0) as usize;

    // Cast splats cover the cells they fall in and their neighbours (the cloud is a surface
    // sampled about a voxel apart, its shadow a filled area).
    let mut raster = vec![0f32; nx * ny];
    let reach = 1i64;
    for &(s, l, _) in &cast {
        let i = ((s - s0) / cell) as i64;
        let j = ((l - l0) / cell) as i64;
        for dj in -reach..=reach {
            for di in -reach..=reach {
                let (a, b) = (i + di, j + dj);
                if a >= 0 && b >= 0 && (a as usize) < nx && (b as usize) < ny {
                    raster[b as usize * nx + a as usize] = 1.0;
                }
            }
        }
    }
    let raster = blur(&raster, nx, ny, sigma / cell);

    let w = nx + 1;
    let mut points = Vec::with_capacity(w * (ny + 1));
    let mut strength = Vec::with_capacity(w * (ny + 1));
    let at = |i: i64, j: i64| {
        if i < 0 || j < 0 || i >= nx as i64 || j >= ny as i64 {
            0.0
        } else {
            raster[j as usize * nx + i as usize]
        }
    };
    for j in 0..=ny {
        for i in 0..=nx {
            let (s, l) = (s0 + i as f64 * cell, l0 + j as f64 * cell);
            points.push(model.ground_point(s, l));
            // A vertex sits at a cell corner: the mean of the four cells around it.
            let (i, j) = (i as i64, j as i64);
            let v = 0.25 * (at(i - 1, j - 1) + at(i, j - 1) + at(i - 1, j) + at(i, j));
            strength.push(v.clamp(0.0, 1.0));
        }
    }
    Some(ShadowPatch {
        nx,
        ny,
        points,
        strength,
    })
}

/// Separable Gaussian blur of a `nx` x `ny` raster, `sigma` in cells (zero outside).
fn blur(src: &[f32], nx: usize, ny: usize, sigma: f64) -> Vec<f32> {
    let r = (3.0 * sigma).ceil().max(1.0) as i64;
    let kernel: Vec<f32> = (-r..=r)
        .map(|k| (-0.5 * (k as f64 / sigma.max(0.3)).powi(2)).exp() as f32)
        .collect();
    let sum: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / sum).collect();
    let pass = |src: &[f32], horizontal: bool| {
        let mut out = vec![0f32; nx * ny];
        for j in 0..ny as i64 {
            for i in 0..nx as i64 {
                let mut acc = 0.0;
                for (k, w) in kernel.iter().enumerate() {
                    let d = k as i64 - r;
                    let (a, b) = if horizontal { (i + d, j) } else { (i, j + d) };
                    if a >= 0 && b >= 0 && a < nx as i64 && b < ny as i64 {
                        acc += w * src[b as usize * nx + a as usize];
                    }
                }
                out[j as usize * nx + i as usize] = acc;
            }
        }
        out
    };
    pass(&pass(src, true), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::GroundProfile;
    use crate::reconstruct::venue::VenueModel;

    /// Flat snow at z = 0, travelling along +x.
    fn flat() -> VenueModel {
        VenueModel::on_profile(GroundProfile {
            origin: [0.0, 0.0, 0.0],
            travel: [1.0, 0.0, 0.0],
            samples: vec![(-100.0, 0.0), (100.0, 0.0)],
        })
    }

    /// A ball of points of radius `r` at `c`.
    fn ball(c: [f64; 3], r: f64) -> Vec<[f32; 3]> {
        let mut out = Vec::new();
        let n = 12;
        for i in -n..=n {
            for j in -n..=n {
                for k in -n..=n {
                    let v = Vector3::new(i as f64, j as f64, k as f64) * (r / n as f64);
                    if v.norm() <= r {
                        out.push([
                            (c[0] + v.x) as f32,
                            (c[1] + v.y) as f32,
                            (c[2] + v.z) as f32,
                        ]);
                    }
                }
            }
        }
        out
    }

    fn darkest(p: &ShadowPatch) -> (Point3<f64>, f32) {
        let (i, v) = p
            .strength
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, v)| (i, *v))
            .unwrap_or((0, 0.0));
        (p.points[i], v)
    }

    #[test]
    fn the_shadow_falls_away_from_the_sun_on_the_ground() {
        let model = flat();
        // Sun at 45 degrees elevation from +x: a ball 2 m up casts 2 m towards -x.
        let sun = Vector3::new(1.0, 0.0, 1.0).normalize();
        let patch = contact_shadow(&ball([0.0, 0.0, 2.0], 0.3), &model, &sun, 0.05).unwrap();
        let (p, v) = darkest(&patch);
        assert!(v > 0.9, "full shadow in the middle: {v}");
        assert!(
            (p.x + 2.0).abs() < 0.1 && p.y.abs() < 0.1,
            "shadow centre {p:?}"
        );
        assert!(
            patch.points.iter().all(|q| q.z.abs() < 1e-9),
            "on the ground"
        );
        // Soft edge: strength falls from full to none over a few blur widths.
        let along_x: Vec<(f64, f32)> = patch
            .points
            .iter()
            .zip(&patch.strength)
            .filter(|(q, _)| q.y.abs() < 0.02)
            .map(|(q, s)| (q.x, *s))
            .collect();
        let half = along_x
            .iter()
            .filter(|(_, s)| (0.2..0.8).contains(s))
            .count();
        assert!(half >= 2, "a penumbra, not a hard edge: {along_x:?}");
        assert!(
            along_x.iter().any(|(x, s)| *x < -2.6 && *s < 0.05),
            "fades out"
        );
        // Overhead sun: straight below.
        let patch =
            contact_shadow(&ball([1.0, 0.5, 2.0], 0.3), &model, &Vector3::z(), 0.05).unwrap();
        let (p, _) = darkest(&patch);
        assert!((p.x - 1.0).abs() < 0.1 && (p.y - 0.5).abs() < 0.1, "{p:?}");
        assert_eq!(patch.points.len(), (patch.nx + 1) * (patch.ny + 1));
        assert_eq!(patch.triangles().len(), patch.nx * patch.ny * 2);
    }

    #[test]
    fn no_shadow_below_the_horizon_or_from_nothing() {
        let model = flat();
        let sun = Vector3::new(1.0, 0.0, 0.0);
        assert!(contact_shadow(&ball([0.0, 0.0, 2.0], 0.3), &model, &sun, 0.05).is_none());
        assert!(contact_shadow(&[], &model, &Vector3::z(), 0.05).is_none());
    }
}
