//! Finding a checkerboard's inner corners in an image.
//!
//! Inner corners are saddle points of the image intensity. The image is upsampled twice (a
//! board a few metres away has squares only 5–15 pixels across), smoothed, and every strong
//! local maximum of the saddle response `Ixy² − Ixx·Iyy` becomes a candidate, refined to
//! sub-pixel by Newton steps towards the point where the smoothed intensity's gradient
//! vanishes. The board is then the candidates that grow, from a seed and two neighbours, into a
//! complete `cols × rows` lattice (each next corner predicted by extrapolating its row and
//! column, which follows perspective), and whose points a single homography explains.

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

    fn blur(&self, sigma: f64) -> Self {
        let r = (3.0 * sigma).ceil() as isize;
        let k: Vec<f32> = (-r..=r)
            .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp() as f32)
            .collect();
        let sum: f32 = k.iter().sum();
        let k: Vec<f32> = k.iter().map(|v| v / sum).collect();
        let mut tmp = Self::new(self.width, self.height);
        for y in 0..self.height as isize {
            for x in 0..self.width as isize {
                let mut acc = 0.0;
                for (j, w) in k.iter().enumerate() {
                    acc += w * self.at(x + j as isize - r, y);
                }
                tmp.data[y as usize * self.width + x as usize] = acc;
            }
        }
        let mut out = Self::new(self.width, self.height);
        for y in 0..self.height as isize {
            for x in 0..self.width as isize {
                let mut acc = 0.0;
                for (j, w) in k.iter().enumerate() {
                    acc += w * tmp.at(x, y + j as isize - r);
                }
                out.data[y as usize * self.width + x as usize] = acc;
            }
        }
        out
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

/// The board's inner corners in image pixels, row-major: `corners[j * cols + i]` is corner
/// `(i, j)`, `i` along the `cols` direction.
#[derive(Debug, Clone)]
pub struct Detection {
    pub cols: usize,
    pub rows: usize,
    pub corners: Vec<Vector2<f64>>,
    /// RMS distance of the corners from the best homography of the lattice (px).
    pub homography_rms_px: f64,
}

type Lattice = HashMap<(i32, i32), usize>;

fn grow(pts: &[Vector2<f64>], seed: usize, u: Vector2<f64>, v: Vector2<f64>) -> Lattice {
    let mut grid: Lattice = HashMap::new();
    let mut used = vec![false; pts.len()];
    grid.insert((0, 0), seed);
    used[seed] = true;
    let get = |g: &Lattice, c: (i32, i32)| g.get(&c).map(|&k| pts[k]);
    let mut changed = true;
    while changed && grid.len() < 400 {
        changed = false;
        let cells: Vec<(i32, i32)> = grid.keys().copied().collect();
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

pub fn apply(h: &Matrix3<f64>, p: &Vector2<f64>) -> Vector2<f64> {
    let q = h * Vector3::new(p.x, p.y, 1.0);
    Vector2::new(q.x / q.z, q.y / q.z)
}

/// Finds a complete `cols x rows` lattice of inner corners among the saddles. `rectify` maps an
/// image point to where an ideal pinhole would see it (removing lens distortion), so the
/// homography test holds on wide lenses. The labelling is (i along the longer lattice side
/// when `cols >= rows`); the caller fixes the orientation.
pub fn find_board(
    img: &Grey,
    cols: usize,
    rows: usize,
    rectify: &dyn Fn(Vector2<f64>) -> Vector2<f64>,
) -> Option<Detection> {
    let s = saddles(img);
    let pts: Vec<Vector2<f64>> = s.iter().map(|q| Vector2::new(q.x, q.y)).collect();
    let mut best: Option<Detection> = None;
    let seeds = pts.len().min(300);
    for seed in 0..seeds {
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
                let sin = (u.x * v.y - u.y * v.x).abs() / (lu * lv);
                if sin < 0.3 {
                    continue;
                }
                let grid = grow(&pts, seed, u, v);
                if grid.len() < cols * rows {
                    continue;
                }
                if let Some(d) = best_window(img, &grid, &pts, cols, rows, rectify)
                    && best
                        .as_ref()
                        .is_none_or(|b| d.homography_rms_px < b.homography_rms_px)
                {
                    best = Some(d);
                }
            }
        }
        if best.as_ref().is_some_and(|b| b.homography_rms_px < 0.3) {
            break;
        }
    }
    best.filter(|b| b.homography_rms_px < 1.5)
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

/// The complete `cols x rows` window of inner corners in a grown lattice that a homography
/// fits best, if any.
fn best_window(
    img: &Grey,
    grid: &Lattice,
    pts: &[Vector2<f64>],
    cols: usize,
    rows: usize,
    rectify: &dyn Fn(Vector2<f64>) -> Vector2<f64>,
) -> Option<Detection> {
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
    let inner: std::collections::HashSet<(i32, i32)> = grid
        .keys()
        .copied()
        .filter(|&c| match (p(c), step(c, (1, 0)), step(c, (0, 1))) {
            (Some(x), Some(u), Some(v)) => is_inner_corner(img, x, u, v),
            _ => false,
        })
        .collect();
    let (imin, imax) = grid
        .keys()
        .fold((i32::MAX, i32::MIN), |(a, b), k| (a.min(k.0), b.max(k.0)));
    let (jmin, jmax) = grid
        .keys()
        .fold((i32::MAX, i32::MIN), |(a, b), k| (a.min(k.1), b.max(k.1)));
    let mut best: Option<Detection> = None;
    for (w, h) in [(cols as i32, rows as i32), (rows as i32, cols as i32)] {
        for i0 in imin..=imax - w + 1 {
            for j0 in jmin..=jmax - h + 1 {
                let mut sub: Lattice = HashMap::new();
                let mut complete = true;
                'cells: for i in i0..i0 + w {
                    for j in j0..j0 + h {
                        match grid.get(&(i, j)) {
                            Some(&k) if inner.contains(&(i, j)) => {
                                sub.insert((i, j), k);
                            }
                            _ => {
                                complete = false;
                                break 'cells;
                            }
                        }
                    }
                }
                if !complete {
                    continue;
                }
                if let Some(d) = to_detection(&sub, pts, cols, rows, rectify)
                    && best
                        .as_ref()
                        .is_none_or(|b| d.homography_rms_px < b.homography_rms_px)
                {
                    best = Some(d);
                }
            }
        }
    }
    best
}

fn to_detection(
    grid: &Lattice,
    pts: &[Vector2<f64>],
    cols: usize,
    rows: usize,
    rectify: &dyn Fn(Vector2<f64>) -> Vector2<f64>,
) -> Option<Detection> {
    let (imin, imax) = grid
        .keys()
        .fold((i32::MAX, i32::MIN), |(a, b), k| (a.min(k.0), b.max(k.0)));
    let (jmin, jmax) = grid
        .keys()
        .fold((i32::MAX, i32::MIN), |(a, b), k| (a.min(k.1), b.max(k.1)));
    let (w, h) = ((imax - imin + 1) as usize, (jmax - jmin + 1) as usize);
    let swap = if (w, h) == (cols, rows) {
        false
    } else if (w, h) == (rows, cols) {
        true
    } else {
        return None;
    };
    let mut corners = vec![Vector2::zeros(); cols * rows];
    for (&(i, j), &k) in grid {
        let (a, b) = ((i - imin) as usize, (j - jmin) as usize);
        let (ci, cj) = if swap { (b, a) } else { (a, b) };
        corners[cj * cols + ci] = pts[k];
    }
    let ideal: Vec<Vector2<f64>> = (0..rows)
        .flat_map(|j| (0..cols).map(move |i| Vector2::new(i as f64, j as f64)))
        .collect();
    let rect: Vec<Vector2<f64>> = corners.iter().map(|p| rectify(*p)).collect();
    let hm = homography(&ideal, &rect)?;
    // Residuals measured back in pixels (the rectified points are in pixel-like units).
    let rms = (ideal
        .iter()
        .zip(&rect)
        .map(|(i, r)| (apply(&hm, i) - r).norm_squared())
        .sum::<f64>()
        / ideal.len() as f64)
        .sqrt();
    Some(Detection {
        cols,
        rows,
        corners,
        homography_rms_px: rms,
    })
}
