//! Mesh builders: splat quads, the trajectory tube, the venue proxy and markers. All take world
//! (Z-up) data and emit Bevy-frame vertices through [`super::convert`].

use super::convert;
use super::materials::{ATTRIBUTE_SPLAT_RADIUS, ATTRIBUTE_SPLAT_VIEW};
use crate::reconstruct::SplatFrame;
use crate::util::images::srgb_to_linear;
use bevy::asset::RenderAssetUsages;
use bevy::math::Vec3;
use bevy::mesh::{Indices, Mesh, PrimitiveTopology};
use nalgebra::{Point3, Vector3};

fn new_mesh() -> Mesh {
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    )
}

/// One camera-facing quad per splat.
pub fn splat_mesh(frame: &SplatFrame) -> Mesh {
    if frame.is_empty() {
        // A single invisible splat: zero-sized meshes upset the GPU buffer allocator.
        return splat_mesh(&SplatFrame {
            positions: vec![[0.0; 3]],
            normals: vec![[0.0, 0.0, 1.0]],
            colours: vec![[0; 3]],
            radii: vec![0.0],
            view: Vec::new(),
        });
    }
    let n = frame.len();
    let mut pos = Vec::with_capacity(n * 4);
    let mut nor = Vec::with_capacity(n * 4);
    let mut uv = Vec::with_capacity(n * 4);
    let mut rad = Vec::with_capacity(n * 4);
    let mut col = Vec::with_capacity(n * 4);
    let mut view: [Vec<[u32; 4]>; 3] = std::array::from_fn(|_| Vec::with_capacity(n * 4));
    let mut idx = Vec::with_capacity(n * 6);
    for i in 0..n {
        let p = convert::point_f32(frame.positions[i]).to_array();
        let q = frame.normals[i];
        let nn = [q[0], q[2], -q[1]];
        let c = frame.colours[i];
        let lin = [
            srgb_to_linear(c[0]),
            srgb_to_linear(c[1]),
            srgb_to_linear(c[2]),
            1.0,
        ];
        // The samples' directions are in the world (Z up); the shader's in Bevy's frame.
        let samples = frame
            .view_samples(i)
            .map_directions(|d| convert::point_f32(d).to_array())
            .0;
        let t: [[u32; 4]; 3] = std::array::from_fn(|k| {
            let [a, b] = [samples[2 * k], samples[2 * k + 1]];
            [a[0], a[1], b[0], b[1]]
        });
        let base = (i * 4) as u32;
        for corner in [[-1.0f32, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]] {
            pos.push(p);
            nor.push(nn);
            uv.push(corner);
            rad.push([frame.radii[i], 0.0]);
            col.push(lin);
            for k in 0..3 {
                view[k].push(t[k]);
            }
        }
        idx.extend_from_slice(&[base, base + 1, base + 2, base, base + 2, base + 3]);
    }
    let mut mesh = new_mesh();
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, pos);
    mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, nor);
    mesh.insert_attribute(Mesh::ATTRIBUTE_UV_0, uv);
    mesh.insert_attribute(ATTRIBUTE_SPLAT_RADIUS, rad);
    mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, col);
    for (attribute, values) in ATTRIBUTE_SPLAT_VIEW.into_iter().zip(view) {
        mesh.insert_attribute(attribute, values);
    }
    mesh.insert_indices(Indices::U32(idx));
    mesh
}

/// Accumulates flat-shaded geometry with vertex colours.
#[derive(Default)]
pub struct FlatBuilder {
    pos: Vec<[f32; 3]>,
    nor: Vec<[f32; 3]>,
    col: Vec<[f32; 4]>,
    idx: Vec<u32>,
}

impl FlatBuilder {
    fn vertex(&mut self, p: Vec3, n: Vec3, c: [f32; 4]) -> u32 {
        self.pos.push(p.to_array());
        self.nor.push(n.to_array());
        self.col.push(c);
        (self.pos.len() - 1) as u32
    }

    /// A tube through world points, with a colour per point.
    pub fn tube(&mut self, points: &[Point3<f64>], colours: &[[f32; 4]], radius: f32) {
        if points.len() < 2 {
            return;
        }
        let sides = 10;
        let pts: Vec<Vec3> = points.iter().map(convert::point).collect();
        let mut prev_ring: Option<u32> = None;
        let mut normal_ref = Vec3::Y;
        for (i, p) in pts.iter().enumerate() {
            let t = if i + 1 < pts.len() {
                pts[i + 1] - *p
            } else {
                *p - pts[i - 1]
            }
            .normalize_or_zero();
            if t == Vec3::ZERO {
                continue;
            }
            // Parallel transport of the ring frame keeps the tube from twisting.
            let mut u = normal_ref - t * normal_ref.dot(t);
            if u.length_squared() < 1e-8 {
                u = t.any_orthonormal_vector();
            }
            let u = u.normalize();
            normal_ref = u;
            let v = t.cross(u);
            let ring = self.pos.len() as u32;
            for s in 0..sides {
                let a = s as f32 / sides as f32 * std::f32::consts::TAU;
                let n = u * a.cos() + v * a.sin();
                self.vertex(*p + n * radius, n, colours[i]);
            }
            if let Some(pr) = prev_ring {
                for s in 0..sides {
                    let (a, b) = (s as u32, ((s + 1) % sides) as u32);
                    self.idx.extend_from_slice(&[
                        pr + a,
                        ring + a,
                        ring + b,
                        pr + a,
                        ring + b,
                        pr + b,
                    ]);
                }
            }
            prev_ring = Some(ring);
        }
    }

    /// A UV sphere (for time ticks and markers).
    pub fn sphere(&mut self, centre: &Point3<f64>, radius: f32, colour: [f32; 4]) {
        let c = convert::point(centre);
        let (rings, segs) = (8, 12);
        let base = self.pos.len() as u32;
        for r in 0..=rings {
            let phi = r as f32 / rings as f32 * std::f32::consts::PI;
            for s in 0..=segs {
                let th = s as f32 / segs as f32 * std::f32::consts::TAU;
                let n = Vec3::new(phi.sin() * th.cos(), phi.cos(), phi.sin() * th.sin());
                self.vertex(c + n * radius, n, colour);
            }
        }
        for r in 0..rings {
            for s in 0..segs {
                let a = base + r * (segs + 1) + s;
                let b = a + segs + 1;
                self.idx.extend_from_slice(&[a, b, a + 1, a + 1, b, b + 1]);
            }
        }
    }

    /// A small camera body and frustum marker at a camera pose.
    pub fn camera_marker(&mut self, camera: &crate::camera::Camera, size: f32, colour: [f32; 4]) {
        let inv = camera.pose.inverse();
        let c = inv.centre;
        let k = &camera.intrinsics;
        let corners = [
            (-0.5, -0.5),
            (k.width as f64 - 0.5, -0.5),
            (k.width as f64 - 0.5, k.height as f64 - 0.5),
            (-0.5, k.height as f64 - 0.5),
        ];
        let d = size as f64 * 3.0;
        let pts: Vec<Point3<f64>> = corners
            .iter()
            .map(|&(u, v)| camera.unproject(&crate::camera::Pixel::new(u, v), d))
            .collect();
        for i in 0..4 {
            self.tube(&[c, pts[i]], &[colour, colour], size * 0.08);
            self.tube(&[pts[i], pts[(i + 1) % 4]], &[colour, colour], size * 0.08);
        }
        self.sphere(&c, size * 0.35, colour);
    }

    pub fn is_empty(&self) -> bool {
        self.idx.is_empty()
    }

    pub fn build(mut self) -> Mesh {
        if self.idx.is_empty() {
            // A degenerate triangle: zero-sized meshes upset the GPU buffer allocator.
            for _ in 0..3 {
                self.vertex(Vec3::ZERO, Vec3::Y, [0.0; 4]);
            }
            self.idx.extend_from_slice(&[0, 1, 2]);
        }
        let mut mesh = new_mesh();
        mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, self.pos);
        mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, self.nor);
        mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, self.col);
        mesh.insert_indices(Indices::U32(self.idx));
        mesh
    }
}

/// A height-field ground along the direction of travel: `profile` gives the height at each
/// distance `s` along `travel` from `origin`; the ground is level across the course.
pub fn ground_mesh(
    origin: &Point3<f64>,
    travel: &Vector3<f64>,
    profile: &dyn Fn(f64) -> f64,
    half_length: f64,
    half_width: f64,
) -> Mesh {
    let left = Vector3::z().cross(travel).normalize();
    let along: Vec<f64> = {
        let mut v = Vec::new();
        let mut s = -half_length;
        while s <= half_length {
            v.push(s);
            // Finer near the action.
            s += if s.abs() < 40.0 { 0.5 } else { 2.0 };
        }
        v
    };
    let across: Vec<f64> = {
        let mut v: Vec<f64> = [
            0.0, 1.0, 2.0, 4.0, 6.0, 9.0, 13.0, 18.0, 25.0, 35.0, 50.0, 70.0, 100.0, 150.0, 220.0,
        ]
        .iter()
        .copied()
        .filter(|&x| x <= half_width)
        .flat_map(|x| [x, -x])
        .collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let mut pos = Vec::with_capacity(along.len() * across.len());
    for &s in &along {
        let z = profile(s);
        for &l in &across {
            let p = origin + travel * s + left * l;
            pos.push(convert::point(&Point3::new(p.x, p.y, z)).to_array());
        }
    }
    let w = across.len() as u32;
    let mut idx = Vec::new();
    for i in 0..(along.len() as u32 - 1) {
        for j in 0..(w - 1) {
            let a = i * w + j;
            let b = (i + 1) * w + j;
            idx.extend_from_slice(&[a, b, a + 1, a + 1, b, b + 1]);
        }
    }
    let mut mesh = new_mesh();
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, pos);
    mesh.insert_indices(Indices::U32(idx));
    mesh
}

/// A large sphere around `centre` for sky and distant scenery.
pub fn dome_mesh(centre: &Point3<f64>, radius: f64) -> Mesh {
    let c = convert::point(centre);
    let (rings, segs) = (48u32, 96u32);
    let mut pos = Vec::new();
    for r in 0..=rings {
        let phi = r as f32 / rings as f32 * std::f32::consts::PI;
        for s in 0..=segs {
            let th = s as f32 / segs as f32 * std::f32::consts::TAU;
            let n = Vec3::new(phi.sin() * th.cos(), phi.cos(), phi.sin() * th.sin());
            pos.push((c + n * radius as f32).to_array());
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
    let mut mesh = new_mesh();
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, pos);
    mesh.insert_indices(Indices::U32(idx));
    mesh
}

/// A posture skeleton as white tubes (one per unbranched chain) with a ball at every branch
/// and end; the material colours it.
pub fn posture_mesh(skeleton: &crate::analyse::skeleton::Skeleton, radius: f32) -> Mesh {
    let mut b = FlatBuilder::default();
    let white = [1.0f32; 4];
    for chain in skeleton.chains() {
        let colours = vec![white; chain.len()];
        b.tube(&chain, &colours, radius);
        if let Some(end) = chain.last() {
            b.sphere(end, radius * 1.6, white);
        }
    }
    if let Some(root) = skeleton.joints.first() {
        b.sphere(root, radius * 1.6, white);
    }
    b.build()
}

/// A shadow patch on the ground: white vertices whose alpha is the shadow's strength, lifted a
/// centimetre so it lies on the ground mesh's facets, not under them.
pub fn shadow_mesh(patch: &crate::compose::shadow::ShadowPatch) -> Mesh {
    let pos: Vec<[f32; 3]> = patch
        .points
        .iter()
        .map(|p| convert::point(&Point3::new(p.x, p.y, p.z + 0.01)).to_array())
        .collect();
    let up = convert::vector(&Vector3::z()).to_array();
    let nor = vec![up; pos.len()];
    let col: Vec<[f32; 4]> = patch.strength.iter().map(|&s| [1.0, 1.0, 1.0, s]).collect();
    let idx: Vec<u32> = patch.triangles().into_iter().flatten().collect();
    let mut mesh = new_mesh();
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, pos);
    mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, nor);
    mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, col);
    mesh.insert_indices(Indices::U32(idx));
    mesh
}
