//! Render tests on lavapipe (Mesa's software Vulkan): a small hand-made reconstruction drawn
//! offscreen and compared with a golden image, plus checks that need no golden.
//!
//! Set REPLAY360_UPDATE_GOLDEN=1 to rewrite the golden images (look at them before committing).

mod common;

use image::RgbaImage;
use replay360::camera::{Camera, Intrinsics, WorldFromCamera};
use replay360::compose::{Ghost, TrajectoryStyle};
use replay360::reconstruct::format::write_ply;
use replay360::reconstruct::{SplatFrame, ViewSample, ViewSamples};
use replay360::render::{FrameRequest, OffscreenRenderer, load_scene};
use serde_json::json;
use std::path::Path;

const W: u32 = 320;
const H: u32 = 240;

fn camera(eye: [f64; 3], target: [f64; 3], w: u32, h: u32, fov_deg: f64) -> Camera {
    let f = 0.5 * h as f64 / (0.5 * fov_deg.to_radians()).tan();
    let k = Intrinsics::centred(w, h, f);
    let pose =
        WorldFromCamera::looking_at(eye.into(), target.into(), nalgebra::Vector3::z()).inverse();
    Camera::new(k, pose)
}

/// A sphere of splats: red above its equator, blue below, a yellow band around the middle.
fn sphere(centre: [f32; 3], r: f32, n: usize) -> SplatFrame {
    let mut f = SplatFrame::default();
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    for i in 0..n {
        let z = 1.0 - 2.0 * (i as f32 + 0.5) / n as f32;
        let rad = (1.0 - z * z).sqrt();
        let th = golden * i as f32;
        let d = [rad * th.cos(), rad * th.sin(), z];
        f.positions.push([
            centre[0] + r * d[0],
            centre[1] + r * d[1],
            centre[2] + r * d[2],
        ]);
        f.normals.push(d);
        f.colours.push(if z.abs() < 0.15 {
            [250, 210, 20]
        } else if z > 0.0 {
            [220, 30, 30]
        } else {
            [30, 60, 220]
        });
        f.radii.push(0.035);
    }
    f
}

/// Writes a one-frame reconstruction with a flat venue into `dir`.
fn fixture(dir: &Path) {
    fixture_with(dir, &sphere([0.0, 0.0, 1.0], 0.5, 4000));
}

/// [`fixture`] with another splat frame (about the size of the sphere).
fn fixture_with(dir: &Path, frame: &SplatFrame) {
    std::fs::create_dir_all(dir.join("frames")).expect("mkdir");
    std::fs::create_dir_all(dir.join("venue")).expect("mkdir");
    write_ply(&dir.join("frames/000000.ply"), frame, "test").expect("ply");
    let ground = image::RgbImage::from_fn(256, 64, |x, y| {
        if (x / 8 + y / 8) % 2 == 0 {
            image::Rgb([235, 238, 242])
        } else {
            image::Rgb([150, 155, 165])
        }
    });
    ground.save(dir.join("venue/ground.png")).expect("ground");
    let dome = image::RgbImage::from_fn(128, 64, |_, y| {
        let k = y as f32 / 64.0;
        image::Rgb([
            (60.0 + 120.0 * k) as u8,
            (110.0 + 90.0 * k) as u8,
            (220.0 - 10.0 * k) as u8,
        ])
    });
    dome.save(dir.join("venue/dome.png")).expect("dome");
    let cam_json = |id: &str, c: &Camera| {
        let m = c.pose.rotation.matrix();
        json!({
            "id": id, "video": "none.mp4", "width": c.intrinsics.width, "height": c.intrinsics.height, "fps": 25.0,
            "intrinsics": {"fx": c.intrinsics.fx, "fy": c.intrinsics.fy, "cx": c.intrinsics.cx, "cy": c.intrinsics.cy},
            "extrinsics": {"convention": "world_to_camera_opencv",
                "rotation": [[m[(0,0)], m[(0,1)], m[(0,2)]], [m[(1,0)], m[(1,1)], m[(1,2)]], [m[(2,0)], m[(2,1)], m[(2,2)]]],
                "translation": [c.pose.translation.x, c.pose.translation.y, c.pose.translation.z]}
        })
    };
    // Two real cameras; the test views the scene from elsewhere (a marker around the eye would
    // fill the view).
    let far = camera([-6.0, 5.0, 3.0], [0.0, 0.0, 1.0], W, H, 40.0);
    let side = camera([1.6, -1.5, 1.8], [0.0, 0.0, 1.0], 640, 480, 50.0);
    let capture = json!({
        "format": "replay360-capture", "version": 1, "name": "render test",
        "cameras": [cam_json("far", &far), cam_json("side", &side)]
    });
    std::fs::write(
        dir.join("capture.json"),
        serde_json::to_string_pretty(&capture).expect("json"),
    )
    .expect("write");
    let recon = json!({
        "format": "replay360-recon", "version": 1,
        "capture": dir.join("capture.json"),
        "cameras": ["far", "side"], "held_out": [], "sync": [], "voxel_size": 0.03, "fps": 25.0,
        "frames": [{"index": 0, "time": 0.0, "file": "frames/000000.ply", "splats": 4000,
                    "centroid": [0.0, 0.0, 1.0], "bbox_min": [-0.5, -0.5, 0.5], "bbox_max": [0.5, 0.5, 1.5], "volume_m3": 0.5}],
        "backgrounds": [],
        "venue": {
            "ground": {"origin": [0.0, 0.0, 0.0], "travel": [1.0, 0.0, 0.0], "samples": [[-10.0, 0.0], [10.0, 0.0]]},
            "along": {"knots": [[-220.0, 0.0], [-40.0, 0.2], [40.0, 0.8], [220.0, 1.0]]},
            "across": {"knots": [[-220.0, 0.0], [-25.0, 0.15], [-8.0, 0.3], [8.0, 0.7], [25.0, 0.85], [220.0, 1.0]]},
            "dome_centre": [0.0, 0.0, 0.0], "dome_radius": 600.0,
            "ground_texture": "venue/ground.png", "dome_texture": "venue/dome.png"
        },
        "analysis": null, "timings": {}
    });
    std::fs::write(
        dir.join("recon.json"),
        serde_json::to_string_pretty(&recon).expect("json"),
    )
    .expect("write");
}

fn request(show_venue: bool) -> FrameRequest {
    FrameRequest {
        camera: camera([0.0, -4.0, 1.5], [0.0, 0.0, 1.0], W, H, 40.0),
        time: 0.0,
        show_athlete: true,
        ghosts: Vec::new(),
        trajectory: None,
        show_venue,
        venue_softness: 0.0,
        shadow: None,
        show_rig: true,
        transparent: false,
        overlay: Default::default(),
    }
}

/// How many pixels of `img` differ from `view` drawn until settled (twice in a row, so nothing
/// of the frames before it can linger).
fn pixels_off_settled(r: &mut OffscreenRenderer, img: &RgbaImage, view: &FrameRequest) -> usize {
    r.render_one(view).expect("view");
    let settled = r.render_one(view).expect("view again");
    img.pixels()
        .zip(settled.pixels())
        .filter(|(a, b)| a != b)
        .count()
}

fn px(img: &RgbaImage, c: &Camera, p: [f64; 3]) -> [u8; 3] {
    let q = c.project(&p.into()).expect("in front");
    let v = img.get_pixel(q.x.round() as u32, q.y.round() as u32).0;
    [v[0], v[1], v[2]]
}

#[test]
fn renders_the_scene_and_matches_the_golden_image() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixture(dir.path());
    let scene = load_scene(dir.path()).expect("scene");
    let req = request(true);
    let mut r = OffscreenRenderer::new(scene, req.clone(), W, H).expect("renderer");
    let img = r.render_one(&req).expect("render");
    let actual = std::env::temp_dir().join("replay360-sphere_scene.actual.png");
    img.save(&actual).expect("save actual");
    eprintln!("rendered image: {}", actual.display());
    let cam = &req.camera;

    // What must be where, golden or not.
    let top = px(&img, cam, [0.0, -0.45, 1.25]);
    assert!(
        top[0] > 150 && top[1] < 90 && top[2] < 90,
        "upper sphere is red: {top:?}"
    );
    let bottom = px(&img, cam, [0.0, -0.45, 0.75]);
    assert!(
        bottom[2] > 150 && bottom[0] < 90,
        "lower sphere is blue: {bottom:?}"
    );
    let band = px(&img, cam, [0.0, -0.5, 1.0]);
    assert!(
        band[0] > 150 && band[1] > 120 && band[2] < 100,
        "equator is yellow: {band:?}"
    );
    let sky = img.get_pixel(W / 2, 2).0;
    assert!(sky[2] > sky[0] + 40, "sky at the top is blue: {sky:?}");
    let snow = img.get_pixel(W / 2, H - 3).0;
    assert!(
        snow[0] > 120 && (snow[0] as i32 - snow[2] as i32).abs() < 40,
        "ground is grey-white: {snow:?}"
    );
    // The side camera's marker (its orange frustum) is in view.
    let orange = img
        .pixels()
        .filter(|p| p.0[0] > 200 && p.0[1] > 90 && p.0[1] < 170 && p.0[2] < 90)
        .count();
    assert!(
        orange > (W * H / 50) as usize,
        "rig marker: {orange} orange pixels"
    );

    // Frame-exactness: a batch of different views comes back in order.
    let views: Vec<FrameRequest> = (0..6)
        .map(|i| {
            let mut v = request(i % 2 == 0);
            v.camera = camera(
                [
                    4.0 * (i as f64 * 0.5).sin(),
                    -4.0 * (i as f64 * 0.5).cos(),
                    1.5,
                ],
                [0.0, 0.0, 1.0],
                W,
                H,
                40.0,
            );
            v
        })
        .collect();
    let mut got = Vec::new();
    r.render(&views, |i, im| {
        got.push((i, im));
        Ok(())
    })
    .expect("batch");
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        (0..6).collect::<Vec<_>>()
    );
    let again = r.render_one(&views[3]).expect("again");
    assert!(again == got[3].1, "the same view renders the same image");

    // A change of intrinsics (a zoom on a camera path, or the next held-out camera in eval)
    // takes effect in the frame that asks for it: the first zoomed frame after a wide one is
    // the same image as the zoomed view rendered again and again.
    let mut zoomed = views[3].clone();
    zoomed.camera = camera(
        [4.0 * 1.5f64.sin(), -4.0 * 1.5f64.cos(), 1.5],
        [0.0, 0.0, 1.0],
        W,
        H,
        20.0,
    );
    let mut switched = Vec::new();
    r.render(&[views[3].clone(), zoomed.clone()], |_, im| {
        switched.push(im);
        Ok(())
    })
    .expect("wide then zoomed");
    assert!(switched[0] == got[3].1, "the wide view before the switch");
    assert_eq!(
        pixels_off_settled(&mut r, &switched[1], &zoomed),
        0,
        "the first zoomed frame was drawn with the last frame's projection"
    );

    // From under the snow (a camera path dipping below the ground) the ground is not drawn:
    // the sphere and the sky show, not the underside of the snow.
    let mut below = request(true);
    below.camera = camera([0.0, -4.0, -0.5], [0.0, 0.0, 1.0], W, H, 40.0);
    let from_below = r.render_one(&below).expect("from below");
    let lower = px(&from_below, &below.camera, [0.0, -0.45, 0.75]);
    assert!(
        lower[2] > 150 && lower[0] < 90,
        "lower sphere is blue from below the snow: {lower:?}"
    );
    // A point of the ground in front: the ray through it goes on up to the sky.
    let through = px(&from_below, &below.camera, [0.0, -2.0, 0.0]);
    assert!(
        through[2] as i32 > through[0] as i32 + 40,
        "the ground's underside is not drawn (sky shows through): {through:?}"
    );

    // Golden comparison. Lavapipe is deterministic for a given Mesa version; the tolerance
    // (3 code values on 99.5% of pixels) absorbs rounding differences between Mesa releases
    // without letting a real change (a moved object, a wrong colour) through.
    common::assert_golden(
        &img,
        "sphere_scene",
        &common::Tolerance {
            per_pixel: 3,
            off_fraction: 0.005,
            mean: 0.5,
        },
    );
}

/// A splat's view samples (reconstruct::blend) reach the screen: a grey sphere whose splats
/// each keep a red camera's view from +x, a blue one from -x and a green one from -y is drawn,
/// from each of those sides, with the colour `linear_colour` blends for it (so the samples'
/// directions are the world's, not Bevy's), and grey nowhere; drawn as discs or as Gaussians.
#[test]
fn a_splats_colour_follows_the_side_it_is_seen_from() {
    let mut frame = sphere([0.0, 0.0, 1.0], 0.5, 4000);
    let grey = [124u8; 3];
    let sample = |towards_camera: [f32; 3], colour: [u8; 3]| ViewSample {
        towards_camera,
        colour,
        weight: 1.0,
    };
    let samples = ViewSamples::new(&[
        sample([1.0, 0.0, 0.0], [230, 40, 40]),
        sample([-1.0, 0.0, 0.0], [40, 40, 230]),
        sample([0.0, -1.0, 0.0], [40, 230, 40]),
    ]);
    frame.colours = vec![grey; frame.len()];
    frame.view = vec![samples; frame.len()];
    let dir = tempfile::tempdir().expect("tempdir");
    fixture_with(dir.path(), &frame);
    let expected = |towards_eye: [f32; 3]| {
        samples
            .blend(towards_eye)
            .expect("samples")
            .map(replay360::util::images::linear_to_srgb)
    };
    // As discs, and as Gaussians (`--gaussians`), which blend the same samples on the CPU.
    for gaussians in [false, true] {
        let mut scene = load_scene(dir.path()).expect("scene");
        scene.gaussian_athlete = gaussians;
        let req = request(false);
        let mut r = OffscreenRenderer::new(scene, req.clone(), W, H).expect("renderer");
        for (eye, near, towards_eye, strongest) in [
            ([4.0, 0.0, 1.0], [0.5, 0.0, 1.0], [1.0, 0.0, 0.0], 0),
            ([-4.0, 0.0, 1.0], [-0.5, 0.0, 1.0], [-1.0, 0.0, 0.0], 2),
            ([0.0, -4.0, 1.0], [0.0, -0.5, 1.0], [0.0, -1.0, 0.0], 1),
        ] {
            let mut view = req.clone();
            view.camera = camera(eye, [0.0, 0.0, 1.0], W, H, 40.0);
            let img = r.render_one(&view).expect("render");
            let got = px(&img, &view.camera, near);
            let want = expected(towards_eye);
            // The splats around the nearest point see the eye from up to a few degrees off
            // the axis (their angular weights within 3% of the axis's), and soft disc edges
            // (or overlapping Gaussians) mix neighbours: 4 code values.
            for k in 0..3 {
                assert!(
                    (got[k] as i32 - want[k] as i32).abs() <= 4,
                    "seen from {eye:?} (gaussians: {gaussians}): {got:?}, expected {want:?}"
                );
            }
            // That side's camera's colour, not the grey every side shares.
            assert!(got[strongest] > 190, "seen from {eye:?}: {got:?}");
        }
    }
}

#[test]
fn after_images_fade_and_the_trajectory_is_drawn() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixture(dir.path());
    let scene = load_scene(dir.path()).expect("scene");
    let mut req = request(false);
    req.show_rig = false;
    let mut r = OffscreenRenderer::new(scene, req.clone(), W, H).expect("renderer");
    let plain = r.render_one(&req).expect("plain");
    // The live athlete hidden, one faint after-image of the same frame in its place.
    req.show_athlete = false;
    req.ghosts = vec![Ghost {
        time: 0.0,
        opacity: 0.5,
        tint: [0.3, 0.6, 1.0],
        tint_amount: 0.0,
        desaturate: 0.0,
        rim: 0.0,
        posture: None,
    }];
    let ghost = r.render_one(&req).expect("ghost");
    let cam = &req.camera;
    let p = [0.0, -0.45, 1.25];
    let (a, g, bg) = (
        px(&plain, cam, p),
        px(&ghost, cam, p),
        plain.get_pixel(5, H / 2).0,
    );
    // Half coverage: the pixel lies between the opaque colour and the background.
    assert!(
        g[0] < a[0] && g[0] as i32 > bg[0] as i32 - 60,
        "faded red {g:?} between {a:?} and {bg:?}"
    );
    // Trajectory: the context of a one-frame reconstruction has a single point, so draw a
    // style over it and check the tick sphere (white) is there.
    req.ghosts.clear();
    req.trajectory = Some(TrajectoryStyle {
        from: 0.0,
        to: 0.0,
        colour: [1.0, 0.5, 0.1],
        radius: 0.2,
        tick_every: 0.25,
    });
    let traj = r.render_one(&req).expect("trajectory");
    let c = px(&traj, cam, [0.0, 0.0, 1.0]);
    assert!(
        c[0] > 200 && c[1] > 200 && c[2] > 200,
        "tick sphere at the centre of mass: {c:?}"
    );
}

/// Frame-exactness across what changes between frames of an export: the instant shown (a new
/// frame's splats loaded), after-images appearing and going, the venue toggled and the lens
/// zooming. Every frame of one batch must be the image its view gives when drawn again and
/// again, whatever came before it.
#[test]
fn each_frame_of_a_batch_is_its_own_view_whatever_came_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixture(dir.path());
    // A second instant 40 ms later: the sphere 0.6 m further along +x.
    let mut moved = sphere([0.6, 0.0, 1.0], 0.5, 4000);
    moved.colours.iter_mut().for_each(|c| c.swap(0, 2));
    write_ply(&dir.path().join("frames/000001.ply"), &moved, "test").expect("ply");
    let path = dir.path().join("recon.json");
    let mut recon: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    recon["frames"].as_array_mut().expect("frames").push(json!({
        "index": 1, "time": 0.04, "file": "frames/000001.ply", "splats": 4000,
        "centroid": [0.6, 0.0, 1.0], "bbox_min": [0.1, -0.5, 0.5], "bbox_max": [1.1, 0.5, 1.5],
        "volume_m3": 0.5
    }));
    std::fs::write(&path, recon.to_string()).expect("write");

    let scene = load_scene(dir.path()).expect("scene");
    let base = request(true);
    let ghost = |time: f64| Ghost {
        time,
        opacity: 0.5,
        tint: [0.3, 0.6, 1.0],
        tint_amount: 0.5,
        desaturate: 0.0,
        rim: 0.0,
        posture: None,
    };
    let views: Vec<FrameRequest> = (0..8)
        .map(|i| {
            let mut v = base.clone();
            v.show_rig = false;
            v.time = if i % 2 == 0 { 0.0 } else { 0.04 };
            v.show_venue = i % 3 != 1;
            if i % 4 == 2 {
                v.ghosts = vec![ghost(0.04 - v.time)];
            }
            let fov = if i < 4 {
                40.0
            } else {
                40.0 - 4.0 * (i - 3) as f64
            };
            v.camera = camera([0.3, -4.0, 1.5], [0.3, 0.0, 1.0], W, H, fov);
            v
        })
        .collect();
    let mut r = OffscreenRenderer::new(scene, views[0].clone(), W, H).expect("renderer");
    let mut batch = Vec::new();
    r.render(&views, |_, im| {
        batch.push(im);
        Ok(())
    })
    .expect("batch");
    for (i, img) in batch.iter().enumerate() {
        let file = std::env::temp_dir().join(format!("replay360-batch_{i}.actual.png"));
        img.save(&file).expect("save batch frame");
    }
    eprintln!(
        "batch frames: {}",
        std::env::temp_dir()
            .join("replay360-batch_*.actual.png")
            .display()
    );
    for (i, v) in views.iter().enumerate().rev() {
        assert_eq!(
            pixels_off_settled(&mut r, &batch[i], v),
            0,
            "frame {i} of the batch differs from its view"
        );
    }
    // The two instants are told apart: blue on top at 40 ms where red was at 0.
    let cam = &views[1].camera;
    let top = px(&batch[1], cam, [0.6, -0.45, 1.25]);
    assert!(
        top[2] > 150 && top[0] < 90,
        "40 ms: the moved, blue-topped sphere: {top:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Gaussian splats.

use replay360::formats::gaussian_ply::GaussianCloud;
use replay360::render::gaussians::{GaussianScene, GaussianSplats};

/// (centre, standard deviations along world x y z, sRGB colour, opacity), axis-aligned.
type Blob = ([f32; 3], [f32; 3], [f32; 3], f32);

fn cloud(blobs: &[Blob]) -> GaussianCloud {
    let mut c = GaussianCloud::default();
    for &(p, s, col, op) in blobs {
        c.positions.push(p);
        c.scales.push(s);
        c.rotations.push([1.0, 0.0, 0.0, 0.0]);
        c.opacities.push(op);
        c.colours.push(col);
        c.normals.push([0.0; 3]);
    }
    c
}

fn splats(blobs: &[Blob]) -> GaussianSplats {
    GaussianSplats::new(GaussianScene::from_cloud(&cloud(blobs)))
}

fn gaussian_view() -> FrameRequest {
    let mut r = request(false);
    r.show_athlete = false;
    r.show_rig = false;
    r
}

const RED: [f32; 3] = [1.0, 0.0, 0.0];
const GREEN: [f32; 3] = [0.0, 1.0, 0.0];
const BLUE: [f32; 3] = [0.0, 0.0, 1.0];
const YELLOW: [f32; 3] = [1.0, 1.0, 0.0];

#[test]
fn gaussians_are_anisotropic_and_blend_nearest_first() {
    let view = gaussian_view();
    let cam = view.camera.clone();
    // The camera looks along +y from (0, -4, 1.5): world x is image right, z image up.
    let scene = [
        // An opaque red ball, left.
        ([-0.7, 0.0, 1.3], [0.08, 0.08, 0.08], RED, 0.99),
        // A green needle along x, upper right.
        ([0.6, 0.0, 1.7], [0.3, 0.02, 0.02], GREEN, 0.99),
        // Yellow straight behind blue (on the same line of sight, 1.3 times as far from the
        // eye), lower middle: the far one listed first.
        ([0.0, 0.55, 0.33], [0.1, 0.1, 0.1], YELLOW, 0.99),
        ([0.0, -0.5, 0.6], [0.1, 0.1, 0.1], BLUE, 0.99),
    ];
    let mut r = OffscreenRenderer::gaussians(splats(&scene), view.clone(), W, H).expect("renderer");
    let img = r.render_one(&view).expect("render");
    let path = std::env::temp_dir().join("replay360-gaussians.actual.png");
    img.save(&path).expect("save");
    eprintln!("rendered image: {}", path.display());
    let sky = img.get_pixel(2, 2).0;

    // Peak opacity is capped at 0.99 (as in 3DGS), so 1% of the sky shows through the
    // centre of an opaque Gaussian: up to about 15 sRGB code values in a dark channel.
    let c = px(&img, &cam, [-0.7, 0.0, 1.3]);
    assert!(c[0] >= 245 && c[1] <= 25 && c[2] <= 30, "red centre {c:?}");

    // The needle: green 0.15 m along its axis from the centre (alpha 0.87 there), sky 0.1 m
    // (5 sigma) across it.
    for dx in [-0.15, 0.0, 0.15] {
        let c = px(&img, &cam, [0.6 + dx, 0.0, 1.7]);
        assert!(
            c[1] > 200 && c[1] > c[0] + 120 && c[1] > c[2] + 80,
            "needle at {dx}: {c:?}"
        );
    }
    for dz in [-0.1, 0.1] {
        let c = px(&img, &cam, [0.6, 0.0, 1.7 + dz]);
        let d: i32 = (0..3).map(|k| (c[k] as i32 - sky[k] as i32).abs()).sum();
        assert!(d < 12, "sky beside the needle at {dz}: {c:?} vs {sky:?}");
    }

    // Nearest first: blue in front of yellow, whatever the order they were listed in.
    let c = px(&img, &cam, [0.0, -0.5, 0.6]);
    assert!(c[2] > 200 && c[0] < 40 && c[1] < 40, "blue in front: {c:?}");
    let mut swapped = scene;
    swapped.swap(2, 3);
    r.set_gaussians(splats(&swapped));
    let again = r.render_one(&view).expect("render swapped");
    assert!(
        again == img,
        "the order the Gaussians are listed in changes nothing"
    );
    // Half-transparent blue lets yellow through (blended, not just depth-tested): half blue
    // plus half of 0.99 yellow is about linear grey 0.5 (sRGB 188); yellow over blue would
    // be yellow.
    let mut faint = scene;
    faint[3].3 = 0.5;
    r.set_gaussians(splats(&faint));
    let mixed = r.render_one(&view).expect("render faint");
    let c = px(&mixed, &cam, [0.0, -0.5, 0.6]);
    assert!(
        c.iter().all(|&v| (160..=215).contains(&v)),
        "half blue over yellow: {c:?}"
    );
}

#[test]
fn gaussians_are_hidden_by_the_scene_in_front_of_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixture(dir.path());
    let scene = load_scene(dir.path()).expect("scene");
    let mut view = request(true);
    view.show_rig = false;
    let cam = view.camera.clone();
    let mut r = OffscreenRenderer::new(scene, view.clone(), W, H).expect("renderer");
    let plain = r.render_one(&view).expect("plain");
    // Magenta Gaussians: one between the camera and the athlete's sphere, one behind the
    // sphere's centre, one under the snow (seen through it, were the ground not opaque).
    let magenta = [1.0, 0.0, 1.0];
    r.set_gaussians(splats(&[
        ([0.25, -1.2, 1.2], [0.05, 0.05, 0.05], magenta, 0.99),
        ([0.0, 0.8, 1.0], [0.1, 0.1, 0.1], magenta, 0.99),
        ([0.0, 1.0, -0.3], [0.1, 0.1, 0.1], magenta, 0.99),
    ]));
    let img = r.render_one(&view).expect("render");
    let path = std::env::temp_dir().join("replay360-gaussians-in-scene.actual.png");
    img.save(&path).expect("save");
    eprintln!("rendered image: {}", path.display());
    let front = px(&img, &cam, [0.25, -1.2, 1.2]);
    assert!(
        front[0] > 200 && front[2] > 200 && front[1] < 60,
        "in front of the sphere: {front:?}"
    );
    for p in [[0.0, 0.8, 1.0], [0.0, 1.0, -0.3]] {
        let (a, b) = (px(&img, &cam, p), px(&plain, &cam, p));
        assert_eq!(a, b, "hidden at {p:?}");
    }
}

#[test]
fn gaussian_rasteriser_matches_the_cpu_reference() {
    use bevy::camera::CameraProjection;
    use replay360::render::gaussians::{Binned, ViewParams, bin, rasterize_cpu};
    // 400 anisotropic Gaussians, turned every which way, some faint, around the view's centre.
    let mut c = GaussianCloud::default();
    let mut seed = 12345u32;
    let mut rnd = || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1u32 << 24) as f32
    };
    for _ in 0..400 {
        c.positions
            .push([rnd() * 2.0 - 1.0, rnd() * 2.0 - 1.0, 0.4 + rnd() * 1.2]);
        c.scales.push([
            0.01 + 0.1 * rnd(),
            0.01 + 0.05 * rnd(),
            0.005 + 0.02 * rnd(),
        ]);
        let q = nalgebra::UnitQuaternion::from_euler_angles(rnd() * 6.3, rnd() * 6.3, rnd() * 6.3);
        c.rotations.push([q.w, q.i, q.j, q.k]);
        c.opacities.push(0.05 + 0.95 * rnd());
        c.colours.push([rnd(), rnd(), rnd()]);
        c.normals.push([0.0; 3]);
    }
    let scene = GaussianScene::from_cloud(&c);
    let mut view = gaussian_view();
    view.transparent = true;
    let mut r =
        OffscreenRenderer::gaussians(GaussianSplats::new(scene.clone()), view.clone(), W, H)
            .expect("renderer");
    let img = r.render_one(&view).expect("render");
    img.save(std::env::temp_dir().join("replay360-gaussians-random.actual.png"))
        .expect("save");

    let k = view.camera.intrinsics.pinhole();
    let params = ViewParams {
        view_from_world: replay360::render::convert::camera_transform(&view.camera)
            .to_matrix()
            .inverse(),
        clip_from_view: replay360::render::projection::IntrinsicsProjection::new(k)
            .get_clip_from_view(),
        width: W,
        height: H,
    };
    let mut b = Binned::default();
    bin(&scene, &params, &mut b);
    assert!(b.drawn() > 300, "{} drawn", b.drawn());
    let (want, _) = rasterize_cpu(&b, W, H);
    let encode = |v: f32| {
        let v = v.clamp(0.0, 1.0);
        let s = if v <= 0.003_130_8 {
            v * 12.92
        } else {
            1.055 * v.powf(1.0 / 2.4) - 0.055
        };
        (s * 255.0).round() as i32
    };
    // The GPU keeps the layer in 16-bit floats, steps the exponential across a row instead of
    // calling exp per pixel, and encodes sRGB with its own rounding: a couple of code values
    // apart (more only in the darkest sRGB steps), never a different picture.
    let mut off = 0;
    let mut worst = 0;
    for (i, p) in img.pixels().enumerate() {
        let w = want[i];
        let expect = [
            encode(w[0]),
            encode(w[1]),
            encode(w[2]),
            (w[3] * 255.0).round() as i32,
        ];
        let d = (0..4)
            .map(|ch| (p.0[ch] as i32 - expect[ch]).abs())
            .max()
            .unwrap_or(0);
        worst = worst.max(d);
        if d > 2 {
            off += 1;
        }
    }
    let covered = want.iter().filter(|w| w[3] > 0.01).count();
    assert!(covered > 5000, "{covered} pixels covered");
    assert!(
        off * 1000 <= (W * H) as usize && worst <= 8,
        "{off} pixels differ by more than 2 (worst {worst})"
    );
}

/// Every WGSL file in `shaders/` is compiled into at least one pipeline, and no pipeline failed
/// (parse or validation errors): the scene with every kind of entity drawn, with and without
/// multisampling, plus Gaussians on their own. Bevy's `#import`s resolve only inside the app,
/// so this checks the shaders the way the renderer really builds them.
#[test]
fn every_shader_compiles() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixture(dir.path());
    let scene = load_scene(dir.path()).expect("scene");
    let mut view = request(true);
    view.ghosts = vec![Ghost {
        time: 0.0,
        opacity: 0.5,
        tint: [0.3, 0.6, 1.0],
        tint_amount: 0.5,
        desaturate: 0.2,
        rim: 0.5,
        posture: None,
    }];
    view.trajectory = Some(TrajectoryStyle {
        from: 0.0,
        to: 0.0,
        colour: [1.0, 0.5, 0.1],
        radius: 0.05,
        tick_every: 0.25,
    });
    let mut r = OffscreenRenderer::new(scene, view.clone(), W, H).expect("renderer");
    r.set_gaussians(splats(&[([0.3, -1.0, 1.2], [0.1, 0.02, 0.05], RED, 0.9)]));
    let scene_render = r.render_one(&view);
    let mut pipelines = r.pipelines();
    let g = gaussian_view();
    let mut r = OffscreenRenderer::gaussians(
        splats(&[([0.0, 0.0, 1.0], [0.1; 3], RED, 0.9)]),
        g.clone(),
        W,
        H,
    )
    .expect("renderer");
    let gaussian_render = r.render_one(&g);
    pipelines.extend(r.pipelines());

    let errors: Vec<String> = pipelines
        .iter()
        .filter_map(|(files, e)| e.as_ref().map(|e| format!("{files:?}: {e}")))
        .collect();
    assert!(
        errors.is_empty(),
        "pipelines failed:\n{}",
        errors.join("\n")
    );
    scene_render.expect("scene render");
    gaussian_render.expect("Gaussian render");
    let dir = common::repo().join("shaders");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("shaders/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        let path = format!("shaders/{f}");
        assert!(
            pipelines
                .iter()
                .any(|(fs, e)| e.is_none() && fs.contains(&path)),
            "no working pipeline uses {path}"
        );
    }
}

#[test]
fn the_athlete_can_be_drawn_as_gaussians() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixture(dir.path());
    let mut scene = load_scene(dir.path()).expect("scene");
    scene.gaussian_athlete = true;
    let mut req = request(true);
    req.show_rig = false;
    let mut r = OffscreenRenderer::new(scene, req.clone(), W, H).expect("renderer");
    let img = r.render_one(&req).expect("render");
    let path = std::env::temp_dir().join("replay360-gaussian-athlete.actual.png");
    img.save(&path).expect("save");
    eprintln!("rendered image: {}", path.display());
    let cam = &req.camera;
    // The same colours where the discs put them (see the golden test).
    let top = px(&img, cam, [0.0, -0.45, 1.25]);
    assert!(top[0] > 150 && top[1] < 90 && top[2] < 90, "red: {top:?}");
    let bottom = px(&img, cam, [0.0, -0.45, 0.75]);
    assert!(bottom[2] > 150 && bottom[0] < 90, "blue: {bottom:?}");
    let band = px(&img, cam, [0.0, -0.5, 1.0]);
    assert!(
        band[0] > 150 && band[1] > 120 && band[2] < 100,
        "yellow: {band:?}"
    );
    // Beside the sphere, the venue as before.
    let snow = img.get_pixel(W / 2, H - 3).0;
    assert!(snow[0] > 120, "ground: {snow:?}");
    // Hidden with the athlete.
    req.show_athlete = false;
    let empty = r.render_one(&req).expect("render");
    let c = px(&empty, cam, [0.0, -0.45, 1.25]);
    assert!(c[0] < 150 || c[2] > 100, "no athlete: {c:?}");
}
