//! The scene as Bevy entities, driven by one resource: [`CurrentView`]. The window viewer and
//! the offscreen exporter both set it and let these systems do the rest, so both draw exactly
//! the same thing.

use super::gaussians::{GaussianPlugin, GaussianScene, GaussianSplats};
use super::materials::{
    FlatMaterial, FlatMode, GhostColourMaterial, GhostDepthMaterial, SplatMaterial, SplatParams,
    VenueMaterial,
};
use super::meshes::{self, FlatBuilder};
use super::projection::IntrinsicsProjection;
use super::venue::VenueData;
use crate::analyse::skeleton::{SkeletonParams, skeleton};
use crate::camera::Camera;
use crate::compose::shadow::contact_shadow;
use crate::compose::{ContactShadow, Context, Ghost, PostureStyle, TrajectoryStyle};
use crate::formats::gaussian_ply::GaussianCloud;
use crate::reconstruct::Reconstruction;
use bevy::camera::Projection;
use bevy::math::Vec4;
use bevy::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Everything one frame shows.
#[derive(Debug, Clone)]
pub struct FrameRequest {
    /// A pinhole camera (no distortion) whose image size is the render target's.
    pub camera: Camera,
    /// Capture time of the live athlete (s).
    pub time: f64,
    pub show_athlete: bool,
    pub ghosts: Vec<Ghost>,
    pub trajectory: Option<TrajectoryStyle>,
    pub show_venue: bool,
    /// 0 shows the venue as captured; 1 softens it so the athlete stands out.
    pub venue_softness: f32,
    /// The athlete's (and each after-image's) shadow on the snow; drawn only with the venue.
    pub shadow: Option<ContactShadow>,
    /// Markers for the real cameras (viewer only).
    pub show_rig: bool,
    /// Clear to transparent instead of the sky colour (for compositing; the venue is hidden).
    pub transparent: bool,
    /// Broadcast graphics drawn over the picture.
    pub overlay: crate::compose::OverlayFrame,
}

impl FrameRequest {
    /// The request for a composed view rendered at `width` x `height`.
    pub fn from_view(view: &crate::compose::ViewState, width: u32, height: u32) -> Self {
        Self::from_view_fit(view, width, height, width as f64 / height as f64)
    }

    /// As [`FrameRequest::from_view`] for a frame narrower than the one the view was designed
    /// for (`design_aspect`, width / height): what the design framed top to bottom is framed
    /// side to side, so a 9:16 version keeps the athlete as large as the 16:9 original.
    pub fn from_view_fit(
        view: &crate::compose::ViewState,
        width: u32,
        height: u32,
        design_aspect: f64,
    ) -> Self {
        let aspect = width as f64 / height as f64;
        let mut camera = view.camera;
        if aspect < design_aspect {
            camera.fov_y = 2.0 * ((0.5 * camera.fov_y).tan() / aspect.min(1.0)).atan();
        }
        Self {
            camera: camera.to_camera(width, height),
            time: view.time,
            show_athlete: view.show_athlete,
            ghosts: view.ghosts.clone(),
            trajectory: view.trajectory,
            show_venue: view.show_venue,
            venue_softness: view.venue_softness,
            shadow: view.shadow,
            show_rig: false,
            transparent: false,
            overlay: view.overlay.clone(),
        }
    }
}

#[derive(Resource, Clone, Debug)]
pub struct CurrentView(pub FrameRequest);

/// The reconstruction, composition context and venue the scene draws from.
#[derive(Resource)]
pub struct SceneData {
    pub recon: Reconstruction,
    pub context: Context,
    pub venue: Option<VenueData>,
    /// The real cameras (for rig markers).
    pub rig: Vec<Camera>,
    /// Draw the live athlete as depth-sorted, alpha-blended flat Gaussians (see
    /// [`GaussianCloud::from_splats`]) instead of discs. After-images stay discs; a Gaussian
    /// athlete behind an after-image is hidden by it rather than seen through it.
    pub gaussian_athlete: bool,
}

/// Reconstruction frames as splat meshes, with their splat positions (for posture skeletons
/// and shadows), least recently used dropped first. Each frame is read once.
#[derive(Resource, Default)]
pub struct SplatCache {
    map: HashMap<usize, CachedFrame>,
    order: VecDeque<usize>,
    /// Frames that failed to load (reported once).
    failed: HashMap<usize, String>,
}

/// A frame's splat mesh and splat positions.
type CachedFrame = (Handle<Mesh>, Arc<Vec<[f32; 3]>>);

const CACHE_FRAMES: usize = 48;
/// After-image entities kept ready.
pub const MAX_GHOSTS: usize = 16;

impl SplatCache {
    fn get(
        &mut self,
        index: usize,
        data: &SceneData,
        meshes: &mut Assets<Mesh>,
    ) -> Option<Handle<Mesh>> {
        self.entry(index, data, meshes).map(|e| e.0)
    }

    /// The splat positions of a frame.
    fn points(
        &mut self,
        index: usize,
        data: &SceneData,
        meshes: &mut Assets<Mesh>,
    ) -> Option<Arc<Vec<[f32; 3]>>> {
        self.entry(index, data, meshes).map(|e| e.1)
    }

    fn entry(
        &mut self,
        index: usize,
        data: &SceneData,
        meshes: &mut Assets<Mesh>,
    ) -> Option<CachedFrame> {
        if let Some(e) = self.map.get(&index) {
            let e = e.clone();
            self.order.retain(|&i| i != index);
            self.order.push_back(index);
            return Some(e);
        }
        if self.failed.contains_key(&index) {
            return None;
        }
        match data.recon.load_frame(index) {
            Ok(frame) => {
                let e = (
                    meshes.add(meshes::splat_mesh(&frame)),
                    Arc::new(frame.positions),
                );
                self.map.insert(index, e.clone());
                self.order.push_back(index);
                while self.order.len() > CACHE_FRAMES {
                    if let Some(old) = self.order.pop_front()
                        && let Some((h, _)) = self.map.remove(&old)
                    {
                        meshes.remove(&h);
                    }
                }
                Some(e)
            }
            Err(e) => {
                tracing::warn!("{e}");
                self.failed.insert(index, e.to_string());
                None
            }
        }
    }
}

#[derive(Component)]
pub struct SceneCamera;
#[derive(Component)]
pub struct LiveAthlete;
#[derive(Component)]
pub struct AfterImage(pub usize);
#[derive(Component)]
pub struct TrajectoryTube;
#[derive(Component)]
pub struct VenueBackdrop;
#[derive(Component)]
pub struct RigMarkers;
/// The posture skeleton drawn over after-image `k`.
#[derive(Component)]
pub struct GhostPosture(pub usize);
/// A shadow on the snow: 0 for the live athlete, `k + 1` for after-image `k`.
#[derive(Component)]
pub struct ShadowCaster(pub usize);

/// Snow shadows are lit by the blue sky: a dark blue, not black.
const SHADOW_COLOUR: [f32; 3] = [0.03, 0.07, 0.2];

/// The 3D camera component for scene views: its depth buffer can also be read, so Gaussians
/// (drawn after the meshes) are hidden by what is in front of them.
pub fn camera_3d() -> Camera3d {
    use bevy::render::render_resource::TextureUsages;
    Camera3d {
        depth_texture_usages: (TextureUsages::RENDER_ATTACHMENT | TextureUsages::TEXTURE_BINDING)
            .into(),
        ..default()
    }
}

/// The clear colour behind the venue (and behind Gaussian files).
pub const SKY: Color = Color::srgb(0.55, 0.68, 0.86);

/// Draws the reconstruction. Expects [`SceneData`] and [`CurrentView`] resources.
pub struct ScenePlugin;

/// Draws only the [`super::gaussians::GaussianSplats`] resource (a splat file) from the camera
/// of [`CurrentView`]; the rest of the request (athlete, after-images, venue) is ignored, and
/// `transparent` clears to transparent instead of [`SKY`].
pub struct GaussianViewPlugin;

impl Plugin for GaussianViewPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(GaussianPlugin)
            .insert_resource(ClearColor(SKY))
            .add_systems(
                PostUpdate,
                update_camera
                    .before(bevy::transform::TransformSystems::Propagate)
                    .before(bevy::camera::CameraUpdateSystems),
            );
    }
}

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((
            MaterialPlugin::<SplatMaterial>::default(),
            MaterialPlugin::<GhostDepthMaterial>::default(),
            MaterialPlugin::<GhostColourMaterial>::default(),
            MaterialPlugin::<VenueMaterial>::default(),
            MaterialPlugin::<FlatMaterial>::default(),
        ))
        .add_plugins(GaussianPlugin)
        .init_resource::<SplatCache>()
        .insert_resource(ClearColor(SKY))
        .add_systems(Startup, spawn_scene)
        .add_systems(
            PostUpdate,
            (
                // Before Bevy's camera system turns the projection into a matrix, so a view
                // whose intrinsics change is drawn with its own projection, not the last one.
                update_camera.before(bevy::camera::CameraUpdateSystems),
                update_athlete,
                update_ghosts,
                update_trajectory,
                update_venue,
                update_rig,
                // After the systems that show the splat meshes, whose cache they read.
                (update_postures, update_shadows)
                    .after(update_athlete)
                    .after(update_ghosts),
            )
                .before(bevy::transform::TransformSystems::Propagate),
        );
        super::materials::register_shaders(app);
    }
}

// Bevy systems take their resources as parameters; splitting this one would only scatter it.
#[allow(clippy::too_many_arguments)]
fn spawn_scene(
    mut commands: Commands,
    data: Res<SceneData>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut splat_materials: ResMut<Assets<SplatMaterial>>,
    mut ghost_depth: ResMut<Assets<GhostDepthMaterial>>,
    mut ghost_colour: ResMut<Assets<GhostColourMaterial>>,
    mut venue_materials: ResMut<Assets<VenueMaterial>>,
    mut flat_materials: ResMut<Assets<FlatMaterial>>,
    mut images: ResMut<Assets<Image>>,
) {
    let empty = meshes.add(meshes::splat_mesh(&Default::default()));
    let nothing = meshes.add(FlatBuilder::default().build());
    for k in 0..MAX_GHOSTS {
        commands.spawn((
            GhostPosture(k),
            Mesh3d(nothing.clone()),
            MeshMaterial3d(flat_materials.add(FlatMaterial::new(Vec4::ONE, FlatMode::Posture))),
            Transform::IDENTITY,
            Visibility::Hidden,
            bevy::camera::visibility::NoFrustumCulling,
        ));
    }
    for k in 0..=MAX_GHOSTS {
        commands.spawn((
            ShadowCaster(k),
            Mesh3d(nothing.clone()),
            MeshMaterial3d(flat_materials.add(FlatMaterial::new(Vec4::ZERO, FlatMode::Decal))),
            Transform::IDENTITY,
            Visibility::Hidden,
            bevy::camera::visibility::NoFrustumCulling,
        ));
    }
    commands.spawn((
        LiveAthlete,
        Mesh3d(empty.clone()),
        MeshMaterial3d(splat_materials.add(SplatMaterial::default())),
        Transform::IDENTITY,
        bevy::camera::visibility::NoFrustumCulling,
    ));
    for k in 0..MAX_GHOSTS {
        commands.spawn((
            AfterImage(k),
            Mesh3d(empty.clone()),
            MeshMaterial3d(ghost_depth.add(GhostDepthMaterial::default())),
            Transform::IDENTITY,
            Visibility::Hidden,
            bevy::camera::visibility::NoFrustumCulling,
        ));
        commands.spawn((
            AfterImage(k),
            Mesh3d(empty.clone()),
            MeshMaterial3d(ghost_colour.add(GhostColourMaterial::default())),
            Transform::IDENTITY,
            Visibility::Hidden,
            bevy::camera::visibility::NoFrustumCulling,
        ));
    }
    commands.spawn((
        TrajectoryTube,
        Mesh3d(meshes.add(FlatBuilder::default().build())),
        MeshMaterial3d(flat_materials.add(FlatMaterial::new(Vec4::ONE, FlatMode::Solid))),
        Transform::IDENTITY,
        Visibility::Hidden,
        bevy::camera::visibility::NoFrustumCulling,
    ));
    let mut rig = FlatBuilder::default();
    for cam in &data.rig {
        rig.camera_marker(cam, 0.6, [0.95, 0.35, 0.1, 1.0]);
    }
    commands.spawn((
        RigMarkers,
        Mesh3d(meshes.add(rig.build())),
        MeshMaterial3d(flat_materials.add(FlatMaterial::new(Vec4::ONE, FlatMode::Solid))),
        Transform::IDENTITY,
        Visibility::Hidden,
    ));
    if let Some(venue) = &data.venue {
        // The snow is one-sided: a view from under it (a camera path dipping below the
        // measured snow, or a camera standing where the snow was extrapolated too high) sees
        // the athlete, the fences and the sky rather than the underside of the ground.
        let faces = [
            (&venue.ground_mesh, &venue.ground_texture, true),
            (&venue.dome_mesh, &venue.dome_texture, false),
        ]
        .into_iter()
        .chain(venue.fences.iter().map(|(m, t)| (m, t, false)));
        for (mesh, texture, one_sided) in faces {
            let material = venue_materials.add(VenueMaterial {
                texture: images.add(texture.clone()),
                style: Vec4::new(0.0, if one_sided { 1.0 } else { 0.0 }, 0.0, 0.0),
            });
            commands.spawn((
                VenueBackdrop,
                Mesh3d(meshes.add(mesh.clone())),
                MeshMaterial3d(material),
                Transform::IDENTITY,
                bevy::camera::visibility::NoFrustumCulling,
            ));
        }
    }
}

fn update_camera(
    view: Res<CurrentView>,
    mut cams: Query<
        (&mut Transform, &mut Projection, &mut bevy::camera::Camera),
        With<SceneCamera>,
    >,
) {
    let cam = &view.0.camera;
    for (mut t, mut p, mut camera) in &mut cams {
        use bevy::camera::ClearColorConfig;
        let is_clear =
            matches!(camera.clear_color, ClearColorConfig::Custom(c) if c == Color::NONE);
        if view.0.transparent != is_clear {
            camera.clear_color = if view.0.transparent {
                ClearColorConfig::Custom(Color::NONE)
            } else {
                ClearColorConfig::Default
            };
        }
        *t = super::convert::camera_transform(cam);
        let want = IntrinsicsProjection::new(cam.intrinsics.pinhole());
        let same = matches!(&*p, Projection::Custom(c) if c.get::<IntrinsicsProjection>().is_some_and(|k| k.intrinsics == want.intrinsics));
        if !same {
            *p = Projection::custom(want);
        }
    }
}

/// Reconstruction frames as Gaussians, a few kept.
#[derive(Default)]
pub struct GaussianFrames(VecDeque<(MovedFrameKey, Option<Arc<GaussianScene>>)>);

/// A frame's index and the bits of the motion it was carried by (see [`motion_key`]), for
/// caching what is derived from the moved frame (Gaussians, shadows).
type MovedFrameKey = (usize, [u64; 7]);

impl GaussianFrames {
    /// Frame `index` as Gaussians, carried by `moved` (see [`Reconstruction::frame_moved_to`]).
    fn get(
        &mut self,
        index: usize,
        moved: &nalgebra::Isometry3<f64>,
        data: &SceneData,
    ) -> Option<Arc<GaussianScene>> {
        let key = (index, motion_key(moved));
        if let Some((_, g)) = self.0.iter().find(|(k, _)| *k == key) {
            return g.clone();
        }
        let g = match data.recon.load_frame(index) {
            Ok(mut frame) => {
                frame.move_by(moved);
                let mut scene = GaussianScene::from_cloud(&GaussianCloud::from_splats(&frame));
                scene.view = frame
                    .view
                    .iter()
                    .map(|v| v.map_directions(|d| super::convert::point_f32(d).to_array()))
                    .collect();
                Some(Arc::new(scene))
            }
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        };
        self.0.push_back((key, g.clone()));
        if self.0.len() > 8 {
            self.0.pop_front();
        }
        g
    }
}

/// A rigid motion's exact bits, to tell motions apart as cache keys.
fn motion_key(m: &nalgebra::Isometry3<f64>) -> [u64; 7] {
    let (t, q) = (&m.translation.vector, m.rotation.coords);
    [t.x, t.y, t.z, q.x, q.y, q.z, q.w].map(f64::to_bits)
}

fn update_athlete(
    view: Res<CurrentView>,
    data: Res<SceneData>,
    mut cache: ResMut<SplatCache>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut q: Query<(&mut Mesh3d, &mut Transform, &mut Visibility), With<LiveAthlete>>,
    mut splats: ResMut<GaussianSplats>,
    mut gaussian_frames: Local<GaussianFrames>,
) {
    let (index, moved) = data.recon.frame_moved_to(view.0.time);
    if data.gaussian_athlete {
        for (_, _, mut vis) in &mut q {
            *vis = Visibility::Hidden;
        }
        let want = if view.0.show_athlete {
            gaussian_frames.get(index, &moved, &data)
        } else {
            None
        };
        let same = match (&splats.scene, &want) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            splats.scene = want;
        }
        return;
    }
    let mesh = if view.0.show_athlete {
        cache.get(index, &data, &mut meshes)
    } else {
        None
    };
    let moved = super::convert::rigid_transform(&moved);
    for (mut m, mut transform, mut vis) in &mut q {
        match &mesh {
            Some(h) => {
                if m.0 != *h {
                    m.0 = h.clone();
                }
                transform.set_if_neq(moved);
                *vis = Visibility::Inherited;
            }
            None => *vis = Visibility::Hidden,
        }
    }
}

/// An after-image entity's parts that [`update_ghosts`] sets.
type AfterImageParts<'a> = (
    &'a AfterImage,
    &'a mut Mesh3d,
    Option<&'a MeshMaterial3d<GhostColourMaterial>>,
    &'a mut Transform,
    &'a mut Visibility,
);

fn update_ghosts(
    view: Res<CurrentView>,
    data: Res<SceneData>,
    mut cache: ResMut<SplatCache>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut colours: ResMut<Assets<GhostColourMaterial>>,
    mut q: Query<AfterImageParts>,
) {
    let ghosts = &view.0.ghosts;
    for (ai, mut m, colour, mut transform, mut vis) in &mut q {
        let Some(g) = ghosts.get(ai.0) else {
            *vis = Visibility::Hidden;
            continue;
        };
        let (index, moved) = data.recon.frame_moved_to(g.time);
        let Some(h) = cache.get(index, &data, &mut meshes) else {
            *vis = Visibility::Hidden;
            continue;
        };
        if m.0 != h {
            m.0 = h;
        }
        transform.set_if_neq(super::convert::rigid_transform(&moved));
        *vis = Visibility::Inherited;
        let Some(colour) = colour else {
            continue; // the depth pass needs no parameters
        };
        let params = SplatParams {
            tint: Vec4::new(g.tint[0], g.tint[1], g.tint[2], g.tint_amount),
            params: Vec4::new(g.opacity, g.desaturate, 1.0, g.rim),
        };
        let stale = colours.get(&colour.0).is_some_and(|c| c.params != params);
        if stale && let Some(mut material) = colours.get_mut(&colour.0) {
            material.params = params;
        }
    }
}

fn update_trajectory(
    view: Res<CurrentView>,
    data: Res<SceneData>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut last: Local<Option<TrajectoryStyle>>,
    mut q: Query<(&mut Mesh3d, &mut Visibility), With<TrajectoryTube>>,
) {
    let style = view.0.trajectory;
    for (mut m, mut vis) in &mut q {
        let Some(st) = style else {
            *vis = Visibility::Hidden;
            continue;
        };
        *vis = Visibility::Inherited;
        if *last == Some(st) {
            continue;
        }
        let mesh = trajectory_mesh(&data.context, &st);
        m.0 = meshes.add(mesh);
    }
    *last = style;
}

/// The centre-of-mass tube from `from` to `to`, brightening with time, with tick spheres.
pub fn trajectory_mesh(ctx: &Context, st: &TrajectoryStyle) -> Mesh {
    let mut b = FlatBuilder::default();
    let span = (st.to - st.from).max(0.0);
    let steps = ((span * 120.0).ceil() as usize).max(2);
    let pts: Vec<_> = (0..=steps)
        .map(|i| ctx.position(st.from + span * i as f64 / steps as f64))
        .collect();
    let cols: Vec<[f32; 4]> = (0..=steps)
        .map(|i| {
            let f = i as f32 / steps as f32;
            let k = 0.55 + 0.45 * f;
            [st.colour[0] * k, st.colour[1] * k, st.colour[2] * k, 1.0]
        })
        .collect();
    if span > 1e-3 {
        b.tube(&pts, &cols, st.radius);
    }
    if st.tick_every > 0.0 {
        let first = (st.from / st.tick_every).ceil() as i64;
        let last = (st.to / st.tick_every).floor() as i64;
        for k in first..=last {
            let t = k as f64 * st.tick_every;
            b.sphere(&ctx.position(t), st.radius * 2.2, [1.0, 1.0, 1.0, 1.0]);
        }
    }
    b.build()
}

fn update_venue(
    view: Res<CurrentView>,
    mut materials: ResMut<Assets<VenueMaterial>>,
    mut q: Query<(&MeshMaterial3d<VenueMaterial>, &mut Visibility), With<VenueBackdrop>>,
) {
    let softness = view.0.venue_softness.clamp(0.0, 1.0);
    for (mat, mut vis) in &mut q {
        *vis = if view.0.show_venue {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        let stale = materials.get(&mat.0).is_some_and(|m| m.style.x != softness);
        if stale && let Some(mut m) = materials.get_mut(&mat.0) {
            m.style.x = softness;
        }
    }
}

fn update_rig(view: Res<CurrentView>, mut q: Query<&mut Visibility, With<RigMarkers>>) {
    for mut vis in &mut q {
        *vis = if view.0.show_rig {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
    }
}

/// Meshes derived from reconstruction frames, by key (`None`: nothing to draw, remembered so
/// it is not worked out again every frame); forgotten all at once when many.
pub struct DerivedMeshes<K>(HashMap<K, Option<Handle<Mesh>>>);

impl<K> Default for DerivedMeshes<K> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<K: std::hash::Hash + Eq> DerivedMeshes<K> {
    fn get(
        &mut self,
        key: K,
        meshes: &mut Assets<Mesh>,
        make: impl FnOnce(&mut Assets<Mesh>) -> Option<Mesh>,
    ) -> Option<Handle<Mesh>> {
        if let Some(h) = self.0.get(&key) {
            return h.clone();
        }
        if self.0.len() > 4 * MAX_GHOSTS {
            // Dropping the handles frees the meshes no entity still shows (strong handles:
            // removing them outright would blank entities already given one this frame).
            self.0.clear();
        }
        let h = make(meshes).map(|mesh| meshes.add(mesh));
        self.0.insert(key, h.clone());
        h
    }
}

#[allow(clippy::too_many_arguments)]
fn update_postures(
    view: Res<CurrentView>,
    data: Res<SceneData>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<FlatMaterial>>,
    mut cache: ResMut<SplatCache>,
    mut built: Local<DerivedMeshes<(usize, u32)>>,
    mut q: Query<(
        &GhostPosture,
        &mut Mesh3d,
        &MeshMaterial3d<FlatMaterial>,
        &mut Transform,
        &mut Visibility,
    )>,
) {
    for (gp, mut m, mat, mut transform, mut vis) in &mut q {
        let Some((g, style)) = view
            .0
            .ghosts
            .get(gp.0)
            .and_then(|g| g.posture.map(|st| (g, st)))
        else {
            *vis = Visibility::Hidden;
            continue;
        };
        let (index, moved) = data.recon.frame_moved_to(g.time);
        let radius = style.radius.clamp(0.002, 0.2);
        let handle = built.get((index, radius.to_bits()), &mut meshes, |meshes| {
            let pts = cache.points(index, &data, meshes)?;
            let spacing = data.recon.manifest.voxel_size;
            let s = skeleton(&pts, &SkeletonParams::for_spacing(spacing));
            (!s.is_empty()).then(|| meshes::posture_mesh(&s, radius))
        });
        let Some(h) = handle else {
            *vis = Visibility::Hidden;
            continue;
        };
        if m.0 != h {
            m.0 = h;
        }
        transform.set_if_neq(super::convert::rigid_transform(&moved));
        *vis = Visibility::Inherited;
        let colour = posture_colour(&style, g.opacity);
        let stale = materials.get(&mat.0).is_some_and(|x| x.color != colour);
        if stale && let Some(mut x) = materials.get_mut(&mat.0) {
            x.color = colour;
        }
    }
}

/// A skeleton is as visible as its after-image, never less than half its own opacity.
fn posture_colour(style: &PostureStyle, ghost_opacity: f32) -> Vec4 {
    let [r, g, b] = style.colour;
    let a = style.opacity.clamp(0.0, 1.0) * ghost_opacity.clamp(0.5, 1.0);
    Vec4::new(r, g, b, a)
}

#[allow(clippy::too_many_arguments)]
fn update_shadows(
    view: Res<CurrentView>,
    data: Res<SceneData>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<FlatMaterial>>,
    mut cache: ResMut<SplatCache>,
    mut built: Local<DerivedMeshes<(MovedFrameKey, [u64; 4])>>,
    mut q: Query<(
        &ShadowCaster,
        &mut Mesh3d,
        &MeshMaterial3d<FlatMaterial>,
        &mut Visibility,
    )>,
) {
    let req = &view.0;
    let model = data.recon.manifest.venue.as_ref();
    let shadow = req.shadow.filter(|_| req.show_venue && !req.transparent);
    for (caster, mut m, mat, mut vis) in &mut q {
        let (Some(sh), Some(model)) = (shadow, model) else {
            *vis = Visibility::Hidden;
            continue;
        };
        let who = match caster.0 {
            0 => req.show_athlete.then_some((req.time, 1.0)),
            k => req.ghosts.get(k - 1).map(|g| (g.time, g.opacity)),
        };
        let Some((time, opacity)) = who else {
            *vis = Visibility::Hidden;
            continue;
        };
        let sun = sh.sun_direction();
        let (index, moved) = data.recon.frame_moved_to(time);
        let key = (
            (index, motion_key(&moved)),
            [
                sun.x.to_bits(),
                sun.y.to_bits(),
                sun.z.to_bits(),
                (sh.softness as f64).to_bits(),
            ],
        );
        let handle = built.get(key, &mut meshes, |meshes| {
            let pts = cache.points(index, &data, meshes)?;
            // The shadow of the athlete where it is drawn (moved to the time shown).
            let m = moved.cast::<f32>();
            let pts: Vec<[f32; 3]> = pts
                .iter()
                .map(|p| (m * nalgebra::Point3::from(*p)).coords.into())
                .collect();
            contact_shadow(&pts, model, &sun, sh.softness as f64).map(|p| meshes::shadow_mesh(&p))
        });
        let Some(h) = handle else {
            *vis = Visibility::Hidden;
            continue;
        };
        if m.0 != h {
            m.0 = h;
        }
        *vis = Visibility::Inherited;
        let [r, g, b] = SHADOW_COLOUR;
        let colour = Vec4::new(
            r,
            g,
            b,
            sh.opacity.clamp(0.0, 1.0) * opacity.clamp(0.0, 1.0),
        );
        let stale = materials.get(&mat.0).is_some_and(|x| x.color != colour);
        if stale && let Some(mut x) = materials.get_mut(&mat.0) {
            x.color = colour;
        }
    }
}
