//! Hierarchical visual hull: an octree carve whose cost follows the surface, not the volume.
//!
//! A cell is projected into every view; a summed-area table of the matte counts athlete pixels
//! under its projected bounding box in constant time. A cell is empty as soon as one camera
//! that sees all of it sees no athlete there, full when every camera that sees it sees only
//! athlete, and otherwise split in eight until the leaf size, where the cell centre decides.

use super::View;
use crate::camera::Projector;
use crate::util::floor_i64;
use nalgebra::{Point3, Vector3};
use rayon::prelude::*;

/// Occupancy on a dense leaf grid covering the carved hull.
pub struct Occupancy {
    /// World position of the centre of voxel (0, 0, 0).
    pub origin: Point3<f64>,
    pub leaf: f64,
    pub dims: [usize; 3],
    pub cells: Vec<u8>,
}

impl Occupancy {
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        (k * self.dims[1] + j) * self.dims[0] + i
    }

    pub fn get(&self, i: i64, j: i64, k: i64) -> bool {
        if i < 0
            || j < 0
            || k < 0
            || i >= self.dims[0] as i64
            || j >= self.dims[1] as i64
            || k >= self.dims[2] as i64
        {
            return false;
        }
        self.cells[self.index(i as usize, j as usize, k as usize)] != 0
    }

    pub fn centre(&self, i: usize, j: usize, k: usize) -> Point3<f64> {
        self.origin + Vector3::new(i as f64, j as f64, k as f64) * self.leaf
    }

    /// The occupied voxels' layers (`k`, running upwards) and centres, layer by layer.
    pub fn occupied(&self) -> impl Iterator<Item = (usize, Point3<f64>)> + '_ {
        let [nx, ny, _] = self.dims;
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0)
            .map(move |(idx, _)| {
                let (i, j, k) = (idx % nx, (idx / nx) % ny, idx / (nx * ny));
                (k, self.centre(i, j, k))
            })
    }

    pub fn count(&self) -> usize {
        self.cells.iter().filter(|&&c| c != 0).count()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Empty,
    Full,
    Partial,
}

/// Carving parameters.
#[derive(Debug, Clone, Copy)]
pub struct CarveParams {
    pub volume_min: Point3<f64>,
    pub volume_max: Point3<f64>,
    /// Leaf voxel edge (m).
    pub leaf: f64,
    /// Number of subdivisions from the root cells to the leaves.
    pub levels: u32,
    /// A cell seen (even partly) by fewer cameras than this is outside the capture zone.
    pub min_views: usize,
    /// How many cameras may see no athlete where a cell is still kept (for views in which
    /// the athlete is hidden behind the venue, or a matte failed).
    pub tolerance: usize,
    /// Pixels of slack when testing a point against a matte, for calibrations that are off by
    /// a pixel or so (real rigs); 0 for exact ones.
    pub matte_slack: u32,
    /// Keep each splat's view samples ([`crate::reconstruct::blend`]) besides its one colour.
    pub view_colour: bool,
}

impl CarveParams {
    pub fn new(volume_min: Point3<f64>, volume_max: Point3<f64>, leaf: f64, views: usize) -> Self {
        // Root cells of up to 4 m, or of the whole volume when it is smaller. Most of the
        // volume is empty and is rejected at the top: a few hundred 4 m cells instead of ten
        // thousand 1 m ones (aerials16: sync and reconstruct a tenth faster, the same hull).
        let extent = (volume_max - volume_min).max().clamp(leaf * 2.0, 4.0);
        let levels = (extent / leaf).log2().ceil().max(1.0) as u32;
        Self {
            volume_min,
            volume_max,
            leaf,
            levels,
            min_views: ((views as f64 * 0.6).ceil() as usize)
                .max(2)
                .min(views.max(1)),
            tolerance: 0,
            matte_slack: 0,
            view_colour: false,
        }
    }

    fn root(&self) -> f64 {
        self.leaf * (1u64 << self.levels) as f64
    }
}

/// Which view to test first: the one that last rejected a cell on this worker. Neighbouring
/// cells (siblings, which come one after another) tend to be rejected by the same camera, and
/// an empty cell costs one projection instead of a dozen when that camera comes first. The
/// order changes nothing else: a cell is empty when more than `tolerance` cameras reject it,
/// whichever is tested first.
#[derive(Default)]
struct FirstView(usize);

impl FirstView {
    /// The views' indices, this one first and the rest in order after it.
    fn order(&self, n: usize) -> impl Iterator<Item = usize> + use<> {
        let first = if self.0 < n { self.0 } else { 0 };
        (first..n).chain(0..first)
    }
}

fn classify(
    views: &[View],
    projectors: &[Projector],
    lo: &Point3<f64>,
    size: f64,
    params: &CarveParams,
    first: &mut FirstView,
) -> Class {
    let (min_views, tolerance) = (params.min_views, params.tolerance);
    let slack = params.matte_slack as i64;
    let mut seen = 0;
    let mut all_full = true;
    let mut rejections = 0;
    for i in first.order(views.len()) {
        let (v, proj) = (&views[i], &projectors[i]);
        let cam = v.camera;
        let (w, h) = (cam.intrinsics.width as f64, cam.intrinsics.height as f64);
        let (mut x0, mut y0, mut x1, mut y1) = (
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        );
        let mut behind = false;
        // The corners in the camera's frame: the lower corner plus the cell's edges.
        let base = proj.to_camera(lo);
        let edges = [
            proj.rotate(&Vector3::new(size, 0.0, 0.0)),
            proj.rotate(&Vector3::new(0.0, size, 0.0)),
            proj.rotate(&Vector3::new(0.0, 0.0, size)),
        ];
        for c in 0..8 {
            let mut q = base;
            for (axis, e) in edges.iter().enumerate() {
                if c & (1 << axis) != 0 {
                    q = [q[0] + e[0], q[1] + e[1], q[2] + e[2]];
                }
            }
            match proj.project_camera(q) {
                Some((px, py, d)) if d > 0.1 => {
                    let (qx, qy) = (px - v.shift.0, py - v.shift.1);
                    x0 = x0.min(qx);
                    y0 = y0.min(qy);
                    x1 = x1.max(qx);
                    y1 = y1.max(qy);
                }
                _ => behind = true,
            }
        }
        if behind {
            // The cell reaches behind this camera: undecided at this size, but not outside.
            seen += 1;
            all_full = false;
            continue;
        }
        // Pixel centres at integers: the box covers pixels round(x0)..=round(x1).
        let (ix0, iy0) = (floor_i64(x0 + 0.5), floor_i64(y0 + 0.5));
        let (ix1, iy1) = (floor_i64(x1 + 0.5) + 1, floor_i64(y1 + 0.5) + 1);
        if ix1 <= 0 || iy1 <= 0 || ix0 >= w as i64 || iy0 >= h as i64 {
            continue; // this camera does not see the cell
        }
        seen += 1;
        let inside = ix0 >= 0 && iy0 >= 0 && ix1 <= w as i64 && iy1 <= h as i64;
        let count = v
            .silhouette
            .matte
            .count(ix0 - slack, iy0 - slack, ix1 + slack, iy1 + slack) as i64;
        if count == 0 && inside {
            rejections += 1;
            if rejections > tolerance {
                first.0 = i;
                return Class::Empty;
            }
            continue;
        }
        let area = (ix1.min(w as i64) - ix0.max(0)) * (iy1.min(h as i64) - iy0.max(0));
        if count < area || !inside {
            all_full = false;
        }
    }
    if seen < min_views {
        return Class::Empty;
    }
    if all_full {
        Class::Full
    } else {
        Class::Partial
    }
}

/// The leaf test: the cell centre projects into the matte of every camera that sees it (but
/// `tolerance` of them).
fn leaf_occupied(
    views: &[View],
    projectors: &[Projector],
    p: &Point3<f64>,
    params: &CarveParams,
    first: &mut FirstView,
) -> bool {
    let (min_views, tolerance) = (params.min_views, params.tolerance);
    let slack = params.matte_slack as i64;
    let mut seen = 0;
    let mut rejections = 0;
    for i in first.order(views.len()) {
        let (v, proj) = (&views[i], &projectors[i]);
        let cam = v.camera;
        let Some((px, py, d)) = proj.project(p) else {
            continue;
        };
        if d <= 0.1 {
            continue;
        }
        let (qx, qy) = (px - v.shift.0, py - v.shift.1);
        if !cam.in_image(&crate::camera::Pixel::new(qx, qy)) {
            continue;
        }
        seen += 1;
        let (ix, iy) = (floor_i64(qx + 0.5), floor_i64(qy + 0.5));
        let hit = if slack == 0 {
            v.silhouette.matte.get(ix, iy)
        } else {
            v.silhouette
                .matte
                .count(ix - slack, iy - slack, ix + slack + 1, iy + slack + 1)
                > 0
        };
        if !hit {
            rejections += 1;
            if rejections > tolerance {
                first.0 = i;
                return false;
            }
        }
    }
    seen >= min_views
}

/// Carves the visual hull of the views.
pub fn carve(views: &[View], params: &CarveParams) -> Occupancy {
    let projectors: Vec<Projector> = views.iter().map(|v| Projector::new(v.camera)).collect();
    let root = params.root();
    let ext = params.volume_max - params.volume_min;
    let n = [
        (ext.x / root).ceil().max(1.0) as i64,
        (ext.y / root).ceil().max(1.0) as i64,
        (ext.z / root).ceil().max(1.0) as i64,
    ];
    // Cells as integer coordinates at their level.
    let mut cells: Vec<[i64; 3]> = Vec::new();
    for k in 0..n[2] {
        for j in 0..n[1] {
            for i in 0..n[0] {
                cells.push([i, j, k]);
            }
        }
    }
    let corner = |c: &[i64; 3], size: f64| {
        params.volume_min + Vector3::new(c[0] as f64, c[1] as f64, c[2] as f64) * size
    };
    // Full cells, as (leaf-grid lower corner, edge in leaves).
    let mut full: Vec<([i64; 3], i64)> = Vec::new();
    let mut leaves: Vec<[i64; 3]> = Vec::new();
    for level in 0..=params.levels {
        let size = root / (1u64 << level) as f64;
        let leaves_per_cell = 1i64 << (params.levels - level);
        if level == params.levels {
            leaves = cells
                .par_iter()
                .map_init(FirstView::default, |first, c| {
                    let p = corner(c, size) + Vector3::repeat(size * 0.5);
                    leaf_occupied(views, &projectors, &p, params, first).then_some(*c)
                })
                .flatten()
                .collect();
            break;
        }
        let classes: Vec<Class> = cells
            .par_iter()
            .map_init(FirstView::default, |first, c| {
                // Root cells may reach past the volume; what lies beyond it is not searched.
                let lo = corner(c, size);
                if lo.x >= params.volume_max.x
                    || lo.y >= params.volume_max.y
                    || lo.z >= params.volume_max.z
                {
                    return Class::Empty;
                }
                classify(views, &projectors, &corner(c, size), size, params, first)
            })
            .collect();
        let mut next = Vec::new();
        for (c, class) in cells.iter().zip(classes) {
            match class {
                Class::Empty => {}
                Class::Full => full.push((
                    [
                        c[0] * leaves_per_cell,
                        c[1] * leaves_per_cell,
                        c[2] * leaves_per_cell,
                    ],
                    leaves_per_cell,
                )),
                Class::Partial => {
                    for d in 0..8 {
                        next.push([
                            c[0] * 2 + (d & 1),
                            c[1] * 2 + ((d >> 1) & 1),
                            c[2] * 2 + ((d >> 2) & 1),
                        ]);
                    }
                }
            }
        }
        cells = next;
    }
    // Dense grid over what survived, with a one-voxel empty border.
    let mut lo = [i64::MAX; 3];
    let mut hi = [i64::MIN; 3];
    for l in &leaves {
        for a in 0..3 {
            lo[a] = lo[a].min(l[a]);
            hi[a] = hi[a].max(l[a]);
        }
    }
    for (c, e) in &full {
        for a in 0..3 {
            lo[a] = lo[a].min(c[a]);
            hi[a] = hi[a].max(c[a] + e - 1);
        }
    }
    if lo[0] > hi[0] {
        return Occupancy {
            origin: params.volume_min,
            leaf: params.leaf,
            dims: [0, 0, 0],
            cells: Vec::new(),
        };
    }
    for a in 0..3 {
        lo[a] -= 1;
        hi[a] += 1;
    }
    let dims = [
        (hi[0] - lo[0] + 1) as usize,
        (hi[1] - lo[1] + 1) as usize,
        (hi[2] - lo[2] + 1) as usize,
    ];
    let mut occ = Occupancy {
        origin: params.volume_min
            + Vector3::new(lo[0] as f64 + 0.5, lo[1] as f64 + 0.5, lo[2] as f64 + 0.5)
                * params.leaf,
        leaf: params.leaf,
        dims,
        cells: vec![0; dims[0] * dims[1] * dims[2]],
    };
    for l in &leaves {
        let idx = occ.index(
            (l[0] - lo[0]) as usize,
            (l[1] - lo[1]) as usize,
            (l[2] - lo[2]) as usize,
        );
        occ.cells[idx] = 1;
    }
    for (c, e) in &full {
        for k in 0..*e {
            for j in 0..*e {
                for i in 0..*e {
                    let idx = occ.index(
                        (c[0] + i - lo[0]) as usize,
                        (c[1] + j - lo[1]) as usize,
                        (c[2] + k - lo[2]) as usize,
                    );
                    occ.cells[idx] = 1;
                }
            }
        }
    }
    occ
}

/// A surface voxel: occupied with at least one empty face neighbour.
pub struct SurfaceVoxel {
    pub position: Point3<f64>,
    pub normal: Vector3<f64>,
}

/// The grid coordinates of the occupied voxels with at least one empty face neighbour.
fn exposed(occ: &Occupancy) -> Vec<[i64; 3]> {
    let [nx, ny, nz] = occ.dims;
    let mut coords = Vec::new();
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                if occ.cells[occ.index(i, j, k)] == 0 {
                    continue;
                }
                let (ii, jj, kk) = (i as i64, j as i64, k as i64);
                let exposed = !occ.get(ii - 1, jj, kk)
                    || !occ.get(ii + 1, jj, kk)
                    || !occ.get(ii, jj - 1, kk)
                    || !occ.get(ii, jj + 1, kk)
                    || !occ.get(ii, jj, kk - 1)
                    || !occ.get(ii, jj, kk + 1);
                if exposed {
                    coords.push([ii, jj, kk]);
                }
            }
        }
    }
    coords
}

/// The centres of the surface voxels (those [`surface`] gives), without normals.
pub fn surface_points(occ: &Occupancy) -> Vec<Point3<f64>> {
    exposed(occ)
        .into_iter()
        .map(|c| occ.centre(c[0] as usize, c[1] as usize, c[2] as usize))
        .collect()
}

/// Surface voxels with outward normals from the smoothed occupancy gradient.
pub fn surface(occ: &Occupancy) -> Vec<SurfaceVoxel> {
    let coords = exposed(occ);
    coords
        .par_iter()
        .map(|c| {
            let mut g = Vector3::zeros();
            for dk in -2i64..=2 {
                for dj in -2i64..=2 {
                    for di in -2i64..=2 {
                        let r2 = di * di + dj * dj + dk * dk;
                        if r2 == 0 || r2 > 6 {
                            continue;
                        }
                        if occ.get(c[0] + di, c[1] + dj, c[2] + dk) {
                            g -= Vector3::new(di as f64, dj as f64, dk as f64);
                        }
                    }
                }
            }
            let normal = if g.norm() > 1e-9 {
                g.normalize()
            } else {
                Vector3::z()
            };
            SurfaceVoxel {
                position: occ.centre(c[0] as usize, c[1] as usize, c[2] as usize),
                normal,
            }
        })
        .collect()
}

/// Fraction of the hull's voxels, projected into `view`, that land on the view's athlete matte.
/// A view in which the athlete is hidden (behind the kicker, say) scores low.
pub fn agreement(occ: &Occupancy, view: &View) -> f64 {
    let cam = view.camera;
    let (mut inside, mut total) = (0usize, 0usize);
    let mut idx = 0usize;
    for k in 0..occ.dims[2] {
        for j in 0..occ.dims[1] {
            for i in 0..occ.dims[0] {
                if occ.cells[occ.index(i, j, k)] == 0 {
                    continue;
                }
                idx += 1;
                if !idx.is_multiple_of(3) {
                    continue;
                }
                let Some((px, d)) = cam.project_with_depth(&occ.centre(i, j, k)) else {
                    continue;
                };
                if d <= 0.1 {
                    continue;
                }
                let (qx, qy) = (px.x - view.shift.0, px.y - view.shift.1);
                if !cam.in_image(&crate::camera::Pixel::new(qx, qy)) {
                    continue;
                }
                total += 1;
                if view
                    .silhouette
                    .matte
                    .get(floor_i64(qx + 0.5), floor_i64(qy + 0.5))
                {
                    inside += 1;
                }
            }
        }
    }
    if total == 0 {
        1.0
    } else {
        inside as f64 / total as f64
    }
}
