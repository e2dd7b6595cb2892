// Unlit graphics (trajectory tube, time ticks, camera markers, posture skeletons, shadows):
// vertex colour times a material colour, with a little shading from the normal so tubes read as
// round. `pull` moves every vertex that many metres towards the eye before the depth test: a
// skeleton inside its after-image then passes the ghost's own surface but stays hidden by the
// venue in front of it.

#import bevy_pbr::mesh_functions::{get_world_from_local, mesh_normal_local_to_world}
#import bevy_pbr::mesh_view_bindings::view

struct FlatMaterial {
    color: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> material: FlatMaterial;
// x: pull towards the eye (m).
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var<uniform> params: vec4<f32>;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(5) color: vec4<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) color: vec4<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) world_position: vec3<f32>,
};

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let world_from_local = get_world_from_local(v.instance_index);
    out.world_position = (world_from_local * vec4<f32>(v.position, 1.0)).xyz;
    var view_pos = view.view_from_world * vec4<f32>(out.world_position, 1.0);
    let d = length(view_pos.xyz);
    if (params.x > 0.0 && d > 1e-4) {
        view_pos = vec4<f32>(view_pos.xyz * (max(d - params.x, 0.05) / d), 1.0);
    }
    out.clip_position = view.clip_from_view * view_pos;
    out.normal = mesh_normal_local_to_world(v.normal, v.instance_index);
    out.color = v.color;
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let n = normalize(in.normal);
    let to_eye = normalize(view.world_position - in.world_position);
    let shade = 0.55 + 0.45 * abs(dot(n, to_eye));
    let c = in.color * material.color;
    return vec4<f32>(c.rgb * shade, c.a);
}
