//! 3D Gaussian splat PLY files in the INRIA layout that 3D Gaussian Splatting, Brush, gsplat,
//! SuperSplat and bevy_gaussian_splatting read and write: one `vertex` element with
//! `x y z nx ny nz f_dc_0..2 f_rest_0..44 opacity scale_0..2 rot_0..3`, binary little endian.
//!
//! What the file stores and what [`GaussianCloud`] holds:
//!
//! | file | cloud |
//! |---|---|
//! | `x y z` | `positions` (the file's own world; see [`up_rotation`]) |
//! | `f_dc_0..2` | `colours = 0.5 + 0.28209479 * f_dc`: the 3DGS base colour, in the space its training images were in (sRGB-encoded display values, nominally 0..1, not clamped) |
//! | `f_rest_*` | `sh_rest`, kept for the round trip (the renderer draws the base colour only) |
//! | `opacity` | `opacities = sigmoid(opacity)` |
//! | `scale_0..2` | `scales = exp(scale_i)`: standard deviations along the local axes, metres |
//! | `rot_0..3` | `rotations`: unit quaternions `w x y z`, local to world (normalised on read) |
//! | `nx ny nz` | `normals` (zeros when absent; 3DGS ignores them) |
//!
//! Reading accepts any property order and scalar type, ignores properties it does not know,
//! allows files without `f_rest_*` or normals, and reads `ascii`, `binary_little_endian` and
//! `binary_big_endian`. Elements other than `vertex` are skipped. A malformed file is an error
//! naming the file and the problem, never a panic.
//!
//! Writing always produces the INRIA layout with 45 `f_rest` coefficients (zeros when the cloud
//! has none), because the reference implementation refuses files with fewer.

use crate::reconstruct::SplatFrame;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The zeroth-order spherical-harmonic constant, `1 / (2 sqrt(pi))`.
pub const SH_C0: f32 = 0.282_094_8;

/// `f_rest` coefficients written when a cloud has none (degree 3, as the INRIA code expects).
pub const SH_REST_WRITTEN: usize = 45;

#[derive(Debug, thiserror::Error)]
pub enum GaussianPlyError {
    #[error("cannot read the Gaussian splat file ({source}): {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a valid 3D Gaussian splat PLY ({problem}): {path}")]
    Invalid { path: PathBuf, problem: String },
    #[error("cannot write the Gaussian splat file ({source}): {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A cloud of anisotropic 3D Gaussians (structure of arrays, all the same length).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GaussianCloud {
    pub positions: Vec<[f32; 3]>,
    /// Standard deviations along the Gaussian's local x, y, z axes (metres, linear).
    pub scales: Vec<[f32; 3]>,
    /// Unit quaternions `[w, x, y, z]` turning the local axes into the world.
    pub rotations: Vec<[f32; 4]>,
    /// Peak opacity, 0..1.
    pub opacities: Vec<f32>,
    /// Base (view-independent) colour, sRGB-encoded display values as 3DGS stores them.
    pub colours: Vec<[f32; 3]>,
    /// Unit normals where known, zeros otherwise.
    pub normals: Vec<[f32; 3]>,
    /// Higher-order SH coefficients, `sh_rest_len` per Gaussian in file order (`f_rest_0..`,
    /// channel-major as the INRIA code writes them). Empty when `sh_rest_len` is 0.
    pub sh_rest: Vec<f32>,
    pub sh_rest_len: usize,
}

impl GaussianCloud {
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Mean of the positions (zero for an empty cloud).
    pub fn centroid(&self) -> [f32; 3] {
        let n = self.len().max(1) as f64;
        let mut s = [0.0f64; 3];
        for p in &self.positions {
            for k in 0..3 {
                s[k] += p[k] as f64;
            }
        }
        [(s[0] / n) as f32, (s[1] / n) as f32, (s[2] / n) as f32]
    }

    /// Axis-aligned bounds of the positions, `None` when empty.
    pub fn bounds(&self) -> Option<([f32; 3], [f32; 3])> {
        let first = *self.positions.first()?;
        let (mut lo, mut hi) = (first, first);
        for p in &self.positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        Some((lo, hi))
    }

    /// Reads a Gaussian splat PLY.
    pub fn read(path: &Path) -> Result<Self, GaussianPlyError> {
        let bytes = std::fs::read(path).map_err(|source| GaussianPlyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes, path)
    }

    /// Parses the bytes of a Gaussian splat PLY; `path` names it in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, GaussianPlyError> {
        parse(bytes).map_err(|problem| GaussianPlyError::Invalid {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// Writes the cloud as a binary little-endian INRIA-layout PLY, atomically (a temporary
    /// name renamed into place when complete).
    pub fn write(&self, path: &Path) -> Result<(), GaussianPlyError> {
        let err = |source| GaussianPlyError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(problem) = self.inconsistency() {
            return Err(err(std::io::Error::other(problem)));
        }
        let rest = if self.sh_rest_len == 0 {
            SH_REST_WRITTEN
        } else {
            self.sh_rest_len
        };
        let file = crate::util::AtomicFile::new(path).map_err(err)?;
        {
            let f = std::fs::File::create(file.temp_path()).map_err(err)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            let mut header = String::from("ply\nformat binary_little_endian 1.0\n");
            header.push_str("comment 3D Gaussian splats written by replay360\n");
            header.push_str(&format!("element vertex {}\n", self.len()));
            let mut names: Vec<String> = ["x", "y", "z", "nx", "ny", "nz"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            names.extend((0..3).map(|i| format!("f_dc_{i}")));
            names.extend((0..rest).map(|i| format!("f_rest_{i}")));
            names.push("opacity".into());
            names.extend((0..3).map(|i| format!("scale_{i}")));
            names.extend((0..4).map(|i| format!("rot_{i}")));
            for n in &names {
                header.push_str(&format!("property float {n}\n"));
            }
            header.push_str("end_header\n");
            w.write_all(header.as_bytes()).map_err(err)?;
            let mut rec: Vec<f32> = Vec::with_capacity(names.len());
            for i in 0..self.len() {
                rec.clear();
                rec.extend_from_slice(&self.positions[i]);
                rec.extend_from_slice(&self.normals[i]);
                rec.extend(self.colours[i].iter().map(|c| (c - 0.5) / SH_C0));
                if self.sh_rest_len == 0 {
                    rec.extend(std::iter::repeat_n(0.0, rest));
                } else {
                    rec.extend_from_slice(
                        &self.sh_rest[i * self.sh_rest_len..(i + 1) * self.sh_rest_len],
                    );
                }
                rec.push(logit(self.opacities[i]));
                rec.extend(self.scales[i].iter().map(|s| s.max(1e-30).ln()));
                rec.extend_from_slice(&self.rotations[i]);
                for v in &rec {
                    w.write_all(&v.to_le_bytes()).map_err(err)?;
                }
            }
            w.flush().map_err(err)?;
        }
        file.commit().map_err(err)?;
        Ok(())
    }

    /// The first way the arrays disagree in length, if any.
    fn inconsistency(&self) -> Option<String> {
        let n = self.len();
        let lens = [
            ("scales", self.scales.len()),
            ("rotations", self.rotations.len()),
            ("opacities", self.opacities.len()),
            ("colours", self.colours.len()),
            ("normals", self.normals.len()),
            ("sh_rest", self.sh_rest.len() / self.sh_rest_len.max(1)),
        ];
        for (name, len) in lens {
            if len != n && !(name == "sh_rest" && self.sh_rest_len == 0) {
                return Some(format!("{n} positions but {len} {name}"));
            }
        }
        None
    }

    /// Re-expresses the cloud in a world whose up axis is the given axis of this cloud's world
    /// (see [`up_rotation`]): positions, normals and orientations turn; the SH rest coefficients
    /// are kept as they are (the renderer draws the base colour only).
    pub fn rotate_up(&mut self, up: &str) -> Result<(), String> {
        self.rotate(up_rotation(up)?);
        Ok(())
    }

    /// Turns the cloud by `q`: positions, normals and orientations (the SH rest coefficients
    /// are kept as they are).
    pub fn rotate(&mut self, q: nalgebra::UnitQuaternion<f32>) {
        if q == nalgebra::UnitQuaternion::identity() {
            return;
        }
        let turn = |p: &mut [f32; 3]| {
            let v = q * nalgebra::Vector3::new(p[0], p[1], p[2]);
            *p = [v.x, v.y, v.z];
        };
        self.positions.iter_mut().for_each(turn);
        self.normals.iter_mut().for_each(turn);
        for r in &mut self.rotations {
            let local = nalgebra::UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
                r[0], r[1], r[2], r[3],
            ));
            let w = q * local;
            *r = [w.w, w.i, w.j, w.k];
        }
    }

    /// Our splat discs as flat Gaussians. A disc of radius `r` with normal `n` (drawn opaque
    /// with a soft rim) becomes a Gaussian with standard deviation `r / sqrt(2)` in the disc's
    /// plane, so its integrated footprint `2 pi sigma^2` equals the disc's area `pi r^2`, and
    /// `r / 10` along the normal; opacity 0.99; its local z axis is the normal. Colours are
    /// our sRGB bytes / 255, which is what 3DGS stores as its base colour.
    pub fn from_splats(frame: &SplatFrame) -> Self {
        let n = frame.len();
        let mut c = Self {
            positions: frame.positions.clone(),
            normals: frame.normals.clone(),
            ..Default::default()
        };
        c.scales.reserve(n);
        c.rotations.reserve(n);
        for i in 0..n {
            let r = frame.radii[i].max(0.0);
            let s = r * std::f32::consts::FRAC_1_SQRT_2;
            c.scales.push([s, s, r * 0.1]);
            c.rotations.push(z_to(frame.normals[i]));
            c.opacities.push(0.99);
            let k = frame.colours[i];
            c.colours.push([
                k[0] as f32 / 255.0,
                k[1] as f32 / 255.0,
                k[2] as f32 / 255.0,
            ]);
        }
        c
    }
}

/// The benchmark's person, by the recipe of `make_splat_ply.py` (shared/bench): `n` isotropic
/// Gaussians (8 mm, opacity sigmoid(2)) on the surfaces of eight capsules (torso, head, arms,
/// thighs, shins) of a 1.9 m figure standing along +Y around the origin, one colour per
/// capsule. Same shape, counts and parameters as the script's file; its own random numbers.
pub fn benchmark_person(n: usize, seed: u64) -> GaussianCloud {
    use crate::util::hash::{Rng, normal};
    type Seg = ([f32; 3], [f32; 3], f32);
    let segs: [Seg; 8] = [
        ([0.0, 1.0, 0.0], [0.0, 1.5, 0.0], 0.16),
        ([0.0, 1.6, 0.0], [0.0, 1.8, 0.0], 0.11),
        ([0.2, 1.45, 0.0], [0.5, 1.1, 0.0], 0.05),
        ([-0.2, 1.45, 0.0], [-0.5, 1.1, 0.0], 0.05),
        ([0.1, 1.0, 0.0], [0.15, 0.5, 0.0], 0.07),
        ([-0.1, 1.0, 0.0], [-0.15, 0.5, 0.0], 0.07),
        ([0.15, 0.5, 0.0], [0.15, 0.05, 0.0], 0.06),
        ([-0.15, 0.5, 0.0], [-0.15, 0.05, 0.0], 0.06),
    ];
    let per = n / segs.len();
    let mut rng = Rng::new(seed);
    let mut c = GaussianCloud::default();
    for (a, b, r) in segs {
        let base = [
            rng.uniform(0.0, 1.0) as f32,
            rng.uniform(0.0, 1.0) as f32,
            rng.uniform(0.0, 1.0) as f32,
        ];
        for _ in 0..per {
            let t = rng.uniform(0.0, 1.0) as f32;
            let mut d = [0f32; 3];
            for v in &mut d {
                *v = normal(rng.next_u64()) as f32;
            }
            let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt().max(1e-9);
            let p: [f32; 3] = std::array::from_fn(|k| a[k] + t * (b[k] - a[k]) + d[k] / len * r);
            c.positions.push([p[0], p[1] - 0.9, p[2]]);
            c.colours.push(std::array::from_fn(|k| {
                base[k] * 0.8 + 0.1 * rng.uniform(0.0, 1.0) as f32
            }));
            c.normals.push([0.0; 3]);
            c.scales.push([0.008; 3]);
            c.rotations.push([1.0, 0.0, 0.0, 0.0]);
            c.opacities.push(sigmoid(2.0));
        }
    }
    c
}

/// The rotation taking this world's `up` axis (`+z`, `-z`, `+y`, `-y`, `+x`, `-x`) to +Z, the
/// replay360 convention (the same mapping as `replay360 import --up`). For the benchmark file,
/// which is Y-up with the person standing along +Y, `+y` turns it upright.
pub fn up_rotation(up: &str) -> Result<nalgebra::UnitQuaternion<f32>, String> {
    use nalgebra::{UnitQuaternion, Vector3};
    use std::f32::consts::{FRAC_PI_2, PI};
    Ok(match up {
        "+z" | "z" => UnitQuaternion::identity(),
        "-z" => UnitQuaternion::from_axis_angle(&Vector3::x_axis(), PI),
        "+y" | "y" => UnitQuaternion::from_axis_angle(&Vector3::x_axis(), FRAC_PI_2),
        "-y" => UnitQuaternion::from_axis_angle(&Vector3::x_axis(), -FRAC_PI_2),
        "+x" | "x" => UnitQuaternion::from_axis_angle(&Vector3::y_axis(), -FRAC_PI_2),
        "-x" => UnitQuaternion::from_axis_angle(&Vector3::y_axis(), FRAC_PI_2),
        other => {
            return Err(format!(
                "unknown up axis {other:?} (+z, -z, +y, -y, +x, -x)"
            ));
        }
    })
}

/// The unit quaternion `[w, x, y, z]` turning +Z onto `n` (identity for a zero normal).
fn z_to(n: [f32; 3]) -> [f32; 4] {
    let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    if len.is_nan() || len <= 1e-12 {
        return [1.0, 0.0, 0.0, 0.0];
    }
    let n = [n[0] / len, n[1] / len, n[2] / len];
    // q = (1 + z.n, z x n), normalised; z x n = (-n.y, n.x, 0).
    let w = 1.0 + n[2];
    if w < 1e-6 {
        return [0.0, 1.0, 0.0, 0.0]; // half a turn about x
    }
    let (x, y) = (-n[1], n[0]);
    let l = (w * w + x * x + y * y).sqrt();
    [w / l, x / l, y / l, 0.0]
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Scalar {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "char" | "int8" => Self::I8,
            "uchar" | "uint8" => Self::U8,
            "short" | "int16" => Self::I16,
            "ushort" | "uint16" => Self::U16,
            "int" | "int32" => Self::I32,
            "uint" | "uint32" => Self::U32,
            "float" | "float32" => Self::F32,
            "double" | "float64" => Self::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    /// The value at the start of `b` (which holds at least `size()` bytes).
    fn read(self, b: &[u8], big: bool) -> f64 {
        let mut a = [0u8; 8];
        let n = self.size();
        a[..n].copy_from_slice(&b[..n]);
        if big {
            a[..n].reverse();
        }
        match self {
            Self::I8 => a[0] as i8 as f64,
            Self::U8 => a[0] as f64,
            Self::I16 => i16::from_le_bytes([a[0], a[1]]) as f64,
            Self::U16 => u16::from_le_bytes([a[0], a[1]]) as f64,
            Self::I32 => i32::from_le_bytes([a[0], a[1], a[2], a[3]]) as f64,
            Self::U32 => u32::from_le_bytes([a[0], a[1], a[2], a[3]]) as f64,
            Self::F32 => f32::from_le_bytes([a[0], a[1], a[2], a[3]]) as f64,
            Self::F64 => f64::from_le_bytes(a),
        }
    }
}

#[derive(Debug, Clone)]
enum PropKind {
    Scalar(Scalar),
    List { count: Scalar, item: Scalar },
}

#[derive(Debug, Clone)]
struct Prop {
    name: String,
    kind: PropKind,
}

#[derive(Debug, Clone)]
struct Element {
    name: String,
    count: usize,
    props: Vec<Prop>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Ascii,
    BinaryLe,
    BinaryBe,
}

struct Header {
    format: Format,
    elements: Vec<Element>,
    /// Offset of the first byte after `end_header\n`.
    body: usize,
}

fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    if !bytes.starts_with(b"ply") {
        return Err("it does not start with \"ply\"".into());
    }
    let limit = bytes.len().min(1 << 20);
    let mut pos = 0;
    let mut format = None;
    let mut elements: Vec<Element> = Vec::new();
    let mut first = true;
    loop {
        let Some(nl) = bytes[pos..limit].iter().position(|&b| b == b'\n') else {
            return Err("the header has no end_header line".into());
        };
        let raw = &bytes[pos..pos + nl];
        pos += nl + 1;
        let line = std::str::from_utf8(raw)
            .map_err(|_| "the header is not text".to_string())?
            .trim_end_matches('\r')
            .trim();
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        if first {
            first = false;
            if keyword != "ply" {
                return Err("it does not start with \"ply\"".into());
            }
            continue;
        }
        match keyword {
            "format" => {
                format = Some(match words.next() {
                    Some("ascii") => Format::Ascii,
                    Some("binary_little_endian") => Format::BinaryLe,
                    Some("binary_big_endian") => Format::BinaryBe,
                    other => return Err(format!("unknown format {:?}", other.unwrap_or(""))),
                });
            }
            "comment" | "obj_info" => {}
            "element" => {
                let name = words.next().ok_or("an element line has no name")?;
                let count = words
                    .next()
                    .and_then(|c| c.parse::<usize>().ok())
                    .ok_or_else(|| format!("element {name} has no valid count"))?;
                elements.push(Element {
                    name: name.to_owned(),
                    count,
                    props: Vec::new(),
                });
            }
            "property" => {
                let el = elements
                    .last_mut()
                    .ok_or("a property comes before any element")?;
                let t = words.next().ok_or("a property line has no type")?;
                let kind = if t == "list" {
                    let count = words.next().and_then(Scalar::parse);
                    let item = words.next().and_then(Scalar::parse);
                    match (count, item) {
                        (Some(count), Some(item)) => PropKind::List { count, item },
                        _ => return Err(format!("bad list property: {line:?}")),
                    }
                } else {
                    PropKind::Scalar(
                        Scalar::parse(t).ok_or_else(|| format!("unknown property type {t:?}"))?,
                    )
                };
                let name = words
                    .next()
                    .ok_or_else(|| format!("a property of {} has no name", el.name))?;
                el.props.push(Prop {
                    name: name.to_owned(),
                    kind,
                });
            }
            "end_header" => break,
            other => return Err(format!("unknown header line starting {other:?}")),
        }
    }
    let format = format.ok_or("the header has no format line")?;
    Ok(Header {
        format,
        elements,
        body: pos,
    })
}

/// Where each field of a Gaussian comes from: the index of the property in the vertex element.
struct Layout {
    pos: [usize; 3],
    normal: Option<[usize; 3]>,
    dc: [usize; 3],
    rest: Vec<usize>,
    opacity: usize,
    scale: [usize; 3],
    rot: [usize; 4],
}

fn layout(el: &Element) -> Result<Layout, String> {
    let find = |name: &str| el.props.iter().position(|p| p.name == name);
    for (i, p) in el.props.iter().enumerate() {
        if let PropKind::List { .. } = p.kind
            && [
                "x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1",
                "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
            ]
            .contains(&p.name.as_str())
        {
            return Err(format!("vertex property {} (#{i}) is a list", p.name));
        }
    }
    let mut missing = Vec::new();
    let mut need = |name: &str| -> usize {
        find(name).unwrap_or_else(|| {
            missing.push(name.to_owned());
            0
        })
    };
    let pos = [need("x"), need("y"), need("z")];
    let dc = [need("f_dc_0"), need("f_dc_1"), need("f_dc_2")];
    let opacity = need("opacity");
    let scale = [need("scale_0"), need("scale_1"), need("scale_2")];
    let rot = [need("rot_0"), need("rot_1"), need("rot_2"), need("rot_3")];
    if !missing.is_empty() {
        return Err(format!(
            "the vertex element has no {} property",
            missing.join(", ")
        ));
    }
    let normal = match (find("nx"), find("ny"), find("nz")) {
        (Some(a), Some(b), Some(c)) => Some([a, b, c]),
        _ => None,
    };
    let mut rest = Vec::new();
    while let Some(i) = find(&format!("f_rest_{}", rest.len())) {
        rest.push(i);
    }
    let stray = el
        .props
        .iter()
        .filter(|p| p.name.starts_with("f_rest_"))
        .count();
    if stray != rest.len() {
        return Err(format!(
            "the f_rest_ properties are not numbered 0 to {} without gaps",
            stray.saturating_sub(1)
        ));
    }
    for idx in rest.iter().chain(normal.iter().flatten()) {
        if let PropKind::List { .. } = el.props[*idx].kind {
            return Err(format!("vertex property {} is a list", el.props[*idx].name));
        }
    }
    Ok(Layout {
        pos,
        normal,
        dc,
        rest,
        opacity,
        scale,
        rot,
    })
}

fn parse(bytes: &[u8]) -> Result<GaussianCloud, String> {
    let header = parse_header(bytes)?;
    let vi = header
        .elements
        .iter()
        .position(|e| e.name == "vertex")
        .ok_or("there is no vertex element")?;
    let vertex = &header.elements[vi];
    let lay = layout(vertex)?;
    let n = vertex.count;
    let body = &bytes[header.body..];
    // Values of one vertex, by property index.
    let mut vals = vec![0.0f64; vertex.props.len()];
    let mut cloud = GaussianCloud {
        sh_rest_len: lay.rest.len(),
        ..Default::default()
    };
    // Never trust the count for allocation beyond what the data can hold.
    let cap = n.min(body.len() / vertex.props.len().max(1));
    cloud.positions.reserve(cap);
    cloud.sh_rest.reserve(cap.saturating_mul(lay.rest.len()));
    match header.format {
        Format::Ascii => {
            let text = std::str::from_utf8(body).map_err(|_| "the ascii body is not text")?;
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            for el in &header.elements[..vi] {
                for k in 0..el.count {
                    lines.next().ok_or_else(|| {
                        format!("the file ends in element {} ({k} of {})", el.name, el.count)
                    })?;
                }
            }
            for i in 0..n {
                let line = lines
                    .next()
                    .ok_or_else(|| format!("the file ends after {i} of {n} vertices"))?;
                let mut tokens = line.split_whitespace();
                for (j, p) in vertex.props.iter().enumerate() {
                    let mut next = || -> Result<f64, String> {
                        let t = tokens.next().ok_or_else(|| {
                            format!("vertex {i} has too few values (line {line:?})")
                        })?;
                        t.parse::<f64>()
                            .map_err(|_| format!("vertex {i}: {t:?} is not a number"))
                    };
                    match p.kind {
                        PropKind::Scalar(_) => vals[j] = next()?,
                        PropKind::List { .. } => {
                            let c = next()?;
                            if !(0.0..=1e6).contains(&c) {
                                return Err(format!("vertex {i}: bad list length {c}"));
                            }
                            for _ in 0..c as usize {
                                next()?;
                            }
                        }
                    }
                }
                if tokens.next().is_some() {
                    return Err(format!("vertex {i} has more values than properties"));
                }
                push(&mut cloud, &lay, &vals, i)?;
            }
            if vi + 1 == header.elements.len() && lines.next().is_some() {
                return Err(format!(
                    "there are more lines than the header's {n} vertices"
                ));
            }
        }
        Format::BinaryLe | Format::BinaryBe => {
            let big = header.format == Format::BinaryBe;
            let mut at = 0usize;
            // Elements without properties take no bytes, however many they claim.
            for el in header.elements[..vi].iter().filter(|e| !e.props.is_empty()) {
                for k in 0..el.count {
                    at = skip_record(body, at, el, big).ok_or_else(|| {
                        format!("the file ends in element {} ({k} of {})", el.name, el.count)
                    })?;
                }
            }
            let fixed: Option<Vec<(usize, Scalar)>> = {
                let mut off = 0;
                vertex
                    .props
                    .iter()
                    .map(|p| match p.kind {
                        PropKind::Scalar(s) => {
                            let o = off;
                            off += s.size();
                            Some((o, s))
                        }
                        PropKind::List { .. } => None,
                    })
                    .collect()
            };
            let stride: usize = vertex
                .props
                .iter()
                .map(|p| match p.kind {
                    PropKind::Scalar(s) => s.size(),
                    PropKind::List { .. } => 0,
                })
                .sum();
            for i in 0..n {
                match &fixed {
                    Some(offsets) => {
                        let rec = body
                            .get(at..at + stride)
                            .ok_or_else(|| format!("the file ends after {i} of {n} vertices"))?;
                        for (j, &(o, s)) in offsets.iter().enumerate() {
                            vals[j] = s.read(&rec[o..], big);
                        }
                        at += stride;
                    }
                    None => {
                        for (j, p) in vertex.props.iter().enumerate() {
                            let short = || format!("the file ends after {i} of {n} vertices");
                            match p.kind {
                                PropKind::Scalar(s) => {
                                    let b = body.get(at..at + s.size()).ok_or_else(short)?;
                                    vals[j] = s.read(b, big);
                                    at += s.size();
                                }
                                PropKind::List { count, item } => {
                                    let b = body.get(at..at + count.size()).ok_or_else(short)?;
                                    let c = count.read(b, big);
                                    if !(0.0..=1e6).contains(&c) {
                                        return Err(format!("vertex {i}: bad list length {c}"));
                                    }
                                    at += count.size() + c as usize * item.size();
                                    if at > body.len() {
                                        return Err(short());
                                    }
                                }
                            }
                        }
                    }
                }
                push(&mut cloud, &lay, &vals, i)?;
            }
            if vi + 1 == header.elements.len() && stride > 0 && body.len() - at >= stride {
                return Err(format!(
                    "{} bytes follow the header's {n} vertices (is the vertex count right?)",
                    body.len() - at
                ));
            }
        }
    }
    Ok(cloud)
}

/// The offset after one record of `el` starting at `at`, `None` past the end.
fn skip_record(body: &[u8], mut at: usize, el: &Element, big: bool) -> Option<usize> {
    for p in &el.props {
        match p.kind {
            PropKind::Scalar(s) => at += s.size(),
            PropKind::List { count, item } => {
                let c = count.read(body.get(at..at + count.size())?, big);
                if !(0.0..=1e9).contains(&c) {
                    return None;
                }
                at += count.size() + c as usize * item.size();
            }
        }
    }
    (at <= body.len()).then_some(at)
}

/// Converts one vertex's values and appends them to the cloud.
fn push(c: &mut GaussianCloud, l: &Layout, v: &[f64], i: usize) -> Result<(), String> {
    let f = |k: usize| v[k] as f32;
    let p = [f(l.pos[0]), f(l.pos[1]), f(l.pos[2])];
    if p.iter().any(|x| !x.is_finite()) {
        return Err(format!("vertex {i} has a position that is not finite"));
    }
    let s = [f(l.scale[0]), f(l.scale[1]), f(l.scale[2])];
    if s.iter().any(|x| !x.is_finite()) {
        return Err(format!("vertex {i} has a scale that is not finite"));
    }
    let q = [f(l.rot[0]), f(l.rot[1]), f(l.rot[2]), f(l.rot[3])];
    let len = q.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !(len.is_finite() && len > 1e-20) {
        return Err(format!("vertex {i} has a zero or non-finite rotation"));
    }
    let o = f(l.opacity);
    if o.is_nan() {
        return Err(format!("vertex {i} has a NaN opacity"));
    }
    c.positions.push(p);
    c.scales.push([s[0].exp(), s[1].exp(), s[2].exp()]);
    c.rotations
        .push([q[0] / len, q[1] / len, q[2] / len, q[3] / len]);
    c.opacities.push(sigmoid(o));
    c.colours.push([
        0.5 + SH_C0 * f(l.dc[0]),
        0.5 + SH_C0 * f(l.dc[1]),
        0.5 + SH_C0 * f(l.dc[2]),
    ]);
    c.normals.push(match l.normal {
        Some(n) => [f(n[0]), f(n[1]), f(n[2])],
        None => [0.0; 3],
    });
    c.sh_rest.extend(l.rest.iter().map(|&k| f(k)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, rest: usize) -> GaussianCloud {
        let mut c = GaussianCloud {
            sh_rest_len: rest,
            ..Default::default()
        };
        for i in 0..n {
            let t = i as f32;
            c.positions.push([t * 0.5 - 1.0, -2.0 + t, 3.25 * t]);
            c.scales.push([0.01 + 0.001 * t, 0.2, 1.5]);
            let q = nalgebra::UnitQuaternion::from_euler_angles(0.3 * t, -0.2, 1.0 + t);
            c.rotations.push([q.w, q.i, q.j, q.k]);
            c.opacities.push(0.05 + 0.9 * (i as f32 / n as f32));
            c.colours.push([0.9, 0.1 + 0.01 * t, -0.05]);
            c.normals.push([0.0, 0.0, 1.0]);
            c.sh_rest.extend((0..rest).map(|k| 0.01 * k as f32 - t));
        }
        c
    }

    fn close(a: &GaussianCloud, b: &GaussianCloud) {
        assert_eq!(a.len(), b.len());
        let near = |x: f32, y: f32| (x - y).abs() <= 1e-5 * (1.0 + x.abs().max(y.abs()));
        for i in 0..a.len() {
            for k in 0..3 {
                assert!(near(a.positions[i][k], b.positions[i][k]));
                assert!(near(a.scales[i][k], b.scales[i][k]), "scale {i}");
                assert!(near(a.colours[i][k], b.colours[i][k]), "colour {i}");
                assert!(near(a.normals[i][k], b.normals[i][k]));
            }
            for k in 0..4 {
                assert!(near(a.rotations[i][k], b.rotations[i][k]), "rotation {i}");
            }
            assert!(near(a.opacities[i], b.opacities[i]), "opacity {i}");
        }
    }

    #[test]
    fn round_trip_with_and_without_sh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.ply");
        let c = sample(17, 45);
        c.write(&path).expect("write");
        let back = GaussianCloud::read(&path).expect("read");
        close(&c, &back);
        assert_eq!(back.sh_rest_len, 45);
        assert_eq!(back.sh_rest, c.sh_rest);
        // Without SH rest the file still has the 45 coefficients the INRIA code expects.
        let c = sample(5, 0);
        c.write(&path).expect("write");
        let back = GaussianCloud::read(&path).expect("read");
        close(&c, &back);
        assert_eq!(back.sh_rest_len, 45);
        assert!(back.sh_rest.iter().all(|&v| v == 0.0));
        // Nothing left behind but the file.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[test]
    fn ascii_any_order_extra_properties_and_other_elements() {
        let text = "ply\r\nformat ascii 1.0\r\ncomment hand made\r\n\
            element camera 1\r\nproperty float fov\r\n\
            element vertex 2\r\n\
            property double rot_3\r\nproperty float opacity\r\nproperty uchar red\r\n\
            property float z\r\nproperty float y\r\nproperty float x\r\n\
            property list uchar int junk\r\n\
            property float scale_2\r\nproperty float scale_1\r\nproperty float scale_0\r\n\
            property float rot_0\r\nproperty float rot_1\r\nproperty float rot_2\r\n\
            property float f_dc_2\r\nproperty float f_dc_1\r\nproperty float f_dc_0\r\n\
            end_header\r\n\
            0.9\r\n\
            0 0 7 3 2 1 2 5 6 0 0 0 2 0 0 0 0 0\r\n\
            0 2 255 1 1 1 0 -1 -2 -3 1 0 0 1.77245385 0 -1.77245385\r\n";
        let c = GaussianCloud::parse(text.as_bytes(), Path::new("a.ply")).expect("parse");
        assert_eq!(c.len(), 2);
        assert_eq!(c.positions[0], [1.0, 2.0, 3.0]);
        assert_eq!(c.rotations[0], [1.0, 0.0, 0.0, 0.0]);
        assert!((c.opacities[0] - 0.5).abs() < 1e-6);
        assert!((c.scales[1][0] - (-3.0f32).exp()).abs() < 1e-7);
        assert!((c.opacities[1] - sigmoid(2.0)).abs() < 1e-6);
        assert!((c.colours[1][0] - 0.0).abs() < 1e-5 && (c.colours[1][2] - 1.0).abs() < 1e-5);
        assert_eq!(c.sh_rest_len, 0);
    }

    #[test]
    fn big_endian_and_doubles() {
        let mut b = b"ply\nformat binary_big_endian 1.0\nelement vertex 1\n".to_vec();
        for n in [
            "x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1",
            "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
        ] {
            b.extend_from_slice(format!("property double {n}\n").as_bytes());
        }
        b.extend_from_slice(b"end_header\n");
        for v in [
            1.0f64, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0,
        ] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        let c = GaussianCloud::parse(&b, Path::new("be.ply")).expect("parse");
        assert_eq!(c.positions[0], [1.0, 2.0, 3.0]);
        assert_eq!(c.rotations[0], [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(c.scales[0], [1.0, 1.0, 1.0]);
    }

    #[test]
    fn malformed_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("good.ply");
        sample(4, 0).write(&path).expect("write");
        let good = std::fs::read(&path).expect("read");
        let check = |bytes: &[u8], want: &str| {
            let e = GaussianCloud::parse(bytes, Path::new("/x/broken.ply"))
                .expect_err(want)
                .to_string();
            assert!(e.contains("/x/broken.ply"), "{e}");
            assert!(e.contains(want), "{e} should mention {want:?}");
        };
        check(&good[..good.len() - 7], "ends after 3 of 4 vertices");
        // Edits to the header of the good file, its binary body kept.
        let split = good
            .windows(11)
            .position(|w| w == b"end_header\n")
            .expect("header")
            + 11;
        let edit = |from: &str, to: &str| {
            let head = std::str::from_utf8(&good[..split]).expect("text");
            let mut b = head.replacen(from, to, 1).into_bytes();
            b.extend_from_slice(&good[split..]);
            b
        };
        check(
            &edit("element vertex 4", "element vertex 5"),
            "ends after 4 of 5 vertices",
        );
        check(
            &edit("element vertex 4", "element vertex 3"),
            "vertex count",
        );
        check(
            &edit("property float x\n", "property float q\n"),
            "no x property",
        );
        check(b"plx\n", "does not start");
        check(
            b"ply\nformat ascii 1.0\nelement vertex 1\n",
            "no end_header",
        );
        check(
            b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n",
            "no f_dc_0",
        );
        check(
            b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nproperty float f_dc_0\nproperty float f_dc_1\nproperty float f_dc_2\nproperty float opacity\nproperty float scale_0\nproperty float scale_1\nproperty float scale_2\nproperty float rot_0\nproperty float rot_1\nproperty float rot_2\nproperty float rot_3\nend_header\n1 2 nan 0 0 0 0 0 0 0 1 0 0 0\n",
            "not finite",
        );
        check(
            b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n",
            "no y, z, f_dc_0",
        );
        // A missing file is an I/O error naming it.
        let e = GaussianCloud::read(&dir.path().join("none.ply"))
            .expect_err("missing")
            .to_string();
        assert!(e.contains("none.ply"), "{e}");
        // Every truncation of a valid file is an error or a shorter valid header, never a panic.
        for cut in 0..good.len() {
            let _ = GaussianCloud::parse(&good[..cut], Path::new("cut.ply"));
        }
        // Nor are absurd counts: an empty element claiming a trillion records, a list claiming
        // more items than the file holds, or a byte changed anywhere in the header.
        let mut b = b"ply\nformat binary_little_endian 1.0\nelement junk 1000000000000\n".to_vec();
        b.extend_from_slice(&good[4..]); // the good file after its "ply" line
        let c = GaussianCloud::parse(&b, Path::new("junk.ply")).expect("junk takes no bytes");
        assert_eq!(c.len(), 4);
        let mut list = b"ply\nformat binary_little_endian 1.0\nelement face 5\n\
            property list uint int v\n"
            .to_vec();
        list.extend_from_slice(&good[good.windows(7).position(|w| w == b"element").expect("el")..]);
        list.truncate(list.len() - good.len() + split);
        list.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
        let e = GaussianCloud::parse(&list, Path::new("list.ply")).expect_err("list");
        assert!(e.to_string().contains("element face"), "{e}");
        for i in 0..split {
            for v in [0u8, b' ', b'\n', b'9', 0xff] {
                let mut m = good.clone();
                m[i] = v;
                let _ = GaussianCloud::parse(&m, Path::new("flip.ply"));
            }
        }
    }

    #[test]
    fn splat_discs_become_flat_gaussians_along_their_normals() {
        let frame = SplatFrame {
            positions: vec![[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
            normals: vec![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]],
            colours: vec![[255, 0, 51], [0, 0, 0], [1, 2, 3]],
            radii: vec![0.02, 0.04, 0.01],
            view: Vec::new(),
        };
        let c = GaussianCloud::from_splats(&frame);
        assert_eq!(c.len(), 3);
        assert!((c.scales[0][0] - 0.02 / 2f32.sqrt()).abs() < 1e-7);
        assert!((c.scales[0][2] - 0.002).abs() < 1e-7);
        assert_eq!(c.colours[0], [1.0, 0.0, 0.2]);
        for i in 0..3 {
            let r = c.rotations[i];
            let q = nalgebra::UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
                r[0], r[1], r[2], r[3],
            ));
            let z = q * nalgebra::Vector3::z();
            let n = frame.normals[i];
            assert!(
                (z - nalgebra::Vector3::new(n[0], n[1], n[2])).norm() < 1e-5,
                "{i}"
            );
        }
    }

    #[test]
    fn up_axis_turns_y_up_into_z_up() {
        let mut c = sample(1, 0);
        c.positions[0] = [0.0, 1.7, 0.0];
        c.rotations[0] = [1.0, 0.0, 0.0, 0.0];
        c.rotate_up("+y").expect("up");
        let p = c.positions[0];
        assert!(p[0].abs() < 1e-6 && p[1].abs() < 1e-6 && (p[2] - 1.7).abs() < 1e-6);
        // The local y axis now points up.
        let r = c.rotations[0];
        let q = nalgebra::UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
            r[0], r[1], r[2], r[3],
        ));
        assert!((q * nalgebra::Vector3::y() - nalgebra::Vector3::z()).norm() < 1e-6);
        assert!(c.rotate_up("sideways").is_err());
    }
}
