//! Fences beside the course (safety fences, advertising boards): vertical walls at a constant
//! offset across the course, found in the background plates by the same multi-view patch
//! correlation as the snow (see [`super::terrain`]), on vertical patches.
//!
//! On each side, walls at offsets from near the course out to the cameras are scored by how
//! many spots on them (along the course, a few heights up) the cameras agree on: a fence's
//! panels, seams and bands line up in every view only at its true offset. The best offset is
//! refined, then the wall's height (how far up the views keep agreeing) and its extent along the
//! course. Each fence is rendered as a textured wall with two faces (towards the course and
//! away from it), so the venue's ground no longer carries the fences smeared flat across it.

use super::terrain::{
    CourseProfile, GreyPlate, GroundFrame, PatchBuffer, cheapest_path, photo_cost, range_steps,
};
use super::venue::AxisMap;
use nalgebra::{Point3, Vector3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A fence: a vertical wall standing on the snow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fence {
    /// Offset across the course (m, in the ground profile's frame, positive to the left).
    pub l: f64,
    /// Where it starts and ends along the course (m).
    pub s: (f64, f64),
    /// Height above the snow (m).
    pub height: f64,
    /// Where the wall's foot stands, measured along it: (s, z) every half metre over `s`,
    /// world heights (m). Empty: on the venue's ground.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foot: Vec<(f64, f64)>,
    /// Texture of the face towards the course (relative to the reconstruction directory);
    /// columns along the course from `s.0`, rows from the top down.
    pub inner_texture: PathBuf,
    /// Texture of the face away from the course.
    pub outer_texture: PathBuf,
}

impl Fence {
    /// Whether the fence's numbers make sense (finite, positive height and length).
    pub fn is_valid(&self) -> bool {
        self.l.is_finite()
            && self.s.0.is_finite()
            && self.s.1.is_finite()
            && self.s.0 < self.s.1
            && self.height.is_finite()
            && self.height > 0.0
            && self.foot.iter().all(|p| p.0.is_finite() && p.1.is_finite())
            && self.foot.windows(2).all(|w| w[0].0 < w[1].0)
    }

    /// The height of the wall's foot at `s` along it: its measured foot, or else `ground`
    /// (the venue's snow under the wall).
    pub fn foot_height(&self, s: f64, ground: impl FnOnce() -> f64) -> f64 {
        if self.foot.is_empty() {
            ground()
        } else {
            AxisMap::interp(&self.foot, s)
        }
    }

    /// Unit normal of the face towards the course (horizontal, pointing at l = 0).
    pub fn inner_normal(&self, frame: &GroundFrame) -> Vector3<f64> {
        -frame.left * self.l.signum()
    }

    /// Whether the wall stands between `eye` and `p`: the straight line from one to the other
    /// crosses the wall's line within its length, below its top. `ground` is the snow's height
    /// along the wall (for a wall without a measured foot). A point closer than [`WALL_SKIN`]
    /// to the wall's line counts as on the eye's side (the wall's own foot is not behind it).
    pub fn blocks(
        &self,
        frame: &GroundFrame,
        eye: &Point3<f64>,
        p: &Point3<f64>,
        ground: impl FnOnce(f64) -> f64,
    ) -> bool {
        let (se, le) = frame.coords(eye);
        let (sp, lp) = frame.coords(p);
        let (de, dp) = (le - self.l, lp - self.l);
        // On the same side, or the point at the wall.
        if de * dp >= 0.0 || dp.abs() < WALL_SKIN {
            return false;
        }
        let t = de / (de - dp);
        let s = se + t * (sp - se);
        if s < self.s.0 || s > self.s.1 {
            return false;
        }
        let z = eye.z + t * (p.z - eye.z);
        z < self.foot_height(s, || ground(s)) + self.height
    }
}

/// How far behind a wall's line a point must lie to be hidden by it (m): about a fence's
/// thickness, so the snow at its foot on the far side is still the snow's.
pub const WALL_SKIN: f64 = 0.05;

/// A spot on a wall scores as agreeing when its matching cost (1 − correlation) is below this.
const AGREE: f32 = 0.2;
/// Half-size of the vertical patches (m).
const PATCH_R: f64 = 0.25;
/// Half-size of the patches that find the height (m): small, so the top edge is sharp.
const HEIGHT_R: f64 = 0.1;
/// A side has a fence only where its best offset has at least this many agreeing spots, and
/// this many times the median over all offsets.
const MIN_SPOTS: usize = 12;
const MIN_CONTRAST: f64 = 3.0;
/// Gaps along a fence up to this long (m) are bridged (a camera's blind spot, a gate).
const MAX_GAP: f64 = 4.0;
/// The foot is searched this far above and below the venue's snow (m)...
const FOOT_REACH: f64 = 1.5;
/// ...in steps of this (m)...
const FOOT_STEP: f64 = 0.05;
/// ...every this far along the wall (m).
const FOOT_SPACING: f64 = 0.5;
/// How far under the wall a spot the views agree on counts against it, and how far above its
/// top the views are asked (m).
const FOOT_MARGIN: f64 = 0.4;
/// Fewer agreeing spots than this at a position along the wall do not tell where it stands.
const FOOT_MIN_SPOTS: usize = 4;

/// What a search sees: the plates, and the snow's height at (s, l).
pub struct FenceSearch<'a> {
    pub frame: GroundFrame,
    pub ground: &'a (dyn Fn(f64, f64) -> f64 + Sync),
    pub plates: &'a [GreyPlate<'a>],
    /// The range along the course searched (m).
    pub s_range: (f64, f64),
    /// How far along the course a fence may run on where too few views see it to judge (m):
    /// typically the rig's ends.
    pub reach: (f64, f64),
    /// Offsets searched on each side: from `near` out to `far` (m, unsigned; `far` for the
    /// left side, then the right).
    pub near: f64,
    pub far: (f64, f64),
}

impl FenceSearch<'_> {
    /// Matching cost of the vertical square of half-size `r` at (s, l), `h` above the snow,
    /// over the plates in `seen_by`.
    fn cost(
        &self,
        (s, l, h): (f64, f64, f64),
        r: f64,
        seen_by: &[&GreyPlate],
        buf: &mut PatchBuffer,
    ) -> Option<f32> {
        let p = self.frame.point(s, l, (self.ground)(s, l) + h);
        photo_cost(&p, (&self.frame.along, &Vector3::z()), r, seen_by, buf)
    }

    /// The plates that may see some of the wall at (s, l) up to `top`.
    fn seen_by(&self, s: f64, l: f64, top: f64) -> Vec<&GreyPlate<'_>> {
        self.seen_by_span(s, l, (0.0, top))
    }

    /// Agreeing spots on the wall at offset `l`: over `s_pos`, at `heights`.
    fn spots(&self, l: f64, s_pos: &[f64], heights: &[f64]) -> usize {
        let top = heights.last().copied().unwrap_or(0.0) + PATCH_R;
        let mut buf = Vec::new();
        s_pos
            .iter()
            .map(|&s| {
                let seen_by = self.seen_by(s, l, top);
                heights
                    .iter()
                    .filter(|&&h| {
                        self.cost((s, l, h), PATCH_R, &seen_by, &mut buf)
                            .is_some_and(|c| c < AGREE)
                    })
                    .count()
            })
            .sum()
    }

    /// The fences found (at most one per side), textures not yet named.
    pub fn find(&self) -> Vec<FoundFence> {
        [1.0, -1.0]
            .into_iter()
            .filter_map(|side| self.find_side(side))
            .collect()
    }

    fn find_side(&self, side: f64) -> Option<FoundFence> {
        let far = if side > 0.0 { self.far.0 } else { self.far.1 };
        if far <= self.near + 1.0 {
            return None;
        }
        let s_pos = range_steps(self.s_range.0, self.s_range.1, 1.0);
        let heights = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4];
        // Coarse: every quarter metre.
        let offsets = range_steps(self.near, far, 0.25);
        let counts: Vec<usize> = offsets
            .par_iter()
            .map(|&d| self.spots(side * d, &s_pos, &heights))
            .collect();
        let (best, &most) = counts.iter().enumerate().max_by_key(|(_, c)| **c)?;
        let mut sorted = counts.clone();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        tracing::debug!(
            "fence search, side {side}: best offset {:.2} m with {most} agreeing spots (median {median})",
            offsets[best]
        );
        if most < MIN_SPOTS || (most as f64) < MIN_CONTRAST * median.max(1) as f64 {
            return None;
        }
        // Fine: every 2.5 cm either side.
        let fine = range_steps(offsets[best] - 0.25, offsets[best] + 0.25, 0.025);
        let fine_counts: Vec<usize> = fine
            .par_iter()
            .map(|&d| self.spots(side * d, &s_pos, &heights))
            .collect();
        let l = side * centre_of_best(&fine, &fine_counts);
        let height = self.height(l, &s_pos)?;
        let s = self.extent(l, height, &s_pos)?;
        let (foot, foot_measured) = self.foot(l, height, s);
        let height = self.down_to_feet(l, height, &foot).unwrap_or(height);
        Some(FoundFence {
            fence: Fence {
                l,
                s,
                height,
                foot,
                inner_texture: PathBuf::new(),
                outer_texture: PathBuf::new(),
            },
            foot_measured,
        })
    }

    /// Where the foot of the wall at `l` (of `height`) stands, every [`FOOT_SPACING`] over
    /// `s`: world heights (see [`Fence::foot`]); empty where the views tell nowhere.
    ///
    /// The snow under a fence is measured badly where it matters most: a fence's paint is far
    /// more textured than snow, and the snow beside it is smoothed across the course. At each
    /// position, small vertical patches from [`FOOT_REACH`] below the snow to as far above
    /// the wall's top say where the views agree; the foot is where a box of the wall's height
    /// covers the most agreeing spots and leaves the fewest within [`FOOT_MARGIN`] below it
    /// ([`foot_costs`]). Along the wall the cheapest smooth path through those scores links the
    /// positions, and carries the nearest measured ones over the rest.
    fn foot(&self, l: f64, height: f64, s: (f64, f64)) -> MeasuredFoot {
        let s_pos = range_steps(s.0, s.1, FOOT_SPACING);
        let lo = -FOOT_REACH - FOOT_MARGIN;
        let hs = range_steps(lo, FOOT_REACH + height + FOOT_MARGIN, FOOT_STEP);
        let candidates = range_steps(-FOOT_REACH, FOOT_REACH, FOOT_STEP);
        let cost: Vec<Vec<f32>> = s_pos
            .par_iter()
            .map(|&sp| {
                let mut buf = Vec::new();
                let seen_by = self.seen_by_span(sp, l, (lo, hs.last().copied().unwrap_or(lo)));
                let agree: Vec<bool> = hs
                    .iter()
                    .map(|&h| {
                        self.cost((sp, l, h), HEIGHT_R, &seen_by, &mut buf)
                            .is_some_and(|c| c < AGREE)
                    })
                    .collect();
                foot_costs(&agree, lo, &candidates, height)
            })
            .collect();
        let measured: Vec<bool> = cost.iter().map(|c| c[0].is_finite()).collect();
        tracing::debug!(
            "fence at {l:.2} m: foot measured (every {FOOT_SPACING} m from {:.1} m): {}",
            s.0,
            measured
                .iter()
                .map(|&m| if m { '#' } else { '.' })
                .collect::<String>()
        );
        let (Some(first), Some(last)) = (
            measured.iter().position(|&m| m),
            measured.iter().rposition(|&m| m),
        ) else {
            return (Vec::new(), None);
        };
        // Smoothness in agreeing spots per step of the foot.
        let foot = cheapest_path(&cost, 0.02)
            .into_iter()
            .zip(&s_pos)
            .map(|(d, &sp)| (sp, (self.ground)(sp, l) - FOOT_REACH + d * FOOT_STEP))
            .collect();
        (foot, Some((s_pos[first], s_pos[last])))
    }

    /// The wall's height once its feet are measured: its top stays where it was measured
    /// (`height` above the venue's snow at `l`), its foot is where the views put it. The snow
    /// at a fence is measured from the rows across the course, which take the wall's lower
    /// part for snow where the profile along the course came out low; the height above that
    /// snow then misses the part of the wall under it. `None` without measured feet.
    fn down_to_feet(&self, l: f64, height: f64, foot: &[(f64, f64)]) -> Option<f64> {
        let mut heights: Vec<f64> = foot
            .iter()
            .map(|&(s, z)| (self.ground)(s, l) + height - z)
            .filter(|h| h.is_finite())
            .collect();
        if heights.is_empty() {
            return None;
        }
        heights.sort_by(f64::total_cmp);
        Some(heights[heights.len() / 2].max(HEIGHT_R))
    }

    /// The plates that may see some of the wall at (s, l) between the heights `span` above the
    /// snow.
    fn seen_by_span(&self, s: f64, l: f64, span: (f64, f64)) -> Vec<&GreyPlate<'_>> {
        let z = (self.ground)(s, l);
        let ends = [
            self.frame.point(s, l, z + span.0),
            self.frame.point(s, l, z + span.1),
        ];
        self.plates
            .iter()
            .filter(|pl| pl.may_see_any(&ends))
            .collect()
    }

    /// How far up the wall at `l` stands: where the views stop agreeing on it, scanning up
    /// from the snow with small patches.
    fn height(&self, l: f64, s_pos: &[f64]) -> Option<f64> {
        let hs = range_steps(0.05, 3.0, 0.05);
        let columns: Vec<Vec<&GreyPlate>> = s_pos
            .iter()
            .map(|&s| self.seen_by(s, l, 3.0 + HEIGHT_R))
            .collect();
        let share: Vec<f64> = hs
            .par_iter()
            .map_init(Vec::new, |buf, &h| {
                let good = s_pos
                    .iter()
                    .zip(&columns)
                    .filter(|(s, seen_by)| {
                        self.cost((**s, l, h), HEIGHT_R, seen_by, buf)
                            .is_some_and(|c| c < AGREE)
                    })
                    .count();
                good as f64 / s_pos.len().max(1) as f64
            })
            .collect();
        tracing::debug!(
            "fence at {l:.2} m: agreement by height (every 5 cm from 5 cm): {}",
            share
                .iter()
                .map(|v| format!("{:.0}", 100.0 * v))
                .collect::<Vec<_>>()
                .join(" ")
        );
        // A patch keeps agreeing while the fence's top edge is in it, so agreement falls the
        // patch's half-size above the top.
        let fall = top_fall(&share)?;
        let edge = 0.5 * (hs[fall] + hs[fall + 1]);
        Some((edge - HEIGHT_R).max(HEIGHT_R))
    }

    /// Where along the course the wall at `l` (of `height`) stands (see [`wall_extent`]).
    fn extent(&self, l: f64, height: f64, s_pos: &[f64]) -> Option<(f64, f64)> {
        let hs: Vec<f64> = (1..=4).map(|k| height * k as f64 / 5.0).collect();
        let seen: Vec<Wall> = s_pos
            .par_iter()
            .map(|&s| {
                let mut buf = Vec::new();
                let seen_by = self.seen_by(s, l, height);
                let costs: Vec<f32> = hs
                    .iter()
                    .filter_map(|&h| {
                        self.cost((s, l, h), PATCH_R.min(height / 4.0), &seen_by, &mut buf)
                    })
                    .collect();
                if costs.iter().any(|&c| c < AGREE) {
                    Wall::Agreed
                } else if costs.is_empty() {
                    Wall::Unseen
                } else {
                    Wall::Disagreed
                }
            })
            .collect();
        tracing::debug!(
            "fence at {l:.2} m along it (every metre from {:.1} m; # agreed, . disagreed, ? unseen): {}",
            s_pos.first().copied().unwrap_or(0.0),
            seen.iter()
                .map(|w| match w {
                    Wall::Agreed => '#',
                    Wall::Disagreed => '.',
                    Wall::Unseen => '?',
                })
                .collect::<String>()
        );
        wall_extent(s_pos, &seen, self.reach)
    }
}

/// Where along the course a wall stands, from what the views say of it at `s_pos` (increasing):
/// the longest run of positions where they agree on it, gaps up to [`MAX_GAP`] bridged, then
/// carried on at both ends through stretches too few textured views see to judge (a fence
/// does not stop where the cameras stop seeing it), as far as `reach` and up to a
/// disagreement longer than [`MAX_GAP`].
fn wall_extent(s_pos: &[f64], seen: &[Wall], reach: (f64, f64)) -> Option<(f64, f64)> {
    let mut best: Option<(usize, usize)> = None;
    let mut run: Option<(usize, usize)> = None;
    for (i, _) in seen.iter().enumerate().filter(|(_, w)| **w == Wall::Agreed) {
        run = match run {
            Some((a, b)) if s_pos[i] - s_pos[b] <= MAX_GAP => Some((a, i)),
            _ => Some((i, i)),
        };
        if let Some((a, b)) = run
            && best.is_none_or(|(x, y)| s_pos[b] - s_pos[a] > s_pos[y] - s_pos[x])
        {
            best = Some((a, b));
        }
    }
    let (a, b) = best.filter(|(a, b)| b > a)?;
    // Carries an end on from `from` through the positions `order` gives.
    let carry = |from: usize, order: &mut dyn Iterator<Item = usize>| {
        let mut end = from;
        for i in order {
            if s_pos[i] < reach.0 || s_pos[i] > reach.1 {
                break;
            }
            if seen[i] != Wall::Disagreed {
                end = i;
            } else if (s_pos[i] - s_pos[end]).abs() > MAX_GAP {
                break;
            }
        }
        end
    };
    let a = carry(a, &mut (0..a).rev());
    let b = carry(b, &mut (b + 1..seen.len()));
    Some((
        (s_pos[a] - 0.5).max(reach.0.min(s_pos[a])),
        (s_pos[b] + 0.5).min(reach.1.max(s_pos[b])),
    ))
}

/// A wall's foot ([`Fence::foot`]) and the stretch along the course where it was measured.
type MeasuredFoot = (Vec<(f64, f64)>, Option<(f64, f64)>);

/// A fence as found, with the stretch along the course where the views judged its foot
/// (`None`: nowhere; the foot is carried over the rest).
#[derive(Debug, Clone)]
pub struct FoundFence {
    pub fence: Fence,
    pub foot_measured: Option<(f64, f64)>,
}

/// How far beyond the stretch where a fence's foot was measured the snow is still moved
/// towards it, fading (m).
const SETTLE_FADE: f64 = 4.0;

/// The snow beside a fence is where its foot is: where the fences' feet were measured, the
/// profile along the course (`course.along`) is moved by the mean of their feet's heights
/// over the snow there (`ground`: the venue's snow at (s, l), before), fading out over
/// [`SETTLE_FADE`] beyond the measured stretch. The snow is measured from faint texture and
/// smoothed across the course; a fence's foot is a strong edge in every view of it.
pub fn settle_on_feet(
    course: &mut CourseProfile,
    fences: &[FoundFence],
    ground: &dyn Fn(f64, f64) -> f64,
) {
    let shifts: Vec<f64> = course
        .along
        .iter()
        .map(|&(s, _)| {
            let (mut sum, mut weight) = (0.0, 0.0);
            for f in fences {
                let Some((a, b)) = f.foot_measured else {
                    continue;
                };
                let w = (1.0 - (a - s).max(s - b).max(0.0) / SETTLE_FADE).max(0.0);
                if w > 0.0 {
                    let snow = ground(s, f.fence.l);
                    sum += w * (f.fence.foot_height(s, || snow) - snow);
                    weight += w;
                }
            }
            // Two fences fully measured: their mean; one fading out: its share of the shift.
            sum / weight.max(1.0)
        })
        .collect();
    for (p, d) in course.along.iter_mut().zip(shifts) {
        p.1 += d.clamp(-FOOT_REACH, FOOT_REACH);
    }
}

/// Per candidate foot (offsets from the snow), how badly a wall of `height` standing there
/// explains where the views agree (`agree`, every [`FOOT_STEP`] up from `lo`): 1 − (agreeing
/// spots on the wall − agreeing spots within [`FOOT_MARGIN`] below it) / spots on the wall.
/// All NaN (nothing to tell) with fewer than [`FOOT_MIN_SPOTS`] agreeing spots.
///
/// Agreement above the wall does not count against it: it spills over the top far more than
/// under the foot (on aerials16 up to half a metre: the top edge is the strongest texture in
/// a patch that reaches it, and the landing hill behind shows dye lines), and a wall's
/// height is measured once for its whole length ([`FenceSearch::height`]), so a penalty there
/// lifted the foot with it.
fn foot_costs(agree: &[bool], lo: f64, candidates: &[f64], height: f64) -> Vec<f32> {
    if agree.iter().filter(|&&a| a).count() < FOOT_MIN_SPOTS {
        return vec![f32::NAN; candidates.len()];
    }
    let at = |h: f64| {
        let i = ((h - lo) / FOOT_STEP).round();
        i >= 0.0 && agree.get(i as usize).copied().unwrap_or(false)
    };
    let count = |a: f64, b: f64| {
        range_steps(a, b, FOOT_STEP)
            .into_iter()
            .filter(|&h| at(h))
            .count() as f32
    };
    let on = (height / FOOT_STEP).round().max(1.0) as f32;
    candidates
        .iter()
        .map(|&d| {
            let inside = count(d, d + height - 0.5 * FOOT_STEP);
            let below = count(d - FOOT_MARGIN, d - 0.5 * FOOT_STEP);
            1.0 - (inside - below) / on
        })
        .collect()
}

/// Where agreement up a wall (`share`, by height from the bottom) falls for good: the last
/// height before it first drops below half its peak, above the peak. Agreement thins out over
/// the wall's top 30 cm or so and spills above it (its top edge is the strongest texture in a
/// patch that reaches it); the sharpest fall from one height to the next, used before, lay in
/// that thin tail, where a few spots decide the ratio: with the walls reaching down to their
/// feet they came out 0.2-0.5 m too tall on aerials16 and the demo capture, now 0.07-0.23 m.
fn top_fall(share: &[f64]) -> Option<usize> {
    let peak = share.iter().copied().fold(0.0, f64::max);
    if peak <= 0.0 {
        return None;
    }
    let top = share.iter().position(|&v| v >= peak)?;
    (top..share.len().saturating_sub(1)).find(|&i| share[i + 1] < 0.5 * peak)
}

/// What the views say of a wall at one position along it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wall {
    /// Enough textured views agree on it.
    Agreed,
    /// Enough textured views see it, and disagree at every height.
    Disagreed,
    /// Too few textured views to tell.
    Unseen,
}

/// The middle of the widest run of values tied for the largest count.
fn centre_of_best(values: &[f64], counts: &[usize]) -> f64 {
    let Some(&most) = counts.iter().max() else {
        return 0.0;
    };
    let mut best = (0usize, 0usize);
    let mut start = None;
    for (i, &c) in counts.iter().enumerate().chain([(counts.len(), &0usize)]) {
        match (c == most, start) {
            (true, None) => start = Some(i),
            (false, Some(a)) => {
                if i - a > best.1 - best.0 {
                    best = (a, i);
                }
                start = None;
            }
            _ => {}
        }
    }
    let (a, b) = best;
    0.5 * (values[a] + values[b - 1])
}

/// World points sampling both faces of `fence` every `step` metres (for depth maps).
pub fn surface_points(
    fence: &Fence,
    frame: &GroundFrame,
    ground: &dyn Fn(f64, f64) -> f64,
    step: f64,
) -> Vec<Point3<f64>> {
    let mut out = Vec::new();
    for s in range_steps(fence.s.0, fence.s.1, step) {
        let z = fence.foot_height(s, || ground(s, fence.l));
        for h in range_steps(0.0, fence.height, step) {
            out.push(frame.point(s, fence.l, z + h));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centre_of_best_takes_the_middle_of_the_widest_tie() {
        let v: Vec<f64> = (0..8).map(|i| i as f64).collect();
        assert_eq!(centre_of_best(&v, &[1, 5, 5, 2, 5, 5, 5, 0]), 5.0);
        assert_eq!(centre_of_best(&v, &[0, 0, 0, 0, 0, 0, 0, 9]), 7.0);
    }

    /// A wall's extent: the longest agreed run, carried on through what no views can judge,
    /// up to a long disagreement or the rig's ends.
    #[test]
    fn a_wall_runs_on_where_the_views_cannot_judge_it() {
        let walls = |t: &str| -> Vec<Wall> {
            t.chars()
                .map(|c| match c {
                    '#' => Wall::Agreed,
                    '.' => Wall::Disagreed,
                    _ => Wall::Unseen,
                })
                .collect()
        };
        let s: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let all = (-100.0, 100.0);
        // Unseen either side: carried to the ends of what was searched.
        assert_eq!(
            wall_extent(&s, &walls("?????#####?????#????"), all),
            Some((-0.5, 19.5))
        );
        // A short disagreement (3 m) is bridged, a long one (6 m) is not.
        assert_eq!(
            wall_extent(&s, &walls("??......####...?????"), all),
            Some((7.5, 19.5))
        );
        // Only as far as the rig's ends.
        assert_eq!(
            wall_extent(&s, &walls("?????#####??????????"), (3.0, 12.0)),
            Some((3.0, 12.0))
        );
        // Seen and disagreed on everywhere but the run: the run alone, half a metre grown.
        assert_eq!(
            wall_extent(&s, &walls("........####........"), all),
            Some((7.5, 11.5))
        );
        // No run of two agreeing positions: no wall.
        assert_eq!(wall_extent(&s, &walls("????????#???????????"), all), None);
    }

    /// The cheapest candidate is `want`.
    fn assert_foot_at(cost: &[f32], candidates: &[f64], want: f64) {
        let best = (0..cost.len())
            .min_by(|&a, &b| cost[a].total_cmp(&cost[b]))
            .map(|i| candidates[i]);
        assert!(
            best.is_some_and(|d| (d - want).abs() < 0.5 * FOOT_STEP),
            "{best:?}, want {want}"
        );
    }

    /// A measured foot must be finite and increase along the fence (a reconstruction read
    /// from disk is checked with this).
    #[test]
    fn a_fence_with_a_broken_foot_is_invalid() {
        let mut fence = Fence {
            l: 11.0,
            s: (0.0, 10.0),
            height: 1.2,
            foot: vec![(0.0, -1.0), (10.0, -2.0)],
            inner_texture: PathBuf::new(),
            outer_texture: PathBuf::new(),
        };
        assert!(fence.is_valid());
        assert_eq!(fence.foot_height(5.0, || 0.0), -1.5);
        fence.foot = vec![(10.0, -1.0), (0.0, -2.0)];
        assert!(!fence.is_valid());
        fence.foot = vec![(0.0, f64::NAN), (10.0, -2.0)];
        assert!(!fence.is_valid());
        fence.foot.clear();
        assert!(fence.is_valid());
        assert_eq!(fence.foot_height(5.0, || 0.25), 0.25);
    }

    /// A wall hides what lies behind it from an eye on the other side, below its top and
    /// within its length, and nothing on the eye's side, at its own foot, past its ends or seen
    /// over its top.
    #[test]
    fn a_wall_hides_only_what_stands_behind_it() {
        let frame = GroundFrame {
            origin: Point3::origin(),
            along: Vector3::x(),
            left: Vector3::y(),
        };
        // 1.2 m high on snow at z = 0, standing 1 m lower (measured foot) from s = 10 on.
        let fence = Fence {
            l: 11.0,
            s: (0.0, 20.0),
            height: 1.2,
            foot: vec![(0.0, 0.0), (10.0, 0.0), (10.5, -1.0), (20.0, -1.0)],
            inner_texture: PathBuf::new(),
            outer_texture: PathBuf::new(),
        };
        let snow = |_: f64| 0.0;
        let eye = Point3::new(5.0, 0.0, 1.0);
        let hides =
            |x: f64, y: f64, z: f64| fence.blocks(&frame, &eye, &Point3::new(x, y, z), snow);
        // Snow 2 m behind the wall, the line of sight crossing it 0.15 m up: hidden.
        assert!(hides(5.0, 13.0, 0.0));
        // The same spot seen from high up: the sight line crosses 2.3 m up, over the top.
        let high = Point3::new(5.0, 0.0, 15.0);
        assert!(!fence.blocks(&frame, &high, &Point3::new(5.0, 13.0, 0.0), snow));
        // On the eye's side, at the wall's own foot (within its skin), and past its end.
        assert!(!hides(5.0, 10.0, 0.0));
        assert!(!hides(5.0, 11.0 + 0.5 * WALL_SKIN, 0.0));
        assert!(hides(5.0, 11.0 + 2.0 * WALL_SKIN, 0.0));
        assert!(!hides(30.0, 13.0, 0.0));
        // From 2 m up the sight line crosses the wall 0.31 m up: under its top where it
        // stands on the snow, over it where its measured foot is 1 m lower (top at 0.2 m).
        let (a, b) = (Point3::new(5.0, 0.0, 2.0), Point3::new(15.0, 0.0, 2.0));
        assert!(fence.blocks(&frame, &a, &Point3::new(5.0, 13.0, 0.0), snow));
        assert!(!fence.blocks(&frame, &b, &Point3::new(15.0, 13.0, 0.0), snow));
        // An eye outside the wall looking in is hidden from the course the same way.
        assert!(fence.blocks(
            &frame,
            &Point3::new(5.0, 20.0, 1.0),
            &Point3::new(5.0, 5.0, 0.0),
            snow
        ));
    }

    /// The foot is where a box of the wall's height covers the agreeing spots and leaves the
    /// fewest under it: a wall of 1 m whose paint the views agree on from 0.3 m below the snow
    /// to 0.7 m above it stands 0.3 m below the snow, even with a stray agreeing spot above.
    #[test]
    fn a_walls_foot_is_where_its_height_covers_the_agreement() {
        let lo = -2.0;
        let agree: Vec<bool> = range_steps(lo, 3.0, FOOT_STEP)
            .iter()
            .map(|&h| (-0.3..0.7).contains(&(h + 1e-9)) || (h - 1.6).abs() < 1e-6)
            .collect();
        let candidates = range_steps(-1.5, 1.5, FOOT_STEP);
        let cost = foot_costs(&agree, lo, &candidates, 1.0);
        assert_foot_at(&cost, &candidates, -0.3);
        // A wall half a metre off covers half the agreement and leaves some beside it.
        let at = |d: f64| cost[((d + 1.5) / FOOT_STEP).round() as usize];
        assert!(at(0.2) > at(-0.3) + 0.5);
        // Agreement spilling half a metre over the top does not lift the foot.
        let spill: Vec<bool> = range_steps(lo, 3.0, FOOT_STEP)
            .iter()
            .map(|&h| (-0.3..1.2).contains(&(h + 1e-9)))
            .collect();
        let cost = foot_costs(&spill, lo, &candidates, 1.0);
        assert_foot_at(&cost, &candidates, -0.3);
        // Too little agreement tells nothing.
        let few: Vec<bool> = (0..agree.len()).map(|i| i < 3).collect();
        assert!(
            foot_costs(&few, lo, &candidates, 1.0)
                .iter()
                .all(|c| c.is_nan())
        );
    }

    /// Agreement up a wall: a plateau with a dip, a thinning tail and a stray spot above.
    /// It falls for good where it first drops below half the peak above the peak; a wall
    /// no spot agrees on has no top.
    #[test]
    fn a_walls_top_is_where_agreement_falls_below_half() {
        let share = [
            0.30, 0.35, 0.36, 0.20, 0.34, 0.35, 0.30, 0.22, 0.17, 0.10, 0.05, 0.02, 0.0, 0.01,
        ];
        assert_eq!(top_fall(&share), Some(7));
        assert_eq!(top_fall(&[0.0; 5]), None);
    }

    /// The snow measured at a fence stands half a metre up its wall on one stretch; the wall's
    /// top was measured 0.7 m above that snow. With its feet measured on the true snow, the
    /// wall reaches down to them: 1.2 m, the median over its length.
    #[test]
    fn a_wall_reaches_down_to_its_measured_feet() {
        let ground = |s: f64, _l: f64| if s < 12.0 { 0.5 } else { 0.0 };
        let search = FenceSearch {
            frame: GroundFrame {
                origin: Point3::origin(),
                along: Vector3::x(),
                left: Vector3::y(),
            },
            ground: &ground,
            plates: &[],
            s_range: (0.0, 20.0),
            reach: (0.0, 20.0),
            near: 5.0,
            far: (15.0, 15.0),
        };
        // Feet on the true snow (0) every half metre; the top 0.7 m above the measured snow,
        // i.e. at 1.2 m where that snow is bumped and 0.7 m beyond.
        let foot: Vec<(f64, f64)> = range_steps(0.0, 16.0, 0.5)
            .into_iter()
            .map(|s| (s, 0.0))
            .collect();
        let h = search.down_to_feet(11.0, 0.7, &foot).expect("feet");
        assert!((h - 1.2).abs() < 1e-9, "height {h}");
        assert_eq!(search.down_to_feet(11.0, 0.7, &[]), None);
    }

    /// Where both feet were measured the snow moves by their mean height over it; beyond, the
    /// shift fades out over [`SETTLE_FADE`]; where none was, nothing moves.
    #[test]
    fn the_snow_settles_on_the_measured_feet() {
        let fence = |l: f64, dz: f64, measured: Option<(f64, f64)>| FoundFence {
            fence: Fence {
                l,
                s: (0.0, 20.0),
                height: 1.2,
                foot: vec![(0.0, dz), (20.0, dz)],
                inner_texture: PathBuf::new(),
                outer_texture: PathBuf::new(),
            },
            foot_measured: measured,
        };
        let along: Vec<(f64, f64)> = (-10..=30).map(|s| (s as f64, 0.0)).collect();
        let mut course = CourseProfile {
            along,
            across: vec![(-20.0, 0.0), (20.0, 0.0)],
        };
        let flat = |_: f64, _: f64| 0.0;
        let fences = [
            fence(11.0, -0.4, Some((5.0, 15.0))),
            fence(-11.0, -0.2, Some((5.0, 10.0))),
        ];
        settle_on_feet(&mut course, &fences, &flat);
        let at = |s: f64| AxisMap::interp(&course.along, s);
        assert!((at(8.0) + 0.3).abs() < 1e-9, "both: {}", at(8.0));
        // At 12 the second fence fades (half-way): (0.5 · −0.2 + 1 · −0.4) / 1.5.
        assert!((at(12.0) - (-0.5 / 1.5)).abs() < 1e-9, "{}", at(12.0));
        // At 17 the first fence alone, half-way out: half its shift.
        assert!((at(17.0) + 0.2).abs() < 1e-9, "{}", at(17.0));
        assert_eq!(at(25.0), 0.0);
        assert_eq!(at(-5.0), 0.0);
        // Unmeasured feet move nothing.
        let mut still = course.clone();
        settle_on_feet(&mut still, &[fence(11.0, -3.0, None)], &flat);
        assert_eq!(still, course);
    }

    #[test]
    fn steps_cover_the_range() {
        assert_eq!(range_steps(1.0, 2.0, 0.5), vec![1.0, 1.5, 2.0]);
        assert!(range_steps(2.0, 1.0, 0.5).is_empty());
    }
}
