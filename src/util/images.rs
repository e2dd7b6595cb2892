//! Image helpers shared by the stages: sRGB conversion, bilinear sampling, PNG output.

use image::{GrayImage, RgbImage, RgbaImage};
use std::path::Path;

/// A normalised Gaussian kernel of `s` pixels, 3 s each side of its centre.
fn gaussian_kernel(s: f64) -> Vec<f64> {
    let r = (3.0 * s).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-((i * i) as f64) / (2.0 * s * s)).exp())
        .collect();
    let sum: f64 = k.iter().sum();
    k.into_iter().map(|v| v / sum).collect()
}

/// Separable Gaussian blur of a `w x h` raster, `sx` and `sy` (pixels) along x and y, edges
/// clamped (the border pixels continue outwards).
pub fn blur_clamped(data: &[f64], w: usize, h: usize, sx: f64, sy: f64) -> Vec<f64> {
    // Each output sums its taps in kernel order (the clamped edge taps as well), so the
    // interior's unclamped loops give the same bits as clamping every tap.
    let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    let along_x = |src: &[f64], k: &[f64]| -> Vec<f64> {
        let r = (k.len() / 2) as isize;
        let mut out = vec![0.0; w * h];
        for (row, dst) in src.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
            for (x, o) in dst.iter_mut().enumerate() {
                let x = x as isize;
                *o = if x >= r && x + r < w as isize {
                    let taps = &row[(x - r) as usize..(x + r) as usize + 1];
                    k.iter().zip(taps).fold(0.0, |acc, (kv, v)| acc + kv * v)
                } else {
                    k.iter().enumerate().fold(0.0, |acc, (t, kv)| {
                        acc + kv * row[clamp(x + t as isize - r, w)]
                    })
                };
            }
        }
        out
    };
    let along_y = |src: &[f64], k: &[f64]| -> Vec<f64> {
        let r = (k.len() / 2) as isize;
        let mut out = vec![0.0; w * h];
        // Row by row: each tap's source row added to the output row in turn.
        for (y, dst) in out.chunks_exact_mut(w).enumerate() {
            for (t, kv) in k.iter().enumerate() {
                let yy = clamp(y as isize + t as isize - r, h);
                for (o, v) in dst.iter_mut().zip(&src[yy * w..(yy + 1) * w]) {
                    *o += kv * v;
                }
            }
        }
        out
    };
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let tmp = along_x(data, &gaussian_kernel(sx));
    along_y(&tmp, &gaussian_kernel(sy))
}

/// sRGB-encoded byte to linear light in [0, 1].
pub fn srgb_to_linear(c: u8) -> f32 {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0.0f32; 256];
        for (i, v) in t.iter_mut().enumerate() {
            let c = i as f32 / 255.0;
            *v = if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            };
        }
        t
    });
    t[c as usize]
}

/// Linear light in [0, 1] to an sRGB-encoded byte (rounded, clamped).
pub fn linear_to_srgb(v: f32) -> u8 {
    let v = v.clamp(0.0, 1.0);
    let s = if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    };
    (s * 255.0 + 0.5) as u8
}

/// Bilinear sample of an RGB image at a pixel position (pixel centres at integers), clamped at
/// the borders. Returns channel values in 0..255 as floats.
pub fn sample_bilinear(img: &RgbImage, x: f64, y: f64) -> [f32; 3] {
    let w = img.width() as i64;
    let h = img.height() as i64;
    let x0f = x.floor();
    let y0f = y.floor();
    let fx = (x - x0f) as f32;
    let fy = (y - y0f) as f32;
    let x0 = (x0f as i64).clamp(0, w - 1) as u32;
    let y0 = (y0f as i64).clamp(0, h - 1) as u32;
    let x1 = (x0f as i64 + 1).clamp(0, w - 1) as u32;
    let y1 = (y0f as i64 + 1).clamp(0, h - 1) as u32;
    let p00 = img.get_pixel(x0, y0).0;
    let p10 = img.get_pixel(x1, y0).0;
    let p01 = img.get_pixel(x0, y1).0;
    let p11 = img.get_pixel(x1, y1).0;
    let mut out = [0.0f32; 3];
    for c in 0..3 {
        let a = p00[c] as f32 * (1.0 - fx) + p10[c] as f32 * fx;
        let b = p01[c] as f32 * (1.0 - fx) + p11[c] as f32 * fx;
        out[c] = a * (1.0 - fy) + b * fy;
    }
    out
}

/// Drops the alpha channel.
pub fn rgba_to_rgb(img: &RgbaImage) -> RgbImage {
    let mut out = RgbImage::new(img.width(), img.height());
    for (o, i) in out.pixels_mut().zip(img.pixels()) {
        o.0 = [i.0[0], i.0[1], i.0[2]];
    }
    out
}

/// Saves a PNG atomically (temporary name, then rename).
pub fn save_png_rgb(img: &RgbImage, path: &Path) -> Result<(), image::ImageError> {
    let file = crate::util::AtomicFile::new(path).map_err(image::ImageError::IoError)?;
    img.save_with_format(file.temp_path(), image::ImageFormat::Png)?;
    file.commit().map_err(image::ImageError::IoError)?;
    Ok(())
}

/// Saves a grey PNG atomically.
pub fn save_png_gray(img: &GrayImage, path: &Path) -> Result<(), image::ImageError> {
    let file = crate::util::AtomicFile::new(path).map_err(image::ImageError::IoError)?;
    img.save_with_format(file.temp_path(), image::ImageFormat::Png)?;
    file.commit().map_err(image::ImageError::IoError)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blur tap by tap, every tap clamped: what `blur_clamped` must equal bit for bit.
    fn blur_reference(data: &[f64], w: usize, h: usize, sx: f64, sy: f64) -> Vec<f64> {
        let pass = |src: &[f64], k: &[f64], along_x: bool| -> Vec<f64> {
            let r = (k.len() / 2) as isize;
            let mut out = vec![0.0; w * h];
            for y in 0..h as isize {
                for x in 0..w as isize {
                    let mut acc = 0.0;
                    for (t, kv) in k.iter().enumerate() {
                        let d = t as isize - r;
                        let (xx, yy) = if along_x {
                            ((x + d).clamp(0, w as isize - 1), y)
                        } else {
                            (x, (y + d).clamp(0, h as isize - 1))
                        };
                        acc += kv * src[yy as usize * w + xx as usize];
                    }
                    out[y as usize * w + x as usize] = acc;
                }
            }
            out
        };
        pass(
            &pass(data, &gaussian_kernel(sx), true),
            &gaussian_kernel(sy),
            false,
        )
    }

    #[test]
    fn blur_equals_the_tap_by_tap_blur() {
        // Sizes narrower than the kernel, and wider, with a sharp-edged pattern.
        for (w, h) in [(37, 23), (3, 40), (50, 2), (1, 1)] {
            let data: Vec<f64> = (0..w * h)
                .map(|i| ((i * 7919) % 101) as f64 / 100.0 + if i % 13 == 0 { 5.0 } else { 0.0 })
                .collect();
            for (sx, sy) in [(0.8, 0.8), (1.0, 2.5), (3.0, 0.5)] {
                let got = blur_clamped(&data, w, h, sx, sy);
                let want = blur_reference(&data, w, h, sx, sy);
                assert_eq!(got, want, "{w}x{h} sigma {sx} {sy}");
            }
        }
    }
}
