//! Rendering what a real (distorted) camera sees: the GPU renders a pinhole image wide enough
//! to cover the lens's field of view, then each output pixel is looked up through the lens
//! model (a remap table built once per camera).

use crate::camera::{Camera, Intrinsics, Pixel};
use crate::util::images::sample_bilinear;
use image::{RgbImage, RgbaImage};

pub struct LensRemap {
    /// The pinhole camera to render (same pose, same size, wider field of view if needed).
    pub pinhole: Camera,
    /// For each output pixel, where to sample the pinhole render.
    table: Vec<(f32, f32)>,
    width: u32,
    height: u32,
}

impl LensRemap {
    pub fn new(camera: &Camera) -> Self {
        let k = camera.intrinsics;
        let (w, h) = (k.width, k.height);
        // Normalised coordinates of every output pixel, undistorted.
        let norm: Vec<(f64, f64)> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| k.normalised_from_pixel(&Pixel::new(x as f64, y as f64)))
            .collect();
        // Shrink the focal length just enough that the pinhole image covers them all.
        let mut scale: f64 = 1.0;
        for &(nx, ny) in &norm {
            let u = k.fx * nx + k.cx;
            let v = k.fy * ny + k.cy;
            if u < -0.5 {
                scale = scale.min((k.cx + 0.5) / (k.cx - u + 1.0).max(1e-9) * 0.999);
            }
            if u > w as f64 - 0.5 {
                scale = scale.min((w as f64 - 0.5 - k.cx) / (u - k.cx + 1.0).max(1e-9) * 0.999);
            }
            if v < -0.5 {
                scale = scale.min((k.cy + 0.5) / (k.cy - v + 1.0).max(1e-9) * 0.999);
            }
            if v > h as f64 - 0.5 {
                scale = scale.min((h as f64 - 0.5 - k.cy) / (v - k.cy + 1.0).max(1e-9) * 0.999);
            }
        }
        let pin = Intrinsics {
            fx: k.fx * scale,
            fy: k.fy * scale,
            distortion: crate::camera::Distortion::None,
            ..k
        };
        let table = norm
            .iter()
            .map(|&(nx, ny)| ((pin.fx * nx + pin.cx) as f32, (pin.fy * ny + pin.cy) as f32))
            .collect();
        Self {
            pinhole: Camera::new(pin, camera.pose),
            table,
            width: w,
            height: h,
        }
    }

    /// The real camera's image from the pinhole render.
    pub fn apply(&self, rendered: &RgbaImage) -> RgbImage {
        let rgb = crate::util::images::rgba_to_rgb(rendered);
        let mut out = RgbImage::new(self.width, self.height);
        for (i, px) in out.pixels_mut().enumerate() {
            let (x, y) = self.table[i];
            let c = sample_bilinear(&rgb, x as f64, y as f64);
            px.0 = [c[0].round() as u8, c[1].round() as u8, c[2].round() as u8];
        }
        out
    }
}
