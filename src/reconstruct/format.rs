//! The reconstruction on disk, so rendering never recomputes it.
//!
//! ```text
//! RECON/
//!   recon.json            schema replay360-recon v1 (below)
//!   frames/000123.ply     one splat cloud per reconstructed instant
//!   backgrounds/cam03.png the background plate of each camera used
//!   venue/ground.png      the snow surface texture (see reconstruct::venue)
//!   venue/dome.png        the sky and distant scenery, equirectangular
//! ```
//! Each frame is a binary little-endian PLY with one `vertex` element:
//! `float x y z` (world metres, Z up), `float nx ny nz` (outward unit normal),
//! `uchar red green blue` (sRGB), `float radius` (disc radius, m), and, where the colour
//! depends on the side a splat is seen from, its [`ViewSamples`]: `uint view0_dir view0_rgbw`
//! to `view5_dir view5_rgbw` (packed as in [`crate::reconstruct::blend`]). Any point-cloud
//! tool (MeshLab, CloudCompare, Open3D) opens it.
//!
//! `recon.json` records the capture it came from, which cameras were used and held out, the
//! estimated sync offsets, the voxel size, every frame's time (common timeline, s), file,
//! splat count, centroid, bounds and lowest point, the motion analysis and the stage timings.

use crate::analyse::Analysis;
use crate::reconstruct::blend::{VIEW_SAMPLES, ViewSamples};
use ply_rs_bw::parser::Parser;
use ply_rs_bw::ply::{
    Addable, ElementDef, Encoding, Ply, Property, PropertyAccess, PropertyAccessResult,
    PropertyDef, PropertyType, ScalarType,
};
use ply_rs_bw::writer::Writer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const RECON_FORMAT: &str = "replay360-recon";
pub const RECON_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ReconError {
    #[error("cannot read the reconstruction ({source}): {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("recon.json is not valid {RECON_FORMAT} JSON ({source}): {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("not a replay360 reconstruction (format {found:?}): {path}")]
    WrongFormat { path: PathBuf, found: String },
    #[error(
        "reconstruction schema v{found} is newer than this build understands (v{RECON_VERSION}): {path}"
    )]
    NewerVersion { path: PathBuf, found: u32 },
    #[error("splat file is not a valid replay360 PLY ({problem}): {path}")]
    Ply { path: PathBuf, problem: String },
    #[error("the reconstruction has no frames: {path}")]
    NoFrames { path: PathBuf },
    #[error(
        "the venue's measured ground needs at least two samples along and across, increasing and finite: {path}"
    )]
    BadTerrain { path: PathBuf },
    #[error(
        "the venue's fence {index} needs a finite offset, a start before its end, a positive height and a finite foot increasing along it: {path}"
    )]
    BadFence { path: PathBuf, index: usize },
}

/// PLY property names of a splat's [`ViewSamples`]: per sample, its packed direction and its
/// packed colour and weight (see [`crate::reconstruct::blend`]).
const VIEW_PROPERTIES: [&str; 2 * VIEW_SAMPLES] = [
    "view0_dir",
    "view0_rgbw",
    "view1_dir",
    "view1_rgbw",
    "view2_dir",
    "view2_rgbw",
    "view3_dir",
    "view3_rgbw",
    "view4_dir",
    "view4_rgbw",
    "view5_dir",
    "view5_rgbw",
];

/// One splat cloud.
#[derive(Debug, Clone, Default)]
pub struct SplatFrame {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    /// sRGB: the colour from every side (the cameras' weighted mean), where there are no
    /// [`ViewSamples`].
    pub colours: Vec<[u8; 3]>,
    pub radii: Vec<f32>,
    /// What the cameras that saw each splat saw, for a view-dependent colour: one
    /// [`ViewSamples`] per splat, or none at all (the colours are the same from every side).
    pub view: Vec<ViewSamples>,
}

impl SplatFrame {
    /// Moves every splat by a rigid motion (positions and normals).
    pub fn move_by(&mut self, motion: &nalgebra::Isometry3<f64>) {
        if *motion == nalgebra::Isometry3::identity() {
            return;
        }
        let m = motion.cast::<f32>();
        for p in &mut self.positions {
            *p = (m * nalgebra::Point3::from(*p)).coords.into();
        }
        for n in &mut self.normals {
            *n = (m.rotation * nalgebra::Vector3::from(*n)).into();
        }
        // The colour seen along d after the motion is the colour seen along R⁻¹d before it:
        // the directions to the cameras turn with the splat.
        for v in &mut self.view {
            *v = v.rotated(&m.rotation);
        }
    }

    /// Splat `i`'s [`ViewSamples`] (none where the frame has none).
    pub fn view_samples(&self, i: usize) -> ViewSamples {
        self.view.get(i).copied().unwrap_or_default()
    }

    /// Splat `i`'s colour seen along `towards_eye` (unit, world frame), in linear light: its
    /// samples blended ([`ViewSamples::blend`]), else its one colour.
    pub fn linear_colour(&self, i: usize, towards_eye: [f32; 3]) -> [f32; 3] {
        self.view_samples(i)
            .blend(towards_eye)
            .unwrap_or_else(|| self.colours[i].map(crate::util::images::srgb_to_linear))
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
struct Vertex {
    p: [f32; 3],
    n: [f32; 3],
    c: [u8; 3],
    r: f32,
    view: [u32; 2 * VIEW_SAMPLES],
}

impl PropertyAccess for Vertex {
    fn new() -> Self {
        Self::default()
    }
    fn set_property(&mut self, key: &str, property: Property) -> PropertyAccessResult {
        let f = match property {
            Property::UInt(v) => {
                return match VIEW_PROPERTIES.iter().position(|p| *p == key) {
                    Some(j) => {
                        self.view[j] = v;
                        PropertyAccessResult::Set
                    }
                    None => PropertyAccessResult::Ignored,
                };
            }
            Property::Float(v) => v,
            Property::Double(v) => v as f32,
            Property::UChar(v) => {
                match key {
                    "red" => self.c[0] = v,
                    "green" => self.c[1] = v,
                    "blue" => self.c[2] = v,
                    _ => return PropertyAccessResult::Ignored,
                }
                return PropertyAccessResult::Set;
            }
            _ => return PropertyAccessResult::Ignored,
        };
        match key {
            "x" => self.p[0] = f,
            "y" => self.p[1] = f,
            "z" => self.p[2] = f,
            "nx" => self.n[0] = f,
            "ny" => self.n[1] = f,
            "nz" => self.n[2] = f,
            "radius" => self.r = f,
            _ => return PropertyAccessResult::Ignored,
        }
        PropertyAccessResult::Set
    }
    fn get_float(&self, key: &str) -> Option<f32> {
        Some(match key {
            "x" => self.p[0],
            "y" => self.p[1],
            "z" => self.p[2],
            "nx" => self.n[0],
            "ny" => self.n[1],
            "nz" => self.n[2],
            "radius" => self.r,
            _ => return None,
        })
    }
    fn get_uint(&self, key: &str) -> Option<u32> {
        Some(self.view[VIEW_PROPERTIES.iter().position(|p| *p == key)?])
    }
    fn get_uchar(&self, key: &str) -> Option<u8> {
        Some(match key {
            "red" => self.c[0],
            "green" => self.c[1],
            "blue" => self.c[2],
            _ => return None,
        })
    }
}

const FLOATS: [&str; 6] = ["x", "y", "z", "nx", "ny", "nz"];
const COLOURS: [&str; 3] = ["red", "green", "blue"];

/// Writes a splat frame as binary PLY (atomically).
pub fn write_ply(path: &Path, frame: &SplatFrame, comment: &str) -> Result<(), ReconError> {
    let mut ply = Ply::<Vertex>::new();
    ply.header.encoding = Encoding::BinaryLittleEndian;
    ply.header
        .comments
        .push(format!("replay360 splat frame v1; {comment}"));
    let mut el = ElementDef::new("vertex".to_owned());
    for name in FLOATS {
        el.properties.add(PropertyDef::new(
            name.to_owned(),
            PropertyType::Scalar(ScalarType::Float),
        ));
    }
    for name in COLOURS {
        el.properties.add(PropertyDef::new(
            name.to_owned(),
            PropertyType::Scalar(ScalarType::UChar),
        ));
    }
    el.properties.add(PropertyDef::new(
        "radius".to_owned(),
        PropertyType::Scalar(ScalarType::Float),
    ));
    let with_view = !frame.view.is_empty();
    if with_view && frame.view.len() != frame.len() {
        return Err(ReconError::Ply {
            path: path.to_path_buf(),
            problem: format!(
                "{} view samples for {} splats",
                frame.view.len(),
                frame.len()
            ),
        });
    }
    if with_view {
        for name in VIEW_PROPERTIES {
            el.properties.add(PropertyDef::new(
                name.to_owned(),
                PropertyType::Scalar(ScalarType::UInt),
            ));
        }
    }
    ply.header.elements.add(el);
    let verts = (0..frame.len())
        .map(|i| Vertex {
            p: frame.positions[i],
            n: frame.normals[i],
            c: frame.colours[i],
            r: frame.radii[i],
            view: frame.view_samples(i).words(),
        })
        .collect();
    ply.payload.insert("vertex".to_owned(), verts);
    let mut buf = Vec::new();
    Writer::new()
        .write_ply(&mut buf, &mut ply)
        .map_err(|e| ReconError::Ply {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
    crate::util::write_atomic(path, &buf).map_err(|source| ReconError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a splat frame written by [`write_ply`] (or any PLY with x y z, and optionally normals,
/// colours and radius).
pub fn read_ply(path: &Path) -> Result<SplatFrame, ReconError> {
    let file = std::fs::File::open(path).map_err(|source| ReconError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = std::io::BufReader::new(file);
    let ply = Parser::<Vertex>::new()
        .read_ply(&mut reader)
        .map_err(|e| ReconError::Ply {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
    let has = |name: &str| {
        ply.header
            .elements
            .get("vertex")
            .is_some_and(|e| e.properties.contains_key(name))
    };
    if !(has("x") && has("y") && has("z")) {
        return Err(ReconError::Ply {
            path: path.to_path_buf(),
            problem: "no vertex element with x, y, z".to_owned(),
        });
    }
    let with_view = VIEW_PROPERTIES.iter().any(|p| has(p));
    if with_view && !VIEW_PROPERTIES.iter().all(|p| has(p)) {
        return Err(ReconError::Ply {
            path: path.to_path_buf(),
            problem: "some of the view samples' properties (view0_dir .. view5_rgbw) are missing: all or none".to_owned(),
        });
    }
    let verts = ply.payload.get("vertex").map(Vec::as_slice).unwrap_or(&[]);
    let mut f = SplatFrame::default();
    for v in verts {
        if v.p
            .iter()
            .chain(&v.n)
            .chain(std::iter::once(&v.r))
            .any(|x| !x.is_finite())
        {
            return Err(ReconError::Ply {
                path: path.to_path_buf(),
                problem: "a vertex has NaN or infinite values".to_owned(),
            });
        }
        f.positions.push(v.p);
        f.normals.push(v.n);
        f.colours.push(v.c);
        f.radii.push(v.r);
        if with_view {
            f.view.push(ViewSamples::from_words(v.view));
        }
    }
    Ok(f)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncEntry {
    pub camera: String,
    /// Common-timeline time of the camera's first frame (s).
    pub offset_s: f64,
    pub fps: f64,
    pub frames: u64,
    pub residual_px: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrameEntry {
    pub index: usize,
    /// Common-timeline time (s).
    pub time: f64,
    pub file: PathBuf,
    pub splats: usize,
    /// Centroid of the occupied volume (m).
    pub centroid: [f64; 3],
    pub bbox_min: [f64; 3],
    pub bbox_max: [f64; 3],
    /// Where the athlete is lowest (see [`crate::reconstruct::InstantResult::lowest`]); absent
    /// in reconstructions made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowest: Option<[f64; 3]>,
    pub volume_m3: f64,
    /// The athlete's rigid motion around this instant (see [`crate::reconstruct::motion`]): it
    /// moves the instant's splats to a time between instants. Absent where it could not be
    /// measured, and in reconstructions made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion: Option<crate::reconstruct::motion::Motion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackgroundEntry {
    pub camera: String,
    pub file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReconManifest {
    pub format: String,
    pub version: u32,
    /// The capture manifest this was made from (relative to the recon directory when possible).
    pub capture: PathBuf,
    pub cameras: Vec<String>,
    pub held_out: Vec<String>,
    pub sync: Vec<SyncEntry>,
    pub voxel_size: f64,
    pub fps: f64,
    pub frames: Vec<FrameEntry>,
    pub backgrounds: Vec<BackgroundEntry>,
    /// Proxy geometry and baked textures of the venue.
    #[serde(default)]
    pub venue: Option<crate::reconstruct::venue::VenueModel>,
    pub analysis: Option<Analysis>,
    /// Stage timings (s).
    pub timings: BTreeMap<String, f64>,
}

/// An opened reconstruction directory.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    pub dir: PathBuf,
    pub manifest: ReconManifest,
}

impl Reconstruction {
    pub fn open(dir: &Path) -> Result<Self, ReconError> {
        let path = if dir.is_dir() {
            dir.join("recon.json")
        } else {
            dir.to_path_buf()
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let text = std::fs::read_to_string(&path).map_err(|source| ReconError::Io {
            path: path.clone(),
            source,
        })?;
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            version: Option<u32>,
        }
        let header: Header = serde_json::from_str(&text).map_err(|source| ReconError::Parse {
            path: path.clone(),
            source,
        })?;
        let found = header.format.unwrap_or_default();
        if found != RECON_FORMAT {
            return Err(ReconError::WrongFormat { path, found });
        }
        if let Some(v) = header.version
            && v > RECON_VERSION
        {
            return Err(ReconError::NewerVersion { path, found: v });
        }
        let manifest: ReconManifest =
            serde_json::from_str(&text).map_err(|source| ReconError::Parse {
                path: path.clone(),
                source,
            })?;
        if manifest.frames.is_empty() {
            return Err(ReconError::NoFrames { path });
        }
        if let Some(venue) = &manifest.venue
            && venue.terrain.as_ref().is_some_and(|t| !t.is_valid())
        {
            return Err(ReconError::BadTerrain { path });
        }
        if let Some(index) = manifest
            .venue
            .as_ref()
            .and_then(|v| v.fences.iter().position(|f| !f.is_valid()))
        {
            return Err(ReconError::BadFence { path, index });
        }
        Ok(Self { dir, manifest })
    }

    pub fn capture_path(&self) -> PathBuf {
        if self.manifest.capture.is_absolute() {
            self.manifest.capture.clone()
        } else {
            self.dir.join(&self.manifest.capture)
        }
    }

    pub fn load_frame(&self, index: usize) -> Result<SplatFrame, ReconError> {
        let entry = self
            .manifest
            .frames
            .get(index)
            .ok_or_else(|| ReconError::Ply {
                path: self.dir.clone(),
                problem: format!("frame {index} does not exist"),
            })?;
        read_ply(&self.dir.join(&entry.file))
    }

    /// Index of the frame nearest to `time`.
    pub fn frame_at(&self, time: f64) -> usize {
        nearest_frame(&self.manifest.frames, time)
    }

    /// The frame to draw at `time` ([`Self::frame_at`]) and the rigid motion that carries its
    /// splats from the frame's instant to `time` (see [`frame_moved_to`]).
    pub fn frame_moved_to(&self, time: f64) -> (usize, nalgebra::Isometry3<f64>) {
        frame_moved_to(&self.manifest.frames, time)
    }

    pub fn time_range(&self) -> (f64, f64) {
        let f = &self.manifest.frames;
        (f[0].time, f[f.len() - 1].time)
    }
}

/// Index of the frame nearest to `time` (0 when there are none).
fn nearest_frame(frames: &[FrameEntry], time: f64) -> usize {
    let i = frames.partition_point(|f| f.time < time);
    if i == 0 {
        return 0;
    }
    if i >= frames.len() {
        return frames.len() - 1;
    }
    if (frames[i].time - time).abs() < (time - frames[i - 1].time).abs() {
        i
    } else {
        i - 1
    }
}

/// The frame nearest to `time` and the rigid motion that carries its splats from the frame's
/// instant to `time`: the instant's [`FrameEntry::motion`] over the time between, at most half
/// the interval to the neighbouring instant on that side. The identity without a measured
/// motion, and before the first or after the last instant (nothing is extrapolated).
pub fn frame_moved_to(frames: &[FrameEntry], time: f64) -> (usize, nalgebra::Isometry3<f64>) {
    let index = nearest_frame(frames, time);
    let Some(f) = frames.get(index) else {
        return (index, nalgebra::Isometry3::identity());
    };
    let dt = time - f.time;
    let neighbour = if dt >= 0.0 {
        frames.get(index + 1)
    } else {
        index.checked_sub(1).and_then(|i| frames.get(i))
    };
    let moved = match (f.motion, neighbour) {
        (Some(m), Some(n)) => {
            let half = 0.5 * (n.time - f.time).abs();
            m.at(dt.clamp(-half, half))
        }
        _ => nalgebra::Isometry3::identity(),
    };
    (index, moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two splats, with the given view samples.
    fn two_splats(view: Vec<ViewSamples>) -> SplatFrame {
        SplatFrame {
            positions: vec![[1.0, -2.0, 3.5], [0.25, 0.5, -7.0]],
            normals: vec![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]],
            colours: vec![[255, 0, 7], [10, 20, 30]],
            radii: vec![0.01, 0.02],
            view,
        }
    }

    #[test]
    fn ply_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.ply");
        let frame = two_splats(Vec::new());
        write_ply(&path, &frame, "test").expect("write");
        let back = read_ply(&path).expect("read");
        assert_eq!(back.positions, frame.positions);
        assert_eq!(back.normals, frame.normals);
        assert_eq!(back.colours, frame.colours);
        assert_eq!(back.radii, frame.radii);
        std::fs::write(
            &path,
            b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float q\nend_header\n1\n",
        )
        .expect("write");
        assert!(read_ply(&path).is_err());
    }

    fn some_samples() -> ViewSamples {
        use crate::reconstruct::blend::ViewSample;
        ViewSamples::new(&[
            ViewSample {
                towards_camera: [0.6, 0.8, 0.0],
                colour: [250, 10, 10],
                weight: 0.9,
            },
            ViewSample {
                towards_camera: [0.0, -0.6, 0.8],
                colour: [10, 10, 250],
                weight: 0.45,
            },
        ])
    }

    /// View samples survive the file; a file with some of their properties but not all is
    /// refused, naming what is wrong.
    #[test]
    fn view_samples_round_trip_and_half_of_them_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.ply");
        let frame = two_splats(vec![some_samples(), ViewSamples::default()]);
        write_ply(&path, &frame, "test").expect("write");
        let back = read_ply(&path).expect("read");
        assert_eq!(back.view, frame.view);
        assert_eq!(back.colours, frame.colours);

        let mut short = frame.clone();
        short.view.pop();
        let err = write_ply(&path, &short, "test").expect_err("one for two splats");
        assert!(
            err.to_string().contains("1 view samples for 2 splats"),
            "{err}"
        );

        std::fs::write(
            &path,
            b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nproperty uint view0_dir\nend_header\n1 2 3 5\n",
        )
        .expect("write");
        let err = read_ply(&path).expect_err("partial view samples");
        assert!(err.to_string().contains("view0_dir .. view5_rgbw"), "{err}");
    }

    /// A moved splat's samples turn with it: from the moved eye it looks as it did before.
    #[test]
    fn view_samples_turn_with_the_splat() {
        let motion = nalgebra::Isometry3::new(
            nalgebra::Vector3::new(1.0, 2.0, 0.5),
            nalgebra::Vector3::new(0.3, -0.2, 1.1),
        );
        let mut frame = SplatFrame {
            positions: vec![[0.0; 3]],
            normals: vec![[1.0, 0.0, 0.0]],
            colours: vec![[100, 150, 200]],
            radii: vec![0.01],
            view: vec![some_samples()],
        };
        let d = [0.48, 0.64, 0.6];
        let before = frame.linear_colour(0, d);
        frame.move_by(&motion);
        let turned: [f32; 3] = (motion.rotation.cast::<f32>() * nalgebra::Vector3::from(d)).into();
        let after = frame.linear_colour(0, turned);
        for k in 0..3 {
            assert!((before[k] - after[k]).abs() < 1e-3, "{before:?} {after:?}");
        }
        // And the samples, not the one colour, decide it.
        assert!(before[0] > 0.8, "{before:?}");
    }

    #[test]
    fn a_time_between_instants_moves_the_nearest_by_its_motion() {
        use crate::reconstruct::motion::Motion;
        let motion = Motion {
            pivot: [1.0, 0.0, 2.0],
            linear: [10.0, 0.0, 0.0],
            angular: [0.0, 0.0, 5.0],
        };
        let entry = |index: usize, time: f64, motion: Option<Motion>| FrameEntry {
            index,
            time,
            file: PathBuf::from("f.ply"),
            splats: 1,
            centroid: [0.0; 3],
            bbox_min: [0.0; 3],
            bbox_max: [0.0; 3],
            lowest: None,
            volume_m3: 0.0,
            motion,
        };
        let frames = vec![
            entry(0, 0.0, Some(motion)),
            entry(1, 0.04, Some(motion)),
            entry(2, 0.08, None),
        ];
        let p = nalgebra::Point3::new(1.0, 1.0, 2.0);
        // 0.01 s after instant 0: its motion over 0.01 s.
        let (i, m) = frame_moved_to(&frames, 0.01);
        assert_eq!(i, 0);
        assert!((m * p - motion.at(0.01) * p).norm() < 1e-12);
        // 0.015 s before instant 1: backwards from it.
        let (i, m) = frame_moved_to(&frames, 0.025);
        assert_eq!(i, 1);
        assert!((m * p - motion.at(-0.015) * p).norm() < 1e-12);
        // Instant 2 has no motion: drawn where it was reconstructed.
        let (i, m) = frame_moved_to(&frames, 0.07);
        assert_eq!(i, 2);
        assert_eq!(m, nalgebra::Isometry3::identity());
        // Before the first instant nothing is extrapolated.
        let (i, m) = frame_moved_to(&frames, -0.02);
        assert_eq!(i, 0);
        assert_eq!(m, nalgebra::Isometry3::identity());
    }
}
