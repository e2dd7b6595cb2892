//! 3D Gaussian splat PLY files made by another tool: the benchmark's generator script
//! (`../shared/bench/make_splat_ply.py`, numpy), read back and checked against what it wrote.
//! Skipped with a note when python3, numpy or the script is missing.

mod common;

use replay360::formats::gaussian_ply::GaussianCloud;
use std::path::PathBuf;
use std::process::Command;

fn script() -> Option<PathBuf> {
    let here = common::repo();
    [
        here.join("../shared/bench/make_splat_ply.py"),
        PathBuf::from("/work/shared/bench/make_splat_ply.py"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

fn python_has_numpy() -> bool {
    Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn reads_the_benchmark_generators_file() {
    let Some(script) = script() else {
        eprintln!("note: make_splat_ply.py not found beside the checkout; test skipped");
        return;
    };
    if !python_has_numpy() {
        eprintln!("note: python3 with numpy is not available; test skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ply = dir.path().join("person.ply");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&ply)
        .arg("2000")
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The mean position as numpy sees it, straight from the file's bytes.
    let mean = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, numpy as np\n\
             b = open(sys.argv[1], 'rb').read()\n\
             h = b.index(b'end_header\\n') + 11\n\
             d = np.frombuffer(b[h:], dtype='<f4').reshape(-1, 62)\n\
             print(*d[:, :3].astype(np.float64).mean(axis=0))",
        )
        .arg(&ply)
        .output()
        .expect("python3 runs");
    let want: Vec<f64> = String::from_utf8_lossy(&mean.stdout)
        .split_whitespace()
        .map(|t| t.parse().expect("number"))
        .collect();
    assert_eq!(want.len(), 3, "numpy mean: {want:?}");

    let c = GaussianCloud::read(&ply).expect("read");
    assert_eq!(c.len(), 2000);
    assert_eq!(c.sh_rest_len, 45);
    let m = c.centroid();
    for k in 0..3 {
        assert!(
            (m[k] as f64 - want[k]).abs() < 1e-5,
            "mean {m:?} vs {want:?}"
        );
    }
    // The person stands along +Y around the origin: the segments' midpoints average to
    // (0, 0.044, 0); 2000 random samples stay within a centimetre or two of it.
    assert!(m[0].abs() < 0.02 && (m[1] - 0.044).abs() < 0.02 && m[2].abs() < 0.02);
    let (lo, hi) = c.bounds().expect("bounds");
    assert!(
        hi[1] - lo[1] > 1.7,
        "about 1.9 m tall along y: {lo:?} {hi:?}"
    );
    let sig2 = 1.0 / (1.0 + (-2.0f32).exp());
    assert!((sig2 - 0.8808).abs() < 1e-4);
    for i in 0..c.len() {
        assert!((c.opacities[i] - sig2).abs() < 1e-6, "opacity {i}");
        for k in 0..3 {
            assert!((c.scales[i][k] - 0.008).abs() < 1e-7, "scale {i}");
            assert!((0.0..=1.0).contains(&c.colours[i][k]), "colour {i}");
        }
        assert_eq!(c.rotations[i], [1.0, 0.0, 0.0, 0.0]);
    }
    // Written back and read again: the same cloud.
    let again = dir.path().join("again.ply");
    c.write(&again).expect("write");
    let back = GaussianCloud::read(&again).expect("read back");
    assert_eq!(back.len(), c.len());
    assert_eq!(back.positions, c.positions);
    assert_eq!(back.rotations, c.rotations);
    assert_eq!(back.sh_rest, c.sh_rest);
    // Colour, opacity and scale go through f_dc, logit and log and back: equal within f32.
    let near = |a: f32, b: f32| (a - b).abs() <= 2e-6 * (1.0 + a.abs());
    for i in 0..c.len() {
        assert!(near(back.opacities[i], c.opacities[i]));
        for k in 0..3 {
            assert!(near(back.colours[i][k], c.colours[i][k]));
            assert!(near(back.scales[i][k], c.scales[i][k]));
        }
    }
}
