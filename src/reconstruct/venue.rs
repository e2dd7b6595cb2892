//! Venue completion: a static model of the venue from the cameras' background plates, so every
//! pixel of a virtual view is filled, not only the athlete.
//!
//! Proxy geometry: the snow surface as a height profile along the direction of travel (from
//! where the athlete touches it, see [`GroundProfile`]) and a distant dome for sky and
//! mountains. Each is given a texture baked from the plates: for every texel, the cameras that
//! see its proxy point best (closest and most face-on for the ground, nearest the image centre
//! for the dome) are sampled through their full calibration, lens distortion included, and
//! blended. Rendering then costs one texture lookup per pixel.

use super::fence::Fence;
use super::terrain::{CourseProfile, DepthMaps, GroundFrame};
use crate::analyse::GroundProfile;
use crate::camera::Camera;
use crate::util::images::{linear_to_srgb, sample_bilinear, srgb_to_linear};
use image::RgbImage;
use nalgebra::{Point3, Vector3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Piecewise-linear map from a coordinate (m) to a texture coordinate in [0, 1].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AxisMap {
    /// (coordinate, texture coordinate) knots, both increasing.
    pub knots: Vec<(f64, f64)>,
}

impl AxisMap {
    pub fn along() -> Self {
        Self {
            knots: vec![(-220.0, 0.0), (-40.0, 0.2), (40.0, 0.8), (220.0, 1.0)],
        }
    }
    pub fn across() -> Self {
        Self {
            knots: vec![
                (-220.0, 0.0),
                (-25.0, 0.15),
                (-8.0, 0.3),
                (8.0, 0.7),
                (25.0, 0.85),
                (220.0, 1.0),
            ],
        }
    }
    /// Piecewise-linear through `pairs` (increasing in their first element), constant beyond
    /// the ends; 0 for no pairs.
    pub fn interp(pairs: &[(f64, f64)], x: f64) -> f64 {
        let n = pairs.len();
        match n {
            0 => return 0.0,
            1 => return pairs[0].1,
            _ => {}
        }
        if x <= pairs[0].0 {
            return pairs[0].1;
        }
        if x >= pairs[n - 1].0 {
            return pairs[n - 1].1;
        }
        let i = pairs.partition_point(|p| p.0 < x).clamp(1, n - 1);
        let (a, b) = (pairs[i - 1], pairs[i]);
        a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
    }
    /// Texture coordinate of a coordinate.
    pub fn tex(&self, x: f64) -> f64 {
        Self::interp(&self.knots, x)
    }
    /// Coordinate of a texture coordinate.
    pub fn coord(&self, u: f64) -> f64 {
        let inv: Vec<(f64, f64)> = self.knots.iter().map(|&(a, b)| (b, a)).collect();
        Self::interp(&inv, u)
    }
    pub fn range(&self) -> (f64, f64) {
        (self.knots[0].0, self.knots[self.knots.len() - 1].0)
    }
}

/// The venue model stored with a reconstruction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VenueModel {
    pub ground: GroundProfile,
    pub along: AxisMap,
    pub across: AxisMap,
    pub dome_centre: [f64; 3],
    pub dome_radius: f64,
    /// The profile with bumps narrower than 8 m removed (a kicker is a narrow feature, not a
    /// ridge across the whole course): (along, height) samples. The full profile is used only
    /// in the athlete's lane.
    #[serde(default)]
    pub base: Vec<(f64, f64)>,
    /// The snow surface measured from the plates (see [`super::terrain`]), in the frame of
    /// `ground` (`s` along travel, `l` to the left). Without it, the contacts' profile alone.
    #[serde(default)]
    pub terrain: Option<CourseProfile>,
    /// Fences beside the course, measured from the plates (none without a measured ground).
    #[serde(default)]
    pub fences: Vec<Fence>,
    /// Texture files, relative to the reconstruction directory.
    pub ground_texture: std::path::PathBuf,
    pub dome_texture: std::path::PathBuf,
}

impl VenueModel {
    /// A model on the contact profile `ground` alone (no measured ground, no fences), with
    /// placeholder texture names: for tests.
    #[cfg(test)]
    pub(crate) fn on_profile(ground: GroundProfile) -> Self {
        Self {
            ground,
            along: AxisMap::along(),
            across: AxisMap::across(),
            dome_centre: [0.0; 3],
            dome_radius: 100.0,
            base: Vec::new(),
            terrain: None,
            ground_texture: "g.png".into(),
            dome_texture: "d.png".into(),
            fences: Vec::new(),
        }
    }

    pub fn left(&self) -> Vector3<f64> {
        Vector3::z()
            .cross(&Vector3::from(self.ground.travel))
            .normalize()
    }

    /// The horizontal frame of the ground profile (and of the terrain).
    pub fn frame(&self) -> GroundFrame {
        GroundFrame {
            origin: Point3::from(self.ground.origin),
            along: Vector3::from(self.ground.travel),
            left: self.left(),
        }
    }

    /// World point of the ground proxy at (along, across): the surface measured from the
    /// plates where there is one, with the bumps of the athlete's contact profile (the kicker)
    /// raised on it in the athlete's lane, and the contacts themselves in the lane where the
    /// athlete touched the snow; else the contact profile itself.
    pub fn ground_point(&self, s: f64, l: f64) -> Point3<f64> {
        let z = ground_height(&self.along_terms(s), &self.across_terms(l));
        self.frame().point(s, l, z)
    }

    /// What the ground's height at `s` along the course depends on, whatever the across.
    pub fn along_terms(&self, s: f64) -> AlongTerms {
        let full = self.ground.height(s);
        let base = (self.base.len() >= 2).then(|| AxisMap::interp(&self.base, s));
        AlongTerms {
            full,
            base,
            measured: self.terrain.as_ref().map(|t| AxisMap::interp(&t.along, s)),
            bump: base.map_or(0.0, |b| (full - b).max(0.0)),
            support: if self.terrain.is_some() {
                self.contact_support(s)
            } else {
                0.0
            },
        }
    }

    /// What the ground's height at `l` across the course depends on, whatever the along.
    pub fn across_terms(&self, l: f64) -> AcrossTerms {
        AcrossTerms {
            lane: lane_weight(l),
            measured: self
                .terrain
                .as_ref()
                .map_or(0.0, |t| AxisMap::interp(&t.across, l)),
        }
    }

    /// 1 within a metre of a contact sample of the ground profile (where the athlete's feet
    /// were on the snow), 0 beyond 3 m (in flight, or past the ends), smooth between.
    fn contact_support(&self, s: f64) -> f64 {
        let p = &self.ground.samples;
        let i = p.partition_point(|q| q.0 < s);
        let near = [i.checked_sub(1), Some(i)]
            .into_iter()
            .flatten()
            .filter_map(|k| p.get(k))
            .map(|q| (q.0 - s).abs())
            .fold(f64::INFINITY, f64::min);
        let t = ((3.0 - near) / 2.0).clamp(0.0, 1.0);
        t * t * (3.0 - 2.0 * t)
    }

    /// The ground's unit normal at (along, across), from the surface's slopes.
    pub fn ground_normal(&self, s: f64, l: f64) -> Vector3<f64> {
        let e = NORMAL_STEP;
        self.normal_from_terms(
            &[s - e, s, s + e].map(|v| self.along_terms(v)),
            &[l - e, l, l + e].map(|v| self.across_terms(v)),
        )
    }

    /// The unit normal from the terms at s − [`NORMAL_STEP`], s, s + the step (`along`) and
    /// likewise across: central differences of the height.
    pub fn normal_from_terms(
        &self,
        along: &[AlongTerms; 3],
        across: &[AcrossTerms; 3],
    ) -> Vector3<f64> {
        let e = NORMAL_STEP;
        let z = |i: usize, j: usize| ground_height(&along[i], &across[j]);
        let ds = (z(2, 1) - z(0, 1)) / (2.0 * e);
        let dl = (z(1, 2) - z(1, 0)) / (2.0 * e);
        let f = self.frame();
        (Vector3::z() - f.along * ds - f.left * dl).normalize()
    }

    /// World point of the profile proxy (the athlete's contacts) at (along, across).
    pub fn profile_point(&self, s: f64, l: f64) -> Point3<f64> {
        let z = profile_height(&self.along_terms(s), &self.across_terms(l));
        self.frame().point(s, l, z)
    }
}

/// Half the step of the central differences that give the ground's normal (m).
pub const NORMAL_STEP: f64 = 0.25;

/// The parts of the ground's height that depend only on the position along the course
/// ([`VenueModel::along_terms`]); with [`AcrossTerms`] they give the height at any (s, l), so a
/// bake over a grid evaluates each once per column and row.
#[derive(Debug, Clone, Copy)]
pub struct AlongTerms {
    /// The contact profile's height.
    full: f64,
    /// The contact profile with its bumps removed, when it has one.
    base: Option<f64>,
    /// The measured profile along the course, when the ground was measured.
    measured: Option<f64>,
    /// The contact profile's bump above its base (the kicker).
    bump: f64,
    /// How much the athlete's contacts hold here (1 where a foot was on the snow).
    support: f64,
}

/// The parts of the ground's height that depend only on the position across the course.
#[derive(Debug, Clone, Copy)]
pub struct AcrossTerms {
    /// 1 in the athlete's lane, 0 beyond it.
    lane: f64,
    /// The measured rise across the course (0 when not measured).
    measured: f64,
}

/// The contact proxy's height: its bumps only in the athlete's lane.
fn profile_height(a: &AlongTerms, c: &AcrossTerms) -> f64 {
    match a.base {
        Some(b) => b + (a.full - b) * c.lane,
        None => a.full,
    }
}

/// The ground's height (see [`VenueModel::ground_point`]).
fn ground_height(a: &AlongTerms, c: &AcrossTerms) -> f64 {
    let Some(along) = a.measured else {
        return profile_height(a, c);
    };
    let measured = along + c.measured + c.lane * a.bump;
    let w = c.lane * a.support;
    measured + w * (profile_height(a, c) - measured)
}

/// Half the width of the athlete's lane, where the contact profile's bumps (the kicker) stand.
pub const LANE_HALF_WIDTH: f64 = 2.5;

/// 1 inside the athlete's lane, 0 a metre beyond it, smooth between.
fn lane_weight(l: f64) -> f64 {
    let t = (LANE_HALF_WIDTH - l.abs()).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The ground profile with bumps narrower than `2 * half_window` removed (a morphological
/// opening: the lower envelope, then its upper envelope), sampled every 0.25 m.
pub fn base_profile(
    ground: &GroundProfile,
    from: f64,
    to: f64,
    half_window: f64,
) -> Vec<(f64, f64)> {
    let step = 0.25;
    let n = ((to - from) / step).ceil() as usize + 1;
    let s: Vec<f64> = (0..n).map(|i| from + i as f64 * step).collect();
    let h: Vec<f64> = s.iter().map(|&x| ground.height(x)).collect();
    let r = (half_window / step).round() as usize;
    let window = |v: &[f64], i: usize, pick: fn(f64, f64) -> f64, init: f64| {
        let lo = i.saturating_sub(r);
        let hi = (i + r).min(v.len() - 1);
        v[lo..=hi].iter().copied().fold(init, pick)
    };
    let eroded: Vec<f64> = (0..n)
        .map(|i| window(&h, i, f64::min, f64::INFINITY))
        .collect();
    let opened: Vec<f64> = (0..n)
        .map(|i| window(&eroded, i, f64::max, f64::NEG_INFINITY))
        .collect();
    s.into_iter().zip(opened).collect()
}

/// A camera and its background plate.
pub struct Plate<'a> {
    pub camera: &'a Camera,
    pub image: &'a RgbImage,
}

fn border_fade(cam: &Camera, px: f64, py: f64) -> f64 {
    let (w, h) = (cam.intrinsics.width as f64, cam.intrinsics.height as f64);
    let b = (px + 0.5).min(w - 0.5 - px).min(py + 0.5).min(h - 0.5 - py);
    (b / (0.03 * w)).clamp(0.0, 1.0)
}

/// Blends the two best-scoring plates at a world point; `score` rates a camera's view of it.
/// With depth maps, only cameras that see the point (nothing of the terrain in front) count.
fn blend(
    plates: &[Plate],
    p: &Point3<f64>,
    score: &dyn Fn(&Camera) -> f64,
    depth: Option<&DepthMaps>,
) -> Option<[u8; 3]> {
    let mut best: [(f64, [f32; 3]); 2] = [(0.0, [0.0; 3]); 2];
    for (index, pl) in plates.iter().enumerate() {
        let Some((px, d)) = pl.camera.project_with_depth(p) else {
            continue;
        };
        if d <= 0.5 || !pl.camera.in_image(&px) {
            continue;
        }
        let s = score(pl.camera) * border_fade(pl.camera, px.x, px.y);
        if s <= best[1].0 || depth.is_some_and(|m| !m.visible(index, pl.camera, p)) {
            continue;
        }
        let c = sample_bilinear(pl.image, px.x, px.y);
        if s > best[0].0 {
            best[1] = best[0];
            best[0] = (s, c);
        } else {
            best[1] = (s, c);
        }
    }
    if best[0].0 <= 0.0 {
        return None;
    }
    // The runner-up only matters when it is nearly as good (soft seams between cameras).
    let w1 = ((best[1].0 / best[0].0 - 0.8) / 0.2).clamp(0.0, 1.0) * 0.5;
    let mut out = [0u8; 3];
    for k in 0..3 {
        let a = srgb_to_linear(best[0].1[k].round() as u8);
        let b = srgb_to_linear(best[1].1[k].round() as u8);
        out[k] = linear_to_srgb(a * (1.0 - w1 as f32) + b * w1 as f32);
    }
    Some(out)
}

/// The texels (x, y) of a `width` × `height` texture, row by row, as `texel(x, y)` gives them
/// (`None`: no camera sees it), rows in parallel.
fn par_texels(
    width: u32,
    height: u32,
    texel: impl Fn(u32, u32) -> Option<[u8; 3]> + Sync,
) -> Vec<Option<[u8; 3]>> {
    let texel = &texel;
    (0..height)
        .into_par_iter()
        .flat_map_iter(|y| (0..width).map(move |x| texel(x, y)))
        .collect()
}

/// Per-channel median of `colours` (the upper median), `None` for none.
fn median_colour<'a>(colours: impl Iterator<Item = &'a [u8; 3]>) -> Option<[u8; 3]> {
    let mut hist = [[0u32; 256]; 3];
    let mut n = 0u32;
    for c in colours {
        for k in 0..3 {
            hist[k][c[k] as usize] += 1;
        }
        n += 1;
    }
    if n == 0 {
        return None;
    }
    Some(std::array::from_fn(|k| {
        let mut seen = 0;
        for (v, &count) in hist[k].iter().enumerate() {
            seen += count;
            if 2 * seen > n {
                return v as u8;
            }
        }
        255
    }))
}

/// The picture of `texels` (`width` wide), each unseen texel given `fill(x, y)`.
fn fill_texels(
    texels: &[Option<[u8; 3]>],
    width: u32,
    height: u32,
    fill: impl Fn(u32, u32) -> [u8; 3],
) -> RgbImage {
    let mut data = Vec::with_capacity(texels.len() * 3);
    for (i, t) in texels.iter().enumerate() {
        let (x, y) = (i as u32 % width.max(1), i as u32 / width.max(1));
        data.extend(t.unwrap_or_else(|| fill(x, y)));
    }
    RgbImage::from_raw(width, height, data).unwrap_or_else(|| RgbImage::new(width, height))
}

/// The colour the ground proxy gets where no camera sees it, when no camera sees any of it.
const UNSEEN_SNOW: [u8; 3] = [196, 204, 216];

/// Bakes the ground texture (`width` along the course, `height` across it); `depth` (the
/// terrain in each plate's camera) and the model's fences keep texels from cameras that do not
/// see them.
pub fn bake_ground(
    model: &VenueModel,
    plates: &[Plate],
    depth: Option<&DepthMaps>,
    width: u32,
    height: u32,
) -> RgbImage {
    // The height's terms per column (s) and per row (l) of the texture, and either side of each
    // for the normal: evaluated once, not per texel.
    let e = NORMAL_STEP;
    let s_of = |x: u32| model.along.coord((x as f64 + 0.5) / width as f64);
    let l_of = |y: u32| model.across.coord((y as f64 + 0.5) / height as f64);
    let cols: Vec<(f64, [AlongTerms; 3])> = (0..width)
        .into_par_iter()
        .map(|x| {
            let s = s_of(x);
            (s, [s - e, s, s + e].map(|v| model.along_terms(v)))
        })
        .collect();
    let rows: Vec<(f64, [AcrossTerms; 3])> = (0..height)
        .map(|y| {
            let l = l_of(y);
            (l, [l - e, l, l + e].map(|v| model.across_terms(v)))
        })
        .collect();
    let frame = model.frame();
    let texels = par_texels(width, height, |x, y| {
        let (s, a) = &cols[x as usize];
        let (l, c) = &rows[y as usize];
        let p = frame.point(*s, *l, ground_height(&a[1], &c[1]));
        let n = model.normal_from_terms(a, c);
        let score = |c: &Camera| {
            let eye = c.centre();
            let to = eye - p;
            let d = to.norm();
            let cos = (n.dot(&to) / d).max(0.0);
            // The depth maps let a point within their tolerance (about a metre at 40 m) behind
            // a fence through, and those cameras see the fence there: snow behind a fence
            // takes only cameras on its own side, or above the fence's top.
            let behind_fence = || {
                model
                    .fences
                    .iter()
                    .any(|f| f.blocks(&frame, &eye, &p, |s| model.ground_point(s, f.l).z))
            };
            if cos <= 0.0 || behind_fence() {
                0.0
            } else {
                cos / d
            }
        };
        blend(plates, &p, &score, depth)
    });
    // Unseen ground (beyond what any camera sees, or hidden from all): what is seen nearest,
    // away from the fences, blended smoothly (a landing hill goes on in the light it had where
    // last seen; a snow bank behind a fence is as bright as its seen part, not the venue's
    // typical grey). Texels at a fence's foot carry the fence's colour into the ground, and
    // strongly coloured ones are the fences', lines' and markings' paint, not snow: neither
    // is a source.
    let near_fence = |x: u32, y: u32| {
        let (s, l) = (cols[x as usize].0, rows[y as usize].0);
        model
            .fences
            .iter()
            .any(|f| (l - f.l).abs() < 1.0 && s > f.s.0 - 1.0 && s < f.s.1 + 1.0)
    };
    let sources: Vec<Option<[u8; 3]>> = texels
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (x, y) = (i as u32 % width, i as u32 / width);
            t.filter(|c| !near_fence(x, y) && chroma(c) <= MAX_SNOW_CHROMA)
        })
        .collect();
    let filled = push_pull(&sources, width, height);
    fill_texels(&texels, width, height, |x, y| {
        filled
            .as_ref()
            .map_or(UNSEEN_SNOW, |f| f[(y * width + x) as usize])
    })
}

/// The largest spread between a colour's channels (sRGB levels) that still passes for snow
/// when filling unseen ground: snow in sun or shade is nearly grey (its blue tint is about 25
/// levels), fence padding and dye lines are far more coloured.
const MAX_SNOW_CHROMA: u8 = 60;

/// The spread between a colour's largest and smallest channel.
fn chroma(c: &[u8; 3]) -> u8 {
    let (lo, hi) = c
        .iter()
        .fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    hi - lo
}

/// Every texel of a `width` × `height` picture with holes (`None`) given a colour by
/// push-pull: seen texels are averaged (in linear light) up a pyramid of halving levels, then
/// each level's holes take the bilinear sample of the level above, from the coarsest down. A
/// hole thus gets the colours seen around it, more smoothly the further it is from them.
/// `None` when no texel is seen.
fn push_pull(texels: &[Option<[u8; 3]>], width: u32, height: u32) -> Option<Vec<[u8; 3]>> {
    // Per level: (width, height, premultiplied colour and weight per texel).
    type Level = (usize, usize, Vec<[f32; 4]>);
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || texels.len() != w * h || texels.iter().all(Option::is_none) {
        return None;
    }
    let base: Vec<[f32; 4]> = texels
        .iter()
        .map(|t| match t {
            Some(c) => {
                let [r, g, b] = c.map(srgb_to_linear);
                [r, g, b, 1.0]
            }
            None => [0.0; 4],
        })
        .collect();
    let mut levels: Vec<Level> = vec![(w, h, base)];
    while let Some((lw, lh, v)) = levels.last().filter(|l| l.0 > 1 || l.1 > 1) {
        let (nw, nh) = (lw.div_ceil(2), lh.div_ceil(2));
        let mut next = vec![[0.0f32; 4]; nw * nh];
        for y in 0..*lh {
            for x in 0..*lw {
                let (src, dst) = (v[y * lw + x], &mut next[(y / 2) * nw + x / 2]);
                for k in 0..4 {
                    dst[k] += src[k];
                }
            }
        }
        levels.push((nw, nh, next));
    }
    // Pull: from the coarsest (one texel, the mean of all seen) down, holes from the level
    // above. Colours are normalised (weight 1) once a level is done.
    let normalise = |t: &mut [f32; 4]| {
        if t[3] > 0.0 {
            let inv = 1.0 / t[3];
            *t = [t[0] * inv, t[1] * inv, t[2] * inv, 1.0];
        }
    };
    if let Some(top) = levels.last_mut() {
        top.2.iter_mut().for_each(normalise);
    }
    for k in (0..levels.len() - 1).rev() {
        let (finer, coarser) = levels.split_at_mut(k + 1);
        let (fw, level) = (finer[k].0, &finer[k].2);
        let (pw, ph, parent) = (&coarser[0].0, &coarser[0].1, &coarser[0].2);
        let texel = |x: isize, y: isize| {
            parent[(y.clamp(0, *ph as isize - 1) as usize) * pw
                + x.clamp(0, *pw as isize - 1) as usize]
        };
        let filled: Vec<[f32; 4]> = level
            .par_iter()
            .enumerate()
            .map(|(i, &t)| {
                if t[3] > 0.0 {
                    let mut t = t;
                    normalise(&mut t);
                    return t;
                }
                // The texel's centre in the parent level's texels.
                let (x, y) = ((i % fw) as f64, (i / fw) as f64);
                let (px, py) = ((x + 0.5) / 2.0 - 0.5, (y + 0.5) / 2.0 - 0.5);
                let (x0, y0) = (px.floor(), py.floor());
                let (fx, fy) = ((px - x0) as f32, (py - y0) as f32);
                let (x0, y0) = (x0 as isize, y0 as isize);
                let mut out = [0.0f32; 4];
                for (dx, dy, wgt) in [
                    (0, 0, (1.0 - fx) * (1.0 - fy)),
                    (1, 0, fx * (1.0 - fy)),
                    (0, 1, (1.0 - fx) * fy),
                    (1, 1, fx * fy),
                ] {
                    let p = texel(x0 + dx, y0 + dy);
                    for c in 0..3 {
                        out[c] += p[c] * wgt;
                    }
                }
                out[3] = 1.0;
                out
            })
            .collect();
        finer[k].2 = filled;
    }
    Some(
        levels[0]
            .2
            .iter()
            .map(|t| [0, 1, 2].map(|c| linear_to_srgb(t[c])))
            .collect(),
    )
}

/// Metres per texel of a fence texture, along it and up it.
pub const FENCE_TEXEL: (f64, f64) = (0.04, 0.02);

/// The texture size of a fence (columns along it, rows up it).
pub fn fence_texture_size(fence: &Fence) -> (u32, u32) {
    (
        (((fence.s.1 - fence.s.0) / FENCE_TEXEL.0).ceil() as u32).clamp(16, 4096),
        ((fence.height / FENCE_TEXEL.1).ceil() as u32).clamp(8, 256),
    )
}

/// Bakes one face of a fence (`inner`: the face towards the course): each texel from the
/// cameras on that side that see it, closest and most face-on first; texels none sees take
/// the median of the face's seen texels.
pub fn bake_fence(
    model: &VenueModel,
    fence: &Fence,
    inner: bool,
    plates: &[Plate],
    depth: Option<&DepthMaps>,
) -> RgbImage {
    let frame = model.frame();
    let n = fence.inner_normal(&frame) * if inner { 1.0 } else { -1.0 };
    let (width, height) = fence_texture_size(fence);
    let texels = par_texels(width, height, |x, y| {
        let s = fence.s.0 + (x as f64 + 0.5) / width as f64 * (fence.s.1 - fence.s.0);
        let h = fence.height * (1.0 - (y as f64 + 0.5) / height as f64);
        let foot = fence.foot_height(s, || model.ground_point(s, fence.l).z);
        let p = frame.point(s, fence.l, foot + h);
        let score = |c: &Camera| {
            let to = c.centre() - p;
            let d = to.norm();
            (n.dot(&to) / d).max(0.0) / d
        };
        blend(plates, &p, &score, depth)
    });
    let typical = median_colour(texels.iter().flatten()).unwrap_or(UNSEEN_SNOW);
    // A fence's panels, bands and rails run along it: an unseen texel takes what its row looks
    // like nearest along the fence, not the whole face's colour.
    let rows: Vec<Vec<(u32, [u8; 3])>> = texels
        .chunks(width.max(1) as usize)
        .map(|row| {
            row.iter()
                .enumerate()
                .filter_map(|(x, t)| t.map(|c| (x as u32, c)))
                .collect()
        })
        .collect();
    fill_texels(&texels, width, height, |x, y| {
        nearest_along(&rows[y as usize], x, FENCE_FILL_TEXELS).unwrap_or(typical)
    })
}

/// How many seen texels of its row an unseen fence texel takes the median of.
const FENCE_FILL_TEXELS: usize = 25;

/// The median colour of the `k` texels of `seen` (column, colour; columns increasing) nearest
/// column `x` (`None` when there are none).
fn nearest_along(seen: &[(u32, [u8; 3])], x: u32, k: usize) -> Option<[u8; 3]> {
    let (mut lo, mut hi) = {
        let i = seen.partition_point(|t| t.0 < x);
        (i, i)
    };
    while hi - lo < k && (lo > 0 || hi < seen.len()) {
        let left = lo.checked_sub(1).map(|i| x - seen[i].0);
        let right = seen.get(hi).map(|t| t.0 - x);
        match (left, right) {
            (Some(a), Some(b)) if a <= b => lo -= 1,
            (Some(_), None) => lo -= 1,
            _ => hi += 1,
        }
    }
    median_colour(seen[lo..hi].iter().map(|t| &t.1))
}

/// Unit direction of a dome texel (equirectangular: u = longitude, v = colatitude from +z).
pub fn dome_direction(u: f64, v: f64) -> Vector3<f64> {
    let lon = (u - 0.5) * std::f64::consts::TAU;
    let colat = v * std::f64::consts::PI;
    Vector3::new(
        colat.sin() * lon.cos(),
        colat.sin() * lon.sin(),
        colat.cos(),
    )
}

/// Bakes the dome texture; with `depth`, a camera only lends a texel its colour where no
/// ground stands in front of the dome in that direction (a low camera looking up a hill must
/// not paint the hill onto the sky a higher viewpoint sees above the crest).
pub fn bake_dome(
    model: &VenueModel,
    plates: &[Plate],
    depth: Option<&DepthMaps>,
    width: u32,
    height: u32,
) -> RgbImage {
    let centre = Point3::from(model.dome_centre);
    let texels = par_texels(width, height, |x, y| {
        let v = (y as f64 + 0.5) / height as f64;
        let d = dome_direction((x as f64 + 0.5) / width as f64, v);
        let p = centre + d * model.dome_radius;
        let score = |c: &Camera| {
            let axis = c.forward();
            (axis.dot(&(p - c.centre()).normalize())).max(0.0).powi(4)
        };
        blend(plates, &p, &score, depth)
    });
    fill_dome(&texels, width, height)
}

/// The dome's picture from its baked texels (row by row, `None` where no camera saw one).
/// Unseen texels: the sky changes with elevation far more than around the horizon, so a
/// texel takes the median of what the cameras saw at its elevation (its row). Rows nobody
/// saw (or saw less than a 64th of: a fence's stripe is no sky) take the nearest seen row's
/// colour, fading above the highest seen row into a plain gradient towards the zenith.
fn fill_dome(texels: &[Option<[u8; 3]>], width: u32, height: u32) -> RgbImage {
    let w = width as usize;
    let row_colour: Vec<Option<[u8; 3]>> = texels
        .chunks(w.max(1))
        .map(|row| {
            let seen = row.iter().flatten().count();
            (seen * 64 >= w)
                .then(|| median_colour(row.iter().flatten()))
                .flatten()
        })
        .collect();
    let seen_rows: Vec<usize> = (0..row_colour.len())
        .filter(|&y| row_colour[y].is_some())
        .collect();
    let colat = |y: usize| (y as f64 + 0.5) / height as f64 * std::f64::consts::PI;
    let fill_row: Vec<[u8; 3]> = (0..height as usize)
        .map(|y| {
            if let Some(c) = row_colour[y] {
                return c;
            }
            let plain = plain_sky(colat(y));
            let i = seen_rows.partition_point(|&r| r < y);
            let above = i.checked_sub(1).map(|k| seen_rows[k]);
            let below = seen_rows.get(i).copied();
            let colour = |r: usize| row_colour[r].unwrap_or(plain);
            let mix = |a: [u8; 3], b: [u8; 3], t: f64| -> [u8; 3] {
                std::array::from_fn(|k| (a[k] as f64 * (1.0 - t) + b[k] as f64 * t).round() as u8)
            };
            match (above, below) {
                (Some(a), Some(b)) => mix(colour(a), colour(b), (y - a) as f64 / (b - a) as f64),
                (Some(a), None) => colour(a),
                // Above every seen row: from its colour there to the plain sky at the zenith.
                (None, Some(b)) => mix(colour(b), plain, 1.0 - colat(y) / colat(b)),
                (None, None) => plain,
            }
        })
        .collect();
    fill_texels(texels, width, height, |_, y| fill_row[y as usize])
}

/// A plain sky at colatitude `colat` (from the zenith): a gradient above the horizon, snow haze
/// below; for dome texels no camera saw near any.
fn plain_sky(colat: f64) -> [u8; 3] {
    let el = (std::f64::consts::FRAC_PI_2 - colat).sin();
    if el > 0.0 {
        let k = el.powf(0.6);
        let c = |a: f64, b: f64| (a + (b - a) * k) as u8;
        [c(170.0, 60.0), c(196.0, 120.0), c(232.0, 205.0)]
    } else {
        UNSEEN_SNOW
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseen_fence_texels_take_their_rows_nearest_colours() {
        let row: Vec<(u32, [u8; 3])> = vec![(2, [10, 0, 0]), (3, [20, 0, 0]), (9, [90, 0, 0])];
        // Beyond an end: the nearest ones.
        assert_eq!(nearest_along(&row, 0, 1), Some([10, 0, 0]));
        assert_eq!(nearest_along(&row, 0, 2), Some([20, 0, 0]));
        assert_eq!(nearest_along(&row, 15, 1), Some([90, 0, 0]));
        // In a gap: from whichever side is nearer.
        assert_eq!(nearest_along(&row, 5, 1), Some([20, 0, 0]));
        assert_eq!(nearest_along(&row, 7, 1), Some([90, 0, 0]));
        // Fewer seen than asked for: all of them.
        assert_eq!(nearest_along(&row, 5, 10), Some([20, 0, 0]));
        assert_eq!(nearest_along(&[], 5, 10), None);
    }

    #[test]
    fn median_colour_is_per_channel() {
        let c = [[10, 200, 30], [20, 100, 30], [30, 150, 90]];
        assert_eq!(median_colour(c.iter()), Some([20, 150, 30]));
        assert_eq!(median_colour([].iter()), None);
    }

    /// Unseen dome texels take what the cameras saw at their elevation; rows nobody saw are
    /// blended from the seen rows around them, and fade to the plain sky towards the zenith.
    #[test]
    fn unseen_dome_texels_take_the_sky_seen_at_their_elevation() {
        let (w, h) = (256u32, 32u32);
        let mut texels = vec![None; (w * h) as usize];
        let set = |t: &mut Vec<Option<[u8; 3]>>, x: u32, y: u32, c: [u8; 3]| {
            t[(y * w + x) as usize] = Some(c)
        };
        // Row 10: a sixteenth seen, light sky; row 14 likewise, lighter; row 20: one texel of
        // fence blue only (too little to stand for the row).
        for x in 0..16 {
            set(&mut texels, x, 10, [120, 150, 220]);
            set(&mut texels, x + 8, 14, [160, 190, 230]);
        }
        set(&mut texels, 40, 20, [40, 90, 200]);
        let img = fill_dome(&texels, w, h);
        let px = |x: u32, y: u32| img.get_pixel(x, y).0;
        // Seen texels are kept; the rest of their rows take the row's colour.
        assert_eq!(px(3, 10), [120, 150, 220]);
        assert_eq!(px(200, 10), [120, 150, 220]);
        assert_eq!(px(60, 14), [160, 190, 230]);
        // Between seen rows: linear in the row.
        assert_eq!(px(30, 12), [140, 170, 225]);
        // Below every seen row: the lowest one's colour; the lone stripe is not a row colour.
        assert_eq!(px(0, 20), [160, 190, 230]);
        assert_eq!(px(40, 20), [40, 90, 200]);
        assert_eq!(px(5, 30), [160, 190, 230]);
        // Above: from row 10's colour towards the plain sky at the zenith, darker going up.
        let (near, top) = (px(7, 9), px(7, 0));
        assert!(near[2] >= top[2] && near[0] > top[0], "{near:?} {top:?}");
        let plain = plain_sky(0.5 / h as f64 * std::f64::consts::PI);
        for k in 0..3 {
            assert!(top[k].abs_diff(plain[k]) <= 12, "{top:?} against {plain:?}");
        }
    }

    /// Holes in the ground texture take the colours seen nearest them: a hole between two
    /// colours shades from one to the other, seen texels are kept, nothing seen gives nothing.
    #[test]
    fn ground_holes_are_filled_from_the_nearest_seen_texels() {
        let (w, h) = (32u32, 8u32);
        let mut texels = vec![None; (w * h) as usize];
        for y in 0..h {
            for x in 0..4 {
                texels[(y * w + x) as usize] = Some([200, 200, 200]);
                texels[(y * w + w - 1 - x) as usize] = Some([40, 40, 40]);
            }
        }
        let out = push_pull(&texels, w, h).expect("filled");
        let px = |x: u32, y: u32| out[(y * w + x) as usize];
        assert_eq!(px(0, 3), [200, 200, 200]);
        assert_eq!(px(31, 3), [40, 40, 40]);
        // Next to the seen texels: close to them; in the middle: between the two.
        assert!(px(5, 3)[0] > 150, "{:?}", px(5, 3));
        assert!(px(26, 3)[0] < 90, "{:?}", px(26, 3));
        let mid = px(16, 3)[0];
        assert!((60..=190).contains(&mid), "{mid}");
        // From light to dark across the hole.
        let row: Vec<u8> = (4..28).map(|x| px(x, 3)[0]).collect();
        assert!(row.windows(2).all(|p| p[0] + 2 >= p[1]), "{row:?}");
        assert!(push_pull(&[None; 16], 4, 4).is_none());
    }
}
