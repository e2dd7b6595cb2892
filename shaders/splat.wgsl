// Athlete splats: camera-facing discs, one quad (four vertices) per splat.
// Colours arrive in linear light; the sRGB target encodes them on write.
// Coverage comes from alpha (alpha-to-coverage with MSAA), so splats need no depth sorting:
// the disc edge is soft, and after-images fade by covering fewer samples.

#import bevy_pbr::mesh_functions::get_world_from_local
#import bevy_pbr::mesh_view_bindings::view

struct SplatMaterial {
    // rgb: tint colour (linear); a: how much of the tint replaces the colour.
    tint: vec4<f32>,
    // x: opacity, y: desaturation, z: size scale, w: rim strength.
    params: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> material: SplatMaterial;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    @location(0) centre: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) corner: vec2<f32>,
    @location(3) radius: vec2<f32>,
    @location(5) color: vec4<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) color: vec4<f32>,
    @location(1) corner: vec2<f32>,
    @location(2) facing: f32,
};

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let world_from_local = get_world_from_local(v.instance_index);
    let centre = (world_from_local * vec4<f32>(v.centre, 1.0)).xyz;
    let right = view.world_from_view[0].xyz;
    let up = view.world_from_view[1].xyz;
    // Discs slightly larger than the voxel pitch so neighbours overlap without gaps.
    let r = v.radius.x * material.params.z * 1.25;
    let world = centre + (right * v.corner.x + up * v.corner.y) * r;
    out.clip_position = view.clip_from_world * vec4<f32>(world, 1.0);
    let n = normalize((world_from_local * vec4<f32>(v.normal, 0.0)).xyz);
    out.facing = dot(n, normalize(view.world_position - centre));
    out.color = v.color;
    out.corner = v.corner;
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let d2 = dot(in.corner, in.corner);
    if d2 > 1.0 {
        discard;
    }
    var c = in.color.rgb;
    let grey = dot(c, vec3<f32>(0.2126, 0.7152, 0.0722));
    c = mix(c, vec3<f32>(grey), material.params.y);
    c = mix(c, material.tint.rgb, material.tint.a);
    // A tinted rim where the surface turns away from the viewer outlines after-images.
    let rim = pow(1.0 - clamp(in.facing, 0.0, 1.0), 2.0) * material.params.w;
    c = mix(c, material.tint.rgb * 1.4, clamp(rim, 0.0, 1.0));
    // The live athlete's disc edges are soft (coverage); an after-image's colour pass draws
    // one layer per pixel (see GhostColourMaterial), so its discs stay solid and the ghost
    // fades evenly.
    let edge = select(1.0 - smoothstep(0.55, 1.0, d2), 1.0, material.params.x < 0.999);
    return vec4<f32>(c, clamp(material.params.x * edge, 0.0, 1.0));
}
