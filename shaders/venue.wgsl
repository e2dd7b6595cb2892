// The venue backdrop: proxy geometry (the snow surface and a distant dome) with a texture baked
// from the real cameras' background plates. One mip-mapped lookup per pixel: lavapipe runs
// fragment work in software, so the blending of cameras happens once, at reconstruction.

#import bevy_pbr::mesh_functions::{get_world_from_local, mesh_position_local_to_clip}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var venue_texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var venue_sampler: sampler;
// x: softness (0 = as captured; 1 = blurred, slightly dimmed and desaturated so the athlete
// stands out, the broadcast look for freezes and slices); y: 1 = one-sided (the snow: nothing is
// drawn from below it, where a view would otherwise see only the underside of the ground).
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var<uniform> style: vec4<f32>;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    @location(0) position: vec3<f32>,
    @location(2) uv: vec2<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let world_from_local = get_world_from_local(v.instance_index);
    out.clip_position = mesh_position_local_to_clip(world_from_local, vec4<f32>(v.position, 1.0));
    out.uv = v.uv;
    return out;
}

@fragment
fn fragment(in: VertexOutput, @builtin(front_facing) front: bool) -> @location(0) vec4<f32> {
    if style.y > 0.5 && !front {
        discard;
    }
    let soft = style.x;
    var c = textureSampleBias(venue_texture, venue_sampler, in.uv, 4.5 * soft).rgb;
    let grey = dot(c, vec3<f32>(0.2126, 0.7152, 0.0722));
    c = mix(c, vec3<f32>(grey), 0.35 * soft) * (1.0 - 0.15 * soft);
    return vec4<f32>(c, 1.0);
}
