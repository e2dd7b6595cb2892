//! Motion analysis from the reconstruction: the centre-of-mass track, the ballistic flight
//! (fitted with g = 9.81 m/s²), and the events shots are built around: take-off, apex, landing.

use nalgebra::{Matrix2, Point3, Vector2, Vector3};
use serde::{Deserialize, Serialize};

pub mod skeleton;

pub const GRAVITY: f64 = 9.81;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrajectorySample {
    pub time: f64,
    pub position: [f64; 3],
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Analysis {
    pub takeoff_time: f64,
    pub apex_time: f64,
    pub landing_time: f64,
    pub flight_time_s: f64,
    /// Height of the centre of mass at the apex above take-off (m).
    pub apex_height_m: f64,
    pub apex_position: [f64; 3],
    /// Speed of the centre of mass leaving the kicker (m/s).
    pub takeoff_speed_mps: f64,
    /// Horizontal distance from take-off to landing (m).
    pub distance_m: f64,
    /// RMS deviation of the reconstructed centroid from the ballistic fit (m).
    pub fit_rms_m: f64,
    /// Smoothed centre-of-mass track (the ballistic fit during flight).
    pub trajectory: Vec<TrajectorySample>,
}

/// A ballistic fit: position(t) = p0 + v0 (t - t0) - g/2 (t - t0)^2 z.
#[derive(Debug, Clone, Copy)]
struct Ballistic {
    t0: f64,
    p0: Vector3<f64>,
    v0: Vector3<f64>,
}

impl Ballistic {
    fn at(&self, t: f64) -> Vector3<f64> {
        let dt = t - self.t0;
        self.p0 + self.v0 * dt - Vector3::new(0.0, 0.0, 0.5 * GRAVITY * dt * dt)
    }
}

fn fit(times: &[f64], pts: &[Point3<f64>]) -> Option<(Ballistic, f64)> {
    let n = times.len();
    if n < 2 {
        return None;
    }
    let t0 = times[n / 2];
    // Linear least squares per axis on (1, dt), with gravity removed from z.
    let mut ata = Matrix2::zeros();
    let mut atb = [Vector2::zeros(); 3];
    for (t, p) in times.iter().zip(pts) {
        let dt = t - t0;
        let row = Vector2::new(1.0, dt);
        ata += row * row.transpose();
        let target = [p.x, p.y, p.z + 0.5 * GRAVITY * dt * dt];
        for a in 0..3 {
            atb[a] += row * target[a];
        }
    }
    let inv = ata.try_inverse()?;
    let s: Vec<Vector2<f64>> = atb.iter().map(|b| inv * b).collect();
    let b = Ballistic {
        t0,
        p0: Vector3::new(s[0].x, s[1].x, s[2].x),
        v0: Vector3::new(s[0].y, s[1].y, s[2].y),
    };
    let worst = times
        .iter()
        .zip(pts)
        .map(|(t, p)| (b.at(*t) - p.coords).norm())
        .fold(0.0, f64::max);
    Some((b, worst))
}

/// The times and centroids of frames `ks`, for [`fit`].
fn frames_of(
    times: &[f64],
    centroids: &[Point3<f64>],
    ks: impl Iterator<Item = usize>,
) -> (Vec<f64>, Vec<Point3<f64>>) {
    ks.map(|k| (times[k], centroids[k])).unzip()
}

/// How far before the flight's first frame the ramp is searched for the take-off (s).
const TAKEOFF_SEARCH_BEFORE: f64 = 0.25;
/// Frames at least this long (s) inside the flight's first and last frames fit the flight
/// that take-off is told from.
const TAKEOFF_CORE_INSIDE: f64 = 0.2;

/// The take-off time, between frames, from how the centroid leaves the kicker. A kicker's
/// transition curves up into its lip, so the path up the ramp is tangent to the flight's
/// parabola at the lip and departs from it only quadratically before it: within the flight
/// tolerance for a tenth of a second or more, which put take-off that much early (and the
/// take-off speed a metre a second high: the parabola's vertical speed is g·Δt faster back
/// then). Here the flight is fitted on frames well inside its first and last ones (`i`, `j`);
/// on the ramp the centroid rides above that parabola by `κ/2 (T - t)²` (plus `a (T - t)` for
/// a ramp that kinks into the flight rather than curving into it), in flight on it, and
/// take-off is the time `T` (in 5 ms steps, see [`departure`]) that best explains the heights
/// around the flight's start. `None` when too few frames fit the flight. On the synthetic
/// captures it lands 0.004-0.03 s after the true take-off (0.12-0.13 s before it from the
/// flight's first inlier), within 0.02 s on the true centre of mass.
///
/// (The landing is left to the flight's inliers: the same model in reverse put it 0.05-0.09 s
/// early on the synthetic captures, even on the true centre of mass, whose path bends away
/// from the parabola before the skis touch as the body braces for the landing.)
fn refine_takeoff(
    times: &[f64],
    centroids: &[Point3<f64>],
    mask: &[bool],
    i: usize,
    j: usize,
) -> Option<f64> {
    let (core_from, core_to) = (
        times[i] + TAKEOFF_CORE_INSIDE,
        times[j] - TAKEOFF_CORE_INSIDE,
    );
    let (ts, ps) = frames_of(
        times,
        centroids,
        (i..=j).filter(|&k| mask[k] && (core_from..=core_to).contains(&times[k])),
    );
    if ts.len() < 5 {
        return None;
    }
    let (core, _) = fit(&ts, &ps)?;
    let above = |k: usize| centroids[k].z - core.at(times[k]).z;
    let before: Vec<(f64, f64)> = (0..times.len())
        .filter(|&k| times[k] >= times[i] - TAKEOFF_SEARCH_BEFORE && times[k] < core_from)
        .map(|k| (times[k], above(k)))
        .collect();
    departure(&before, times[i] - TAKEOFF_SEARCH_BEFORE, core_from)
}

/// The time `T` in `from..to` (5 ms steps) where heights above the flight's parabola `(t, r)`
/// are best explained as `a (T - t) + κ/2 (T - t)²` before `T` (a, κ ≥ 0, fitted per `T`) and
/// zero after. `None` for fewer than four samples.
fn departure(window: &[(f64, f64)], from: f64, to: f64) -> Option<f64> {
    if window.len() < 4 {
        return None;
    }
    // Heights before `t_off` as `a (T - t) + κ/2 (T - t)²`, a and κ ≥ 0: a kink (a jump in
    // vertical speed, a straight ramp) or a curve (a transition tangent to the flight).
    let cost = |t_off: f64| {
        let sse = |a: f64, k: f64| {
            window
                .iter()
                .map(|&(t, r)| {
                    let d = (t_off - t).max(0.0);
                    (r - a * d - 0.5 * k * d * d).powi(2)
                })
                .sum::<f64>()
        };
        let (mut s11, mut s12, mut s22, mut b1, mut b2) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(t, r) in window.iter().filter(|w| w.0 < t_off) {
            let (q1, q2) = (t_off - t, 0.5 * (t_off - t).powi(2));
            s11 += q1 * q1;
            s12 += q1 * q2;
            s22 += q2 * q2;
            b1 += q1 * r;
            b2 += q2 * r;
        }
        let det = s11 * s22 - s12 * s12;
        let mut best = sse(0.0, 0.0);
        if det.abs() > 1e-12 {
            let a = (b1 * s22 - b2 * s12) / det;
            let k = (s11 * b2 - s12 * b1) / det;
            if a >= 0.0 && k >= 0.0 {
                best = best.min(sse(a, k));
            }
        }
        if s11 > 0.0 {
            best = best.min(sse((b1 / s11).max(0.0), 0.0));
        }
        if s22 > 0.0 {
            best = best.min(sse(0.0, (b2 / s22).max(0.0)));
        }
        best
    };
    let steps = ((to - from) / 0.005).floor().max(0.0) as usize;
    (0..=steps)
        .map(|k| from + k as f64 * 0.005)
        .map(|t| (cost(t), t))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, t)| t)
}

/// Finds the flight in a centroid track. `None` when no ballistic phase is found.
///
/// Robust to failed frames: every pair of frames at least 0.3 s apart proposes a ballistic
/// trajectory (two points fix it once g is known); the proposal with the most frames within
/// 60 cm wins, is refitted to its inliers, and the flight is the longest run of inliers
/// (bridging gaps of up to three outlier frames).
pub fn analyse(times: &[f64], centroids: &[Point3<f64>]) -> Option<Analysis> {
    let n = times.len();
    if n < 5 || centroids.len() != n {
        return None;
    }
    // The hull centroid swings around the true centre of mass as the skis and limbs rotate
    // (up to half a metre in flips), so the tolerance is loose; the ballistic extension still
    // leaves the snow track within a frame or two of take-off and landing.
    let tol = 0.6;
    let inliers_of = |b: &Ballistic| -> Vec<bool> {
        times
            .iter()
            .zip(centroids)
            .map(|(t, p)| (b.at(*t) - p.coords).norm() < tol)
            .collect()
    };
    let mut best_count = 0;
    let mut best_fit: Option<Ballistic> = None;
    for a in 0..n {
        for c in (a + 1)..n {
            if times[c] - times[a] < 0.3 {
                continue;
            }
            let Some((b, _)) = fit(&[times[a], times[c]], &[centroids[a], centroids[c]]) else {
                continue;
            };
            let count = inliers_of(&b).iter().filter(|&&x| x).count();
            if count > best_count {
                best_count = count;
                best_fit = Some(b);
            }
        }
    }
    let mut best = best_fit?;
    // Refit on inliers twice.
    for _ in 0..2 {
        let mask = inliers_of(&best);
        let (ts, ps) = frames_of(times, centroids, (0..n).filter(|&k| mask[k]));
        if let Some((b, _)) = fit(&ts, &ps) {
            best = b;
        }
    }
    // Longest run of inliers, bridging short gaps.
    let mask = inliers_of(&best);
    let (mut i, mut j) = (0usize, 0usize);
    let mut run_start: Option<usize> = None;
    let mut last_in = 0usize;
    for k in 0..n {
        if mask[k] {
            match run_start {
                Some(_) if k - last_in <= 4 => {}
                _ => run_start = Some(k),
            }
            last_in = k;
            if let Some(s0) = run_start
                && k - s0 > j - i
            {
                i = s0;
                j = k;
            }
        }
    }
    let inliers = mask[i..=j].iter().filter(|&&m| m).count();
    if j - i < 4 || inliers < 5 {
        return None;
    }
    let (mut ts, mut ps) = frames_of(times, centroids, (i..=j).filter(|&k| mask[k]));
    if let Some((b, _)) = fit(&ts, &ps) {
        best = b;
    }
    // Tighten the ends: near take-off and landing the body is compact and the centroid follows
    // the centre of mass closely, so the ends must agree with the fit much better.
    let edge_tol = 0.3;
    let resid = |k: usize| (best.at(times[k]) - centroids[k].coords).norm();
    while j > i + 4 && resid(i) > edge_tol {
        i += 1;
    }
    while j > i + 4 && resid(j) > edge_tol {
        j -= 1;
    }
    let half = if n > 1 {
        0.5 * (times[1] - times[0])
    } else {
        0.0
    };
    let mut takeoff = if i > 0 { times[i] - half } else { times[i] };
    let landing = if j + 1 < n { times[j] + half } else { times[j] };
    if let Some(t) = refine_takeoff(times, centroids, &mask, i, j) {
        takeoff = t;
        // The flight from it, fitted again without the ramp's frames.
        while i + 4 < j && times[i] < takeoff {
            i += 1;
        }
        (ts, ps) = frames_of(times, centroids, (i..=j).filter(|&k| mask[k]));
        if let Some((b, _)) = fit(&ts, &ps) {
            best = b;
        }
    }
    let v_at = |t: f64| best.v0 - Vector3::new(0.0, 0.0, GRAVITY * (t - best.t0));
    let apex_time = best.t0 + best.v0.z / GRAVITY;
    let apex = best.at(apex_time);
    let take = best.at(takeoff);
    let land = best.at(landing);
    let rms = (ts
        .iter()
        .zip(&ps)
        .map(|(t, p)| (best.at(*t) - p.coords).norm_squared())
        .sum::<f64>()
        / ts.len() as f64)
        .sqrt();
    let trajectory = (0..n)
        .map(|k| {
            let p = if k >= i && k <= j {
                best.at(times[k])
            } else {
                // Light smoothing of the raw centroid on the snow.
                let lo = k.saturating_sub(1);
                let hi = (k + 1).min(n - 1);
                let mut acc = Vector3::zeros();
                for c in &centroids[lo..=hi] {
                    acc += c.coords;
                }
                acc / (hi - lo + 1) as f64
            };
            TrajectorySample {
                time: times[k],
                position: [p.x, p.y, p.z],
            }
        })
        .collect();
    Some(Analysis {
        takeoff_time: takeoff,
        apex_time,
        landing_time: landing,
        flight_time_s: landing - takeoff,
        apex_height_m: apex.z - take.z,
        apex_position: [apex.x, apex.y, apex.z],
        takeoff_speed_mps: v_at(takeoff).norm(),
        distance_m: ((land.x - take.x).powi(2) + (land.y - take.y).powi(2)).sqrt(),
        fit_rms_m: rms,
        trajectory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Up a kicker's circular transition (radius 5 m, lip at 55°, 11 m/s) into the flight
    /// from its lip at `lip` s, sampled at 50 fps with a centimetre of noise: the path up the
    /// ramp is tangent to the flight's parabola at the lip.
    fn kicker_track(lip: f64) -> (Vec<f64>, Vec<Point3<f64>>, f64) {
        let (r, angle, v) = (5.0, 55f64.to_radians(), 11.0);
        let arc_time = r * angle / v;
        let lip_pos = Vector3::new(r * angle.sin(), 0.0, r * (1.0 - angle.cos()));
        let v0 = Vector3::new(v * angle.cos(), 0.0, v * angle.sin());
        let landing = lip + 2.0 * v0.z / GRAVITY;
        let mut times = Vec::new();
        let mut pts = Vec::new();
        for k in 0..200 {
            let t = k as f64 * 0.02;
            let u = t - (lip - arc_time);
            let p = if u < 0.0 {
                Vector3::new(v * u, 0.0, 0.0)
            } else if t < lip {
                let phi = v * u / r;
                Vector3::new(r * phi.sin(), 0.0, r * (1.0 - phi.cos()))
            } else if t < landing {
                let dt = t - lip;
                lip_pos + v0 * dt - Vector3::new(0.0, 0.0, 0.5 * GRAVITY * dt * dt)
            } else {
                // Sliding on down the landing hill.
                let dt = t - landing;
                lip_pos + v0 * (landing - lip) + Vector3::new(8.0 * dt, 0.0, -6.0 * dt)
            };
            let noise = Vector3::new(0.0, 0.01 * (k as f64).sin(), 0.01 * (k as f64 * 1.7).cos());
            times.push(t);
            pts.push(Point3::from(p + noise));
        }
        (times, pts, v)
    }

    #[test]
    fn take_off_is_where_the_path_leaves_a_curved_kicker() {
        let lip = 1.13;
        let (times, pts, v) = kicker_track(lip);
        let a = analyse(&times, &pts).expect("flight found");
        // Found from the first flight frames alone (tolerance 0.3 m), take-off came 0.16 s
        // early here, with the take-off speed 1.3 m/s high.
        assert!(
            (a.takeoff_time - lip).abs() < 0.03,
            "take-off {} s, lip at {lip} s",
            a.takeoff_time
        );
        assert!(
            (a.takeoff_speed_mps - v).abs() < 0.25,
            "take-off speed {} m/s, true {v}",
            a.takeoff_speed_mps
        );
    }

    /// An end whose last samples rise by less than the contacts' noise goes on level; one
    /// that slopes for real goes on sloping.
    #[test]
    fn a_profile_end_within_the_noise_goes_on_level() {
        let g = GroundProfile {
            origin: [0.0; 3],
            travel: [1.0, 0.0, 0.0],
            // The first five samples: 2 cm up over 0.6 m (noise; carried 40 m back as a
            // slope it would put the snow 1.3 m low). The last five: down a 0.75 hill.
            samples: vec![
                (0.0, -0.02),
                (0.15, -0.01),
                (0.3, -0.02),
                (0.45, 0.0),
                (0.6, 0.0),
                (5.0, 0.0),
                (10.0, -1.0),
                (10.5, -1.375),
                (11.0, -1.75),
                (11.5, -2.125),
                (12.0, -2.5),
            ],
        };
        assert_eq!(g.height(-40.0), -0.02);
        assert!(
            (g.height(22.0) - (-2.5 - 7.5)).abs() < 1e-9,
            "{}",
            g.height(22.0)
        );
    }

    #[test]
    fn the_ground_profile_keeps_the_kicker_apart_from_the_landing_hill() {
        // On the snow up to the lip (the lowest point, the skis' tails, a metre behind the
        // centroid and climbing to 2 m), in the air, then 10 m lower on the landing hill.
        let mut frames = Vec::new();
        for k in 0..40 {
            let t = k as f64 * 0.02;
            let x = -8.0 + 10.0 * t;
            let z = if x < -2.0 { 0.0 } else { (x + 2.0).min(2.0) };
            let centroid = Point3::new(x + 1.0, 0.0, z + 1.0);
            frames.push((t, centroid, Point3::new(x, 0.0, z)));
        }
        for k in 0..20 {
            let t = 2.0 + k as f64 * 0.02;
            let x = 20.0 + 10.0 * (t - 2.0);
            frames.push((t, Point3::new(x, 0.0, -9.0), Point3::new(x, 0.0, -10.0)));
        }
        let analysis = Analysis {
            takeoff_time: 0.8,
            apex_time: 1.3,
            landing_time: 1.95,
            flight_time_s: 1.15,
            apex_height_m: 3.0,
            apex_position: [10.0, 0.0, 5.0],
            takeoff_speed_mps: 11.0,
            distance_m: 20.0,
            fit_rms_m: 0.1,
            trajectory: Vec::new(),
        };
        let g = GroundProfile::estimate(&frames, Some(&analysis)).expect("a profile");
        let at = |x: f64| g.height(x - g.origin[0]);
        // The ramp up to the lip keeps its height (smoothed across the flight, its last metres
        // took in the landing hill's and sank by metres), placed where the tails touched (at
        // the centroids, the ramp would stand a metre further on).
        assert!((at(-1.0) - 1.0).abs() < 0.05, "ramp at -1 m: {}", at(-1.0));
        assert!((at(-0.2) - 1.8).abs() < 0.05, "last contact: {}", at(-0.2));
        assert!((at(-4.0) - 0.0).abs() < 0.05, "approach: {}", at(-4.0));
        // Behind the lip the snow drops back to the approach's level (a line from the lip to
        // the landing would pass 0.7 m above it here), then slopes on down to the landing.
        assert!(at(1.7).abs() < 0.15, "behind the lip: {}", at(1.7));
        assert!((at(22.0) + 10.0).abs() < 0.05, "landing hill: {}", at(22.0));
    }

    #[test]
    fn finds_flight_in_a_synthetic_track() {
        // Ground phase climbing a ramp, then a ballistic flight from t = 1.0 to 3.5.
        let mut times = Vec::new();
        let mut pts = Vec::new();
        for k in 0..120 {
            let t = k as f64 * 0.04;
            let p = if t < 1.0 {
                Point3::new(-10.0 + 10.0 * t, 0.0, 1.0 + 0.2 * (t - 1.0))
            } else if t <= 3.5 {
                let dt = t - 1.0;
                Point3::new(6.6 * dt, 0.0, 1.0 + 9.4 * dt - 0.5 * GRAVITY * dt * dt)
            } else {
                let dt = t - 3.5;
                Point3::new(16.5 + 8.0 * dt, 0.0, -4.9 - 6.0 * dt)
            };
            times.push(t);
            pts.push(p + Vector3::new(0.0, 0.01 * (k as f64).sin(), 0.01 * (k as f64 * 1.7).cos()));
        }
        let a = analyse(&times, &pts).expect("flight found");
        assert!(
            (a.takeoff_time - 1.0).abs() < 0.06,
            "take-off {}",
            a.takeoff_time
        );
        assert!(
            (a.landing_time - 3.5).abs() < 0.06,
            "landing {}",
            a.landing_time
        );
        assert!((a.apex_time - (1.0 + 9.4 / GRAVITY)).abs() < 0.02);
        // The apex height is measured from the detected take-off (within a frame or two).
        assert!(
            (a.apex_height_m - 9.4 * 9.4 / (2.0 * GRAVITY)).abs() < 0.4,
            "height {}",
            a.apex_height_m
        );
        assert!((a.takeoff_speed_mps - (6.0f64.powi(2) + 9.4f64.powi(2)).sqrt()).abs() < 0.6);
    }
}

/// The snow surface under the athlete, estimated from where the reconstruction touches it:
/// heights along the direction of travel (the course is assumed level across). Used as proxy
/// geometry for the venue backdrop.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroundProfile {
    pub origin: [f64; 3],
    /// Horizontal unit direction of travel.
    pub travel: [f64; 3],
    /// (distance along `travel` from `origin`, height) samples, sorted by distance.
    pub samples: Vec<(f64, f64)>,
}

/// A frame for [`GroundProfile::estimate`]: its time, centroid and lowest point.
pub type ContactFrame = (f64, Point3<f64>, Point3<f64>);

/// How far back from the lip the level a kicker rises from is looked for (m).
const KICKER_LENGTH: f64 = 10.0;
/// A rise to the lip smaller than this (m) is no kicker (a roller, a knoll's edge).
const MIN_KICKER_RISE: f64 = 0.3;
/// How far the lowest reconstructed points of frames on level snow scatter in height (m): the
/// carve's finest cells and a few centimetres of the matte's outline. A profile's end whose
/// samples rise less than this is taken as level rather than continued at a slope that,
/// carried 60 m out, stood the venue's starting guess metres above or below the snow.
const CONTACT_NOISE: f64 = 0.05;
/// The slope assumed for a kicker's back face (1: 45°), which no contact ever touches.
const KICKER_BACK_SLOPE: f64 = 1.0;

impl GroundProfile {
    /// From each frame's time, centroid and lowest reconstructed point: the lowest points of
    /// the frames on the snow are the profile, placed along the course where they are (on a
    /// kicker's ramp the skis' tails touch the snow well behind the centroid). Frames in flight
    /// are skipped; behind a kicker's lip the snow drops back to the level the ramp rose from,
    /// the profile is linear from there to the landing and continues the end slopes beyond.
    /// The heights are lightly smoothed, on each side of the flight separately: smoothed across
    /// it, the kicker's last metres took in the landing hill's heights, several metres lower.
    pub fn estimate(frames: &[ContactFrame], analysis: Option<&Analysis>) -> Option<Self> {
        // Each frame on the snow, with the phase it belongs to (0 before the flight, 1 after).
        let mut ground: Vec<(u8, ContactFrame)> = frames
            .iter()
            .filter_map(|f| match analysis {
                Some(a) if f.0 <= a.takeoff_time => Some((0, *f)),
                Some(a) if f.0 > a.landing_time + 0.04 => Some((1, *f)),
                Some(_) => None,
                None => Some((0, *f)),
            })
            .collect();
        // The skis leave the snow at take-off, which falls between frames: the lowest point
        // then (between the frames either side) is on the lip. Without it the last contact
        // could stand most of a frame's travel (40 cm at 25 fps) short of the lip, and the
        // profile dropped down the kicker's back face from there.
        if let Some(a) = analysis
            && let Some(k) = frames.iter().position(|f| f.0 > a.takeoff_time)
            && k > 0
        {
            let (f0, f1) = (&frames[k - 1], &frames[k]);
            let w = ((a.takeoff_time - f0.0) / (f1.0 - f0.0)).clamp(0.0, 1.0);
            if w > 0.0 && f1.0 - f0.0 < 0.1 {
                let at = |p: &Point3<f64>, q: &Point3<f64>| p + (q - p) * w;
                ground.push((0, (a.takeoff_time, at(&f0.1, &f1.1), at(&f0.2, &f1.2))));
            }
        }
        let first = frames.first()?;
        let last = frames.last()?;
        let d = last.1 - first.1;
        let travel = Vector3::new(d.x, d.y, 0.0);
        let travel = if travel.norm() > 1e-6 {
            travel.normalize()
        } else {
            Vector3::x()
        };
        let origin = first.1;
        let mut samples: Vec<(u8, f64, f64)> = ground
            .iter()
            .map(|(phase, (_, _, low))| (*phase, (low - origin).dot(&travel), low.z))
            .collect();
        if samples.is_empty() {
            let low = frames.iter().map(|f| f.2.z).fold(f64::INFINITY, f64::min);
            samples = vec![(0, 0.0, low), (0, (last.1 - origin).dot(&travel), low)];
        }
        samples.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        // Light smoothing of the heights, within each phase, over a window centred on each
        // sample (narrower at a phase's ends, so the kicker's last samples keep its rise).
        let raw = samples.clone();
        for i in 0..samples.len() {
            let near = |k: usize| raw[k].0 == raw[i].0;
            let before = (1..=2).take_while(|&d| i >= d && near(i - d)).count();
            let after = (1..=2)
                .take_while(|&d| i + d < raw.len() && near(i + d))
                .count();
            let half = before.min(after);
            samples[i].2 =
                raw[i - half..=i + half].iter().map(|s| s.2).sum::<f64>() / (2 * half + 1) as f64;
        }
        let mut samples: Vec<(f64, f64)> = samples.into_iter().map(|(_, s, z)| (s, z)).collect();
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        // A kicker's lip is a crest, not the top of a slope on to the landing: behind it the
        // snow drops back to the level the ramp rose from (a table, a knoll, a gap). Without
        // the athlete's contacts there, a line from the lip to the landing stood metres above
        // the table behind the kicker, and the venue's measurement starts from this profile.
        let pre: Vec<(f64, f64)> = raw
            .iter()
            .filter(|r| r.0 == 0)
            .map(|r| (r.1, r.2))
            .collect();
        let landed = raw.iter().any(|r| r.0 == 1);
        if let (Some(&(lip_s, _)), true) = (pre.last(), analysis.is_some() && landed) {
            let lip_z = samples
                .iter()
                .rev()
                .find(|q| q.0 <= lip_s)
                .map_or(f64::NEG_INFINITY, |q| q.1);
            let table = pre
                .iter()
                .filter(|q| q.0 >= lip_s - KICKER_LENGTH)
                .map(|q| q.1)
                .fold(f64::INFINITY, f64::min);
            let rise = lip_z - table;
            if rise > MIN_KICKER_RISE {
                let back = lip_s + rise / KICKER_BACK_SLOPE;
                if samples.iter().all(|q| q.0 <= lip_s || q.0 > back) {
                    samples.push((back, table));
                    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
            }
        }
        Some(Self {
            origin: [origin.x, origin.y, origin.z],
            travel: [travel.x, travel.y, travel.z],
            samples,
        })
    }

    /// Height at distance `s` along the course.
    pub fn height(&self, s: f64) -> f64 {
        let p = &self.samples;
        let n = p.len();
        if n == 1 {
            return p[0].1;
        }
        // An end's slope, from its last five samples; a rise over them within the contacts'
        // noise is no slope (the profile goes on level).
        let slope_at = |a: usize, b: usize| {
            let (ds, dz) = (p[b].0 - p[a].0, p[b].1 - p[a].1);
            if ds.abs() < 1e-6 || dz.abs() < CONTACT_NOISE {
                0.0
            } else {
                (dz / ds).clamp(-0.9, 0.9)
            }
        };
        if s <= p[0].0 {
            let k = (n - 1).min(4);
            // Continue the start slope for 60 m, then level out.
            let ds = (p[0].0 - s).min(60.0);
            return p[0].1 - slope_at(0, k) * ds;
        }
        if s >= p[n - 1].0 {
            let k = n.saturating_sub(5);
            let ds = (s - p[n - 1].0).min(60.0);
            return p[n - 1].1 + slope_at(k, n - 1) * ds;
        }
        let i = p.partition_point(|q| q.0 < s).clamp(1, n - 1);
        let (a, b) = (p[i - 1], p[i]);
        let f = if b.0 > a.0 {
            (s - a.0) / (b.0 - a.0)
        } else {
            0.0
        };
        a.1 + (b.1 - a.1) * f
    }
}
