//! Sequence documents (RON), schema version 1.
//!
//! A sequence is a list of shots rendered back to back. Each shot has a duration (output
//! seconds), a time remap (output time → capture time, so real time, slow motion, freezes and
//! speed ramps are keys), a camera path, and optional Spacetime Slices and trajectory. Capture
//! times are seconds on the common timeline or events found by the analysis
//! (`Event(Apex, 0.0)` is the apex, `Event(TakeOff, -0.5)` half a second before take-off).
//! See `scenes/*.ron` for complete, commented examples.

use super::path::{Ease, catmull_rom};
use super::{Context, Ghost, TrajectoryStyle, ViewState, VirtualCamera};
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
    #[error("field `{field}`: {problem}: {path}")]
    Invalid {
        path: PathBuf,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CameraPath {
    Orbit(Orbit),
    /// Centripetal Catmull-Rom through the keys.
    Keyframes(Vec<CameraKey>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Spacing {
    #[default]
    UniformTime,
    /// Equal distances along the centre-of-mass track.
    UniformDistance,
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
            if let Some(sl) = &s.slices
                && !(2..=64).contains(&sl.count)
            {
                return Err(bad(f("slices.count"), "must be between 2 and 64"));
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
        for shot in &self.shots {
            for i in 0..self.shot_frames(shot) {
                out.push(shot.view(i as f64 / self.output.fps, ctx));
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
                let span = o.end - o.start;
                let u = if span > 0.0 {
                    o.ease.apply((s - o.start) / span)
                } else if s >= o.end {
                    1.0
                } else {
                    0.0
                };
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
                ghosts.push(Ghost {
                    time: t,
                    opacity: sl.oldest_opacity + (sl.newest_opacity - sl.oldest_opacity) * f,
                    tint: sl.tint,
                    tint_amount: sl.tint_amount,
                    desaturate: sl.desaturate,
                    rim: sl.rim,
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
        }
    }
}

fn slice_times(sl: &Slices, from: f64, to: f64, ctx: &Context) -> Vec<f64> {
    let n = sl.count.max(2);
    match sl.spacing {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(e.contains("shots[0].duration"), "{e}");
        let newer = DOC.replace("version: 1", "version: 9");
        assert!(matches!(
            Sequence::parse(&newer, Path::new("x")),
            Err(SequenceError::NewerVersion { .. })
        ));
    }

    #[test]
    fn round_trip_through_ron() {
        let seq = Sequence::parse(DOC, Path::new("a.ron")).expect("parses");
        let again = Sequence::parse(&seq.to_ron(), Path::new("b.ron")).expect("re-parses");
        assert_eq!(seq.frames(&ctx()), again.frames(&ctx()));
    }
}
