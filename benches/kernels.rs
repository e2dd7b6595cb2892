//! Criterion benchmarks of the hot kernels, on inputs built here (no files needed):
//! `cargo bench --bench kernels` (add `-- NAME` to run one).
//!
//! - `segment/extract_1080p`: background subtraction and matte clean-up of one 1920×1080 frame;
//! - `reconstruct/instant_16_views`: one instant's octree carve, view check and colouring
//!   from 16 cameras (a 0.5 m ball seen at 960×540, 2.5 cm voxels);
//! - `eval/ssim_1080p`: the SSIM of one 1080p frame pair;
//! - `overlay/rasterise_1080p`: a lower third, two call-outs and the signature onto 1080p;
//! - `calibrate/saddles_644x486`: checkerboard corner candidates on one frame.

use criterion::{Criterion, criterion_group, criterion_main};
use image::{Rgb, RgbImage, RgbaImage};
use nalgebra::{Point3, Vector3};
use replay360::camera::{Camera, Intrinsics, Pixel, WorldFromCamera};
use replay360::compose::VirtualCamera;
use replay360::compose::overlay::{Label, LowerThirdFrame, OverlayFrame, Signature};
use replay360::reconstruct::{View, hull::CarveParams, reconstruct_instant};
use replay360::segment::{BackgroundModel, Roi, Silhouette};
use std::hint::black_box;

fn background(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let v = 150 + ((x / 7 + y / 5) % 40) as u8;
        Rgb([v, v.saturating_add(10), 220])
    })
}

/// A ball of radius `r` at `c`, painted over `bg` as camera `cam` sees it.
fn with_ball(bg: &RgbImage, cam: &Camera, c: Point3<f64>, r: f64) -> RgbImage {
    let mut img = bg.clone();
    let pose = cam.pose.inverse();
    for y in 0..img.height() {
        for x in 0..img.width() {
            let (nx, ny) = cam
                .intrinsics
                .normalised_from_pixel(&Pixel::new(x as f64, y as f64));
            let d = (pose.rotation * Vector3::new(nx, ny, 1.0)).normalize();
            let oc = pose.centre - c;
            let b = oc.dot(&d);
            let disc = b * b - (oc.norm_squared() - r * r);
            if disc >= 0.0 && -b - disc.sqrt() > 0.0 {
                let p = pose.centre + d * (-b - disc.sqrt());
                let stripe = ((p.z * 20.0).floor() as i64).rem_euclid(2) == 0;
                img.put_pixel(
                    x,
                    y,
                    if stripe {
                        Rgb([230, 60, 30])
                    } else {
                        Rgb([250, 210, 20])
                    },
                );
            }
        }
    }
    img
}

fn ring(n: usize, w: u32, h: u32) -> Vec<Camera> {
    (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            let eye = Point3::new(8.0 * a.cos(), 8.0 * a.sin(), 1.0 + (i % 3) as f64);
            let pose = WorldFromCamera::looking_at(eye, Point3::origin(), Vector3::z()).inverse();
            Camera::new(Intrinsics::centred(w, h, 0.9 * w as f64), pose)
        })
        .collect()
}

fn segment(c: &mut Criterion) {
    let bg = background(1920, 1080);
    let cams = ring(1, 1920, 1080);
    let frame = with_ball(&bg, &cams[0], Point3::origin(), 0.5);
    let model = BackgroundModel::from_samples(&[bg.clone(), bg.clone(), bg]);
    let roi = Roi {
        x0: 0,
        y0: 0,
        x1: 1920,
        y1: 1080,
    };
    c.bench_function("segment/extract_1080p", |b| {
        b.iter(|| black_box(Silhouette::extract(black_box(&frame), &model, roi)))
    });
}

fn reconstruct(c: &mut Criterion) {
    let (w, h) = (960, 540);
    let bg = background(w, h);
    let cams = ring(16, w, h);
    let model = BackgroundModel::from_samples(&[bg.clone(), bg.clone(), bg.clone()]);
    let roi = Roi {
        x0: 0,
        y0: 0,
        x1: w,
        y1: h,
    };
    let sils: Vec<Silhouette> = cams
        .iter()
        .map(|cam| Silhouette::extract(&with_ball(&bg, cam, Point3::origin(), 0.5), &model, roi))
        .collect();
    let views: Vec<View> = cams
        .iter()
        .zip(&sils)
        .map(|(camera, silhouette)| View {
            camera,
            silhouette,
            shift: (0.0, 0.0),
        })
        .collect();
    let params = CarveParams::new(
        Point3::new(-1.5, -1.5, -1.5),
        Point3::new(1.5, 1.5, 1.5),
        0.025,
        views.len(),
    );
    c.bench_function("reconstruct/instant_16_views", |b| {
        b.iter(|| black_box(reconstruct_instant(black_box(&views), &params)))
    });
}

fn ssim(c: &mut Criterion) {
    let bg = background(1920, 1080);
    let cams = ring(1, 1920, 1080);
    let a = with_ball(&bg, &cams[0], Point3::origin(), 0.5);
    let b2 = with_ball(&bg, &cams[0], Point3::new(0.02, 0.0, 0.0), 0.5);
    let r = replay360::eval::metrics::Rect::full(&a);
    c.bench_function("eval/ssim_1080p", |b| {
        b.iter(|| black_box(replay360::eval::metrics::ssim(black_box(&a), &b2, r)))
    });
}

fn overlay(c: &mut Criterion) {
    let cam = VirtualCamera {
        eye: Point3::new(0.0, -10.0, 0.0),
        target: Point3::origin(),
        fov_y: 0.7,
        roll: 0.0,
    }
    .to_camera(1920, 1080);
    let frame = OverlayFrame {
        lower_third: Some(LowerThirdFrame {
            name: "Synthetic Athlete".into(),
            country: "R360".into(),
            event: "Freestyle Aerials".into(),
            opacity: 1.0,
        }),
        labels: vec![
            Label {
                anchor: Point3::origin(),
                text: "Height 4.50 m".into(),
                line: Some((Point3::new(0.0, 0.0, -2.0), Point3::new(0.0, 0.0, 1.0))),
                opacity: 1.0,
                small: false,
            },
            Label {
                anchor: Point3::new(1.0, 0.0, 1.0),
                text: "Airtime 2.50 s".into(),
                line: None,
                opacity: 1.0,
                small: false,
            },
        ],
        signature: Some(Signature::default()),
        safe_areas: false,
    };
    let base = RgbaImage::from_pixel(1920, 1080, image::Rgba([90, 110, 140, 255]));
    let mut r = replay360::render::overlay::OverlayRasterizer::default();
    c.bench_function("overlay/rasterise_1080p", |b| {
        b.iter(|| {
            let mut img = base.clone();
            r.draw(&mut img, &cam, black_box(&frame));
            black_box(img)
        })
    });
}

fn saddles(c: &mut Criterion) {
    let mut g = replay360::calibrate::checkerboard::Grey::new(644, 486);
    for y in 0..486 {
        for x in 0..644 {
            let inside = (200..440).contains(&x) && (150..330).contains(&y);
            let v = if inside && ((x - 200) / 24 + (y - 150) / 24) % 2 == 0 {
                0.1
            } else if inside {
                0.9
            } else {
                0.4
            };
            g.data[y * 644 + x] = v;
        }
    }
    c.bench_function("calibrate/saddles_644x486", |b| {
        b.iter(|| black_box(replay360::calibrate::checkerboard::saddles(black_box(&g))))
    });
}

criterion_group! {
    name = kernels;
    config = Criterion::default().sample_size(10);
    targets = segment, reconstruct, ssim, overlay, saddles
}
criterion_main!(kernels);
