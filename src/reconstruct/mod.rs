//! Reconstruction: per instant, a coloured splat cloud of the athlete from the cameras' mattes
//! (hierarchical visual hull, surface normals, view-weighted colour with visibility).

pub mod blend;
pub mod colour;
pub mod fence;
pub mod format;
pub mod hull;
pub mod motion;
pub mod terrain;
pub mod venue;

pub use blend::{ViewSample, ViewSamples};
pub use format::{ReconError, ReconManifest, Reconstruction, SplatFrame};

use crate::camera::Camera;
use crate::segment::Silhouette;
use nalgebra::Point3;

/// One camera at the instant being reconstructed.
pub struct View<'a> {
    pub camera: &'a Camera,
    /// The athlete in the camera frame nearest to the instant.
    pub silhouette: &'a Silhouette,
    /// Image motion of the athlete from that frame to the instant (pixels): a point seen at `p`
    /// at the instant appears at `p - shift` in the frame.
    pub shift: (f64, f64),
}

/// What one instant produced.
pub struct InstantResult {
    pub splats: SplatFrame,
    pub centroid: Point3<f64>,
    pub bbox_min: Point3<f64>,
    pub bbox_max: Point3<f64>,
    /// Where the athlete is lowest: the middle of the lowest layer of occupied cells (on a
    /// kicker's ramp the skis' tails, behind and below the centroid).
    pub lowest: Point3<f64>,
    pub volume_m3: f64,
}

/// Which of the views agree with the rest about where the athlete is.
///
/// A first, tolerant carve at twice the voxel size (a cell survives even if a quarter of the
/// cameras see no athlete there) finds views that disagree with the rest, typically because the
/// venue hides the athlete from them; those views are left out of the exact carve and colouring.
pub fn agreeing_views(views: &[View], params: &hull::CarveParams) -> Vec<bool> {
    if views.len() < 6 {
        return vec![true; views.len()];
    }
    let mut coarse = *params;
    coarse.leaf = params.leaf * 2.0;
    coarse.levels = params.levels.saturating_sub(1).max(1);
    coarse.tolerance = views.len() / 4;
    let robust = hull::carve(views, &coarse);
    let kept: Vec<bool> = views
        .iter()
        .map(|v| hull::agreement(&robust, v) >= 0.6)
        .collect();
    if kept.iter().filter(|&&k| k).count() < 3 {
        return vec![true; views.len()];
    }
    kept
}

/// The views [`agreeing_views`] keeps.
fn kept_views<'a>(views: &'a [View<'a>], kept: &[bool]) -> Vec<View<'a>> {
    views
        .iter()
        .zip(kept)
        .filter(|(_, k)| **k)
        .map(|(v, _)| View {
            camera: v.camera,
            silhouette: v.silhouette,
            shift: v.shift,
        })
        .collect()
}

/// A hull's surface voxels' centres, its volume's centroid and its volume.
pub struct HullSurface {
    pub points: Vec<Point3<f64>>,
    pub centroid: Point3<f64>,
    pub volume_m3: f64,
}

/// The athlete's hull from the views that agree (see [`agreeing_views`]), for measuring the
/// motion between instants ([`motion`]): its surface voxels' centres, the centroid of its
/// volume (`None` when nothing is carved) and which views agreed.
pub fn hull_surface(
    views: &[View],
    params: &hull::CarveParams,
) -> (Option<HullSurface>, Vec<bool>) {
    let agree = agreeing_views(views, params);
    let views = kept_views(views, &agree);
    let mut params = *params;
    params.min_views = params.min_views.min(views.len());
    let occ = hull::carve(&views, &params);
    let (sum, n) = occ
        .occupied()
        .fold((nalgebra::Vector3::zeros(), 0usize), |(s, n), (_, p)| {
            (s + p.coords, n + 1)
        });
    let hull = (n > 0).then(|| HullSurface {
        points: hull::surface_points(&occ),
        centroid: Point3::from(sum / n as f64),
        volume_m3: n as f64 * occ.leaf.powi(3),
    });
    (hull, agree)
}

/// Reconstructs the athlete at one instant from the views that agree ([`agreeing_views`]).
pub fn reconstruct_instant(views: &[View], params: &hull::CarveParams) -> InstantResult {
    let agree = agreeing_views(views, params);
    reconstruct_agreed(&kept_views(views, &agree), params)
}

/// Reconstructs the athlete at one instant from all of `views` (already chosen to agree).
pub fn reconstruct_agreed(views: &[View], params: &hull::CarveParams) -> InstantResult {
    let mut params = *params;
    params.min_views = params.min_views.min(views.len());
    let params = &params;
    let occ = hull::carve(views, params);
    let mut sum = nalgebra::Vector3::zeros();
    let mut n = 0usize;
    let mut lo = Point3::new(f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let mut hi = Point3::new(f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    // The lowest layer's cells: layers run upwards with k, so the first occupied one.
    let (mut low_k, mut low_sum, mut low_n) = (None, nalgebra::Vector3::zeros(), 0usize);
    for (k, p) in occ.occupied() {
        sum += p.coords;
        n += 1;
        lo = lo.inf(&p);
        hi = hi.sup(&p);
        if *low_k.get_or_insert(k) == k {
            low_sum += p.coords;
            low_n += 1;
        }
    }
    let surface = hull::surface(&occ);
    let colour::Colours { srgb, view } =
        colour::colour(views, &surface, params.leaf, params.view_colour);
    let radius = (params.leaf * 0.8) as f32;
    let splats = SplatFrame {
        positions: surface
            .iter()
            .map(|s| {
                [
                    s.position.x as f32,
                    s.position.y as f32,
                    s.position.z as f32,
                ]
            })
            .collect(),
        normals: surface
            .iter()
            .map(|s| [s.normal.x as f32, s.normal.y as f32, s.normal.z as f32])
            .collect(),
        colours: srgb,
        radii: vec![radius; surface.len()],
        view,
    };
    let centroid = if n > 0 {
        Point3::from(sum / n as f64)
    } else {
        Point3::origin()
    };
    if n == 0 {
        lo = Point3::origin();
        hi = Point3::origin();
    }
    let lowest = if low_n > 0 {
        Point3::from(low_sum / low_n as f64)
    } else {
        Point3::origin()
    };
    InstantResult {
        splats,
        centroid,
        bbox_min: lo,
        bbox_max: hi,
        lowest,
        volume_m3: n as f64 * params.leaf.powi(3),
    }
}
