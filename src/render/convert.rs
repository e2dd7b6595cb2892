//! The one place where the pipeline's world (Z up, metres, f64) meets Bevy's (Y up, f32).
//!
//! `bevy = M · world` with `M = [[1,0,0],[0,0,1],[0,-1,0]]`: x stays, world z becomes Bevy y,
//! world y becomes Bevy -z. It is a proper rotation, so handedness and winding are preserved.

use crate::camera::{Camera, WorldFromCamera, WorldFromCameraGl};
use bevy::math::{Mat3, Mat4, Quat, Vec3, Vec4};
use bevy::transform::components::Transform;
use nalgebra::{Matrix3, Point3, Vector3};

fn m() -> Matrix3<f64> {
    Matrix3::new(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0)
}

/// A world point in Bevy coordinates.
pub fn point(p: &Point3<f64>) -> Vec3 {
    Vec3::new(p.x as f32, p.z as f32, -p.y as f32)
}

/// A world point given as f32 components.
pub fn point_f32(p: [f32; 3]) -> Vec3 {
    Vec3::new(p[0], p[2], -p[1])
}

/// A world direction in Bevy coordinates.
pub fn vector(v: &Vector3<f64>) -> Vec3 {
    Vec3::new(v.x as f32, v.z as f32, -v.y as f32)
}

/// Bevy point back to the world frame.
pub fn to_world(v: Vec3) -> Point3<f64> {
    Point3::new(v.x as f64, -v.z as f64, v.y as f64)
}

/// A rigid motion of the world (`p -> R p + t`) as the Bevy transform that moves things the
/// same way in Bevy's frame.
pub fn rigid_transform(motion: &nalgebra::Isometry3<f64>) -> Transform {
    Transform {
        translation: vector(&motion.translation.vector),
        rotation: quat(&(m() * motion.rotation.to_rotation_matrix().matrix() * m().transpose())),
        scale: Vec3::ONE,
    }
}

/// A rotation matrix (already in Bevy's frame) as a Bevy quaternion.
fn quat(r: &Matrix3<f64>) -> Quat {
    let col = |j: usize| Vec3::new(r[(0, j)] as f32, r[(1, j)] as f32, r[(2, j)] as f32);
    Quat::from_mat3(&Mat3::from_cols(col(0), col(1), col(2))).normalize()
}

/// The Bevy transform of a camera entity (camera-to-world with OpenGL axes, in Bevy's frame).
pub fn camera_transform(camera: &Camera) -> Transform {
    let gl = WorldFromCameraGl::from(camera.pose.inverse());
    Transform {
        translation: point(&gl.centre),
        rotation: quat(&(m() * gl.rotation.matrix())),
        scale: Vec3::ONE,
    }
}

/// The pose a Bevy camera transform stands for (OpenCV convention, world frame).
pub fn camera_pose(t: &Transform) -> WorldFromCamera {
    let r = Mat3::from_quat(t.rotation);
    let mb = m().transpose();
    let rb = Matrix3::from_fn(|i, j| r.col(j)[i] as f64);
    let gl = WorldFromCameraGl {
        rotation: nalgebra::Rotation3::from_matrix(&(mb * rb)),
        centre: to_world(t.translation),
    };
    WorldFromCamera::from(gl)
}

/// A matrix taking a Bevy-frame point to a camera's image in [0,1]² (pinhole; texture
/// coordinates with (0,0) at the top-left edge): `uv = (M p).xy / (M p).w`.
pub fn plate_from_world(camera: &Camera) -> Mat4 {
    let k = &camera.intrinsics;
    let (w, h) = (k.width as f64, k.height as f64);
    let kuv = Matrix3::new(
        k.fx / w,
        0.0,
        (k.cx + 0.5) / w,
        0.0,
        k.fy / h,
        (k.cy + 0.5) / h,
        0.0,
        0.0,
        1.0,
    );
    let rot = kuv * camera.pose.rotation.matrix() * m().transpose();
    let tr = kuv * camera.pose.translation;
    let row = |i: usize| {
        Vec4::new(
            rot[(i, 0)] as f32,
            rot[(i, 1)] as f32,
            rot[(i, 2)] as f32,
            tr[i] as f32,
        )
    };
    let (r0, r1, r2) = (row(0), row(1), row(2));
    // Rows: u, v, unused, w.
    Mat4::from_cols(
        Vec4::new(r0.x, r1.x, 0.0, r2.x),
        Vec4::new(r0.y, r1.y, 0.0, r2.y),
        Vec4::new(r0.z, r1.z, 0.0, r2.z),
        Vec4::new(r0.w, r1.w, 0.0, r2.w),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Intrinsics;

    #[test]
    fn camera_transform_round_trips_and_looks_the_right_way() {
        let pose = WorldFromCamera::looking_at(
            Point3::new(3.0, -12.0, 4.0),
            Point3::new(1.0, 0.5, 2.0),
            Vector3::z(),
        );
        let cam = Camera::new(Intrinsics::centred(640, 360, 500.0), pose.inverse());
        let t = camera_transform(&cam);
        // Bevy cameras look down their local -Z.
        let fwd = t.rotation * Vec3::NEG_Z;
        let want = vector(&cam.forward());
        assert!((fwd - want).length() < 1e-5);
        let back = camera_pose(&t);
        assert!((back.centre - pose.centre).norm() < 1e-5);
        assert!((back.rotation.matrix() - pose.rotation.matrix()).norm() < 1e-5);
        // The plate matrix agrees with the camera model.
        let p = Point3::new(1.5, 0.2, 2.5);
        let px = cam.project(&p).expect("in front");
        let q = plate_from_world(&cam) * point(&p).extend(1.0);
        let (u, v) = (q.x / q.w, q.y / q.w);
        assert!(((u as f64) * 640.0 - 0.5 - px.x).abs() < 1e-2);
        assert!(((v as f64) * 360.0 - 0.5 - px.y).abs() < 1e-2);
    }

    #[test]
    fn a_rigid_motion_moves_points_the_same_way_in_both_frames() {
        let motion = nalgebra::Isometry3::from_parts(
            nalgebra::Translation3::new(0.3, -1.2, 2.0),
            nalgebra::UnitQuaternion::from_scaled_axis(Vector3::new(0.4, -0.7, 1.1)),
        );
        let t = rigid_transform(&motion);
        for p in [Point3::new(1.0, 2.0, 3.0), Point3::new(-4.0, 0.5, 0.25)] {
            let want = point(&(motion * p));
            let got = t.transform_point(point(&p));
            assert!((got - want).length() < 1e-5, "{got} against {want}");
        }
    }
}
