// Lays the Gaussian layer (premultiplied linear colour and coverage, from gaussian_raster.wgsl)
// over the scene with premultiplied-alpha blending, so the result is
// layer + (1 - layer alpha) * scene. Only the tiles the rasteriser wrote are drawn (one quad
// per tile, instanced); pixels no Gaussian reached are discarded.

struct Params {
    size: vec2<u32>,
    tiles: vec2<u32>,
    active_count: u32,
    dispatch_width: u32,
};

const TILE_W: u32 = #{TILE_W}u;
const TILE_H: u32 = #{TILE_H}u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> busy_tiles: array<vec4<u32>>;
@group(0) @binding(2) var layer: texture_2d<f32>;

@vertex
fn vertex(@builtin(vertex_index) v: u32, @builtin(instance_index) t: u32) -> @builtin(position) vec4<f32> {
    let index = busy_tiles[t].x;
    let tile = vec2<u32>(index % params.tiles.x, index / params.tiles.x);
    // Two triangles: (0,0) (1,0) (1,1), (0,0) (1,1) (0,1).
    let corner = vec2<u32>(u32(v == 1u || v == 2u || v == 4u), u32(v == 2u || v == 4u || v == 5u));
    let px = min((tile + corner) * vec2<u32>(TILE_W, TILE_H), params.size);
    let uv = vec2<f32>(px) / vec2<f32>(params.size);
    return vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
}

@fragment
fn composite(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
    let v = textureLoad(layer, vec2<i32>(position.xy), 0);
    if v.a <= 0.0 {
        discard;
    }
    return v;
}
