//! The synthetic aerials venue: in-run, kicker, knoll, landing hill, blue fences, sky with
//! distant mountains and a sun. Everything is analytic so it can be ray cast exactly.
//!
//! World frame: Z up, X down the course (the direction the athlete travels), Y to the
//! athlete's left. The kicker lip is at the origin.

use nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};

/// Linear-light RGB.
pub type Rgb = Vector3<f64>;

pub fn srgb(r: u8, g: u8, b: u8) -> Rgb {
    let f = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    Rgb::new(f(r), f(g), f(b))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VenueParams {
    /// Radius of the kicker's circular transition (m).
    pub kicker_radius: f64,
    /// Kicker lip angle above horizontal (degrees).
    pub kicker_angle_deg: f64,
    pub kicker_half_width: f64,
    /// Flat approach between the in-run and the kicker (m).
    pub approach_flat: f64,
    pub inrun_angle_deg: f64,
    /// Where the flat knoll after the lip ends and the landing hill begins (x, m).
    pub knoll_end: f64,
    pub landing_angle_deg: f64,
    pub fence_y: f64,
    pub fence_height: f64,
    pub sun_elevation_deg: f64,
    pub sun_azimuth_deg: f64,
}

impl Default for VenueParams {
    fn default() -> Self {
        Self {
            kicker_radius: 5.0,
            kicker_angle_deg: 55.0,
            kicker_half_width: 1.6,
            approach_flat: 8.0,
            inrun_angle_deg: 22.0,
            knoll_end: 5.75,
            landing_angle_deg: 37.0,
            fence_y: 11.0,
            fence_height: 1.2,
            sun_elevation_deg: 34.0,
            sun_azimuth_deg: 30.0,
        }
    }
}

/// Smooth ramp: 0 for u <= 0, u^2/(2L) up to L, then u - L/2 (C1 continuous).
fn corner(u: f64, l: f64) -> f64 {
    if u <= 0.0 {
        0.0
    } else if u < l {
        u * u / (2.0 * l)
    } else {
        u - l / 2.0
    }
}

fn corner_slope(u: f64, l: f64) -> f64 {
    if u <= 0.0 {
        0.0
    } else if u < l {
        u / l
    } else {
        1.0
    }
}

fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Value noise in 2D, deterministic, in [-1, 1].
fn value_noise(x: f64, y: f64) -> f64 {
    let xi = x.floor();
    let yi = y.floor();
    let fx = x - xi;
    let fy = y - yi;
    let h = |i: f64, j: f64| {
        let v = crate::util::hash::hash(&[(i as i64) as u64, (j as i64) as u64, 77]);
        crate::util::hash::unit(v) * 2.0 - 1.0
    };
    let sx = fx * fx * (3.0 - 2.0 * fx);
    let sy = fy * fy * (3.0 - 2.0 * fy);
    let a = h(xi, yi) * (1.0 - sx) + h(xi + 1.0, yi) * sx;
    let b = h(xi, yi + 1.0) * (1.0 - sx) + h(xi + 1.0, yi + 1.0) * sx;
    a * (1.0 - sy) + b * sy
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Snow,
    Fence,
    Sky,
}

/// Radiance split into the part lit by the sky (always present) and the part lit by the sun
/// (removed where the athlete casts a shadow).
#[derive(Debug, Clone, Copy)]
pub struct VenueSample {
    pub ambient: Rgb,
    pub direct: Rgb,
    pub position: Point3<f64>,
    pub surface: Surface,
}

#[derive(Debug, Clone)]
pub struct Venue {
    pub params: VenueParams,
    kicker_len: f64,
    kicker_height: f64,
    tan_inrun: f64,
    tan_landing: f64,
    sun: Vector3<f64>,
}

const FAR: f64 = 450.0;
/// Where the fences start and end along the course (x, m).
pub const FENCE_X: (f64, f64) = (-22.0, 42.0);
/// Slope of the kicker's back face (dz/dx).
const KICKER_BACK_SLOPE: f64 = 1.4;

impl Venue {
    pub fn new(params: VenueParams) -> Self {
        let th = params.kicker_angle_deg.to_radians();
        let r = params.kicker_radius;
        let el = params.sun_elevation_deg.to_radians();
        let az = params.sun_azimuth_deg.to_radians();
        Self {
            kicker_len: r * th.sin(),
            kicker_height: r * (1.0 - th.cos()),
            tan_inrun: params.inrun_angle_deg.to_radians().tan(),
            tan_landing: params.landing_angle_deg.to_radians().tan(),
            sun: Vector3::new(el.cos() * az.cos(), el.cos() * az.sin(), el.sin()).normalize(),
            params,
        }
    }

    /// Unit vector towards the sun.
    pub fn sun_direction(&self) -> Vector3<f64> {
        self.sun
    }

    /// Height of the table (the flat between in-run and landing) below the lip.
    pub fn table_z(&self) -> f64 {
        -self.kicker_height
    }

    pub fn kicker_length(&self) -> f64 {
        self.kicker_len
    }

    /// The snow surface without the kicker, and its slope dz/dx.
    fn base(&self, x: f64) -> (f64, f64) {
        let p = &self.params;
        let xf = -self.kicker_len - p.approach_flat;
        let (tin, tl) = (self.tan_inrun, self.tan_landing);
        let u_in = xf - x;
        let u_l = x - p.knoll_end;
        let z = self.table_z() + tin * (corner(u_in, 5.0) - corner(u_in - 60.0, 10.0))
            - tl * (corner(u_l, 5.0) - corner(u_l - 40.0, 12.0));
        let dz = -tin * (corner_slope(u_in, 5.0) - corner_slope(u_in - 60.0, 10.0))
            - tl * (corner_slope(u_l, 5.0) - corner_slope(u_l - 40.0, 12.0));
        (z, dz)
    }

    /// Height of the kicker surface above the table at x (0 outside the kicker), and slope.
    /// The transition rises on a circular arc to the lip at x = 0; behind the lip the kicker
    /// drops back to the knoll on a steep back slope.
    fn kicker(&self, x: f64) -> (f64, f64) {
        let r = self.params.kicker_radius;
        let u = x + self.kicker_len;
        if u <= 0.0 {
            return (0.0, 0.0);
        }
        if x > 0.0 {
            let back = self.kicker_height / KICKER_BACK_SLOPE;
            if x >= back {
                return (0.0, 0.0);
            }
            return (self.kicker_height * (1.0 - x / back), -KICKER_BACK_SLOPE);
        }
        let s = (r * r - u * u).max(1e-9).sqrt();
        (r - s, u / s)
    }

    /// Profile along the course centre line (y = 0): height and slope dz/dx.
    pub fn profile(&self, x: f64) -> (f64, f64) {
        let (zb, sb) = self.base(x);
        let (zk, sk) = self.kicker(x);
        (zb + zk, sb + sk)
    }

    /// Snow height at (x, y).
    pub fn height(&self, x: f64, y: f64) -> f64 {
        let (zb, _) = self.base(x);
        let (zk, _) = self.kicker(x);
        let w = smoothstep(
            self.params.kicker_half_width + 0.35,
            self.params.kicker_half_width,
            y.abs(),
        );
        // Snow banks rise gently on both sides of the course.
        let bank = 0.25 * (corner(y.abs() - 16.0, 8.0) - corner(y.abs() - 40.0, 12.0));
        zb + zk * w + bank
    }

    pub fn normal(&self, x: f64, y: f64) -> Vector3<f64> {
        let e = 0.01;
        let dx = (self.height(x + e, y) - self.height(x - e, y)) / (2.0 * e);
        let dy = (self.height(x, y + e) - self.height(x, y - e)) / (2.0 * e);
        Vector3::new(-dx, -dy, 1.0).normalize()
    }

    /// A bound on the terrain slope near (x, y), for safe ray marching.
    fn slope_bound(&self, x: f64, y: f64) -> f64 {
        let near_kicker =
            x > -self.kicker_len - 1.0 && x < 2.5 && y.abs() < self.params.kicker_half_width + 1.0;
        if near_kicker { 9.0 } else { 1.6 }
    }

    fn trace_terrain(&self, o: &Point3<f64>, d: &Vector3<f64>, t_max: f64) -> Option<f64> {
        let above = |t: f64| {
            let p = o + d * t;
            p.z - self.height(p.x, p.y)
        };
        let horiz = (d.x * d.x + d.y * d.y).sqrt();
        let mut t = 0.0;
        let mut prev_t = 0.0;
        let mut h = above(t);
        if h < 0.0 {
            return Some(0.0);
        }
        for _ in 0..2000 {
            let p = o + d * t;
            let l = self.slope_bound(p.x, p.y);
            let step = (h / (l * horiz + d.z.abs().max(1e-6))).max(0.004 + t * 1e-4) * 0.9;
            prev_t = t;
            t += step;
            if t > t_max {
                return None;
            }
            h = above(t);
            if h < 0.0 {
                break;
            }
        }
        if h >= 0.0 {
            return None;
        }
        // Bisect the crossing.
        let (mut lo, mut hi) = (prev_t, t);
        for _ in 0..30 {
            let mid = 0.5 * (lo + hi);
            if above(mid) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(0.5 * (lo + hi))
    }

    fn trace_fence(&self, o: &Point3<f64>, d: &Vector3<f64>) -> Option<(f64, Vector3<f64>)> {
        let mut best: Option<(f64, Vector3<f64>)> = None;
        for side in [-1.0, 1.0] {
            let y = side * self.params.fence_y;
            if d.y.abs() < 1e-12 {
                continue;
            }
            let t = (y - o.y) / d.y;
            if t <= 1e-4 {
                continue;
            }
            let p = o + d * t;
            if p.x < FENCE_X.0 || p.x > FENCE_X.1 {
                continue;
            }
            let base = self.height(p.x, p.y);
            if p.z < base || p.z > base + self.params.fence_height {
                continue;
            }
            if best.is_none_or(|(bt, _)| t < bt) {
                // Normal faces the ray.
                let n = Vector3::new(0.0, -d.y.signum(), 0.0);
                best = Some((t, n));
            }
        }
        best
    }

    fn snow_albedo(&self, p: &Point3<f64>) -> Rgb {
        let par = &self.params;
        let mut a = Rgb::new(0.80, 0.84, 0.90);
        let grain =
            0.025 * value_noise(p.x * 1.7, p.y * 1.7) + 0.015 * value_noise(p.x * 9.0, p.y * 9.0);
        // Groomer corduroy across the slope.
        let cord = 0.012 * (p.y * std::f64::consts::TAU / 0.18).sin();
        a *= 1.0 + grain + cord;
        let xk = -self.kicker_len;
        let on_kicker = p.x > xk && p.x <= 1.6 && p.y.abs() < par.kicker_half_width + 0.2;
        if on_kicker {
            a = Rgb::new(0.74, 0.78, 0.84) * (1.0 + grain);
            // Red lip line and blue take-off guide lines.
            if p.x > -0.25 && p.z > -0.2 {
                return srgb(200, 30, 40);
            }
            if (p.y.abs() - 0.9).abs() < 0.05 {
                return srgb(40, 90, 200);
            }
        }
        // Ski tracks down the in-run.
        if p.x < xk && ((p.y - 0.12).abs() < 0.045 || (p.y + 0.12).abs() < 0.045) {
            a *= 0.86;
        }
        // Dye lines across the landing hill every 4 m, and a red line where the knoll ends.
        if (p.x - par.knoll_end).abs() < 0.12 && p.y.abs() < par.fence_y {
            return srgb(210, 40, 50);
        }
        if p.x > par.knoll_end + 2.0 && p.y.abs() < par.fence_y - 1.0 {
            let u = (p.x - par.knoll_end - 2.0) / 4.0;
            if (u - u.round()).abs() * 4.0 < 0.1 {
                return srgb(50, 100, 210);
            }
        }
        a
    }

    fn fence_albedo(&self, p: &Point3<f64>) -> Rgb {
        let base = self.height(p.x, p.y);
        let v = (p.z - base) / self.params.fence_height;
        if !(0.08..=0.9).contains(&v) {
            return srgb(235, 238, 242);
        }
        // Panels with seams, and a lighter sponsor band in the middle.
        let seam = (p.x / 2.5).fract().abs();
        if seam < 0.02 {
            return srgb(20, 50, 120);
        }
        if (0.42..0.58).contains(&v) {
            return srgb(70, 140, 235);
        }
        srgb(25, 85, 190)
    }

    /// Sky with distant mountains and the sun, in linear light, for a view direction.
    pub fn sky(&self, d: &Vector3<f64>) -> Rgb {
        let d = d.normalize();
        let elev = d.z.asin();
        let az = d.y.atan2(d.x);
        // Jagged ranges: sums of triangle waves (sharp peaks, soft valleys).
        let tri = |v: f64| 1.0 - 2.0 * (v.rem_euclid(1.0) - 0.5).abs();
        let ridge = 0.02
            + 0.055 * tri(az * 0.55 + 0.13).powf(1.6)
            + 0.030 * tri(az * 1.7 + 0.41).powf(1.4)
            + 0.012 * tri(az * 5.3 + 0.77)
            + 0.004 * tri(az * 17.0);
        let horizon = Rgb::new(0.62, 0.74, 0.90);
        let zenith = Rgb::new(0.10, 0.25, 0.66);
        let k = (elev.max(0.0) / 0.9).powf(0.55).min(1.0);
        let mut sky = horizon * (1.0 - k) + zenith * k;
        let sun_dot = d.dot(&self.sun).max(0.0);
        sky += Rgb::new(1.0, 0.92, 0.75) * (0.5 * sun_dot.powf(40.0) + 3.0 * sun_dot.powf(2000.0));
        if elev < ridge {
            let depth = (ridge - elev) / ridge.max(1e-6);
            let snowline = ridge - elev < 0.012 + 0.006 * (az * 23.0).sin();
            let rock = Rgb::new(0.16, 0.19, 0.26);
            let snow = Rgb::new(0.72, 0.78, 0.88);
            let lit = 0.75 + 0.25 * (az * 5.0 + elev * 40.0).sin();
            let mountain = if snowline {
                snow * lit
            } else {
                rock * (0.8 + 0.2 * lit)
            };
            // Aerial perspective: distant ranges fade into the horizon haze.
            let haze = 0.45 + 0.25 * (1.0 - depth.min(1.0));
            sky = mountain * (1.0 - haze) + horizon * haze;
        }
        sky
    }

    fn light(
        &self,
        albedo: Rgb,
        n: &Vector3<f64>,
        p: &Point3<f64>,
        surface: Surface,
    ) -> VenueSample {
        let sky_light = Rgb::new(0.34, 0.38, 0.46) * (0.75 + 0.25 * n.z);
        let sun_light = Rgb::new(1.0, 0.96, 0.88) * 0.78;
        let ndl = n.dot(&self.sun).max(0.0);
        let lit = ndl > 0.0 && !self.static_shadow(p);
        VenueSample {
            ambient: albedo.component_mul(&sky_light),
            direct: if lit {
                albedo.component_mul(&sun_light) * ndl
            } else {
                Rgb::zeros()
            },
            position: *p,
            surface,
        }
    }

    /// Shadows the venue casts on itself (kicker, fences).
    fn static_shadow(&self, p: &Point3<f64>) -> bool {
        let o = p + self.sun * 0.02;
        self.trace_fence(&o, &self.sun).is_some()
            || self.trace_terrain(&o, &self.sun, 60.0).is_some()
    }

    /// Traces a view ray into the venue.
    pub fn trace(&self, o: &Point3<f64>, d: &Vector3<f64>) -> VenueSample {
        let terrain = self.trace_terrain(o, d, FAR);
        let fence = self.trace_fence(o, d);
        match (terrain, fence) {
            (Some(tt), Some((tf, n))) if tf < tt => {
                let p = o + d * tf;
                self.light(self.fence_albedo(&p), &n, &p, Surface::Fence)
            }
            (None, Some((tf, n))) => {
                let p = o + d * tf;
                self.light(self.fence_albedo(&p), &n, &p, Surface::Fence)
            }
            (Some(tt), _) => {
                let p = o + d * tt;
                let n = self.normal(p.x, p.y);
                let mut s = self.light(self.snow_albedo(&p), &n, &p, Surface::Snow);
                // Distant snow fades towards the horizon haze.
                let fade = (tt / FAR).powf(1.5) * 0.6;
                let haze = Rgb::new(0.62, 0.74, 0.90);
                s.ambient = s.ambient * (1.0 - fade) + haze * fade;
                s.direct *= 1.0 - fade;
                s
            }
            (None, None) => VenueSample {
                ambient: self.sky(d),
                direct: Rgb::zeros(),
                position: o + d * FAR * 10.0,
                surface: Surface::Sky,
            },
        }
    }
}
