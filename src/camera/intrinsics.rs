//! Pinhole intrinsics with OpenCV lens distortion.

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
        }
    }

    /// Inverts [`Distortion::distort`] by fixed-point iteration refined with Newton steps.
    pub fn undistort(&self, xd: f64, yd: f64) -> (f64, f64) {
        if matches!(self, Distortion::None) {
            return (xd, yd);
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
