//! The snow surface as a height field, reconstructed from the cameras' background plates by
//! multi-view photo-consistency, so the venue proxy has the real slope, kicker, knoll, banks and
//! fences rather than only the heights the athlete touched.
//!
//! Heights are searched coarse to fine over a grid in the ground profile's frame (`s` along the
//! direction of travel, `l` to the left): at each cell, candidate heights around a prior are
//! scored by how well the cameras that see the point agree on its colour (a robust spread: the
//! best three fifths of the cameras around their median colour, so a camera that sees a fence
//! or the kicker in front of the point does not spoil it). Costs are aggregated over the
//! neighbouring cells, the best height refined by a parabola, cells whose cost barely depends
//! on height (plain snow) take their neighbours' height, and the result is median-filtered
//! before it becomes the next level's prior.
//!
//! Visibility for texture baking comes from [`DepthMaps`]: the measured surface splatted into each
//! camera's depth buffer (at a quarter of its resolution), so a texel behind a fence or the
//! kicker is not painted with the colour of what stands in front of it.

use super::venue::{AxisMap, Plate};
use crate::camera::Camera;
use nalgebra::{Point3, Vector3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The horizontal frame the snow surface is measured in.
#[derive(Debug, Clone, Copy)]
pub struct GroundFrame {
    pub origin: Point3<f64>,
    /// Horizontal unit direction of travel.
    pub along: Vector3<f64>,
    /// Horizontal unit direction to the left of travel.
    pub left: Vector3<f64>,
}

impl GroundFrame {
    pub fn point(&self, s: f64, l: f64, z: f64) -> Point3<f64> {
        let p = self.origin + self.along * s + self.left * l;
        Point3::new(p.x, p.y, z)
    }

    /// (s, l) of a world point.
    pub fn coords(&self, p: &Point3<f64>) -> (f64, f64) {
        let d = p - self.origin;
        (d.dot(&self.along), d.dot(&self.left))
    }
}

/// Fewer textured views than this cannot tell a height.
const MIN_CAMERAS: usize = 4;

/// A plate as a pyramid of grey levels in 0..1 (matching compares texture, not colour): each
/// level half the size of the one before, so a patch is sampled at about the scale of its
/// sample spacing wherever the camera stands.
pub struct GreyPlate<'a> {
    camera: &'a Camera,
    /// (width, height, grey levels) per level, finest first.
    levels: Vec<(usize, usize, Vec<f32>)>,
}

impl<'a> GreyPlate<'a> {
    pub fn new(plate: &Plate<'a>) -> Self {
        let (w, h) = (plate.image.width() as usize, plate.image.height() as usize);
        let raw: Vec<f64> = plate
            .image
            .pixels()
            .map(|p| (0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64) / 255.0)
            .collect();
        let mut level = crate::util::images::blur_clamped(&raw, w, h, 0.8, 0.8);
        let (mut w, mut h) = (w, h);
        let mut levels = vec![(w, h, level.iter().map(|&v| v as f32).collect())];
        while levels.len() < 5 && w >= 16 && h >= 16 {
            let blurred = crate::util::images::blur_clamped(&level, w, h, 1.0, 1.0);
            let (nw, nh) = (w / 2, h / 2);
            level = (0..nw * nh)
                .map(|k| blurred[(2 * (k / nw)) * w + 2 * (k % nw)])
                .collect();
            (w, h) = (nw, nh);
            levels.push((w, h, level.iter().map(|&v| v as f32).collect()));
        }
        Self {
            camera: plate.camera,
            levels,
        }
    }

    /// Whether the camera may see some point of the straight segment between `ends`: false only
    /// when both ends project beyond the same edge of the picture (grown by a tenth, for the
    /// lens's curvature).
    pub fn may_see_any(&self, ends: &[Point3<f64>; 2]) -> bool {
        let (w, h) = self.camera.intrinsics.width_height();
        let (w, h) = (w as f64, h as f64);
        let (mx, my) = (0.1 * w, 0.1 * h);
        let (Some(a), Some(b)) = (self.camera.project(&ends[0]), self.camera.project(&ends[1]))
        else {
            // An end behind the camera (or where its lens folds): the segment may cross the
            // picture.
            return true;
        };
        !((a.x < -mx && b.x < -mx)
            || (a.y < -my && b.y < -my)
            || (a.x > w + mx && b.x > w + mx)
            || (a.y > h + my && b.y > h + my))
    }

    /// Bilinear sample at full-resolution pixel (x, y) from pyramid level `k`.
    fn sample(&self, k: usize, x: f64, y: f64) -> f32 {
        let (w, h, grey) = &self.levels[k];
        let f = 0.5f64.powi(k as i32);
        let (x, y) = (
            ((x + 0.5) * f - 0.5).clamp(0.0, *w as f64 - 1.001),
            ((y + 0.5) * f - 0.5).clamp(0.0, *h as f64 - 1.001),
        );
        // Both are clamped non-negative: truncation is the floor (and no call into libm).
        let (i, j) = (x as usize, y as usize);
        let (fx, fy) = ((x - i as f64) as f32, (y - j as f64) as f32);
        let g = |i: usize, j: usize| grey[j * w + i];
        let a = g(i, j) * (1.0 - fx) + g(i + 1, j) * fx;
        let b = g(i, j + 1) * (1.0 - fx) + g(i + 1, j + 1) * fx;
        a * (1.0 - fy) + b * fy
    }
}

/// Samples per side of a matching patch.
const PATCH: usize = 5;
pub const PATCH_LEN: usize = PATCH * PATCH;

/// The patch of grey levels a camera sees on the horizontal square of half-size `r` around `p`
/// (through the projection's local affine approximation), zero-mean and unit-norm; `None` when
/// the camera does not see the square or it has no texture there.
fn patch(
    pl: &GreyPlate,
    p: &Point3<f64>,
    u: &Vector3<f64>,
    v: &Vector3<f64>,
    r: f64,
) -> Option<[f32; PATCH_LEN]> {
    let (c, d) = pl.camera.project_with_depth(p)?;
    let (w, h) = pl.camera.intrinsics.width_height();
    // Most cameras do not see a given spot: rejected before the two further projections.
    if d <= 0.5 || c.x < 0.0 || c.y < 0.0 || c.x > w as f64 - 1.0 || c.y > h as f64 - 1.0 {
        return None;
    }
    let cu = pl.camera.project(&(p + u * r))?;
    let cv = pl.camera.project(&(p + v * r))?;
    let (du, dv) = ((cu.x - c.x, cu.y - c.y), (cv.x - c.x, cv.y - c.y));
    let ext = du.0.abs() + dv.0.abs();
    let eyt = du.1.abs() + dv.1.abs();
    if c.x - ext < 0.0
        || c.y - eyt < 0.0
        || c.x + ext > w as f64 - 1.0
        || c.y + eyt > h as f64 - 1.0
    {
        return None;
    }
    // Sample spacing in pixels, and the pyramid level where it is about two pixels.
    let half = (PATCH / 2) as f64;
    let spacing = (du.0.hypot(du.1)).max(dv.0.hypot(dv.1)) / half;
    let k = ((spacing / 2.0).max(1.0).log2().floor() as usize).min(pl.levels.len() - 1);
    let mut out = [0.0f32; PATCH_LEN];
    for (n, o) in out.iter_mut().enumerate() {
        let a = (n % PATCH) as f64 / half - 1.0;
        let b = (n / PATCH) as f64 / half - 1.0;
        *o = pl.sample(k, c.x + a * du.0 + b * dv.0, c.y + a * du.1 + b * dv.1);
    }
    let mean = out.iter().sum::<f32>() / PATCH_LEN as f32;
    let mut norm = 0.0;
    for o in &mut out {
        *o -= mean;
        norm += *o * *o;
    }
    // Below about three grey levels of spread the patch is plain (snow, sky, noise).
    if norm < PATCH_LEN as f32 * (3.0f32 / 255.0).powi(2) {
        return None;
    }
    let inv = 1.0 / norm.sqrt();
    for o in &mut out {
        *o *= inv;
    }
    Some(out)
}

/// The grey pyramids of `plates`, built in parallel.
pub fn grey_plates<'a>(plates: &[Plate<'a>]) -> Vec<GreyPlate<'a>> {
    plates.par_iter().map(GreyPlate::new).collect()
}

/// Scratch space for [`photo_cost`]: one patch per view.
pub type PatchBuffer = Vec<[f32; PATCH_LEN]>;

/// How badly the textured views of the square around `p` (half-size `r`, spanned by the unit
/// vectors `u` and `v`) disagree: 1 − the normalised cross-correlation of each view's patch
/// with the mean of the others', averaged over the best three fifths of the views. `None` when
/// fewer than [`MIN_CAMERAS`] see texture there.
pub fn photo_cost(
    p: &Point3<f64>,
    (u, v): (&Vector3<f64>, &Vector3<f64>),
    r: f64,
    plates: &[&GreyPlate],
    buf: &mut PatchBuffer,
) -> Option<f32> {
    buf.clear();
    buf.extend(plates.iter().filter_map(|pl| patch(pl, p, u, v, r)));
    let n = buf.len();
    if n < MIN_CAMERAS {
        return None;
    }
    let mut sum = [0.0f32; PATCH_LEN];
    for b in buf.iter() {
        for (m, v) in sum.iter_mut().zip(b) {
            *m += v;
        }
    }
    let mut dev = [0.0f32; 32];
    for (d, b) in dev.iter_mut().zip(buf.iter()) {
        // The others' mean: the sum without this view.
        let (mut dot, mut norm) = (0.0f32, 0.0f32);
        for (a, s) in b.iter().zip(&sum) {
            let o = s - a;
            dot += a * o;
            norm += o * o;
        }
        *d = 1.0 - dot / norm.sqrt().max(1e-6);
    }
    let dev = &mut dev[..n.min(32)];
    dev.sort_unstable_by(f32::total_cmp);
    let k = ((n as f32 * 0.6).ceil() as usize).clamp(MIN_CAMERAS, dev.len());
    Some(dev[..k].iter().sum::<f32>() / k as f32)
}

/// Chooses one candidate per sample along a line (Viterbi): the cheapest sum of costs plus
/// `smooth · step²` for a step of one or two candidates between neighbours; larger steps are not
/// allowed (a wall standing up in a profile would hide whatever is behind it from every view).
/// Missing costs (NaN) count as zero, so unseen samples follow their neighbours. Returns, per
/// sample, the chosen candidate refined to a fraction by a parabola through its costs.
pub(crate) fn cheapest_path(cost: &[Vec<f32>], smooth: f32) -> Vec<f64> {
    let n = cost.len();
    let Some(k) = cost.first().map(Vec::len) else {
        return Vec::new();
    };
    let unary = |i: usize, d: usize| {
        let v = cost[i][d];
        if v.is_finite() { v } else { 0.0 }
    };
    let mut acc = vec![vec![0.0f32; k]; n];
    let mut from = vec![vec![0usize; k]; n];
    for d in 0..k {
        acc[0][d] = unary(0, d);
    }
    for i in 1..n {
        for d in 0..k {
            let mut best = (f32::INFINITY, d);
            for e in d.saturating_sub(2)..(d + 3).min(k) {
                let step = e.abs_diff(d) as f32;
                let v = acc[i - 1][e] + smooth * step * step;
                if v < best.0 {
                    best = (v, e);
                }
            }
            acc[i][d] = unary(i, d) + best.0;
            from[i][d] = best.1;
        }
    }
    let mut pick = vec![0usize; n];
    pick[n - 1] = (0..k)
        .min_by(|&a, &b| acc[n - 1][a].total_cmp(&acc[n - 1][b]))
        .unwrap_or(0);
    for i in (1..n).rev() {
        pick[i - 1] = from[i][pick[i]];
    }
    pick.iter()
        .enumerate()
        .map(|(i, &d)| {
            if d == 0 || d + 1 >= k {
                return d as f64;
            }
            let (a, b, c) = (
                unary(i, d - 1) as f64,
                unary(i, d) as f64,
                unary(i, d + 1) as f64,
            );
            let den = a - 2.0 * b + c;
            if den > 1e-9 && b <= a && b <= c {
                d as f64 + (0.5 * (a - c) / den).clamp(-0.5, 0.5)
            } else {
                d as f64
            }
        })
        .collect()
}

/// The snow surface as two profiles: height along the course (`along`, (s, z) samples) plus a
/// rise across it (`across`, (l, dz) samples: banks, a course lower than its sides). Linear
/// between samples, constant beyond the ends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CourseProfile {
    pub along: Vec<(f64, f64)>,
    pub across: Vec<(f64, f64)>,
}

impl CourseProfile {
    pub fn height(&self, s: f64, l: f64) -> f64 {
        AxisMap::interp(&self.along, s) + AxisMap::interp(&self.across, l)
    }

    /// The (s, l) box the profiles were measured over.
    pub fn extent(&self) -> ((f64, f64), (f64, f64)) {
        let ends = |v: &[(f64, f64)]| {
            (
                v.first().map_or(0.0, |p| p.0),
                v.last().map_or(0.0, |p| p.0),
            )
        };
        (ends(&self.along), ends(&self.across))
    }

    /// Whether both profiles have at least two samples, increasing, all finite.
    pub fn is_valid(&self) -> bool {
        [&self.along, &self.across].iter().all(|v| {
            v.len() >= 2
                && v.iter().all(|p| p.0.is_finite() && p.1.is_finite())
                && v.windows(2).all(|w| w[0].0 < w[1].0)
        })
    }
}

/// One pass of a profile search: for each position along a line, the candidate offsets
/// `-reach ..= reach` by `dz` from `base(position)`, each scored by the mean matching cost over
/// `across` (points at `point(position, across, height)`), then the cheapest smooth path.
#[allow(clippy::too_many_arguments)]
fn profile_pass(
    positions: &[f64],
    across: &[f64],
    base: &(dyn Fn(f64, f64) -> f64 + Sync),
    point: &(dyn Fn(f64, f64, f64) -> Point3<f64> + Sync),
    reach: f64,
    dz: f64,
    r: f64,
    frame: &GroundFrame,
    plates: &[GreyPlate],
) -> (Vec<f64>, Vec<bool>) {
    let k = (2.0 * reach / dz).round() as usize + 1;
    let cost: Vec<Vec<f32>> = positions
        .par_iter()
        .map(|&x| {
            let mut buf = Vec::with_capacity(plates.len());
            // Per sample across, the cameras that may see some height of its column.
            let columns: Vec<Vec<&GreyPlate>> = across
                .iter()
                .map(|&y| {
                    let z = base(x, y);
                    let ends = [point(x, y, z - reach), point(x, y, z + reach)];
                    plates.iter().filter(|pl| pl.may_see_any(&ends)).collect()
                })
                .collect();
            (0..k)
                .map(|c| {
                    let off = -reach + c as f64 * dz;
                    let (mut sum, mut n) = (0.0f32, 0u32);
                    for (&y, seen_by) in across.iter().zip(&columns) {
                        let p = point(x, y, base(x, y) + off);
                        let square = (&frame.along, &frame.left);
                        if let Some(v) = photo_cost(&p, square, r, seen_by, &mut buf) {
                            sum += v;
                            n += 1;
                        }
                    }
                    // A height nothing textured supports scores like plain snow.
                    if n < 2 { f32::NAN } else { sum / n as f32 }
                })
                .collect()
        })
        .collect();
    // Heights where nothing textured lines up score as the worst measured one (at the right
    // height the texture is sharp, so it is seen); where fewer than a quarter of the heights
    // show texture, every height scores alike. A slight pull towards the base height settles ties.
    let measured: Vec<bool> = cost
        .iter()
        .map(|c| c.iter().filter(|v| v.is_finite()).count() * 4 >= c.len())
        .collect();
    let cost: Vec<Vec<f32>> = cost
        .into_iter()
        .map(|c| {
            // Too few heights show texture to tell one: all alike.
            let seen = c.iter().filter(|v| v.is_finite()).count();
            let c = if seen * 4 < c.len() {
                vec![f32::NAN; c.len()]
            } else {
                c
            };
            let worst = c
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .fold(0.0f32, f32::max);
            c.iter()
                .enumerate()
                .map(|(d, &v)| {
                    let pull = PRIOR_PULL * (-reach + d as f64 * dz).abs() as f32;
                    (if v.is_finite() { v } else { worst }) + pull
                })
                .collect()
        })
        .collect();
    // Smoothness in the units of the cost (1 − correlation).
    let offsets = cheapest_path(&cost, 0.03)
        .into_iter()
        .map(|d| -reach + d * dz)
        .collect();
    (offsets, measured)
}

/// Measured positions as `#`, the others as `.`, for the debug log.
fn flags(measured: &[bool]) -> String {
    measured
        .iter()
        .map(|&b| if b { '#' } else { '.' })
        .collect()
}

/// `profile`'s heights averaged over `half` samples either side (fewer at the ends).
fn smoothed(profile: &[(f64, f64)], half: usize) -> Vec<(f64, f64)> {
    (0..profile.len())
        .map(|i| {
            let window = &profile[i.saturating_sub(half)..(i + half + 1).min(profile.len())];
            let z = window.iter().map(|p| p.1).sum::<f64>() / window.len() as f64;
            (profile[i].0, z)
        })
        .collect()
}

/// The least-squares line through `pts` (distance along, height): its slope and the slope's
/// standard error (from the residuals; `None` with fewer than three points or no spread). A
/// line fitted across a bend leaves large residuals, so its error is large too.
fn line_fit(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
    let k = pts.len() as f64;
    if pts.len() < 3 {
        return None;
    }
    let (ms, mz) = pts
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0 / k, a.1 + p.1 / k));
    let (num, den) = pts.iter().fold((0.0, 0.0), |a, p| {
        (a.0 + (p.0 - ms) * (p.1 - mz), a.1 + (p.0 - ms).powi(2))
    });
    if den <= 1e-9 {
        return None;
    }
    let slope = num / den;
    let rss: f64 = pts
        .iter()
        .map(|p| (p.1 - mz - slope * (p.0 - ms)).powi(2))
        .sum();
    Some((slope, (rss / (k - 2.0) / den).sqrt()))
}

/// How far inside a measured end the athlete's contacts may stop and still tell the slope the
/// profile continues at beyond it (m).
const CONTACT_REACH: f64 = 3.0;
/// How far in from the contacts' own end their slope is fitted (m).
const CONTACT_FIT: f64 = 3.0;
/// The smallest standard error a slope is trusted to (weights stay finite).
const MIN_SLOPE_ERROR: f64 = 0.005;

/// Beyond the last run of [`MEASURED_RUN`] measured positions at either end, a profile
/// continues at the slope it had over the last [`SLOPE_FIT`] metres measured (a hill goes on
/// down, an in-run on up, rather than stopping dead), for at most [`EXTRAPOLATE`] metres, level
/// beyond; slopes steeper than 45° are taken as 45°. Where the athlete's `contacts` (the contact
/// profile's samples, sorted along the course) end near a measured end (within
/// [`CONTACT_REACH`] inside it, or beyond), their slope over their last [`CONTACT_FIT`] metres
/// is averaged in, each slope weighted by the inverse square of its standard error: a fit over
/// twelve measured metres that bends over a knoll leaves large residuals and gives way to the
/// contacts the athlete slid down, a short noisy run of contacts gives way to the measured fit.
/// Returns the measured part's ends and the slopes they were continued at (`None` when nothing
/// was measured).
fn extrapolate_ends(
    profile: &mut [(f64, f64)],
    measured: &[bool],
    contacts: &[(f64, f64)],
) -> Option<MeasuredEnds> {
    let n = profile.len().min(measured.len());
    let (first, last) = measured_ends(&measured[..n])?;
    // Least-squares slope of the measured samples within SLOPE_FIT of an end.
    let fit = |range: &mut dyn Iterator<Item = usize>| {
        let pts: Vec<(f64, f64)> = range.filter(|&i| measured[i]).map(|i| profile[i]).collect();
        line_fit(&pts)
    };
    let combine = |a: Option<(f64, f64)>, b: Option<(f64, f64)>| {
        let w = |e: f64| 1.0 / e.max(MIN_SLOPE_ERROR).powi(2);
        let slope = match (a, b) {
            (Some((sa, ea)), Some((sb, eb))) => (sa * w(ea) + sb * w(eb)) / (w(ea) + w(eb)),
            (Some((s, _)), None) | (None, Some((s, _))) => s,
            (None, None) => 0.0,
        };
        slope.clamp(-1.0, 1.0)
    };
    let (s_first, s_last) = (profile[first].0, profile[last].0);
    // The contacts' slope over their last CONTACT_FIT metres at one end (`run`: their samples
    // from that end inwards), where that end `reaches` the measured one.
    let contact_fit = |run: &mut dyn Iterator<Item = &(f64, f64)>,
                       reaches: &dyn Fn(f64) -> bool| {
        let mut run = run.peekable();
        let end = **run.peek()?;
        if contacts.len() < 5 || !reaches(end.0) {
            return None;
        }
        let pts: Vec<(f64, f64)> = run
            .take_while(|p| (p.0 - end.0).abs() <= CONTACT_FIT)
            .copied()
            .collect();
        line_fit(&pts)
    };
    let contact_head = contact_fit(&mut contacts.iter(), &|s| s <= s_first + CONTACT_REACH);
    let contact_tail = contact_fit(&mut contacts.iter().rev(), &|s| s >= s_last - CONTACT_REACH);
    let measured_head =
        fit(&mut (first..=last).take_while(|&i| profile[i].0 <= s_first + SLOPE_FIT));
    let measured_tail = fit(&mut (first..=last)
        .rev()
        .take_while(|&i| profile[i].0 >= s_last - SLOPE_FIT));
    tracing::debug!(
        "terrain: end slopes (slope, standard error): first measured {measured_head:?} contacts {contact_head:?}, last measured {measured_tail:?} contacts {contact_tail:?}"
    );
    let head = combine(measured_head, contact_head);
    let tail = combine(measured_tail, contact_tail);
    let (z_first, z_last) = (profile[first].1, profile[last].1);
    for p in profile[..first].iter_mut() {
        p.1 = z_first - head * (s_first - p.0).min(EXTRAPOLATE);
    }
    for p in profile[last + 1..].iter_mut() {
        p.1 = z_last + tail * (p.0 - s_last).min(EXTRAPOLATE);
    }
    Some(MeasuredEnds {
        first,
        last,
        rise: [-head, tail],
    })
}

/// Where a profile's measured part ends, and how it was continued beyond.
#[derive(Debug, Clone, Copy)]
struct MeasuredEnds {
    /// Indices of the first and last measured sample ([`measured_ends`]).
    first: usize,
    last: usize,
    /// The rise per metre outwards beyond the first and the last end.
    rise: [f64; 2],
}

/// The first and last index of the measured part of a profile: from the first run of
/// [`MEASURED_RUN`] measured positions to the end of the last (`None` when there is none).
fn measured_ends(measured: &[bool]) -> Option<(usize, usize)> {
    let n = measured.len();
    let run_at =
        |i: usize| i + MEASURED_RUN <= n && measured[i..i + MEASURED_RUN].iter().all(|&m| m);
    let first = (0..n).find(|&i| run_at(i))?;
    let last = (0..n)
        .rev()
        .find(|&i| run_at(i))
        .map_or(first, |i| i + MEASURED_RUN - 1);
    Some((first, last))
}

/// Consecutive positions that must be measured for a profile's end to count as measured.
const MEASURED_RUN: usize = 4;
/// How far in from a measured end the slope it continues at is fitted (m).
const SLOPE_FIT: f64 = 12.0;
/// How far beyond its measured ends a profile goes on sloping (m).
const EXTRAPOLATE: f64 = 30.0;

/// The price of a metre away from the base height (in the matching cost's units).
const PRIOR_PULL: f32 = 0.01;

/// `lo`, `lo + step`, ... up to `hi` (none when `hi < lo`).
pub(crate) fn range_steps(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let n = ((hi - lo) / step).floor().max(-1.0);
    (0..=n as i64).map(|i| lo + i as f64 * step).collect()
}

/// Measures the snow surface over `s_range` × `l_range` (m, in `frame`) as a [`CourseProfile`],
/// starting from `prior` (the surface height at (s, l), e.g. from the athlete's contacts).
/// `contacts` are the athlete's contact profile's samples (distance along, height), sorted;
/// where they reach an end of the measured part they steer the slope it continues at
/// (see [`extrapolate_ends`]); empty when there are none.
///
/// The profile along the course is measured on the course itself beside the athlete's lane
/// (`1.5 · lane ≤ |l| ≤ course_half_width`), where one height serves a whole row across;
/// the rise across the course is then measured over the whole length, relative to it.
#[allow(clippy::too_many_arguments)]
pub fn estimate(
    frame: &GroundFrame,
    s_range: (f64, f64),
    l_range: (f64, f64),
    prior: &(dyn Fn(f64, f64) -> f64 + Sync),
    contacts: &[(f64, f64)],
    plates: &[GreyPlate],
    lane: f64,
    course_half_width: f64,
) -> CourseProfile {
    let point = |s: f64, l: f64, z: f64| frame.point(s, l, z);
    let s_pos = range_steps(s_range.0, s_range.1, 0.5);
    let side: Vec<f64> = range_steps(1.5 * lane, course_half_width, 1.0)
        .into_iter()
        .flat_map(|l| [l, -l])
        .collect();
    // Along: coarse (±16 m), then twice finer around the path found so far. Each finer pass
    // searches around a moving average of that path, not the path itself: the coarse pass
    // favours a smooth path and so rounds off the foot of a steep landing hill, and searching
    // only ±2 m around that bias could not climb back out of it.
    let mut along: Vec<(f64, f64)> = s_pos.iter().map(|&s| (s, prior(s, 1.5 * lane))).collect();
    let mut measured = Vec::new();
    for (pass, (reach, dz, r)) in [(16.0, 0.25, 0.5), (2.0, 0.1, 0.5), (0.4, 0.04, 0.3)]
        .into_iter()
        .enumerate()
    {
        if pass > 0 {
            along = smoothed(&along, 3);
        }
        let base = |s: f64, _l: f64| AxisMap::interp(&along, s);
        let t0 = std::time::Instant::now();
        let (off, seen) = profile_pass(&s_pos, &side, &base, &point, reach, dz, r, frame, plates);
        if measured.is_empty() {
            measured = seen;
        }
        tracing::debug!(
            "terrain: along ±{reach} m, {} positions x {} candidates in {:.2} s",
            s_pos.len(),
            (2.0 * reach / dz).round() + 1.0,
            t0.elapsed().as_secs_f64()
        );
        along = s_pos
            .iter()
            .zip(off)
            .map(|(&s, o)| (s, AxisMap::interp(&along, s) + o))
            .collect();
    }
    tracing::debug!(
        "terrain: along measured (every 0.5 m from {:.1} m): {}",
        s_pos.first().copied().unwrap_or(0.0),
        flags(&measured)
    );
    let ends = extrapolate_ends(&mut along, &measured, contacts);
    // Across: the rise from the along profile, over the whole length.
    let l_pos = range_steps(l_range.0, l_range.1, 0.5);
    // Every metre along, in coarse steps of 10 cm. Sampling every 2 m, or in steps of 20 cm, is
    // cheaper (both: venue 2.3 s shorter on aerials16) but loses the banks beyond the fences on
    // the demo venue (flat snow there, 3-4 m below the truth).
    let s_samples = range_steps(s_range.0, s_range.1, 1.0);
    let swap = |l: f64, s: f64, z: f64| frame.point(s, l, z);
    let mut across: Vec<(f64, f64)> = l_pos.iter().map(|&l| (l, 0.0)).collect();
    for (reach, dz, r) in [(4.0, 0.1, 0.5), (0.3, 0.03, 0.3)] {
        let base = |l: f64, s: f64| AxisMap::interp(&along, s) + AxisMap::interp(&across, l);
        let t0 = std::time::Instant::now();
        let (off, seen) = profile_pass(
            &l_pos, &s_samples, &base, &swap, reach, dz, r, frame, plates,
        );
        tracing::debug!(
            "terrain: across measured (every 0.5 m from {:.1} m): {}",
            l_pos.first().copied().unwrap_or(0.0),
            flags(&seen)
        );
        tracing::debug!(
            "terrain: across ±{reach} m, {} positions x {} samples x {} candidates in {:.2} s",
            l_pos.len(),
            s_samples.len(),
            (2.0 * reach / dz).round() + 1.0,
            t0.elapsed().as_secs_f64()
        );
        across = l_pos
            .iter()
            .zip(off)
            .map(|(&l, o)| (l, AxisMap::interp(&across, l) + o))
            .collect();
    }
    let mut course = CourseProfile { along, across };
    let cameras: Vec<&Camera> = plates.iter().map(|p| p.camera).collect();
    if let Some(ends) = ends {
        follow_masts(&mut course, frame, &cameras, &ends);
    }
    keep_below_cameras(&mut course, frame, &cameras);
    course
}

/// How far beyond a measured end a camera must stand to steer the profile's continuation (m).
const MAST_REACH: f64 = 4.0;
/// How many cameras must stand over measured snow for their masts to be a guide.
const MAST_SAMPLES: usize = 3;
/// How much the masts beyond the measured snow may differ from those over it: the range of the
/// measured ones, widened by this much either side (m).
const MAST_SLACK: f64 = 0.5;

/// Where the snow was not measured, the cameras standing there still bound where it is: a
/// rig's cameras stand on masts or stands of similar heights above the snow. The heights of the
/// cameras over measured snow give a range (widened by [`MAST_SLACK`]); each unmeasured end of
/// the profile along the course keeps the slope it was continued at (`ends`, from
/// [`extrapolate_ends`]) unless that puts a camera beyond the end higher or lower above the
/// snow than the range allows. Then it is continued (through its last measured height, at most
/// 45°) at the slope that puts those cameras least outside the range, the closest to the
/// measured one among equals. Only cameras at least [`MAST_REACH`] beyond an end
/// count: nearer, the measured slope has not had the room to go wrong.
///
/// The measured slope is unreliable where few cameras see the snow: an in-run seen from behind,
/// a landing hill seen by half the rig.
fn follow_masts(
    course: &mut CourseProfile,
    frame: &GroundFrame,
    cameras: &[&Camera],
    ends: &MeasuredEnds,
) {
    let MeasuredEnds { first, last, rise } = *ends;
    if last >= course.along.len() {
        return;
    }
    let (s_first, s_last) = (course.along[first].0, course.along[last].0);
    let placed: Vec<(f64, f64, f64)> = cameras
        .iter()
        .map(|c| {
            let centre = c.centre();
            let (s, l) = frame.coords(&centre);
            (s, l, centre.z)
        })
        .collect();
    let masts: Vec<f64> = placed
        .iter()
        .filter(|p| p.0 >= s_first && p.0 <= s_last)
        .map(|&(s, l, z)| z - course.height(s, l))
        .filter(|&m| m > 0.0)
        .collect();
    if masts.len() < MAST_SAMPLES {
        return;
    }
    let lowest = masts.iter().copied().fold(f64::MAX, f64::min) - MAST_SLACK;
    let highest = masts.iter().copied().fold(f64::MIN, f64::max) + MAST_SLACK;
    let (z_first, z_last) = (course.along[first].1, course.along[last].1);
    for (k, (end, outward, z_end, range)) in [
        (s_first, -1.0, z_first, 0..first),
        (s_last, 1.0, z_last, last + 1..course.along.len()),
    ]
    .into_iter()
    .enumerate()
    {
        // Per camera beyond the end: its distance out, and the heights of the along profile
        // there that put it `highest` and `lowest` above the snow.
        let bounds: Vec<(f64, f64, f64)> = placed
            .iter()
            .map(|&(s, l, z)| {
                let base = z - AxisMap::interp(&course.across, l);
                ((s - end) * outward, base - highest, base - lowest)
            })
            .filter(|b| b.0 >= MAST_REACH)
            .collect();
        let outside = |slope: f64| -> f64 {
            bounds
                .iter()
                .map(|&(d, lo, hi)| {
                    let z = z_end + slope * d.min(EXTRAPOLATE);
                    (lo - z).max(z - hi).max(0.0).powi(2)
                })
                .sum()
        };
        let measured_slope = rise[k];
        if outside(measured_slope) <= 0.0 {
            continue;
        }
        // Slopes every 0.005 up to 45° either way; the least outside the range, and among those
        // (within a square centimetre) the nearest the measured slope.
        let scored: Vec<(f64, f64)> = (-200..=200)
            .map(|i| i as f64 * 0.005)
            .map(|g| (outside(g), g))
            .collect();
        let least = scored.iter().map(|c| c.0).fold(f64::MAX, f64::min);
        let best = scored
            .iter()
            .filter(|c| c.0 <= least + 1e-4)
            .map(|c| c.1)
            .min_by(|a, b| {
                (a - measured_slope)
                    .abs()
                    .total_cmp(&(b - measured_slope).abs())
            })
            .unwrap_or(measured_slope);
        tracing::debug!(
            "terrain: the {} end at {end:.1} m continued at {best:.2} instead of {measured_slope:.2}: {} cameras beyond stand {lowest:.1}-{highest:.1} m above the snow",
            if k == 0 { "first" } else { "last" },
            bounds.len()
        );
        for p in &mut course.along[range] {
            p.1 = z_end + best * ((p.0 - end) * outward).min(EXTRAPOLATE);
        }
    }
}

/// How far below every camera of the rig the snow must lie (m).
const CAMERA_CLEARANCE: f64 = 1.0;
/// How far along the course lowering the snow under one camera reaches (m).
const CLEARANCE_REACH: f64 = 12.0;

/// No camera of the rig stands under the snow: where the profile rises above a camera (less
/// [`CAMERA_CLEARANCE`]) — typically where it was extrapolated beyond anything measured, down a
/// landing hill — the profile along the course is lowered there, fading out over
/// [`CLEARANCE_REACH`] either side.
fn keep_below_cameras(course: &mut CourseProfile, frame: &GroundFrame, cameras: &[&Camera]) {
    for _ in 0..4 {
        let excess: Vec<(f64, f64)> = cameras
            .iter()
            .map(|c| {
                let centre = c.centre();
                let (s, l) = frame.coords(&centre);
                (s, course.height(s, l) - (centre.z - CAMERA_CLEARANCE))
            })
            .filter(|&(_, v)| v > 1e-3)
            .collect();
        if excess.is_empty() {
            return;
        }
        for (s, z) in &mut course.along {
            let drop = excess
                .iter()
                .map(|&(sc, v)| v * (1.0 - (*s - sc).abs() / CLEARANCE_REACH).max(0.0))
                .fold(0.0, f64::max);
            *z -= drop;
        }
    }
}

/// The (s, l) box a rig's cameras look over: their positions and the points a few metres
/// ahead of them, grown by `margin`, within `limit` of the origin.
pub fn rig_extent(
    frame: &GroundFrame,
    cameras: &[&Camera],
    margin: f64,
    limit: f64,
) -> ((f64, f64), (f64, f64)) {
    let (mut s, mut l) = ((f64::MAX, f64::MIN), (f64::MAX, f64::MIN));
    for c in cameras {
        let (a, b) = frame.coords(&c.centre());
        s = (s.0.min(a), s.1.max(a));
        l = (l.0.min(b), l.1.max(b));
    }
    if s.0 > s.1 {
        return ((-limit, limit), (-limit, limit));
    }
    (
        ((s.0 - margin).max(-limit), (s.1 + margin).min(limit)),
        ((l.0 - margin).max(-limit), (l.1 + margin).min(limit)),
    )
}

/// Where and how densely [`DepthMaps`] samples the ground.
#[derive(Debug, Clone, Copy)]
pub struct SampleRegion {
    pub s: (f64, f64),
    pub l: (f64, f64),
    pub step: f64,
}

/// Each camera's depth buffer of the height field, at `1 / scale` of its resolution: the
/// nearest depth (along the optical axis) of the terrain seen at each pixel.
pub struct DepthMaps {
    scale: f64,
    maps: Vec<(usize, usize, Vec<f32>)>,
}

impl DepthMaps {
    /// `surface` gives the ground's world point at (s, l); it is sampled over each region
    /// (s range, l range, step in metres), e.g. finely where the rig stands and coarsely out to
    /// the horizon. `extra` adds points of other surfaces (fences), each with its spacing.
    pub fn new(
        surface: &(dyn Fn(f64, f64) -> Point3<f64> + Sync),
        regions: &[SampleRegion],
        extra: &[(Point3<f64>, f64)],
        cameras: &[&Camera],
        scale: f64,
    ) -> Self {
        // A region leaves out what an earlier (finer) one covers.
        let inside =
            |r: &SampleRegion, s: f64, l: f64| s >= r.s.0 && s <= r.s.1 && l >= r.l.0 && l <= r.l.1;
        let cells: Vec<(Point3<f64>, f64)> = regions
            .iter()
            .enumerate()
            .flat_map(|(k, r)| {
                range_steps(r.l.0, r.l.1, r.step)
                    .into_iter()
                    .flat_map(move |l| {
                        range_steps(r.s.0, r.s.1, r.step)
                            .into_iter()
                            .map(move |s| (k, s, l, r.step))
                    })
            })
            .filter(|&(k, s, l, _)| !regions[..k].iter().any(|r| inside(r, s, l)))
            .map(|(_, s, l, step)| (surface(s, l), step))
            .chain(extra.iter().copied())
            .collect();
        let maps = cameras
            .par_iter()
            .map(|cam| {
                let (w, h) = cam.intrinsics.width_height();
                let (mw, mh) = (
                    (w as f64 / scale).ceil() as usize,
                    (h as f64 / scale).ceil() as usize,
                );
                let mut depth = vec![f32::INFINITY; mw * mh];
                let f = cam.intrinsics.fx.max(cam.intrinsics.fy) / scale;
                for (p, step) in &cells {
                    {
                        let Some((px, d)) = cam.project_with_depth(p) else {
                            continue;
                        };
                        if d <= 0.3 {
                            continue;
                        }
                        // A cell's footprint, generously (holes would let texels show through).
                        let r = (0.75 * f * step / d).clamp(0.5, 24.0);
                        let (cx, cy) = (px.x / scale, px.y / scale);
                        let (x0, x1) = ((cx - r).floor().max(0.0), (cx + r).ceil());
                        let (y0, y1) = ((cy - r).floor().max(0.0), (cy + r).ceil());
                        if x1 < 0.0 || y1 < 0.0 || x0 >= mw as f64 || y0 >= mh as f64 {
                            continue;
                        }
                        let (x0, y0) = (x0 as usize, y0 as usize);
                        let (x1, y1) = ((x1 as usize).min(mw - 1), (y1 as usize).min(mh - 1));
                        for y in y0..=y1 {
                            for x in x0..=x1 {
                                let v = &mut depth[y * mw + x];
                                *v = v.min(d as f32);
                            }
                        }
                    }
                }
                (mw, mh, depth)
            })
            .collect();
        Self { scale, maps }
    }

    /// Whether camera `index` sees world point `p` (nothing of the terrain in front of it).
    pub fn visible(&self, index: usize, cam: &Camera, p: &Point3<f64>) -> bool {
        let Some((px, d)) = cam.project_with_depth(p) else {
            return false;
        };
        let (mw, mh, map) = &self.maps[index];
        let (x, y) = (px.x / self.scale, px.y / self.scale);
        if x < 0.0 || y < 0.0 || x >= *mw as f64 || y >= *mh as f64 {
            return false;
        }
        let front = map[y as usize * mw + x as usize] as f64;
        d <= front + 0.25 + 0.02 * d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_profile_adds_the_rise_across() {
        let c = CourseProfile {
            along: vec![(0.0, 0.0), (10.0, -5.0)],
            across: vec![(-20.0, 2.0), (0.0, 0.0), (20.0, 1.0)],
        };
        assert!(c.is_valid());
        assert!((c.height(5.0, 0.0) + 2.5).abs() < 1e-9);
        assert!((c.height(5.0, 10.0) + 2.0).abs() < 1e-9);
        assert!((c.height(-3.0, -30.0) - 2.0).abs() < 1e-9);
        assert_eq!(c.extent(), ((0.0, 10.0), (-20.0, 20.0)));
    }

    /// Costs over `k` candidates rising by one per candidate away from `best`.
    fn v_shaped(k: usize, best: usize) -> Vec<f32> {
        (0..k).map(|d| (d as f32 - best as f32).abs()).collect()
    }

    /// Beyond the measured part, a profile goes on at the slope it ended with (fitted over
    /// the last metres measured, capped at 45°), for a limited distance, then level.
    #[test]
    fn profile_ends_continue_the_measured_slope() {
        // Measured from s = 0 to 20 (a hill falling at 0.6, with ±5 cm of noise), unmeasured
        // beyond on both sides (the pass left them flat).
        let s: Vec<f64> = (-60..=140).map(|i| i as f64 * 0.5).collect();
        let measured: Vec<bool> = s.iter().map(|&v| (0.0..=20.0).contains(&v)).collect();
        let noise = |i: usize| 0.05 * if i.is_multiple_of(2) { 1.0 } else { -1.0 };
        let mut profile: Vec<(f64, f64)> = s
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, -0.6 * v.clamp(0.0, 20.0) + noise(i)))
            .collect();
        extrapolate_ends(&mut profile, &measured, &[]);
        let at = |v: f64| AxisMap::interp(&profile, v);
        // Up the hill before s = 0 and down it after s = 20, at about its slope.
        assert!((at(-10.0) - 6.0).abs() < 0.3, "{}", at(-10.0));
        assert!((at(40.0) - -24.0).abs() < 0.5, "{}", at(40.0));
        // Measured samples untouched.
        assert!((at(10.0) - -6.0).abs() <= 0.05 + 1e-9);
        // No further than EXTRAPOLATE beyond the end: level from there.
        assert!((at(70.0) - at(20.0 + EXTRAPOLATE)).abs() < 1e-9);
        // A cliff is continued at 45° at most.
        let mut steep: Vec<(f64, f64)> =
            s.iter().map(|&v| (v, -3.0 * v.clamp(0.0, 20.0))).collect();
        extrapolate_ends(&mut steep, &measured, &[]);
        assert!((AxisMap::interp(&steep, 30.0) - (-60.0 - 10.0)).abs() < 1e-6);
        // Nothing measured: nothing changes.
        let mut flat: Vec<(f64, f64)> = s.iter().map(|&v| (v, 1.0)).collect();
        extrapolate_ends(&mut flat, &vec![false; s.len()], &[]);
        assert!(flat.iter().all(|p| p.1 == 1.0));
    }

    /// Where the measured part ends just past a bend (a knoll, then a landing hill falling at
    /// 0.75), a fit over its last twelve metres comes out shallow; the athlete's contacts down
    /// the hill near that end give its slope, and a short, noisy run of them gives way to the fit.
    #[test]
    fn a_profile_end_past_a_bend_continues_at_the_contacts_slope() {
        let truth = |v: f64| {
            if v <= 8.0 {
                0.0
            } else if v < 12.0 {
                -0.75 * (v - 8.0).powi(2) / 8.0
            } else {
                -0.75 * (v - 12.0) - 1.5
            }
        };
        let s: Vec<f64> = (-60..=140).map(|i| i as f64 * 0.5).collect();
        let measured: Vec<bool> = s.iter().map(|&v| (0.0..=20.0).contains(&v)).collect();
        let profile: Vec<(f64, f64)> = s.iter().map(|&v| (v, truth(v.clamp(0.0, 20.0)))).collect();
        let continued = |contacts: &[(f64, f64)]| {
            let mut p = profile.clone();
            extrapolate_ends(&mut p, &measured, contacts);
            AxisMap::interp(&p, 40.0)
        };
        let alone = continued(&[]);
        assert!(alone - truth(40.0) > 1.0, "the fit alone: {alone}");
        // Contacts from s = 17 to 19.5, within a centimetre of the snow.
        let wobble = |i: usize| 0.01 * if i.is_multiple_of(2) { 1.0 } else { -1.0 };
        let slid: Vec<(f64, f64)> = (0..11)
            .map(|i| {
                let v = 17.0 + i as f64 * 0.25;
                (v, truth(v) + wobble(i))
            })
            .collect();
        let with = continued(&slid);
        assert!(
            (with - truth(40.0)).abs() < 0.2,
            "with the contacts: {with}"
        );
        // Five contacts over half a metre, 5 cm of noise, leaning the wrong way: the fit holds.
        let noisy: Vec<(f64, f64)> = (0..5)
            .map(|i| {
                let v = 19.0 + i as f64 * 0.12;
                (v, truth(19.0) - 0.2 * (v - 19.0) + 5.0 * wobble(i))
            })
            .collect();
        assert!(
            (continued(&noisy) - alone).abs() < 0.5,
            "{}",
            continued(&noisy)
        );
        // Contacts that stop well inside the measured part say nothing about its end.
        let inside: Vec<(f64, f64)> = slid.iter().map(|&(v, z)| (v - 10.0, z)).collect();
        assert_eq!(continued(&inside), alone);
    }

    /// A camera looking along +x from `eye`.
    fn camera_at(eye: Point3<f64>) -> Camera {
        use crate::camera::{Intrinsics, WorldFromCamera};
        let target = eye + Vector3::new(10.0, 0.0, -2.0);
        let pose = WorldFromCamera::looking_at(eye, target, Vector3::z()).inverse();
        Camera::new(Intrinsics::centred(640, 480, 500.0), pose)
    }

    /// An in-run the plates could not measure, rising behind the measured part: the cameras
    /// standing on it, far higher above the level continuation than the rig's other cameras
    /// stand above the measured snow, lift it to the least slope that puts them within range.
    #[test]
    fn unmeasured_ends_keep_the_cameras_on_masts_like_the_others() {
        let frame = GroundFrame {
            origin: Point3::origin(),
            along: Vector3::x(),
            left: Vector3::y(),
        };
        // Measured (level, at 0) from s = 0 to 20; continued level both ways.
        let s: Vec<f64> = (-60..=100).map(|i| i as f64 * 0.5).collect();
        let measured: Vec<bool> = s.iter().map(|&v| (0.0..=20.0).contains(&v)).collect();
        let mut course = CourseProfile {
            along: s.iter().map(|&v| (v, 0.0)).collect(),
            across: vec![(-30.0, 0.0), (30.0, 0.0)],
        };
        let rig = [
            // Over the measured snow: 4, 5 and 6 m up.
            camera_at(Point3::new(5.0, 10.0, 4.0)),
            camera_at(Point3::new(10.0, -10.0, 5.0)),
            camera_at(Point3::new(15.0, 10.0, 6.0)),
            // On the in-run, 12 m above the level continuation, 15 m beyond its measured end.
            camera_at(Point3::new(-15.0, 0.0, 12.0)),
            // Just beyond the other end, 9 m up: too near the end to steer it.
            camera_at(Point3::new(22.0, 0.0, 9.0)),
        ];
        let cameras: Vec<&Camera> = rig.iter().collect();
        let (first, last) = measured_ends(&measured).expect("a measured part");
        let ends = |rise| MeasuredEnds { first, last, rise };
        follow_masts(&mut course, &frame, &cameras, &ends([0.0, 0.0]));
        // At most 6 + MAST_SLACK below the camera: 5.5 m at s = -15, a slope of 0.367.
        let at = |v: f64| course.height(v, 0.0);
        assert!((at(-15.0) - 5.5).abs() < 0.1, "{}", at(-15.0));
        assert!((at(-7.5) - 2.75).abs() < 0.1, "{}", at(-7.5));
        // Level again EXTRAPOLATE beyond the end; the measured part and the far end untouched.
        assert!((at(-30.0) - 11.0).abs() < 0.2, "{}", at(-30.0));
        assert_eq!(at(10.0), 0.0);
        assert_eq!(at(40.0), 0.0);
        // Cameras within range leave the measured slope alone.
        let mut within = CourseProfile {
            along: s.iter().map(|&v| (v, -0.4 * v.min(0.0))).collect(),
            across: course.across.clone(),
        };
        let before = within.clone();
        follow_masts(&mut within, &frame, &cameras, &ends([0.4, 0.0]));
        assert_eq!(within, before);
        // Fewer than MAST_SAMPLES cameras over measured snow: no guide, nothing changes.
        let mut unguided = before.clone();
        follow_masts(&mut unguided, &frame, &cameras[2..], &ends([0.4, 0.0]));
        assert_eq!(unguided, before);
    }

    #[test]
    fn cheapest_path_follows_costs_and_bridges_gaps() {
        // A minimum at candidate 2, then nothing measured, then a minimum at candidate 3.
        let at = |m: usize| v_shaped(7, m);
        let cost = vec![
            at(2),
            at(2),
            vec![f32::NAN; 7],
            vec![f32::NAN; 7],
            at(3),
            at(3),
        ];
        let p = cheapest_path(&cost, 0.1);
        assert_eq!(p.len(), 6);
        assert!(
            (p[0] - 2.0).abs() < 0.01 && (p[5] - 3.0).abs() < 0.01,
            "{p:?}"
        );
        assert!(p[2] >= 2.0 && p[3] <= 3.0, "{p:?}");
    }

    #[test]
    fn cheapest_path_does_not_stand_up_walls() {
        // Flat at candidate 1, one sample whose best is far up at candidate 9.
        let at = |m: usize| v_shaped(11, m);
        let mut cost = vec![at(1); 9];
        cost[4] = at(9);
        let p = cheapest_path(&cost, 0.1);
        let rise = p
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f64::max);
        assert!(rise <= 2.5, "a step of {rise} candidates: {p:?}");
        assert!(p[4] < 5.0, "followed a lone minimum: {p:?}");
    }

    #[test]
    fn the_snow_is_lowered_under_a_buried_camera() {
        use crate::camera::{Intrinsics, WorldFromCamera};
        let frame = GroundFrame {
            origin: Point3::origin(),
            along: Vector3::x(),
            left: Vector3::y(),
        };
        let intrinsics = Intrinsics::centred(640, 480, 500.0);
        let eye = Point3::new(20.0, 5.0, -3.0);
        let pose = WorldFromCamera::looking_at(eye, Point3::origin(), Vector3::z()).inverse();
        let camera = Camera::new(intrinsics, pose);
        let mut course = CourseProfile {
            along: (0..=80).map(|i| (i as f64 * 0.5, 0.0)).collect(),
            across: vec![(-30.0, 0.0), (30.0, 0.0)],
        };
        keep_below_cameras(&mut course, &frame, &[&camera]);
        assert!(
            course.height(20.0, 5.0) <= -4.0 + 1e-6,
            "{}",
            course.height(20.0, 5.0)
        );
        // Far from the camera the profile is as it was.
        assert_eq!(course.height(0.0, 0.0), 0.0);
        assert_eq!(course.height(40.0, 0.0), 0.0);
    }
}
