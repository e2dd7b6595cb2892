//! The venue backdrop on the GPU: the reconstruction's venue model (proxy ground, fences and
//! dome with textures baked from the cameras' background plates, see `reconstruct::venue`) as
//! meshes.

use super::convert;
use crate::reconstruct::Reconstruction;
use crate::reconstruct::fence::Fence;
use crate::reconstruct::venue::{VenueModel, dome_direction};
use bevy::asset::RenderAssetUsages;
use bevy::image::{Image, ImageSampler};
use bevy::mesh::{Indices, Mesh, PrimitiveTopology};
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use nalgebra::Point3;

pub struct VenueData {
    pub ground_mesh: Mesh,
    pub ground_texture: Image,
    pub dome_mesh: Mesh,
    pub dome_texture: Image,
    /// Each fence face: its mesh and texture.
    pub fences: Vec<(Mesh, Image)>,
}

#[derive(Debug, thiserror::Error)]
pub enum VenueError {
    #[error("cannot read a venue texture ({source}): {path}")]
    Texture {
        path: std::path::PathBuf,
        #[source]
        source: image::ImageError,
    },
}

/// An sRGB texture with a full mip chain (box-filtered), so distant snow does not shimmer.
fn mipmapped(img: image::RgbImage) -> Image {
    let (w, h) = img.dimensions();
    let mut level = image::DynamicImage::ImageRgb8(img).to_rgba8();
    let mut data = level.as_raw().clone();
    let mut levels = 1;
    while level.width() > 1 || level.height() > 1 {
        let (nw, nh) = ((level.width() / 2).max(1), (level.height() / 2).max(1));
        level = image::imageops::resize(&level, nw, nh, image::imageops::FilterType::Triangle);
        data.extend_from_slice(level.as_raw());
        levels += 1;
    }
    let mut image = Image::new_uninit(
        Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    image.data = Some(data);
    image.texture_descriptor.mip_level_count = levels;
    image.sampler = ImageSampler::linear();
    image
}

/// A triangle list with positions and texture coordinates.
fn textured_mesh(pos: Vec<[f32; 3]>, uv: Vec<[f32; 2]>, idx: Vec<u32>) -> Mesh {
    let mut mesh = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    );
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, pos);
    mesh.insert_attribute(Mesh::ATTRIBUTE_UV_0, uv);
    mesh.insert_indices(Indices::U32(idx));
    mesh
}

fn ground_mesh(model: &VenueModel) -> Mesh {
    // Vertices on every knot of the texture maps keep the texture mapping exact; over the
    // reconstructed terrain, one on every sample of its profiles.
    let (a0, a1) = model.along.range();
    let mut along = Vec::new();
    let mut s = a0;
    while s <= a1 + 1e-9 {
        along.push(s);
        s += if s.abs() < 40.0 - 1e-9 { 0.5 } else { 2.0 };
    }
    let mut across: Vec<f64> = [
        0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 13.0, 18.0, 25.0, 35.0, 50.0, 70.0, 100.0, 150.0, 220.0,
    ]
    .iter()
    .flat_map(|&x| [x, -x])
    .collect();
    if let Some(t) = &model.terrain {
        // Every measured sample is a vertex.
        along.extend(t.along.iter().map(|p| p.0));
        across.extend(t.across.iter().map(|p| p.0));
    }
    for v in [&mut along, &mut across] {
        v.sort_by(f64::total_cmp);
        v.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
    }
    let mut pos = Vec::new();
    let mut uv = Vec::new();
    for &s in &along {
        for &l in &across {
            pos.push(convert::point(&model.ground_point(s, l)).to_array());
            uv.push([model.along.tex(s) as f32, model.across.tex(l) as f32]);
        }
    }
    let w = across.len() as u32;
    // Triangles wound counter-clockwise seen from above (the front face; the snow is drawn
    // one-sided), whichever way round the course frame's `l` runs.
    let up = match (along.first(), along.last(), across.first(), across.last()) {
        (Some(&s0), Some(&s1), Some(&l0), Some(&l1)) => {
            let o = model.ground_point(s0, l0);
            (model.ground_point(s1, l0) - o)
                .cross(&(model.ground_point(s0, l1) - o))
                .z
                >= 0.0
        }
        _ => true,
    };
    let mut idx = Vec::new();
    for i in 0..(along.len() as u32 - 1) {
        for j in 0..(w - 1) {
            let a = i * w + j;
            let b = (i + 1) * w + j;
            if up {
                idx.extend_from_slice(&[a, b, a + 1, a + 1, b, b + 1]);
            } else {
                idx.extend_from_slice(&[a, a + 1, b, a + 1, b + 1, b]);
            }
        }
    }
    textured_mesh(pos, uv, idx)
}

fn dome_mesh(model: &VenueModel) -> Mesh {
    let centre = Point3::from(model.dome_centre);
    let (rings, segs) = (64u32, 128u32);
    let mut pos = Vec::new();
    let mut uv = Vec::new();
    for r in 0..=rings {
        let v = r as f64 / rings as f64;
        for s in 0..=segs {
            let u = s as f64 / segs as f64;
            let p = centre + dome_direction(u, v) * model.dome_radius;
            pos.push(convert::point(&p).to_array());
            uv.push([u as f32, v as f32]);
        }
    }
    let mut idx = Vec::new();
    for r in 0..rings {
        for s in 0..segs {
            let a = r * (segs + 1) + s;
            let b = a + segs + 1;
            idx.extend_from_slice(&[a, a + 1, b, a + 1, b + 1, b]);
        }
    }
    textured_mesh(pos, uv, idx)
}

/// How far each face of a fence stands off its centre line (m): the face towards a viewer is
/// always the nearer, so the depth test shows the right one.
const FENCE_FACE_OFFSET: f64 = 0.02;

/// One face of a fence as a wall standing on the ground proxy: a vertex pair (foot, top) every
/// half metre along it; `inner`: the face towards the course.
fn fence_mesh(model: &VenueModel, fence: &Fence, inner: bool) -> Mesh {
    let frame = model.frame();
    let l = fence.l + fence.l.signum() * if inner { -1.0 } else { 1.0 } * FENCE_FACE_OFFSET;
    let n = (((fence.s.1 - fence.s.0) / 0.5).ceil() as u32).max(1);
    let mut pos = Vec::new();
    let mut uv = Vec::new();
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let s = fence.s.0 + t * (fence.s.1 - fence.s.0);
        // The foot a little into the snow (the measured foot or the ground proxy, whichever
        // is lower), so no gap shows under the wall where the proxy is slightly low; the
        // texture's bottom row stretches over it.
        let ground = model.ground_point(s, fence.l).z;
        let foot = fence.foot_height(s, || ground);
        for (z, v) in [(foot.min(ground) - 0.1, 1.0), (foot + fence.height, 0.0)] {
            pos.push(convert::point(&frame.point(s, l, z)).to_array());
            uv.push([t as f32, v as f32]);
        }
    }
    let mut idx = Vec::new();
    for i in 0..n {
        let (a, b) = (2 * i, 2 * i + 2);
        idx.extend_from_slice(&[a, b, a + 1, a + 1, b, b + 1]);
    }
    textured_mesh(pos, uv, idx)
}

impl VenueData {
    /// The reconstruction's venue model as meshes and textures (`None` when it has none).
    pub fn load(recon: &Reconstruction) -> Result<Option<Self>, VenueError> {
        let Some(model) = &recon.manifest.venue else {
            return Ok(None);
        };
        let read = |file: &std::path::Path| {
            let path = recon.dir.join(file);
            image::open(&path)
                .map(|i| i.to_rgb8())
                .map_err(|source| VenueError::Texture { path, source })
        };
        let mut fences = Vec::new();
        // (Reconstruction::open has refused fences that are not valid.)
        for f in &model.fences {
            for (inner, file) in [(true, &f.inner_texture), (false, &f.outer_texture)] {
                fences.push((fence_mesh(model, f, inner), mipmapped(read(file)?)));
            }
        }
        Ok(Some(Self {
            fences,
            ground_mesh: ground_mesh(model),
            ground_texture: mipmapped(read(&model.ground_texture)?),
            dome_mesh: dome_mesh(model),
            dome_texture: mipmapped(read(&model.dome_texture)?),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::GroundProfile;
    use bevy::mesh::VertexAttributeValues;

    /// Snow sloping down along +x (z = -0.5 x), travelling along +x, with a fence 11 m to the
    /// right from x = -5 to 20, 1.2 m high.
    fn sloped() -> (VenueModel, Fence) {
        let model = VenueModel::on_profile(GroundProfile {
            origin: [0.0, 0.0, 0.0],
            travel: [1.0, 0.0, 0.0],
            samples: vec![(-100.0, 50.0), (100.0, -50.0)],
        });
        let fence = Fence {
            l: -11.0,
            s: (-5.0, 20.0),
            height: 1.2,
            foot: Vec::new(),
            inner_texture: "i.png".into(),
            outer_texture: "o.png".into(),
        };
        (model, fence)
    }

    /// The snow is drawn one-sided, so every triangle must face up (counter-clockwise seen
    /// from above), whichever way round the course runs.
    #[test]
    fn the_snow_faces_up() {
        for travel in [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] {
            let model = VenueModel::on_profile(GroundProfile {
                origin: [0.0, 0.0, 0.0],
                travel,
                samples: vec![(-100.0, 50.0), (100.0, -50.0)],
            });
            let mesh = ground_mesh(&model);
            let Some(VertexAttributeValues::Float32x3(pos)) =
                mesh.attribute(Mesh::ATTRIBUTE_POSITION)
            else {
                panic!("positions");
            };
            let Some(bevy::mesh::Indices::U32(idx)) = mesh.indices() else {
                panic!("indices");
            };
            assert!(idx.len() > 1000);
            let p = |i: u32| bevy::math::Vec3::from_array(pos[i as usize]);
            for t in idx.chunks(3) {
                let n = (p(t[1]) - p(t[0])).cross(p(t[2]) - p(t[0]));
                // Bevy's +y is up.
                assert!(n.y > 0.0, "{travel:?}: a triangle faces down: {n}");
            }
        }
    }

    /// Each face is a wall from just under the snow to the fence's height above it, over the
    /// fence's length, the face towards the course the nearer to it.
    #[test]
    fn a_fence_face_stands_on_the_snow() {
        let (model, fence) = sloped();
        for inner in [true, false] {
            let mesh = fence_mesh(&model, &fence, inner);
            let Some(VertexAttributeValues::Float32x3(pos)) =
                mesh.attribute(Mesh::ATTRIBUTE_POSITION)
            else {
                panic!("positions");
            };
            assert_eq!(pos.len(), 2 * 51);
            let want_l = if inner { -10.98 } else { -11.02 };
            for pair in pos.chunks(2) {
                let (foot, top) = (
                    convert::to_world(bevy::math::Vec3::from_array(pair[0])),
                    convert::to_world(bevy::math::Vec3::from_array(pair[1])),
                );
                let snow = model.ground_point(foot.x, foot.y).z;
                assert!((foot.z - (snow - 0.1)).abs() < 1e-3, "{foot:?} over {snow}");
                assert!((top.z - (snow + 1.2)).abs() < 1e-3, "{top:?} over {snow}");
                assert!((foot.y - want_l).abs() < 1e-4 && (top.y - want_l).abs() < 1e-4);
            }
            let first = convert::to_world(bevy::math::Vec3::from_array(pos[0]));
            let last = convert::to_world(bevy::math::Vec3::from_array(pos[pos.len() - 1]));
            assert!((first.x + 5.0).abs() < 1e-4 && (last.x - 20.0).abs() < 1e-4);
        }
    }

    /// A fence with a measured foot stands on it: its top the fence's height above the foot,
    /// its bottom a little under the foot or the snow, whichever is lower (no gap shows).
    #[test]
    fn a_fence_stands_on_its_measured_foot() {
        let (model, mut fence) = sloped();
        // 0.3 m over the snow at the start, 0.3 m under it at the end.
        let snow = |s: f64| model.ground_point(s, fence.l).z;
        fence.foot = vec![(-5.0, snow(-5.0) + 0.3), (20.0, snow(20.0) - 0.3)];
        let mesh = fence_mesh(&model, &fence, true);
        let Some(VertexAttributeValues::Float32x3(pos)) = mesh.attribute(Mesh::ATTRIBUTE_POSITION)
        else {
            panic!("positions");
        };
        for pair in pos.chunks(2) {
            let (bottom, top) = (
                convert::to_world(bevy::math::Vec3::from_array(pair[0])),
                convert::to_world(bevy::math::Vec3::from_array(pair[1])),
            );
            let ground = snow(bottom.x);
            let t = (bottom.x + 5.0) / 25.0;
            let foot = ground + 0.3 - 0.6 * t;
            assert!((top.z - (foot + 1.2)).abs() < 1e-3, "{top:?} over {foot}");
            assert!(
                (bottom.z - (foot.min(ground) - 0.1)).abs() < 1e-3,
                "{bottom:?}"
            );
        }
    }
}
