//! The renderer's materials, with their WGSL in `shaders/` (embedded at build time so the
//! first frame never waits for a file).

use bevy::asset::{Asset, Handle, uuid_handle};
use bevy::math::Vec4;
use bevy::mesh::{Mesh, MeshVertexAttribute, MeshVertexBufferLayoutRef};
use bevy::pbr::{Material, MaterialPipeline, MaterialPipelineKey};
use bevy::prelude::*;
use bevy::render::render_resource::{
    AsBindGroup, ColorWrites, RenderPipelineDescriptor, ShaderType, SpecializedMeshPipelineError,
    VertexFormat,
};
use bevy::shader::{Shader, ShaderRef};

pub const SPLAT_SHADER: Handle<Shader> = uuid_handle!("6f3b5f0e-3f5c-4d8e-9a51-1b2d3c4e5f60");
pub const VENUE_SHADER: Handle<Shader> = uuid_handle!("6f3b5f0e-3f5c-4d8e-9a51-1b2d3c4e5f61");
pub const FLAT_SHADER: Handle<Shader> = uuid_handle!("6f3b5f0e-3f5c-4d8e-9a51-1b2d3c4e5f62");

/// The WGSL sources, by file name (also used by the shader validation test).
pub const SHADERS: [(&str, &str); 3] = [
    ("splat.wgsl", include_str!("../../shaders/splat.wgsl")),
    ("venue.wgsl", include_str!("../../shaders/venue.wgsl")),
    ("flat.wgsl", include_str!("../../shaders/flat.wgsl")),
];

/// The Gaussian rasteriser's WGSL (see [`super::gaussians`]), by file name.
pub const GAUSSIAN_SHADERS: [(&str, &str); 2] = [
    (
        "gaussian_raster.wgsl",
        include_str!("../../shaders/gaussian_raster.wgsl"),
    ),
    (
        "gaussian_composite.wgsl",
        include_str!("../../shaders/gaussian_composite.wgsl"),
    ),
];

/// Registers the embedded shaders under their fixed handles.
pub fn register_shaders(app: &mut App) {
    let mut shaders = app.world_mut().resource_mut::<Assets<Shader>>();
    for (handle, (name, source)) in [SPLAT_SHADER, VENUE_SHADER, FLAT_SHADER]
        .into_iter()
        .zip(SHADERS)
    {
        let _ = shaders.insert(
            handle.id(),
            Shader::from_wgsl(source, format!("shaders/{name}")),
        );
    }
}

/// Per-splat radius (metres), carried in the second UV channel.
pub const ATTRIBUTE_SPLAT_RADIUS: MeshVertexAttribute = Mesh::ATTRIBUTE_UV_1;

/// A splat's view samples (see [`crate::reconstruct::blend`]), packed as on disk but with
/// their directions in Bevy's frame, two samples per attribute.
pub const ATTRIBUTE_SPLAT_VIEW: [MeshVertexAttribute; 3] = [
    MeshVertexAttribute::new("SplatView01", 0x7265_706c_6179_0001, VertexFormat::Uint32x4),
    MeshVertexAttribute::new("SplatView23", 0x7265_706c_6179_0002, VertexFormat::Uint32x4),
    MeshVertexAttribute::new("SplatView45", 0x7265_706c_6179_0003, VertexFormat::Uint32x4),
];

#[derive(Clone, Copy, Debug, PartialEq, ShaderType)]
pub struct SplatParams {
    /// rgb: tint (linear); a: tint amount.
    pub tint: Vec4,
    /// x: opacity, y: desaturation, z: size scale, w: rim strength.
    pub params: Vec4,
}

impl Default for SplatParams {
    fn default() -> Self {
        Self {
            tint: Vec4::ZERO,
            params: Vec4::new(1.0, 0.0, 1.0, 0.0),
        }
    }
}

fn splat_vertex_layout(
    descriptor: &mut RenderPipelineDescriptor,
    layout: &MeshVertexBufferLayoutRef,
) -> Result<(), SpecializedMeshPipelineError> {
    let vertex_layout = layout.0.get_layout(&[
        Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
        Mesh::ATTRIBUTE_NORMAL.at_shader_location(1),
        Mesh::ATTRIBUTE_UV_0.at_shader_location(2),
        ATTRIBUTE_SPLAT_RADIUS.at_shader_location(3),
        Mesh::ATTRIBUTE_COLOR.at_shader_location(5),
        ATTRIBUTE_SPLAT_VIEW[0].at_shader_location(6),
        ATTRIBUTE_SPLAT_VIEW[1].at_shader_location(7),
        ATTRIBUTE_SPLAT_VIEW[2].at_shader_location(8),
    ])?;
    descriptor.vertex.buffers = vec![vertex_layout];
    descriptor.primitive.cull_mode = None;
    Ok(())
}

/// The live athlete: opaque splats with soft, anti-aliased edges (alpha to coverage).
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone, Default)]
pub struct SplatMaterial {
    #[uniform(0)]
    pub params: SplatParams,
}

impl Material for SplatMaterial {
    fn vertex_shader() -> ShaderRef {
        SPLAT_SHADER.into()
    }
    fn fragment_shader() -> ShaderRef {
        SPLAT_SHADER.into()
    }
    fn alpha_mode(&self) -> AlphaMode {
        AlphaMode::AlphaToCoverage
    }
    fn enable_prepass() -> bool {
        false
    }
    fn enable_shadows() -> bool {
        false
    }
    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        _key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        splat_vertex_layout(descriptor, layout)
    }
}

/// After-images, first pass: the ghost's nearest surface into the depth buffer, no colour.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone, Default)]
pub struct GhostDepthMaterial {
    #[uniform(0)]
    pub params: SplatParams,
}

impl Material for GhostDepthMaterial {
    fn vertex_shader() -> ShaderRef {
        SPLAT_SHADER.into()
    }
    fn fragment_shader() -> ShaderRef {
        SPLAT_SHADER.into()
    }
    fn enable_prepass() -> bool {
        false
    }
    fn enable_shadows() -> bool {
        false
    }
    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        _key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        splat_vertex_layout(descriptor, layout)?;
        if let Some(fragment) = descriptor.fragment.as_mut() {
            for target in fragment.targets.iter_mut().flatten() {
                target.write_mask = ColorWrites::empty();
            }
        }
        Ok(())
    }
}

/// After-images, second pass: blended once over what is behind, only where the first pass
/// left the ghost's own depth, so a ghost fades as one sheet instead of piling up its splats.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone, Default)]
pub struct GhostColourMaterial {
    #[uniform(0)]
    pub params: SplatParams,
}

impl Material for GhostColourMaterial {
    fn vertex_shader() -> ShaderRef {
        SPLAT_SHADER.into()
    }
    fn fragment_shader() -> ShaderRef {
        SPLAT_SHADER.into()
    }
    fn alpha_mode(&self) -> AlphaMode {
        AlphaMode::Blend
    }
    fn enable_prepass() -> bool {
        false
    }
    fn enable_shadows() -> bool {
        false
    }
    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        _key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        splat_vertex_layout(descriptor, layout)?;
        if let Some(ds) = descriptor.depth_stencil.as_mut() {
            // Reverse Z: pass at (or a hair in front of) the depth the first pass wrote.
            ds.depth_write_enabled = Some(false);
            ds.bias.constant = 8;
        }
        Ok(())
    }
}

/// The venue backdrop: proxy geometry with a texture baked from the background plates.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct VenueMaterial {
    #[texture(0)]
    #[sampler(1)]
    pub texture: Handle<Image>,
    /// x: softness; y: 1 for a surface seen only from its front (the snow, whose triangles
    /// face up), 0 for one seen from both sides (see `venue.wgsl`).
    #[uniform(2)]
    pub style: Vec4,
}

impl Material for VenueMaterial {
    fn vertex_shader() -> ShaderRef {
        VENUE_SHADER.into()
    }
    fn fragment_shader() -> ShaderRef {
        VENUE_SHADER.into()
    }
    fn enable_prepass() -> bool {
        false
    }
    fn enable_shadows() -> bool {
        false
    }
    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        _key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        let vertex_layout = layout.0.get_layout(&[
            Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
            Mesh::ATTRIBUTE_UV_0.at_shader_location(2),
        ])?;
        descriptor.vertex.buffers = vec![vertex_layout];
        descriptor.primitive.cull_mode = None;
        Ok(())
    }
}

/// How flat graphics meet the rest of the scene.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FlatMode {
    /// Opaque and depth tested (trajectory, ticks, camera markers).
    #[default]
    Solid,
    /// Blended, sorted last, drawn as if [`POSTURE_PULL`] metres nearer the eye than it is:
    /// posture skeletons, so a skeleton inside its after-image shows through the ghost's own
    /// surface but not through the venue in front of it.
    Posture,
    /// Blended, depth tested but not written, pulled towards the camera: shadows lying on
    /// the ground they darken.
    Decal,
}

/// Unlit graphics with vertex colours (alpha included), in one of three [`FlatMode`]s. One
/// material type with the mode in its pipeline key: separate material types with the same
/// layout and shader were given each other's pipelines.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
#[bind_group_data(FlatMode)]
pub struct FlatMaterial {
    #[uniform(0)]
    pub color: Vec4,
    /// x: how far vertices are pulled towards the eye before the depth test (m).
    #[uniform(1)]
    pub params: Vec4,
    pub mode: FlatMode,
}

/// How far a posture skeleton is pulled towards the eye (m): more than half a body's depth.
pub const POSTURE_PULL: f32 = 0.35;

impl From<&FlatMaterial> for FlatMode {
    fn from(m: &FlatMaterial) -> Self {
        m.mode
    }
}

impl FlatMaterial {
    pub fn new(color: Vec4, mode: FlatMode) -> Self {
        let pull = if mode == FlatMode::Posture {
            POSTURE_PULL
        } else {
            0.0
        };
        Self {
            color,
            params: Vec4::new(pull, 0.0, 0.0, 0.0),
            mode,
        }
    }
}

impl Material for FlatMaterial {
    fn vertex_shader() -> ShaderRef {
        FLAT_SHADER.into()
    }
    fn fragment_shader() -> ShaderRef {
        FLAT_SHADER.into()
    }
    fn alpha_mode(&self) -> AlphaMode {
        match self.mode {
            FlatMode::Solid => AlphaMode::Opaque,
            FlatMode::Posture | FlatMode::Decal => AlphaMode::Blend,
        }
    }
    fn depth_bias(&self) -> f32 {
        match self.mode {
            // Sorted after the after-images' blended pass, which sits at the same distance.
            FlatMode::Posture => 1.0e4,
            _ => 0.0,
        }
    }
    fn enable_prepass() -> bool {
        false
    }
    fn enable_shadows() -> bool {
        false
    }
    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        let vertex_layout = layout.0.get_layout(&[
            Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
            Mesh::ATTRIBUTE_NORMAL.at_shader_location(1),
            Mesh::ATTRIBUTE_COLOR.at_shader_location(5),
        ])?;
        descriptor.vertex.buffers = vec![vertex_layout];
        let ds = descriptor.depth_stencil.as_mut();
        match (key.bind_group_data, ds) {
            (FlatMode::Posture, Some(ds)) => {
                ds.depth_write_enabled = Some(false);
            }
            (FlatMode::Decal, Some(ds)) => {
                descriptor.primitive.cull_mode = None;
                ds.depth_write_enabled = Some(false);
                // Reverse Z: a positive bias moves towards the camera.
                ds.bias.constant = 16;
                ds.bias.slope_scale = 2.0;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::SHADERS;
    use crate::reconstruct::blend::{BLEND_FLOOR, BLEND_WIDTH};

    /// The splat shader's blend constants are the ones `reconstruct::blend` documents and
    /// blends with on the CPU (the Gaussian path, the tests' reference).
    #[test]
    fn the_shaders_blend_constants_are_the_cpus() {
        let splat = SHADERS
            .iter()
            .find(|(name, _)| *name == "splat.wgsl")
            .map(|(_, source)| *source)
            .expect("splat.wgsl");
        let constant = |name: &str| -> f32 {
            let prefix = format!("const {name}: f32 = ");
            let line = splat
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no {name} in splat.wgsl"));
            line.trim_end_matches(';').parse().expect("a number")
        };
        assert_eq!(constant("BLEND_WIDTH"), BLEND_WIDTH);
        assert_eq!(constant("BLEND_FLOOR"), BLEND_FLOOR);
    }
}
