//! The synthetic athlete: an articulated body (15 segments plus helmet, goggles, boots and skis)
//! in a high-contrast suit, performing a freestyle aerial: in-run, kicker, ballistic flight with
//! back flips and a full twist, landing and out-run.
//!
//! The motion is analytic. During flight the centre of mass follows an exact parabola under
//! `g`; on the snow the skis stay on the surface. The same model answers ground-truth queries
//! (joint positions, centre of mass, distance to the body surface) at any time.

use super::shapes::{Primitive, Shape};
use super::venue::{Rgb, Venue, VenueParams, srgb};
use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;

/// Parameters of the jump (times on the capture's common timeline, seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AthleteParams {
    pub takeoff_time: f64,
    /// Speed along the kicker at the lip (m/s).
    pub takeoff_speed: f64,
    /// Time from take-off to landing (s).
    pub flight_time: f64,
    pub back_flips: f64,
    pub twists: f64,
    pub gravity: f64,
    /// Uniform scale of the body (1.0 = 1.78 m tall).
    pub body_scale: f64,
}

impl Default for AthleteParams {
    fn default() -> Self {
        Self {
            takeoff_time: 1.0,
            takeoff_speed: 11.5,
            flight_time: 2.5,
            back_flips: 2.0,
            twists: 1.0,
            gravity: 9.81,
            body_scale: 1.0,
        }
    }
}

/// A surface pattern evaluated in a segment's local frame (metres).
#[derive(Debug, Clone, Copy)]
pub enum Pattern {
    Solid(Rgb),
    /// Bands across the local axis `axis` with the given period.
    Bands {
        a: Rgb,
        b: Rgb,
        period: f64,
        axis: usize,
    },
    /// V-shaped chevrons pointing down the local z axis.
    Chevron {
        a: Rgb,
        b: Rgb,
        period: f64,
    },
    /// Diagonal stripes in the local (axis, z) plane.
    Diagonal {
        a: Rgb,
        b: Rgb,
        period: f64,
        axis: usize,
    },
    Checker {
        a: Rgb,
        b: Rgb,
        size: f64,
    },
    /// A stripe along the local x axis centred at y = 0.
    CentreStripe {
        a: Rgb,
        stripe: Rgb,
        half_width: f64,
    },
}

impl Pattern {
    pub fn albedo(&self, p: &Point3<f64>) -> Rgb {
        let pick = |a: Rgb, b: Rgb, v: f64| if v.rem_euclid(1.0) < 0.5 { a } else { b };
        match *self {
            Pattern::Solid(c) => c,
            Pattern::Bands { a, b, period, axis } => pick(a, b, p[axis] / period),
            Pattern::Chevron { a, b, period } => pick(a, b, (p.z + 0.7 * p.y.abs()) / period),
            Pattern::Diagonal { a, b, period, axis } => pick(a, b, (p.z + p[axis]) / period),
            Pattern::Checker { a, b, size } => {
                let k = (p.x / size).floor() + (p.y / size).floor() + (p.z / size).floor();
                if (k as i64).rem_euclid(2) == 0 { a } else { b }
            }
            Pattern::CentreStripe {
                a,
                stripe,
                half_width,
            } => {
                if p.y.abs() < half_width {
                    stripe
                } else {
                    a
                }
            }
        }
    }
}

/// Joint angles of one posture (radians). Index 0 is the left side, 1 the right.
#[derive(Debug, Clone, Copy, Default)]
struct Posture {
    spine: f64,
    neck: f64,
    shoulder_flex: [f64; 2],
    shoulder_abd: [f64; 2],
    elbow: [f64; 2],
    hip_flex: [f64; 2],
    hip_abd: [f64; 2],
    knee: [f64; 2],
    ski_pitch: [f64; 2],
}

impl Posture {
    #[allow(clippy::too_many_arguments)]
    fn deg(
        spine: f64,
        neck: f64,
        sflex: f64,
        sabd: f64,
        elbow: f64,
        hip: f64,
        knee: f64,
        habd: f64,
    ) -> Self {
        let r = f64::to_radians;
        Self {
            spine: r(spine),
            neck: r(neck),
            shoulder_flex: [r(sflex), r(sflex * 0.94)],
            shoulder_abd: [r(sabd), r(sabd * 1.05)],
            elbow: [r(elbow), r(elbow * 0.95)],
            hip_flex: [r(hip), r(hip)],
            hip_abd: [r(habd), r(habd)],
            knee: [r(knee), r(knee)],
            ski_pitch: [0.0, 0.0],
        }
    }

    fn lerp(&self, o: &Self, t: f64) -> Self {
        let l = |a: f64, b: f64| a + (b - a) * t;
        let l2 = |a: [f64; 2], b: [f64; 2]| [l(a[0], b[0]), l(a[1], b[1])];
        Self {
            spine: l(self.spine, o.spine),
            neck: l(self.neck, o.neck),
            shoulder_flex: l2(self.shoulder_flex, o.shoulder_flex),
            shoulder_abd: l2(self.shoulder_abd, o.shoulder_abd),
            elbow: l2(self.elbow, o.elbow),
            hip_flex: l2(self.hip_flex, o.hip_flex),
            hip_abd: l2(self.hip_abd, o.hip_abd),
            knee: l2(self.knee, o.knee),
            ski_pitch: l2(self.ski_pitch, o.ski_pitch),
        }
    }
}

/// Material indices (see [`materials`]).
mod mat {
    pub const TORSO: usize = 0;
    pub const PELVIS: usize = 1;
    pub const UPPER_ARM: usize = 2;
    pub const FOREARM: usize = 3;
    pub const GLOVE: usize = 4;
    pub const THIGH: usize = 5;
    pub const SHIN: usize = 6;
    pub const BOOT: usize = 7;
    pub const SKI: usize = 8;
    pub const HELMET: usize = 9;
    pub const GOGGLES: usize = 10;
    pub const FACE: usize = 11;
    pub const NECK: usize = 12;
}

/// The suit and equipment: bold colours and stripes so every camera sees texture.
pub fn materials() -> Vec<Pattern> {
    let red = srgb(214, 34, 44);
    let teal = srgb(0, 168, 186);
    let navy = srgb(20, 32, 90);
    let yellow = srgb(255, 206, 10);
    let orange = srgb(255, 118, 0);
    let black = srgb(18, 18, 22);
    let white = srgb(240, 240, 236);
    vec![
        Pattern::Chevron {
            a: red,
            b: teal,
            period: 0.13,
        },
        Pattern::Checker {
            a: navy,
            b: yellow,
            size: 0.07,
        },
        Pattern::Bands {
            a: red,
            b: yellow,
            period: 0.08,
            axis: 2,
        },
        Pattern::Bands {
            a: teal,
            b: navy,
            period: 0.07,
            axis: 2,
        },
        Pattern::Solid(black),
        Pattern::Diagonal {
            a: yellow,
            b: black,
            period: 0.10,
            axis: 0,
        },
        Pattern::Bands {
            a: navy,
            b: orange,
            period: 0.10,
            axis: 2,
        },
        Pattern::Solid(srgb(52, 54, 60)),
        Pattern::Diagonal {
            a: yellow,
            b: black,
            period: 0.30,
            axis: 0,
        },
        Pattern::CentreStripe {
            a: red,
            stripe: white,
            half_width: 0.028,
        },
        Pattern::Solid(srgb(240, 120, 20)),
        Pattern::Solid(srgb(224, 172, 140)),
        Pattern::Solid(navy),
    ]
}

/// One evaluated instant of the athlete.
#[derive(Debug, Clone)]
pub struct AthletePose {
    pub time: f64,
    pub primitives: Vec<Primitive>,
    pub centre_of_mass: Point3<f64>,
    pub joints: Vec<(&'static str, Point3<f64>)>,
    pub airborne: bool,
}

impl AthletePose {
    /// Signed distance from `p` to the athlete's surface (negative inside).
    pub fn signed_distance(&self, p: &Point3<f64>) -> f64 {
        self.primitives
            .iter()
            .map(|pr| pr.signed_distance(p))
            .fold(f64::INFINITY, f64::min)
    }

    /// World-space bounding sphere of the whole athlete.
    pub fn bounding_sphere(&self) -> (Point3<f64>, f64) {
        let c = self.centre_of_mass;
        let r = self
            .primitives
            .iter()
            .map(|p| (p.bound_centre - c).norm() + p.bound_radius)
            .fold(0.0, f64::max);
        (c, r)
    }
}

/// Arc-length table of the course centre line.
#[derive(Debug, Clone)]
struct Path {
    x0: f64,
    dx: f64,
    s: Vec<f64>,
}

impl Path {
    fn new(venue: &Venue) -> Self {
        let x0 = -90.0;
        let dx = 0.005;
        let n = ((90.0 + 80.0) / dx) as usize;
        let mut s = Vec::with_capacity(n);
        let mut acc = 0.0;
        let mut prev = venue.profile(x0).0;
        for i in 0..n {
            let x = x0 + i as f64 * dx;
            let z = venue.profile(x).0;
            if i > 0 {
                acc += (dx * dx + (z - prev) * (z - prev)).sqrt();
            }
            prev = z;
            s.push(acc);
        }
        Self { x0, dx, s }
    }

    fn s_at(&self, x: f64) -> f64 {
        let f = ((x - self.x0) / self.dx).clamp(0.0, (self.s.len() - 2) as f64);
        let i = f.floor() as usize;
        let t = f - i as f64;
        self.s[i] * (1.0 - t) + self.s[i + 1] * t
    }

    fn x_at(&self, s: f64) -> f64 {
        let i = self
            .s
            .partition_point(|&v| v < s)
            .clamp(1, self.s.len() - 1);
        let (a, b) = (self.s[i - 1], self.s[i]);
        let t = if b > a {
            ((s - a) / (b - a)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.x0 + (i as f64 - 1.0 + t) * self.dx
    }
}

#[derive(Debug, Clone)]
pub struct Athlete {
    pub params: AthleteParams,
    pub venue: Venue,
    materials: Vec<Pattern>,
    path: Path,
    takeoff_com: Point3<f64>,
    takeoff_velocity: Vector3<f64>,
    takeoff_pitch: f64,
    landing_pitch: f64,
    s_lip: f64,
    s_land: f64,
    outrun_speed: f64,
}

fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn rot_x(a: f64) -> UnitQuaternion<f64> {
    UnitQuaternion::from_axis_angle(&Vector3::x_axis(), a)
}
fn rot_y(a: f64) -> UnitQuaternion<f64> {
    UnitQuaternion::from_axis_angle(&Vector3::y_axis(), a)
}
fn rot_z(a: f64) -> UnitQuaternion<f64> {
    UnitQuaternion::from_axis_angle(&Vector3::z_axis(), a)
}
fn tr(x: f64, y: f64, z: f64) -> Isometry3<f64> {
    Isometry3::from_parts(Translation3::new(x, y, z), UnitQuaternion::identity())
}
fn rot(q: UnitQuaternion<f64>) -> Isometry3<f64> {
    Isometry3::from_parts(Translation3::identity(), q)
}

/// Body-frame model: segments as primitives (in the root frame) with masses and joints.
struct Body {
    prims: Vec<(Shape, Isometry3<f64>, usize, f64)>,
    joints: Vec<(&'static str, Point3<f64>)>,
    /// Lowest point of the ski soles along the body's up axis.
    sole_z: f64,
}

fn build_body(p: &Posture, scale: f64) -> Body {
    let k = scale;
    let mut prims = Vec::new();
    let mut joints = Vec::new();
    let root = Isometry3::identity();
    let ell = |cx: f64, cy: f64, cz: f64, rx: f64, ry: f64, rz: f64| Shape::Ellipsoid {
        centre: Point3::new(cx * k, cy * k, cz * k),
        radii: Vector3::new(rx * k, ry * k, rz * k),
    };
    let cap = |len: f64, r: f64| Shape::Capsule {
        a: Point3::origin(),
        b: Point3::new(0.0, 0.0, -len * k),
        radius: r * k,
    };
    let cub = |cx: f64, cz: f64, hx: f64, hy: f64, hz: f64| Shape::Cuboid {
        centre: Point3::new(cx * k, 0.0, cz * k),
        half: Vector3::new(hx * k, hy * k, hz * k),
    };
    prims.push((
        ell(0.0, 0.0, 0.03, 0.11, 0.165, 0.12),
        root,
        mat::PELVIS,
        11.0,
    ));
    joints.push(("pelvis", Point3::origin()));
    let spine = root * tr(0.0, 0.0, 0.08 * k) * rot(rot_y(p.spine));
    prims.push((
        ell(0.0, 0.0, 0.25, 0.115, 0.175, 0.26),
        spine,
        mat::TORSO,
        26.0,
    ));
    joints.push(("spine", spine * Point3::origin()));
    let neck = spine * tr(0.0, 0.0, 0.50 * k) * rot(rot_y(p.neck));
    joints.push(("neck", neck * Point3::origin()));
    prims.push((
        Shape::Capsule {
            a: Point3::new(0.0, 0.0, -0.03 * k),
            b: Point3::new(0.0, 0.0, 0.07 * k),
            radius: 0.05 * k,
        },
        neck,
        mat::NECK,
        1.0,
    ));
    prims.push((
        ell(0.012, 0.0, 0.13, 0.095, 0.08, 0.115),
        neck,
        mat::FACE,
        4.0,
    ));
    prims.push((
        ell(-0.012, 0.0, 0.158, 0.118, 0.103, 0.106),
        neck,
        mat::HELMET,
        0.6,
    ));
    prims.push((
        ell(0.078, 0.0, 0.135, 0.035, 0.075, 0.028),
        neck,
        mat::GOGGLES,
        0.1,
    ));
    joints.push(("head_top", neck * Point3::new(0.0, 0.0, 0.27 * k)));
    let names_arm = [
        ("shoulder_l", "elbow_l", "wrist_l"),
        ("shoulder_r", "elbow_r", "wrist_r"),
    ];
    let names_leg = [
        ("hip_l", "knee_l", "ankle_l"),
        ("hip_r", "knee_r", "ankle_r"),
    ];
    let mut sole_z = f64::INFINITY;
    for (i, side) in [1.0f64, -1.0].into_iter().enumerate() {
        let sh = spine
            * tr(0.0, side * 0.185 * k, 0.43 * k)
            * rot(rot_x(side * p.shoulder_abd[i]) * rot_y(-p.shoulder_flex[i]));
        prims.push((cap(0.28, 0.048), sh, mat::UPPER_ARM, 2.0));
        let el = sh * tr(0.0, 0.0, -0.28 * k) * rot(rot_y(-p.elbow[i]));
        prims.push((cap(0.25, 0.04), el, mat::FOREARM, 1.3));
        let wr = el * tr(0.0, 0.0, -0.25 * k);
        prims.push((ell(0.0, 0.0, -0.07, 0.03, 0.045, 0.08), wr, mat::GLOVE, 0.5));
        joints.push((names_arm[i].0, sh * Point3::origin()));
        joints.push((names_arm[i].1, el * Point3::origin()));
        joints.push((names_arm[i].2, wr * Point3::origin()));

        let hip = root
            * tr(0.0, side * 0.09 * k, -0.02 * k)
            * rot(rot_x(side * p.hip_abd[i]) * rot_y(-p.hip_flex[i]));
        prims.push((cap(0.42, 0.072), hip, mat::THIGH, 7.5));
        let knee = hip * tr(0.0, 0.0, -0.42 * k) * rot(rot_y(p.knee[i]));
        prims.push((cap(0.41, 0.052), knee, mat::SHIN, 3.4));
        let ankle_angle = p.ski_pitch[i] - p.knee[i] + p.hip_flex[i];
        let ankle = knee * tr(0.0, 0.0, -0.41 * k) * rot(rot_y(ankle_angle));
        prims.push((cub(0.04, -0.05, 0.15, 0.055, 0.075), ankle, mat::BOOT, 2.2));
        prims.push((cub(0.12, -0.14, 0.84, 0.045, 0.012), ankle, mat::SKI, 1.6));
        joints.push((names_leg[i].0, hip * Point3::origin()));
        joints.push((names_leg[i].1, knee * Point3::origin()));
        joints.push((names_leg[i].2, ankle * Point3::origin()));
        let sole = ankle * Point3::new(0.12 * k, 0.0, -0.152 * k);
        sole_z = sole_z.min(sole.z);
    }
    Body {
        prims,
        joints,
        sole_z,
    }
}

fn shape_centre(s: &Shape) -> Point3<f64> {
    match *s {
        Shape::Ellipsoid { centre, .. } => centre,
        Shape::Capsule { a, b, .. } => nalgebra::center(&a, &b),
        Shape::Cuboid { centre, .. } => centre,
    }
}

fn body_com(body: &Body) -> Point3<f64> {
    let mut m = 0.0;
    let mut acc = Vector3::zeros();
    for (s, iso, _, mass) in &body.prims {
        acc += (iso * shape_centre(s)).coords * *mass;
        m += mass;
    }
    Point3::from(acc / m)
}

impl Athlete {
    /// Designs the jump: given the venue (whose knoll length is adjusted so the landing falls on
    /// the landing hill after exactly `flight_time`), returns the athlete and the final venue.
    pub fn design(params: AthleteParams, venue: VenueParams) -> (Self, VenueParams) {
        let mut venue_params = venue;
        // Iterate: the knoll length changes the path but not the flight.
        for _ in 0..3 {
            let athlete = Self::with_venue(params.clone(), Venue::new(venue_params.clone()));
            let t_land = params.takeoff_time + params.flight_time;
            let com_land = athlete.flight_com(t_land);
            let posture = athlete.posture(t_land);
            let body = build_body(&posture, params.body_scale);
            let hc = body_com(&body).z - body.sole_z;
            let a = -venue_params.landing_angle_deg.to_radians();
            let normal = Vector3::new(-a.sin(), 0.0, a.cos());
            let contact = com_land - normal * hc;
            // Straight part of the landing hill: z = table - tan(alpha) * (x - knoll_end - 2.5).
            let table = athlete.venue.table_z();
            let tl = venue_params.landing_angle_deg.to_radians().tan();
            venue_params.knoll_end = contact.x - 2.5 + (contact.z - table) / tl;
        }
        let athlete = Self::with_venue(params, Venue::new(venue_params.clone()));
        (athlete, venue_params)
    }

    /// Rebuilds an athlete from stored parameters (the venue must be the designed one).
    pub fn with_venue(params: AthleteParams, venue: Venue) -> Self {
        let path = Path::new(&venue);
        let s_lip = path.s_at(0.0);
        let (_, slope) = venue.profile(0.0);
        let takeoff_pitch = slope.atan();
        let tangent = Vector3::new(1.0, 0.0, slope).normalize();
        let normal = Vector3::new(-slope, 0.0, 1.0).normalize();
        let mut me = Self {
            materials: materials(),
            path,
            takeoff_com: Point3::origin(),
            takeoff_velocity: tangent * params.takeoff_speed,
            takeoff_pitch,
            landing_pitch: -venue.params.landing_angle_deg.to_radians(),
            s_lip,
            s_land: 0.0,
            outrun_speed: 0.0,
            venue,
            params,
        };
        let hc = me.com_height(me.params.takeoff_time);
        me.takeoff_com = Point3::new(0.0, 0.0, 0.0) + normal * hc;
        // Landing contact and out-run speed.
        let t_land = me.params.takeoff_time + me.params.flight_time;
        let com_land = me.flight_com(t_land);
        let a = me.landing_pitch;
        let n_l = Vector3::new(-a.sin(), 0.0, a.cos());
        let contact = com_land - n_l * me.com_height(t_land);
        me.s_land = me.path.s_at(contact.x);
        let v_land = me.takeoff_velocity
            + Vector3::new(0.0, 0.0, -me.params.gravity * me.params.flight_time);
        let t_l = Vector3::new(a.cos(), 0.0, a.sin());
        me.outrun_speed = v_land.dot(&t_l).max(3.0);
        me
    }

    pub fn takeoff_time(&self) -> f64 {
        self.params.takeoff_time
    }

    pub fn landing_time(&self) -> f64 {
        self.params.takeoff_time + self.params.flight_time
    }

    /// Time of the highest point of the centre of mass.
    pub fn apex_time(&self) -> f64 {
        self.params.takeoff_time + self.takeoff_velocity.z / self.params.gravity
    }

    pub fn materials(&self) -> &[Pattern] {
        &self.materials
    }

    fn flight_com(&self, t: f64) -> Point3<f64> {
        let tau = t - self.params.takeoff_time;
        self.takeoff_com
            + self.takeoff_velocity * tau
            + Vector3::new(0.0, 0.0, -0.5 * self.params.gravity * tau * tau)
    }

    /// Posture keyframes over the jump.
    fn posture(&self, t: f64) -> Posture {
        let t0 = self.params.takeoff_time;
        let ft = self.params.flight_time;
        let tl = t0 + ft;
        let crouch = Posture::deg(38.0, -25.0, 45.0, 18.0, 55.0, 72.0, 92.0, 4.0);
        let extend = Posture::deg(4.0, -5.0, 150.0, 22.0, 12.0, 8.0, 10.0, 3.0);
        let layout = Posture::deg(-6.0, 5.0, 88.0, 80.0, 10.0, 0.0, 4.0, 5.0);
        let tight = Posture::deg(2.0, 0.0, 25.0, 12.0, 105.0, 2.0, 4.0, 0.0);
        let prepare = Posture::deg(14.0, -10.0, 70.0, 45.0, 30.0, 28.0, 32.0, 4.0);
        let absorb = Posture::deg(42.0, -25.0, 62.0, 30.0, 60.0, 82.0, 100.0, 6.0);
        let outrun = Posture::deg(24.0, -15.0, 40.0, 25.0, 40.0, 45.0, 55.0, 5.0);
        let keys: [(f64, &Posture); 11] = [
            (t0 - 10.0, &crouch),
            (t0 - 0.22, &crouch),
            (t0, &extend),
            (t0 + 0.18 * ft, &layout),
            (t0 + 0.30 * ft, &tight),
            (t0 + 0.68 * ft, &tight),
            (t0 + 0.80 * ft, &layout),
            (t0 + 0.94 * ft, &prepare),
            (tl, &prepare),
            (tl + 0.18, &absorb),
            (tl + 0.8, &outrun),
        ];
        if t <= keys[0].0 {
            return *keys[0].1;
        }
        for w in keys.windows(2) {
            let (ta, pa) = w[0];
            let (tb, pb) = w[1];
            if t <= tb {
                return pa.lerp(pb, smoothstep(ta, tb, t));
            }
        }
        *keys[keys.len() - 1].1
    }

    /// Height of the centre of mass above the ski soles, along the body axis, at time t.
    fn com_height(&self, t: f64) -> f64 {
        let body = build_body(&self.posture(t), self.params.body_scale);
        body_com(&body).z - body.sole_z
    }

    /// Body orientation: pitch (positive leans back, the back-flip direction) and twist.
    fn orientation(&self, t: f64) -> (f64, f64) {
        let t0 = self.params.takeoff_time;
        let ft = self.params.flight_time;
        if t <= t0 {
            let s = self.s_lip - self.params.takeoff_speed * (t0 - t);
            let x = self.path.x_at(s);
            return (self.venue.profile(x).1.atan(), 0.0);
        }
        if t >= t0 + ft {
            let s = self.s_land + self.outrun_speed * (t - t0 - ft);
            let x = self.path.x_at(s);
            let twist = TAU * self.params.twists;
            return (
                self.venue.profile(x).1.atan() + TAU * self.params.back_flips,
                twist,
            );
        }
        let u = (t - t0) / ft;
        let ease = u - 0.3 * (TAU * u).sin() / TAU;
        let total = self.landing_pitch + TAU * self.params.back_flips - self.takeoff_pitch;
        let pitch = self.takeoff_pitch + total * ease;
        let twist = TAU * self.params.twists * smoothstep(0.30, 0.70, u);
        (pitch, twist)
    }

    /// Evaluates the athlete at time t (common timeline, seconds).
    pub fn pose(&self, t: f64) -> AthletePose {
        let posture = self.posture(t);
        let body = build_body(&posture, self.params.body_scale);
        let com_body = body_com(&body);
        let (pitch, twist) = self.orientation(t);
        let q = rot_y(-pitch) * rot_z(twist);
        let t0 = self.params.takeoff_time;
        let tl = self.landing_time();
        let airborne = t > t0 && t < tl;
        let com = if airborne {
            self.flight_com(t)
        } else {
            let s = if t <= t0 {
                self.s_lip - self.params.takeoff_speed * (t0 - t)
            } else {
                self.s_land + self.outrun_speed * (t - tl)
            };
            let x = self.path.x_at(s);
            let (z, slope) = self.venue.profile(x);
            let n = Vector3::new(-slope, 0.0, 1.0).normalize();
            Point3::new(x, 0.0, z) + n * (com_body.z - body.sole_z)
        };
        // Place the root so the body's centre of mass lands on `com`.
        let root_pos = com - q * com_body.coords;
        let world_from_root = Isometry3::from_parts(Translation3::from(root_pos.coords), q);
        let primitives = body
            .prims
            .iter()
            .map(|(shape, iso, m, _)| Primitive::new(*shape, world_from_root * iso, *m))
            .collect();
        let joints = body
            .joints
            .iter()
            .map(|(n, p)| (*n, world_from_root * p))
            .collect();
        AthletePose {
            time: t,
            primitives,
            centre_of_mass: com,
            joints,
            airborne,
        }
    }

    /// Shaded albedo of a primitive's material at a local point.
    pub fn albedo(&self, material: usize, local: &Point3<f64>) -> Rgb {
        self.materials
            .get(material)
            .map(|p| p.albedo(local))
            .unwrap_or_else(|| Rgb::new(1.0, 0.0, 1.0))
    }
}

/// Rotation of the body about the lateral axis since take-off, in whole turns (for reports).
pub fn flips_between(a: &Athlete, t0: f64, t1: f64) -> f64 {
    (a.orientation(t1).0 - a.orientation(t0).0) / TAU
}

#[cfg(test)]
mod tests {
    use super::*;

    fn athlete() -> Athlete {
        Athlete::design(AthleteParams::default(), VenueParams::default()).0
    }

    #[test]
    fn centre_of_mass_is_ballistic_in_flight() {
        let a = athlete();
        let t0 = a.takeoff_time();
        let g = a.params.gravity;
        let h = 1e-3;
        for i in 1..20 {
            let t = t0 + a.params.flight_time * i as f64 / 20.0;
            let c = |t| a.pose(t).centre_of_mass;
            let acc = (c(t + h) - c(t) * 2.0 + c(t - h).coords) / (h * h);
            assert!(
                (acc.z + g).abs() < 1e-3,
                "vertical acceleration {} at {t}",
                acc.z
            );
            assert!(acc.x.abs() < 1e-3 && acc.y.abs() < 1e-3);
        }
    }

    #[test]
    fn skis_touch_the_snow_before_take_off_and_after_landing() {
        let a = athlete();
        // On the flat approach and the straight landing hill (on the kicker's curve the straight
        // skis bridge the arc, a few centimetres).
        for t in [
            a.takeoff_time() - 0.6,
            a.takeoff_time() - 0.45,
            a.landing_time() + 0.05,
            a.landing_time() + 0.5,
        ] {
            let pose = a.pose(t);
            // The lowest ski point must be within a few centimetres of the snow.
            let mut lowest = f64::INFINITY;
            for p in pose.primitives.iter().filter(|p| p.material == mat::SKI) {
                for sx in [-0.8, 0.0, 0.8] {
                    let q = p.world_from_local * Point3::new(0.12 + sx, 0.0, -0.152);
                    lowest = lowest.min(q.z - a.venue.height(q.x, q.y));
                }
            }
            assert!(
                lowest.abs() < 0.12,
                "ski sole {lowest} m from the snow at t={t}"
            );
        }
    }

    #[test]
    fn jump_has_two_flips_one_twist_and_a_real_apex() {
        let a = athlete();
        let flips = flips_between(&a, a.takeoff_time(), a.landing_time());
        assert!((flips - 1.744).abs() < 0.05, "net rotation {flips} turns");
        let apex = a.pose(a.apex_time()).centre_of_mass;
        let take = a.pose(a.takeoff_time()).centre_of_mass;
        assert!(
            apex.z - take.z > 3.5,
            "apex only {} m above take-off",
            apex.z - take.z
        );
        assert_eq!(a.pose(a.apex_time()).primitives.len(), 20);
    }
}
