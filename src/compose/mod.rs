//! Composition: turns a sequence document (RON) into one [`ViewState`] per output frame: which
//! instant of the capture is shown, from which virtual camera, with which after-images and
//! trajectory. Plain Rust; the renderer only draws what this module decides.

pub mod overlay;
pub mod path;
pub mod sequence;
pub mod shadow;

pub use overlay::{Label, OverlayFrame, Overlays};
pub use sequence::{Sequence, SequenceError};

use crate::analyse::Analysis;
use crate::camera::{Camera, Intrinsics, WorldFromCamera};
use nalgebra::{Point3, Rotation3, Unit, Vector3};

/// A virtual camera: where it is, what it looks at, its vertical field of view and roll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VirtualCamera {
    pub eye: Point3<f64>,
    pub target: Point3<f64>,
    /// Vertical field of view (radians).
    pub fov_y: f64,
    /// Rotation about the viewing axis (radians, positive turns the image clockwise).
    pub roll: f64,
}

impl VirtualCamera {
    /// The nearest pinhole view of a real camera: same centre, viewing direction, vertical
    /// field of view and roll (its principal-point offset and distortion are dropped).
    pub fn from_camera(camera: &Camera) -> Self {
        let pose = camera.pose.inverse();
        let eye = pose.centre;
        let forward = pose.rotation * Vector3::z();
        let target = eye + forward * 10.0;
        let i = &camera.intrinsics;
        let fov_y = 2.0 * (0.5 * i.height as f64 / i.fy).atan();
        let level = WorldFromCamera::looking_at(eye, target, Vector3::z());
        let rel = level.rotation.inverse() * pose.rotation;
        let m = rel.matrix();
        Self {
            eye,
            target,
            fov_y,
            roll: m[(1, 0)].atan2(m[(0, 0)]),
        }
    }

    /// A pinhole camera with square pixels for an image of `width` x `height`.
    pub fn to_camera(&self, width: u32, height: u32) -> Camera {
        let f = 0.5 * height as f64 / (0.5 * self.fov_y).tan();
        let intrinsics = Intrinsics::centred(width, height, f);
        let mut pose = WorldFromCamera::looking_at(self.eye, self.target, Vector3::z());
        if self.roll != 0.0 {
            let axis = Unit::new_normalize(pose.rotation * Vector3::z());
            pose.rotation = Rotation3::from_axis_angle(&axis, self.roll) * pose.rotation;
        }
        Camera::new(intrinsics, pose.inverse())
    }
}

/// How an after-image (a "slice" of the jump frozen in space) looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ghost {
    /// Capture time of the slice (s).
    pub time: f64,
    pub opacity: f32,
    /// Linear RGB tint and how much of it to apply (0..1).
    pub tint: [f32; 3],
    pub tint_amount: f32,
    pub desaturate: f32,
    /// Strength of the tinted rim on silhouette edges.
    pub rim: f32,
    /// Draw the slice's posture skeleton (derived from its reconstruction) over it.
    pub posture: Option<PostureStyle>,
}

/// How a slice's posture skeleton is drawn: tubes along its bones, drawn over the
/// after-image so the posture reads through it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PostureStyle {
    /// Linear RGB.
    pub colour: [f32; 3],
    /// Bone radius (m).
    #[serde(default = "posture_radius")]
    pub radius: f32,
    /// 0..1.
    #[serde(default = "posture_opacity")]
    pub opacity: f32,
}

fn posture_radius() -> f32 {
    0.015
}
fn posture_opacity() -> f32 {
    0.9
}

/// A soft shadow of the athlete (and of each after-image) on the snow.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContactShadow {
    /// Darkness where the shadow is full (0..1).
    #[serde(default = "shadow_opacity")]
    pub opacity: f32,
    /// Blur of the shadow's edge at the ground (m); it widens with height above the snow.
    #[serde(default = "shadow_softness")]
    pub softness: f32,
    /// Direction of the sun: azimuth (degrees anticlockwise from the world's +x axis, seen
    /// from above) and elevation (degrees above the horizon). Set it to the venue's sun at the
    /// time of the jump so the shadow agrees with the ones in the footage.
    #[serde(default = "overhead")]
    pub sun: (f64, f64),
}

fn shadow_opacity() -> f32 {
    0.5
}
fn overhead() -> (f64, f64) {
    (0.0, 90.0)
}
fn shadow_softness() -> f32 {
    0.06
}

impl Default for ContactShadow {
    fn default() -> Self {
        Self {
            opacity: shadow_opacity(),
            softness: shadow_softness(),
            sun: overhead(),
        }
    }
}

impl PostureStyle {
    /// The sub-field that is wrong and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if !self.colour.iter().all(|c| (0.0..=1.0).contains(c)) {
            return Err(("colour", "channels must be between 0 and 1"));
        }
        if !(self.radius > 0.0 && self.radius <= 0.2) {
            return Err(("radius", "must be more than 0 and at most 0.2 m"));
        }
        if !(0.0..=1.0).contains(&self.opacity) {
            return Err(("opacity", "must be between 0 and 1"));
        }
        Ok(())
    }
}

impl ContactShadow {
    /// The sub-field that is wrong and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if !(0.0..=1.0).contains(&self.opacity) {
            return Err(("opacity", "must be between 0 and 1"));
        }
        if !(0.0..=2.0).contains(&self.softness) {
            return Err(("softness", "must be between 0 and 2 m"));
        }
        let (az, el) = self.sun;
        if !(az.is_finite() && el > 0.0 && el <= 90.0) {
            return Err((
                "sun",
                "needs a finite azimuth and an elevation above 0 and at most 90 degrees",
            ));
        }
        Ok(())
    }

    /// Unit vector towards the sun.
    pub fn sun_direction(&self) -> Vector3<f64> {
        let (az, el) = (self.sun.0.to_radians(), self.sun.1.to_radians());
        Vector3::new(el.cos() * az.cos(), el.cos() * az.sin(), el.sin())
    }
}

/// The centre-of-mass curve and its time ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrajectoryStyle {
    pub from: f64,
    /// Drawn up to here (grows with time when the shot says so).
    pub to: f64,
    pub colour: [f32; 3],
    /// Tube radius (m).
    pub radius: f32,
    /// Tick interval (s); 0 for none.
    pub tick_every: f64,
}

/// Everything one output frame shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewState {
    /// Capture time of the live athlete (s, common timeline).
    pub time: f64,
    pub camera: VirtualCamera,
    pub show_athlete: bool,
    pub ghosts: Vec<Ghost>,
    pub trajectory: Option<TrajectoryStyle>,
    pub show_venue: bool,
    /// 0 shows the venue as captured; 1 blurs and dims it so the athlete stands out.
    pub venue_softness: f32,
    /// The athlete's shadow on the snow.
    pub shadow: Option<ContactShadow>,
    /// Graphics drawn over the picture.
    pub overlay: OverlayFrame,
}

impl ViewState {
    /// How fully the shot's graphics are in: the after-images' opacities, then the overlay
    /// items' (labels and lower third).
    fn fullness(&self) -> (f32, f32) {
        let ghosts = self.ghosts.iter().map(|g| g.opacity).sum();
        let overlay = self.overlay.labels.iter().map(|l| l.opacity).sum::<f32>()
            + self.overlay.lower_third.as_ref().map_or(0.0, |l| l.opacity);
        (ghosts, overlay)
    }
}

/// The frame of a shot to keep as a still: the latest one at which every after-image, and
/// then every label and lower third, is as fully in as it ever is in the shot. The last frame
/// is often part-way through a fade-out, which leaves ghostly, half-read call-outs on a still.
pub fn still_frame(frames: &[ViewState]) -> usize {
    const SAME: f32 = 1e-3;
    let full: Vec<(f32, f32)> = frames.iter().map(ViewState::fullness).collect();
    let most_ghosts = full.iter().map(|f| f.0).fold(0.0, f32::max);
    let most_overlay = full
        .iter()
        .filter(|f| f.0 >= most_ghosts - SAME)
        .map(|f| f.1)
        .fold(0.0, f32::max);
    full.iter()
        .rposition(|f| f.0 >= most_ghosts - SAME && f.1 >= most_overlay - SAME)
        .unwrap_or(frames.len().saturating_sub(1))
}

/// The figures the analysis measured, for labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    /// Centre of mass at the apex above take-off (m).
    pub apex_height_m: f64,
    pub flight_time_s: f64,
    pub takeoff_speed_mps: f64,
    /// Horizontal take-off to landing (m).
    pub distance_m: f64,
}

/// What composition needs to know about the reconstruction.
#[derive(Debug, Clone)]
pub struct Context {
    pub start: f64,
    pub end: f64,
    pub takeoff: f64,
    pub apex: f64,
    pub landing: f64,
    /// Centre-of-mass track (time, position).
    pub track: Vec<(f64, Point3<f64>)>,
    /// What the analysis measured (none without a detected flight).
    pub measures: Option<Measures>,
    /// The real cameras a shot can cut to, by id, as pinhole views.
    pub cameras: Vec<(String, VirtualCamera)>,
}

impl Context {
    /// From a reconstruction's time range, analysis and frame centroids. Without a detected
    /// flight the events fall at a quarter, half and three quarters of the clip.
    pub fn new(
        range: (f64, f64),
        analysis: Option<&Analysis>,
        centroids: &[(f64, Point3<f64>)],
    ) -> Self {
        let (start, end) = range;
        let span = end - start;
        let (takeoff, apex, landing) = match analysis {
            Some(a) => (a.takeoff_time, a.apex_time, a.landing_time),
            None => (start + 0.25 * span, start + 0.5 * span, start + 0.75 * span),
        };
        let track = match analysis {
            Some(a) if !a.trajectory.is_empty() => a
                .trajectory
                .iter()
                .map(|s| (s.time, Point3::from(s.position)))
                .collect(),
            _ => centroids.to_vec(),
        };
        let measures = analysis.map(|a| Measures {
            apex_height_m: a.apex_height_m,
            flight_time_s: a.flight_time_s,
            takeoff_speed_mps: a.takeoff_speed_mps,
            distance_m: a.distance_m,
        });
        Self {
            start,
            end,
            takeoff,
            apex,
            landing,
            track,
            measures,
            cameras: Vec::new(),
        }
    }

    /// Adds the real cameras, so shots can cut to them.
    pub fn with_cameras<'a>(
        mut self,
        cameras: impl IntoIterator<Item = (&'a str, &'a Camera)>,
    ) -> Self {
        self.cameras = cameras
            .into_iter()
            .map(|(id, c)| (id.to_owned(), VirtualCamera::from_camera(c)))
            .collect();
        self
    }

    /// Centre of mass at `t` (linear between samples, clamped at the ends).
    pub fn position(&self, t: f64) -> Point3<f64> {
        let tr = &self.track;
        if tr.is_empty() {
            return Point3::origin();
        }
        let i = tr.partition_point(|(ti, _)| *ti < t);
        if i == 0 {
            return tr[0].1;
        }
        if i >= tr.len() {
            return tr[tr.len() - 1].1;
        }
        let (t0, p0) = tr[i - 1];
        let (t1, p1) = tr[i];
        let f = if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.0 };
        p0 + (p1 - p0) * f
    }

    /// Horizontal direction of travel (unit), from the track's ends.
    pub fn travel_direction(&self) -> Vector3<f64> {
        let a = self.position(self.takeoff);
        let b = self.position(self.landing);
        let d = Vector3::new(b.x - a.x, b.y - a.y, 0.0);
        if d.norm() > 1e-6 {
            d.normalize()
        } else {
            Vector3::x()
        }
    }
}
