//! Sync: each camera's start offset on the common timeline, estimated from the footage.
//!
//! Each camera's track is the athlete's silhouette centroid per frame (from segmentation;
//! [`detect`] finds the athlete in a thumbnail to place the full-resolution matte). For a candidate offset, the
//! centroid seen by one camera must lie on the epipolar line of the centroid another camera saw
//! at the same instant (tracks are interpolated between frames, so offsets come out sub-frame).
//! Each camera's offset minimises a robust epipolar cost, first against the reference camera,
//! then against all cameras jointly; a golden-section search refines the best grid point.

use crate::camera::{Camera, Pixel};
use image::RgbImage;
use nalgebra::{Matrix3, Vector3};
use rayon::prelude::*;

/// The athlete as seen in one frame (full-resolution pixels).
#[derive(Debug, Clone, Copy)]
pub struct Detection {
    pub centroid: Pixel,
    /// Foreground area in full-resolution pixels.
    pub area: f64,
    /// Bounding box [x0, y0, x1, y1) in full-resolution pixels.
    pub bbox: [f64; 4],
    /// The detection touches the image border (centroid unreliable).
    pub clipped: bool,
}

/// One camera's detections, one per frame.
#[derive(Debug, Clone)]
pub struct Track {
    pub fps: f64,
    pub detections: Vec<Option<Detection>>,
}

/// The athlete in one thumbnail against a background thumbnail (same size, RGB, row-major):
/// the centroid and box of the foreground pixels that have at least two foreground
/// 4-neighbours (isolated noise is ignored), in full-resolution pixels.
pub fn detect(
    thumb: &RgbImage,
    bg: &[u8],
    threshold: f32,
    scale: u32,
    is_foreground: &(impl Fn([u8; 3], [u8; 3], f32) -> bool + Sync),
) -> Option<Detection> {
    let (w, h) = thumb.dimensions();
    let raw = thumb.as_raw();
    if bg.len() != raw.len() {
        return None;
    }
    let s = scale as f64;
    let fg = |x: i64, y: i64| {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
            return false;
        }
        let i = (y as u32 * w + x as u32) as usize * 3;
        is_foreground(
            [raw[i], raw[i + 1], raw[i + 2]],
            [bg[i], bg[i + 1], bg[i + 2]],
            threshold,
        )
    };
    let (mut sx, mut sy, mut cnt) = (0.0, 0.0, 0usize);
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            if !fg(x, y) {
                continue;
            }
            let nb = [(1, 0), (-1, 0), (0, 1), (0, -1)]
                .iter()
                .filter(|(dx, dy)| fg(x + dx, y + dy))
                .count();
            if nb < 2 {
                continue;
            }
            sx += x as f64;
            sy += y as f64;
            cnt += 1;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if cnt < 3 {
        return None;
    }
    let to_full = |v: f64| (v + 0.5) * s - 0.5;
    Some(Detection {
        centroid: Pixel::new(to_full(sx / cnt as f64), to_full(sy / cnt as f64)),
        area: cnt as f64 * s * s,
        bbox: [
            x0 as f64 * s,
            y0 as f64 * s,
            (x1 + 1) as f64 * s,
            (y1 + 1) as f64 * s,
        ],
        clipped: x0 <= 0 || y0 <= 0 || x1 >= w as i64 - 1 || y1 >= h as i64 - 1,
    })
}

/// Estimated offsets: `offsets[i]` is the common-timeline time of camera i's first frame.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SyncResult {
    pub offsets: Vec<f64>,
    /// Mean epipolar residual per camera at the chosen offset (pixels).
    pub residual_px: Vec<f64>,
}

struct Pair {
    essential: Matrix3<f64>,
    fa: f64,
    fb: f64,
}

fn skew(t: &Vector3<f64>) -> Matrix3<f64> {
    Matrix3::new(0.0, -t.z, t.y, t.z, 0.0, -t.x, -t.y, t.x, 0.0)
}

fn pair(a: &Camera, b: &Camera) -> Pair {
    // x_b = R x_a + t in camera coordinates.
    let r = b.pose.rotation * a.pose.rotation.inverse();
    let t = b.pose.translation - r * a.pose.translation;
    Pair {
        essential: skew(&t) * r.matrix(),
        fa: 0.5 * (a.intrinsics.fx + a.intrinsics.fy),
        fb: 0.5 * (b.intrinsics.fx + b.intrinsics.fy),
    }
}

/// Each detection's centroid in undistorted normalised coordinates (`None` when missing or
/// clipped by the image border), computed once per track.
fn normalised(track: &Track, cam: &Camera) -> Vec<Option<(f64, f64)>> {
    track
        .detections
        .iter()
        .map(|d| {
            d.filter(|d| !d.clipped)
                .map(|d| cam.intrinsics.normalised_from_pixel(&d.centroid))
        })
        .collect()
}

/// Homogeneous normalised coordinates of the centroid at a fractional frame (linear between
/// frames; lens distortion is close enough to linear over one frame's motion).
fn sample(norm: &[Option<(f64, f64)>], frame: f64) -> Option<Vector3<f64>> {
    if frame < 0.0 {
        return None;
    }
    let k = frame.floor() as usize;
    let f = frame - k as f64;
    let a = (*norm.get(k)?)?;
    let b = if f > 1e-9 { (*norm.get(k + 1)?)? } else { a };
    Some(Vector3::new(
        a.0 * (1.0 - f) + b.0 * f,
        a.1 * (1.0 - f) + b.1 * f,
        1.0,
    ))
}

/// Mean robust epipolar distance (pixels) between camera b (offset `ob`) and camera a
/// (offset `oa`), with how many frames contributed.
fn pair_cost(
    p: &Pair,
    na: &[Option<(f64, f64)>],
    fa: f64,
    oa: f64,
    nb: &[Option<(f64, f64)>],
    fb: f64,
    ob: f64,
) -> (f64, usize) {
    let mut sum = 0.0;
    let mut n = 0;
    for (k, d) in nb.iter().enumerate() {
        let Some(xb) = d.map(|(x, y)| Vector3::new(x, y, 1.0)) else {
            continue;
        };
        let t = ob + k as f64 / fb;
        let Some(xa) = sample(na, (t - oa) * fa) else {
            continue;
        };
        let lb = p.essential * xa;
        let la = p.essential.transpose() * xb;
        let db = (xb.dot(&lb)).abs() / (lb.x * lb.x + lb.y * lb.y).sqrt().max(1e-12) * p.fb;
        let da = (xa.dot(&la)).abs() / (la.x * la.x + la.y * la.y).sqrt().max(1e-12) * p.fa;
        let d = 0.5 * (da + db);
        // Huber with a 3-pixel knee.
        let c = 3.0;
        sum += if d < c {
            0.5 * d * d
        } else {
            c * (d - 0.5 * c)
        };
        n += 1;
    }
    if n == 0 {
        (f64::INFINITY, 0)
    } else {
        (sum / n as f64, n)
    }
}

/// Estimates every camera's offset relative to camera 0 (the reference), searching ±`range` s.
pub fn estimate_offsets(cameras: &[&Camera], tracks: &[Track], range: f64) -> SyncResult {
    let n = cameras.len();
    let mut offsets = vec![0.0; n];
    let mut residual = vec![0.0; n];
    if n < 2 {
        return SyncResult {
            offsets,
            residual_px: residual,
        };
    }
    let pairs: Vec<Vec<Pair>> = (0..n)
        .map(|a| (0..n).map(|b| pair(cameras[a], cameras[b])).collect())
        .collect();
    let norms: Vec<Vec<Option<(f64, f64)>>> =
        (0..n).map(|i| normalised(&tracks[i], cameras[i])).collect();
    let min_frames = |b: usize| (tracks[b].detections.iter().flatten().count() / 4).max(6);
    for round in 0..3 {
        let current = offsets.clone();
        let results: Vec<(f64, f64)> = (1..n)
            .into_par_iter()
            .map(|b| {
                let partners: Vec<usize> = if round == 0 {
                    vec![0]
                } else {
                    (0..n).filter(|&a| a != b).collect()
                };
                let cost = |ob: f64| {
                    let mut total = 0.0;
                    let mut used = 0;
                    for &a in &partners {
                        let (c, cnt) = pair_cost(
                            &pairs[a][b],
                            &norms[a],
                            tracks[a].fps,
                            current[a],
                            &norms[b],
                            tracks[b].fps,
                            ob,
                        );
                        if cnt >= min_frames(b) && c.is_finite() {
                            total += c;
                            used += 1;
                        }
                    }
                    if used == 0 {
                        f64::INFINITY
                    } else {
                        total / used as f64
                    }
                };
                let step = 0.25 / tracks[b].fps;
                let steps = (range / step).ceil() as i64;
                let mut best = (f64::INFINITY, 0.0);
                for i in -steps..=steps {
                    let o = i as f64 * step;
                    let c = cost(o);
                    if c < best.0 {
                        best = (c, o);
                    }
                }
                if !best.0.is_finite() {
                    return (current[b], f64::NAN);
                }
                // Golden-section refinement around the best grid point.
                let (mut lo, mut hi) = (best.1 - step, best.1 + step);
                let g = 0.618_033_988_75;
                let mut x1 = hi - g * (hi - lo);
                let mut x2 = lo + g * (hi - lo);
                let (mut f1, mut f2) = (cost(x1), cost(x2));
                for _ in 0..30 {
                    if f1 < f2 {
                        hi = x2;
                        x2 = x1;
                        f2 = f1;
                        x1 = hi - g * (hi - lo);
                        f1 = cost(x1);
                    } else {
                        lo = x1;
                        x1 = x2;
                        f1 = f2;
                        x2 = lo + g * (hi - lo);
                        f2 = cost(x2);
                    }
                }
                let o = 0.5 * (lo + hi);
                let c = cost(o);
                if c <= best.0 {
                    (o, c)
                } else {
                    (best.1, best.0)
                }
            })
            .collect();
        for (i, (o, c)) in results.into_iter().enumerate() {
            offsets[i + 1] = o;
            // Huber cost back to an RMS-like pixel figure.
            residual[i + 1] = (2.0 * c).sqrt();
        }
    }
    SyncResult {
        offsets,
        residual_px: residual,
    }
}
