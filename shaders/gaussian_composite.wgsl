// Lays the Gaussian layer (premultiplied linear colour and coverage, from gaussian_raster.wgsl)
// over the scene: a full-screen triangle drawn with premultiplied-alpha blending, so the result
// is layer + (1 - layer alpha) * scene. Pixels no Gaussian reached are discarded.

#import bevy_core_pipeline::fullscreen_vertex_shader::FullscreenVertexOutput

@group(0) @binding(0) var layer: texture_2d<f32>;

@fragment
fn composite(in: FullscreenVertexOutput) -> @location(0) vec4<f32> {
    let v = textureLoad(layer, vec2<i32>(in.position.xy), 0);
    if v.a <= 0.0 {
        discard;
    }
    return v;
}
