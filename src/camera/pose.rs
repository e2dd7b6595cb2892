//! Rigid camera poses, one type per convention.

use nalgebra::{Matrix3, Point3, Rotation3, Vector3};

/// World-to-camera transform with OpenCV camera axes (x right, y down, z forward):
/// `x_cam = rotation * x_world + translation`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraFromWorld {
    pub rotation: Rotation3<f64>,
    pub translation: Vector3<f64>,
}

/// Camera-to-world transform with OpenCV camera axes: `x_world = rotation * x_cam + centre`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorldFromCamera {
    pub rotation: Rotation3<f64>,
    pub centre: Point3<f64>,
}

/// Camera-to-world transform with OpenGL camera axes (x right, y up, looking down -z).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorldFromCameraGl {
    pub rotation: Rotation3<f64>,
    pub centre: Point3<f64>,
}

/// Flips between OpenCV and OpenGL camera axes (y and z negated); its own inverse.
fn cv_gl_flip() -> Rotation3<f64> {
    Rotation3::from_matrix_unchecked(Matrix3::from_diagonal(&Vector3::new(1.0, -1.0, -1.0)))
}

impl CameraFromWorld {
    pub fn transform(&self, world: &Point3<f64>) -> Point3<f64> {
        self.rotation * world + self.translation
    }

    pub fn inverse(&self) -> WorldFromCamera {
        let rt = self.rotation.inverse();
        WorldFromCamera {
            rotation: rt,
            centre: Point3::from(-(rt * self.translation)),
        }
    }

    pub fn centre(&self) -> Point3<f64> {
        self.inverse().centre
    }

    /// The same pose in a world whose lengths are multiplied by `s` (a change of units).
    pub fn scaled(&self, s: f64) -> Self {
        Self {
            rotation: self.rotation,
            translation: self.translation * s,
        }
    }
}

impl WorldFromCamera {
    pub fn transform(&self, cam: &Point3<f64>) -> Point3<f64> {
        self.rotation * cam + self.centre.coords
    }

    pub fn inverse(&self) -> CameraFromWorld {
        let r = self.rotation.inverse();
        CameraFromWorld {
            rotation: r,
            translation: -(r * self.centre.coords),
        }
    }

    /// A camera at `eye` whose optical axis passes through `target`, with `up` pointing up in
    /// the image. Panics never; a degenerate `up` falls back to another axis.
    pub fn looking_at(eye: Point3<f64>, target: Point3<f64>, up: Vector3<f64>) -> Self {
        let forward = (target - eye).normalize();
        let mut right = forward.cross(&up);
        if right.norm() < 1e-9 {
            right = forward.cross(&Vector3::x());
            if right.norm() < 1e-9 {
                right = forward.cross(&Vector3::y());
            }
        }
        let right = right.normalize();
        // OpenCV: y points down in the image.
        let down = forward.cross(&right).normalize();
        let m = Matrix3::from_columns(&[right, down, forward]);
        Self {
            rotation: Rotation3::from_matrix_unchecked(m),
            centre: eye,
        }
    }
}

impl From<WorldFromCamera> for WorldFromCameraGl {
    fn from(cv: WorldFromCamera) -> Self {
        Self {
            rotation: cv.rotation * cv_gl_flip(),
            centre: cv.centre,
        }
    }
}

impl From<WorldFromCameraGl> for WorldFromCamera {
    fn from(gl: WorldFromCameraGl) -> Self {
        Self {
            rotation: gl.rotation * cv_gl_flip(),
            centre: gl.centre,
        }
    }
}
