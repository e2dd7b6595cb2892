//! A human summary of a capture and a top-down picture of its rig.

use super::Capture;
use image::{Rgb, RgbImage};
use nalgebra::{Matrix3, Point3, Vector3};

/// What `replay360 inspect` reports per camera.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CameraSummary {
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub frames: Option<u64>,
    pub duration_s: Option<f64>,
    pub centre: [f64; 3],
    pub horizontal_fov_deg: f64,
    /// |RᵀR − I|, the largest element (0 for a perfect rotation).
    pub rotation_error: f64,
    /// Distance from the camera to the point all the cameras look at (m).
    pub distance_to_focus_m: f64,
    pub held_out: bool,
}

/// The point nearest to every camera's optical axis.
pub fn rig_focus(capture: &Capture) -> Point3<f64> {
    let mut a = Matrix3::zeros();
    let mut b = Vector3::zeros();
    for c in &capture.cameras {
        let d = c.camera.forward();
        let m = Matrix3::identity() - d * d.transpose();
        a += m;
        b += m * c.camera.centre().coords;
    }
    a.try_inverse()
        .map(|inv| Point3::from(inv * b))
        .unwrap_or_else(Point3::origin)
}

pub fn summarise(capture: &Capture) -> Vec<CameraSummary> {
    let focus = rig_focus(capture);
    capture
        .cameras
        .iter()
        .map(|c| {
            let r = c.camera.pose.rotation.matrix();
            let c0 = c.camera.centre();
            CameraSummary {
                id: c.id.clone(),
                width: c.camera.intrinsics.width,
                height: c.camera.intrinsics.height,
                fps: c.fps,
                frames: c.frame_count,
                duration_s: c.frame_count.map(|n| n as f64 / c.fps),
                centre: [c0.x, c0.y, c0.z],
                horizontal_fov_deg: c.camera.intrinsics.horizontal_fov().to_degrees(),
                rotation_error: (r.transpose() * r - Matrix3::identity()).abs().max(),
                distance_to_focus_m: (c0 - focus).norm(),
                held_out: c.held_out,
            }
        })
        .collect()
}

fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), colour: Rgb<u8>) {
    let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
            img.put_pixel(x as u32, y as u32, colour);
        }
    }
}

fn disc(img: &mut RgbImage, c: (f64, f64), r: f64, colour: Rgb<u8>) {
    for dy in -(r as i64)..=(r as i64) {
        for dx in -(r as i64)..=(r as i64) {
            if (dx * dx + dy * dy) as f64 <= r * r {
                let (x, y) = (c.0 as i64 + dx, c.1 as i64 + dy);
                if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
                    img.put_pixel(x as u32, y as u32, colour);
                }
            }
        }
    }
}

/// Top-down picture (x right, y up) of the camera centres and frusta, `size` pixels square.
pub fn rig_picture(capture: &Capture, size: u32) -> RgbImage {
    let mut img = RgbImage::from_pixel(size, size, Rgb([24, 28, 36]));
    let focus = rig_focus(capture);
    let mut pts: Vec<Point3<f64>> = capture.cameras.iter().map(|c| c.camera.centre()).collect();
    pts.push(focus);
    let (mut lo, mut hi) = (pts[0], pts[0]);
    for p in &pts {
        lo = lo.inf(p);
        hi = hi.sup(p);
    }
    let span = (hi.x - lo.x).max(hi.y - lo.y).max(1e-6) * 1.3;
    let mid = nalgebra::center(&lo, &hi);
    let to_px = |p: &Point3<f64>| {
        let s = size as f64;
        (
            ((p.x - mid.x) / span + 0.5) * s,
            ((mid.y - p.y) / span + 0.5) * s,
        )
    };
    // A grid every metre, or every ten when the rig is large.
    let grid = if span > 30.0 {
        10.0
    } else if span > 3.0 {
        1.0
    } else {
        0.1
    };
    let mut g = ((mid.x - span) / grid).floor() * grid;
    while g < mid.x + span {
        line(
            &mut img,
            to_px(&Point3::new(g, mid.y - span, 0.0)),
            to_px(&Point3::new(g, mid.y + span, 0.0)),
            Rgb([40, 46, 58]),
        );
        line(
            &mut img,
            to_px(&Point3::new(mid.x - span, g - mid.x + mid.y, 0.0)),
            to_px(&Point3::new(mid.x + span, g - mid.x + mid.y, 0.0)),
            Rgb([40, 46, 58]),
        );
        g += grid;
    }
    let reach = span * 0.12;
    for c in &capture.cameras {
        let colour = if c.held_out {
            Rgb([120, 200, 255])
        } else {
            Rgb([255, 150, 40])
        };
        let k = &c.camera.intrinsics;
        let centre = c.camera.centre();
        for (u, v) in [
            (-0.5, k.height as f64 / 2.0),
            (k.width as f64 - 0.5, k.height as f64 / 2.0),
        ] {
            let ray = c.camera.ray(&crate::camera::Pixel::new(u, v));
            line(&mut img, to_px(&centre), to_px(&ray.at(reach)), colour);
        }
        let fwd = c.camera.forward();
        line(
            &mut img,
            to_px(&centre),
            to_px(&(centre + fwd * reach * 1.5)),
            Rgb([90, 90, 100]),
        );
        disc(&mut img, to_px(&centre), 4.0, colour);
    }
    disc(&mut img, to_px(&focus), 3.0, Rgb([240, 240, 240]));
    img
}
