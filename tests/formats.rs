//! Calibration importers against rigs whose truth is known: each fixture is written the way the
//! tool writes it (headers, comments, number formats, folder layout, media), imported, and the
//! imported cameras compared with the rig, directly and through the written manifest. Broken
//! files give errors that name them, and mutated fixtures never panic a parser.

use nalgebra::{Matrix4, Point3, Rotation3, UnitQuaternion, Vector3};
use replay360::camera::{
    Camera, CameraFromWorld, Distortion, Intrinsics, WorldFromCamera, WorldFromCameraGl,
};
use replay360::capture::{Capture, Segmentation};
use replay360::formats::{self, ImportedCamera, Units, colmap, nerfstudio, opencv, panoptic};
use std::path::{Path, PathBuf};

mod common;
use common::replay360;

const W: u32 = 64;
const H: u32 = 48;

/// A camera of the known rig.
#[derive(Clone, Debug)]
struct TrueCamera {
    name: String,
    intrinsics: Intrinsics,
    pose: CameraFromWorld,
}

/// Cameras around the origin looking at the athlete's place, each rolled a little (generic
/// rotations), with distinct intrinsics and the given lenses.
fn rig(distortions: &[Distortion]) -> Vec<TrueCamera> {
    distortions
        .iter()
        .enumerate()
        .map(|(i, &distortion)| {
            let a = 0.4 + i as f64 * std::f64::consts::TAU / distortions.len() as f64;
            let eye = Point3::new(6.0 * a.cos(), 6.0 * a.sin(), 1.2 + 0.3 * i as f64);
            let look = WorldFromCamera::looking_at(eye, Point3::new(0.1, -0.2, 1.0), Vector3::z())
                .inverse();
            let roll = Rotation3::from_axis_angle(&Vector3::z_axis(), 0.05 * (i as f64 - 1.5));
            let pose = CameraFromWorld {
                rotation: roll * look.rotation,
                translation: roll * look.translation,
            };
            let fx = 71.3 + 2.1 * i as f64;
            TrueCamera {
                name: format!("cam{i}"),
                intrinsics: Intrinsics {
                    width: W,
                    height: H,
                    fx,
                    fy: fx * 1.0013,
                    cx: 31.5 + 0.37 * i as f64,
                    cy: 23.5 - 0.21 * i as f64,
                    distortion,
                },
                pose,
            }
        })
        .collect()
}

const RT: Distortion = Distortion::RadialTangential {
    k1: -0.21,
    k2: 0.043,
    p1: 0.0011,
    p2: -0.0007,
    k3: -0.006,
};
const FISHEYE: Distortion = Distortion::Fisheye {
    k1: 0.031,
    k2: -0.0052,
    k3: 0.0009,
    k4: -0.00011,
};
const RADIAL: Distortion = Distortion::RadialTangential {
    k1: -0.08,
    k2: 0.0,
    p1: 0.0,
    p2: 0.0,
    k3: 0.0,
};

fn coefficients(d: &Distortion) -> (&'static str, Vec<f64>) {
    match *d {
        Distortion::None => ("none", vec![]),
        Distortion::RadialTangential { k1, k2, p1, p2, k3 } => ("rt", vec![k1, k2, p1, p2, k3]),
        Distortion::Fisheye { k1, k2, k3, k4 } => ("fisheye", vec![k1, k2, k3, k4]),
    }
}

/// Same intrinsics and pose to 1e-9, and the same pixels for world points to 1e-6 px.
fn assert_same(k: &Intrinsics, pose: &CameraFromWorld, want: &TrueCamera) {
    let n = &want.name;
    let w = &want.intrinsics;
    assert_eq!((k.width, k.height), (w.width, w.height), "{n}: size");
    for (got, exp, what) in [
        (k.fx, w.fx, "fx"),
        (k.fy, w.fy, "fy"),
        (k.cx, w.cx, "cx"),
        (k.cy, w.cy, "cy"),
    ] {
        assert!((got - exp).abs() < 1e-9, "{n}: {what} {got} vs {exp}");
    }
    let (gm, gc) = coefficients(&k.distortion);
    let (wm, wc) = coefficients(&w.distortion);
    assert_eq!(gm, wm, "{n}: distortion model");
    for (a, b) in gc.iter().zip(&wc) {
        assert!((a - b).abs() < 1e-9, "{n}: distortion {gc:?} vs {wc:?}");
    }
    let dr = (pose.rotation.matrix() - want.pose.rotation.matrix())
        .abs()
        .max();
    assert!(dr < 1e-9, "{n}: rotation off by {dr:e}");
    let dt = (pose.translation - want.pose.translation).norm();
    assert!(dt < 1e-9, "{n}: translation off by {dt:e}");
    let got = Camera::new(*k, *pose);
    let exp = Camera::new(*w, want.pose);
    for p in [
        Point3::new(0.0, 0.0, 1.0),
        Point3::new(0.3, -0.2, 1.6),
        Point3::new(-0.4, 0.5, 0.2),
        Point3::new(0.8, 0.1, 1.9),
    ] {
        let (a, b) = (got.project(&p), exp.project(&p));
        let (Some(a), Some(b)) = (a, b) else {
            panic!("{n}: {p} not in front of the camera");
        };
        assert!((a - b).norm() < 1e-6, "{n}: {p} projects to {a}, not {b}");
    }
}

fn assert_imported(
    got: &[ImportedCamera],
    want: &[TrueCamera],
    id: impl Fn(&TrueCamera) -> String,
) {
    assert_eq!(got.len(), want.len(), "camera count");
    for w in want {
        let id = id(w);
        let g = got.iter().find(|c| c.id == id).unwrap_or_else(|| {
            panic!(
                "no camera {id} among {:?}",
                got.iter().map(|c| &c.id).collect::<Vec<_>>()
            )
        });
        assert_same(&g.intrinsics, &g.pose, w);
    }
}

/// Writes the manifest and checks the cameras read back from it match too.
fn assert_manifest(
    imported: &formats::Imported,
    out: &Path,
    want: &[TrueCamera],
    id: impl Fn(&TrueCamera) -> String,
) {
    formats::write_manifest(imported, "fixture", out).expect("manifest");
    let capture = Capture::open(out).expect("capture opens");
    assert_eq!(capture.cameras.len(), want.len());
    for w in want {
        let c = capture
            .cameras
            .iter()
            .find(|c| c.id == id(w))
            .expect("camera in manifest");
        assert_same(&c.camera.intrinsics, &c.camera.pose, w);
    }
}

fn png(path: &Path, alpha: bool) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    if alpha {
        let img = image::RgbaImage::from_fn(W, H, |x, y| {
            let inside = (x as i32 - 32).pow(2) + (y as i32 - 24).pow(2) < 100;
            image::Rgba([
                200,
                (x * 3) as u8,
                (y * 5) as u8,
                if inside { 255 } else { 0 },
            ])
        });
        img.save(path).expect("png");
    } else {
        let img =
            image::RgbImage::from_fn(W, H, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
        img.save(path).expect("png");
    }
}

/// A real two-frame H.264 video.
fn video(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut w = replay360::media::VideoWriter::create(
        path,
        replay360::media::EncoderSettings::new(W, H, 25.0),
    )
    .expect("writer");
    for f in 0..2u8 {
        let img = image::RgbImage::from_fn(W, H, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, f * 60])
        });
        w.write_rgb(&img).expect("frame");
    }
    w.finish().expect("finish");
}

// ---------------------------------------------------------------------------------------------
// OpenCV FileStorage YAML

/// A double as `cv::FileStorage` writes it: `%.16e` with a signed two-digit exponent, whole
/// numbers as `640.`.
fn cv_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e9 {
        return format!("{}.", x as i64);
    }
    let s = format!("{x:.16e}");
    let (m, e) = s.split_once('e').expect("exponent");
    let e: i32 = e.parse().expect("exponent");
    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

fn cv_matrix(name: &str, rows: usize, cols: usize, data: &[f64]) -> String {
    let mut s =
        format!("{name}: !!opencv-matrix\n   rows: {rows}\n   cols: {cols}\n   dt: d\n   data: [ ");
    for (i, v) in data.iter().enumerate() {
        if i > 0 {
            s.push_str(if i % 4 == 0 { ",\n       " } else { ", " });
        }
        s.push_str(&cv_num(*v));
    }
    s.push_str(" ]\n");
    s
}

/// A camera's calibration as an OpenCV calibration program writes it (translation in mm);
/// `rodrigues` picks the rotation's form.
fn opencv_yaml(c: &TrueCamera, rodrigues: bool) -> String {
    let k = &c.intrinsics;
    let mut s =
        String::from("%YAML:1.0\n---\ncalibration_time: \"Fri 13 Mar 2026 09:12:44 CET\"\n");
    s += &format!(
        "image_width: {}\nimage_height: {}\nflags: 0\n",
        k.width, k.height
    );
    let fisheye = matches!(k.distortion, Distortion::Fisheye { .. });
    if fisheye {
        s += "fisheye_model: 1\n";
    }
    s += &cv_matrix(
        "camera_matrix",
        3,
        3,
        &[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0],
    );
    let (_, d) = coefficients(&k.distortion);
    s += &cv_matrix(
        "distortion_coefficients",
        if fisheye { 4 } else { 1 },
        if fisheye { 1 } else { 5 },
        &d,
    );
    if rodrigues {
        let r = c.pose.rotation.scaled_axis();
        s += &cv_matrix("rvec", 3, 1, &[r.x, r.y, r.z]);
    } else {
        let m = c.pose.rotation.matrix();
        let rows: Vec<f64> = (0..3)
            .flat_map(|r| (0..3).map(move |q| m[(r, q)]))
            .collect();
        s += &cv_matrix("R", 3, 3, &rows);
    }
    let t = c.pose.translation * 1000.0;
    s += &cv_matrix("tvec", 3, 1, &[t.x, t.y, t.z]);
    s += "avg_reprojection_error: 2.3110476437658129e-01\n";
    s
}

#[test]
fn opencv_yaml_rig_imports_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = rig(&[RT, FISHEYE, RT]);
    for (i, c) in rig.iter().enumerate() {
        let folder = dir.path().join(&c.name);
        let file = ["config.yml", "calibration.yaml", "extrinsics.yml"][i];
        std::fs::create_dir_all(&folder).expect("mkdir");
        std::fs::write(folder.join(file), opencv_yaml(c, i != 1)).expect("write");
        video(&folder.join("video.mp4"));
    }
    // A folder without a calibration is skipped with a warning.
    std::fs::create_dir_all(dir.path().join("notes")).expect("mkdir");
    let imported = opencv::import_dir(dir.path(), Units::Millimetres).expect("imports");
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
    assert_imported(&imported.cameras, &rig, |c| c.name.clone());
    assert!(
        imported
            .cameras
            .iter()
            .all(|c| c.frame_count == Some(2) && (c.fps - 25.0).abs() < 1e-9)
    );
    assert_manifest(&imported, &dir.path().join("capture"), &rig, |c| {
        c.name.clone()
    });
}

#[test]
fn opencv_yaml_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = &rig(&[RT])[0];
    let folder = dir.path().join("cam0");
    video(&folder.join("video.mp4"));
    let good = opencv_yaml(c, true);
    for (broken, needle) in [
        (good.replacen("rows: 3", "rows: 2", 1), "values"),
        (
            good.replacen("dt: d\n   data: [ ", "dt: d\n   data: [ x", 1),
            "not a number",
        ),
        (
            good.replacen("dt: d\n   data: [ ", "dt: d\n   data: [ .Nan, ", 1)
                .replacen("rows: 3", "rows: 2", 1)
                .replacen("cols: 3", "cols: 5", 1),
            "NaN",
        ),
        (good.replace("rvec", "something"), "no rotation"),
    ] {
        std::fs::write(folder.join("config.yml"), &broken).expect("write");
        let e = match opencv::import_dir(dir.path(), Units::Millimetres) {
            Ok(_) => panic!("{needle}: imported"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains(needle) && e.contains("config.yml"),
            "{needle}: {e}"
        );
    }
    // A 3x3 that is not a rotation.
    let mut c2 = c.clone();
    c2.pose.rotation = Rotation3::from_matrix_unchecked(c.pose.rotation.matrix() * 1.01);
    std::fs::write(folder.join("config.yml"), opencv_yaml(&c2, false)).expect("write");
    let e = opencv::import_dir(dir.path(), Units::Millimetres)
        .err()
        .expect("error")
        .to_string();
    assert!(
        e.contains("not a rotation") && e.contains("config.yml"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// COLMAP

/// `cameras.txt` as COLMAP writes it: `(model, params)` per camera, principal point with the
/// top-left pixel centre at (0.5, 0.5).
fn colmap_cameras(rig: &[TrueCamera], models: &[&str]) -> String {
    let mut s = format!(
        "# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n# Number of cameras: {}\n",
        rig.len()
    );
    for (i, (c, model)) in rig.iter().zip(models).enumerate() {
        let k = &c.intrinsics;
        let params = colmap_params(c, model);
        let p: Vec<String> = params.iter().map(|v| v.to_string()).collect();
        s += &format!(
            "{} {model} {} {} {}\n",
            i + 1,
            k.width,
            k.height,
            p.join(" ")
        );
    }
    s
}

/// A camera's COLMAP parameters for `model` (principal point with the top-left pixel centre at
/// (0.5, 0.5)) and the model's id in binary files.
fn colmap_params(c: &TrueCamera, model: &str) -> Vec<f64> {
    let k = &c.intrinsics;
    let (cx, cy) = (k.cx + 0.5, k.cy + 0.5);
    let (_, d) = coefficients(&k.distortion);
    match model {
        "PINHOLE" => vec![k.fx, k.fy, cx, cy],
        "SIMPLE_RADIAL" => vec![k.fx, cx, cy, d[0]],
        "OPENCV" => vec![k.fx, k.fy, cx, cy, d[0], d[1], d[2], d[3]],
        "FULL_OPENCV" => vec![
            k.fx, k.fy, cx, cy, d[0], d[1], d[2], d[3], d[4], 0.0, 0.0, 0.0,
        ],
        "OPENCV_FISHEYE" => vec![k.fx, k.fy, cx, cy, d[0], d[1], d[2], d[3]],
        other => panic!("{other}"),
    }
}

fn colmap_model_id(model: &str) -> i32 {
    match model {
        "PINHOLE" => 1,
        "SIMPLE_RADIAL" => 2,
        "OPENCV" => 4,
        "OPENCV_FISHEYE" => 5,
        "FULL_OPENCV" => 6,
        other => panic!("{other}"),
    }
}

/// `cameras.bin` as COLMAP's `WriteCamerasBinary` writes it.
fn colmap_cameras_bin(rig: &[TrueCamera], models: &[&str]) -> Vec<u8> {
    let mut b = (rig.len() as u64).to_le_bytes().to_vec();
    for (i, (c, model)) in rig.iter().zip(models).enumerate() {
        b.extend((i as i32 + 1).to_le_bytes());
        b.extend(colmap_model_id(model).to_le_bytes());
        b.extend((c.intrinsics.width as u64).to_le_bytes());
        b.extend((c.intrinsics.height as u64).to_le_bytes());
        for p in colmap_params(c, model) {
            b.extend(p.to_le_bytes());
        }
    }
    b
}

/// `images.bin` as COLMAP's `WriteImagesBinary` writes it (one 2D point for odd images).
fn colmap_images_bin(rig: &[TrueCamera], names: &[&str]) -> Vec<u8> {
    let mut b = (rig.len() as u64).to_le_bytes().to_vec();
    for (i, (c, name)) in rig.iter().zip(names).enumerate() {
        let q = UnitQuaternion::from_rotation_matrix(&c.pose.rotation);
        let t = c.pose.translation;
        b.extend((i as i32 + 1).to_le_bytes());
        for v in [q.w, q.i, q.j, q.k, t.x, t.y, t.z] {
            b.extend(v.to_le_bytes());
        }
        b.extend((i as i32 + 1).to_le_bytes());
        b.extend(name.as_bytes());
        b.push(0);
        let points = (i % 2) as u64;
        b.extend(points.to_le_bytes());
        for _ in 0..points {
            b.extend(12.5f64.to_le_bytes());
            b.extend(40.25f64.to_le_bytes());
            b.extend((-1i64).to_le_bytes());
        }
    }
    b
}

/// `images.txt`: two lines per image (the second the 2D points, empty for one image).
fn colmap_images(rig: &[TrueCamera], names: &[&str]) -> String {
    let mut s = format!(
        "# Image list with two lines of data per image:\n#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n#   POINTS2D[] as (X, Y, POINT3D_ID)\n# Number of images: {}, mean observations per image: 1.5\n",
        rig.len()
    );
    for (i, (c, name)) in rig.iter().zip(names).enumerate() {
        let q = UnitQuaternion::from_rotation_matrix(&c.pose.rotation);
        let t = c.pose.translation;
        s += &format!(
            "{} {} {} {} {} {} {} {} {} {name}\n",
            i + 1,
            q.w,
            q.i,
            q.j,
            q.k,
            t.x,
            t.y,
            t.z,
            i + 1
        );
        if i == 1 {
            s += "\n";
        } else {
            let p = Camera::new(c.intrinsics, c.pose)
                .project(&Point3::new(0.0, 0.0, 1.0))
                .expect("in front");
            s += &format!(
                "{} {} 1 {} {} -1\n",
                p.x + 0.5,
                p.y + 0.5,
                p.x + 3.5,
                p.y - 1.5
            );
        }
    }
    s
}

const COLMAP_MODELS: [&str; 4] = ["PINHOLE", "OPENCV", "OPENCV_FISHEYE", "SIMPLE_RADIAL"];
const COLMAP_NAMES: [&str; 4] = ["cam0.png", "cam1.png", "rig/cam 2.png", "cam3.png"];

fn colmap_rig() -> Vec<TrueCamera> {
    let mut r = rig(&[Distortion::None, RT, FISHEYE, RADIAL]);
    // One focal length for the single-focal models.
    r[3].intrinsics.fy = r[3].intrinsics.fx;
    // OPENCV has no k3.
    if let Distortion::RadialTangential { k3, .. } = &mut r[1].intrinsics.distortion {
        *k3 = 0.0;
    }
    r
}

/// A COLMAP project: `sparse/0/{cameras,images,points3D}.txt` and `images/`.
fn colmap_project(root: &Path) -> Vec<TrueCamera> {
    let rig = colmap_rig();
    let model = root.join("sparse/0");
    std::fs::create_dir_all(&model).expect("mkdir");
    std::fs::write(
        model.join("cameras.txt"),
        colmap_cameras(&rig, &COLMAP_MODELS),
    )
    .expect("write");
    std::fs::write(model.join("images.txt"), colmap_images(&rig, &COLMAP_NAMES)).expect("write");
    std::fs::write(
        model.join("points3D.txt"),
        "# 3D point list with one line of data per point:\n#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n# Number of points: 1, mean track length: 3\n1 0 0 1 200 10 10 0.2 1 0 3 0 4 0\n",
    )
    .expect("write");
    for name in COLMAP_NAMES {
        png(&root.join("images").join(name), false);
    }
    rig
}

fn colmap_id(c: &TrueCamera) -> String {
    match c.name.as_str() {
        "cam2" => "rig_cam 2".to_owned(),
        n => n.to_owned(),
    }
}

#[test]
fn colmap_model_imports_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let truth = colmap_project(dir.path());
    // From the project folder, the images found two levels above the model.
    let imported = colmap::import(dir.path(), &colmap::Options::default()).expect("imports");
    // The unit was not stated: metres, with a warning.
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
    assert!(imported.warnings[0].contains("--units"));
    assert_imported(&imported.cameras, &truth, colmap_id);
    assert_eq!(imported.segmentation, Segmentation::Background);
    assert_manifest(&imported, &dir.path().join("capture"), &truth, colmap_id);

    // FULL_OPENCV with k3 and zero rational terms; a unit; a missing image is a warning.
    let rig5 = self::rig(&[RT, RT]);
    let model = dir.path().join("m5");
    std::fs::create_dir_all(&model).expect("mkdir");
    std::fs::write(
        model.join("cameras.txt"),
        colmap_cameras(&rig5, &["FULL_OPENCV", "FULL_OPENCV"]),
    )
    .expect("write");
    let scaled: Vec<TrueCamera> = rig5
        .iter()
        .map(|c| TrueCamera {
            pose: CameraFromWorld {
                translation: c.pose.translation * 100.0,
                ..c.pose
            },
            ..c.clone()
        })
        .collect();
    std::fs::write(
        model.join("images.txt"),
        colmap_images(&scaled, &["a.png", "b.png"]),
    )
    .expect("write");
    png(&model.join("pics/a.png"), false);
    let imported = colmap::import(
        &model,
        &colmap::Options {
            images: Some(model.join("pics")),
            units: Some(Units::Centimetres),
        },
    )
    .expect("imports");
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
    assert!(
        imported.warnings[0].contains("b.png"),
        "{:?}",
        imported.warnings
    );
    assert_imported(&imported.cameras, &rig5[..1], |_| "a".to_owned());
}

/// A binary model (what `colmap mapper` writes by default) imports exactly as its text twin.
#[test]
fn colmap_binary_model_imports_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = colmap_rig();
    let model = dir.path().join("sparse/0");
    std::fs::create_dir_all(&model).expect("mkdir");
    std::fs::write(
        model.join("cameras.bin"),
        colmap_cameras_bin(&rig, &COLMAP_MODELS),
    )
    .expect("write");
    std::fs::write(
        model.join("images.bin"),
        colmap_images_bin(&rig, &COLMAP_NAMES),
    )
    .expect("write");
    for name in COLMAP_NAMES {
        png(&dir.path().join("images").join(name), false);
    }
    let opts = colmap::Options {
        images: None,
        units: Some(Units::Metres),
    };
    let imported = colmap::import(dir.path(), &opts).expect("imports");
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    assert_imported(&imported.cameras, &rig, colmap_id);

    // The same model as text gives the same cameras.
    let text = tempfile::tempdir().expect("tempdir");
    colmap_project(text.path());
    let from_text = colmap::import(text.path(), &opts).expect("imports");
    for (a, b) in imported.cameras.iter().zip(&from_text.cameras) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.intrinsics, b.intrinsics);
        assert!((a.pose.rotation.matrix() - b.pose.rotation.matrix()).norm() < 1e-12);
        assert!((a.pose.translation - b.pose.translation).norm() < 1e-12);
    }

    // Damage names the file and the record: an image that refers to an unknown camera, a
    // truncated file.
    let mut images = colmap_images_bin(&rig, &COLMAP_NAMES);
    images[8 + 4 + 56..8 + 4 + 56 + 4].copy_from_slice(&9i32.to_le_bytes());
    std::fs::write(model.join("images.bin"), &images).expect("write");
    let e = err_text(colmap::import(dir.path(), &opts));
    assert!(
        e.contains("byte 8") && e.contains("camera 9") && e.ends_with("images.bin"),
        "{e}"
    );
    std::fs::write(model.join("images.bin"), &images[..images.len() - 5]).expect("write");
    let e = err_text(colmap::import(dir.path(), &opts));
    assert!(e.contains("truncated") && e.ends_with("images.bin"), "{e}");
}

fn err_text<T>(r: Result<T, formats::ImportError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn colmap_errors_name_the_file_and_line() {
    let rig = colmap_rig();
    let cams = colmap_cameras(&rig, &COLMAP_MODELS);
    let images = colmap_images(&rig, &COLMAP_NAMES);
    let cp = Path::new("sparse/0/cameras.txt");
    let ip = Path::new("sparse/0/images.txt");
    assert!(colmap::parse_cameras(&cams, cp).is_ok());
    assert!(colmap::parse_images(&images, ip).is_ok());
    for (text, needle) in [
        (
            cams.replacen("PINHOLE 64 48 ", "PINHOLE 64 48 7x.2 ", 1),
            "line 4: \"7x.2\" is not a number",
        ),
        (
            cams.replacen("PINHOLE 64 48 ", "PINHOLE 64 48 NaN ", 1),
            "line 4: NaN",
        ),
        (
            cams.replacen("PINHOLE", "FOV", 1),
            "line 4: camera 1: model FOV is not supported",
        ),
        (
            cams.replacen("PINHOLE 64 48 ", "PINHOLE 64 48 1 ", 1),
            "PINHOLE takes 4 parameters, found 5",
        ),
        (cams.replacen("PINHOLE 64 48", "PINHOLE -64 48", 1), "WIDTH"),
        (cams.replacen("1 PINHOLE", "2 PINHOLE", 1), "listed twice"),
        (
            format!("{cams}9 FULL_OPENCV 64 48 70 70 32 24 0 0 0 0 0 0.1 0 0\n"),
            "rational terms",
        ),
        (
            cams.replacen("PINHOLE 64 48 ", "PINHOLE 64 48 -", 1),
            "focal lengths must be positive",
        ),
    ] {
        let e = err_text(colmap::parse_cameras(&text, cp));
        assert!(
            e.contains(needle) && e.ends_with("cameras.txt"),
            "{needle}: {e}"
        );
    }
    let first = images.lines().nth(4).expect("image line").to_owned();
    let fields: Vec<&str> = first.split_whitespace().collect();
    for (line, needle) in [
        (first.replacen(fields[1], "2.0", 1), "norm"),
        (first.replacen(fields[1], "nan", 1), "NaN"),
        (first.replacen(fields[5], "1,5", 1), "not a number"),
        (fields[..6].join(" "), "found 6 fields"),
    ] {
        let text = images.replacen(&first, &line, 1);
        let e = err_text(colmap::parse_images(&text, ip));
        assert!(
            e.contains(needle) && e.contains("line 5") && e.ends_with("images.txt"),
            "{needle}: {e}"
        );
    }

    // Files: missing model, binary model, missing images.txt, unknown camera id.
    let dir = tempfile::tempdir().expect("tempdir");
    let e = err_text(colmap::import(dir.path(), &colmap::Options::default()));
    assert!(e.contains("cameras.txt"), "{e}");
    std::fs::write(dir.path().join("cameras.bin"), [0u8; 8]).expect("write");
    let e = err_text(colmap::import(dir.path(), &colmap::Options::default()));
    assert!(e.contains("images.bin"), "{e}");
    std::fs::write(dir.path().join("cameras.txt"), &cams).expect("write");
    std::fs::create_dir_all(dir.path().join("images")).expect("mkdir");
    let e = err_text(colmap::import(dir.path(), &colmap::Options::default()));
    assert!(e.contains("images.txt"), "{e}");
    std::fs::write(
        dir.path().join("images.txt"),
        images.replacen(" 3 rig/", " 7 rig/", 1),
    )
    .expect("write");
    let e = err_text(colmap::import(dir.path(), &colmap::Options::default()));
    assert!(e.contains("camera 7") && e.ends_with("images.txt"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// nerfstudio

fn gl_matrix(pose: &CameraFromWorld) -> String {
    let gl = WorldFromCameraGl::from(pose.inverse());
    let mut m = Matrix4::identity();
    m.fixed_view_mut::<3, 3>(0, 0)
        .copy_from(gl.rotation.matrix());
    m.fixed_view_mut::<3, 1>(0, 3).copy_from(&gl.centre.coords);
    let rows: Vec<String> = (0..4)
        .map(|r| {
            let v: Vec<String> = (0..4).map(|c| format!("{:?}", m[(r, c)])).collect();
            format!("\n        [{}]", v.join(", "))
        })
        .collect();
    format!("[{}\n      ]", rows.join(","))
}

/// `transforms.json` as `ns-process-data` writes it: shared intrinsics at the top (from the
/// first camera), a frame with its own intrinsics (the last camera).
fn transforms(rig: &[TrueCamera], model: &str) -> String {
    let lens = |k: &Intrinsics| {
        let (_, d) = coefficients(&k.distortion);
        let dist = match k.distortion {
            Distortion::Fisheye { .. } => format!(
                "\"k1\": {:?}, \"k2\": {:?}, \"k3\": {:?}, \"k4\": {:?}",
                d[0], d[1], d[2], d[3]
            ),
            Distortion::RadialTangential { .. } => format!(
                "\"k1\": {:?}, \"k2\": {:?}, \"k3\": {:?}, \"p1\": {:?}, \"p2\": {:?}",
                d[0], d[1], d[4], d[2], d[3]
            ),
            Distortion::None => "\"k1\": 0.0, \"k2\": 0.0, \"p1\": 0.0, \"p2\": 0.0".to_owned(),
        };
        format!(
            "\"w\": {}, \"h\": {}, \"fl_x\": {:?}, \"fl_y\": {:?}, \"cx\": {:?}, \"cy\": {:?}, {dist}",
            k.width,
            k.height,
            k.fx,
            k.fy,
            k.cx + 0.5,
            k.cy + 0.5
        )
    };
    let n = rig.len();
    let frames: Vec<String> = rig
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let own = if i == n - 1 { format!("{}, ", lens(&c.intrinsics)) } else { String::new() };
            format!(
                "    {{\n      {own}\"file_path\": \"images/frame_{:05}.png\",\n      \"transform_matrix\": {},\n      \"colmap_im_id\": {}\n    }}",
                i + 1,
                gl_matrix(&c.pose),
                i + 1
            )
        })
        .collect();
    format!(
        "{{\n  {},\n  \"camera_model\": \"{model}\",\n  \"frames\": [\n{}\n  ],\n  \"applied_transform\": [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [-0.0, -1.0, -0.0, -0.0]]\n}}\n",
        lens(&rig[0].intrinsics),
        frames.join(",\n")
    )
}

fn nerfstudio_rig(d: Distortion, last: Distortion) -> Vec<TrueCamera> {
    let mut r = rig(&[d, d, d, last]);
    // The shared lens is the first camera's.
    let k0 = r[0].intrinsics;
    for c in r.iter_mut().take(3) {
        c.intrinsics = k0;
    }
    r
}

fn frame_id(c: &TrueCamera) -> String {
    let i: usize = c.name.trim_start_matches("cam").parse().expect("index");
    format!("images_frame_{:05}", i + 1)
}

#[test]
fn nerfstudio_transforms_import_exactly() {
    for (model, d, last) in [("OPENCV", RT, RADIAL), ("OPENCV_FISHEYE", FISHEYE, FISHEYE)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rig = nerfstudio_rig(d, last);
        if model == "OPENCV_FISHEYE" {
            rig[3].intrinsics.distortion = Distortion::Fisheye {
                k1: 0.01,
                k2: 0.0,
                k3: 0.0,
                k4: 0.0,
            };
        }
        std::fs::write(dir.path().join("transforms.json"), transforms(&rig, model)).expect("write");
        for i in 0..rig.len() {
            png(
                &dir.path().join(format!("images/frame_{:05}.png", i + 1)),
                true,
            );
        }
        let imported = nerfstudio::import(dir.path(), Some(Units::Metres)).expect("imports");
        assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
        assert_eq!(imported.segmentation, Segmentation::Alpha, "RGBA images");
        assert_imported(&imported.cameras, &rig, frame_id);
        assert_manifest(&imported, &dir.path().join("capture"), &rig, frame_id);
    }
    // Y-up data: --up +y turns the source's +y into replay360's +z, rigidly.
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = nerfstudio_rig(RT, RT);
    std::fs::write(
        dir.path().join("transforms.json"),
        transforms(&rig, "OPENCV"),
    )
    .expect("write");
    for i in 0..rig.len() {
        png(
            &dir.path().join(format!("images/frame_{:05}.png", i + 1)),
            false,
        );
    }
    let mut imported =
        nerfstudio::import(&dir.path().join("transforms.json"), None).expect("imports");
    assert_eq!(
        imported.warnings.len(),
        1,
        "unit warning: {:?}",
        imported.warnings
    );
    assert_eq!(
        imported.segmentation,
        Segmentation::Background,
        "RGB images"
    );
    imported.set_up_axis("+y").expect("up");
    for (c, w) in imported.cameras.iter().zip(&rig) {
        let up_in_camera = c.pose.rotation * Vector3::z();
        let want = w.pose.rotation * Vector3::y();
        assert!((up_in_camera - want).norm() < 1e-12);
    }
}

#[test]
fn nerfstudio_errors_name_the_file() {
    let rig = nerfstudio_rig(RT, RT);
    let good = transforms(&rig, "OPENCV");
    let p = Path::new("scene/transforms.json");
    assert!(nerfstudio::parse(&good, p).is_ok());
    let gl = WorldFromCameraGl::from(rig[1].pose.inverse());
    let r0 = format!("{:?}", gl.rotation.matrix()[(0, 0)]);
    // A reflection: every entry negated (det = -1).
    let mut mirrored = rig.clone();
    mirrored[1].pose.rotation = Rotation3::from_matrix_unchecked(-rig[1].pose.rotation.matrix());
    let mirrored = transforms(&mirrored, "OPENCV");
    for (text, needle) in [
        (
            good.replacen("\"fl_x\": ", "\"fl_x\": \"7\" , \"x\": ", 1),
            "fl_x is not a number",
        ),
        (
            good.replacen("\"fl_x\": ", "\"fl_x\": NaN, \"x\": ", 1),
            "not valid JSON",
        ),
        (
            good.replacen("\"frames\"", "\"frame\"", 1),
            "no `frames` array",
        ),
        (
            good.replacen("OPENCV", "EQUIRECTANGULAR", 1),
            "camera_model EQUIRECTANGULAR is not supported",
        ),
        (good.replacen("\"k2\"", "\"k4\": 0.1, \"k2\"", 1), "k4"),
        (good.replacen(", \"h\": 48", "", 1), "only one of w and h"),
        (mirrored.clone(), "not a rotation (det = -1"),
        (good.replacen(&r0, "3.0", 1), "not a rotation"),
        (
            good.replacen(
                "\n        [0.0, 0.0, 0.0, 1.0]",
                "\n        [0.0, 0.0, 1.0, 1.0]",
                1,
            ),
            "last row",
        ),
        (
            good.replacen(
                ",\n        [0.0, 0.0, 0.0, 1.0]",
                ",\n        [0.0, 0.0, 0.0, 1.0], [1.0]",
                1,
            ),
            "expected 4x4",
        ),
        (
            good.replacen("\"file_path\"", "\"path\"", 1),
            "no file_path",
        ),
    ] {
        assert_ne!(text, good, "{needle}: the fixture did not change");
        let e = err_text(nerfstudio::parse(&text, p));
        assert!(
            e.contains(needle) && e.ends_with("transforms.json"),
            "{needle}: {e}"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let e = err_text(nerfstudio::import(dir.path(), None));
    assert!(e.contains("transforms.json"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// CMU Panoptic

fn json_rows(m: &[f64], cols: usize) -> String {
    let rows: Vec<String> = m
        .chunks(cols)
        .map(|r| {
            let v: Vec<String> = r.iter().map(|x| format!("{x:?}")).collect();
            format!("\n\t\t\t\t[{}]", v.join(","))
        })
        .collect();
    format!("[{}\n\t\t\t]", rows.join(","))
}

/// A calibration file as the Panoptic dome's tools write it (t in centimetres).
fn panoptic_json(cams: &[(&str, &str, &TrueCamera)]) -> String {
    let entries: Vec<String> = cams
        .iter()
        .map(|(name, kind, c)| {
            let k = &c.intrinsics;
            let (_, d) = coefficients(&k.distortion);
            let r = c.pose.rotation.matrix();
            let rm: Vec<f64> = (0..3).flat_map(|i| (0..3).map(move |j| r[(i, j)])).collect();
            let t = c.pose.translation * 100.0;
            let (panel, node) = name.split_once('_').expect("name");
            format!(
                "\t\t{{\n\t\t\t\"name\": \"{name}\",\n\t\t\t\"type\": \"{kind}\",\n\t\t\t\"resolution\": [{},{}],\n\t\t\t\"panel\": {},\n\t\t\t\"node\": {},\n\t\t\t\"K\": {},\n\t\t\t\"distCoef\": [{}],\n\t\t\t\"R\": {},\n\t\t\t\"t\": {}\n\t\t}}",
                k.width,
                k.height,
                panel.parse::<u32>().expect("panel"),
                node.parse::<u32>().expect("node"),
                json_rows(&[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0], 3),
                d.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(","),
                json_rows(&rm, 3),
                json_rows(&[t.x, t.y, t.z], 1),
            )
        })
        .collect();
    format!(
        "{{\n\t\"calibDataSource\": \"171204_calib_norm\",\n\t\"cameras\": [\n{}\n\t]\n}}\n",
        entries.join(",\n")
    )
}

#[test]
fn panoptic_calibration_imports_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = rig(&[RT, RT, RT, RT]);
    let cams = [
        ("00_00", "hd", &rig[0]),
        ("00_01", "hd", &rig[1]),
        ("00_02", "hd", &rig[2]),
        ("01_01", "vga", &rig[3]),
    ];
    let path = dir.path().join("calibration_171204_pose1.json");
    std::fs::write(&path, panoptic_json(&cams)).expect("write");
    video(&dir.path().join("hdVideos/hd_00_00.mp4"));
    video(&dir.path().join("hdVideos/hd_00_01.mp4"));
    video(&dir.path().join("vgaVideos/vga_01_01.mp4"));
    let imported = panoptic::import(&path, &panoptic::Options::default()).expect("imports");
    // 00_02 has no video.
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
    assert!(imported.warnings[0].contains("hd_00_02.mp4"));
    assert!(imported.synchronized);
    let want = |i: usize, id: &str| TrueCamera {
        name: id.to_owned(),
        ..rig[i].clone()
    };
    let hd = [want(0, "00_00"), want(1, "00_01")];
    assert_imported(&imported.cameras, &hd, |c| c.name.clone());
    assert_manifest(&imported, &dir.path().join("capture"), &hd, |c| {
        c.name.clone()
    });
    let vga = panoptic::import(
        &path,
        &panoptic::Options {
            camera_type: "vga".to_owned(),
            units: Units::Centimetres,
        },
    )
    .expect("imports");
    assert_imported(&vga.cameras, &[want(3, "01_01")], |c| c.name.clone());
    // No kinect videos at all: nothing to import.
    let e = err_text(panoptic::import(
        &path,
        &panoptic::Options {
            camera_type: "kinect".to_owned(),
            units: Units::Centimetres,
        },
    ));
    assert!(e.contains("kinectVideos"), "{e}");
}

#[test]
fn panoptic_errors_name_the_file() {
    let rig = rig(&[RT, RT]);
    let good = panoptic_json(&[("00_00", "hd", &rig[0]), ("00_01", "hd", &rig[1])]);
    let p = Path::new("calibration_171204_pose1.json");
    let mut w = Vec::new();
    assert_eq!(panoptic::parse(&good, p, &mut w).expect("parses").len(), 2);
    assert!(w.is_empty(), "{w:?}");
    let r00 = format!("{:?}", rig[0].pose.rotation.matrix()[(0, 0)]);
    let mut mirrored = rig[0].clone();
    mirrored.pose.rotation = Rotation3::from_matrix_unchecked(-rig[0].pose.rotation.matrix());
    let mirrored = panoptic_json(&[("00_00", "hd", &mirrored)]);
    for (text, needle) in [
        (
            good.replacen(",\n\t\t\t\t[0.0,0.0,1.0]", "", 1),
            "K has rows of [3, 3]",
        ),
        (good.replacen(&r00, "2.0", 1), "not a rotation"),
        (mirrored, "not a rotation (det = -1"),
        (
            good.replacen("\"distCoef\": [", "\"distCoef\": [\"a\",", 1),
            "is not a number",
        ),
        (
            good.replacen("\"distCoef\": [", "\"distCoef\": [0.1,0.1,", 1),
            "distCoef has 7 values",
        ),
        (
            good.replacen("\"resolution\": [64,48]", "\"resolution\": [64]", 1),
            "resolution",
        ),
        (
            good.replacen("\"resolution\": [64,48]", "\"resolution\": [64,-48]", 1),
            "resolution",
        ),
        (good.replacen("\"name\"", "\"nom\"", 1), "no name"),
        (
            good.replacen("[\n\t\t\t\t[", "[\n\t\t\t\t[1e999, ", 1),
            "not valid JSON",
        ),
        (
            good.replacen("\"cameras\"", "\"cams\"", 1),
            "no `cameras` array",
        ),
    ] {
        assert_ne!(text, good, "{needle}: the fixture did not change");
        let e = err_text(panoptic::parse(&text, p, &mut Vec::new()));
        assert!(e.contains(needle) && e.ends_with(".json"), "{needle}: {e}");
    }
    // t with two values.
    let t = rig[0].pose.translation * 100.0;
    let text = good.replacen(&format!(",\n\t\t\t\t[{:?}]", t.z), "", 1);
    let e = err_text(panoptic::parse(&text, p, &mut Vec::new()));
    assert!(e.contains("t has 2 values") && e.ends_with(".json"), "{e}");
    let e = err_text(panoptic::import(
        Path::new("/nonexistent/calibration_x.json"),
        &panoptic::Options::default(),
    ));
    assert!(e.contains("calibration_x.json"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Matte from alpha

#[test]
fn alpha_channels_decode_and_become_mattes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rgba = dir.path().join("a.png");
    let rgb = dir.path().join("b.png");
    png(&rgba, true);
    png(&rgb, false);
    assert!(formats::has_alpha(&rgba) && !formats::has_alpha(&rgb));
    let mut r = replay360::media::VideoReader::open(&rgba, 1).expect("opens");
    r.keep_alpha();
    let f = r.next_frame().expect("decodes").expect("a frame");
    let alpha = f.alpha.expect("alpha kept");
    assert_eq!(alpha.get_pixel(32, 24).0[0], 255);
    assert_eq!(alpha.get_pixel(2, 2).0[0], 0);
    assert_eq!(
        f.image.get_pixel(2, 2).0,
        [200, 6, 10],
        "colour kept under zero alpha"
    );
    let sil = replay360::segment::Silhouette::extract_alpha(&f.image, &alpha);
    // The disc of radius 10 (less the clean-up's trimming of its rim).
    assert!(
        (250..=320).contains(&sil.matte.area),
        "area {}",
        sil.matte.area
    );
    assert!(sil.matte.get(32, 24) && !sil.matte.get(2, 2));
    let mut r = replay360::media::VideoReader::open(&rgb, 1).expect("opens");
    r.keep_alpha();
    assert!(
        r.next_frame()
            .expect("decodes")
            .expect("frame")
            .alpha
            .is_none()
    );
}

/// A scene as the NeRF paper's Blender exports give it (`camera_angle_x` only, extension-less
/// `file_path`s, RGBA renders with the object's matte in alpha): a ball of radius 0.5 at the
/// origin, rendered here by ray casting in nerfstudio's own conventions (OpenGL camera axes,
/// pixel centres at +0.5). Imported and reconstructed, the hull is that ball.
#[test]
fn blender_scene_with_alpha_reconstructs_the_ball() {
    blender_ball(false);
}

/// The same scene with plain RGB images and nerfstudio `mask_path` masks (white = subject):
/// segmented by the masks.
#[test]
fn blender_scene_with_masks_reconstructs_the_ball() {
    blender_ball(true);
}

fn blender_ball(masks: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (size, angle) = (160u32, 0.6911112070083618f64);
    let f = 0.5 * size as f64 / (0.5 * angle).tan();
    let mut frames = Vec::new();
    for i in 0..12 {
        let a = i as f64 * std::f64::consts::TAU / 12.0;
        let el = 0.3 + 0.2 * (i % 3) as f64;
        let c = Vector3::new(
            4.0 * a.cos() * el.cos(),
            4.0 * a.sin() * el.cos(),
            4.0 * el.sin(),
        );
        let back = c.normalize();
        let right = Vector3::z().cross(&back).normalize();
        let up = back.cross(&right);
        let img = image::RgbaImage::from_fn(size, size, |x, y| {
            let d =
                (right * ((x as f64 + 0.5 - 80.0) / f) - up * ((y as f64 + 0.5 - 80.0) / f) - back)
                    .normalize();
            let b = d.dot(&c);
            let hit = b * b - (c.dot(&c) - 0.25) > 0.0;
            let v = if hit { 220 } else { 30 };
            image::Rgba([v, v / 2, (x % 256) as u8, if hit { 255 } else { 0 }])
        });
        let file = dir.path().join(format!("train/r_{i}.png"));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        let mask_field = if masks {
            let matte = image::GrayImage::from_fn(size, size, |x, y| {
                image::Luma([img.get_pixel(x, y).0[3]])
            });
            let mask = dir.path().join(format!("masks/r_{i}.png"));
            std::fs::create_dir_all(mask.parent().expect("parent")).expect("mkdir");
            matte.save(&mask).expect("png");
            image::DynamicImage::ImageRgba8(img.clone())
                .to_rgb8()
                .save(&file)
                .expect("png");
            format!(", \"mask_path\": \"masks/r_{i}.png\"")
        } else {
            img.save(&file).expect("png");
            String::new()
        };
        let m = |v: Vector3<f64>, t: f64| format!("[{:?}, {:?}, {:?}, {t:?}]", v.x, v.y, v.z);
        let rows = [
            Vector3::new(right.x, up.x, back.x),
            Vector3::new(right.y, up.y, back.y),
            Vector3::new(right.z, up.z, back.z),
        ];
        frames.push(format!(
            "{{\"file_path\": \"./train/r_{i}\", \"rotation\": 0.012566370614359171, \
             \"transform_matrix\": [{}, {}, {}, [0.0, 0.0, 0.0, 1.0]]{mask_field}}}",
            m(rows[0], c.x),
            m(rows[1], c.y),
            m(rows[2], c.z)
        ));
    }
    let path = dir.path().join("transforms_train.json");
    std::fs::write(
        &path,
        format!(
            "{{\"camera_angle_x\": {angle:?}, \"frames\": [{}]}}",
            frames.join(",\n")
        ),
    )
    .expect("write");
    let imported = nerfstudio::import(&path, Some(Units::Metres)).expect("imports");
    assert_eq!(imported.cameras.len(), 12);
    let want = if masks {
        Segmentation::Mask
    } else {
        Segmentation::Alpha
    };
    assert_eq!(imported.segmentation, want);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    let k = imported.cameras[0].intrinsics;
    assert!(
        (k.fx - f).abs() < 1e-9 && k.cx == 79.5 && k.cy == 79.5,
        "{k:?}"
    );
    let capture =
        formats::write_manifest(&imported, "ball", &dir.path().join("cap")).expect("manifest");
    let recon = dir.path().join("recon");
    replay360::pipeline::reconstruct(&capture, &recon, &Default::default()).expect("reconstructs");
    let frame = std::fs::read_dir(recon.join("frames"))
        .expect("frames")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "ply"))
        .expect("a frame");
    let splats = replay360::reconstruct::format::read_ply(&frame).expect("ply");
    assert!(splats.len() > 1000, "{} splats", splats.len());
    // The hull hugs the ball (every camera looks down on it, so it reaches a little lower).
    let radii: Vec<f64> = splats
        .positions
        .iter()
        .map(|p| Vector3::new(p[0] as f64, p[1] as f64, p[2] as f64).norm())
        .collect();
    let mean = radii.iter().sum::<f64>() / radii.len() as f64;
    assert!((mean - 0.5).abs() < 0.02, "mean radius {mean}");
    assert!(
        radii.iter().all(|&r| r > 0.46 && r < 0.6),
        "radii out of range"
    );
    if masks {
        // A mask that disagrees with its image in size is an error naming the mask.
        let mask = dir.path().join("masks/r_3.png");
        image::GrayImage::new(80, 80).save(&mask).expect("png");
        let e =
            replay360::pipeline::reconstruct(&capture, &dir.path().join("r2"), &Default::default())
                .expect_err("an error")
                .to_string();
        assert!(e.contains("80x80") && e.contains("r_3.png"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// The binary

#[test]
fn cli_imports_a_colmap_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("project");
    let rig = colmap_project(&project);
    let out = dir.path().join("capture");
    let s = |p: &PathBuf| p.to_string_lossy().into_owned();
    let o = replay360(&[
        "import",
        "colmap",
        &s(&project),
        "--units",
        "m",
        "--out",
        &s(&out),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 cameras"));
    let capture = Capture::open(&out).expect("capture");
    for w in &rig {
        let c = capture
            .cameras
            .iter()
            .find(|c| c.id == colmap_id(w))
            .expect("camera");
        assert_same(&c.camera.intrinsics, &c.camera.pose, w);
    }
    // A broken model: the failure names the file and the line.
    std::fs::write(
        project.join("sparse/0/cameras.txt"),
        "1 FOV 64 48 70 32 24 0.9\n",
    )
    .expect("write");
    let o = replay360(&["import", "colmap", &s(&project), "--out", &s(&out)]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("cameras.txt") && stderr.contains("line 1"),
        "{stderr}"
    );
    let help = replay360(&["import", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for f in [
        "opencv",
        "middlebury",
        "colmap",
        "nerfstudio",
        "panoptic",
        "--camera-type",
        "--images",
    ] {
        assert!(help.contains(f), "import --help lacks {f}:\n{help}");
    }
}

/// Two lines of the Middlebury dino ring's `dinoSR_par.txt`, under a header announcing two.
const MIDDLEBURY_PAR: &str = "2
dinoSR0001.png 3310.400000 0.000000 316.730000 0.000000 3325.500000 200.550000 0.000000 0.000000 1.000000 -0.14396457836077139000 0.96965263281337499000 0.19760617153779569000 -0.90366580603479685000 -0.04743335255026152200 -0.42560419233334673000 -0.40331536459778505000 -0.23984130575212276000 0.88306936201487163000 -0.010415508744 -0.0294278883669 0.673097816109
dinoSR0002.png 3310.400000 0.000000 316.730000 0.000000 3325.500000 200.550000 0.000000 0.000000 1.000000 -0.23143687262851170000 0.96422332027030622000 0.12926937165558827000 -0.65860811165749811000 -0.05749426020475298400 -0.75028640486482034000 -0.71601208187197274000 -0.25878137856376976000 0.64835049619606955000 -0.0143392676288 -0.0315356332107 0.659314086504
";

/// `_par.txt` text: good lines parse into world-to-camera poses; each kind of damage is an
/// error naming the file and the line.
#[test]
fn middlebury_par_text_parses_and_damage_names_the_line() {
    use formats::middlebury::parse;
    let path = Path::new("dino_par.txt");
    let (count, views) = parse(MIDDLEBURY_PAR, path).expect("parses");
    assert_eq!((count, views.len()), (2, 2));
    assert_eq!(views[1].name, "dinoSR0002.png");
    assert_eq!(views[1].line, 3);
    assert!((views[0].k[(0, 0)] - 3310.4).abs() < 1e-9);
    // A rotation from the file: det +1, orthonormal to the file's precision.
    let r = views[0].pose.rotation.matrix();
    assert!((r.determinant() - 1.0).abs() < 1e-6);
    let second = MIDDLEBURY_PAR.lines().nth(2).expect("line 3");
    let cases: [(String, &str); 6] = [
        (String::new(), "empty"),
        ("two\n".into(), "number of images"),
        (
            format!("1\n{}", second.replacen(" 1.000000 ", " 2.000000 ", 1)),
            "camera matrix",
        ),
        (
            format!("1\n{}", second.replacen("3310.400000", "-3310.400000", 1)),
            "camera matrix",
        ),
        (
            format!(
                "1\n{}",
                second.replacen("-0.23143687262851170000", "0.9", 1)
            ),
            "not a rotation",
        ),
        (
            format!("1\n{}", second.replacen("0.659314086504", "NaN", 1)),
            "NaN",
        ),
    ];
    for (text, needle) in cases {
        let e = parse(&text, path).expect_err(needle).to_string();
        assert!(
            e.contains(needle) && e.contains("dino_par.txt"),
            "{needle}: {e}"
        );
    }
    let short = format!("1\n{}", &second[..40]);
    let e = parse(&short, path).expect_err("short line").to_string();
    assert!(e.contains("line 2") && e.contains("22 fields"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Mutated fixtures: what fuzz/ does at length, a few thousand cases deterministically.

/// xorshift64*: a deterministic stream without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: [&str; 24] = [
    "0",
    "-",
    ".",
    "e",
    "9",
    "nan",
    "1e999",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "\n",
    " ",
    "\"",
    "#",
    "!!opencv-matrix",
    "\n  ",
    "-1",
    "18446744073709551616",
    "\t",
    ".Inf",
    "é",
];

const BYTES: &[u8] = b" 0123456789.-e[]{}:,\n\"#x";

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut b: Vec<u8> = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(5) {
            0 => {
                let end = (at + 1 + rng.below(16)).min(b.len());
                if at < end {
                    b.drain(at..end);
                }
            }
            1 => {
                let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                b.splice(at..at, piece.iter().copied());
            }
            2 => {
                if at < b.len() {
                    b[at] = BYTES[rng.below(BYTES.len())];
                }
            }
            3 => {
                // Duplicate a chunk somewhere else.
                let end = (at + rng.below(64)).min(b.len());
                let chunk: Vec<u8> = b[at..end].to_vec();
                let to = rng.below(b.len() + 1);
                b.splice(to..to, chunk);
            }
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn parsers_survive_mutated_fixtures() {
    let rig = rig(&[RT, FISHEYE, RT, RADIAL]);
    let crig = colmap_rig();
    let xml = "<?xml version=\"1.0\"?>\n<opencv_storage>\n<CameraMatrix type_id=\"opencv-matrix\"><rows>3</rows><cols>3</cols><dt>d</dt>\n  <data>500. 0. 320. 0. 510. 240. 0. 0. 1.</data></CameraMatrix>\n<DistortionCoeffs type_id=\"opencv-matrix\"><rows>1</rows><cols>5</cols><dt>d</dt>\n  <data>-0.3 0.2 0.001 0.0002 -0.07</data></DistortionCoeffs>\n<Rotation type_id=\"opencv-matrix\"><rows>3</rows><cols>1</cols><dt>d</dt>\n  <data>0.0 0.0 1.57</data></Rotation>\n<Translation type_id=\"opencv-matrix\"><rows>3</rows><cols>1</cols><dt>d</dt>\n  <data>100. 200. 3000.</data></Translation>\n</opencv_storage>\n";
    type Parser = Box<dyn Fn(&str)>;
    let opencv_camera = |fs: Result<opencv::FileStorage, formats::ImportError>| {
        if let Ok(fs) = fs {
            let _ = opencv::camera(&fs, Path::new("c"), W, H, Units::Metres, &mut Vec::new());
        }
    };
    let cases: Vec<(&str, String, Parser)> = vec![
        (
            "yaml",
            opencv_yaml(&rig[0], true),
            Box::new(move |t| opencv_camera(formats::opencv_yaml::parse(t, Path::new("c.yml")))),
        ),
        (
            "yaml fisheye",
            opencv_yaml(&rig[1], false),
            Box::new(move |t| opencv_camera(formats::opencv_yaml::parse(t, Path::new("c.yml")))),
        ),
        (
            "xml",
            xml.to_owned(),
            Box::new(move |t| opencv_camera(opencv::FileStorage::parse(t, Path::new("c.xml")))),
        ),
        (
            "cameras.txt",
            colmap_cameras(&crig, &COLMAP_MODELS),
            Box::new(|t| {
                let _ = colmap::parse_cameras(t, Path::new("cameras.txt"));
            }),
        ),
        (
            "images.txt",
            colmap_images(&crig, &COLMAP_NAMES),
            Box::new(|t| {
                let _ = colmap::parse_images(t, Path::new("images.txt"));
            }),
        ),
        (
            "transforms.json",
            transforms(&nerfstudio_rig(RT, RADIAL), "OPENCV"),
            Box::new(|t| {
                if let Ok(tr) = nerfstudio::parse(t, Path::new("transforms.json")) {
                    for f in &tr.frames {
                        let _ = f.lens.intrinsics(W, H, Path::new("t"), "f");
                    }
                }
            }),
        ),
        (
            "_par.txt",
            MIDDLEBURY_PAR.to_owned(),
            Box::new(|t| {
                let _ = formats::middlebury::parse(t, Path::new("dino_par.txt"));
            }),
        ),
        (
            "panoptic",
            panoptic_json(&[("00_00", "hd", &rig[0]), ("00_01", "hd", &rig[2])]),
            Box::new(|t| {
                let _ = panoptic::parse(t, Path::new("calibration.json"), &mut Vec::new());
            }),
        ),
    ];
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for (name, text, parse) in &cases {
        for i in 0..2500 {
            let m = mutate(text, &mut rng);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&m)));
            assert!(r.is_ok(), "{name}: mutation {i} panicked:\n{m}");
        }
    }
    // The binary COLMAP files: bytes flipped, cut, duplicated (counts and lengths included).
    type BinParser = Box<dyn Fn(&[u8])>;
    let binary: Vec<(&str, Vec<u8>, BinParser)> = vec![
        (
            "cameras.bin",
            colmap_cameras_bin(&crig, &COLMAP_MODELS),
            Box::new(|b| {
                let _ = formats::colmap_bin::parse_cameras(b, Path::new("cameras.bin"));
            }),
        ),
        (
            "images.bin",
            colmap_images_bin(&crig, &COLMAP_NAMES),
            Box::new(|b| {
                let _ = formats::colmap_bin::parse_images(b, Path::new("images.bin"));
            }),
        ),
    ];
    for (name, bytes, parse) in &binary {
        for i in 0..2500 {
            let mut m = bytes.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(m.len() + 1);
                match rng.below(4) {
                    0 if at < m.len() => m[at] = BYTES[rng.below(BYTES.len())],
                    1 if at < m.len() => m[at] ^= 1 << rng.below(8),
                    2 => {
                        let end = (at + rng.below(32)).min(m.len());
                        let chunk = m[at..end].to_vec();
                        let to = rng.below(m.len() + 1);
                        m.splice(to..to, chunk);
                    }
                    _ => m.truncate(at),
                }
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&m)));
            assert!(r.is_ok(), "{name}: mutation {i} panicked: {m:?}");
        }
    }
}

/// An OpenEXR image sequence (what VFX pipelines and some machine-vision rigs write) decodes
/// like the same frames as PNG: written here with the ffmpeg command (skipped without it).
#[test]
fn exr_sequences_decode_like_png() {
    let dir = tempfile::tempdir().expect("tempdir");
    let make = |pattern: &str, args: &[&str]| {
        std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc=size=64x48:rate=5")
            .args(["-frames:v", "3"])
            .args(args)
            .arg(dir.path().join(pattern))
            .status()
    };
    let Ok(status) = make("f_%03d.exr", &["-c:v", "exr", "-pix_fmt", "gbrpf32le"]) else {
        eprintln!("skipped: the ffmpeg command is not installed");
        return;
    };
    assert!(status.success());
    assert!(make("f_%03d.png", &[]).expect("ffmpeg").success());
    let frames = |pattern: &str| {
        let mut r = replay360::media::VideoReader::open(&dir.path().join(pattern), 1)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().expect("decodes") {
            out.push(f.image);
        }
        out
    };
    let (exr, png) = (frames("f_%03d.exr"), frames("f_%03d.png"));
    assert_eq!(exr.len(), 3);
    assert_eq!(png.len(), 3);
    for (a, b) in exr.iter().zip(&png) {
        assert_eq!(a.dimensions(), (64, 48));
        // The float round trip (RGB -> planar float -> RGB) moves a level or two at most.
        let worst = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0);
        assert!(worst <= 3, "EXR differs from PNG by up to {worst} levels");
    }
}

/// Still captures choose their segmentation in one place: masks when every camera has one,
/// else the images' alpha, else a background model; partial masks are dropped with a warning.
#[test]
fn stills_choose_masks_alpha_or_background() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rgb, rgba) = (dir.path().join("a.png"), dir.path().join("b.png"));
    png(&rgb, false);
    png(&rgba, true);
    let rig = rig(&[Distortion::None, Distortion::None]);
    let cams = |media: &Path, masks: [bool; 2]| -> Vec<ImportedCamera> {
        rig.iter()
            .zip(masks)
            .enumerate()
            .map(|(i, (c, m))| {
                let mut cam = ImportedCamera::still(
                    format!("c{i}"),
                    media.to_path_buf(),
                    c.intrinsics,
                    c.pose,
                );
                cam.mask = m.then(|| rgb.clone());
                cam
            })
            .collect()
    };
    let src = Path::new("transforms.json");
    let all = formats::Imported::stills(cams(&rgb, [true, true]), Vec::new(), src);
    assert_eq!(all.segmentation, Segmentation::Mask);
    assert!(all.warnings.is_empty());
    let some = formats::Imported::stills(cams(&rgba, [true, false]), Vec::new(), src);
    assert_eq!(some.segmentation, Segmentation::Alpha);
    assert!(some.cameras.iter().all(|c| c.mask.is_none()));
    assert!(
        some.warnings.len() == 1 && some.warnings[0].contains("1 of 2"),
        "{:?}",
        some.warnings
    );
    let none = formats::Imported::stills(cams(&rgb, [false, false]), Vec::new(), src);
    assert_eq!(none.segmentation, Segmentation::Background);
}
