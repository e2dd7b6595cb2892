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
        let (ts, ps): (Vec<f64>, Vec<Point3<f64>>) = times
            .iter()
            .zip(centroids)
            .zip(&mask)
            .filter(|(_, m)| **m)
            .map(|((t, p), _)| (*t, *p))
            .unzip();
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
    let (ts, ps): (Vec<f64>, Vec<Point3<f64>>) = (i..=j)
        .filter(|&k| mask[k])
        .map(|k| (times[k], centroids[k]))
        .unzip();
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
    let takeoff = if i > 0 { times[i] - half } else { times[i] };
    let landing = if j + 1 < n { times[j] + half } else { times[j] };
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

impl GroundProfile {
    /// From each frame's time, centroid and lowest reconstructed point. Frames in flight are
    /// skipped; the profile is linear across the flight and continues the end slopes beyond.
    pub fn estimate(
        frames: &[(f64, Point3<f64>, f64)],
        analysis: Option<&Analysis>,
    ) -> Option<Self> {
        let ground: Vec<&(f64, Point3<f64>, f64)> = frames
            .iter()
            .filter(|(t, _, _)| match analysis {
                Some(a) => *t < a.takeoff_time - 0.04 || *t > a.landing_time + 0.04,
                None => true,
            })
            .collect();
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
        let mut samples: Vec<(f64, f64)> = ground
            .iter()
            .map(|(_, c, low)| ((c - origin).dot(&travel), *low))
            .collect();
        if samples.is_empty() {
            let low = frames.iter().map(|f| f.2).fold(f64::INFINITY, f64::min);
            samples = vec![(0.0, low), ((last.1 - origin).dot(&travel), low)];
        }
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Light smoothing of the heights.
        let raw = samples.clone();
        for i in 0..samples.len() {
            let lo = i.saturating_sub(2);
            let hi = (i + 2).min(raw.len() - 1);
            samples[i].1 = raw[lo..=hi].iter().map(|s| s.1).sum::<f64>() / (hi - lo + 1) as f64;
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
        let slope_at = |a: usize, b: usize| {
            let ds = p[b].0 - p[a].0;
            if ds.abs() < 1e-6 {
                0.0
            } else {
                ((p[b].1 - p[a].1) / ds).clamp(-0.9, 0.9)
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
