//! The window: the same scene the exporter renders, with an orbit camera and a bevy_egui side
//! panel. Two modes (Bevy `States`): **Analysis** (free orbit and zoom, scrub, freeze,
//! after-images, trajectory, measurements) and **Playout** (the example shots looped, camera
//! from their documents; the screen is never black because the scene is always drawn).

use crate::compose::overlay::{MeasureKind, measurement_label};
use crate::compose::{Ghost, OverlayFrame, Sequence, TrajectoryStyle, ViewState, VirtualCamera};
use crate::render::offscreen::render_plugin;
use crate::render::scene::{CurrentView, FrameRequest, SceneCamera, SceneData, ScenePlugin};
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;
use bevy::render::view::Msaa;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};
use nalgebra::{Point3, Vector3};

/// UI colours, declared once.
mod palette {
    use bevy_egui::egui::Color32;
    pub const ACCENT: Color32 = Color32::from_rgb(255, 140, 20);
    pub const MUTED: Color32 = Color32::from_rgb(150, 160, 175);
}

#[derive(States, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AppMode {
    #[default]
    Analysis,
    Playout,
}

#[derive(Resource)]
struct ViewerState {
    time: f64,
    playing: bool,
    speed: f64,
    /// Orbit camera around the pivot: azimuth and elevation (radians), distance (m).
    azimuth: f64,
    elevation: f64,
    distance: f64,
    fov_deg: f64,
    /// Pivot follows the athlete, or stays on the jump's middle.
    follow: bool,
    slices: bool,
    slice_count: usize,
    /// Posture skeletons on the after-images.
    postures: bool,
    /// The athlete's shadow on the snow.
    shadow: bool,
    trajectory: bool,
    venue: bool,
    soft_venue: bool,
    rig: bool,
    /// Measurement call-outs drawn on the scene.
    labels: bool,
    /// Title/action safe-area guides.
    safe_areas: bool,
    /// Playout: the looped shots' views and the frame shown.
    playout: Vec<ViewState>,
    playout_fps: f64,
    playout_frame: usize,
}

/// Output-size-independent scene view the systems turn into a [`FrameRequest`].
fn analysis_view(s: &ViewerState, data: &SceneData) -> ViewState {
    let ctx = &data.context;
    let pivot = if s.follow {
        ctx.position(s.time)
    } else {
        let a = ctx.position(ctx.takeoff);
        let b = ctx.position(ctx.landing);
        nalgebra::center(&a, &b)
            + Vector3::new(0.0, 0.0, 0.5 * (ctx.position(ctx.apex).z - a.z.max(b.z)))
    };
    let travel = ctx.travel_direction();
    let left = Vector3::z().cross(&travel);
    let (az, el) = (s.azimuth, s.elevation);
    let dir = (-travel * az.cos() + left * az.sin()) * el.cos() + Vector3::z() * el.sin();
    let mut ghosts = Vec::new();
    if s.slices {
        let n = s.slice_count.max(2);
        for k in 0..n {
            let t = ctx.takeoff + (ctx.landing - ctx.takeoff) * k as f64 / (n - 1) as f64;
            if (t - s.time).abs() < 0.03 {
                continue;
            }
            let f = k as f32 / (n - 1) as f32;
            ghosts.push(Ghost {
                time: t,
                opacity: 0.3 + 0.6 * f,
                tint: [0.35, 0.62, 1.0],
                tint_amount: 0.18,
                desaturate: 0.3,
                rim: 0.55,
                posture: s.postures.then_some(crate::compose::PostureStyle {
                    colour: [1.0, 0.85, 0.3],
                    radius: 0.015,
                    opacity: 0.9,
                }),
            });
        }
    }
    ViewState {
        time: s.time,
        camera: VirtualCamera {
            eye: pivot + dir * s.distance,
            target: pivot,
            fov_y: s.fov_deg.to_radians(),
            roll: 0.0,
        },
        show_athlete: true,
        ghosts,
        trajectory: s.trajectory.then_some(TrajectoryStyle {
            from: ctx.takeoff,
            to: ctx.landing,
            colour: [1.0, 0.55, 0.08],
            radius: 0.045,
            tick_every: 0.25,
        }),
        show_venue: s.venue,
        venue_softness: s.soft_venue as u8 as f32,
        shadow: s.shadow.then(crate::compose::ContactShadow::default),
        overlay: OverlayFrame {
            labels: if s.labels {
                [
                    MeasureKind::ApexHeight,
                    MeasureKind::Airtime,
                    MeasureKind::Distance,
                    MeasureKind::TakeOffSpeed,
                ]
                .into_iter()
                .filter_map(|k| measurement_label(k, ctx, 1.0))
                .collect()
            } else {
                Vec::new()
            },
            safe_areas: s.safe_areas,
            ..Default::default()
        },
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the viewer stopped with an error (exit code {0})")]
pub struct ViewerError(u8);

/// Takes one screenshot of the window once the scene has been drawn for a while, then quits
/// (for tests and documentation under Xvfb).
#[derive(Resource)]
struct AutoScreenshot {
    path: std::path::PathBuf,
    frames_left: u32,
    taken: bool,
}

fn auto_screenshot(
    mut commands: Commands,
    mut shot: ResMut<AutoScreenshot>,
    mut exit: MessageWriter<AppExit>,
) {
    if shot.frames_left > 0 {
        shot.frames_left -= 1;
        return;
    }
    if !shot.taken {
        shot.taken = true;
        commands
            .spawn(bevy::render::view::screenshot::Screenshot::primary_window())
            .observe(bevy::render::view::screenshot::save_to_disk(
                shot.path.clone(),
            ));
        return;
    }
    if shot.path.exists() {
        exit.write(AppExit::Success);
    }
}

/// Opens the viewer window and runs until it is closed. With `screenshot`, saves the window
/// to that PNG after `after_frames` frames and closes.
pub fn run(
    scene: SceneData,
    screenshot: Option<(std::path::PathBuf, u32)>,
) -> Result<(), ViewerError> {
    let ctx = scene.context.clone();
    let mut playout = Vec::new();
    let mut playout_fps = 50.0;
    for (name, doc) in [
        (
            "frozen_moment.ron",
            include_str!("../../scenes/frozen_moment.ron"),
        ),
        (
            "spacetime_slices.ron",
            include_str!("../../scenes/spacetime_slices.ron"),
        ),
    ] {
        match Sequence::parse(doc, std::path::Path::new(name)) {
            Ok(seq) => {
                playout_fps = seq.output.fps;
                playout.extend(seq.frames(&ctx));
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }
    let state = ViewerState {
        time: ctx.apex,
        playing: false,
        speed: 0.5,
        azimuth: 90f64.to_radians(),
        elevation: 8f64.to_radians(),
        distance: 10.0,
        fov_deg: 40.0,
        follow: true,
        slices: false,
        slice_count: 8,
        trajectory: true,
        venue: true,
        soft_venue: true,
        postures: false,
        shadow: true,
        rig: false,
        labels: true,
        safe_areas: false,
        playout,
        playout_fps,
        playout_frame: 0,
    };
    let first = FrameRequest::from_view(&analysis_view(&state, &scene), 1280, 720);
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .build()
            .disable::<bevy::log::LogPlugin>()
            .disable::<bevy::app::TerminalCtrlCHandlerPlugin>()
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: "replay360".into(),
                    resolution: (1280u32, 720u32).into(),
                    ..default()
                }),
                ..default()
            })
            .set(render_plugin()),
    )
    .add_plugins(EguiPlugin::default())
    .add_plugins(crate::render::overlay::OverlayPlugin)
    .insert_resource(scene)
    .insert_resource(CurrentView(first))
    .insert_resource(state)
    .init_state::<AppMode>()
    .add_plugins(ScenePlugin)
    .add_systems(Startup, spawn_camera)
    .add_systems(
        Update,
        (orbit_controls, advance_time).run_if(in_state(AppMode::Analysis)),
    )
    .add_systems(Update, advance_playout.run_if(in_state(AppMode::Playout)))
    .add_systems(
        Update,
        publish_view
            .after(orbit_controls)
            .after(advance_time)
            .after(advance_playout),
    )
    .add_systems(EguiPrimaryContextPass, side_panel);
    if let Some((path, after_frames)) = screenshot {
        let _ = std::fs::remove_file(&path);
        app.insert_resource(AutoScreenshot {
            path,
            frames_left: after_frames,
            taken: false,
        })
        .add_systems(Last, auto_screenshot);
    }
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => Err(ViewerError(code.get())),
    }
}

fn spawn_camera(mut commands: Commands) {
    commands.spawn((
        crate::render::scene::camera_3d(),
        SceneCamera,
        Tonemapping::None,
        DebandDither::Disabled,
        Msaa::Sample4,
        Transform::IDENTITY,
    ));
}

fn orbit_controls(
    mut state: ResMut<ViewerState>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    keys: Res<ButtonInput<KeyCode>>,
    mut contexts: EguiContexts,
) {
    let over_ui = contexts
        .ctx_mut()
        .map(|c| c.is_pointer_over_egui() || c.egui_wants_pointer_input())
        .unwrap_or(false);
    if !over_ui {
        if buttons.pressed(MouseButton::Left) {
            state.azimuth -= motion.delta.x as f64 * 0.006;
            state.elevation = (state.elevation + motion.delta.y as f64 * 0.006).clamp(-0.2, 1.45);
        }
        if scroll.delta.y != 0.0 {
            state.distance =
                (state.distance * (1.0 - scroll.delta.y as f64 * 0.1)).clamp(2.0, 80.0);
        }
    }
    if keys.just_pressed(KeyCode::Space) {
        state.playing = !state.playing;
    }
}

fn advance_time(mut state: ResMut<ViewerState>, data: Res<SceneData>, time: Res<Time>) {
    if !state.playing {
        return;
    }
    let (t0, t1) = data.recon.time_range();
    let mut t = state.time + time.delta_secs_f64() * state.speed;
    if t > t1 {
        t = t0;
    }
    state.time = t;
}

fn advance_playout(mut state: ResMut<ViewerState>, time: Res<Time>, mut acc: Local<f64>) {
    if state.playout.is_empty() {
        return;
    }
    *acc += time.delta_secs_f64() * state.playout_fps;
    let steps = acc.floor() as usize;
    *acc -= steps as f64;
    state.playout_frame = (state.playout_frame + steps) % state.playout.len();
}

fn publish_view(
    state: Res<ViewerState>,
    data: Res<SceneData>,
    mode: Res<State<AppMode>>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut view: ResMut<CurrentView>,
) {
    let (w, h) = window
        .iter()
        .next()
        .map(|w| (w.physical_width().max(2), w.physical_height().max(2)))
        .unwrap_or((1280, 720));
    let v = match mode.get() {
        AppMode::Playout if !state.playout.is_empty() => state.playout[state.playout_frame].clone(),
        _ => analysis_view(&state, &data),
    };
    let mut req = FrameRequest::from_view(&v, w, h);
    req.show_rig = state.rig && *mode.get() == AppMode::Analysis;
    view.0 = req;
}

fn side_panel(
    mut contexts: EguiContexts,
    mut state: ResMut<ViewerState>,
    data: Res<SceneData>,
    mode: Res<State<AppMode>>,
    mut next: ResMut<NextState<AppMode>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let c = &data.context;
    let (t0, t1) = data.recon.time_range();
    let mut ui = egui::Ui::new(
        ctx.clone(),
        "viewport".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    egui::Panel::right("controls")
        .default_size(270.0)
        .show(&mut ui, |ui| {
            ui.heading("replay360");
            ui.horizontal(|ui| {
                let mut m = *mode.get();
                ui.selectable_value(&mut m, AppMode::Analysis, "Analysis");
                ui.selectable_value(&mut m, AppMode::Playout, "Playout");
                if m != *mode.get() {
                    next.set(m);
                }
            });
            ui.separator();
            if *mode.get() == AppMode::Playout {
                ui.label("Looping the 360° freeze and the Spacetime Slices.");
                let n = state.playout.len().max(1);
                ui.add(
                    egui::ProgressBar::new(state.playout_frame as f32 / n as f32).text(format!(
                        "frame {} / {}",
                        state.playout_frame + 1,
                        n
                    )),
                );
                return;
            }
            ui.label(egui::RichText::new("Time").color(palette::ACCENT));
            let mut t = state.time;
            ui.add(
                egui::Slider::new(&mut t, t0..=t1)
                    .suffix(" s")
                    .fixed_decimals(2),
            );
            state.time = t;
            ui.horizontal(|ui| {
                if ui
                    .button(if state.playing {
                        "⏸ Pause"
                    } else {
                        "▶ Play"
                    })
                    .clicked()
                {
                    state.playing = !state.playing;
                }
                ui.add(egui::Slider::new(&mut state.speed, 0.1..=1.0).text("speed"));
            });
            ui.horizontal(|ui| {
                if ui.button("Take-off").clicked() {
                    state.time = c.takeoff;
                    state.playing = false;
                }
                if ui.button("Apex").clicked() {
                    state.time = c.apex;
                    state.playing = false;
                }
                if ui.button("Landing").clicked() {
                    state.time = c.landing;
                    state.playing = false;
                }
            });
            ui.separator();
            ui.label(egui::RichText::new("Show").color(palette::ACCENT));
            ui.checkbox(&mut state.slices, "Spacetime Slices");
            if state.slices {
                ui.add(egui::Slider::new(&mut state.slice_count, 2..=16).text("slices"));
                ui.checkbox(&mut state.postures, "Posture skeletons");
            }
            ui.checkbox(&mut state.trajectory, "Trajectory");
            ui.checkbox(&mut state.venue, "Venue");
            if state.venue {
                ui.checkbox(&mut state.soft_venue, "Soften the venue");
                ui.checkbox(&mut state.shadow, "Shadow on the snow");
            }
            ui.checkbox(&mut state.rig, "Camera rig");
            ui.checkbox(&mut state.labels, "Measurements on the scene");
            ui.checkbox(&mut state.safe_areas, "Safe areas");
            ui.separator();
            ui.label(egui::RichText::new("Camera").color(palette::ACCENT));
            ui.checkbox(&mut state.follow, "Follow the athlete");
            ui.add(egui::Slider::new(&mut state.distance, 2.0..=80.0).text("distance m"));
            ui.add(egui::Slider::new(&mut state.fov_deg, 10.0..=90.0).text("field of view °"));
            ui.label(
                egui::RichText::new("Drag to orbit, wheel to zoom, space to play.")
                    .color(palette::MUTED),
            );
            ui.separator();
            ui.label(egui::RichText::new("Measurements").color(palette::ACCENT));
            if let Some(a) = &data.recon.manifest.analysis {
                egui::Grid::new("measure").num_columns(2).show(ui, |ui| {
                    ui.label("take-off");
                    ui.label(format!("{:.2} s", a.takeoff_time));
                    ui.end_row();
                    ui.label("apex");
                    ui.label(format!(
                        "{:.2} s, {:.2} m above take-off",
                        a.apex_time, a.apex_height_m
                    ));
                    ui.end_row();
                    ui.label("landing");
                    ui.label(format!("{:.2} s", a.landing_time));
                    ui.end_row();
                    ui.label("air time");
                    ui.label(format!("{:.2} s", a.flight_time_s));
                    ui.end_row();
                    ui.label("take-off speed");
                    ui.label(format!(
                        "{:.1} m/s ({:.0} km/h)",
                        a.takeoff_speed_mps,
                        a.takeoff_speed_mps * 3.6
                    ));
                    ui.end_row();
                    ui.label("distance");
                    ui.label(format!("{:.1} m", a.distance_m));
                    ui.end_row();
                });
            } else {
                ui.label("No flight detected in this reconstruction.");
            }
            let p: Point3<f64> = c.position(state.time);
            ui.label(format!(
                "centre of mass: ({:.2}, {:.2}, {:.2}) m",
                p.x, p.y, p.z
            ));
        });
    Ok(())
}
