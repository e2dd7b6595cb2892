//! How far a reconstruction's venue model lies from a synthetic venue's truth: the snow's
//! height over the course and over the whole measured box, and each fence's place, height,
//! foot and ends. The held-out PSNR says how wrong a picture is; these figures say which part
//! of the venue made it so.

use crate::reconstruct::fence::Fence;
use crate::reconstruct::terrain::range_steps;
use crate::reconstruct::venue::VenueModel;
use crate::synth::venue::{FENCE_X, Venue, VenueParams};
use serde::Serialize;

/// Grid spacing of the snow samples (m).
const GROUND_STEP: f64 = 1.0;
/// Spacing of the foot samples along a fence (m).
const FOOT_STEP: f64 = 0.5;
/// A found fence answers a true one when its middle lies within this of it, across (m).
const FENCE_MATCH: f64 = 2.0;

/// Height errors of a reconstructed surface against the truth over a set of samples (m;
/// positive: the reconstruction is too high).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeightError {
    pub median_abs_m: f64,
    pub p90_abs_m: f64,
    /// The median signed error: a bias up or down.
    pub median_m: f64,
    pub samples: usize,
}

impl HeightError {
    /// `None` without samples.
    fn of(mut errors: Vec<f64>) -> Option<Self> {
        if errors.is_empty() {
            return None;
        }
        errors.sort_by(f64::total_cmp);
        let median_m = quantile(&errors, 0.5);
        let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
        abs.sort_by(f64::total_cmp);
        Some(Self {
            median_abs_m: quantile(&abs, 0.5),
            p90_abs_m: quantile(&abs, 0.9),
            median_m,
            samples: errors.len(),
        })
    }
}

/// One true fence against the reconstruction's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FenceScore {
    /// The true fence's side of the course: world y (m).
    pub y_m: f64,
    /// Whether a fence was found within [`FENCE_MATCH`] of it (`errors` is `None` when not).
    pub found: bool,
    #[serde(flatten)]
    pub errors: Option<FenceErrors>,
}

/// How a found fence differs from the true one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FenceErrors {
    /// How much farther from the course centre the found fence stands (m).
    pub offset_error_m: f64,
    /// Found height minus true height (m).
    pub height_error_m: f64,
    /// The found foot against the true snow under the fence, over their common stretch.
    pub foot_error: Option<HeightError>,
    /// Where the found fence starts and ends along x, minus where the true one does (m).
    pub start_error_m: f64,
    pub end_error_m: f64,
}

/// The venue model against the synthetic venue's truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VenueScore {
    /// The snow between the fences, over their length (the kicker included).
    pub ground_course: Option<HeightError>,
    /// The snow over the box the terrain was measured over (the rig's view); `None` without a
    /// measured terrain.
    pub ground_measured_box: Option<HeightError>,
    pub fences: Vec<FenceScore>,
}

/// Scores `model` against the venue `truth` describes. The reconstruction's world is the
/// capture's, which for a synthetic capture is the truth's.
pub fn score(model: &VenueModel, truth: &VenueParams) -> VenueScore {
    let venue = Venue::new(truth.clone());
    let frame = model.frame();
    let error_at = |x: f64, y: f64| {
        let (s, l) = frame.coords(&nalgebra::Point3::new(x, y, 0.0));
        model.ground_point(s, l).z - venue.height(x, y)
    };
    let inner = truth.fence_y - GROUND_STEP;
    let course: Vec<f64> = range_steps(FENCE_X.0, FENCE_X.1, GROUND_STEP)
        .into_iter()
        .flat_map(|x| {
            range_steps(-inner, inner, GROUND_STEP)
                .into_iter()
                .map(move |y| (x, y))
        })
        .map(|(x, y)| error_at(x, y))
        .collect();
    let measured_box = model.terrain.as_ref().map(|t| {
        let ((s0, s1), (l0, l1)) = t.extent();
        range_steps(s0, s1, GROUND_STEP)
            .into_iter()
            .flat_map(|s| {
                range_steps(l0, l1, GROUND_STEP)
                    .into_iter()
                    .map(move |l| (s, l))
            })
            .map(|(s, l)| {
                let p = model.ground_point(s, l);
                p.z - venue.height(p.x, p.y)
            })
            .collect::<Vec<f64>>()
    });
    let fences = [-1.0, 1.0]
        .into_iter()
        .map(|side| fence_score(model, &venue, truth, side * truth.fence_y))
        .collect();
    VenueScore {
        ground_course: HeightError::of(course),
        ground_measured_box: measured_box.and_then(HeightError::of),
        fences,
    }
}

fn fence_score(model: &VenueModel, venue: &Venue, truth: &VenueParams, y: f64) -> FenceScore {
    let frame = model.frame();
    let middle = |f: &Fence| frame.point(0.5 * (f.s.0 + f.s.1), f.l, 0.0);
    let errors = model
        .fences
        .iter()
        .map(|f| (f, middle(f)))
        .filter(|(_, mid)| (mid.y - y).abs() < FENCE_MATCH)
        .min_by(|a, b| (a.1.y - y).abs().total_cmp(&(b.1.y - y).abs()))
        .map(|(f, mid)| {
            let ends = [frame.point(f.s.0, f.l, 0.0), frame.point(f.s.1, f.l, 0.0)];
            let feet: Vec<f64> = range_steps(f.s.0, f.s.1, FOOT_STEP)
                .into_iter()
                .filter_map(|s| {
                    let p = frame.point(s, f.l, 0.0);
                    (FENCE_X.0..=FENCE_X.1).contains(&p.x).then(|| {
                        let foot = f.foot_height(s, || model.ground_point(s, f.l).z);
                        foot - venue.height(p.x, y)
                    })
                })
                .collect();
            FenceErrors {
                offset_error_m: mid.y.abs() - y.abs(),
                height_error_m: f.height - truth.fence_height,
                foot_error: HeightError::of(feet),
                start_error_m: ends[0].x.min(ends[1].x) - FENCE_X.0,
                end_error_m: ends[0].x.max(ends[1].x) - FENCE_X.1,
            }
        });
    FenceScore {
        y_m: y,
        found: errors.is_some(),
        errors,
    }
}

/// The `q` quantile of sorted values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::GroundProfile;
    use crate::reconstruct::terrain::CourseProfile;

    /// A model whose measured snow is the truth's outside the athlete's lane (world frame:
    /// s = x, l = y), raised by `lift`, with a fence on each side `tall` high.
    fn model(truth: &VenueParams, lift: f64, tall: f64) -> VenueModel {
        let venue = Venue::new(truth.clone());
        let mut m = VenueModel::on_profile(GroundProfile {
            origin: [0.0; 3],
            travel: [1.0, 0.0, 0.0],
            // Contacts far off, so none of them shapes the snow compared.
            samples: vec![(-200.0, 0.0), (200.0, 0.0)],
        });
        // Beside the kicker the snow is the base profile plus the banks: along at y = 11
        // (no bank there), across as the bank's rise.
        let y0 = truth.fence_y;
        m.terrain = Some(CourseProfile {
            along: range_steps(-40.0, 60.0, 0.25)
                .into_iter()
                .map(|x| (x, venue.height(x, y0) + lift))
                .collect(),
            across: range_steps(-30.0, 30.0, 0.25)
                .into_iter()
                .map(|y| (y, venue.height(-5.0, y) - venue.height(-5.0, y0)))
                .collect(),
        });
        m.fences = [-1.0, 1.0]
            .into_iter()
            .map(|side| Fence {
                l: side * y0,
                s: FENCE_X,
                height: tall,
                foot: Vec::new(),
                inner_texture: "i.png".into(),
                outer_texture: "o.png".into(),
            })
            .collect();
        m
    }

    #[test]
    fn a_true_venue_scores_no_error_and_a_lifted_one_its_lift() {
        let truth = VenueParams::default();
        let exact = score(&model(&truth, 0.0, truth.fence_height), &truth);
        let course = exact.ground_course.expect("course samples");
        // Only the kicker (a few cells of the lane) differs: the model has no contact profile.
        assert!(course.median_abs_m < 0.01, "{course:?}");
        let measured = exact.ground_measured_box.expect("measured box");
        assert!(measured.median_abs_m < 0.01, "{measured:?}");
        for f in &exact.fences {
            assert!(f.found);
            let e = f.errors.as_ref().expect("a fence found");
            assert!(e.offset_error_m.abs() < 1e-9);
            assert!(e.height_error_m.abs() < 1e-9);
            let foot = e.foot_error.expect("foot samples");
            assert!(foot.p90_abs_m < 0.01, "{foot:?}");
            assert!(e.start_error_m.abs() < 1e-9);
            assert!(e.end_error_m.abs() < 1e-9);
        }

        let lifted = score(&model(&truth, 0.4, 1.5), &truth);
        let course = lifted.ground_course.expect("course samples");
        assert!((course.median_m - 0.4).abs() < 0.01, "{course:?}");
        assert!((course.median_abs_m - 0.4).abs() < 0.01, "{course:?}");
        for f in &lifted.fences {
            let e = f.errors.as_ref().expect("a fence found");
            assert!((e.height_error_m - 0.3).abs() < 1e-9);
            // The fence stands on the (lifted) snow.
            let foot = e.foot_error.expect("foot samples");
            assert!((foot.median_m - 0.4).abs() < 0.01, "{foot:?}");
        }
    }

    #[test]
    fn a_fence_off_its_place_is_scored_or_missed() {
        let truth = VenueParams::default();
        let mut m = model(&truth, 0.0, truth.fence_height);
        m.fences[0].l -= 0.5;
        m.fences[0].s = (FENCE_X.0 - 5.5, FENCE_X.1 - 2.0);
        m.fences.truncate(1);
        let s = score(&m, &truth);
        let right = &s.fences[0];
        assert!(right.found);
        let e = right.errors.as_ref().expect("a fence found");
        assert!((e.offset_error_m - 0.5).abs() < 1e-9);
        assert!((e.start_error_m + 5.5).abs() < 1e-9);
        assert!((e.end_error_m + 2.0).abs() < 1e-9);
        let left = &s.fences[1];
        assert!(!left.found && left.errors.is_none());
    }
}
