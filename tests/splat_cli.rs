//! `export-ply` and `orbit-ply` end to end: a hand-made one-instant reconstruction written as
//! 3D Gaussian splats, read back, and orbited; bad input reported with the file's name.

use replay360::formats::gaussian_ply::GaussianCloud;
use replay360::reconstruct::SplatFrame;
use replay360::reconstruct::format::write_ply;
use serde_json::json;
use std::path::Path;

mod common;
use common::{fails, ok};

/// A reconstruction with one instant at t = 0.5 s: 300 splats on a vertical ring.
fn recon(dir: &Path) -> SplatFrame {
    std::fs::create_dir_all(dir.join("frames")).expect("mkdir");
    let mut f = SplatFrame::default();
    for i in 0..300 {
        let a = i as f32 / 300.0 * std::f32::consts::TAU;
        f.positions.push([0.4 * a.cos(), 0.0, 1.0 + 0.4 * a.sin()]);
        f.normals.push([a.cos(), 0.0, a.sin()]);
        f.colours.push([200, (i % 256) as u8, 40]);
        f.radii.push(0.02);
    }
    write_ply(&dir.join("frames/000000.ply"), &f, "test").expect("ply");
    let capture = json!({
        "format": "replay360-capture", "version": 1, "name": "t",
        "cameras": [{"id": "c0", "video": "c0.mp4", "width": 64, "height": 48, "fps": 25.0,
            "intrinsics": {"fx": 50.0, "fy": 50.0, "cx": 31.5, "cy": 23.5},
            "extrinsics": {"convention": "world_to_camera_opencv",
                "rotation": [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]],
                "translation": [0.0, 1.0, 4.0]}}]
    });
    std::fs::write(dir.join("capture.json"), capture.to_string()).expect("write");
    let r = json!({
        "format": "replay360-recon", "version": 1, "capture": dir.join("capture.json"),
        "cameras": ["c0"], "held_out": [], "sync": [], "voxel_size": 0.025, "fps": 25.0,
        "frames": [{"index": 0, "time": 0.5, "file": "frames/000000.ply", "splats": 300,
            "centroid": [0.0, 0.0, 1.0], "bbox_min": [-0.4, 0.0, 0.6],
            "bbox_max": [0.4, 0.0, 1.4], "volume_m3": 0.01}],
        "backgrounds": [], "analysis": null, "timings": {}
    });
    std::fs::write(dir.join("recon.json"), r.to_string()).expect("write");
    f
}

#[test]
fn export_ply_and_orbit_ply() {
    for cmd in ["export-ply", "orbit-ply"] {
        let out = ok(&[cmd, "--help"]);
        assert!(
            out.contains("Usage") && out.contains("--up"),
            "{cmd} --help"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let frame = recon(&dir.path().join("recon"));

    // Z up, as replay360's world.
    let out = ok(&[
        "export-ply",
        &d("recon"),
        "--time",
        "0.5",
        "--out",
        &d("ring.ply"),
    ]);
    assert!(out.contains("300 Gaussians"), "{out}");
    let c = GaussianCloud::read(&dir.path().join("ring.ply")).expect("read");
    assert_eq!(c.len(), 300);
    assert_eq!(c.positions, frame.positions);
    assert!((c.scales[0][0] - 0.02 / 2f32.sqrt()).abs() < 1e-6);
    assert!((c.colours[5][0] - 200.0 / 255.0).abs() < 1e-5);
    // Y up for other tools: world z becomes the file's y.
    ok(&[
        "export-ply",
        &d("recon"),
        "--time",
        "0.5",
        "--out",
        &d("ring_y.ply"),
        "--up",
        "+y",
    ]);
    let y = GaussianCloud::read(&dir.path().join("ring_y.ply")).expect("read");
    for (p, q) in y.positions.iter().zip(&frame.positions) {
        assert!(
            (p[1] - q[2]).abs() < 1e-5 && (p[0] - q[0]).abs() < 1e-5,
            "{p:?} {q:?}"
        );
    }

    // An orbit around it as PNGs with alpha.
    let out = ok(&[
        "orbit-ply",
        &d("ring_y.ply"),
        "--up",
        "+y",
        "--out",
        &d("orbit"),
        "--frames",
        "3",
        "--size",
        "96x64",
    ]);
    assert!(out.contains("3 frames 96x64"), "{out}");
    for i in 0..3 {
        let img = image::open(dir.path().join(format!("orbit/frame_{i:05}.png")))
            .expect("frame")
            .to_rgba8();
        assert_eq!(img.dimensions(), (96, 64));
        let covered = img.pixels().filter(|p| p.0[3] > 128).count();
        let clear = img.pixels().filter(|p| p.0[3] == 0).count();
        assert!(
            covered > 30 && clear > 96 * 64 / 2,
            "frame {i}: {covered} {clear}"
        );
    }

    // Bad input.
    let e = fails(&[
        "export-ply",
        &d("recon"),
        "--time",
        "9",
        "--out",
        &d("x.ply"),
    ]);
    assert!(e.contains("outside the reconstruction"), "{e}");
    let e = fails(&[
        "export-ply",
        &d("recon"),
        "--out",
        &d("x.ply"),
        "--up",
        "+w",
    ]);
    assert!(e.contains("up axis"), "{e}");
    std::fs::write(dir.path().join("broken.ply"), b"ply\nformat ascii 1.0\n").expect("write");
    let e = fails(&["orbit-ply", &d("broken.ply"), "--out", &d("o.mp4")]);
    assert!(e.contains("broken.ply") && e.contains("end_header"), "{e}");
    let e = fails(&[
        "orbit-ply",
        &d("ring.ply"),
        "--out",
        &d("o.mp4"),
        "--size",
        "big",
    ]);
    assert!(e.contains("WIDTHxHEIGHT"), "{e}");
    assert!(!dir.path().join("o.mp4").exists() && !dir.path().join("x.ply").exists());
}
