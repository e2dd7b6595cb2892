//! Anisotropic 3D Gaussians (3D Gaussian Splatting files, or our splats as flat Gaussians),
//! drawn depth-sorted and alpha-blended by a tile-based compute rasteriser:
//!
//! 1. CPU (rayon), whenever the view or the cloud changes: each Gaussian's 3D covariance is
//!    projected to a 2D ellipse (EWA splatting as in 3DGS: `J W Σ Wᵀ Jᵀ` plus 0.3 px² of
//!    low-pass, which anti-aliases), Gaussians off screen, behind the camera or too faint are
//!    culled, the rest are sorted front to back by view depth (radix sort) and binned into
//!    16x16-pixel tiles in that order (a counting sort, so every tile's list stays sorted).
//! 2. GPU compute (`shaders/gaussian_raster.wgsl`): one invocation per pixel walks its tile's
//!    list, blends front to back in linear light and stops when the pixel is opaque or the
//!    next Gaussian is behind the scene's depth buffer (the venue, the disc splats, the
//!    after-images' depth pass).
//! 3. GPU fragment (`shaders/gaussian_composite.wgsl`): the premultiplied layer over the scene.
//!
//! Why compute: lavapipe runs a fragment pipeline (rasterisation, blending, per-sample work)
//! far slower than plain SIMD compute, and per-pixel early termination skips most of the
//! Gaussians a quad-per-Gaussian pipeline would shade (see the README's benchmark section).
//!
//! The cloud to draw is the [`GaussianSplats`] resource; one cloud per app, drawn in every 3D
//! view. Colours are the 3DGS base colour (spherical-harmonic degree 0); higher degrees are
//! not evaluated.

use super::convert;
use crate::formats::gaussian_ply::GaussianCloud;
use crate::reconstruct::ViewSamples;
use bevy::asset::{Handle, uuid_handle};
use bevy::core_pipeline::{Core3d, Core3dSystems};
use bevy::math::{Mat3, Mat4, Quat, Vec3, Vec4Swizzles};
use bevy::prelude::*;
use bevy::render::extract_resource::{ExtractResource, ExtractResourcePlugin};
use bevy::render::render_resource::binding_types::{
    storage_buffer_read_only_sized, texture_2d, texture_depth_2d, texture_depth_2d_multisampled,
    texture_storage_2d, uniform_buffer_sized,
};
use bevy::render::render_resource::{
    BindGroup, BindGroupEntries, BindGroupLayoutDescriptor, BindGroupLayoutEntries, BlendState,
    Buffer, BufferDescriptor, BufferUsages, CachedComputePipelineId, CachedRenderPipelineId,
    ColorTargetState, ColorWrites, ComputePassDescriptor, ComputePipelineDescriptor, Extent3d,
    FragmentState, PipelineCache, RenderPassDescriptor, RenderPipelineDescriptor, ShaderStages,
    StorageTextureAccess, Texture, TextureDescriptor, TextureDimension, TextureFormat,
    TextureSampleType, TextureUsages, TextureView, TextureViewDescriptor, VertexState,
};
use bevy::render::renderer::{RenderContext, RenderDevice, RenderQueue, ViewQuery};
use bevy::render::view::{ExtractedView, ViewDepthTexture, ViewTarget};
use bevy::render::{Render, RenderApp, RenderStartup, RenderSystems};
use bevy::shader::{Shader, ShaderDefVal};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const RASTER_SHADER: Handle<Shader> = uuid_handle!("6f3b5f0e-3f5c-4d8e-9a51-1b2d3c4e5f63");
pub const COMPOSITE_SHADER: Handle<Shader> = uuid_handle!("6f3b5f0e-3f5c-4d8e-9a51-1b2d3c4e5f64");

/// Tile size in pixels: the compute shader's workgroup is one tile, one invocation per row.
pub const TILE_W: u32 = 16;
pub const TILE_H: u32 = 16;
// Tile-local pixel bounds travel as 4-bit fields.
const _: () = assert!(TILE_W <= 16 && TILE_H <= 16);
/// Most workgroups in one dimension of a dispatch (the WebGPU limit).
const MAX_GROUPS: u32 = 65535;
/// Coverage below which a Gaussian adds nothing to a pixel (as in 3DGS).
const MIN_ALPHA: f32 = 1.0 / 255.0;
/// Added to the 2D covariance's diagonal (px²): the 3DGS low-pass filter.
const LOW_PASS: f32 = 0.3;

/// Gaussians ready to project: Bevy's frame, covariance precomputed.
#[derive(Debug, Clone, Default)]
pub struct GaussianScene {
    pub centres: Vec<Vec3>,
    /// 3D covariances (m²): xx, xy, xz, yy, yz, zz.
    pub covariances: Vec<[f32; 6]>,
    /// Linear rgb and opacity.
    pub colours: Vec<[f32; 4]>,
    /// What the cameras saw of each Gaussian, directions in Bevy's frame (see
    /// [`crate::reconstruct::blend`]): each view blends its own colour from them. Empty: the
    /// colours above from every side.
    pub view: Vec<ViewSamples>,
}

fn srgb_to_linear(c: f32) -> f32 {
    let c = c.clamp(0.0, 1.0);
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

impl GaussianScene {
    /// A cloud given in the replay360 world (Z up, metres), as Bevy-frame Gaussians.
    pub fn from_cloud(cloud: &GaussianCloud) -> Self {
        // World to Bevy: x stays, world z becomes Bevy y, world y becomes Bevy -z.
        let m = Mat3::from_cols(Vec3::X, Vec3::NEG_Z, Vec3::Y);
        let n = cloud.len();
        let covariances = (0..n)
            .into_par_iter()
            .with_min_len(4096)
            .map(|i| {
                let [w, x, y, z] = cloud.rotations[i];
                let r = m * Mat3::from_quat(Quat::from_xyzw(x, y, z, w).normalize());
                let s = cloud.scales[i];
                let a = Mat3::from_cols(r.x_axis * s[0], r.y_axis * s[1], r.z_axis * s[2]);
                let c = a * a.transpose();
                [
                    c.x_axis.x, c.y_axis.x, c.z_axis.x, c.y_axis.y, c.z_axis.y, c.z_axis.z,
                ]
            })
            .collect();
        Self {
            centres: cloud
                .positions
                .iter()
                .map(|&p| convert::point_f32(p))
                .collect(),
            covariances,
            colours: (0..n)
                .map(|i| {
                    let c = cloud.colours[i];
                    [
                        srgb_to_linear(c[0]),
                        srgb_to_linear(c[1]),
                        srgb_to_linear(c[2]),
                        cloud.opacities[i].clamp(0.0, 1.0),
                    ]
                })
                .collect(),
            view: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.centres.len()
    }

    pub fn is_empty(&self) -> bool {
        self.centres.is_empty()
    }
}

/// What the last frames drew (shared between the app and its render world).
#[derive(Debug, Default)]
pub struct GaussianStats {
    /// Frames in which the Gaussian layer was rasterised.
    pub frames: AtomicU64,
    /// Gaussians on screen in the last binned frame.
    pub drawn: AtomicU64,
    /// Tile-list entries in the last binned frame.
    pub entries: AtomicU64,
    /// Total CPU time projecting, sorting and binning (ns), how many times, and the
    /// Gaussians on screen and tile-list entries summed over those times.
    pub bin_ns: AtomicU64,
    pub bins: AtomicU64,
    pub drawn_sum: AtomicU64,
    pub entries_sum: AtomicU64,
}

/// The Gaussians every 3D view draws (none by default).
#[derive(Resource, Clone, Default)]
pub struct GaussianSplats {
    pub scene: Option<Arc<GaussianScene>>,
    pub stats: Arc<GaussianStats>,
}

impl GaussianSplats {
    pub fn new(scene: GaussianScene) -> Self {
        Self {
            scene: Some(Arc::new(scene)),
            stats: Arc::default(),
        }
    }
}

impl ExtractResource for GaussianSplats {
    type Source = GaussianSplats;
    fn extract_resource(source: &Self::Source) -> Self {
        source.clone()
    }
}

/// One view's camera, as the binning needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewParams {
    pub view_from_world: Mat4,
    /// A perspective projection with Bevy's reverse-Z convention.
    pub clip_from_view: Mat4,
    pub width: u32,
    pub height: u32,
}

/// One projected Gaussian.
#[derive(Debug, Clone, Copy, Default)]
struct Projected {
    mean: [f32; 2],
    /// Inverse 2D covariance: xx, xy, yy.
    conic: [f32; 3],
    ndc_depth: f32,
    /// The square of the radius (px) of a circle holding the ellipse where the Gaussian
    /// reaches 1/255.
    radius2: f32,
    /// Pixels reached (centres inside the extents): x0, y0, x1, y1 inclusive; x0 > x1 when
    /// culled.
    pixels: [u16; 4],
}

impl Projected {
    fn visible(&self) -> bool {
        self.pixels[0] <= self.pixels[2]
    }
}

/// What projecting needs of a view, worked out once per frame.
struct Projector {
    view_from_world: Mat4,
    /// Rows of the view rotation, transposed (so `rt * j` is `jᵀ R` as a column).
    rt: Mat3,
    clip_from_view: Mat4,
    fx: f32,
    fy: f32,
    /// Range of x/z and y/z at which the Jacobian is evaluated.
    lim_x: (f32, f32),
    lim_y: (f32, f32),
    near: f32,
    size: [f32; 2],
}

impl Projector {
    fn new(v: &ViewParams) -> Self {
        let (w, h) = (v.width as f32, v.height as f32);
        let p = &v.clip_from_view;
        // u = fx x / z + cx, v = -fy y / z + cy (pixels, y down, z the distance ahead).
        let fx = p.x_axis.x * 0.5 * w;
        let fy = p.y_axis.y * 0.5 * h;
        let cx = (1.0 - p.z_axis.x) * 0.5 * w;
        let cy = (1.0 + p.z_axis.y) * 0.5 * h;
        Self {
            view_from_world: v.view_from_world,
            rt: Mat3::from_mat4(v.view_from_world).transpose(),
            clip_from_view: v.clip_from_view,
            fx,
            fy,
            // Off-screen centres: the Jacobian is evaluated at most 15% of the screen outside
            // it, as 3DGS does, so far-off Gaussians do not blow up.
            lim_x: ((-0.15 * w - cx) / fx, (1.15 * w - cx) / fx),
            lim_y: ((cy - 1.15 * h) / fy, (cy + 0.15 * h) / fy),
            near: p.w_axis.z.max(1e-4),
            size: [w, h],
        }
    }

    /// Projects one Gaussian (EWA, as in 3DGS's `computeCov2D`); also returns its distance
    /// along the view axis.
    fn project(&self, c: Vec3, cov: &[f32; 6], opacity: f32) -> (Projected, f32) {
        let culled = (
            Projected {
                pixels: [1, 0, 0, 0],
                ..Default::default()
            },
            0.0,
        );
        let p = self.view_from_world.transform_point3(c);
        let z = -p.z;
        if z <= self.near || opacity < MIN_ALPHA {
            return culled;
        }
        let [w, h] = self.size;
        let clip = self.clip_from_view * p.extend(1.0);
        let ndc = clip.xyz() / clip.w;
        let mean = [(ndc.x + 1.0) * 0.5 * w, (1.0 - ndc.y) * 0.5 * h];
        let tx = (p.x / z).clamp(self.lim_x.0, self.lim_x.1) * z;
        let ty = (p.y / z).clamp(self.lim_y.0, self.lim_y.1) * z;
        let j0 = Vec3::new(self.fx / z, 0.0, self.fx * tx / (z * z));
        let j1 = Vec3::new(0.0, -self.fy / z, -self.fy * ty / (z * z));
        // T = J W (rows), Σ2 = T Σ Tᵀ.
        let t0 = self.rt * j0;
        let t1 = self.rt * j1;
        let s0 = Vec3::new(cov[0], cov[1], cov[2]);
        let s1 = Vec3::new(cov[1], cov[3], cov[4]);
        let s2 = Vec3::new(cov[2], cov[4], cov[5]);
        let st0 = Vec3::new(s0.dot(t0), s1.dot(t0), s2.dot(t0));
        let st1 = Vec3::new(s0.dot(t1), s1.dot(t1), s2.dot(t1));
        let a = t0.dot(st0) + LOW_PASS;
        let b = t0.dot(st1);
        let cc = t1.dot(st1) + LOW_PASS;
        let det = a * cc - b * b;
        if !(det.is_finite() && det > 0.0) {
            return culled;
        }
        let inv = 1.0 / det;
        let mid = 0.5 * (a + cc);
        let lambda = mid + (mid * mid - det).max(0.0).sqrt();
        // Where opacity * exp(-dᵀ Σ2⁻¹ d / 2) falls to 1/255: dᵀ Σ2⁻¹ d = 2 ln(255 opacity).
        let two_l = 2.0 * (opacity / MIN_ALPHA).ln();
        let extent = [(two_l * a).sqrt(), (two_l * cc).sqrt()];
        // Pixel centres (i + 0.5) inside the extents.
        let x0 = (mean[0] - extent[0] - 0.5).ceil().max(0.0);
        let x1 = (mean[0] + extent[0] - 0.5).floor().min(w - 1.0);
        let y0 = (mean[1] - extent[1] - 0.5).ceil().max(0.0);
        let y1 = (mean[1] + extent[1] - 0.5).floor().min(h - 1.0);
        if !(x0 <= x1 && y0 <= y1) {
            return culled;
        }
        (
            Projected {
                mean,
                conic: [cc * inv, -b * inv, a * inv],
                ndc_depth: ndc.z,
                radius2: two_l * lambda,
                pixels: [x0 as u16, y0 as u16, x1 as u16, y1 as u16],
            },
            z,
        )
    }
}

/// The Gaussians of one view, projected, sorted and binned: what the compute shader reads.
#[derive(Default)]
pub struct Binned {
    /// Per Gaussian drawn, front to back: (mean.x, mean.y, conic.xx, conic.xy),
    /// (conic.yy, opacity, ndc depth, ln(255 opacity)), (linear rgb, 0).
    pub splats: Vec<[f32; 12]>,
    /// Per tile (row-major), the range of `indices` listing its Gaussians.
    pub ranges: Vec<[u32; 2]>,
    /// The tiles with Gaussians: (tile index, start, end, 0), what the GPU dispatches.
    pub active: Vec<[u32; 4]>,
    /// Tile by tile, front to back within a tile: the position in `splats`, and the pixels of
    /// the tile it reaches (x0 | x1 << 4 | y0 << 8 | y1 << 12, inclusive, tile-local).
    pub indices: Vec<[u32; 2]>,
    pub tiles: [u32; 2],
    projected: Vec<Projected>,
    footprints: Vec<Footprint>,
    order: Vec<u64>,
    scratch: Vec<u64>,
    counts: Vec<u32>,
    /// The most bytes one GPU storage binding may hold (0: WebGPU's default, 128 MiB).
    pub max_buffer_bytes: u64,
    /// Gaussians on screen left out because the buffers would exceed that (the farthest).
    pub not_drawn: usize,
}

impl Binned {
    /// Gaussians on screen.
    pub fn drawn(&self) -> usize {
        self.splats.len()
    }
}

/// A drawn Gaussian's footprint, in sorted order, for binning.
#[derive(Debug, Clone, Copy, Default)]
struct Footprint {
    mean: [f32; 2],
    radius2: f32,
    pixels: [u16; 4],
}

impl Footprint {
    /// Calls `f(tile index, row-local bounds)` for every tile in rows `r0..r1` whose pixel
    /// centres the Gaussian may reach. Bounds pack the reached pixels inside the tile as
    /// 4-bit x0 | x1 << 4 | y0 << 8 | y1 << 12 (inclusive).
    #[inline]
    fn tiles(&self, tx: usize, r0: usize, r1: usize, mut f: impl FnMut(usize, u32)) {
        let (tw, th) = (TILE_W as usize, TILE_H as usize);
        let [px0, py0, px1, py1] = self.pixels.map(|v| v as usize);
        let (ty0, ty1) = ((py0 / th).max(r0), (py1 / th + 1).min(r1));
        for ty in ty0..ty1 {
            let (oy, ly0, ly1) = (ty * th, py0.max(ty * th), py1.min(ty * th + th - 1));
            // Distance from the mean to the tile's rows of pixel centres.
            let cy = (self.mean[1] - 0.5).clamp(ly0 as f32, ly1 as f32) + 0.5 - self.mean[1];
            for tx_ in px0 / tw..=px1 / tw {
                let (ox, lx0, lx1) = (tx_ * tw, px0.max(tx_ * tw), px1.min(tx_ * tw + tw - 1));
                let cx = (self.mean[0] - 0.5).clamp(lx0 as f32, lx1 as f32) + 0.5 - self.mean[0];
                if cx * cx + cy * cy > self.radius2 {
                    continue; // a corner tile the ellipse misses
                }
                let bits = (lx0 - ox) | (lx1 - ox) << 4 | (ly0 - oy) << 8 | (ly1 - oy) << 12;
                f(ty * tx + tx_, bits as u32);
            }
        }
    }
}

/// Sorts `keys` by their upper 32 bits (least-significant-digit radix, 11-bit digits; a digit
/// all keys share is skipped). Stable.
fn radix_sort_high(keys: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    scratch.resize(keys.len(), 0);
    for shift in [32u32, 43, 54] {
        let mut hist = vec![0usize; 2048];
        for &k in keys.iter() {
            hist[((k >> shift) & 2047) as usize] += 1;
        }
        if hist.contains(&keys.len()) {
            continue;
        }
        let mut sum = 0;
        for h in hist.iter_mut() {
            let c = *h;
            *h = sum;
            sum += c;
        }
        for &k in keys.iter() {
            let d = ((k >> shift) & 2047) as usize;
            scratch[hist[d]] = k;
            hist[d] += 1;
        }
        std::mem::swap(keys, scratch);
    }
}

/// Projects, culls, sorts and bins `scene` for one view into `out` (whose buffers are reused).
pub fn bin(scene: &GaussianScene, view: &ViewParams, out: &mut Binned) {
    let tiles = [view.width.div_ceil(TILE_W), view.height.div_ceil(TILE_H)];
    out.tiles = tiles;
    out.splats.clear();
    out.ranges.clear();
    out.active.clear();
    out.indices.clear();
    let n = scene.len();
    if tiles[0] == 0 || tiles[1] == 0 {
        return;
    }
    // 1. Project (parallel).
    let projector = Projector::new(view);
    let eye = view.view_from_world.inverse().w_axis.truncate();
    let mut depths = Vec::new();
    (0..n)
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| projector.project(scene.centres[i], &scene.covariances[i], scene.colours[i][3]))
        .unzip_into_vecs(&mut out.projected, &mut depths);
    // 2. Sort the visible ones front to back: key = depth bits (positive floats sort as their
    // bits do) above the Gaussian's index.
    out.order.clear();
    out.order.extend(
        out.projected
            .iter()
            .zip(&depths)
            .enumerate()
            .filter(|(_, (p, _))| p.visible())
            .map(|(i, (_, d))| ((d.to_bits() as u64) << 32) | i as u64),
    );
    radix_sort_high(&mut out.order, &mut out.scratch);
    // One GPU buffer binding holds what is drawn: beyond it, the farthest are left out.
    let cap = match out.max_buffer_bytes {
        0 => 128 << 20,
        c => c,
    };
    out.not_drawn = 0;
    let max_splats = (cap / size_of::<[f32; 12]>() as u64) as usize;
    if out.order.len() > max_splats {
        out.not_drawn = out.order.len() - max_splats;
        out.order.truncate(max_splats);
    }
    let (tx, ty) = (tiles[0] as usize, tiles[1] as usize);
    let bands = (rayon::current_num_threads() * 4).clamp(1, ty);
    let rows = ty.div_ceil(bands);
    loop {
        // 3. The drawn Gaussians' data and footprints in that order.
        let projected = &out.projected;
        let order = &out.order;
        out.splats.resize(order.len(), [0.0; 12]);
        out.footprints.resize(order.len(), Footprint::default());
        out.splats
            .par_iter_mut()
            .zip(out.footprints.par_iter_mut())
            .zip(order.par_iter())
            .with_min_len(4096)
            .for_each(|((dst, fp), &k)| {
                let i = (k & 0xffff_ffff) as usize;
                let p = &projected[i];
                let mut c = scene.colours[i];
                if let Some(s) = scene.view.get(i) {
                    let d = (eye - scene.centres[i]).normalize_or_zero();
                    if let Some(rgb) = s.blend(d.to_array()) {
                        c[..3].copy_from_slice(&rgb);
                    }
                }
                *dst = [
                    p.mean[0],
                    p.mean[1],
                    p.conic[0],
                    p.conic[1],
                    p.conic[2],
                    c[3],
                    p.ndc_depth,
                    (c[3] / MIN_ALPHA).ln(),
                    c[0],
                    c[1],
                    c[2],
                    0.0,
                ];
                *fp = Footprint {
                    mean: p.mean,
                    radius2: p.radius2,
                    pixels: p.pixels,
                };
            });
        // 4. Bin by tile in that order (a counting sort, so each tile's list stays sorted),
        // bands of tile rows in parallel: first count.
        out.counts.clear();
        out.counts.resize(tx * ty, 0);
        let footprints = &out.footprints;
        out.counts
            .par_chunks_mut(rows * tx)
            .enumerate()
            .for_each(|(band, counts)| {
                let (r0, r1) = (band * rows, ((band + 1) * rows).min(ty));
                let base = r0 * tx;
                for fp in footprints {
                    fp.tiles(tx, r0, r1, |t, _| counts[t - base] += 1);
                }
            });
        let total: u64 = out.counts.iter().map(|&c| c as u64).sum();
        let entry = size_of::<[u32; 2]>() as u64;
        if total * entry <= cap {
            break;
        }
        let keep = (out.order.len() as f64 * (cap / entry) as f64 / total as f64 * 0.95) as usize;
        out.not_drawn += out.order.len() - keep;
        out.order.truncate(keep);
    }
    out.ranges.reserve(tx * ty);
    let mut total = 0u32;
    for (t, &c) in out.counts.iter().enumerate() {
        out.ranges.push([total, total + c]);
        if c > 0 {
            out.active.push([t as u32, total, total + c, 0]);
        }
        total += c;
    }
    out.indices.resize(total as usize, [0, 0]);
    // Split the list at band boundaries: each band fills its own slice.
    let mut slices = Vec::with_capacity(bands);
    let mut rest: &mut [[u32; 2]] = &mut out.indices;
    for band in 0..ty.div_ceil(rows) {
        let (r0, r1) = (band * rows, ((band + 1) * rows).min(ty));
        let len = (out.ranges[r1 * tx - 1][1] - out.ranges[r0 * tx][0]) as usize;
        let (head, tail) = rest.split_at_mut(len);
        slices.push((r0, r1, head));
        rest = tail;
    }
    let footprints = &out.footprints;
    let ranges = &out.ranges;
    slices.into_par_iter().for_each(|(r0, r1, slice)| {
        let base = ranges[r0 * tx][0];
        let first = r0 * tx;
        let mut cursor: Vec<u32> = ranges[r0 * tx..r1 * tx]
            .iter()
            .map(|r| r[0] - base)
            .collect();
        for (s, fp) in footprints.iter().enumerate() {
            fp.tiles(tx, r0, r1, |t, bits| {
                let c = &mut cursor[t - first];
                slice[*c as usize] = [s as u32, bits];
                *c += 1;
            });
        }
    });
}

/// The reference for `shaders/gaussian_raster.wgsl`, on the CPU: the premultiplied linear
/// layer (rgb, coverage) of a binned view with no scene depth, and how many list entries the
/// pixels visited in all.
pub fn rasterize_cpu(b: &Binned, width: u32, height: u32) -> (Vec<[f32; 4]>, u64) {
    let mut out = vec![[0.0f32; 4]; (width * height) as usize];
    let mut visited = 0u64;
    for y in 0..height {
        for x in 0..width {
            let tile = (y / TILE_H) * b.tiles[0] + x / TILE_W;
            let r = b.ranges[tile as usize];
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let mut t = 1.0f32;
            let mut c = [0.0f32; 3];
            for k in r[0]..r[1] {
                visited += 1;
                let s = &b.splats[b.indices[k as usize][0] as usize];
                let (dx, dy) = (s[0] - px, s[1] - py);
                let power = -0.5 * (s[2] * dx * dx + s[4] * dy * dy) - s[3] * dx * dy;
                if power > 0.0 {
                    continue;
                }
                let alpha = (s[5] * power.exp()).min(0.99);
                if alpha < MIN_ALPHA {
                    continue;
                }
                for ch in 0..3 {
                    c[ch] += s[8 + ch] * alpha * t;
                }
                t *= 1.0 - alpha;
                if t < 1e-4 {
                    break;
                }
            }
            out[(y * width + x) as usize] = [c[0], c[1], c[2], 1.0 - t];
        }
    }
    (out, visited)
}

/// Where to look at a cloud from: the centre and size of the box holding its middle 98% along
/// each axis (real captures have floaters far out), in the cloud's own frame.
pub fn framing(cloud: &GaussianCloud) -> Option<([f64; 3], [f64; 3])> {
    if cloud.is_empty() {
        return None;
    }
    let mut centre = [0.0; 3];
    let mut size = [0.0; 3];
    for k in 0..3 {
        let mut v: Vec<f32> = cloud.positions.iter().map(|p| p[k]).collect();
        let n = v.len();
        let lo_i = n / 100;
        let hi_i = (n - 1 - n / 100).max(lo_i);
        let lo = *v.select_nth_unstable_by(lo_i, f32::total_cmp).1 as f64;
        let hi = *v.select_nth_unstable_by(hi_i, f32::total_cmp).1 as f64;
        centre[k] = 0.5 * (lo + hi);
        size[k] = hi - lo;
    }
    Some((centre, size))
}

/// An orbit of `frames` views around a cloud given in the replay360 world (Z up): once round
/// the centre of [`framing`], 10° above it, close enough that the cloud fills about 85% of the
/// frame's height (or width), vertical field of view 40°.
pub fn orbit_requests(
    cloud: &GaussianCloud,
    frames: usize,
    width: u32,
    height: u32,
    transparent: bool,
) -> Vec<super::FrameRequest> {
    use nalgebra::Point3;
    let Some((c, size)) = framing(cloud) else {
        return Vec::new();
    };
    let fov_y = 40f64.to_radians();
    let aspect = width as f64 / height as f64;
    let half_x = (0.5 * fov_y).tan() * aspect;
    let across = 0.5 * size[0].hypot(size[1]).max(1e-3);
    let up = 0.5 * size[2].max(1e-3);
    let d = (up / (0.5 * fov_y).tan()).max(across / half_x) / 0.85 + across;
    let elevation = 10f64.to_radians();
    let target = Point3::new(c[0], c[1], c[2]);
    (0..frames)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / frames.max(1) as f64;
            let eye = Point3::new(
                c[0] + d * elevation.cos() * a.cos(),
                c[1] + d * elevation.cos() * a.sin(),
                c[2] + d * elevation.sin(),
            );
            let cam = crate::compose::VirtualCamera {
                eye,
                target,
                fov_y,
                roll: 0.0,
            };
            super::FrameRequest {
                camera: cam.to_camera(width, height),
                time: 0.0,
                show_athlete: false,
                ghosts: Vec::new(),
                trajectory: None,
                show_venue: false,
                venue_softness: 0.0,
                shadow: None,
                show_rig: false,
                transparent,
                overlay: Default::default(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Bevy plumbing.

/// Draws [`GaussianSplats`] in every 3D view. Added by the scene plugin; the cameras need
/// `Camera3d::depth_texture_usages` with `TEXTURE_BINDING` for the Gaussians to be hidden by
/// the scene in front of them (without it they are drawn over everything).
pub struct GaussianPlugin;

impl Plugin for GaussianPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<GaussianSplats>()
            .add_plugins(ExtractResourcePlugin::<GaussianSplats>::default());
        {
            let mut shaders = app.world_mut().resource_mut::<Assets<Shader>>();
            for (handle, (name, source)) in [RASTER_SHADER, COMPOSITE_SHADER]
                .into_iter()
                .zip(super::materials::GAUSSIAN_SHADERS)
            {
                let _ = shaders.insert(
                    handle.id(),
                    Shader::from_wgsl(source, format!("shaders/{name}")),
                );
            }
        }
        let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
            return;
        };
        render_app
            .init_resource::<GaussianViews>()
            .add_systems(RenderStartup, init_pipelines)
            .add_systems(
                Render,
                (
                    prepare_gaussians.in_set(RenderSystems::PrepareResources),
                    prepare_gaussian_bind_groups.in_set(RenderSystems::PrepareBindGroups),
                ),
            )
            .add_systems(
                Core3d,
                draw_gaussians
                    .in_set(Core3dSystems::MainPass)
                    .after(bevy::core_pipeline::core_3d::main_transparent_pass_3d),
            );
    }
}

/// Which depth buffer the rasteriser tests against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DepthMode {
    None = 0,
    Single = 1,
    Multisampled = 2,
}

#[derive(Resource)]
struct GaussianPipelines {
    raster_layouts: [BindGroupLayoutDescriptor; 3],
    raster: [CachedComputePipelineId; 3],
    composite_layout: BindGroupLayoutDescriptor,
    composite: HashMap<TextureFormat, CachedRenderPipelineId>,
}

fn init_pipelines(mut commands: Commands, pipeline_cache: Res<PipelineCache>) {
    let layout = |depth: DepthMode| {
        let base = (
            uniform_buffer_sized(false, None),
            storage_buffer_read_only_sized(false, None),
            storage_buffer_read_only_sized(false, None),
            storage_buffer_read_only_sized(false, None),
            texture_storage_2d(TextureFormat::Rgba16Float, StorageTextureAccess::WriteOnly),
        );
        let label = "gaussian_raster_layout";
        match depth {
            DepthMode::None => BindGroupLayoutDescriptor::new(
                label,
                &BindGroupLayoutEntries::sequential(ShaderStages::COMPUTE, base),
            ),
            DepthMode::Single => BindGroupLayoutDescriptor::new(
                label,
                &BindGroupLayoutEntries::sequential(
                    ShaderStages::COMPUTE,
                    (base.0, base.1, base.2, base.3, base.4, texture_depth_2d()),
                ),
            ),
            DepthMode::Multisampled => BindGroupLayoutDescriptor::new(
                label,
                &BindGroupLayoutEntries::sequential(
                    ShaderStages::COMPUTE,
                    (
                        base.0,
                        base.1,
                        base.2,
                        base.3,
                        base.4,
                        texture_depth_2d_multisampled(),
                    ),
                ),
            ),
        }
    };
    let raster_layouts = [
        layout(DepthMode::None),
        layout(DepthMode::Single),
        layout(DepthMode::Multisampled),
    ];
    let raster = [DepthMode::None, DepthMode::Single, DepthMode::Multisampled].map(|mode| {
        let mut shader_defs = vec![
            ShaderDefVal::UInt("TILE_W".into(), TILE_W),
            ShaderDefVal::UInt("TILE_H".into(), TILE_H),
        ];
        if mode != DepthMode::None {
            shader_defs.push("SCENE_DEPTH".into());
        }
        if mode == DepthMode::Multisampled {
            shader_defs.push("MULTISAMPLED".into());
        }
        pipeline_cache.queue_compute_pipeline(ComputePipelineDescriptor {
            label: Some("gaussian_raster".into()),
            layout: vec![raster_layouts[mode as usize].clone()],
            immediate_size: 0,
            shader: RASTER_SHADER,
            shader_defs,
            entry_point: Some("rasterize".into()),
            zero_initialize_workgroup_memory: false,
        })
    });
    let composite_layout = BindGroupLayoutDescriptor::new(
        "gaussian_composite_layout",
        &BindGroupLayoutEntries::sequential(
            ShaderStages::VERTEX_FRAGMENT,
            (
                uniform_buffer_sized(false, None),
                storage_buffer_read_only_sized(false, None),
                texture_2d(TextureSampleType::Float { filterable: false }),
            ),
        ),
    );
    commands.insert_resource(GaussianPipelines {
        raster_layouts,
        raster,
        composite_layout,
        composite: HashMap::new(),
    });
}

impl GaussianPipelines {
    fn composite_for(
        &mut self,
        format: TextureFormat,
        cache: &PipelineCache,
    ) -> CachedRenderPipelineId {
        let layout = self.composite_layout.clone();
        let defs = vec![
            ShaderDefVal::UInt("TILE_W".into(), TILE_W),
            ShaderDefVal::UInt("TILE_H".into(), TILE_H),
        ];
        *self.composite.entry(format).or_insert_with(|| {
            cache.queue_render_pipeline(RenderPipelineDescriptor {
                label: Some("gaussian_composite".into()),
                layout: vec![layout],
                vertex: VertexState {
                    shader: COMPOSITE_SHADER,
                    shader_defs: defs.clone(),
                    entry_point: Some("vertex".into()),
                    buffers: vec![],
                },
                fragment: Some(FragmentState {
                    shader: COMPOSITE_SHADER,
                    shader_defs: defs,
                    entry_point: Some("composite".into()),
                    targets: vec![Some(ColorTargetState {
                        format,
                        blend: Some(BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                        write_mask: ColorWrites::ALL,
                    })],
                }),
                ..default()
            })
        })
    }
}

/// A GPU buffer that grows as needed.
struct GrowBuffer {
    buffer: Buffer,
    capacity: u64,
}

impl GrowBuffer {
    fn write(
        slot: &mut Option<Self>,
        device: &RenderDevice,
        queue: &RenderQueue,
        label: &'static str,
        usage: BufferUsages,
        bytes: &[u8],
    ) {
        let need = (bytes.len() as u64).max(64);
        if slot.as_ref().is_none_or(|b| b.capacity < need) {
            // Storage bindings must be a multiple of 4 bytes long.
            let capacity = (need + need / 2).next_multiple_of(16);
            *slot = Some(Self {
                buffer: device.create_buffer(&BufferDescriptor {
                    label: Some(label),
                    size: capacity,
                    usage: usage | BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                capacity,
            });
        }
        if let Some(b) = slot
            && !bytes.is_empty()
        {
            queue.write_buffer(&b.buffer, 0, bytes);
        }
    }
}

/// One view's buffers, layer texture and bind groups.
#[derive(Default)]
struct ViewGpu {
    binned: Binned,
    /// The view and cloud the buffers were filled for.
    filled_for: Option<(ViewParams, usize)>,
    params: Option<GrowBuffer>,
    splats: Option<GrowBuffer>,
    active: Option<GrowBuffer>,
    indices: Option<GrowBuffer>,
    active_count: u32,
    layer: Option<(Texture, TextureView, [u32; 2])>,
    raster_bind_group: Option<(BindGroup, DepthMode)>,
    composite_bind_group: Option<BindGroup>,
    composite_pipeline: Option<CachedRenderPipelineId>,
    seen: bool,
    /// Said once that Gaussians were left out.
    warned: bool,
}

#[derive(Resource, Default)]
struct GaussianViews(HashMap<Entity, ViewGpu>);

fn prepare_gaussians(
    splats: Option<Res<GaussianSplats>>,
    views: Query<(Entity, &ExtractedView, &ViewTarget)>,
    mut gpu: ResMut<GaussianViews>,
    mut pipelines: Option<ResMut<GaussianPipelines>>,
    pipeline_cache: Res<PipelineCache>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
) {
    for v in gpu.0.values_mut() {
        v.seen = false;
    }
    let scene = splats
        .as_ref()
        .and_then(|s| s.scene.clone())
        .filter(|s| !s.is_empty());
    if let (Some(scene), Some(stats)) = (scene, splats.as_ref().map(|s| s.stats.clone())) {
        for (entity, view, target) in &views {
            let (w, h) = (view.viewport.z, view.viewport.w);
            if w == 0 || h == 0 || view.clip_from_view.w_axis.w != 0.0 {
                continue; // empty or orthographic views are not supported
            }
            let params = ViewParams {
                view_from_world: view.world_from_view.to_matrix().inverse(),
                clip_from_view: view.clip_from_view,
                width: w,
                height: h,
            };
            let g = gpu.0.entry(entity).or_default();
            g.seen = true;
            let key = (params, Arc::as_ptr(&scene) as usize);
            if g.filled_for != Some(key) {
                let t = std::time::Instant::now();
                g.binned.max_buffer_bytes = device.limits().max_storage_buffer_binding_size;
                bin(&scene, &params, &mut g.binned);
                if g.binned.not_drawn > 0 && !g.warned {
                    g.warned = true;
                    tracing::warn!(
                        "{} of the Gaussians on screen are left out (the farthest): more than \
                         the GPU's {} MiB storage buffers hold",
                        g.binned.not_drawn,
                        g.binned.max_buffer_bytes >> 20
                    );
                }
                stats
                    .bin_ns
                    .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                stats.bins.fetch_add(1, Ordering::Relaxed);
                stats
                    .drawn
                    .store(g.binned.drawn() as u64, Ordering::Relaxed);
                stats
                    .drawn_sum
                    .fetch_add(g.binned.drawn() as u64, Ordering::Relaxed);
                stats
                    .entries_sum
                    .fetch_add(g.binned.indices.len() as u64, Ordering::Relaxed);
                stats
                    .entries
                    .store(g.binned.indices.len() as u64, Ordering::Relaxed);
                let b = &g.binned;
                let count = b.active.len() as u32;
                g.active_count = count;
                let uniform: [u32; 8] = [
                    w,
                    h,
                    b.tiles[0],
                    b.tiles[1],
                    count,
                    count.clamp(1, MAX_GROUPS),
                    0,
                    0,
                ];
                GrowBuffer::write(
                    &mut g.params,
                    &device,
                    &queue,
                    "gaussian_params",
                    BufferUsages::UNIFORM,
                    bytemuck::cast_slice(&uniform),
                );
                GrowBuffer::write(
                    &mut g.splats,
                    &device,
                    &queue,
                    "gaussian_splats",
                    BufferUsages::STORAGE,
                    bytemuck::cast_slice(&b.splats),
                );
                GrowBuffer::write(
                    &mut g.active,
                    &device,
                    &queue,
                    "gaussian_active_tiles",
                    BufferUsages::STORAGE,
                    bytemuck::cast_slice(&b.active),
                );
                GrowBuffer::write(
                    &mut g.indices,
                    &device,
                    &queue,
                    "gaussian_indices",
                    BufferUsages::STORAGE,
                    bytemuck::cast_slice(&b.indices),
                );
                g.filled_for = Some(key);
                g.raster_bind_group = None;
            }
            if g.layer.as_ref().is_none_or(|l| l.2 != [w, h]) {
                let texture = device.create_texture(&TextureDescriptor {
                    label: Some("gaussian_layer"),
                    size: Extent3d {
                        width: w,
                        height: h,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: TextureDimension::D2,
                    format: TextureFormat::Rgba16Float,
                    usage: TextureUsages::STORAGE_BINDING | TextureUsages::TEXTURE_BINDING,
                    view_formats: &[],
                });
                let view = texture.create_view(&TextureViewDescriptor::default());
                g.layer = Some((texture, view, [w, h]));
                g.raster_bind_group = None;
                g.composite_bind_group = None;
            }
            if let Some(p) = pipelines.as_mut() {
                g.composite_pipeline =
                    Some(p.composite_for(target.main_texture_format(), &pipeline_cache));
            }
        }
    }
    // Views that no longer draw Gaussians free their buffers.
    gpu.0.retain(|_, v| v.seen);
}

fn prepare_gaussian_bind_groups(
    views: Query<(Entity, Option<&ViewDepthTexture>)>,
    mut gpu: ResMut<GaussianViews>,
    pipelines: Option<Res<GaussianPipelines>>,
    pipeline_cache: Res<PipelineCache>,
    device: Res<RenderDevice>,
) {
    let Some(pipelines) = pipelines else {
        return;
    };
    for (entity, depth) in &views {
        let Some(g) = gpu.0.get_mut(&entity) else {
            continue;
        };
        let mode = match depth {
            Some(d) if d.texture.usage().contains(TextureUsages::TEXTURE_BINDING) => {
                if d.texture.sample_count() > 1 {
                    DepthMode::Multisampled
                } else {
                    DepthMode::Single
                }
            }
            _ => DepthMode::None,
        };
        let (Some(params), Some(splats), Some(active), Some(indices), Some(layer)) =
            (&g.params, &g.splats, &g.active, &g.indices, &g.layer)
        else {
            continue;
        };
        let layout = pipeline_cache.get_bind_group_layout(&pipelines.raster_layouts[mode as usize]);
        let base = (
            params.buffer.as_entire_binding(),
            splats.buffer.as_entire_binding(),
            active.buffer.as_entire_binding(),
            indices.buffer.as_entire_binding(),
            &layer.1,
        );
        // The depth texture is recreated with the view, so the bind group is rebuilt each
        // frame (cheap) rather than cached against it.
        let bind_group = match (mode, depth) {
            (DepthMode::None, _) | (_, None) => device.create_bind_group(
                "gaussian_raster",
                &layout,
                &BindGroupEntries::sequential(base),
            ),
            (_, Some(d)) => device.create_bind_group(
                "gaussian_raster",
                &layout,
                &BindGroupEntries::sequential((base.0, base.1, base.2, base.3, base.4, d.view())),
            ),
        };
        g.raster_bind_group = Some((bind_group, mode));
        let layout = pipeline_cache.get_bind_group_layout(&pipelines.composite_layout);
        g.composite_bind_group = Some(device.create_bind_group(
            "gaussian_composite",
            &layout,
            &BindGroupEntries::sequential((
                params.buffer.as_entire_binding(),
                active.buffer.as_entire_binding(),
                &layer.1,
            )),
        ));
    }
}

fn draw_gaussians(
    view: ViewQuery<&ViewTarget>,
    gpu: Res<GaussianViews>,
    pipelines: Option<Res<GaussianPipelines>>,
    splats: Option<Res<GaussianSplats>>,
    pipeline_cache: Res<PipelineCache>,
    mut ctx: RenderContext,
) {
    let entity = view.entity();
    let target = view.into_inner();
    let (Some(g), Some(pipelines)) = (gpu.0.get(&entity), pipelines) else {
        return;
    };
    let (Some((raster_bg, mode)), Some(composite_bg), Some(composite_id)) = (
        &g.raster_bind_group,
        &g.composite_bind_group,
        g.composite_pipeline,
    ) else {
        return;
    };
    let (Some(raster), Some(composite)) = (
        pipeline_cache.get_compute_pipeline(pipelines.raster[*mode as usize]),
        pipeline_cache.get_render_pipeline(composite_id),
    ) else {
        return;
    };
    {
        let mut pass = ctx
            .command_encoder()
            .begin_compute_pass(&ComputePassDescriptor {
                label: Some("gaussian_raster"),
                timestamp_writes: None,
            });
        pass.set_pipeline(raster);
        pass.set_bind_group(0, raster_bg, &[]);
        let count = g.active_count;
        if count > 0 {
            let width = count.min(MAX_GROUPS);
            pass.dispatch_workgroups(width, count.div_ceil(width), 1);
        }
    }
    {
        let mut pass = ctx
            .command_encoder()
            .begin_render_pass(&RenderPassDescriptor {
                label: Some("gaussian_composite"),
                color_attachments: &[Some(target.get_unsampled_color_attachment())],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
        pass.set_pipeline(composite);
        pass.set_bind_group(0, composite_bg, &[]);
        pass.draw(0..6, 0..g.active_count);
    }
    if let Some(s) = splats {
        s.stats.frames.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(w: u32, h: u32) -> ViewParams {
        // Camera at the origin looking down -Z, 60° vertical field of view.
        let f = 1.0 / (30f32.to_radians()).tan();
        ViewParams {
            view_from_world: Mat4::IDENTITY,
            clip_from_view: Mat4::from_cols(
                bevy::math::Vec4::new(f * h as f32 / w as f32, 0.0, 0.0, 0.0),
                bevy::math::Vec4::new(0.0, f, 0.0, 0.0),
                bevy::math::Vec4::new(0.0, 0.0, 0.0, -1.0),
                bevy::math::Vec4::new(0.0, 0.0, 0.05, 0.0),
            ),
            width: w,
            height: h,
        }
    }

    fn scene(pts: &[([f32; 3], [f32; 3], f32)]) -> GaussianScene {
        let mut s = GaussianScene::default();
        for &(c, sd, op) in pts {
            s.centres.push(Vec3::from(c));
            s.covariances
                .push([sd[0] * sd[0], 0.0, 0.0, sd[1] * sd[1], 0.0, sd[2] * sd[2]]);
            s.colours.push([1.0, 0.0, 0.0, op]);
        }
        s
    }

    #[test]
    fn projection_sorting_and_binning() {
        let v = view(160, 96);
        // Far one first in submission order; one behind the camera; one off screen.
        let s = scene(&[
            ([0.0, 0.0, -10.0], [0.1, 0.1, 0.1], 0.9),
            ([0.0, 0.0, -5.0], [0.05, 0.2, 0.05], 0.9),
            ([0.0, 0.0, 5.0], [0.1, 0.1, 0.1], 0.9),
            ([100.0, 0.0, -5.0], [0.1, 0.1, 0.1], 0.9),
        ]);
        let mut b = Binned::default();
        bin(&s, &v, &mut b);
        assert_eq!(b.drawn(), 2);
        assert_eq!(b.tiles, [10, 6]);
        // Front to back: the nearer (z = -5) first.
        assert!(b.splats[0][6] > b.splats[1][6], "ndc depth decreases");
        // Centred on the screen.
        assert!((b.splats[0][0] - 80.0).abs() < 1e-3 && (b.splats[0][1] - 48.0).abs() < 1e-3);
        // The near one is tall: its conic's yy (inverse variance) is smaller than its xx.
        assert!(b.splats[0][4] < b.splats[0][2] / 4.0);
        // Every tile list is sorted front to back and the centre tile lists both.
        let list = |r: [u32; 2]| -> Vec<u32> {
            b.indices[r[0] as usize..r[1] as usize]
                .iter()
                .map(|e| e[0])
                .collect()
        };
        let centre = (48 / 16) * 10 + 80 / 16;
        assert_eq!(list(b.ranges[centre]), vec![0, 1]);
        for r in &b.ranges {
            assert!(list(*r).windows(2).all(|w| w[0] < w[1]));
        }
        // The tall, thin one reaches many rows of the centre tile but few columns (its
        // centre is the tile's top-left corner).
        let e = b.indices[b.ranges[centre][0] as usize][1];
        let (x0, x1, y0, y1) = (e & 15, (e >> 4) & 15, (e >> 8) & 15, (e >> 12) & 15);
        assert_eq!((x0, y0), (0, 0));
        assert!(x1 <= 3 && y1 >= 9, "{x1} {y1}");
    }

    #[test]
    fn what_does_not_fit_the_gpu_buffers_is_left_out_farthest_first() {
        let v = view(160, 96);
        let pts: Vec<_> = (0..10)
            .map(|i| ([0.0, 0.0, -2.0 - i as f32], [0.05, 0.05, 0.05], 0.9))
            .collect();
        let s = scene(&pts);
        let mut b = Binned {
            max_buffer_bytes: 4 * 48,
            ..Default::default()
        };
        bin(&s, &v, &mut b);
        assert_eq!((b.drawn(), b.not_drawn), (4, 6));
        // The nearest four (largest ndc depth) are the ones kept.
        assert!((b.splats[0][6] - 0.05 / 2.0).abs() < 1e-6);
        assert!((b.splats[3][6] - 0.05 / 5.0).abs() < 1e-6);
        // Tile entries over the limit cut the list too.
        let mut b = Binned {
            max_buffer_bytes: 3 * 8,
            ..Default::default()
        };
        bin(&s, &v, &mut b);
        assert!(
            b.indices.len() <= 3 && b.drawn() + b.not_drawn == 10,
            "{}",
            b.drawn()
        );
        bin(&s, &v, &mut Binned::default());
    }

    #[test]
    fn radix_sort_is_a_stable_sort_on_the_high_word() {
        let mut keys: Vec<u64> = (0..5000u64)
            .map(|i| ((i * 7919 % 1013) << 32 | i) ^ ((i % 3) << 60))
            .collect();
        let mut want = keys.clone();
        want.sort_by_key(|k| k >> 32);
        let mut scratch = Vec::new();
        radix_sort_high(&mut keys, &mut scratch);
        assert_eq!(keys, want);
    }
}
