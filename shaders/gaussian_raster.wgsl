// Anisotropic 3D Gaussians, tile rasteriser (compute). The CPU has already projected every
// Gaussian to a 2D ellipse (EWA: the 3D covariance through the view and the projection's
// Jacobian, plus 0.3 px² of low-pass so nothing is thinner than a pixel), sorted them front to
// back by view depth and listed, for each TILE_W x TILE_H tile, the Gaussians that reach it in
// that order. Blending is front to back, premultiplied, in linear light; a pixel stops once it
// is opaque, and Gaussians behind the scene's depth buffer are skipped. The result is a
// premultiplied layer that gaussian_composite.wgsl lays over the scene.
//
// Shaped for lavapipe, which runs compute on the CPU with SIMD lanes: one invocation is one
// row of a tile (not one pixel), so every Gaussian is loaded once per TILE_W pixels; the row
// solves where the Gaussian reaches 1/255 (a quadratic) and visits only those pixels, stepping
// the exponential with two multiplications per pixel instead of calling exp. One workgroup is
// one tile (only tiles with Gaussians are dispatched; the composite draws only those); no
// shared memory or barriers.

const TILE_W: u32 = #{TILE_W}u;
const TILE_H: u32 = #{TILE_H}u;

struct Params {
    // Target width and height (pixels).
    size: vec2<u32>,
    // Tiles across and down.
    tiles: vec2<u32>,
    // Tiles with Gaussians (the length of `busy_tiles`), and how many workgroups one row of the
    // dispatch holds.
    active_count: u32,
    dispatch_width: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
// Three vec4 per Gaussian, in front-to-back order: (mean.x, mean.y, conic.xx, conic.xy),
// (conic.yy, opacity, ndc depth, ln(255 opacity)), (linear rgb, 0). Means are in pixels,
// y down, pixel centres at +0.5; conic is the inverse 2D covariance.
@group(0) @binding(1) var<storage, read> splats: array<vec4<f32>>;
// Per tile with Gaussians: its index (row-major) and the range of `entries` holding them.
@group(0) @binding(2) var<storage, read> busy_tiles: array<vec4<u32>>;
// Per tile, front to back: (Gaussian, the tile's pixels it reaches as 4-bit
// x0 | x1 << 4 | y0 << 8 | y1 << 12, inclusive), so rows skip it before loading it.
@group(0) @binding(3) var<storage, read> entries: array<vec2<u32>>;
@group(0) @binding(4) var layer: texture_storage_2d<rgba16float, write>;
#ifdef SCENE_DEPTH
#ifdef MULTISAMPLED
@group(0) @binding(5) var scene_depth: texture_depth_multisampled_2d;
#else
@group(0) @binding(5) var scene_depth: texture_depth_2d;
#endif
#endif

// A pixel is finished when less than this much light still gets through (as 3DGS).
const DONE: f32 = 1.0e-4;

@compute @workgroup_size(TILE_H, 1, 1)
fn rasterize(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_index) row: u32,
) {
    let slot = group.y * params.dispatch_width + group.x;
    if slot >= params.active_count {
        return;
    }
    let tile_range = busy_tiles[slot];
    let tile = vec2<u32>(tile_range.x % params.tiles.x, tile_range.x / params.tiles.x);
    let range = tile_range.yz;
    let y = tile.y * TILE_H + row;
    let x0 = tile.x * TILE_W;
    if y >= params.size.y {
        return;
    }
    let width = min(TILE_W, params.size.x - x0);
    // Per pixel of the row: premultiplied rgb and the light still getting through.
    var acc: array<vec4<f32>, TILE_W>;
    // Reverse Z: 1 at the near plane, 0 at infinity (nothing drawn there).
    var opaque: array<f32, TILE_W>;
    for (var j = 0u; j < TILE_W; j = j + 1u) {
        acc[j] = vec4<f32>(0.0, 0.0, 0.0, 1.0);
        var d = 0.0;
#ifdef SCENE_DEPTH
        if j < width {
            d = textureLoad(scene_depth, vec2<i32>(vec2<u32>(x0 + j, y)), 0);
        }
#endif
        opaque[j] = d;
    }
    var farthest_opaque = 1.0;
    for (var j = 0u; j < width; j = j + 1u) {
        farthest_opaque = min(farthest_opaque, opaque[j]);
    }
    // Bit j: pixel j of the row still takes light (not opaque, not behind the scene yet).
    var live = (1u << width) - 1u;
    let py = f32(y) + 0.5;
    for (var k = range.x; k < range.y; k = k + 1u) {
        let e = entries[k];
        let y_first = (e.y >> 8u) & 15u;
        let y_last = (e.y >> 12u) & 15u;
        if row < y_first || row > y_last {
            continue;
        }
        let reach = (2u << ((e.y >> 4u) & 15u)) - (1u << (e.y & 15u));
        if (live & reach) == 0u {
            continue;
        }
        let i = e.x * 3u;
        let a = splats[i];
        let b = splats[i + 1u];
        if b.z < farthest_opaque {
            // Behind the scene everywhere on this row, and so is everything after it.
            break;
        }
        // power(dx) = -(ca dx² / 2 + cb dy dx + cc dy² / 2), dx = mean.x - pixel x; the
        // Gaussian reaches 1/255 where power >= -ln(255 opacity) = -b.w.
        let dy = a.y - py;
        let qa = 0.5 * a.z;
        let qb = a.w * dy;
        let qc = 0.5 * b.x * dy * dy - b.w;
        let disc = qb * qb - 4.0 * qa * qc;
        if disc < 0.0 {
            continue;
        }
        let s = sqrt(disc);
        let dx_lo = (-qb - s) / (2.0 * qa);
        let dx_hi = (-qb + s) / (2.0 * qa);
        // Pixel x = x0 + j + 0.5 = mean.x - dx.
        let first = max(ceil(a.x - dx_hi - f32(x0) - 0.5), 0.0);
        let last = min(floor(a.x - dx_lo - f32(x0) - 0.5), f32(width) - 1.0);
        if first > last {
            continue;
        }
        let j0 = u32(first);
        let j1 = u32(last);
        let c = splats[i + 2u].rgb;
        // Exact at the first pixel, then one step right: power changes by
        // step = ca dx - ca / 2 + cb dy, and step itself by -ca.
        let dx = a.x - (f32(x0) + first + 0.5);
        var g = b.y * exp(-(qa * dx * dx + qb * dx + 0.5 * b.x * dy * dy));
        var r = exp(a.z * dx - qa + qb);
        let q = exp(-a.z);
        // A fixed trip count: the compiler unrolls it and keeps the row in registers.
        for (var j = 0u; j < TILE_W; j = j + 1u) {
            if j >= j0 && j <= j1 {
                let bit = 1u << j;
                if (live & bit) != 0u {
                    if b.z < opaque[j] {
                        // The scene is in front of this and every later Gaussian here.
                        live = live & ~bit;
                    } else {
                        let alpha = min(0.99, g);
                        if alpha >= 1.0 / 255.0 {
                            let p = acc[j];
                            let np = vec4<f32>(p.rgb + c * (alpha * p.w), p.w * (1.0 - alpha));
                            acc[j] = np;
                            if np.w < DONE {
                                live = live & ~bit;
                            }
                        }
                    }
                }
                g = g * r;
                r = r * q;
            }
        }
        if live == 0u {
            break;
        }
    }
    for (var j = 0u; j < width; j = j + 1u) {
        let p = acc[j];
        textureStore(layer, vec2<i32>(vec2<u32>(x0 + j, y)), vec4<f32>(p.rgb, 1.0 - p.w));
    }
}
