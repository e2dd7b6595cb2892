//! A Bevy camera projection from pinhole intrinsics (fx, fy, cx, cy), so the renderer shows
//! exactly what a calibrated camera sees, principal point offset included. Reverse-Z with an
//! infinite far plane, like Bevy's own perspective projection.

use crate::camera::Intrinsics;
use bevy::camera::{CameraProjection, SubCameraView};
use bevy::math::{Mat4, Vec3A, Vec4};

#[derive(Debug, Clone, Copy)]
pub struct IntrinsicsProjection {
    /// Intrinsics for an image of `intrinsics.width` x `intrinsics.height`; rescaled when the
    /// render target has another size.
    pub intrinsics: Intrinsics,
    pub near: f32,
    target: (f32, f32),
}

impl IntrinsicsProjection {
    pub fn new(intrinsics: Intrinsics) -> Self {
        Self {
            target: (intrinsics.width as f32, intrinsics.height as f32),
            intrinsics,
            near: 0.05,
        }
    }

    /// fx, fy, cx, cy scaled to the current target size.
    fn scaled(&self) -> (f32, f32, f32, f32, f32, f32) {
        let k = &self.intrinsics;
        let (w, h) = self.target;
        let sx = w / k.width as f32;
        let sy = h / k.height as f32;
        // Pixel edges sit half a pixel outside the first and last pixel centres.
        (
            k.fx as f32 * sx,
            k.fy as f32 * sy,
            (k.cx as f32 + 0.5) * sx,
            (k.cy as f32 + 0.5) * sy,
            w,
            h,
        )
    }
}

impl CameraProjection for IntrinsicsProjection {
    fn get_clip_from_view(&self) -> Mat4 {
        let (fx, fy, cx, cy, w, h) = self.scaled();
        // View space: x right, y up, looking down -z. NDC x = 2u/W - 1, y = 1 - 2v/H.
        Mat4::from_cols(
            Vec4::new(2.0 * fx / w, 0.0, 0.0, 0.0),
            Vec4::new(0.0, 2.0 * fy / h, 0.0, 0.0),
            Vec4::new(1.0 - 2.0 * cx / w, -(1.0 - 2.0 * cy / h), 0.0, -1.0),
            Vec4::new(0.0, 0.0, self.near, 0.0),
        )
    }

    fn get_clip_from_view_for_sub(&self, _sub_view: &SubCameraView) -> Mat4 {
        self.get_clip_from_view()
    }

    fn update(&mut self, width: f32, height: f32) {
        self.target = (width.max(1.0), height.max(1.0));
    }

    fn far(&self) -> f32 {
        10_000.0
    }

    fn get_frustum_corners(&self, z_near: f32, z_far: f32) -> [Vec3A; 8] {
        let (fx, fy, cx, cy, w, h) = self.scaled();
        let corner = |u: f32, v: f32, d: f32| Vec3A::new((u - cx) / fx * d, -(v - cy) / fy * d, -d);
        let (dn, df) = (z_near.abs(), z_far.abs());
        [
            corner(w, h, dn),
            corner(w, 0.0, dn),
            corner(0.0, 0.0, dn),
            corner(0.0, h, dn),
            corner(w, h, df),
            corner(w, 0.0, df),
            corner(0.0, 0.0, df),
            corner(0.0, h, df),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Distortion;

    #[test]
    fn principal_point_maps_to_its_pixel() {
        let k = Intrinsics {
            width: 1920,
            height: 1080,
            fx: 1500.0,
            fy: 1500.0,
            cx: 1000.0,
            cy: 500.0,
            distortion: Distortion::None,
        };
        let p = IntrinsicsProjection::new(k);
        // A point on the optical axis lands at pixel (cx, cy).
        let clip = p.get_clip_from_view() * Vec4::new(0.0, 0.0, -10.0, 1.0);
        let ndc = clip / clip.w;
        let u = (ndc.x + 1.0) * 0.5 * 1920.0 - 0.5;
        let v = (1.0 - ndc.y) * 0.5 * 1080.0 - 0.5;
        assert!(
            (u - 1000.0).abs() < 1e-3 && (v - 500.0).abs() < 1e-3,
            "{u} {v}"
        );
        // A point 1 m right and 1 m up at 10 m lands fx/10 right, fy/10 up.
        let clip = p.get_clip_from_view() * Vec4::new(1.0, 1.0, -10.0, 1.0);
        let ndc = clip / clip.w;
        let u = (ndc.x + 1.0) * 0.5 * 1920.0 - 0.5;
        let v = (1.0 - ndc.y) * 0.5 * 1080.0 - 0.5;
        assert!(
            (u - 1150.0).abs() < 1e-2 && (v - 350.0).abs() < 1e-2,
            "{u} {v}"
        );
        // Reverse Z: nearer is larger depth.
        let near = p.get_clip_from_view() * Vec4::new(0.0, 0.0, -1.0, 1.0);
        let far = p.get_clip_from_view() * Vec4::new(0.0, 0.0, -100.0, 1.0);
        assert!(near.z / near.w > far.z / far.w);
    }
}
