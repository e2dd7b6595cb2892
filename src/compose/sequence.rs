//! Sequence documents (RON), schema version 1.
//!
//! A sequence is a list of shots rendered back to back. Each shot has a duration (output
//! seconds), a time remap (output time → capture time, so real time, slow motion, freezes and
//! speed ramps are keys), a camera path, and optional Spacetime Slices and trajectory. Capture
//! times are seconds on the common timeline or events found by the analysis
//! (`Event(Apex, 0.0)` is the apex, `Event(TakeOff, -0.5)` half a second before take-off).
//! See `scenes/*.ron` for complete, commented examples.

use super::overlay::{Label, Overlays};
use super::path::{Ease, catmull_rom};
use super::{
    ContactShadow, Context, Ghost, PostureStyle, TrajectoryStyle, ViewState, VirtualCamera,
};
use nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const SEQUENCE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    #[error("cannot read the sequence document ({source}): {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line}, column {column}: {message}: {path}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}field `{field}`: {problem}: {path}", line.map(|l| format!("line {l}, ")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        /// Where the field (or the nearest part of it written in the document) is.
        line: Option<usize>,
        field: String,
        problem: String,
    },
    #[error(
        "sequence schema version {found} is newer than this build understands ({SEQUENCE_VERSION}): {path}"
    )]
    NewerVersion { path: PathBuf, found: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// First reconstructed instant.
    Start,
    TakeOff,
    Apex,
    Landing,
    /// Last reconstructed instant.
    End,
}

/// A capture time: absolute seconds, or an event plus an offset in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum TimeRef {
    Seconds(f64),
    Event(Event, f64),
}

impl TimeRef {
    pub fn resolve(&self, ctx: &Context) -> f64 {
        let t = match *self {
            TimeRef::Seconds(s) => s,
            TimeRef::Event(e, off) => {
                off + match e {
                    Event::Start => ctx.start,
                    Event::TakeOff => ctx.takeoff,
                    Event::Apex => ctx.apex,
                    Event::Landing => ctx.landing,
                    Event::End => ctx.end,
                }
            }
        };
        t.clamp(ctx.start, ctx.end)
    }
}

/// A point the camera looks at or orbits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Target {
    /// The athlete's centre of mass at a fixed capture time.
    Athlete(TimeRef),
    /// The athlete's centre of mass at the frame's capture time.
    Follow,
    /// The middle of the jump: half-way between take-off and landing, at apex height.
    Jump,
    /// A fixed world point (m).
    Point([f64; 3]),
}

impl Target {
    fn resolve(&self, ctx: &Context, now: f64) -> Point3<f64> {
        match *self {
            Target::Athlete(t) => ctx.position(t.resolve(ctx)),
            Target::Follow => ctx.position(now),
            Target::Jump => {
                let a = ctx.position(ctx.takeoff);
                let b = ctx.position(ctx.landing);
                let apex = ctx.position(ctx.apex);
                Point3::new(
                    0.5 * (a.x + b.x),
                    0.5 * (a.y + b.y),
                    0.5 * (apex.z + 0.5 * (a.z + b.z)),
                )
            }
            Target::Point(p) => Point3::from(p),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Output {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
}

impl Default for Output {
    fn default() -> Self {
        Self {
            width: 1920,
            height: 1080,
            fps: 50.0,
        }
    }
}

/// One key of the time remap: at output second `at` (from the shot start) the capture time is
/// `time`; `ease` shapes the segment that ends at this key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimeKey {
    pub at: f64,
    pub time: TimeRef,
    #[serde(default)]
    pub ease: Ease,
}

/// Camera orbiting a centre. Azimuth 0 looks along the direction of travel from behind;
/// 90 is the athlete's left side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Orbit {
    pub centre: Target,
    #[serde(default = "follow")]
    pub look_at: Target,
    pub radius: f64,
    /// Camera height above the centre (m).
    pub height: f64,
    pub start_azimuth_deg: f64,
    pub sweep_deg: f64,
    /// Output seconds (from the shot start) when the sweep starts and ends.
    pub start: f64,
    pub end: f64,
    #[serde(default)]
    pub ease: Ease,
    pub fov_deg: f64,
}

fn follow() -> Target {
    Target::Follow
}

/// One camera keyframe, in spherical coordinates around a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CameraKey {
    pub at: f64,
    pub target: Target,
    pub azimuth_deg: f64,
    pub elevation_deg: f64,
    pub distance: f64,
    pub fov_deg: f64,
    #[serde(default)]
    pub roll_deg: f64,
}

/// The camera rises (or sinks) around a target: elevation and distance move from the first
/// to the second value between output seconds `start` and `end` of the shot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Crane {
    pub target: Target,
    pub azimuth_deg: f64,
    pub from_elevation_deg: f64,
    pub to_elevation_deg: f64,
    pub from_distance: f64,
    pub to_distance: f64,
    pub start: f64,
    pub end: f64,
    #[serde(default)]
    pub ease: Ease,
    pub fov_deg: f64,
}

/// A cable-cam: the camera travels beside the trajectory, from beside the athlete's position at
/// capture time `from` to beside its position at `to`, keeping the live athlete in frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dolly {
    pub from: TimeRef,
    pub to: TimeRef,
    /// Side of the track: 90 is the athlete's left, -90 the right (degrees from behind).
    pub side_deg: f64,
    /// Horizontal distance from the track (m).
    pub distance: f64,
    /// Height above the track (m).
    pub height: f64,
    pub start: f64,
    pub end: f64,
    #[serde(default)]
    pub ease: Ease,
    pub fov_deg: f64,
}

/// A chase camera at a fixed offset from the live athlete (spherical, relative to the
/// direction of travel: azimuth 0 is behind, 90 the athlete's left).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Follow {
    pub azimuth_deg: f64,
    pub elevation_deg: f64,
    pub distance: f64,
    pub fov_deg: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CameraPath {
    Orbit(Orbit),
    /// Centripetal Catmull-Rom through the keys.
    Keyframes(Vec<CameraKey>),
    Crane(Crane),
    Dolly(Dolly),
    Follow(Follow),
    /// Cut to a real camera of the capture (by id): the reconstruction seen from exactly there.
    RealCamera(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum Spacing {
    /// `count` slices evenly spaced in time from `from` to `to`.
    #[default]
    UniformTime,
    /// `count` slices at equal distances along the centre-of-mass track.
    UniformDistance,
    /// Take-off, apex and landing (clamped to `from`..`to`; `count` is ignored).
    Events,
    /// The times listed, in order (`count` is ignored).
    Times(Vec<TimeRef>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Slices {
    pub count: usize,
    pub from: TimeRef,
    pub to: TimeRef,
    #[serde(default)]
    pub spacing: Spacing,
    pub oldest_opacity: f32,
    #[serde(default = "one")]
    pub newest_opacity: f32,
    /// Linear RGB.
    pub tint: [f32; 3],
    #[serde(default)]
    pub tint_amount: f32,
    #[serde(default)]
    pub desaturate: f32,
    #[serde(default)]
    pub rim: f32,
    /// Each after-image appears when the live athlete passes its time.
    #[serde(default = "yes")]
    pub reveal: bool,
    /// Label each after-image with its time from take-off ("+0.40 s").
    #[serde(default)]
    pub labels: bool,
    /// Draw each after-image's posture as a skeleton found in its reconstruction.
    #[serde(default)]
    pub posture: Option<PostureStyle>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trajectory {
    pub from: TimeRef,
    pub to: TimeRef,
    /// Linear RGB.
    pub colour: [f32; 3],
    #[serde(default = "tube_radius")]
    pub radius: f32,
    #[serde(default)]
    pub tick_every: f64,
    /// Draw only up to the live time.
    #[serde(default = "yes")]
    pub grow: bool,
}

fn one() -> f32 {
    1.0
}
fn yes() -> bool {
    true
}
fn tube_radius() -> f32 {
    0.035
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shot {
    pub name: String,
    /// Output seconds.
    pub duration: f64,
    pub time: Vec<TimeKey>,
    pub camera: CameraPath,
    #[serde(default)]
    pub slices: Option<Slices>,
    #[serde(default)]
    pub trajectory: Option<Trajectory>,
    #[serde(default = "yes")]
    pub athlete: bool,
    #[serde(default = "yes")]
    pub venue: bool,
    /// 0 (default) shows the venue as captured; up to 1 blurs and dims it so the athlete
    /// stands out.
    #[serde(default)]
    pub venue_softness: f32,
    /// The athlete's soft shadow on the snow (the sequence's `shadow` when not given here).
    #[serde(default)]
    pub shadow: Option<ContactShadow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sequence {
    pub version: u32,
    pub name: String,
    /// Reconstruction directory, relative to the document (the CLI may override it).
    #[serde(default)]
    pub reconstruction: Option<PathBuf>,
    #[serde(default)]
    pub output: Output,
    pub shots: Vec<Shot>,
    /// Lower third, measurement labels, signature, safe areas (timed in sequence seconds).
    #[serde(default)]
    pub overlays: Overlays,
    /// The athlete's soft shadow on the snow, for every shot that does not set its own.
    #[serde(default)]
    pub shadow: Option<ContactShadow>,
    /// The document's text, so errors found after parsing can name a line.
    #[serde(skip)]
    source: Option<std::sync::Arc<str>>,
}

impl Sequence {
    /// Loads and validates a document.
    pub fn load(path: &Path) -> Result<Self, SequenceError> {
        let text = std::fs::read_to_string(path).map_err(|source| SequenceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates document text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SequenceError> {
        let seq: Sequence = ron::from_str(text).map_err(|e| SequenceError::Parse {
            path: path.to_path_buf(),
            line: e.position.line,
            column: e.position.col,
            message: e.code.to_string(),
        })?;
        let mut seq = seq;
        seq.source = Some(std::sync::Arc::from(text));
        seq.validate(path)?;
        Ok(seq)
    }

    /// The document as RON text.
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default()).unwrap_or_default()
    }

    fn validate(&self, path: &Path) -> Result<(), SequenceError> {
        let bad = |field: String, problem: &str| SequenceError::Invalid {
            path: path.to_path_buf(),
            line: self.line_of(&field),
            field,
            problem: problem.to_owned(),
        };
        if self.version > SEQUENCE_VERSION {
            return Err(SequenceError::NewerVersion {
                path: path.to_path_buf(),
                found: self.version,
            });
        }
        let o = &self.output;
        if o.width < 16
            || o.height < 16
            || !o.width.is_multiple_of(2)
            || !o.height.is_multiple_of(2)
            || o.width > 7680
            || o.height > 4320
        {
            return Err(bad(
                "output".into(),
                "width and height must be even, 16 to 7680 x 4320",
            ));
        }
        if !(o.fps.is_finite() && o.fps > 0.0 && o.fps <= 240.0) {
            return Err(bad("output.fps".into(), "must be between 0 and 240"));
        }
        if self.shots.is_empty() {
            return Err(bad("shots".into(), "the sequence has no shots"));
        }
        for (i, s) in self.shots.iter().enumerate() {
            let f = |name: &str| format!("shots[{i}].{name}");
            if !(s.duration.is_finite() && s.duration > 0.0 && s.duration <= 600.0) {
                return Err(bad(f("duration"), "must be between 0 and 600 seconds"));
            }
            if s.time.is_empty() {
                return Err(bad(f("time"), "needs at least one key"));
            }
            if s.time.windows(2).any(|w| w[1].at < w[0].at) {
                return Err(bad(f("time"), "keys must be in increasing `at` order"));
            }
            match &s.camera {
                CameraPath::Orbit(o) => {
                    if o.radius.is_nan() || o.radius <= 0.0 {
                        return Err(bad(f("camera.radius"), "must be positive"));
                    }
                    if o.end < o.start {
                        return Err(bad(f("camera.end"), "must not be before `start`"));
                    }
                    if !(o.fov_deg > 1.0 && o.fov_deg < 170.0) {
                        return Err(bad(
                            f("camera.fov_deg"),
                            "must be between 1 and 170 degrees",
                        ));
                    }
                }
                CameraPath::Crane(c) => {
                    if !(c.from_distance > 0.0 && c.to_distance > 0.0) {
                        return Err(bad(f("camera.from_distance"), "distances must be positive"));
                    }
                    if c.end < c.start {
                        return Err(bad(f("camera.end"), "must not be before `start`"));
                    }
                    check_fov(c.fov_deg, f("camera.fov_deg")).map_err(|(fl, p)| bad(fl, p))?;
                }
                CameraPath::Dolly(d) => {
                    if d.distance.is_nan() || d.distance <= 0.0 {
                        return Err(bad(f("camera.distance"), "must be positive"));
                    }
                    if d.end < d.start {
                        return Err(bad(f("camera.end"), "must not be before `start`"));
                    }
                    check_fov(d.fov_deg, f("camera.fov_deg")).map_err(|(fl, p)| bad(fl, p))?;
                }
                CameraPath::Follow(fo) => {
                    if fo.distance.is_nan() || fo.distance <= 0.0 {
                        return Err(bad(f("camera.distance"), "must be positive"));
                    }
                    check_fov(fo.fov_deg, f("camera.fov_deg")).map_err(|(fl, p)| bad(fl, p))?;
                }
                CameraPath::RealCamera(id) => {
                    if id.trim().is_empty() {
                        return Err(bad(f("camera"), "names no camera"));
                    }
                }
                CameraPath::Keyframes(keys) => {
                    if keys.is_empty() {
                        return Err(bad(f("camera"), "needs at least one keyframe"));
                    }
                    if keys.windows(2).any(|w| w[1].at <= w[0].at) {
                        return Err(bad(
                            f("camera"),
                            "keyframes must be in increasing `at` order",
                        ));
                    }
                    if keys.iter().any(|k| {
                        k.distance.is_nan()
                            || k.distance <= 0.0
                            || !(k.fov_deg > 1.0 && k.fov_deg < 170.0)
                    }) {
                        return Err(bad(
                            f("camera"),
                            "keyframes need a positive distance and a field of view of 1 to 170 degrees",
                        ));
                    }
                }
            }
            if let Some(sl) = &s.slices {
                match &sl.spacing {
                    Spacing::UniformTime | Spacing::UniformDistance
                        if !(2..=64).contains(&sl.count) =>
                    {
                        return Err(bad(f("slices.count"), "must be between 2 and 64"));
                    }
                    Spacing::Times(t) if t.is_empty() || t.len() > 64 => {
                        return Err(bad(f("slices.spacing"), "list 1 to 64 times"));
                    }
                    _ => {}
                }
                if let Some(Err((field, problem))) = sl.posture.map(|p| p.validate()) {
                    return Err(bad(f(&format!("slices.posture.{field}")), problem));
                }
            }
            if let Some(Err((field, problem))) = s.shadow.map(|sh| sh.validate()) {
                return Err(bad(f(&format!("shadow.{field}")), problem));
            }
        }
        if let Some(Err((field, problem))) = self.shadow.map(|sh| sh.validate()) {
            return Err(bad(format!("shadow.{field}"), problem));
        }
        self.overlays
            .validate()
            .map_err(|(field, problem)| bad(field, problem))?;
        Ok(())
    }

    /// Line of a field in the document this was parsed from.
    fn line_of(&self, field: &str) -> Option<usize> {
        locate_field(self.source.as_deref()?, field)
    }

    /// Checks that every shot cutting to a real camera names one the context knows.
    pub fn check_cameras(&self, ctx: &Context, path: &Path) -> Result<(), SequenceError> {
        for (i, s) in self.shots.iter().enumerate() {
            if let CameraPath::RealCamera(id) = &s.camera
                && !ctx.cameras.iter().any(|(c, _)| c == id)
            {
                let known: Vec<&str> = ctx.cameras.iter().map(|(c, _)| c.as_str()).collect();
                let field = format!("shots[{i}].camera");
                return Err(SequenceError::Invalid {
                    path: path.to_path_buf(),
                    line: self.line_of(&field),
                    field,
                    problem: format!(
                        "no camera {id:?} in the capture (it has {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                });
            }
        }
        Ok(())
    }

    pub fn total_frames(&self) -> usize {
        self.shots.iter().map(|s| self.shot_frames(s)).sum()
    }

    fn shot_frames(&self, s: &Shot) -> usize {
        (s.duration * self.output.fps).round().max(1.0) as usize
    }

    /// The view of every output frame, shot after shot. Frame N is output time N / fps.
    pub fn frames(&self, ctx: &Context) -> Vec<ViewState> {
        let mut out = Vec::with_capacity(self.total_frames());
        let mut n = 0usize;
        for shot in &self.shots {
            for i in 0..self.shot_frames(shot) {
                let mut v = shot.view(i as f64 / self.output.fps, ctx);
                let mut o = self.overlays.frame(n as f64 / self.output.fps, ctx);
                o.labels.append(&mut v.overlay.labels);
                v.overlay = o;
                v.shadow = v.shadow.or(self.shadow);
                out.push(v);
                n += 1;
            }
        }
        out
    }
}

impl Shot {
    /// Capture time shown at output second `s` of this shot.
    pub fn capture_time(&self, s: f64, ctx: &Context) -> f64 {
        let keys = &self.time;
        if s <= keys[0].at {
            return keys[0].time.resolve(ctx);
        }
        for w in keys.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if s <= b.at {
                let span = b.at - a.at;
                let u = if span > 0.0 {
                    b.ease.apply((s - a.at) / span)
                } else {
                    1.0
                };
                let (ta, tb) = (a.time.resolve(ctx), b.time.resolve(ctx));
                return ta + (tb - ta) * u;
            }
        }
        keys[keys.len() - 1].time.resolve(ctx)
    }

    fn camera_at(&self, s: f64, now: f64, ctx: &Context) -> VirtualCamera {
        let travel = ctx.travel_direction();
        let left = Vector3::z().cross(&travel);
        let around = |az_deg: f64, el_deg: f64, dist: f64| {
            let (az, el) = (az_deg.to_radians(), el_deg.to_radians());
            (-travel * az.cos() + left * az.sin()) * (dist * el.cos())
                + Vector3::z() * (dist * el.sin())
        };
        match &self.camera {
            CameraPath::Orbit(o) => {
                let u = progress(s, o.start, o.end, o.ease);
                let az = o.start_azimuth_deg + o.sweep_deg * u;
                let centre = o.centre.resolve(ctx, now);
                let eye = centre + around(az, 0.0, o.radius) + Vector3::z() * o.height;
                VirtualCamera {
                    eye,
                    target: o.look_at.resolve(ctx, now),
                    fov_y: o.fov_deg.to_radians(),
                    roll: 0.0,
                }
            }
            CameraPath::Crane(c) => {
                let u = progress(s, c.start, c.end, c.ease);
                let el = c.from_elevation_deg + (c.to_elevation_deg - c.from_elevation_deg) * u;
                let dist = c.from_distance + (c.to_distance - c.from_distance) * u;
                let target = c.target.resolve(ctx, now);
                VirtualCamera {
                    eye: target + around(c.azimuth_deg, el, dist),
                    target,
                    fov_y: c.fov_deg.to_radians(),
                    roll: 0.0,
                }
            }
            CameraPath::Dolly(d) => {
                let u = progress(s, d.start, d.end, d.ease);
                let a = ctx.position(d.from.resolve(ctx));
                let b = ctx.position(d.to.resolve(ctx));
                let track = a + (b - a) * u;
                let eye = track + around(d.side_deg, 0.0, d.distance) + Vector3::z() * d.height;
                VirtualCamera {
                    eye,
                    target: ctx.position(now),
                    fov_y: d.fov_deg.to_radians(),
                    roll: 0.0,
                }
            }
            CameraPath::Follow(fo) => {
                let target = ctx.position(now);
                VirtualCamera {
                    eye: target + around(fo.azimuth_deg, fo.elevation_deg, fo.distance),
                    target,
                    fov_y: fo.fov_deg.to_radians(),
                    roll: 0.0,
                }
            }
            CameraPath::RealCamera(id) => match ctx.cameras.iter().find(|(c, _)| c == id) {
                Some((_, cam)) => *cam,
                // Unknown here (checked when the capture is known): a wide view of the jump.
                None => {
                    let target = Target::Jump.resolve(ctx, now);
                    VirtualCamera {
                        eye: target + around(90.0, 10.0, 25.0),
                        target,
                        fov_y: 40f64.to_radians(),
                        roll: 0.0,
                    }
                }
            },
            CameraPath::Keyframes(keys) => {
                let i = keys.partition_point(|k| k.at <= s);
                let u = if i == 0 {
                    0.0
                } else if i >= keys.len() {
                    (keys.len() - 1) as f64
                } else {
                    let (a, b) = (&keys[i - 1], &keys[i]);
                    (i - 1) as f64 + (s - a.at) / (b.at - a.at)
                };
                let sph: Vec<Point3<f64>> = keys
                    .iter()
                    .map(|k| Point3::new(k.azimuth_deg, k.elevation_deg, k.distance))
                    .collect();
                let targets: Vec<Point3<f64>> =
                    keys.iter().map(|k| k.target.resolve(ctx, now)).collect();
                let lens: Vec<Point3<f64>> = keys
                    .iter()
                    .map(|k| Point3::new(k.fov_deg, k.roll_deg, 0.0))
                    .collect();
                let p = catmull_rom(&sph, u);
                let target = catmull_rom(&targets, u);
                let l = catmull_rom(&lens, u);
                VirtualCamera {
                    eye: target + around(p.x, p.y, p.z.max(0.1)),
                    target,
                    fov_y: l.x.clamp(1.0, 170.0).to_radians(),
                    roll: l.y.to_radians(),
                }
            }
        }
    }

    /// Everything shown at output second `s` of this shot.
    pub fn view(&self, s: f64, ctx: &Context) -> ViewState {
        let now = self.capture_time(s, ctx);
        let mut ghosts = Vec::new();
        let mut labels = Vec::new();
        if let Some(sl) = &self.slices {
            let (from, to) = (sl.from.resolve(ctx), sl.to.resolve(ctx));
            let times = slice_times(sl, from, to, ctx);
            let n = times.len();
            for (k, &t) in times.iter().enumerate() {
                if sl.reveal && t > now + 1e-6 {
                    continue;
                }
                if self.athlete && (t - now).abs() < 0.03 {
                    continue; // the live athlete is there
                }
                let f = if n > 1 {
                    k as f32 / (n - 1) as f32
                } else {
                    1.0
                };
                if sl.labels {
                    labels.push(Label {
                        anchor: ctx.position(t) + Vector3::new(0.0, 0.0, 1.25),
                        text: format!("{:+.2} s", t - ctx.takeoff),
                        line: None,
                        opacity: 1.0,
                        small: true,
                    });
                }
                ghosts.push(Ghost {
                    time: t,
                    opacity: sl.oldest_opacity + (sl.newest_opacity - sl.oldest_opacity) * f,
                    tint: sl.tint,
                    tint_amount: sl.tint_amount,
                    desaturate: sl.desaturate,
                    rim: sl.rim,
                    posture: sl.posture,
                });
            }
        }
        let trajectory = self.trajectory.as_ref().map(|tr| {
            let from = tr.from.resolve(ctx);
            let to = tr.to.resolve(ctx);
            TrajectoryStyle {
                from,
                to: if tr.grow { to.min(now).max(from) } else { to },
                colour: tr.colour,
                radius: tr.radius,
                tick_every: tr.tick_every,
            }
        });
        ViewState {
            time: now,
            camera: self.camera_at(s, now, ctx),
            show_athlete: self.athlete,
            ghosts,
            trajectory,
            show_venue: self.venue,
            venue_softness: self.venue_softness,
            shadow: self.shadow,
            overlay: super::OverlayFrame {
                labels,
                ..Default::default()
            },
        }
    }
}

/// Eased progress (0..1) of output second `s` through `start..end`.
fn progress(s: f64, start: f64, end: f64, ease: Ease) -> f64 {
    let span = end - start;
    if span > 0.0 {
        ease.apply((s - start) / span)
    } else if s >= end {
        1.0
    } else {
        0.0
    }
}

fn check_fov(fov_deg: f64, field: String) -> Result<(), (String, &'static str)> {
    if fov_deg > 1.0 && fov_deg < 170.0 {
        Ok(())
    } else {
        Err((field, "must be between 1 and 170 degrees"))
    }
}

fn slice_times(sl: &Slices, from: f64, to: f64, ctx: &Context) -> Vec<f64> {
    let n = sl.count.max(2);
    match &sl.spacing {
        Spacing::Events => {
            let mut t: Vec<f64> = [ctx.takeoff, ctx.apex, ctx.landing]
                .iter()
                .map(|t| t.clamp(from.min(to), from.max(to)))
                .collect();
            t.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
            t
        }
        Spacing::Times(list) => list.iter().map(|t| t.resolve(ctx)).collect(),
        Spacing::UniformTime => (0..n)
            .map(|k| from + (to - from) * k as f64 / (n - 1) as f64)
            .collect(),
        Spacing::UniformDistance => {
            // Arc length of the track, sampled finely, then inverted.
            let steps = 400;
            let mut acc = vec![0.0];
            let mut prev = ctx.position(from);
            for i in 1..=steps {
                let p = ctx.position(from + (to - from) * i as f64 / steps as f64);
                acc.push(acc[i - 1] + (p - prev).norm());
                prev = p;
            }
            let total = acc[steps].max(1e-9);
            (0..n)
                .map(|k| {
                    let target = total * k as f64 / (n - 1) as f64;
                    let i = acc.partition_point(|&a| a < target).min(steps);
                    from + (to - from) * i as f64 / steps as f64
                })
                .collect()
        }
    }
}

/// The text with comments and string contents blanked (newlines kept), so brackets and names
/// can be found by position.
fn structural(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, k: usize| {
        if out[k] != b'\n' {
            out[k] = b' ';
        }
    };
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                blank(&mut out, i);
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                blank(&mut out, i);
                i += 1;
            }
            for k in i..(i + 2).min(b.len()) {
                blank(&mut out, k);
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    blank(&mut out, i);
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, i);
                }
                i += 1;
            }
            i += 1;
        } else {
            i += 1;
        }
    }
    out
}

/// End of the value starting at `from`: the comma or closing bracket that ends it.
fn value_end(s: &[u8], from: usize, limit: usize) -> usize {
    let mut depth = 0i32;
    for (k, &c) in s.iter().enumerate().take(limit).skip(from) {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                if depth == 0 {
                    return k;
                }
                depth -= 1;
            }
            b',' if depth == 0 => return k,
            _ => {}
        }
    }
    limit
}

/// Line (1-based) in RON `text` of the field a path such as `shots[2].camera.radius` names:
/// the deepest part of the path that is written in the document (a field left to its default
/// is reported at its parent).
pub fn locate_field(text: &str, field: &str) -> Option<usize> {
    let s = structural(text);
    let line = |pos: usize| text[..pos].matches('\n').count() + 1;
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let (mut lo, mut hi) = (0usize, s.len());
    let mut found = None;
    for part in field.split('.') {
        let (name, indices) = match part.find('[') {
            Some(k) => (&part[..k], &part[k..]),
            None => (part, ""),
        };
        // `name:` at the shallowest depth within the current value.
        let mut best: Option<(i32, usize)> = None;
        let mut depth = 0i32;
        let mut k = lo;
        while k < hi {
            match s[k] {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                c if is_ident(c) && (k == 0 || !is_ident(s[k - 1])) => {
                    let end = (k..hi).find(|&e| !is_ident(s[e])).unwrap_or(hi);
                    let mut colon = end;
                    while colon < hi && s[colon].is_ascii_whitespace() {
                        colon += 1;
                    }
                    if &s[k..end] == name.as_bytes()
                        && s.get(colon) == Some(&b':')
                        && s.get(colon + 1) != Some(&b':')
                        && best.is_none_or(|(d, _)| depth < d)
                    {
                        best = Some((depth, colon + 1));
                    }
                    k = end;
                    continue;
                }
                _ => {}
            }
            k += 1;
        }
        let Some((_, value)) = best else {
            return found;
        };
        found = Some(line(value));
        lo = value;
        hi = value_end(&s, value, hi);
        // List indices: the n-th element of the first list in the value.
        for index in indices
            .split(['[', ']'])
            .filter(|x| !x.is_empty())
            .map(|x| x.parse::<usize>().ok())
        {
            let open = (lo..hi).find(|&k| s[k] == b'[')?;
            let mut start = open + 1;
            for _ in 0..index? {
                let end = value_end(&s, start, hi);
                if end >= hi || s[end] != b',' {
                    return found;
                }
                start = end + 1;
            }
            while start < hi && s[start].is_ascii_whitespace() {
                start += 1;
            }
            let end = value_end(&s, start, hi);
            if end <= start {
                return found;
            }
            found = Some(line(start));
            lo = start;
            hi = end;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::overlay;

    fn ctx() -> Context {
        let track = (0..=100)
            .map(|i| {
                let t = i as f64 * 0.04;
                let dt = t - 1.0;
                (
                    t,
                    Point3::new(6.0 * dt, 0.0, 1.0 + 9.4 * dt - 4.905 * dt * dt),
                )
            })
            .collect();
        Context {
            start: 0.0,
            end: 4.0,
            takeoff: 1.0,
            apex: 1.0 + 9.4 / 9.81,
            landing: 3.5,
            track,
            measures: None,
            cameras: Vec::new(),
        }
    }

    const DOC: &str = r#"(
        version: 1,
        name: "test",
        output: (width: 640, height: 360, fps: 25.0),
        shots: [(
            name: "freeze",
            duration: 4.0,
            time: [
                (at: 0.0, time: Event(TakeOff, -0.5)),
                (at: 1.0, time: Event(Apex, 0.0), ease: Linear),
                (at: 3.0, time: Event(Apex, 0.0)),
                (at: 4.0, time: Event(Landing, 0.0)),
            ],
            camera: Orbit((centre: Athlete(Event(Apex, 0.0)), radius: 8.0, height: 1.0,
                           start_azimuth_deg: 90.0, sweep_deg: 360.0, start: 1.0, end: 3.0, fov_deg: 30.0)),
        )],
    )"#;

    #[test]
    fn freeze_holds_time_while_the_camera_orbits() {
        let seq = Sequence::parse(DOC, Path::new("test.ron")).expect("parses");
        let c = ctx();
        let frames = seq.frames(&c);
        assert_eq!(frames.len(), 100);
        let apex = c.apex;
        // Frames 25..=75 are frozen at the apex.
        for f in &frames[25..=75] {
            assert!((f.time - apex).abs() < 1e-9);
        }
        // The orbit goes all the way round at constant radius from the apex.
        let centre = c.position(apex);
        let first = frames[25].camera.eye;
        let mid = frames[50].camera.eye;
        let last = frames[75].camera.eye;
        assert!(
            (first - last).norm() < 1e-6,
            "a full turn ends where it started"
        );
        assert!(
            (mid - first).norm() > 15.0,
            "half way round is across the circle"
        );
        for f in &frames[25..=75] {
            let d = f.camera.eye - centre;
            assert!((Vector3::new(d.x, d.y, 0.0).norm() - 8.0).abs() < 1e-6);
        }
        // Time runs forward before and after the freeze.
        assert!(frames[0].time < frames[10].time && frames[80].time < frames[99].time);
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let broken = DOC.replace("radius: 8.0", "radius: eight");
        let e = Sequence::parse(&broken, Path::new("shot.ron"))
            .expect_err("must fail")
            .to_string();
        assert!(e.contains("line 14") && e.contains("shot.ron"), "{e}");
        let invalid = DOC.replace("duration: 4.0", "duration: -1.0");
        let e = Sequence::parse(&invalid, Path::new("shot.ron"))
            .expect_err("must fail")
            .to_string();
        let line = DOC
            .lines()
            .position(|l| l.contains("duration: 4.0"))
            .map(|i| i + 1);
        assert!(e.contains("shots[0].duration"), "{e}");
        assert!(e.contains(&format!("line {}", line.unwrap_or(0))), "{e}");
        // Styles are checked too, and named with their line.
        let dark = format!(
            "{},\n    shadow: Some((opacity: 0.5,\n        sun: (30.0, -5.0))),\n)",
            DOC.trim_end()
                .trim_end_matches(')')
                .trim_end()
                .trim_end_matches(',')
        );
        let e = Sequence::parse(&dark, Path::new("shot.ron"))
            .expect_err("a sun below the horizon")
            .to_string();
        let line = dark
            .lines()
            .position(|l| l.contains("sun: (30.0"))
            .map(|i| i + 1);
        assert!(e.contains("shadow.sun"), "{e}");
        assert!(e.contains(&format!("line {}", line.unwrap_or(0))), "{e}");
        let newer = DOC.replace("version: 1", "version: 9");
        assert!(matches!(
            Sequence::parse(&newer, Path::new("x")),
            Err(SequenceError::NewerVersion { .. })
        ));
    }

    #[test]
    fn fields_are_found_by_path_in_real_documents() {
        let doc = include_str!("../../scenes/big_screen_30s.ron");
        // Expected: the n-th line (1-based) containing `needle`.
        let nth = |needle: &str, n: usize| {
            doc.lines()
                .enumerate()
                .filter(|(_, l)| l.contains(needle))
                .nth(n)
                .map(|(i, _)| i + 1)
        };
        assert_eq!(locate_field(doc, "output"), nth("output:", 0));
        assert_eq!(locate_field(doc, "output.fps"), nth("output:", 0));
        for k in 0..3 {
            assert_eq!(
                locate_field(doc, &format!("shots[{k}].duration")),
                nth("duration:", k),
                "shot {k}"
            );
        }
        // The second time key of the first shot, and the third of the second.
        assert_eq!(
            locate_field(doc, "shots[0].time[1]"),
            nth("(at: 4.0, time", 0)
        );
        assert_eq!(
            locate_field(doc, "shots[1].time[2]"),
            nth("(at: 2.2, time", 0)
        );
        assert_eq!(
            locate_field(doc, "shots[1].camera.radius"),
            nth("radius: 7.5", 0)
        );
        let slices_shot = doc[..doc.find("slices: Some").unwrap_or(0)]
            .matches("duration:")
            .count()
            - 1;
        assert_eq!(
            locate_field(doc, &format!("shots[{slices_shot}].slices.count")),
            nth("count:", 0)
        );
        // A field left to its default is reported at the nearest part that is written.
        assert_eq!(
            locate_field(
                doc,
                &format!("shots[{slices_shot}].slices.spacing_not_here")
            ),
            nth("slices: Some", 0)
        );
        // Names inside comments and strings are not fields.
        let tricky =
            "(version: 1, // duration: 9\n name: \"duration: x\",\n shots: [(duration: 2.0)])";
        assert_eq!(locate_field(tricky, "shots[0].duration"), Some(3));
        assert_eq!(locate_field(tricky, "missing"), None);
    }

    #[test]
    fn round_trip_through_ron() {
        let seq = Sequence::parse(DOC, Path::new("a.ron")).expect("parses");
        let again = Sequence::parse(&seq.to_ron(), Path::new("b.ron")).expect("re-parses");
        assert_eq!(seq.frames(&ctx()), again.frames(&ctx()));
    }

    fn ctx_measured() -> Context {
        let mut c = ctx();
        c.measures = Some(crate::compose::Measures {
            apex_height_m: 4.5,
            flight_time_s: 2.5,
            takeoff_speed_mps: 11.4,
            distance_m: 15.0,
        });
        c
    }

    fn one_shot(camera: &str, extra: &str) -> String {
        format!(
            r#"(version: 1, name: "t", output: (width: 640, height: 360, fps: 10.0),
                shots: [(name: "s", duration: 2.0,
                         time: [(at: 0.0, time: Event(TakeOff, 0.0)), (at: 2.0, time: Event(Landing, 0.0), ease: Linear)],
                         camera: {camera} {extra})])"#
        )
    }

    #[test]
    fn crane_rises_around_a_fixed_target() {
        let doc = one_shot(
            "Crane((target: Athlete(Event(Apex, 0.0)), azimuth_deg: 90.0, from_elevation_deg: 5.0,
                    to_elevation_deg: 60.0, from_distance: 8.0, to_distance: 12.0, start: 0.0, end: 2.0,
                    ease: Linear, fov_deg: 30.0)),",
            "",
        );
        let seq = Sequence::parse(&doc, Path::new("c.ron")).expect("parses");
        let c = ctx();
        let f = seq.frames(&c);
        let target = c.position(c.apex);
        let el = |v: &ViewState| {
            let d = v.camera.eye - target;
            (d.z / d.norm()).asin().to_degrees()
        };
        assert!((el(&f[0]) - 5.0).abs() < 1e-6);
        assert!((el(&f[19]) - (5.0 + 55.0 * 19.0 / 20.0)).abs() < 1e-6);
        assert!(
            f.windows(2).all(|w| el(&w[1]) > el(&w[0])),
            "rises every frame"
        );
        assert!(f.iter().all(|v| (v.camera.target - target).norm() < 1e-9));
        assert!(((f[0].camera.eye - target).norm() - 8.0).abs() < 1e-6);
    }

    #[test]
    fn dolly_travels_beside_the_track_and_follow_keeps_its_distance() {
        let doc = one_shot(
            "Dolly((from: Event(TakeOff, 0.0), to: Event(Landing, 0.0), side_deg: 90.0, distance: 10.0,
                    height: 2.0, start: 0.0, end: 2.0, ease: Linear, fov_deg: 40.0)),",
            "",
        );
        let seq = Sequence::parse(&doc, Path::new("d.ron")).expect("parses");
        let c = ctx();
        let f = seq.frames(&c);
        // The track runs along +x: the camera keeps 10 m to the side and 2 m above it.
        let a = c.position(c.takeoff);
        let b = c.position(c.landing);
        for (k, v) in f.iter().enumerate() {
            let u = k as f64 / 20.0;
            let on_track = a + (b - a) * u;
            let d = v.camera.eye - on_track;
            assert!(
                (d.y.abs() - 10.0).abs() < 1e-6 && (d.z - 2.0).abs() < 1e-6,
                "{d:?}"
            );
            assert!((v.camera.target - c.position(v.time)).norm() < 1e-9);
        }
        let doc = one_shot(
            "Follow((azimuth_deg: 30.0, elevation_deg: 10.0, distance: 9.0, fov_deg: 40.0)),",
            "",
        );
        let seq = Sequence::parse(&doc, Path::new("f.ron")).expect("parses");
        for v in seq.frames(&c) {
            assert!(((v.camera.eye - c.position(v.time)).norm() - 9.0).abs() < 1e-6);
        }
    }

    #[test]
    fn a_cut_to_a_real_camera_sees_what_it_sees() {
        use crate::camera::{Camera, Intrinsics, WorldFromCamera};
        let eye = Point3::new(3.0, -20.0, 4.0);
        let mut pose = WorldFromCamera::looking_at(eye, Point3::new(5.0, 0.0, 2.0), Vector3::z());
        // A slightly rolled camera.
        let axis = nalgebra::Unit::new_normalize(pose.rotation * Vector3::z());
        pose.rotation = nalgebra::Rotation3::from_axis_angle(&axis, 0.05) * pose.rotation;
        let real = Camera::new(Intrinsics::centred(640, 360, 500.0), pose.inverse());
        let c = ctx().with_cameras([("cam07", &real)]);
        let doc = one_shot(r#"RealCamera("cam07"),"#, "");
        let seq = Sequence::parse(&doc, Path::new("r.ron")).expect("parses");
        seq.check_cameras(&c, Path::new("r.ron"))
            .expect("known camera");
        let v = &seq.frames(&c)[0];
        let virt = v.camera.to_camera(640, 360);
        for p in [
            Point3::new(5.0, 0.0, 2.0),
            Point3::new(8.0, 3.0, 5.0),
            Point3::new(0.0, 1.0, 0.0),
        ] {
            let (a, b) = (
                real.project(&p).expect("in front"),
                virt.project(&p).expect("in front"),
            );
            assert!(
                (a.x - b.x).abs() < 1e-6 && (a.y - b.y).abs() < 1e-6,
                "{a:?} vs {b:?}"
            );
        }
        let unknown = one_shot(r#"RealCamera("cam99"),"#, "");
        let seq = Sequence::parse(&unknown, Path::new("u.ron")).expect("parses");
        let e = seq
            .check_cameras(&c, Path::new("u.ron"))
            .expect_err("unknown")
            .to_string();
        assert!(
            e.contains("cam99") && e.contains("cam07") && e.contains("u.ron"),
            "{e}"
        );
    }

    #[test]
    fn slices_at_events_or_listed_times() {
        let c = ctx();
        let slices = |spacing: &str| {
            let doc = one_shot(
                "Orbit((centre: Jump, radius: 20.0, height: 2.0, start_azimuth_deg: 90.0, sweep_deg: 0.0,
                        start: 0.0, end: 2.0, fov_deg: 40.0)),",
                &format!(
                    "slices: Some((count: 5, from: Event(Start, 0.0), to: Event(End, 0.0), spacing: {spacing},
                                   oldest_opacity: 0.5, tint: (1.0, 1.0, 1.0), reveal: false, labels: true)),"
                ),
            );
            let seq = Sequence::parse(&doc, Path::new("s.ron")).expect("parses");
            seq.frames(&c).remove(0)
        };
        let v = slices("Events");
        let times: Vec<f64> = v.ghosts.iter().map(|g| g.time).collect();
        // The live athlete stands at take-off in frame 0, so that slice is left to it.
        assert_eq!(times.len(), 2);
        assert!((times[0] - c.apex).abs() < 1e-9 && (times[1] - c.landing).abs() < 1e-9);
        let v = slices("Times([Seconds(0.5), Event(Apex, 0.25), Seconds(3.9)])");
        let times: Vec<f64> = v.ghosts.iter().map(|g| g.time).collect();
        assert_eq!(times, vec![0.5, c.apex + 0.25, 3.9]);
        // Each after-image is labelled with its time from take-off, above it.
        assert_eq!(v.overlay.labels.len(), 3);
        assert_eq!(v.overlay.labels[0].text, "-0.50 s");
        assert!((v.overlay.labels[1].anchor - c.position(c.apex + 0.25)).z > 1.0);
    }

    #[test]
    fn overlays_fade_on_the_sequence_clock_and_measure_from_the_analysis() {
        let doc = DOC.replacen(
            "shots: [",
            r#"overlays: (
                lower_third: Some((name: "A. Skier", country: "SUI", event: "Aerials", from: 0.5, to: 2.0)),
                measurements: [(kind: ApexHeight, from: 1.0, to: 3.0), (kind: TakeOffSpeed, from: 0.0, to: 4.0)],
                safe_areas: true,
            ),
            shots: ["#,
            1,
        );
        let seq = Sequence::parse(&doc, Path::new("o.ron")).expect("parses");
        let c = ctx_measured();
        let f = seq.frames(&c);
        // 25 fps: frame 0 has no lower third yet, frame 25 (1 s) shows it fully, 60 (2.4 s) not.
        assert!(f[0].overlay.lower_third.is_none());
        let lt = f[25].overlay.lower_third.as_ref().expect("shown");
        assert_eq!((lt.name.as_str(), lt.opacity), ("A. Skier", 1.0));
        assert!(f[60].overlay.lower_third.is_none());
        // Half-way through the fade in.
        let half = ((0.5 + overlay::FADE_S / 2.0) * 25.0) as usize;
        let o = f[half]
            .overlay
            .lower_third
            .as_ref()
            .map_or(0.0, |l| l.opacity);
        assert!(o > 0.3 && o < 0.7, "{o}");
        // The default signature is on every frame; the safe areas as asked.
        assert!(
            f.iter()
                .all(|v| v.overlay.signature.is_some() && v.overlay.safe_areas)
        );
        let heights: Vec<&Label> = f[50]
            .overlay
            .labels
            .iter()
            .filter(|l| l.text.starts_with("Height"))
            .collect();
        assert_eq!(heights.len(), 1);
        assert_eq!(heights[0].text, "Height 4.50 m");
        let (base, top) = heights[0].line.expect("a dimension line");
        assert!(((top - base).z - 4.5).abs() < 1e-9);
        assert!(
            f[50]
                .overlay
                .labels
                .iter()
                .any(|l| l.text == "Take-off 41 km/h")
        );
        // Without an analysis there is nothing to measure.
        assert!(seq.frames(&ctx())[50].overlay.labels.is_empty());
        // Bad overlay timings name the field.
        let bad = doc.replace("from: 0.5, to: 2.0", "from: 2.5, to: 2.0");
        let e = Sequence::parse(&bad, Path::new("o.ron"))
            .expect_err("invalid")
            .to_string();
        assert!(e.contains("overlays.lower_third"), "{e}");
    }

    #[test]
    fn example_documents_parse_and_the_big_screen_sequence_lasts_30_s() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("scenes/") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "ron") {
                let seq = Sequence::load(&path).unwrap_or_else(|e| panic!("{e}"));
                let again = Sequence::parse(&seq.to_ron(), &path).expect("round trip");
                assert_eq!(seq.frames(&ctx_measured()), again.frames(&ctx_measured()));
                n += 1;
            }
        }
        assert!(n >= 3);
        let big = Sequence::load(&dir.join("big_screen_30s.ron")).expect("loads");
        assert_eq!(big.total_frames(), 1500);
        assert_eq!(big.output.fps, 50.0);
    }

    /// The Spacetime Slices still is taken where the after-images and the call-outs are all
    /// in, not on the last frame, where the call-outs are fading out.
    #[test]
    fn the_still_has_every_after_image_and_call_out_fully_in() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/spacetime_slices.ron");
        let seq = Sequence::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let frames = seq.frames(&ctx_measured());
        let callouts = |f: &crate::compose::ViewState| -> Vec<f32> {
            f.overlay
                .labels
                .iter()
                .filter(|l| !l.small)
                .map(|l| l.opacity)
                .collect()
        };
        let last = frames.last().expect("frames");
        assert!(
            callouts(last).iter().all(|&o| o < 0.99),
            "{:?}",
            callouts(last)
        );
        let i = crate::compose::still_frame(&frames);
        let still = &frames[i];
        let c = callouts(still);
        assert_eq!(c.len(), 2, "airtime and distance");
        assert!(c.iter().all(|&o| o > 0.999), "{c:?} at frame {i}");
        let ghosts =
            |f: &crate::compose::ViewState| f.ghosts.iter().map(|g| g.opacity).sum::<f32>();
        let most = frames.iter().map(ghosts).fold(0.0, f32::max);
        assert!(ghosts(still) > most - 1e-3);
        assert!(
            still.ghosts.len() >= 6,
            "{} after-images",
            still.ghosts.len()
        );
        // The latest such frame: the next one has begun to fade.
        assert!(callouts(&frames[i + 1]).iter().any(|&o| o < 0.999));
    }
}
