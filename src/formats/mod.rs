//! Calibration and capture formats other tools write, one module per format. Each reads its
//! files into [`ImportedCamera`]s; [`write_manifest`] turns them into a replay360 capture.
//! Problems that leave a camera unusable are errors naming the file; problems the import can
//! work around are warnings. [`gaussian_ply`] reads and writes 3D Gaussian splat clouds in the
//! INRIA PLY layout, so reconstructions travel both ways between replay360 and splat tools.

pub mod colmap;
pub mod colmap_bin;
pub mod gaussian_ply;
pub mod middlebury;
pub mod nerfstudio;
pub mod opencv;
pub mod opencv_yaml;
pub mod panoptic;

use crate::camera::{CameraFromWorld, Distortion, Intrinsics};
use crate::capture::{
    CAPTURE_FORMAT, CAPTURE_VERSION, CameraEntry, CaptureManifest, Extrinsics, IntrinsicsEntry,
    Segmentation, WorldFrame,
};
use nalgebra::{Matrix3, Rotation3};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read ({source}): {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{problem}: {path}")]
    Invalid { path: PathBuf, problem: String },
    #[error("cannot read the media file ({source}): {path}")]
    Media {
        path: PathBuf,
        #[source]
        source: crate::media::MediaError,
    },
    #[error("nothing to import: {0}")]
    Empty(String),
}

impl ImportError {
    pub fn invalid(path: &Path, problem: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}

/// Largest `|RᵀR - I|` of a rotation matrix taken as it is. Files that print rotations with
/// six or seven digits (or as 32-bit floats) miss it by a little.
pub const ROTATION_TOLERANCE: f64 = 1e-6;
/// Largest `|RᵀR - I|` of a matrix still taken as a rotation (replaced by the nearest rotation,
/// with a warning); beyond it the matrix is an error.
pub const ROTATION_LIMIT: f64 = 1e-3;

/// The rotation a calibration states as a 3x3 matrix (`what` says where, for messages).
/// Errors: NaN or infinite entries, a reflection (det < 0), or `|RᵀR - I|` above
/// [`ROTATION_LIMIT`]. Between [`ROTATION_TOLERANCE`] and the limit the nearest rotation is
/// used and a warning says so.
pub fn rotation_from_matrix(
    m: &Matrix3<f64>,
    path: &Path,
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<Rotation3<f64>, ImportError> {
    if m.iter().any(|v| !v.is_finite()) {
        return Err(ImportError::invalid(
            path,
            format!("{what}: the rotation contains NaN or infinite values"),
        ));
    }
    let det = m.determinant();
    if det <= 0.0 {
        return Err(ImportError::invalid(
            path,
            format!("{what}: the rotation matrix is not a rotation (det = {det:.4})"),
        ));
    }
    let orth = (m.transpose() * m - Matrix3::identity()).abs().max();
    if orth > ROTATION_LIMIT {
        return Err(ImportError::invalid(
            path,
            format!(
                "{what}: the rotation matrix is not a rotation (|RᵀR - I| = {orth:.2e}, det = {det:.4})"
            ),
        ));
    }
    if orth > ROTATION_TOLERANCE {
        warnings.push(format!(
            "{what}: the rotation is off orthonormal by {orth:.1e}; the nearest rotation is used: {}",
            path.display()
        ));
    }
    // Near a rotation already, so this converges in a few steps.
    Ok(Rotation3::from_matrix_eps(
        m,
        1e-15,
        100,
        Rotation3::identity(),
    ))
}

/// Checks what a calibration says about a camera's lens (`what` says which camera).
pub fn check_intrinsics(k: &Intrinsics, path: &Path, what: &str) -> Result<(), ImportError> {
    let coefficients: Vec<f64> = match k.distortion {
        Distortion::None => Vec::new(),
        Distortion::RadialTangential { k1, k2, p1, p2, k3 } => vec![k1, k2, p1, p2, k3],
        Distortion::Fisheye { k1, k2, k3, k4 } => vec![k1, k2, k3, k4],
    };
    if [k.fx, k.fy, k.cx, k.cy]
        .iter()
        .chain(&coefficients)
        .any(|v| !v.is_finite())
    {
        return Err(ImportError::invalid(
            path,
            format!("{what}: the intrinsics contain NaN or infinite values"),
        ));
    }
    if k.fx <= 0.0 || k.fy <= 0.0 {
        return Err(ImportError::invalid(
            path,
            format!(
                "{what}: focal lengths must be positive (fx {}, fy {})",
                k.fx, k.fy
            ),
        ));
    }
    if k.width == 0 || k.height == 0 {
        return Err(ImportError::invalid(
            path,
            format!("{what}: the image size {}x{} is empty", k.width, k.height),
        ));
    }
    Ok(())
}

/// The unit of a reconstruction whose scale is whatever the tool chose (structure from
/// motion): the one the user states, else metres with a warning.
pub fn units_or_metres(units: Option<Units>, path: &Path, warnings: &mut Vec<String>) -> Units {
    units.unwrap_or_else(|| {
        warnings.push(format!(
            "the calibration does not state its unit (structure from motion has an arbitrary \
             scale); taken as metres, pass --units to say otherwise: {}",
            path.display()
        ));
        Units::Metres
    })
}

/// A camera id from a media path: the path without its extension, separators turned into `_`.
pub fn id_from_name(name: &str) -> String {
    let p = Path::new(name);
    let stem = match (p.parent(), p.file_stem()) {
        (Some(parent), Some(stem)) if !parent.as_os_str().is_empty() => {
            parent.join(stem).to_string_lossy().into_owned()
        }
        (_, Some(stem)) => stem.to_string_lossy().into_owned(),
        _ => name.to_owned(),
    };
    stem.trim_start_matches("./")
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect()
}

/// `Distortion::None` for a radial-tangential model whose coefficients are all zero. (A fisheye
/// model without coefficients is still a fisheye: the equidistant projection.)
pub fn without_zero_terms(d: Distortion) -> Distortion {
    match d {
        Distortion::RadialTangential { k1, k2, p1, p2, k3 }
            if [k1, k2, p1, p2, k3].iter().all(|&c| c == 0.0) =>
        {
            Distortion::None
        }
        d => d,
    }
}

/// Whether an image file has an alpha channel (read from its header; `false` when unreadable
/// or not an image the `image` crate knows).
pub fn has_alpha(path: &Path) -> bool {
    use image::ImageDecoder as _;
    image::ImageReader::open(path)
        .ok()
        .and_then(|r| r.with_guessed_format().ok())
        .and_then(|r| r.into_decoder().ok())
        .is_some_and(|d| d.color_type().has_alpha())
}

/// Segmentation for images that may carry their matte: by alpha when the first camera's
/// media has an alpha channel, else a background model.
fn segmentation_for(first_media: Option<&Path>) -> Segmentation {
    if first_media.is_some_and(has_alpha) {
        Segmentation::Alpha
    } else {
        Segmentation::Background
    }
}

/// Length unit of a calibration's translations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    Metres,
    Millimetres,
    Centimetres,
}

impl Units {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "m" | "metres" | "meters" => Some(Self::Metres),
            "mm" | "millimetres" | "millimeters" => Some(Self::Millimetres),
            "cm" | "centimetres" | "centimeters" => Some(Self::Centimetres),
            _ => None,
        }
    }
    pub fn to_metres(self) -> f64 {
        match self {
            Self::Metres => 1.0,
            Self::Millimetres => 0.001,
            Self::Centimetres => 0.01,
        }
    }
}

/// A camera id from a file name, unique among `taken`: `name`'s id, or that with `_{number}`
/// when another camera already has it.
pub fn unique_id(
    taken: &mut std::collections::BTreeSet<String>,
    name: &str,
    number: impl std::fmt::Display,
) -> String {
    let mut id = id_from_name(name);
    if !taken.insert(id.clone()) {
        id = format!("{id}_{number}");
        taken.insert(id.clone());
    }
    id
}

/// One camera read from another tool's files.
#[derive(Debug, Clone)]
pub struct ImportedCamera {
    pub id: String,
    /// Video, image sequence pattern or single image.
    pub media: PathBuf,
    /// The empty scene from this camera, when the source has one.
    pub background: Option<PathBuf>,
    /// The subject's matte for the media, when the source has one.
    pub mask: Option<PathBuf>,
    pub intrinsics: Intrinsics,
    pub pose: CameraFromWorld,
    pub fps: f64,
    pub frame_count: Option<u64>,
}

impl ImportedCamera {
    /// A camera of a static capture: one image, no background plate.
    pub fn still(
        id: String,
        media: PathBuf,
        intrinsics: Intrinsics,
        pose: CameraFromWorld,
    ) -> Self {
        Self {
            id,
            media,
            background: None,
            mask: None,
            intrinsics,
            pose,
            fps: 1.0,
            frame_count: Some(1),
        }
    }
}

/// What an import produced.
pub struct Imported {
    pub cameras: Vec<ImportedCamera>,
    pub synchronized: bool,
    pub segmentation: Segmentation,
    pub warnings: Vec<String>,
}

impl Imported {
    /// A static capture of single-image cameras (one synchronized instant): segmented by the
    /// cameras' masks when every camera has one, else by the images' alpha when they have it,
    /// else by a background model. Masks on only some cameras are dropped with a warning naming
    /// `source`.
    pub fn stills(
        mut cameras: Vec<ImportedCamera>,
        mut warnings: Vec<String>,
        source: &Path,
    ) -> Self {
        let masked = cameras.iter().filter(|c| c.mask.is_some()).count();
        let segmentation = if masked > 0 && masked == cameras.len() {
            Segmentation::Mask
        } else {
            if masked > 0 {
                warnings.push(format!(
                    "only {masked} of {} cameras have a mask; masks are not used: {}",
                    cameras.len(),
                    source.display()
                ));
                for c in &mut cameras {
                    c.mask = None;
                }
            }
            segmentation_for(cameras.first().map(|c| c.media.as_path()))
        };
        Self {
            cameras,
            synchronized: true,
            segmentation,
            warnings,
        }
    }

    /// Re-expresses every pose in a world whose `up` axis ("+z", "-z", "+y", "-y", "+x", "-x"
    /// of the source's frame) becomes replay360's +Z.
    pub fn set_up_axis(&mut self, up: &str) -> Result<(), String> {
        use nalgebra::{Rotation3, Vector3};
        let q = match up {
            "+z" | "z" => Rotation3::identity(),
            "-z" => Rotation3::from_axis_angle(&Vector3::x_axis(), std::f64::consts::PI),
            "+y" | "y" => {
                Rotation3::from_axis_angle(&Vector3::x_axis(), std::f64::consts::FRAC_PI_2)
            }
            "-y" => Rotation3::from_axis_angle(&Vector3::x_axis(), -std::f64::consts::FRAC_PI_2),
            "+x" | "x" => {
                Rotation3::from_axis_angle(&Vector3::y_axis(), -std::f64::consts::FRAC_PI_2)
            }
            "-x" => Rotation3::from_axis_angle(&Vector3::y_axis(), std::f64::consts::FRAC_PI_2),
            other => {
                return Err(format!(
                    "unknown up axis {other:?} (+z, -z, +y, -y, +x, -x)"
                ));
            }
        };
        for c in &mut self.cameras {
            // x_cam = R x + t with x = Qᵀ x'.
            c.pose.rotation *= q.inverse();
        }
        Ok(())
    }
}

/// Checks each camera's media against its calibration (size, readability) and writes the
/// capture manifest to `out/capture.json`. Returns the manifest path.
pub fn write_manifest(imported: &Imported, name: &str, out: &Path) -> Result<PathBuf, ImportError> {
    if imported.cameras.is_empty() {
        return Err(ImportError::Empty(name.to_owned()));
    }
    std::fs::create_dir_all(out).map_err(|source| ImportError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut cameras = Vec::new();
    for c in &imported.cameras {
        let reader =
            crate::media::VideoReader::open(&c.media, 1).map_err(|source| ImportError::Media {
                path: c.media.clone(),
                source,
            })?;
        let info = reader.info();
        if (info.width, info.height) != (c.intrinsics.width, c.intrinsics.height) {
            return Err(ImportError::invalid(
                &c.media,
                format!(
                    "camera {}: the media is {}x{} but the calibration is for {}x{}",
                    c.id, info.width, info.height, c.intrinsics.width, c.intrinsics.height
                ),
            ));
        }
        let fps = if c.fps > 0.0 {
            c.fps
        } else if info.fps > 0.0 {
            info.fps
        } else {
            1.0
        };
        let absolute = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        cameras.push(CameraEntry {
            id: c.id.clone(),
            video: absolute(&c.media),
            width: c.intrinsics.width,
            height: c.intrinsics.height,
            fps,
            frame_count: c.frame_count.or(info.frame_count),
            held_out: false,
            background: c.background.as_deref().map(absolute),
            mask: c.mask.as_deref().map(absolute),
            offset_s: imported.synchronized.then_some(0.0),
            intrinsics: IntrinsicsEntry::from(&c.intrinsics),
            extrinsics: Extrinsics::from_camera_from_world(&c.pose),
        });
    }
    let manifest = CaptureManifest {
        format: CAPTURE_FORMAT.to_owned(),
        version: CAPTURE_VERSION,
        name: name.to_owned(),
        description: format!(
            "imported with replay360 import; {} camera(s)",
            cameras.len()
        ),
        world: WorldFrame::default(),
        timeline: "seconds; zero is the first frame of the first listed camera".to_owned(),
        volume: None,
        synchronized: imported.synchronized,
        segmentation: imported.segmentation,
        cameras,
    };
    let path = out.join("capture.json");
    crate::util::write_atomic(&path, manifest.to_json().as_bytes()).map_err(|source| {
        ImportError::Io {
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}
