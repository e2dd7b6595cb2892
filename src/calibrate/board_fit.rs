//! Fitting a checkerboard's pose to the image itself.
//!
//! A board far from the camera or seen at a grazing angle has squares a few pixels tall,
//! softened by the lens and the codec until its inner corners no longer look like saddles.
//! Every pixel of it still carries information, though: the board's picture is a known
//! pattern (squares of alternating grey around a white margin) seen through a known camera and
//! a blur. This module renders that picture for a pose — each square's blurred footprint is a
//! product of two Gaussian edge profiles across its sides, measured in pixels through the
//! local scale of the board plane, so the model is smooth in the pose — and adjusts the pose
//! and the blur (horizontal and vertical σ) by Levenberg-Marquardt until the rendering matches
//! the image in the least-squares sense, with the grey levels (margin, even squares, odd
//! squares) solved linearly at every step. The margin is assumed at least
//! [`MARGIN_SQUARES`] of a square wide.
//!
//! Board coordinates are in squares: inner corner `(i, j)` is the point `(i, j)`, and square
//! `(a, b)` covers `[a, a + 1] × [b, b + 1]` for `a` in `-1..cols`, `b` in `-1..rows`.

use super::Board;
use super::checkerboard::Grey;
use crate::camera::{CameraFromWorld, Intrinsics, Pixel};
use crate::util::images::blur_clamped;
use nalgebra::{DMatrix, DVector, Matrix3, Rotation3, Vector2, Vector3};

/// White margin around the squares that the fit may assume (in squares).
pub const MARGIN_SQUARES: f64 = 0.3;

/// Undistorted normalised coordinates of every pixel centre of one camera.
pub struct RayGrid {
    width: usize,
    height: usize,
    xy: Vec<(f64, f64)>,
}

impl RayGrid {
    pub fn new(k: &Intrinsics) -> Self {
        let (w, h) = (k.width as usize, k.height as usize);
        let mut xy = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                xy.push(k.normalised_from_pixel(&Pixel::new(x as f64, y as f64)));
            }
        }
        Self {
            width: w,
            height: h,
            xy,
        }
    }
}

/// The result of a fit.
#[derive(Debug, Clone)]
pub struct BoardFit {
    pub pose: CameraFromWorld,
    /// Gaussian blur of the board's picture (px), horizontally and vertically.
    pub blur_px: (f64, f64),
    /// RMS difference between the image and the rendered board (grey levels, 0..1).
    pub rms: f64,
    /// Grey levels of the margin, the even squares and the odd squares.
    pub levels: [f64; 3],
    /// Pixels compared.
    pub pixels: usize,
    /// The focal length found, as a multiple of the grid's (1 unless fitted with
    /// [`Focal::Free`]).
    pub focal_scale: f64,
}

/// Whether the fit may adjust the focal length (for a lens without distortion whose focal
/// length is unknown; the principal point stays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focal {
    Known,
    Free,
}

impl BoardFit {
    /// The margin's grey minus the darker squares' (the board's contrast).
    pub fn contrast(&self) -> f64 {
        self.levels[0] - self.levels[1].min(self.levels[2])
    }

    /// Residual relative to the board's contrast: how well the pattern explains the image.
    pub fn misfit(&self) -> f64 {
        self.rms / self.contrast().abs().max(1e-6)
    }

    fn params(&self) -> Params {
        pack(&self.pose, self.blur_px, self.focal_scale)
    }
}

/// Standard normal cumulative distribution (Abramowitz & Stegun 7.1.26, error < 1.5e-7).
fn phi(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Blur (px) of the nearly sharp rendering that the image-space blur is applied to.
const SHARP_PX: f64 = 0.4;

/// Parameters: rotation vector, translation (m), ln σx, ln σy, ln of the focal length's
/// multiple.
type Params = [f64; 9];

/// A pose, blur (px along and across rows) and focal multiple as [`Params`].
fn pack(pose: &CameraFromWorld, blur_px: (f64, f64), focal_scale: f64) -> Params {
    let rv = pose.rotation.scaled_axis();
    let t = pose.translation;
    [
        rv.x,
        rv.y,
        rv.z,
        t.x,
        t.y,
        t.z,
        blur_px.0.ln(),
        blur_px.1.ln(),
        focal_scale.ln(),
    ]
}

fn pose_of(p: &Params) -> CameraFromWorld {
    CameraFromWorld {
        rotation: Rotation3::new(Vector3::new(p[0], p[1], p[2])),
        translation: Vector3::new(p[3], p[4], p[5]),
    }
}

/// Maps normalised image coordinates to board coordinates (squares) for one pose.
struct PlaneMap {
    g: Matrix3<f64>,
    /// Normalised coordinates are divided by this (the focal length's multiple).
    focal_scale: f64,
}

impl PlaneMap {
    fn of(p: &Params, square_m: f64) -> Option<Self> {
        Self::new(&pose_of(p), square_m, p[8].exp())
    }

    fn new(pose: &CameraFromWorld, square_m: f64, focal_scale: f64) -> Option<Self> {
        let r = pose.rotation.matrix();
        let m = Matrix3::from_columns(&[
            r.column(0) * square_m,
            r.column(1) * square_m,
            pose.translation,
        ]);
        Some(Self {
            g: m.try_inverse()?,
            focal_scale,
        })
    }

    /// Board coordinates of a normalised point, if the ray meets the board's front side.
    fn board(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let q = self.g * Vector3::new(x / self.focal_scale, y / self.focal_scale, 1.0);
        // q.z is the inverse depth scale; a ray behind the camera gives a negative one.
        (q.z > 1e-12).then(|| (q.x / q.z, q.y / q.z))
    }
}

/// Board coordinates at one pixel, with their gradients.
struct Sample {
    u: f64,
    v: f64,
    /// Board units per pixel along x and y, for u and for v.
    du: (f64, f64),
    dv: (f64, f64),
}

/// The pixels (indices) that `map` puts on the board or its margin.
fn region(grid: &RayGrid, map: &PlaneMap, board: &Board, margin: f64) -> Vec<usize> {
    let (lo_u, hi_u) = (-1.0 - margin, board.cols as f64 + margin);
    let (lo_v, hi_v) = (-1.0 - margin, board.rows as f64 + margin);
    grid.xy
        .iter()
        .enumerate()
        .filter(|&(_, &(nx, ny))| {
            map.board(nx, ny)
                .is_some_and(|(u, v)| (lo_u..=hi_u).contains(&u) && (lo_v..=hi_v).contains(&v))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Board coordinates at pixel `i`, with their change per pixel along x and y.
fn sample(grid: &RayGrid, map: &PlaneMap, i: usize) -> Option<Sample> {
    let w = grid.width;
    let (x, y) = (i % w, i / w);
    let at = |xx: usize, yy: usize| {
        let (a, b) = grid.xy[yy * w + xx];
        map.board(a, b)
    };
    let (u, v) = at(x, y)?;
    let (xn, sx) = if x + 1 < w {
        (x + 1, 1.0)
    } else {
        (x - 1, -1.0)
    };
    let (yn, sy) = if y + 1 < grid.height {
        (y + 1, 1.0)
    } else {
        (y - 1, -1.0)
    };
    let (px, py) = (at(xn, y)?, at(x, yn)?);
    Some(Sample {
        u,
        v,
        du: ((px.0 - u) * sx, (py.0 - u) * sy),
        dv: ((px.1 - v) * sx, (py.1 - v) * sy),
    })
}

/// How much of a blurred (σ in board units) point at `x` falls in the even and in the odd
/// columns (or rows) of squares, which run from -1 to `inner - 1`.
fn parity_sums(x: f64, sigma: f64, inner: usize) -> (f64, f64) {
    let reach = (3.0 * sigma).ceil() as i64 + 1;
    let at = x.floor() as i64;
    let (mut even, mut odd) = (0.0, 0.0);
    for a in (at - reach).max(-1)..=(at + reach).min(inner as i64 - 1) {
        let w = phi((x - a as f64) / sigma) - phi((x - a as f64 - 1.0) / sigma);
        if a.rem_euclid(2) == 0 {
            even += w
        } else {
            odd += w
        }
    }
    (even, odd)
}

/// The blurred even-parity and odd-parity square coverage at one sample.
fn coverage(s: &Sample, board: &Board, sigma: (f64, f64)) -> (f64, f64) {
    // Blur along each family's normal, in board units.
    let su = ((sigma.0 * s.du.0).powi(2) + (sigma.1 * s.du.1).powi(2))
        .sqrt()
        .max(1e-6);
    let sv = ((sigma.0 * s.dv.0).powi(2) + (sigma.1 * s.dv.1).powi(2))
        .sqrt()
        .max(1e-6);
    let (ue, uo) = parity_sums(s.u, su, board.cols);
    let (ve, vo) = parity_sums(s.v, sv, board.rows);
    // Square (a, b) is even when a + b is.
    (ue * ve + uo * vo, ue * vo + uo * ve)
}

/// The board's picture for one pose and blur, over a patch of the image: how much of each
/// pixel the even and the odd squares cover, after the blur.
struct Rendered {
    x0: usize,
    y0: usize,
    width: usize,
    height: usize,
    even: Vec<f64>,
    odd: Vec<f64>,
}

impl Rendered {
    /// Renders the squares nearly sharp (a product of edge profiles is exact only where the
    /// board's lines cross at right angles in the image, so it is kept to a fraction of a
    /// pixel), then blurs the picture in pixel space, where the blur lives. The patch covers
    /// `region` and enough around it for the blur.
    fn new(grid: &RayGrid, region: &[usize], board: &Board, p: &Params) -> Option<Self> {
        let sigma = (p[6].exp(), p[7].exp());
        let map = PlaneMap::of(p, board.square_m)?;
        let (w, h) = (grid.width, grid.height);
        let pad = (3.0 * sigma.0.max(sigma.1)).ceil() as usize + 2;
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for &i in region {
            let (x, y) = (i % w, i / w);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            return None;
        }
        let (x0, y0) = (x0.saturating_sub(pad), y0.saturating_sub(pad));
        let (x1, y1) = ((x1 + pad).min(w - 1), (y1 + pad).min(h - 1));
        let (pw, ph) = (x1 - x0 + 1, y1 - y0 + 1);
        let mut even = vec![0.0; pw * ph];
        let mut odd = vec![0.0; pw * ph];
        for y in y0..=y1 {
            for x in x0..=x1 {
                if let Some(s) = sample(grid, &map, y * w + x) {
                    let (e, o) = coverage(&s, board, (SHARP_PX, SHARP_PX));
                    even[(y - y0) * pw + x - x0] = e;
                    odd[(y - y0) * pw + x - x0] = o;
                }
            }
        }
        let rest = |s: f64| (s * s - SHARP_PX * SHARP_PX).max(1e-4).sqrt();
        let (bx, by) = (rest(sigma.0), rest(sigma.1));
        Some(Self {
            x0,
            y0,
            width: pw,
            height: ph,
            even: blur_clamped(&even, pw, ph, bx, by),
            odd: blur_clamped(&odd, pw, ph, bx, by),
        })
    }

    /// Even and odd coverage at image pixel `i`.
    fn at_pixel(&self, i: usize, image_width: usize) -> (f64, f64) {
        let j = (i / image_width - self.y0) * self.width + i % image_width - self.x0;
        (self.even[j], self.odd[j])
    }

    /// Even and odd coverage at a sub-pixel image position (bilinear; clamped to the patch).
    fn at(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x0 as f64).clamp(0.0, self.width as f64 - 1.0);
        let fy = (y - self.y0 as f64).clamp(0.0, self.height as f64 - 1.0);
        let (ix, iy) = (
            (fx.floor() as usize).min(self.width.saturating_sub(2)),
            (fy.floor() as usize).min(self.height.saturating_sub(2)),
        );
        let (tx, ty) = (fx - ix as f64, fy - iy as f64);
        let get = |d: &[f64], xx: usize, yy: usize| {
            d[(yy.min(self.height - 1)) * self.width + xx.min(self.width - 1)]
        };
        let lerp = |d: &[f64]| {
            let a = get(d, ix, iy) * (1.0 - tx) + get(d, ix + 1, iy) * tx;
            let b = get(d, ix, iy + 1) * (1.0 - tx) + get(d, ix + 1, iy + 1) * tx;
            a * (1.0 - ty) + b * ty
        };
        (lerp(&self.even), lerp(&self.odd))
    }
}

/// Residuals of the image against the best grey levels for the model at `p`, with the levels
/// (margin, even squares, odd squares).
fn residuals(
    img: &Grey,
    grid: &RayGrid,
    region: &[usize],
    board: &Board,
    p: &Params,
) -> Option<(Vec<f64>, [f64; 3])> {
    let rendered = Rendered::new(grid, region, board, p)?;
    let cov: Vec<(f64, f64)> = region
        .iter()
        .map(|&i| rendered.at_pixel(i, grid.width))
        .collect();
    // Grey = margin + even·e + odd·o, in the least-squares sense.
    let mut ata = Matrix3::<f64>::zeros();
    let mut atb = Vector3::<f64>::zeros();
    for (&i, &(e, o)) in region.iter().zip(&cov) {
        let a = Vector3::new(1.0, e, o);
        ata += a * a.transpose();
        atb += a * img.data[i] as f64;
    }
    let l = ata.try_inverse()? * atb;
    let r = region
        .iter()
        .zip(&cov)
        .map(|(&i, &(e, o))| img.data[i] as f64 - (l.x + l.y * e + l.z * o))
        .collect();
    Some((r, [l.x, l.x + l.y, l.x + l.z]))
}

/// Fits the board's pose (and the picture's blur, and with [`Focal::Free`] the focal length)
/// to `img`, starting from `start`. `None` when the board falls outside the picture or the fit
/// breaks down.
pub fn fit(
    img: &Grey,
    grid: &RayGrid,
    board: &Board,
    start: &CameraFromWorld,
    focal: Focal,
) -> Option<BoardFit> {
    let mut p = pack(start, (1.2, 1.2), 1.0);
    let np = if focal == Focal::Free { 9 } else { 8 };
    let mut damping = 1e-3;
    for _ in 0..80 {
        let map = PlaneMap::of(&p, board.square_m)?;
        let region = region(grid, &map, board, MARGIN_SQUARES);
        // Too few pixels to fit, or a pose run off to where the board fills the picture.
        if region.len() < 50 || region.len() > grid.xy.len() / 3 {
            return None;
        }
        let (r0, _) = residuals(img, grid, &region, board, &p)?;
        let cost0: f64 = r0.iter().map(|v| v * v).sum();
        let n = r0.len();
        let mut jac = DMatrix::<f64>::zeros(n, np);
        let tn = Vector3::new(p[3], p[4], p[5]).norm();
        for q in 0..np {
            let eps = match q {
                0..=2 => 1e-5,
                3..=5 => 1e-5 * (1.0 + tn),
                _ => 1e-3,
            };
            let mut pp = p;
            pp[q] += eps;
            let (r1, _) = residuals(img, grid, &region, board, &pp)?;
            for k in 0..n {
                jac[(k, q)] = (r1[k] - r0[k]) / eps;
            }
        }
        let jt = jac.transpose();
        let jtj = &jt * &jac;
        let g = &jt * DVector::from_vec(r0);
        let mut improved = false;
        let mut converged = false;
        for _ in 0..10 {
            let mut a = jtj.clone();
            for d in 0..np {
                a[(d, d)] += damping * jtj[(d, d)].max(1e-12);
            }
            let Some(step) = a.lu().solve(&(-&g)) else {
                damping *= 10.0;
                continue;
            };
            let mut pp = p;
            for d in 0..np {
                pp[d] += step[d];
            }
            // Blur stays between a tenth of a pixel and a few pixels.
            pp[6] = pp[6].clamp(0.1f64.ln(), 6f64.ln());
            pp[7] = pp[7].clamp(0.1f64.ln(), 6f64.ln());
            let Some((r1, _)) = residuals(img, grid, &region, board, &pp) else {
                damping *= 10.0;
                continue;
            };
            let cost1: f64 = r1.iter().map(|v| v * v).sum();
            if cost1 < cost0 {
                converged = cost0 - cost1 < 1e-9 * cost0 + 1e-12;
                p = pp;
                damping = (damping / 3.0).max(1e-9);
                improved = true;
                break;
            }
            damping *= 10.0;
        }
        if !improved || converged {
            break;
        }
    }
    let map = PlaneMap::of(&p, board.square_m)?;
    let region = region(grid, &map, board, MARGIN_SQUARES);
    let (r, levels) = residuals(img, grid, &region, board, &p)?;
    let rms = (r.iter().map(|v| v * v).sum::<f64>() / r.len().max(1) as f64).sqrt();
    let pose = pose_of(&p);
    pose.translation
        .iter()
        .all(|v| v.is_finite())
        .then_some(BoardFit {
            pose,
            blur_px: (p[6].exp(), p[7].exp()),
            rms,
            levels,
            pixels: r.len(),
            focal_scale: p[8].exp(),
        })
}

/// Where `pose` puts the board's inner corners in the image (row-major, like
/// [`Board::points`]).
pub fn corners(k: &Intrinsics, board: &Board, pose: &CameraFromWorld) -> Vec<Vector2<f64>> {
    board
        .points()
        .iter()
        .map(|w| {
            let c = pose.rotation * w + pose.translation;
            let q = k.pixel_from_normalised(c.x / c.z, c.y / c.z);
            Vector2::new(q.x, q.y)
        })
        .collect()
}

/// The board as the fit sees it: `img` with the region compared replaced by the rendering
/// (a picture to check a fit by eye).
pub fn rendering(img: &Grey, grid: &RayGrid, board: &Board, fit: &BoardFit) -> Option<Grey> {
    let p = fit.params();
    let map = PlaneMap::of(&p, board.square_m)?;
    let region = region(grid, &map, board, MARGIN_SQUARES);
    let (r, _) = residuals(img, grid, &region, board, &p)?;
    let mut out = img.clone();
    for (&i, r) in region.iter().zip(r) {
        out.data[i] -= r as f32;
    }
    Some(out)
}

/// Each inner corner's offset (px, row-major) from where the fit puts it, measured on its own:
/// the fitted picture of the four squares around the corner is slid over the image until it
/// matches best. `None` for a corner whose neighbourhood is out of view or does not settle.
pub fn corner_offsets(
    img: &Grey,
    grid: &RayGrid,
    k: &Intrinsics,
    board: &Board,
    fit: &BoardFit,
) -> Vec<Option<Vector2<f64>>> {
    let p = fit.params();
    let predicted = corners(k, board, &fit.pose);
    let none = vec![None; predicted.len()];
    let Some(map) = PlaneMap::of(&p, board.square_m) else {
        return none;
    };
    let area = region(grid, &map, board, MARGIN_SQUARES);
    let Some(rendered) = Rendered::new(grid, &area, board, &p) else {
        return none;
    };
    let [margin, even, odd] = fit.levels;
    let model = |x: f64, y: f64| {
        let (e, o) = rendered.at(x, y);
        margin + (even - margin) * e + (odd - margin) * o
    };
    let w = grid.width;
    // Pixels by the square-unit cell around each inner corner they fall in.
    let mut windows: Vec<Vec<usize>> = vec![Vec::new(); predicted.len()];
    for &i in &area {
        let (nx, ny) = grid.xy[i];
        let Some((u, v)) = map.board(nx, ny) else {
            continue;
        };
        let (ci, cj) = (u.round(), v.round());
        if (u - ci).abs() > 0.75 || (v - cj).abs() > 0.75 {
            continue;
        }
        if (0.0..board.cols as f64).contains(&ci) && (0.0..board.rows as f64).contains(&cj) {
            windows[cj as usize * board.cols + ci as usize].push(i);
        }
    }
    windows
        .iter()
        .map(|win| {
            if win.len() < 6 {
                return None;
            }
            let mut d = Vector2::<f64>::zeros();
            for _ in 0..15 {
                // Gauss-Newton on the shift: r = I(x) - model(x - d).
                let (mut jtj, mut jtr) = (nalgebra::Matrix2::<f64>::zeros(), Vector2::zeros());
                for &i in win {
                    let (x, y) = ((i % w) as f64 - d.x, (i / w) as f64 - d.y);
                    let r = img.data[i] as f64 - model(x, y);
                    // d r / d d is the model's gradient (central differences, 1 px apart).
                    let g = Vector2::new(
                        model(x + 0.5, y) - model(x - 0.5, y),
                        model(x, y + 0.5) - model(x, y - 0.5),
                    );
                    jtj += g * g.transpose();
                    jtr += g * r;
                }
                let step = jtj.try_inverse()? * (-jtr);
                d += step;
                if !d.iter().all(|v| v.is_finite()) || d.norm() > 3.0 {
                    return None;
                }
                if step.norm() < 1e-4 {
                    break;
                }
            }
            Some(d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::tests::{BOARD, lens, render_board};
    use crate::camera::WorldFromCamera;
    use nalgebra::Point3;

    /// A board seen at a grazing angle from 4.5 m (squares about 4 px tall), blurred like the
    /// Utrecht clips: the fit, started several centimetres and about a degree off, recovers
    /// the camera within millimetres and the blur within a few tenths of a pixel.
    #[test]
    fn recovers_the_pose_of_a_small_blurred_board() {
        let k = lens();
        let target = Point3::new(0.35, 0.25, 0.0);
        let eye = Point3::new(3.2, -2.9, -1.5);
        let truth = WorldFromCamera::looking_at(eye, target, -Vector3::z()).inverse();
        let img = render_board(&k, &truth).blur(1.3);
        let grid = RayGrid::new(&k);
        let start = CameraFromWorld {
            rotation: Rotation3::new(Vector3::new(0.01, -0.012, 0.008)) * truth.rotation,
            translation: truth.translation + Vector3::new(0.03, -0.02, 0.05),
        };
        let f = fit(&img, &grid, &BOARD, &start, Focal::Known).expect("fit");
        let err = (f.pose.centre() - truth.centre()).norm();
        let angle = (f.pose.rotation * truth.rotation.inverse()).angle();
        // Measured: 4 mm and 0.013 degrees; the renderer's 4x4 box filter adds to the blur
        // it is given, and the fit's rendering is itself an approximation.
        assert!(err < 0.008, "centre off by {err} m");
        assert!(angle < 0.05f64.to_radians(), "rotation off by {angle} rad");
        let (bx, by) = f.blur_px;
        assert!(
            (bx - 1.3).abs() < 0.3 && (by - 1.3).abs() < 0.3,
            "blur {bx}, {by}"
        );
        assert!(f.misfit() < 0.03, "misfit {}", f.misfit());
    }
}
