//! The camera matrix: cameras on masts on an arc around the take-off and flight zone, at
//! different heights and focal lengths, with held-out cameras interleaved between them.

use super::venue::Venue;
use crate::camera::{Camera, Distortion, Intrinsics, WorldFromCamera};
use crate::util::hash::Rng;
use nalgebra::{Point3, Vector3};

pub struct RigCamera {
    pub id: String,
    pub camera: Camera,
    pub held_out: bool,
    /// Azimuth around the flight zone (radians), for ordering and reports.
    pub azimuth: f64,
}

/// The zone every camera frames: take-off, flight and landing.
pub fn flight_zone() -> (Point3<f64>, Point3<f64>) {
    (Point3::new(-3.0, -1.2, -7.6), Point3::new(16.5, 1.2, 6.6))
}

pub fn build(
    venue: &Venue,
    main: usize,
    held_out: usize,
    width: u32,
    height: u32,
    seed: u64,
) -> Vec<RigCamera> {
    let mut rng = Rng::new(seed ^ 0x5EED_CA3E);
    let centre = Point3::new(7.0, 0.0, -0.5);
    let (arc_lo, arc_hi) = (-150f64.to_radians(), 150f64.to_radians());
    let azimuth_main = |i: usize| {
        if main == 1 {
            0.0
        } else {
            arc_lo + (arc_hi - arc_lo) * i as f64 / (main - 1) as f64
        }
    };
    let mut slots: Vec<(f64, bool)> = (0..main).map(|i| (azimuth_main(i), false)).collect();
    // Held-out cameras sit half-way between neighbours, spread along the arc.
    for j in 0..held_out {
        let gap = if main > 1 {
            ((2 * j + 1) * (main - 1)) / (2 * held_out)
        } else {
            0
        };
        let a = if main > 1 {
            0.5 * (azimuth_main(gap) + azimuth_main(gap + 1))
        } else {
            0.5
        };
        slots.push((a, true));
    }
    let (zone_lo, zone_hi) = flight_zone();
    let mut cams = Vec::new();
    let mut n_main = 0;
    let mut n_held = 0;
    for (azimuth, held) in slots {
        // Cameras looking along the course stand further back so the zone's depth matters less.
        let radius = rng.uniform(20.0, 24.0) + 14.0 * azimuth.sin().abs().powi(2);
        let mast = rng.uniform(2.5, 9.0);
        let x = centre.x + radius * azimuth.sin();
        let y = centre.y + radius * azimuth.cos();
        let eye = Point3::new(x, y, venue.height(x, y) + mast);
        let target = centre
            + Vector3::new(
                rng.uniform(-1.0, 1.0),
                rng.uniform(-0.5, 0.5),
                rng.uniform(-0.8, 0.8),
            );
        let pose = WorldFromCamera::looking_at(eye, target, Vector3::z()).inverse();
        // Focal length that frames the whole zone with a margin, varied per camera.
        let mut max_x: f64 = 0.0;
        let mut max_y: f64 = 0.0;
        for i in 0..8 {
            let p = Point3::new(
                if i & 1 == 0 { zone_lo.x } else { zone_hi.x },
                if i & 2 == 0 { zone_lo.y } else { zone_hi.y },
                if i & 4 == 0 { zone_lo.z } else { zone_hi.z },
            );
            let c = pose.transform(&p);
            if c.z > 0.5 {
                max_x = max_x.max((c.x / c.z).abs());
                max_y = max_y.max((c.y / c.z).abs());
            }
        }
        let fit = ((width as f64 * 0.485) / max_x.max(1e-3))
            .min((height as f64 * 0.485) / max_y.max(1e-3));
        let f = fit * rng.uniform(0.92, 1.0);
        let distortion = Distortion::RadialTangential {
            k1: rng.uniform(-0.08, 0.02),
            k2: rng.uniform(-0.01, 0.02),
            p1: rng.uniform(-0.0005, 0.0005),
            p2: rng.uniform(-0.0005, 0.0005),
            k3: 0.0,
        };
        let intrinsics = Intrinsics {
            width,
            height,
            fx: f,
            fy: f * rng.uniform(0.998, 1.002),
            cx: (width as f64 - 1.0) / 2.0 + rng.uniform(-0.01, 0.01) * width as f64,
            cy: (height as f64 - 1.0) / 2.0 + rng.uniform(-0.01, 0.01) * height as f64,
            distortion,
        };
        let id = if held {
            n_held += 1;
            format!("held{:02}", n_held - 1)
        } else {
            n_main += 1;
            format!("cam{:02}", n_main - 1)
        };
        cams.push(RigCamera {
            id,
            camera: Camera::new(intrinsics, pose),
            held_out: held,
            azimuth,
        });
    }
    cams
}
