// Athlete splats: camera-facing discs, one quad (four vertices) per splat.
// Colours arrive in linear light; the sRGB target encodes them on write. A splat may also carry
// what up to six cameras saw of it (view01/23/45, two samples each: a direction towards the
// camera in octahedral coordinates, then sRGB colour and weight; see reconstruct::blend), which
// the vertex stage blends by angle to the eye: the nearest cameras' colours, so stripes stay
// sharp between cameras. Without samples, the one colour.
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
    @location(6) view01: vec4<u32>,
    @location(7) view23: vec4<u32>,
    @location(8) view45: vec4<u32>,
};

// reconstruct::blend::{BLEND_WIDTH, BLEND_FLOOR} (a unit test keeps them equal).
const BLEND_WIDTH: f32 = 0.05;
const BLEND_FLOOR: f32 = 0.0005;

fn oct_decode(p: vec2<f32>) -> vec3<f32> {
    var v = vec3<f32>(p, 1.0 - abs(p.x) - abs(p.y));
    if v.z < 0.0 {
        let s = select(vec2<f32>(-1.0), vec2<f32>(1.0), v.xy >= vec2<f32>(0.0));
        v = vec3<f32>((1.0 - abs(v.yx)) * s, v.z);
    }
    return normalize(v);
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let lo = c / 12.92;
    let hi = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(hi, lo, c <= vec3<f32>(0.04045));
}

// One sample's weighted colour (rgb) and weight (a), seen along `to_eye`.
fn sample_weight(dir_bits: u32, rgbw_bits: u32, to_eye: vec3<f32>) -> vec4<f32> {
    let rgbw = unpack4x8unorm(rgbw_bits);
    if rgbw.a <= 0.0 {
        return vec4<f32>(0.0);
    }
    let dir = oct_decode(unpack2x16snorm(dir_bits));
    let w = rgbw.a * (exp((dot(dir, to_eye) - 1.0) / BLEND_WIDTH) + BLEND_FLOOR);
    return vec4<f32>(srgb_to_linear(rgbw.rgb) * w, w);
}

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
    // The direction towards the eye in the mesh's own frame (the samples turn with it).
    let to_eye = normalize(view.world_position - centre);
    let local = normalize(transpose(mat3x3<f32>(
        world_from_local[0].xyz, world_from_local[1].xyz, world_from_local[2].xyz)) * to_eye);
    let blend = sample_weight(v.view01.x, v.view01.y, local)
        + sample_weight(v.view01.z, v.view01.w, local)
        + sample_weight(v.view23.x, v.view23.y, local)
        + sample_weight(v.view23.z, v.view23.w, local)
        + sample_weight(v.view45.x, v.view45.y, local)
        + sample_weight(v.view45.z, v.view45.w, local);
    out.color = select(v.color, vec4<f32>(blend.rgb / max(blend.a, 1e-12), v.color.a), blend.a > 0.0);
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
