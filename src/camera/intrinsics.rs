//! Pinhole intrinsics with OpenCV lens distortion (radial-tangential or fisheye).

use serde::{Deserialize, Serialize};

/// Lens distortion applied to normalised image coordinates (OpenCV models).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Distortion {
    /// An ideal pinhole.
    #[default]
    None,
    /// OpenCV's radial-tangential model (k1, k2, p1, p2, k3).
    RadialTangential {
        k1: f64,
        k2: f64,
        p1: f64,
        p2: f64,
        k3: f64,
    },
    /// OpenCV's fisheye model (`cv::fisheye`, Kannala-Brandt with four terms; COLMAP's
    /// `OPENCV_FISHEYE`): a ray at angle `θ = atan(r)` from the optical axis lands at radius
    /// `θ_d = θ (1 + k1 θ² + k2 θ⁴ + k3 θ⁶ + k4 θ⁸)` on the normalised image plane, in its own
    /// direction: `x_d = (θ_d / r) x`. Rays at 90° or more from the axis are outside the model.
    Fisheye { k1: f64, k2: f64, k3: f64, k4: f64 },
}

impl Distortion {
    /// Distorts ideal normalised coordinates.
    pub fn distort(&self, x: f64, y: f64) -> (f64, f64) {
        match *self {
            Distortion::None => (x, y),
            Distortion::RadialTangential { k1, k2, p1, p2, k3 } => {
                let r2 = x * x + y * y;
                let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
                let xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x);
                let yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y;
                (xd, yd)
            }
            Distortion::Fisheye { .. } => {
                let r = (x * x + y * y).sqrt();
                if r < 1e-12 {
                    // θ_d / r tends to 1 on the axis.
                    return (x, y);
                }
                let s = self.fisheye_theta_d(r.atan()) / r;
                (x * s, y * s)
            }
        }
    }

    /// Whether the lens maps the ideal normalised point (x, y) one to one: along its ray from
    /// the axis the distorted radius still grows. A polynomial lens model folds back beyond
    /// some radius (with k1 < 0, far outside the picture), and a point there would land inside
    /// the picture although the camera cannot see it.
    #[inline]
    pub fn is_unfolded(&self, x: f64, y: f64) -> bool {
        // Quick answer for the points a camera sees: a lower bound of the radius's slope, which
        // falls with the radius, is still positive there.
        match *self {
            Distortion::None => true,
            Distortion::RadialTangential { k1, k2, k3, .. } => {
                let u = x * x + y * y;
                let bound = u * (3.0 * k1.abs() + u * (5.0 * k2.abs() + u * 7.0 * k3.abs()));
                bound < 1.0 || self.is_unfolded_far(u)
            }
            Distortion::Fisheye { k1, k2, k3, k4 } => {
                // θ = atan(r) ≤ r, and the bound grows with θ: r² in place of θ² still answers
                // for points near the axis, without the arctangent.
                let t = x * x + y * y;
                let bound = t
                    * (3.0 * k1.abs()
                        + t * (5.0 * k2.abs() + t * (7.0 * k3.abs() + t * 9.0 * k4.abs())));
                bound < 1.0 || self.is_unfolded_far(t.sqrt().atan())
            }
        }
    }

    /// The squared normalised radius from which a radial-tangential lens folds back (the
    /// radial slope's first zero), infinite for a lens without distortion; `None` for the
    /// fisheye model, whose check is not a radius bound. For the others
    /// [`Distortion::is_unfolded`]`(x, y)` is `x² + y² < fold_radius_sq()`: a lens folded at
    /// some radius is folded at every radius beyond it.
    pub fn fold_radius_sq(&self) -> Option<f64> {
        match *self {
            Distortion::None => Some(f64::INFINITY),
            Distortion::RadialTangential { .. } => {
                let (mut lo, mut hi) = (0.0f64, 1.0f64);
                // The fold, if any, lies within 10^8 (a ray 10^4 times wider than the axis).
                while self.is_unfolded_far(hi) {
                    if hi > 1e8 {
                        return Some(f64::INFINITY);
                    }
                    lo = hi;
                    hi *= 4.0;
                }
                for _ in 0..80 {
                    let mid = 0.5 * (lo + hi);
                    if self.is_unfolded_far(mid) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                Some(lo)
            }
            Distortion::Fisheye { .. } => None,
        }
    }

    /// [`Distortion::is_unfolded`] in full, at `u` = r² (radial-tangential) or the angle θ
    /// from the axis (fisheye).
    #[cold]
    #[inline(never)]
    fn is_unfolded_far(&self, v: f64) -> bool {
        match *self {
            Distortion::None => true,
            Distortion::RadialTangential { k1, k2, k3, .. } => {
                // d(r·radial)/dr as a cubic in u = r²: positive on (0, v] when positive at v
                // and at every stationary point inside.
                let slope = |u: f64| 1.0 + u * (3.0 * k1 + u * (5.0 * k2 + u * 7.0 * k3));
                if slope(v) <= 0.0 {
                    return false;
                }
                // Stationary points: 3 k1 + 10 k2 u + 21 k3 u² = 0.
                let (a, b, c) = (21.0 * k3, 10.0 * k2, 3.0 * k1);
                let roots: [Option<f64>; 2] = if a.abs() < 1e-12 {
                    [(b.abs() > 1e-12).then(|| -c / b), None]
                } else {
                    let disc = b * b - 4.0 * a * c;
                    if disc < 0.0 {
                        [None, None]
                    } else {
                        let q = disc.sqrt();
                        [Some((-b - q) / (2.0 * a)), Some((-b + q) / (2.0 * a))]
                    }
                };
                roots
                    .into_iter()
                    .flatten()
                    .filter(|&u| u > 0.0 && u < v)
                    .all(|u| slope(u) > 0.0)
            }
            Distortion::Fisheye { .. } => {
                (1..=8).all(|i| self.fisheye_theta_d_and_slope(v * i as f64 / 8.0).1 > 0.0)
            }
        }
    }

    /// `θ_d(θ)` of the fisheye model and its derivative.
    fn fisheye_theta_d_and_slope(&self, theta: f64) -> (f64, f64) {
        let Distortion::Fisheye { k1, k2, k3, k4 } = *self else {
            return (theta, 1.0);
        };
        let t2 = theta * theta;
        let poly = 1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)));
        let slope = 1.0 + t2 * (3.0 * k1 + t2 * (5.0 * k2 + t2 * (7.0 * k3 + t2 * 9.0 * k4)));
        (theta * poly, slope)
    }

    fn fisheye_theta_d(&self, theta: f64) -> f64 {
        self.fisheye_theta_d_and_slope(theta).0
    }

    /// The angle θ in [0, 90°) whose distorted radius is `theta_d`: Newton's method kept inside
    /// a bracket (bisection when a step leaves it), so lenses whose θ_d is not monotonic still
    /// give the root nearest the axis side of the bracket. A radius the lens never reaches
    /// gives the bracket's end.
    fn fisheye_theta(&self, theta_d: f64) -> f64 {
        let (mut lo, mut hi) = (0.0, std::f64::consts::FRAC_PI_2 - 1e-9);
        if self.fisheye_theta_d(hi) <= theta_d {
            return hi;
        }
        let mut theta = theta_d.clamp(lo, hi);
        for _ in 0..100 {
            let (f, slope) = self.fisheye_theta_d_and_slope(theta);
            let e = f - theta_d;
            if e.abs() < 1e-15 {
                break;
            }
            if e > 0.0 {
                hi = theta;
            } else {
                lo = theta;
            }
            let next = theta - e / slope;
            theta = if slope > 0.0 && next > lo && next < hi {
                next
            } else {
                0.5 * (lo + hi)
            };
            if hi - lo < 1e-16 {
                break;
            }
        }
        theta
    }

    /// Inverts [`Distortion::distort`]: for the fisheye model by solving for θ along the ray's
    /// direction, otherwise by fixed-point iteration refined with Newton steps.
    pub fn undistort(&self, xd: f64, yd: f64) -> (f64, f64) {
        match self {
            Distortion::None => return (xd, yd),
            Distortion::Fisheye { .. } => {
                let rd = (xd * xd + yd * yd).sqrt();
                if rd < 1e-12 || !rd.is_finite() {
                    return (xd, yd);
                }
                let s = self.fisheye_theta(rd).tan() / rd;
                return (xd * s, yd * s);
            }
            Distortion::RadialTangential { .. } => {}
        }
        let (mut x, mut y) = (xd, yd);
        for _ in 0..30 {
            let (fx, fy) = self.distort(x, y);
            let (ex, ey) = (fx - xd, fy - yd);
            if ex * ex + ey * ey < 1e-26 {
                break;
            }
            // Numerical Jacobian of the distortion.
            let h = 1e-7;
            let (ax, ay) = self.distort(x + h, y);
            let (bx, by) = self.distort(x, y + h);
            let (j11, j21) = ((ax - fx) / h, (ay - fy) / h);
            let (j12, j22) = ((bx - fx) / h, (by - fy) / h);
            let det = j11 * j22 - j12 * j21;
            if det.abs() < 1e-12 {
                x -= ex;
                y -= ey;
            } else {
                x -= (j22 * ex - j12 * ey) / det;
                y -= (-j21 * ex + j11 * ey) / det;
            }
        }
        (x, y)
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Distortion::None)
    }
}

/// Pinhole intrinsics of one camera, in pixels, with the image size they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    pub width: u32,
    pub height: u32,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    #[serde(default)]
    pub distortion: Distortion,
}

impl Intrinsics {
    /// A pinhole with square pixels of focal length `f` (pixels) and the principal point at
    /// the image centre.
    pub fn centred(width: u32, height: u32, f: f64) -> Self {
        Self {
            width,
            height,
            fx: f,
            fy: f,
            cx: (width as f64 - 1.0) / 2.0,
            cy: (height as f64 - 1.0) / 2.0,
            distortion: Distortion::None,
        }
    }

    #[inline]
    pub fn pixel_from_normalised(&self, x: f64, y: f64) -> crate::camera::Pixel {
        let (xd, yd) = self.distortion.distort(x, y);
        crate::camera::Pixel::new(self.fx * xd + self.cx, self.fy * yd + self.cy)
    }

    pub fn normalised_from_pixel(&self, p: &crate::camera::Pixel) -> (f64, f64) {
        let xd = (p.x - self.cx) / self.fx;
        let yd = (p.y - self.cy) / self.fy;
        self.distortion.undistort(xd, yd)
    }

    pub fn width_height(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Horizontal field of view in radians (ignoring distortion).
    pub fn horizontal_fov(&self) -> f64 {
        2.0 * (self.width as f64 / (2.0 * self.fx)).atan()
    }

    /// The same camera without lens distortion.
    pub fn pinhole(&self) -> Self {
        Self {
            distortion: Distortion::None,
            ..*self
        }
    }

    /// The intrinsics of this camera when its image is resampled to `width` x `height`.
    pub fn scaled_to(&self, width: u32, height: u32) -> Self {
        let sx = width as f64 / self.width as f64;
        let sy = height as f64 / self.height as f64;
        Self {
            width,
            height,
            fx: self.fx * sx,
            fy: self.fy * sy,
            // Pixel centres sit at integer coordinates, so edges are at -0.5.
            cx: (self.cx + 0.5) * sx - 0.5,
            cy: (self.cy + 0.5) * sy - 0.5,
            distortion: self.distortion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FISHEYE: Distortion = Distortion::Fisheye {
        k1: -0.013,
        k2: 0.0042,
        k3: -0.0011,
        k4: 0.00021,
    };

    /// A lens is unfolded out to the first radius where its distorted radius stops growing,
    /// and folded beyond it (found here by stepping along the ray), for barrel lenses with and
    /// without higher terms; a pinhole is unfolded everywhere.
    #[test]
    fn lens_fold_is_where_the_distorted_radius_stops_growing() {
        let lenses = [
            (-0.3, 0.0, 0.0),
            (-0.28, 0.09, 0.0),
            (-0.4, 0.05, -0.01),
            (0.1, 0.0, 0.0),
            (-0.05, -0.02, 0.001),
        ];
        for (k1, k2, k3) in lenses {
            let d = Distortion::RadialTangential {
                k1,
                k2,
                p1: 0.0,
                p2: 0.0,
                k3,
            };
            let radius = |r: f64| d.distort(r * 0.6, r * 0.8).0 / 0.6;
            let mut grows = true;
            let mut r = 0.001;
            while r < 6.0 {
                grows &= radius(r + 1e-4) > radius(r);
                assert_eq!(
                    d.is_unfolded(r * 0.6, r * 0.8),
                    grows,
                    "k = ({k1}, {k2}, {k3}), r {r:.3}"
                );
                r += 0.01;
            }
        }
        assert!(Distortion::None.is_unfolded(50.0, -80.0));
        // The synthetic barrel lens: a point 4.5 normalised units off axis (far outside the
        // picture) would land back inside it.
        let barrel = Distortion::RadialTangential {
            k1: -0.2,
            k2: 0.0,
            p1: 0.0,
            p2: 0.0,
            k3: 0.0,
        };
        let (xd, yd) = barrel.distort(-3.15, 3.19);
        assert!(xd.hypot(yd) < 15.0 && !barrel.is_unfolded(-3.15, 3.19));
        assert!(barrel.is_unfolded(0.6, 0.4));
    }

    #[test]
    fn fisheye_matches_the_kannala_brandt_formula() {
        // A point at 0.75 rad from the axis, worked by hand from θ_d = θ(1 + k1θ² + ... + k4θ⁸).
        let theta: f64 = 0.75;
        let r = theta.tan();
        let (x, y) = (r * 0.6, r * 0.8);
        let t2 = theta * theta;
        let theta_d = theta
            * (1.0 - 0.013 * t2 + 0.0042 * t2 * t2 - 0.0011 * t2 * t2 * t2
                + 0.00021 * t2 * t2 * t2 * t2);
        let (xd, yd) = FISHEYE.distort(x, y);
        assert!((xd - theta_d * 0.6).abs() < 1e-15, "{xd}");
        assert!((yd - theta_d * 0.8).abs() < 1e-15, "{yd}");
        // Without coefficients it is the equidistant projection: radius = angle.
        let plain = Distortion::Fisheye {
            k1: 0.0,
            k2: 0.0,
            k3: 0.0,
            k4: 0.0,
        };
        let (xd, yd) = plain.distort(1.0, 0.0);
        assert!((xd - std::f64::consts::FRAC_PI_4).abs() < 1e-15 && yd == 0.0);
        // On the axis nothing moves.
        assert_eq!(FISHEYE.distort(0.0, 0.0), (0.0, 0.0));
        assert_eq!(FISHEYE.undistort(0.0, 0.0), (0.0, 0.0));
    }

    #[test]
    fn fisheye_round_trips_over_the_field_of_view() {
        // Angles from the axis up to 85° (a 170° lens), all around the axis.
        for i in 0..=170 {
            let theta = (i as f64 * 0.5).to_radians();
            for j in 0..16 {
                let phi = j as f64 * std::f64::consts::TAU / 16.0;
                let r = theta.tan();
                let (x, y) = (r * phi.cos(), r * phi.sin());
                let (xd, yd) = FISHEYE.distort(x, y);
                let (bx, by) = FISHEYE.undistort(xd, yd);
                // Compare directions: tan θ grows without bound near 90°.
                let back = (bx * bx + by * by).sqrt().atan();
                assert!((back - theta).abs() < 1e-12, "θ {theta}: back {back}");
                let err = ((bx - x).powi(2) + (by - y).powi(2)).sqrt() / (1.0 + r);
                assert!(err < 1e-11, "θ {theta} φ {phi}: ({x}, {y}) -> ({bx}, {by})");
            }
        }
    }

    #[test]
    fn fisheye_undistort_never_fails_past_the_lens() {
        // A radius beyond what the lens reaches (θ_d peaks below it) saturates at 90°.
        let strong = Distortion::Fisheye {
            k1: -0.4,
            k2: 0.0,
            k3: 0.0,
            k4: 0.0,
        };
        let (x, y) = strong.undistort(5.0, 0.0);
        assert!(x.is_finite() && y.is_finite() && x > 0.0);
        let (x, y) = strong.undistort(f64::NAN, 0.0);
        assert!(x.is_nan() && y == 0.0);
    }

    #[test]
    fn fisheye_serialises_under_its_own_model_name() {
        let json = serde_json::to_string(&FISHEYE).expect("json");
        assert!(json.contains("\"model\":\"fisheye\""), "{json}");
        let back: Distortion = serde_json::from_str(&json).expect("back");
        assert_eq!(back, FISHEYE);
        // Manifests written before the fisheye model still read.
        let old =
            r#"{"model":"radial_tangential","k1":-0.05,"k2":0.01,"p1":0.0,"p2":0.0,"k3":0.0}"#;
        assert!(matches!(
            serde_json::from_str::<Distortion>(old),
            Ok(Distortion::RadialTangential { .. })
        ));
    }
}
