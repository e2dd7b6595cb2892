//! Offscreen, frame-exact rendering with the same scene the window shows.
//!
//! The app is driven by hand: for frame N the [`CurrentView`] is set, a screenshot of the
//! render target is requested and tagged N, and the app updates once. Captures come back a few
//! updates later and are reordered by tag, so frame N of the output is exactly the view asked
//! for as frame N, whatever the readback latency. Pipelines compile synchronously, and the
//! first view is rendered until two consecutive captures agree before any frame is kept, so no
//! blank or half-built frame reaches an export.

use super::gaussians::GaussianSplats;
use super::overlay::OverlayRasterizer;
use super::scene::{
    CurrentView, FrameRequest, GaussianViewPlugin, SceneCamera, SceneData, ScenePlugin,
};
use bevy::app::{PluginsState, TerminalCtrlCHandlerPlugin};
use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::render::render_resource::{PollType, TextureFormat, TextureUsages};
use bevy::render::renderer::RenderDevice;
use bevy::render::settings::{Backends, RenderCreation, WgpuSettings};
use bevy::render::view::Msaa;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use image::RgbaImage;
use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender, channel};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "the renderer produced no image after {0} updates (is a Vulkan driver such as Mesa's lavapipe installed?)"
    )]
    NoFrames(usize),
    #[error("a render pipeline failed to build: {0}")]
    Pipeline(String),
    #[error("a captured frame could not be converted: {0}")]
    Convert(String),
    #[error("render size {0}x{1} is not supported (even sizes from 16 to 7680 x 4320)")]
    Size(u32, u32),
    #[error("the render was stopped: {0}")]
    Sink(String),
}

/// The Bevy plugins for a renderer without a window.
pub fn headless_plugins() -> bevy::app::PluginGroupBuilder {
    DefaultPlugins
        .build()
        .disable::<WinitPlugin>()
        .disable::<bevy::log::LogPlugin>()
        .disable::<PipelinedRenderingPlugin>()
        .disable::<TerminalCtrlCHandlerPlugin>()
        .set(WindowPlugin {
            primary_window: None,
            exit_condition: ExitCondition::DontExit,
            ..default()
        })
        .set(render_plugin())
}

/// Vulkan (lavapipe on machines without a GPU), with pipelines compiled before first use.
pub fn render_plugin() -> RenderPlugin {
    RenderPlugin {
        synchronous_pipeline_compilation: true,
        render_creation: RenderCreation::Automatic(Box::new(WgpuSettings {
            backends: Some(Backends::VULKAN),
            ..default()
        })),
        ..default()
    }
}

pub struct OffscreenRenderer {
    app: App,
    target: Handle<Image>,
    width: u32,
    height: u32,
    tx: Sender<(u64, Image)>,
    rx: Receiver<(u64, Image)>,
    next_tag: u64,
    warm: bool,
    /// Broadcast graphics, drawn on the CPU over each captured frame (deterministic, so
    /// frame N carries exactly frame N's overlay).
    overlay: OverlayRasterizer,
}

impl OffscreenRenderer {
    pub fn new(
        scene: SceneData,
        first: FrameRequest,
        width: u32,
        height: u32,
    ) -> Result<Self, RenderError> {
        Self::build(width, height, true, move |app| {
            app.insert_resource(scene)
                .insert_resource(CurrentView(first))
                .add_plugins(ScenePlugin);
        })
    }

    /// A renderer for Gaussians alone (a splat file): each request's camera, nothing else of
    /// the scene; `transparent` requests clear to transparent.
    pub fn gaussians(
        splats: GaussianSplats,
        first: FrameRequest,
        width: u32,
        height: u32,
    ) -> Result<Self, RenderError> {
        // Gaussians are anti-aliased by their own footprint: no multisampling to pay for.
        Self::build(width, height, false, move |app| {
            app.insert_resource(splats)
                .insert_resource(CurrentView(first))
                .add_plugins(GaussianViewPlugin);
        })
    }

    fn build(
        width: u32,
        height: u32,
        msaa: bool,
        scene: impl FnOnce(&mut App),
    ) -> Result<Self, RenderError> {
        if width < 16
            || height < 16
            || width > 7680
            || height > 4320
            || !width.is_multiple_of(2)
            || !height.is_multiple_of(2)
        {
            return Err(RenderError::Size(width, height));
        }
        let mut app = App::new();
        app.add_plugins(headless_plugins());
        scene(&mut app);
        // Without app.run() the plugins must be finished by hand.
        while app.plugins_state() == PluginsState::Adding {
            bevy::tasks::tick_global_task_pools_on_main_thread();
        }
        app.finish();
        app.cleanup();
        let mut image =
            Image::new_target_texture(width, height, TextureFormat::Rgba8UnormSrgb, None);
        image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
        let target = app.world_mut().resource_mut::<Assets<Image>>().add(image);
        app.world_mut().spawn((
            super::scene::camera_3d(),
            SceneCamera,
            RenderTarget::Image(target.clone().into()),
            Tonemapping::None,
            DebandDither::Disabled,
            if !msaa || std::env::var_os("NOMSAA").is_some() {
                Msaa::Off
            } else {
                Msaa::Sample4
            },
            Transform::IDENTITY,
        ));
        let (tx, rx) = channel();
        Ok(Self {
            app,
            target,
            width,
            height,
            tx,
            rx,
            next_tag: 0,
            warm: false,
            overlay: OverlayRasterizer::default(),
        })
    }

    /// Every pipeline built so far: the shader files it uses (their `shaders/...` paths) and,
    /// when it failed, why (WGSL parse and validation errors included).
    pub fn pipelines(&self) -> Vec<(Vec<String>, Option<String>)> {
        use bevy::render::render_resource::{
            CachedPipelineState, PipelineCache, PipelineDescriptor,
        };
        use bevy::shader::Shader;
        let shaders = self.app.world().resource::<Assets<Shader>>();
        let name = |h: &Handle<Shader>| {
            shaders
                .get(h)
                .map(|s| s.path.clone())
                .unwrap_or_else(|| format!("{h:?}"))
        };
        let Some(render) = self.app.get_sub_app(bevy::render::RenderApp) else {
            return Vec::new();
        };
        let Some(cache) = render.world().get_resource::<PipelineCache>() else {
            return Vec::new();
        };
        cache
            .pipelines()
            .map(|p| {
                let files = match &p.descriptor {
                    PipelineDescriptor::RenderPipelineDescriptor(d) => {
                        std::iter::once(&d.vertex.shader)
                            .chain(d.fragment.as_ref().map(|f| &f.shader))
                            .map(name)
                            .collect()
                    }
                    PipelineDescriptor::ComputePipelineDescriptor(d) => vec![name(&d.shader)],
                };
                let error = match &p.state {
                    CachedPipelineState::Err(e) => Some(e.to_string()),
                    _ => None,
                };
                (files, error)
            })
            .collect()
    }

    /// The graphics adapter, as the driver names it (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)").
    pub fn adapter(&self) -> String {
        self.app
            .get_sub_app(bevy::render::RenderApp)
            .and_then(|a| {
                a.world()
                    .get_resource::<bevy::render::renderer::RenderAdapterInfo>()
            })
            .map(|i| i.0.name.clone())
            .unwrap_or_default()
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn update(&mut self) {
        self.app.update();
        if let Some(device) = self.app.world().get_resource::<RenderDevice>() {
            let _ = device.wgpu_device().poll(PollType::wait_indefinitely());
        }
    }

    fn request(&mut self, view: &FrameRequest) -> u64 {
        self.app
            .world_mut()
            .insert_resource(CurrentView(view.clone()));
        let tag = self.next_tag;
        self.next_tag += 1;
        let tx = self.tx.clone();
        self.app
            .world_mut()
            .spawn(Screenshot::image(self.target.clone()))
            .observe(move |captured: On<ScreenshotCaptured>| {
                let _ = tx.send((tag, captured.image.clone()));
            });
        tag
    }

    fn to_rgba(&self, img: Image) -> Result<RgbaImage, RenderError> {
        let dynamic = img
            .try_into_dynamic()
            .map_err(|e| RenderError::Convert(format!("{e:?}")))?;
        let rgba = dynamic.into_rgba8();
        if rgba.dimensions() != (self.width, self.height) {
            return Err(RenderError::Convert(format!(
                "got {}x{}, expected {}x{}",
                rgba.width(),
                rgba.height(),
                self.width,
                self.height
            )));
        }
        Ok(rgba)
    }

    /// Replaces the Gaussians drawn with the rest of the scene (see
    /// [`super::gaussians::GaussianSplats`]); the next render warms up again.
    pub fn set_gaussians(&mut self, splats: GaussianSplats) {
        self.app.world_mut().insert_resource(splats);
        self.warm = false;
    }

    /// The Gaussians this renderer draws (none when it has no cloud).
    pub fn gaussians_drawn(&self) -> Option<&GaussianSplats> {
        self.app
            .world()
            .get_resource::<GaussianSplats>()
            .filter(|s| s.scene.as_ref().is_some_and(|c| !c.is_empty()))
    }

    /// Frames in which the Gaussian layer was drawn so far.
    fn gaussian_frames(&self) -> u64 {
        self.gaussians_drawn().map_or(0, |s| {
            s.stats.frames.load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// Renders `view` until two consecutive captures agree (pipelines and assets ready), both
    /// with the Gaussian layer drawn when there is a cloud.
    fn warm_up(&mut self, view: &FrameRequest) -> Result<(), RenderError> {
        let mut previous: Option<(u64, RgbaImage)> = None;
        let wants_gaussians = self.gaussians_drawn().is_some();
        // Tags whose update drew the Gaussian layer.
        let mut with_gaussians = std::collections::HashSet::new();
        let max_updates = 40;
        for _ in 0..max_updates {
            let before = self.gaussian_frames();
            let tag = self.request(view);
            self.update();
            if self.gaussian_frames() > before {
                with_gaussians.insert(tag);
            }
            while let Ok((t, img)) = self.rx.try_recv() {
                let rgba = self.to_rgba(img)?;
                let complete = |t: u64| !wants_gaussians || with_gaussians.contains(&t);
                if let Some((pt, prev)) = &previous
                    && *prev == rgba
                    && t + 1 >= tag
                    && complete(t)
                    && complete(*pt)
                {
                    self.warm = true;
                    // Drain whatever else is in flight.
                    for _ in 0..4 {
                        self.update();
                    }
                    while self.rx.try_recv().is_ok() {}
                    return Ok(());
                }
                previous = Some((t, rgba));
            }
        }
        let failed: Vec<String> = self
            .pipelines()
            .into_iter()
            .filter_map(|(files, e)| e.map(|e| format!("{} ({e})", files.join(", "))))
            .collect();
        if !failed.is_empty() {
            return Err(RenderError::Pipeline(failed.join("; ")));
        }
        Err(RenderError::NoFrames(max_updates))
    }

    /// Renders each view in order and hands the images to `sink` as `(index, image)`, in index
    /// order. Stops early with the sink's error.
    pub fn render<F>(&mut self, views: &[FrameRequest], mut sink: F) -> Result<(), RenderError>
    where
        F: FnMut(usize, RgbaImage) -> Result<(), String>,
    {
        let Some(first) = views.first() else {
            return Ok(());
        };
        if !self.warm {
            self.warm_up(first)?;
        }
        let base = self.next_tag;
        let mut pending: BTreeMap<u64, Image> = BTreeMap::new();
        let mut next_out = base;
        let end = base + views.len() as u64;
        let mut idle = 0;
        let mut i = 0;
        while next_out < end {
            if i < views.len() {
                self.request(&views[i]);
                i += 1;
            } else {
                idle += 1;
                if idle > 60 {
                    return Err(RenderError::NoFrames(idle));
                }
            }
            self.update();
            while let Ok((tag, img)) = self.rx.try_recv() {
                if tag >= base {
                    pending.insert(tag, img);
                }
            }
            while let Some(img) = pending.remove(&next_out) {
                let mut rgba = self.to_rgba(img)?;
                let k = (next_out - base) as usize;
                self.overlay
                    .draw(&mut rgba, &views[k].camera, &views[k].overlay);
                sink(k, rgba).map_err(RenderError::Sink)?;
                next_out += 1;
            }
        }
        Ok(())
    }

    /// Renders one view.
    pub fn render_one(&mut self, view: &FrameRequest) -> Result<RgbaImage, RenderError> {
        let mut out = None;
        self.render(std::slice::from_ref(view), |_, img| {
            out = Some(img);
            Ok(())
        })?;
        out.ok_or(RenderError::NoFrames(0))
    }
}
