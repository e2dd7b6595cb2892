//! Image quality metrics: PSNR and SSIM (Wang et al. 2004: luma, 11x11 Gaussian window,
//! sigma 1.5, K1 = 0.01, K2 = 0.03), over the whole frame or a rectangle.

use image::RgbImage;

/// Pixel rectangle [x0, x1) x [y0, y1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Rect {
    pub fn full(img: &RgbImage) -> Self {
        Self {
            x0: 0,
            y0: 0,
            x1: img.width(),
            y1: img.height(),
        }
    }
    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Rect) -> Rect {
        Rect {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }

    pub fn area(&self) -> u64 {
        (self.x1.saturating_sub(self.x0)) as u64 * (self.y1.saturating_sub(self.y0)) as u64
    }
}

/// PSNR in dB over RGB (peak 255). Identical images give 100 dB.
pub fn psnr(a: &RgbImage, b: &RgbImage, r: Rect) -> f64 {
    let mut se = 0.0f64;
    let mut n = 0u64;
    for y in r.y0..r.y1.min(a.height()).min(b.height()) {
        for x in r.x0..r.x1.min(a.width()).min(b.width()) {
            let (pa, pb) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
            for c in 0..3 {
                let d = pa[c] as f64 - pb[c] as f64;
                se += d * d;
            }
            n += 3;
        }
    }
    if n == 0 {
        return f64::NAN;
    }
    let mse = se / n as f64;
    if mse <= 1e-12 {
        100.0
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// How the render changes from one frame to the next against how the real footage changes,
/// over `r`: sums over the rectangle's pixels and channels of the two frame differences
/// (render `a0` → `a1`, real `b0` → `b1`), in 8-bit levels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TemporalSums {
    /// Σ ((a1 − a0) − (b1 − b0))²: what the render's change gets wrong.
    pub error: f64,
    /// Σ (a1 − a0)²: how much the render changes.
    pub rendered: f64,
    /// Σ (b1 − b0)²: how much the real footage changes.
    pub real: f64,
    /// Pixel channels summed.
    pub n: u64,
}

impl std::ops::AddAssign for TemporalSums {
    fn add_assign(&mut self, o: Self) {
        self.error += o.error;
        self.rendered += o.rendered;
        self.real += o.real;
        self.n += o.n;
    }
}

impl TemporalSums {
    /// Root mean square of what the render's change gets wrong (levels).
    pub fn rms_error(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            (self.error / self.n as f64).sqrt()
        }
    }

    /// The render's change over the real footage's (RMS over RMS): 1 when the render changes
    /// as much as the footage, above 1 where it flickers, below 1 where it holds still.
    pub fn change_ratio(&self) -> f64 {
        if self.n == 0 || self.real <= 0.0 {
            f64::NAN
        } else {
            (self.rendered / self.real).sqrt()
        }
    }
}

/// [`TemporalSums`] of a rendered pair of consecutive frames against the real pair, over `r`.
pub fn temporal(
    a0: &RgbImage,
    a1: &RgbImage,
    b0: &RgbImage,
    b1: &RgbImage,
    r: Rect,
) -> TemporalSums {
    let mut t = TemporalSums::default();
    let (w, h) = [a0, a1, b0, b1]
        .iter()
        .fold((u32::MAX, u32::MAX), |(w, h), i| {
            (w.min(i.width()), h.min(i.height()))
        });
    for y in r.y0..r.y1.min(h) {
        for x in r.x0..r.x1.min(w) {
            let px = |i: &RgbImage| i.get_pixel(x, y).0;
            let (p0, p1, q0, q1) = (px(a0), px(a1), px(b0), px(b1));
            for c in 0..3 {
                let da = p1[c] as f64 - p0[c] as f64;
                let db = q1[c] as f64 - q0[c] as f64;
                t.error += (da - db) * (da - db);
                t.rendered += da * da;
                t.real += db * db;
                t.n += 1;
            }
        }
    }
    t
}

fn luma(img: &RgbImage, r: Rect) -> (Vec<f32>, usize, usize) {
    let (w, h) = ((r.x1 - r.x0) as usize, (r.y1 - r.y0) as usize);
    let mut out = Vec::with_capacity(w * h);
    for y in r.y0..r.y1 {
        for x in r.x0..r.x1 {
            let p = img.get_pixel(x, y).0;
            out.push(0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32);
        }
    }
    (out, w, h)
}

fn blur(src: &[f32], w: usize, h: usize, k: &[f32]) -> Vec<f32> {
    let r = k.len() / 2;
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (i, kv) in k.iter().enumerate() {
                let xx = (x + i).saturating_sub(r).min(w - 1);
                acc += kv * src[y * w + xx];
            }
            tmp[y * w + x] = acc;
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (i, kv) in k.iter().enumerate() {
                let yy = (y + i).saturating_sub(r).min(h - 1);
                acc += kv * tmp[yy * w + x];
            }
            out[y * w + x] = acc;
        }
    }
    out
}

/// Mean SSIM of the luma over a rectangle.
pub fn ssim(a: &RgbImage, b: &RgbImage, r: Rect) -> f64 {
    let r = Rect {
        x0: r.x0,
        y0: r.y0,
        x1: r.x1.min(a.width()).min(b.width()),
        y1: r.y1.min(a.height()).min(b.height()),
    };
    if r.area() == 0 {
        return f64::NAN;
    }
    let (la, w, h) = luma(a, r);
    let (lb, _, _) = luma(b, r);
    let sigma = 1.5f32;
    let k: Vec<f32> = (-5..=5)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|v| v / s).collect();
    let mu_a = blur(&la, w, h, &k);
    let mu_b = blur(&lb, w, h, &k);
    let aa: Vec<f32> = la.iter().map(|v| v * v).collect();
    let bb: Vec<f32> = lb.iter().map(|v| v * v).collect();
    let ab: Vec<f32> = la.iter().zip(&lb).map(|(x, y)| x * y).collect();
    let s_aa = blur(&aa, w, h, &k);
    let s_bb = blur(&bb, w, h, &k);
    let s_ab = blur(&ab, w, h, &k);
    let c1 = (0.01f32 * 255.0).powi(2);
    let c2 = (0.03f32 * 255.0).powi(2);
    let mut total = 0.0f64;
    for i in 0..w * h {
        let (ma, mb) = (mu_a[i], mu_b[i]);
        let va = (s_aa[i] - ma * ma).max(0.0);
        let vb = (s_bb[i] - mb * mb).max(0.0);
        let cov = s_ab[i] - ma * mb;
        let v =
            ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        total += v as f64;
    }
    total / (w * h) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u32, h: u32, shift: u8) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = ((x * 7 + y * 13) % 200) as u8 + shift;
            image::Rgb([v, v / 2, 255 - v])
        })
    }

    #[test]
    fn identical_images_are_perfect() {
        let a = pattern(64, 48, 0);
        assert_eq!(psnr(&a, &a, Rect::full(&a)), 100.0);
        assert!((ssim(&a, &a, Rect::full(&a)) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn psnr_matches_the_definition() {
        let a = RgbImage::from_pixel(10, 10, image::Rgb([100, 100, 100]));
        let b = RgbImage::from_pixel(10, 10, image::Rgb([110, 100, 90]));
        // MSE = (100 + 0 + 100) / 3.
        let want = 10.0 * (255.0f64 * 255.0 / (200.0 / 3.0)).log10();
        assert!((psnr(&a, &b, Rect::full(&a)) - want).abs() < 1e-9);
        // Structure lost is worse than a brightness offset.
        let c = pattern(64, 48, 0);
        let d = pattern(64, 48, 20);
        let flat = RgbImage::from_pixel(64, 48, image::Rgb([120, 60, 150]));
        assert!(ssim(&c, &d, Rect::full(&c)) > ssim(&c, &flat, Rect::full(&c)));
    }

    #[test]
    fn temporal_figures_tell_a_steady_render_from_a_frozen_or_flickering_one() {
        let (b0, b1) = (pattern(32, 24, 0), pattern(32, 24, 40));
        let full = Rect::full(&b0);
        // Changing as the footage does, even while wrong by a steady offset: no error, ratio 1.
        let (a0, a1) = (pattern(32, 24, 10), pattern(32, 24, 50));
        let t = temporal(&a0, &a1, &b0, &b1, full);
        assert_eq!(t.n, 32 * 24 * 3);
        assert!(t.rms_error() < 1e-9 && (t.change_ratio() - 1.0).abs() < 1e-9);
        // Frozen: none of the footage's change (the middle channel moves by 20, the others by
        // 40 either way), ratio 0.
        let t = temporal(&a0, &a0, &b0, &b1, full);
        let want = ((40.0f64 * 40.0 + 20.0 * 20.0 + 40.0 * 40.0) / 3.0).sqrt();
        assert!((t.rms_error() - want).abs() < 1e-9, "{}", t.rms_error());
        assert_eq!(t.change_ratio(), 0.0);
        // Flickering: right on the first frame, 30 levels bright on the next.
        let flick = RgbImage::from_fn(32, 24, |x, y| {
            image::Rgb(b1.get_pixel(x, y).0.map(|v| v.saturating_add(30)))
        });
        let t = temporal(&b0, &flick, &b0, &b1, full);
        assert!(t.rms_error() > 20.0 && t.change_ratio() > 1.2, "{t:?}");
        // Only the rectangle counts; an empty one gives no figures.
        let none = Rect {
            x0: 5,
            y0: 5,
            x1: 5,
            y1: 9,
        };
        assert!(temporal(&b0, &flick, &b0, &b1, none).rms_error().is_nan());
        assert!(full.union(&none) == full);
    }
}
