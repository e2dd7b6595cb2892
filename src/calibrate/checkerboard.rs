//! Finding where a checkerboard might be in an image: lattices of points that look like its
//! inner corners or its dark squares (the rough starts that [`super::board_fit`] refines).
//!
//! Inner corners are saddle points of the image intensity. The image is upsampled twice (a
//! board a few metres away has squares only 5–15 pixels across), smoothed, and every strong
//! local maximum of the saddle response `Ixy² − Ixx·Iyy` becomes a candidate, refined to
//! sub-pixel by Newton steps towards the point where the smoothed intensity's gradient
//! vanishes. A board too small or soft for saddles still shows its dark squares as blobs
//! between lighter ones ([`dark_blobs`]). Either kind of point grows, from a seed and two
//! neighbours, into a lattice (each next point predicted by extrapolating its row and column,
//! which follows perspective), re-indexed through the homography that fits it best
//! ([`regularise`]).

use nalgebra::{DMatrix, Matrix3, Vector2, Vector3};
use std::collections::HashMap;

/// A greyscale image, values 0..1.
#[derive(Debug, Clone)]
pub struct Grey {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Grey {
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![0.0; width * height],
        }
    }

    pub fn from_rgb(img: &image::RgbImage) -> Self {
        let mut g = Self::new(img.width() as usize, img.height() as usize);
        for (i, p) in img.pixels().enumerate() {
            g.data[i] = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0;
        }
        g
    }

    /// Averages each row with its neighbours (1, 2, 1), which removes the comb of an
    /// interlaced frame (rows alternating between two fields) and blurs a progressive one
    /// by 0.7 px vertically.
    pub fn deinterlace(&self) -> Self {
        let mut out = Self::new(self.width, self.height);
        for y in 0..self.height as isize {
            for x in 0..self.width as isize {
                out.data[y as usize * self.width + x as usize] =
                    0.25 * self.at(x, y - 1) + 0.5 * self.at(x, y) + 0.25 * self.at(x, y + 1);
            }
        }
        out
    }

    #[inline]
    fn at(&self, x: isize, y: isize) -> f32 {
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.data[y * self.width + x]
    }

    fn bilinear(&self, x: f64, y: f64) -> f64 {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as isize, y0 as isize);
        let a = self.at(x0, y0) as f64;
        let b = self.at(x0 + 1, y0) as f64;
        let c = self.at(x0, y0 + 1) as f64;
        let d = self.at(x0 + 1, y0 + 1) as f64;
        (a * (1.0 - fx) + b * fx) * (1.0 - fy) + (c * (1.0 - fx) + d * fx) * fy
    }

    /// Twice the size, bilinear (pixel centres kept: new pixel k samples old (k - 0.5) / 2).
    fn upsample2(&self) -> Self {
        let mut out = Self::new(self.width * 2, self.height * 2);
        for y in 0..out.height {
            for x in 0..out.width {
                out.data[y * out.width + x] =
                    self.bilinear((x as f64 - 0.5) / 2.0, (y as f64 - 0.5) / 2.0) as f32;
            }
        }
        out
    }

    /// Gaussian blur, edges clamped.
    pub fn blur(&self, sigma: f64) -> Self {
        let data: Vec<f64> = self.data.iter().map(|&v| v as f64).collect();
        let blurred =
            crate::util::images::blur_clamped(&data, self.width, self.height, sigma, sigma);
        Self {
            width: self.width,
            height: self.height,
            data: blurred.into_iter().map(|v| v as f32).collect(),
        }
    }
}

/// Smoothed-intensity derivatives at a sub-pixel point: gradient and Hessian.
fn derivatives(g: &Grey, x: f64, y: f64) -> (Vector2<f64>, nalgebra::Matrix2<f64>) {
    let s = |dx: f64, dy: f64| g.bilinear(x + dx, y + dy);
    let gx = 0.5 * (s(1.0, 0.0) - s(-1.0, 0.0));
    let gy = 0.5 * (s(0.0, 1.0) - s(0.0, -1.0));
    let xx = s(1.0, 0.0) - 2.0 * s(0.0, 0.0) + s(-1.0, 0.0);
    let yy = s(0.0, 1.0) - 2.0 * s(0.0, 0.0) + s(0.0, -1.0);
    let xy = 0.25 * (s(1.0, 1.0) - s(1.0, -1.0) - s(-1.0, 1.0) + s(-1.0, -1.0));
    (Vector2::new(gx, gy), nalgebra::Matrix2::new(xx, xy, xy, yy))
}

/// A saddle point candidate (pixel coordinates of the original image, OpenCV centres).
#[derive(Debug, Clone, Copy)]
pub struct Saddle {
    pub x: f64,
    pub y: f64,
    pub strength: f64,
}

/// Saddle points of `img`, strongest first.
pub fn saddles(img: &Grey) -> Vec<Saddle> {
    let up = img.upsample2();
    let g = up.blur(1.6);
    let (w, h) = (g.width, g.height);
    let mut resp = vec![0.0f32; w * h];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let (xi, yi) = (x as isize, y as isize);
            let c = g.at(xi, yi);
            let xx = g.at(xi + 1, yi) - 2.0 * c + g.at(xi - 1, yi);
            let yy = g.at(xi, yi + 1) - 2.0 * c + g.at(xi, yi - 1);
            let xy = 0.25
                * (g.at(xi + 1, yi + 1) - g.at(xi + 1, yi - 1) - g.at(xi - 1, yi + 1)
                    + g.at(xi - 1, yi - 1));
            resp[y * w + x] = (xy * xy - xx * yy).max(0.0);
        }
    }
    let max = resp.iter().copied().fold(0.0f32, f32::max);
    if max <= 0.0 {
        return Vec::new();
    }
    let threshold = 0.01 * max;
    let nms = 3isize;
    let mut out = Vec::new();
    for y in nms..h as isize - nms {
        for x in nms..w as isize - nms {
            let v = resp[y as usize * w + x as usize];
            if v < threshold {
                continue;
            }
            let mut is_max = true;
            'win: for dy in -nms..=nms {
                for dx in -nms..=nms {
                    if (dx, dy) != (0, 0) {
                        let o = resp[(y + dy) as usize * w + (x + dx) as usize];
                        if o > v || (o == v && (dy, dx) < (0, 0)) {
                            is_max = false;
                            break 'win;
                        }
                    }
                }
            }
            if !is_max {
                continue;
            }
            // Newton steps to where the gradient vanishes.
            let (mut px, mut py) = (x as f64, y as f64);
            let mut ok = true;
            for _ in 0..6 {
                let (grad, hess) = derivatives(&g, px, py);
                let Some(inv) = hess.try_inverse() else {
                    ok = false;
                    break;
                };
                let step = -(inv * grad);
                if !step.x.is_finite() || step.norm() > 2.0 {
                    ok = false;
                    break;
                }
                px += step.x;
                py += step.y;
                if step.norm() < 1e-3 {
                    break;
                }
            }
            if !ok || (px - x as f64).abs() > 2.5 || (py - y as f64).abs() > 2.5 {
                continue;
            }
            // Back to the original image's pixel coordinates.
            out.push(Saddle {
                x: (px - 0.5) / 2.0,
                y: (py - 0.5) / 2.0,
                strength: v as f64,
            });
        }
    }
    out.sort_by(|a, b| b.strength.total_cmp(&a.strength));
    out.truncate(1500);
    out
}

/// Lattice position to the index of the point there.
pub type Lattice = HashMap<(i32, i32), usize>;

fn grow(pts: &[Vector2<f64>], seed: usize, u: Vector2<f64>, v: Vector2<f64>) -> Lattice {
    let mut grid: Lattice = HashMap::new();
    let mut used = vec![false; pts.len()];
    grid.insert((0, 0), seed);
    used[seed] = true;
    let get = |g: &Lattice, c: (i32, i32)| g.get(&c).map(|&k| pts[k]);
    let mut changed = true;
    while changed && grid.len() < 400 {
        changed = false;
        // Sorted: a HashMap iterates in a random order, and the greedy growth depends on it.
        let mut cells: Vec<(i32, i32)> = grid.keys().copied().collect();
        cells.sort_unstable();
        let mut frontier: Vec<(i32, i32)> = Vec::new();
        for (i, j) in cells {
            for c in [(i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)] {
                if !grid.contains_key(&c) && !frontier.contains(&c) {
                    frontier.push(c);
                }
            }
        }
        for (i, j) in frontier {
            let mut preds = Vec::new();
            let mut spacing = f64::INFINITY;
            for (di, dj) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                let (Some(a), Some(b)) = (
                    get(&grid, (i - di, j - dj)),
                    get(&grid, (i - 2 * di, j - 2 * dj)),
                ) else {
                    continue;
                };
                preds.push(a + (a - b));
                spacing = spacing.min((a - b).norm());
            }
            if preds.is_empty() {
                // One neighbour: step by the neighbouring row/column, or the seed's vectors.
                for (di, dj) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                    let Some(a) = get(&grid, (i - di, j - dj)) else {
                        continue;
                    };
                    let step = [(0, 1), (0, -1), (1, 0), (-1, 0)]
                        .iter()
                        .find_map(|&(ei, ej)| {
                            let p = get(&grid, (i - di + ei, j - dj + ej))?;
                            let q = get(&grid, (i + ei, j + ej))?;
                            Some(q - p)
                        })
                        .unwrap_or(if di != 0 {
                            u * di as f64
                        } else {
                            v * dj as f64
                        });
                    preds.push(a + step);
                    spacing = spacing.min(step.norm());
                }
            }
            if preds.is_empty() {
                continue;
            }
            let p = preds.iter().fold(Vector2::zeros(), |s, q| s + q) / preds.len() as f64;
            let radius = 0.35 * spacing;
            let best = pts
                .iter()
                .enumerate()
                .filter(|(k, q)| !used[*k] && (*q - p).norm() < radius)
                .min_by(|a, b| (a.1 - p).norm().total_cmp(&(b.1 - p).norm()));
            if let Some((k, _)) = best {
                grid.insert((i, j), k);
                used[k] = true;
                changed = true;
            }
        }
    }
    grid
}

/// Homography (3x3) mapping `src` to `dst` by the normalised DLT, or `None` if degenerate.
pub fn homography(src: &[Vector2<f64>], dst: &[Vector2<f64>]) -> Option<Matrix3<f64>> {
    let n = src.len();
    if n < 4 {
        return None;
    }
    let norm = |p: &[Vector2<f64>]| {
        let c = p.iter().fold(Vector2::zeros(), |s, q| s + q) / p.len() as f64;
        let d = p.iter().map(|q| (q - c).norm()).sum::<f64>() / p.len() as f64;
        let s = if d > 1e-12 { 2f64.sqrt() / d } else { 1.0 };
        Matrix3::new(s, 0.0, -s * c.x, 0.0, s, -s * c.y, 0.0, 0.0, 1.0)
    };
    let (ts, td) = (norm(src), norm(dst));
    let mut a = DMatrix::<f64>::zeros(2 * n, 9);
    for k in 0..n {
        let s = ts * Vector3::new(src[k].x, src[k].y, 1.0);
        let d = td * Vector3::new(dst[k].x, dst[k].y, 1.0);
        let (x, y, u, v) = (s.x, s.y, d.x, d.y);
        let r = [
            [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u],
            [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v],
        ];
        for (row, vals) in r.iter().enumerate() {
            for (c, val) in vals.iter().enumerate() {
                a[(2 * k + row, c)] = *val;
            }
        }
    }
    let svd = (a.transpose() * &a).symmetric_eigen();
    let (imin, _) = svd
        .eigenvalues
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    let h = svd.eigenvectors.column(imin);
    let hn = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]);
    let h = td.try_inverse()? * hn * ts;
    h.iter().all(|v| v.is_finite()).then_some(h)
}

fn apply(h: &Matrix3<f64>, p: &Vector2<f64>) -> Vector2<f64> {
    let q = h * Vector3::new(p.x, p.y, 1.0);
    Vector2::new(q.x / q.z, q.y / q.z)
}

/// Whether lattice point `p` with local steps `u`, `v` is an inner corner: the four squares
/// around it alternate dark and light (the board's outer corners and the floor's edges do not).
fn is_inner_corner(img: &Grey, p: Vector2<f64>, u: Vector2<f64>, v: Vector2<f64>) -> bool {
    let q = |a: f64, b: f64| {
        let x = p + u * (0.4 * a) + v * (0.4 * b);
        img.bilinear(x.x, x.y)
    };
    let (q1, q2, q3, q4) = (q(1.0, 1.0), q(-1.0, 1.0), q(-1.0, -1.0), q(1.0, -1.0));
    let contrast = ((q1 + q3) - (q2 + q4)).abs() / 2.0;
    let spread = (q1 - q3).abs().max((q2 - q4).abs());
    contrast > 0.08 && spread < 0.6 * contrast
}

/// The points of a lattice that are inner corners of a board (see [`is_inner_corner`]), with
/// the local steps measured in the lattice they came from.
pub fn inner_corners(img: &Grey, grid: &Lattice, pts: &[Vector2<f64>]) -> Lattice {
    let p = |c: (i32, i32)| grid.get(&c).map(|&k| pts[k]);
    // Local steps by central (or one-sided) differences.
    let step = |c: (i32, i32), d: (i32, i32)| -> Option<Vector2<f64>> {
        let here = p(c)?;
        match (p((c.0 + d.0, c.1 + d.1)), p((c.0 - d.0, c.1 - d.1))) {
            (Some(a), Some(b)) => Some((a - b) / 2.0),
            (Some(a), None) => Some(a - here),
            (None, Some(b)) => Some(here - b),
            (None, None) => None,
        }
    };
    grid.iter()
        .filter(|&(&c, _)| match (p(c), step(c, (1, 0)), step(c, (0, 1))) {
            (Some(x), Some(u), Some(v)) => is_inner_corner(img, x, u, v),
            _ => false,
        })
        .map(|(&c, &k)| (c, k))
        .collect()
}

/// Centres of small dark blobs, darkest-against-surroundings first: the dark squares of a
/// board too small or too soft for its inner corners to look like saddles.
pub fn dark_blobs(img: &Grey) -> Vec<Vector2<f64>> {
    let g = img.blur(0.8);
    let (w, h) = (g.width as isize, g.height as isize);
    let mut found: Vec<(f32, Vector2<f64>)> = Vec::new();
    for y in 4..h - 4 {
        for x in 4..w - 4 {
            let v = g.at(x, y);
            let mut is_min = true;
            for dy in -2..=2isize {
                for dx in -2..=2isize {
                    let o = g.at(x + dx, y + dy);
                    if (dx, dy) != (0, 0) && (o < v || (o == v && (dy, dx) < (0, 0))) {
                        is_min = false;
                    }
                }
            }
            if !is_min {
                continue;
            }
            // Bright on two opposite sides (a dark square between two light ones; the floor
            // beside a board's white margin is bright on one side only).
            let bright = (0..8)
                .map(|a| {
                    let t = a as f64 * std::f64::consts::PI / 8.0;
                    let side = |sign: f64| {
                        (2..=4)
                            .map(|r| {
                                let q = Vector2::new(
                                    x as f64 + sign * r as f64 * t.cos(),
                                    y as f64 + sign * r as f64 * t.sin(),
                                );
                                g.bilinear(q.x, q.y) as f32
                            })
                            .fold(f32::MIN, f32::max)
                    };
                    side(1.0).min(side(-1.0))
                })
                .fold(f32::MIN, f32::max);
            if bright - v < BLOB_CONTRAST || bright < BLOB_SURROUND {
                continue;
            }
            // Centroid of the darkness in the 3x3 neighbourhood.
            let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
            for dy in -1..=1isize {
                for dx in -1..=1isize {
                    let wgt = (bright - g.at(x + dx, y + dy)).max(0.0) as f64;
                    sx += wgt * dx as f64;
                    sy += wgt * dy as f64;
                    sw += wgt;
                }
            }
            found.push((
                bright - v,
                Vector2::new(x as f64 + sx / sw, y as f64 + sy / sw),
            ));
        }
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    found.truncate(600);
    found.into_iter().map(|(_, p)| p).collect()
}

/// How much darker than its brightest surroundings (grey levels 0..1) a blob must be.
const BLOB_CONTRAST: f32 = 0.2;
/// How bright its surroundings must be (a board's white is among the brightest things in view).
const BLOB_SURROUND: f32 = 0.6;

/// The best lattice (by `score`) the points grow into, trying each of the first `seeds` points
/// with pairs of its six nearest neighbours as the lattice's steps.
pub fn best_lattice(
    pts: &[Vector2<f64>],
    seeds: usize,
    score: &dyn Fn(&Lattice) -> usize,
) -> Lattice {
    let mut best = Lattice::new();
    let mut best_score = 0;
    for seed in 0..pts.len().min(seeds) {
        let mut near: Vec<(f64, usize)> = pts
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != seed)
            .map(|(k, q)| ((q - pts[seed]).norm(), k))
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0));
        near.truncate(6);
        for a in 0..near.len() {
            for b in a + 1..near.len() {
                let u = pts[near[a].1] - pts[seed];
                let v = pts[near[b].1] - pts[seed];
                let (lu, lv) = (u.norm(), v.norm());
                if lu < 1.5 || lv < 1.5 || lu / lv > 5.0 || lv / lu > 5.0 {
                    continue;
                }
                if (u.x * v.y - u.y * v.x).abs() / (lu * lv) < 0.3 {
                    continue;
                }
                let grid = grow(pts, seed, u, v);
                if grid.len() <= best_score {
                    continue;
                }
                let sc = score(&grid);
                if sc > best_score {
                    best_score = sc;
                    best = grid;
                }
            }
        }
    }
    best
}

/// Re-indexes a grown lattice through the homography that fits it best: a lattice grown step
/// by step can slip by a cell where perspective shrinks the spacing, and the points a single
/// homography explains are the ones to keep. Points (of all of `pts`) that land within a
/// quarter cell of a lattice position, inside the grown lattice's extent plus one cell, make
/// the new lattice.
pub fn regularise(pts: &[Vector2<f64>], lattice: &Lattice) -> Lattice {
    let mut current = lattice.clone();
    for _ in 0..3 {
        let mut cells: Vec<((i32, i32), usize)> = current.iter().map(|(&c, &k)| (c, k)).collect();
        if cells.len() < 6 {
            return current;
        }
        // Trim the worst-explained points before the final fit.
        let mut h = None;
        for _ in 0..3 {
            let src: Vec<Vector2<f64>> = cells
                .iter()
                .map(|(c, _)| Vector2::new(c.0 as f64, c.1 as f64))
                .collect();
            let dst: Vec<Vector2<f64>> = cells.iter().map(|(_, k)| pts[*k]).collect();
            let Some(hm) = homography(&src, &dst) else {
                return current;
            };
            let mut res: Vec<f64> = src
                .iter()
                .zip(&dst)
                .map(|(s, d)| (apply(&hm, s) - d).norm())
                .collect();
            let mut sorted = res.clone();
            sorted.sort_by(f64::total_cmp);
            let limit = (3.0 * sorted[sorted.len() / 2]).max(0.5);
            h = Some(hm);
            let keep: Vec<bool> = res.iter().map(|r| *r <= limit).collect();
            if keep.iter().all(|k| *k) {
                break;
            }
            let mut k = keep.iter();
            cells.retain(|_| *k.next().unwrap_or(&true));
            res.clear();
            if cells.len() < 6 {
                return current;
            }
        }
        let Some(h) = h else {
            return current;
        };
        let Some(inv) = h.try_inverse() else {
            return current;
        };
        let (imin, imax, jmin, jmax) = current.keys().fold(
            (i32::MAX, i32::MIN, i32::MAX, i32::MIN),
            |(a, b, c, d), k| (a.min(k.0), b.max(k.0), c.min(k.1), d.max(k.1)),
        );
        let mut best: HashMap<(i32, i32), (f64, usize)> = HashMap::new();
        for (k, p) in pts.iter().enumerate() {
            let q = apply(&inv, p);
            let c = (q.x.round() as i32, q.y.round() as i32);
            let off = ((q.x - c.0 as f64).powi(2) + (q.y - c.1 as f64).powi(2)).sqrt();
            if off > 0.25 || c.0 < imin - 1 || c.0 > imax + 1 || c.1 < jmin - 1 || c.1 > jmax + 1 {
                continue;
            }
            if best.get(&c).is_none_or(|b| off < b.0) {
                best.insert(c, (off, k));
            }
        }
        let next: Lattice = best.into_iter().map(|(c, (_, k))| (c, k)).collect();
        if next == current {
            break;
        }
        current = next;
    }
    current
}
