//! CPU ray caster for ground-truth camera images: the venue once per camera (a "plate" that
//! keeps the sky-lit and sun-lit parts apart), then per frame only the athlete's rectangle and
//! the rectangle where its shadow falls. Independent of the splat renderer on purpose.

use super::athlete::{Athlete, AthletePose};
use super::shapes::{Primitive, intersect_all, occluded};
use super::venue::{Rgb, Surface, Venue};
use crate::camera::{Camera, Pixel};
use crate::util::hash;
use crate::util::images::linear_to_srgb;
use image::{GrayImage, RgbImage};
use nalgebra::{Point3, Vector3};
use rayon::prelude::*;

/// The venue as one camera sees it, without the athlete.
pub struct Plate {
    pub width: u32,
    pub height: u32,
    ambient: Vec<[f32; 3]>,
    direct: Vec<[f32; 3]>,
    position: Vec<[f32; 3]>,
    depth: Vec<f32>,
    surface: Vec<Surface>,
    srgb: Vec<u8>,
}

const SUBSAMPLES: [(f64, f64); 4] = [(-0.25, -0.25), (0.25, -0.25), (-0.25, 0.25), (0.25, 0.25)];

fn to_f32(v: &Rgb) -> [f32; 3] {
    [v.x as f32, v.y as f32, v.z as f32]
}

impl Plate {
    pub fn render(camera: &Camera, venue: &Venue) -> Self {
        let w = camera.intrinsics.width;
        let h = camera.intrinsics.height;
        let n = (w * h) as usize;
        let centre = camera.centre();
        let trace = |px: f64, py: f64| {
            let ray = camera.ray(&Pixel::new(px, py));
            venue.trace(&ray.origin, &ray.direction)
        };
        // One sample per pixel first.
        let first: Vec<_> = (0..n)
            .into_par_iter()
            .map(|i| trace((i as u32 % w) as f64, (i as u32 / w) as f64))
            .collect();
        let colour = |s: &super::venue::VenueSample| s.ambient + s.direct;
        // Then four samples where the picture has an edge.
        let edge: Vec<bool> = (0..n)
            .into_par_iter()
            .map(|i| {
                let (x, y) = (i as u32 % w, i as u32 / w);
                let c = colour(&first[i]);
                let mut e = false;
                for (dx, dy) in [(1i32, 0i32), (0, 1), (-1, 0), (0, -1)] {
                    let (nx, ny) = (x as i32 + dx, y as i32 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i32 || ny >= h as i32 {
                        continue;
                    }
                    let j = (ny as u32 * w + nx as u32) as usize;
                    if (colour(&first[j]) - c).abs().max() > 0.04
                        || first[j].surface != first[i].surface
                    {
                        e = true;
                    }
                }
                e
            })
            .collect();
        let samples: Vec<(Rgb, Rgb)> = (0..n)
            .into_par_iter()
            .map(|i| {
                if !edge[i] {
                    return (first[i].ambient, first[i].direct);
                }
                let (x, y) = ((i as u32 % w) as f64, (i as u32 / w) as f64);
                let mut a = Rgb::zeros();
                let mut d = Rgb::zeros();
                for (ox, oy) in SUBSAMPLES {
                    let s = trace(x + ox, y + oy);
                    a += s.ambient;
                    d += s.direct;
                }
                (a / 4.0, d / 4.0)
            })
            .collect();
        let mut plate = Plate {
            width: w,
            height: h,
            ambient: samples.iter().map(|(a, _)| to_f32(a)).collect(),
            direct: samples.iter().map(|(_, d)| to_f32(d)).collect(),
            position: first.iter().map(|s| to_f32(&s.position.coords)).collect(),
            depth: first
                .iter()
                .map(|s| (s.position - centre).norm() as f32)
                .collect(),
            surface: first.iter().map(|s| s.surface).collect(),
            srgb: vec![0; n * 3],
        };
        for i in 0..n {
            for c in 0..3 {
                plate.srgb[i * 3 + c] = linear_to_srgb(plate.ambient[i][c] + plate.direct[i][c]);
            }
        }
        plate
    }
}

/// Pixel rectangle [x0, x1) x [y0, y1).
#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

fn rect_of_points(
    camera: &Camera,
    pts: impl Iterator<Item = (Point3<f64>, f64)>,
    margin: f64,
) -> Option<Rect> {
    let (w, h) = (
        camera.intrinsics.width as f64,
        camera.intrinsics.height as f64,
    );
    let (mut x0, mut y0, mut x1, mut y1) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    let mut any = false;
    for (p, r) in pts {
        let Some((px, depth)) = camera.project_with_depth(&p) else {
            continue;
        };
        if depth < 0.2 {
            continue;
        }
        let rp = camera.intrinsics.fx.max(camera.intrinsics.fy) * r / depth * 1.25 + margin;
        x0 = x0.min(px.x - rp);
        y0 = y0.min(px.y - rp);
        x1 = x1.max(px.x + rp);
        y1 = y1.max(px.y + rp);
        any = true;
    }
    if !any || x1 < 0.0 || y1 < 0.0 || x0 >= w || y0 >= h {
        return None;
    }
    Some(Rect {
        x0: x0.max(0.0).floor() as u32,
        y0: y0.max(0.0).floor() as u32,
        x1: (x1.ceil().max(0.0) as u32 + 1).min(w as u32),
        y1: (y1.ceil().max(0.0) as u32 + 1).min(h as u32),
    })
}

/// Where on the ground the athlete's shadow can fall, as seen by `camera`.
fn shadow_rect(camera: &Camera, venue: &Venue, prims: &[Primitive]) -> Option<Rect> {
    let sun = venue.sun_direction();
    let u = sun.cross(&Vector3::z()).normalize();
    let v = sun.cross(&u).normalize();
    let mut ground = Vec::new();
    for p in prims {
        for k in 0..8 {
            let a = k as f64 * std::f64::consts::TAU / 8.0;
            let q = p.bound_centre + (u * a.cos() + v * a.sin()) * p.bound_radius;
            // Walk down the sun ray to the snow.
            let mut t = 0.0;
            let mut hit = None;
            for _ in 0..400 {
                let s = q - sun * t;
                let above = s.z - venue.height(s.x, s.y);
                if above <= 0.0 {
                    hit = Some(s);
                    break;
                }
                t += (above * 0.6).max(0.02);
                if t > 120.0 {
                    break;
                }
            }
            if let Some(s) = hit {
                ground.push((s, 0.3));
            }
        }
    }
    rect_of_points(camera, ground.into_iter(), 3.0)
}

/// What the synthetic sensor adds: noise in code values, identical for a given key.
fn noisy(v: u8, key: u64, channel: u32, scale: f32) -> u8 {
    // Sum of two uniforms (triangular); `scale` = sigma * sqrt(6) / 1023.
    let bits = key >> (channel * 20);
    let s = (bits & 0x3FF) as i32 + ((bits >> 10) & 0x3FF) as i32 - 1023;
    let x = v as f32 + s as f32 * scale;
    // Round half up without a libm call (x + 0.5 is positive after the offset).
    ((x + 256.5) as i32 - 256).clamp(0, 255) as u8
}

pub struct FrameOutput {
    pub image: RgbImage,
    pub mask: GrayImage,
}

/// Renders one camera frame: plate, athlete shadow, athlete (2x2 supersampled), sensor noise.
pub fn render_frame(
    camera: &Camera,
    plate: &Plate,
    venue: &Venue,
    athlete: &Athlete,
    pose: &AthletePose,
    noise_key: u64,
    noise_sigma: f64,
) -> FrameOutput {
    let (w, h) = (plate.width, plate.height);
    let mut rgb = plate.srgb.clone();
    let mut mask = GrayImage::new(w, h);
    let prims = &pose.primitives;
    let sun = venue.sun_direction();
    let idx = |x: u32, y: u32| (y * w + x) as usize;

    // Linear background colour of a pixel, with the athlete's shadow.
    let shadowed = |i: usize| -> ([f32; 3], bool) {
        let a = plate.ambient[i];
        let d = plate.direct[i];
        if plate.surface[i] == Surface::Sky || (d[0] + d[1] + d[2]) <= 0.0 {
            return ([a[0] + d[0], a[1] + d[1], a[2] + d[2]], false);
        }
        let p = plate.position[i];
        let o = Point3::new(p[0] as f64, p[1] as f64, p[2] as f64) + sun * 0.01;
        if occluded(prims, &o, &sun, 0.0, f64::INFINITY) {
            (a, true)
        } else {
            ([a[0] + d[0], a[1] + d[1], a[2] + d[2]], false)
        }
    };
    if let Some(r) = shadow_rect(camera, venue, prims) {
        for y in r.y0..r.y1 {
            for x in r.x0..r.x1 {
                let i = idx(x, y);
                let (c, in_shadow) = shadowed(i);
                if in_shadow {
                    for k in 0..3 {
                        rgb[i * 3 + k] = linear_to_srgb(c[k]);
                    }
                }
            }
        }
    }

    let bounds = prims.iter().map(|p| (p.bound_centre, p.bound_radius));
    if let Some(r) = rect_of_points(camera, bounds, 2.0) {
        let centre = camera.centre();
        // Per row: (sRGB pixel, mask value, whether the athlete touched the pixel).
        type Row = Vec<([u8; 3], u8, bool)>;
        let rows: Vec<(u32, Row)> = (r.y0..r.y1)
            .into_par_iter()
            .map(|y| {
                let mut row = Vec::with_capacity((r.x1 - r.x0) as usize);
                for x in r.x0..r.x1 {
                    let i = idx(x, y);
                    let mut acc = [0.0f32; 3];
                    let mut covered = 0;
                    let mut bg: Option<[f32; 3]> = None;
                    for (ox, oy) in SUBSAMPLES {
                        let ray = camera.ray(&Pixel::new(x as f64 + ox, y as f64 + oy));
                        let dir = ray.direction.into_inner();
                        let hit = intersect_all(prims, &centre, &dir, 0.0)
                            .filter(|hit| hit.t < plate.depth[i] as f64);
                        let c = match hit {
                            Some(hit) => {
                                covered += 1;
                                shade(athlete, venue, prims, &centre, &dir, &hit)
                            }
                            None => *bg.get_or_insert_with(|| shadowed(i).0),
                        };
                        for k in 0..3 {
                            acc[k] += c[k] * 0.25;
                        }
                    }
                    let px = [
                        linear_to_srgb(acc[0]),
                        linear_to_srgb(acc[1]),
                        linear_to_srgb(acc[2]),
                    ];
                    row.push((px, if covered >= 2 { 255 } else { 0 }, covered > 0));
                }
                (y, row)
            })
            .collect();
        for (y, row) in rows {
            for (k, (px, m, touched)) in row.into_iter().enumerate() {
                let x = r.x0 + k as u32;
                if touched {
                    let i = idx(x, y);
                    rgb[i * 3..i * 3 + 3].copy_from_slice(&px);
                }
                mask.put_pixel(x, y, image::Luma([m]));
            }
        }
    }

    // Sensor noise on every pixel.
    let scale = (noise_sigma * 6f64.sqrt() / 1023.0) as f32;
    rgb.par_chunks_mut(w as usize * 3)
        .enumerate()
        .for_each(|(y, row)| {
            for x in 0..w as usize {
                let key = hash::mix64(noise_key ^ hash::mix64((y as u64) << 32 | x as u64));
                for c in 0..3 {
                    row[x * 3 + c] = noisy(row[x * 3 + c], key, c as u32, scale);
                }
            }
        });
    let image = RgbImage::from_raw(w, h, rgb).unwrap_or_else(|| RgbImage::new(w, h));
    FrameOutput { image, mask }
}

fn shade(
    athlete: &Athlete,
    venue: &Venue,
    prims: &[Primitive],
    eye: &Point3<f64>,
    dir: &Vector3<f64>,
    hit: &super::shapes::Hit,
) -> [f32; 3] {
    let p = eye + dir * hit.t;
    let n = hit.normal;
    let sun = venue.sun_direction();
    let albedo = athlete.albedo(hit.material, &hit.local);
    let sky_light =
        Rgb::new(0.34, 0.38, 0.46) * (0.7 + 0.3 * n.z.max(-1.0)) + Rgb::new(0.10, 0.10, 0.11);
    let ndl = n.dot(&sun);
    let lit = ndl > 0.0 && !occluded(prims, &(p + n * 1e-3), &sun, 0.0, f64::INFINITY);
    let mut c = albedo.component_mul(&sky_light);
    if lit {
        c += albedo.component_mul(&Rgb::new(1.0, 0.96, 0.88)) * (0.78 * ndl);
        // A little gloss on the suit and equipment.
        let r = sun - n * (2.0 * ndl);
        let spec = r.dot(dir).max(0.0).powf(30.0) * 0.25;
        c += Rgb::new(spec, spec, spec);
    }
    to_f32(&c)
}
