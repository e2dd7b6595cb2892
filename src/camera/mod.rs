//! Camera models and the conventions they carry.
//!
//! Conventions live in the types, not in comments alone:
//! - [`CameraFromWorld`] maps world points into the camera frame with **OpenCV axes**
//!   (x right, y down, z forward). This is what calibration tools call "extrinsics".
//! - [`WorldFromCamera`] is its inverse (camera-to-world, OpenCV axes).
//! - [`WorldFromCameraGl`] is camera-to-world with **OpenGL axes** (x right, y up, looking down
//!   -z), as Bevy, nerfstudio and most renderers use.
//! - Pixels are [`Pixel`]s in the OpenCV convention: the centre of the top-left pixel is (0, 0).
//! - The world is right-handed, **Z up**, in metres.

mod intrinsics;
mod pose;

pub use intrinsics::{Distortion, Intrinsics};
pub use pose::{CameraFromWorld, WorldFromCamera, WorldFromCameraGl};

use nalgebra::{Point2, Point3, Unit, Vector3};

/// A position on the image plane in pixels; the centre of the top-left pixel is (0, 0).
pub type Pixel = Point2<f64>;

/// A ray in world coordinates.
#[derive(Debug, Clone, Copy)]
pub struct Ray {
    pub origin: Point3<f64>,
    pub direction: Unit<Vector3<f64>>,
}

impl Ray {
    pub fn at(&self, distance: f64) -> Point3<f64> {
        self.origin + self.direction.into_inner() * distance
    }
}

/// A calibrated camera: intrinsics (with lens distortion) and extrinsics.
#[derive(Debug, Clone)]
pub struct Camera {
    pub intrinsics: Intrinsics,
    pub pose: CameraFromWorld,
}

impl Camera {
    pub fn new(intrinsics: Intrinsics, pose: CameraFromWorld) -> Self {
        Self { intrinsics, pose }
    }

    /// This camera looking at a moving body: the camera whose picture of a point `p` is this
    /// camera's picture of `body * p` (where the body has carried `p` by the time this camera
    /// took its frame). Still a rigid pose: this pose composed with the body's transform.
    pub fn seeing_moved(&self, body: &nalgebra::Isometry3<f64>) -> Self {
        let r = body.rotation.to_rotation_matrix();
        Self {
            intrinsics: self.intrinsics,
            pose: CameraFromWorld {
                rotation: self.pose.rotation * r,
                translation: self.pose.rotation * body.translation.vector + self.pose.translation,
            },
        }
    }

    /// Camera centre in world coordinates.
    pub fn centre(&self) -> Point3<f64> {
        self.pose.centre()
    }

    /// Optical axis (unit, world coordinates).
    pub fn forward(&self) -> Vector3<f64> {
        self.pose.inverse().rotation * Vector3::z()
    }

    /// Projects a world point to a pixel, or `None` if the point is behind the camera or
    /// where the lens model folds back ([`Distortion::is_unfolded`]: no pixel sees it there).
    /// The point need not fall inside the image.
    #[inline]
    pub fn project(&self, world: &Point3<f64>) -> Option<Pixel> {
        self.project_with_depth(world).map(|(px, _)| px)
    }

    /// Projects a world point and also returns its depth along the optical axis (`None` as for
    /// [`Camera::project`]).
    #[inline]
    pub fn project_with_depth(&self, world: &Point3<f64>) -> Option<(Pixel, f64)> {
        let c = self.pose.transform(world);
        if c.z <= 1e-9 {
            return None;
        }
        let (x, y) = (c.x / c.z, c.y / c.z);
        if !self.intrinsics.distortion.is_unfolded(x, y) {
            return None;
        }
        Some((self.intrinsics.pixel_from_normalised(x, y), c.z))
    }

    /// The world point at `depth` (along the optical axis) seen at `pixel`.
    pub fn unproject(&self, pixel: &Pixel, depth: f64) -> Point3<f64> {
        let (x, y) = self.intrinsics.normalised_from_pixel(pixel);
        let c = Point3::new(x * depth, y * depth, depth);
        self.pose.inverse().transform(&c)
    }

    /// The viewing ray through `pixel`.
    pub fn ray(&self, pixel: &Pixel) -> Ray {
        let (x, y) = self.intrinsics.normalised_from_pixel(pixel);
        let inv = self.pose.inverse();
        let dir = inv.rotation * Vector3::new(x, y, 1.0);
        Ray {
            origin: inv.centre,
            direction: Unit::new_normalize(dir),
        }
    }

    /// Whether a pixel lies inside the image (pixel centres from 0 to size-1, edges at -0.5).
    pub fn in_image(&self, p: &Pixel) -> bool {
        p.x >= -0.5
            && p.y >= -0.5
            && p.x < self.intrinsics.width as f64 - 0.5
            && p.y < self.intrinsics.height as f64 - 0.5
    }
}

/// A camera's projection with its constants unpacked, for loops that project many points into
/// one camera (the hull carve). Gives what [`Camera::project_with_depth`] gives, up to
/// rounding; the lens's fold is a precomputed radius instead of a test per point.
#[derive(Debug, Clone, Copy)]
pub struct Projector {
    /// World-to-camera rotation, row by row (OpenCV axes), and translation.
    r: [[f64; 3]; 3],
    t: [f64; 3],
    fx: f64,
    fy: f64,
    cx: f64,
    cy: f64,
    distortion: Distortion,
    /// [`Distortion::fold_radius_sq`]; `None`: ask the lens each time (fisheye).
    fold: Option<f64>,
}

impl Projector {
    pub fn new(camera: &Camera) -> Self {
        let m = camera.pose.rotation.matrix();
        let tr = camera.pose.translation;
        let k = &camera.intrinsics;
        Self {
            r: [
                [m[(0, 0)], m[(0, 1)], m[(0, 2)]],
                [m[(1, 0)], m[(1, 1)], m[(1, 2)]],
                [m[(2, 0)], m[(2, 1)], m[(2, 2)]],
            ],
            t: [tr.x, tr.y, tr.z],
            fx: k.fx,
            fy: k.fy,
            cx: k.cx,
            cy: k.cy,
            distortion: k.distortion,
            fold: k.distortion.fold_radius_sq(),
        }
    }

    /// A world point in the camera's frame (OpenCV axes).
    #[inline]
    pub fn to_camera(&self, p: &Point3<f64>) -> [f64; 3] {
        let r = &self.r;
        [
            r[0][0] * p.x + r[0][1] * p.y + r[0][2] * p.z + self.t[0],
            r[1][0] * p.x + r[1][1] * p.y + r[1][2] * p.z + self.t[1],
            r[2][0] * p.x + r[2][1] * p.y + r[2][2] * p.z + self.t[2],
        ]
    }

    /// A world displacement in the camera's frame.
    #[inline]
    pub fn rotate(&self, v: &Vector3<f64>) -> [f64; 3] {
        let r = &self.r;
        [
            r[0][0] * v.x + r[0][1] * v.y + r[0][2] * v.z,
            r[1][0] * v.x + r[1][1] * v.y + r[1][2] * v.z,
            r[2][0] * v.x + r[2][1] * v.y + r[2][2] * v.z,
        ]
    }

    /// The pixel (x, y) and depth of a point given in the camera's frame, `None` behind the
    /// camera or where the lens folds back.
    #[inline]
    pub fn project_camera(&self, c: [f64; 3]) -> Option<(f64, f64, f64)> {
        if c[2] <= 1e-9 {
            return None;
        }
        let inv = 1.0 / c[2];
        let (x, y) = (c[0] * inv, c[1] * inv);
        let unfolded = match self.fold {
            Some(u) => x * x + y * y < u,
            None => self.distortion.is_unfolded(x, y),
        };
        if !unfolded {
            return None;
        }
        let (xd, yd) = self.distortion.distort(x, y);
        Some((self.fx * xd + self.cx, self.fy * yd + self.cy, c[2]))
    }

    /// [`Camera::project_with_depth`] of a world point, as (x, y, depth).
    #[inline]
    pub fn project(&self, p: &Point3<f64>) -> Option<(f64, f64, f64)> {
        self.project_camera(self.to_camera(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Rotation3;

    fn test_camera(distortion: Distortion) -> Camera {
        let intrinsics = Intrinsics {
            width: 1280,
            height: 720,
            fx: 1100.0,
            fy: 1090.0,
            cx: 641.3,
            cy: 357.9,
            distortion,
        };
        let pose = WorldFromCamera::looking_at(
            Point3::new(12.0, -20.0, 4.0),
            Point3::new(2.0, 1.0, 1.5),
            Vector3::z(),
        )
        .inverse();
        Camera::new(intrinsics, pose)
    }

    #[test]
    fn projector_matches_the_camera() {
        // Besides the usual lenses, one that folds back inside the sampled cone (k1 < 0 alone
        // folds at r² = 1 / (3 |k1|)) and one with k3 > 0 that never folds.
        let more = [
            Distortion::RadialTangential {
                k1: -0.4,
                k2: 0.0,
                p1: 0.0,
                p2: 0.0,
                k3: 0.0,
            },
            Distortion::RadialTangential {
                k1: 0.1,
                k2: 0.01,
                p1: 0.0,
                p2: 0.0,
                k3: 0.001,
            },
        ];
        for distortion in test_lenses().into_iter().chain(more) {
            let cam = test_camera(distortion);
            let proj = Projector::new(&cam);
            let mut folded = 0;
            for i in 0..20_000 {
                // A spiral of points around and behind the camera's target.
                let a = i as f64 * 0.37;
                let p = Point3::new(
                    2.0 + (i % 97) as f64 * 0.9 * a.cos() - 40.0 * (i % 2) as f64,
                    1.0 + (i % 89) as f64 * 0.9 * a.sin(),
                    1.5 + (i % 31) as f64 - 15.0,
                );
                let want = cam.project_with_depth(&p);
                let got = proj.project(&p);
                match (want, got) {
                    (Some((px, d)), Some((x, y, z))) => {
                        // Far outside the picture the pixels are large: compare relatively.
                        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * a.abs().max(1e3);
                        assert!(close(px.x, x) && close(px.y, y), "{distortion:?} {p}");
                        assert!((d - z).abs() < 1e-9);
                    }
                    (None, None) => folded += 1,
                    _ => panic!("{distortion:?}: {p} {want:?} {got:?}"),
                }
            }
            if matches!(distortion, Distortion::RadialTangential { k1, .. } if k1 == -0.4) {
                assert!(folded > 100, "the folding lens folds somewhere: {folded}");
            }
        }
    }

    /// The lenses the projection tests run on: none, radial-tangential, fisheye.
    fn test_lenses() -> [Distortion; 3] {
        [
            Distortion::None,
            Distortion::RadialTangential {
                k1: -0.12,
                k2: 0.03,
                p1: 0.001,
                p2: -0.0007,
                k3: 0.0,
            },
            Distortion::Fisheye {
                k1: 0.02,
                k2: -0.004,
                k3: 0.0007,
                k4: -0.0001,
            },
        ]
    }

    #[test]
    fn project_unproject_round_trip() {
        for distortion in test_lenses() {
            let cam = test_camera(distortion);
            for &(u, v, d) in &[
                (0.0, 0.0, 5.0),
                (640.0, 360.0, 22.0),
                (1279.0, 719.0, 40.0),
                (100.0, 600.0, 3.0),
            ] {
                let px = Pixel::new(u, v);
                let world = cam.unproject(&px, d);
                let (back, depth) = cam.project_with_depth(&world).expect("in front");
                assert!((back - px).norm() < 1e-6, "{distortion:?}: {px} -> {back}");
                assert!((depth - d).abs() < 1e-9);
                let ray = cam.ray(&px);
                let along = ray.at((world - ray.origin).norm());
                assert!((along - world).norm() < 1e-6);
            }
        }
    }

    #[test]
    fn looking_at_puts_target_on_principal_point() {
        let cam = test_camera(Distortion::None);
        let p = cam.project(&Point3::new(2.0, 1.0, 1.5)).expect("in front");
        assert!((p.x - 641.3).abs() < 1e-9 && (p.y - 357.9).abs() < 1e-9);
        // World up projects upwards in the image (smaller v).
        let up = cam.project(&Point3::new(2.0, 1.0, 2.5)).expect("in front");
        assert!(up.y < p.y);
        // Behind the camera projects to nothing.
        let behind = cam.centre() - (Point3::new(2.0, 1.0, 1.5) - cam.centre());
        assert!(cam.project(&behind).is_none());
    }

    #[test]
    fn gl_and_cv_poses_agree() {
        let cam = test_camera(Distortion::None);
        let cv = cam.pose.inverse();
        let gl = WorldFromCameraGl::from(cv);
        // OpenGL looks down -z; OpenCV down +z.
        let fwd_gl = gl.rotation * -Vector3::z();
        assert!((fwd_gl - cam.forward()).norm() < 1e-12);
        let back = WorldFromCamera::from(gl);
        assert!((back.rotation.matrix() - cv.rotation.matrix()).norm() < 1e-12);
        let _ = Rotation3::<f64>::identity();
    }
}
