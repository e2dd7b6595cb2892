//! The pipeline against the synthetic venue's ground truth, on the `tiny` preset
//! (8 cameras + 2 held out, 480x270, 25 fps).

use replay360::capture::Capture;
use replay360::media::VideoReader;
use replay360::pipeline::{ReconstructOptions, reconstruct};
use replay360::reconstruct::Reconstruction;
use replay360::synth::venue::FENCE_X;
use replay360::synth::{self, Preset, SynthOptions, Truth};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One tiny capture and its reconstruction, shared by the tests in this file.
fn fixture() -> &'static (PathBuf, PathBuf) {
    static FIXTURE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("replay360-pipeline-{}", std::process::id()));
        let cap = dir.join("capture");
        let rec = dir.join("recon");
        let preset = Preset::by_name("tiny").expect("tiny preset");
        synth::generate(&SynthOptions { preset, seed: 11 }, &cap).expect("synth");
        reconstruct(&cap, &rec, &ReconstructOptions::default()).expect("reconstruct");
        (cap, rec)
    })
}

fn frames_of(video: &Path, n: usize) -> Vec<Vec<u8>> {
    let mut r = VideoReader::open(video, 1).expect("open video");
    (0..n)
        .map(|_| {
            r.next_frame()
                .expect("decode")
                .expect("frame")
                .image
                .into_raw()
        })
        .collect()
}

#[test]
fn synth_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let preset = Preset::by_name("tiny").expect("tiny preset");
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    synth::generate(
        &SynthOptions {
            preset: preset.clone(),
            seed: 3,
        },
        &a,
    )
    .expect("synth a");
    synth::generate(
        &SynthOptions {
            preset: preset.clone(),
            seed: 3,
        },
        &b,
    )
    .expect("synth b");
    synth::generate(&SynthOptions { preset, seed: 4 }, &c).expect("synth c");
    let read = |p: &Path| std::fs::read_to_string(p).expect("read");
    assert_eq!(read(&a.join("capture.json")), read(&b.join("capture.json")));
    assert_eq!(
        read(&a.join("truth/truth.json")),
        read(&b.join("truth/truth.json"))
    );
    assert_ne!(
        read(&a.join("truth/truth.json")),
        read(&c.join("truth/truth.json"))
    );
    for cam in ["cam00", "cam05", "held01"] {
        let fa = frames_of(&a.join(format!("videos/{cam}.mp4")), 40);
        let fb = frames_of(&b.join(format!("videos/{cam}.mp4")), 40);
        assert!(
            fa == fb,
            "{cam}: decoded frames differ between two runs with the same seed"
        );
    }
}

#[test]
fn capture_manifest_is_consistent_with_its_videos() {
    let (cap, _) = fixture();
    let capture = Capture::open(cap).expect("capture");
    assert_eq!(capture.cameras.len(), 10);
    assert_eq!(capture.cameras.iter().filter(|c| c.held_out).count(), 2);
    for c in &capture.cameras {
        let r = VideoReader::open(&c.video, 1).expect("video");
        assert_eq!((r.info().width, r.info().height), (480, 270), "{}", c.id);
        assert!((r.info().fps - 25.0).abs() < 1e-6, "{}", c.id);
    }
}

#[test]
fn sync_recovers_the_true_offsets() {
    let (cap, rec) = fixture();
    let truth = Truth::load(cap).expect("truth");
    let recon = Reconstruction::open(rec).expect("recon");
    // Offsets are drawn in ±0.5 s, so up to 25 frames apart; the estimate must be within
    // 0.4 frame of the truth on this low-resolution preset (measured 0.30; the demo preset
    // gets 0.06).
    let errors = sync_errors(&truth, &recon);
    let worst = errors.iter().copied().fold(0.0, f64::max);
    assert!(worst < 0.4, "largest sync error {worst:.3} frames");
    // Held-out cameras are never read.
    assert!(
        recon
            .manifest
            .sync
            .iter()
            .all(|s| !s.camera.starts_with("held"))
    );
    assert_eq!(
        recon.manifest.held_out,
        vec!["held00".to_owned(), "held01".to_owned()]
    );
}

/// Each camera's sync error against the truth, in its own frames.
fn sync_errors(truth: &Truth, recon: &Reconstruction) -> Vec<f64> {
    recon
        .manifest
        .sync
        .iter()
        .map(|s| {
            let t = truth.camera(&s.camera).expect("camera in truth");
            (s.offset_s - t.offset_s).abs() * s.fps
        })
        .collect()
}

/// The hull refinement of sync beats the centroid estimate it starts from. On this small,
/// low-resolution capture the mean error drops from 0.18 to 0.05 frame and the worst from 0.50
/// to 0.19; on the 1280x720 demo captures (seeds 7 and 3) the mean goes from 0.06 to 0.03
/// and the worst from 0.13 to 0.06-0.08.
#[test]
fn hull_refinement_improves_sync() {
    let (cap, rec) = fixture();
    let truth = Truth::load(cap).expect("truth");
    let refined = sync_errors(&truth, &Reconstruction::open(rec).expect("recon"));
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("recon");
    let opts = ReconstructOptions {
        sync_refine: false,
        stride: 8,
        ..Default::default()
    };
    reconstruct(cap, &plain, &opts).expect("reconstruct");
    let centroid = sync_errors(&truth, &Reconstruction::open(&plain).expect("recon"));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "sync error: centroid mean {:.3} max {:.3}; refined mean {:.3} max {:.3}",
        mean(&centroid),
        max(&centroid),
        mean(&refined),
        max(&refined)
    );
    assert!(
        mean(&refined) < 0.85 * mean(&centroid),
        "mean: refined {:.3} vs centroid {:.3} frames",
        mean(&refined),
        mean(&centroid)
    );
    assert!(
        max(&refined) < 0.75 * max(&centroid),
        "worst: refined {:.3} vs centroid {:.3} frames",
        max(&refined),
        max(&centroid)
    );
}

/// By default a splat seen by a camera keeps what its most squarely facing cameras saw
/// (heaviest first, the heaviest of weight 1, each camera facing the surface), and the frames
/// carry them: on the tiny capture 81% of the splats have samples (no camera sees the rest
/// unhidden). With `view_colour: false` there are none.
#[test]
fn view_samples_are_kept_unless_turned_off() {
    let (cap, out) = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("recon");
    let opts = ReconstructOptions {
        stride: 8,
        view_colour: false,
        ..Default::default()
    };
    reconstruct(cap, &plain, &opts).expect("reconstruct");
    let plain = Reconstruction::open(&plain).expect("recon");
    assert!(
        plain.load_frame(0).expect("frame").view.is_empty(),
        "no view samples without view_colour"
    );
    let r = Reconstruction::open(out).expect("recon");
    let (mut splats, mut with, mut two_or_more) = (0usize, 0usize, 0usize);
    for i in 0..r.manifest.frames.len() {
        let f = r.load_frame(i).expect("frame");
        assert_eq!(f.view.len(), f.len(), "frame {i}");
        for (j, v) in f.view.iter().enumerate() {
            splats += 1;
            let s: Vec<_> = v.samples().collect();
            if s.is_empty() {
                continue;
            }
            with += 1;
            two_or_more += usize::from(s.len() >= 2);
            assert_eq!(s[0].weight, 1.0);
            assert!(s.windows(2).all(|w| w[0].weight >= w[1].weight));
            // Each camera faces the surface (the colour pass takes none that sees it edge-on or
            // from behind), and each sample is another camera's (no two directions alike).
            let n = nalgebra::Vector3::from(f.normals[j].map(f64::from));
            let dirs: Vec<_> = s
                .iter()
                .map(|smp| nalgebra::Vector3::from(smp.towards_camera.map(f64::from)))
                .collect();
            for (a, d) in dirs.iter().enumerate() {
                assert!(
                    d.dot(&n) > 0.049,
                    "frame {i} splat {j}: facing {}",
                    d.dot(&n)
                );
                for e in &dirs[..a] {
                    assert!(d.dot(e) < 1f64.to_radians().cos(), "frame {i} splat {j}");
                }
            }
        }
    }
    assert!(splats > 0);
    assert!(
        with * 4 > splats * 3,
        "{with} of {splats} splats have samples"
    );
    assert!(
        two_or_more * 2 > with,
        "{two_or_more} of {with} seen by two cameras or more"
    );
}

/// `substeps: 2` reconstructs halfway between the reference camera's frames too, and those
/// in-between instants lie on the body as it was at their own time (not at a neighbour's).
#[test]
fn substeps_reconstruct_between_frames() {
    let (cap, rec) = fixture();
    let full = Reconstruction::open(rec).expect("recon");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("recon");
    let opts = ReconstructOptions {
        stride: 3,
        substeps: 2,
        ..Default::default()
    };
    reconstruct(cap, &out, &opts).expect("reconstruct");
    let half = Reconstruction::open(&out).expect("recon");
    // Every 3rd of the half-frame grid: a frame and a half apart.
    let spacing = 1.5 / full.manifest.fps;
    assert!((half.manifest.fps - 2.0 * full.manifest.fps / 3.0).abs() < 1e-9);
    let times: Vec<f64> = half.manifest.frames.iter().map(|f| f.time).collect();
    assert!(times.len() > 10);
    for w in times.windows(2) {
        let steps = (w[1] - w[0]) / spacing;
        assert!(
            steps > 0.5 && (steps - steps.round()).abs() < 1e-6,
            "instants at {times:?}"
        );
    }
    // Odd multiples of half a frame exist (instants between the reference frames).
    let fps = full.manifest.fps;
    assert!(
        times
            .iter()
            .any(|t| ((t * fps * 2.0).round() as i64) % 2 == 1),
        "no instant between frames: {times:?}"
    );
    // Each such instant is closer to the true body at its own time than at the frames either
    // side of it.
    let athlete = Truth::load(cap).expect("truth").athlete();
    let (mut own, mut neighbours) = (0.0, 0.0);
    for (i, f) in half.manifest.frames.iter().enumerate() {
        if ((f.time * fps * 2.0).round() as i64) % 2 == 0 || f.splats == 0 {
            continue;
        }
        let frame = half.load_frame(i).expect("frame");
        let dist = |t: f64| {
            let pose = athlete.pose(t);
            let d: f64 = frame
                .positions
                .iter()
                .map(|p| {
                    let q = nalgebra::Point3::new(p[0] as f64, p[1] as f64, p[2] as f64);
                    pose.signed_distance(&q).abs()
                })
                .sum();
            d / frame.positions.len() as f64
        };
        own += dist(f.time);
        neighbours += 0.5 * (dist(f.time - 0.5 / fps) + dist(f.time + 0.5 / fps));
    }
    eprintln!("mean surface distance: own time {own:.3}, neighbouring frames {neighbours:.3}");
    assert!(own < neighbours, "{own:.3} against {neighbours:.3}");
}

#[test]
fn reconstruction_lies_on_the_true_body_surface() {
    let (cap, rec) = fixture();
    let truth = Truth::load(cap).expect("truth");
    let athlete = truth.athlete();
    let recon = Reconstruction::open(rec).expect("recon");
    let voxel = recon.manifest.voxel_size;
    let mut dists = Vec::new();
    let mut checked = 0;
    for (i, f) in recon.manifest.frames.iter().enumerate().step_by(4) {
        let frame = recon.load_frame(i).expect("frame");
        if frame.is_empty() {
            continue;
        }
        checked += 1;
        let pose = athlete.pose(f.time);
        for p in &frame.positions {
            let q = nalgebra::Point3::new(p[0] as f64, p[1] as f64, p[2] as f64);
            dists.push(pose.signed_distance(&q).abs());
        }
    }
    assert!(checked > 15, "only {checked} non-empty frames");
    dists.sort_by(f64::total_cmp);
    let median = dists[dists.len() / 2];
    let p90 = dists[dists.len() * 9 / 10];
    eprintln!("surface distance: median {median:.3} m, p90 {p90:.3} m, voxel {voxel:.3} m");
    // A visual hull from 8 cameras encloses the body loosely (concavities and the gaps between
    // limbs cannot be carved); bounds in voxels of this preset's 5 cm grid.
    assert!(median < 1.5 * voxel, "median distance {median:.3} m");
    assert!(p90 < 4.0 * voxel, "90th percentile distance {p90:.3} m");
}

/// The athlete's rigid motion measured between instants (`reconstruct::motion`: coarse hulls
/// registered instant to instant) against the truth: the trunk's turn rate and the centre of
/// mass's velocity, over the frames in the air. Assuming no turn at all errs by the whole turn
/// rate (median 4.45 rad/s here); the tiny preset's 5 cm voxels pin the somersault but not the
/// fast twist, so the bound is loose (median 2.29 rad/s and 1.02 m/s when written; on the demo
/// capture, with 2.6 cm voxels, 0.38 rad/s).
#[test]
fn the_measured_motion_follows_the_athletes_turn() {
    let (cap, rec) = fixture();
    let truth = Truth::load(cap).expect("truth");
    let athlete = truth.athlete();
    let recon = Reconstruction::open(rec).expect("recon");
    let (mut turn_err, mut turn, mut speed_err) = (Vec::new(), Vec::new(), Vec::new());
    for f in &recon.manifest.frames {
        let Some(m) = f.motion else { continue };
        let h = 0.005;
        let (a, b) = (athlete.pose(f.time - h), athlete.pose(f.time + h));
        if !(a.airborne && b.airborne) {
            continue;
        }
        let r = b.primitives[0].world_from_local.rotation
            * a.primitives[0].world_from_local.rotation.inverse();
        let w = r.scaled_axis() / (2.0 * h);
        // The body's velocity where the pivot is (the hull's centroid, not the centre of mass).
        let com = nalgebra::center(&a.centre_of_mass, &b.centre_of_mass);
        let v = (b.centre_of_mass - a.centre_of_mass) / (2.0 * h)
            + w.cross(&(nalgebra::Point3::from(m.pivot) - com));
        turn_err.push((w - nalgebra::Vector3::from(m.angular)).norm());
        turn.push(w.norm());
        speed_err.push((v - nalgebra::Vector3::from(m.linear)).norm());
    }
    assert!(
        turn.len() > 30,
        "only {} frames in the air with a motion",
        turn.len()
    );
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (e, w, s) = (
        median(&mut turn_err),
        median(&mut turn),
        median(&mut speed_err),
    );
    eprintln!("turn rate error median {e:.2} rad/s (turn rate {w:.2}); velocity error {s:.2} m/s");
    assert!(
        e < 0.7 * w,
        "turn rate off by {e:.2} rad/s (turning at {w:.2})"
    );
    assert!(s < 1.5, "velocity off by {s:.2} m/s");
}

/// The venue's ground measured from the background plates lies closer to the true snow than
/// the athlete's contact profile it starts from, over the ground the rig looks at. On the demo
/// preset (16 cameras at 1280x720; from the tiny preset's 480x270 plates the measurement is not
/// reliable, see README): with seed 3, medians 1.8 m against 3.3 m when written (the contact
/// profile levels out beyond the landing, the hill goes on down; the rig's cameras, which stand
/// above the snow, and the dye lines on the hill pull the measured ground down). The fences
/// found in the same plates are checked against the truth too.
#[test]
fn measured_venue_ground_is_closer_to_the_snow_than_the_contact_profile() {
    let dir = std::env::temp_dir().join(format!("replay360-venue-{}", std::process::id()));
    let (cap, rec) = (dir.join("capture"), dir.join("recon"));
    let preset = Preset::by_name("demo").expect("demo preset");
    synth::generate(&SynthOptions { preset, seed: 3 }, &cap).expect("synth");
    reconstruct(&cap, &rec, &ReconstructOptions::default()).expect("reconstruct");
    let truth = Truth::load(&cap).expect("truth");
    let snow = replay360::synth::venue::Venue::new(truth.venue.clone());
    let recon = Reconstruction::open(&rec).expect("recon");
    let model = recon.manifest.venue.as_ref().expect("a venue model");
    let measured = model.terrain.as_ref().expect("a measured ground");
    assert!(measured.is_valid());
    let ((s0, s1), (l0, l1)) = measured.extent();
    let (mut ours, mut contacts) = (Vec::new(), Vec::new());
    for i in 0..=40 {
        for j in 0..=40 {
            let (s, l) = (
                s0 + (s1 - s0) * i as f64 / 40.0,
                l0 + (l1 - l0) * j as f64 / 40.0,
            );
            let p = model.ground_point(s, l);
            let z = snow.height(p.x, p.y);
            ours.push((p.z - z).abs());
            contacts.push((model.profile_point(s, l).z - z).abs());
        }
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v.iter().sum::<f64>() / v.len() as f64)
    };
    let (ours_median, ours_mean) = stats(&mut ours);
    let (contacts_median, contacts_mean) = stats(&mut contacts);
    eprintln!(
        "ground height error: measured median {ours_median:.2} m, mean {ours_mean:.2} m; \
         contact profile median {contacts_median:.2} m, mean {contacts_mean:.2} m"
    );
    // The fences (1.2 m high, 11 m either side of the course, along x) are found where they
    // stand: each side's, within 10 cm of its offset and 20 cm of its height, along the
    // course's direction over at least 20 m, and nothing else. The height is the least sure:
    // how many spots agree fades over the fence's top 30 cm, and where the sharpest fall lies
    // moves with small changes to the plates (this capture's right fence: 1.03 m as landed,
    // 0.93 m when the silhouettes are moved between frames by their raw centroids instead).
    // Since the walls reach down to their measured feet (which lie 0.1-0.15 m low here) they
    // come out taller: 1.42 and 1.32 m, and the held-out PSNR rises 23.33 -> 23.57 dB; hence
    // 0.3 m, not 0.2.
    let fences = &model.fences;
    let frame = model.frame();
    for side in [1.0, -1.0] {
        let found: Vec<_> = fences.iter().filter(|f| f.l * side > 0.0).collect();
        assert_eq!(found.len(), 1, "side {side}: {fences:?}");
        let f = found[0];
        for s in [f.s.0, 0.5 * (f.s.0 + f.s.1), f.s.1] {
            let p = frame.point(s, f.l, 0.0);
            assert!(
                (p.y.abs() - truth.venue.fence_y).abs() < 0.1,
                "fence at y {:.3} m, truly {:.3}: {f:?}",
                p.y,
                truth.venue.fence_y
            );
        }
        assert!(
            (f.height - truth.venue.fence_height).abs() < 0.3,
            "height {:.3} m, truly {:.3}",
            f.height,
            truth.venue.fence_height
        );
        // Lengthwise: it covers the stretch of the truth's fence the rig stands beside, to
        // within 3 m at each end. Where the views cannot judge the fence (the in-run end, seen
        // edge-on by the few cameras facing that way) it is carried on to the rig's end rather
        // than stopped short, so it may overrun the truth there, but never past the rig's
        // cameras and by no more than 8 m.
        let rig_x = Capture::open(&cap)
            .expect("capture")
            .cameras
            .iter()
            .filter(|c| !recon.manifest.held_out.contains(&c.id))
            .map(|c| c.camera.centre().x)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |r, x| {
                (r.0.min(x), r.1.max(x))
            });
        let want = (FENCE_X.0.max(rig_x.0), FENCE_X.1.min(rig_x.1));
        let got = (
            frame.point(f.s.0, f.l, 0.0).x,
            frame.point(f.s.1, f.l, 0.0).x,
        );
        eprintln!(
            "fence {side}: x {:.1} to {:.1} m (the truth's beside the rig: {:.1} to {:.1}; rig {:.1} to {:.1})",
            got.0, got.1, want.0, want.1, rig_x.0, rig_x.1
        );
        let covers = got.0 < want.0 + 3.0 && got.1 > want.1 - 3.0;
        let overrun = (want.0 - got.0).max(got.1 - want.1);
        let within_rig = got.0 > rig_x.0 - 1.0 && got.1 < rig_x.1 + 1.0;
        assert!(
            covers && overrun < 8.0 && within_rig,
            "fence from x {:.1} to {:.1} m, truly {:.1} to {:.1} beside the rig (rig {:.1} to {:.1})",
            got.0,
            got.1,
            want.0,
            want.1,
            rig_x.0,
            rig_x.1
        );
        for name in [&f.inner_texture, &f.outer_texture] {
            let img = image::open(rec.join(name)).expect("fence texture");
            assert!(img.width() >= 16 && img.height() >= 8);
        }
    }
    // Each fence stands on the snow: its foot (measured where the views judge it, carried
    // beyond) against the true snow under it, as `eval` scores it. Measured when written:
    // median 0.13 and 0.15 m, 90th percentile 0.49 and 0.44 m (the carried ends); the snow
    // proxy under the fences was 0.2-0.3 m off before the feet were measured.
    let score = replay360::eval::venue::score(model, &truth.venue);
    for f in &score.fences {
        let foot = f
            .errors
            .as_ref()
            .and_then(|e| e.foot_error)
            .expect("a foot over the true fence's stretch");
        eprintln!("fence at y {:+.1} m: foot {foot:?}", f.y_m);
        assert!(
            foot.median_abs_m < 0.25 && foot.p90_abs_m < 0.8,
            "fence at y {:+.1} m: foot {foot:?}",
            f.y_m
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Measured here: median 0.34 m against 2.93, mean 0.70 against 5.52 (0.83 against 3.61
    // when the measured profile's ends first went on at their slope; about 1.8 m median when
    // they stayed level).
    assert!(
        ours_median < 0.4 * contacts_median && ours_median < 0.6,
        "median {ours_median:.2} m against {contacts_median:.2} m"
    );
    assert!(
        ours_mean < 0.5 * contacts_mean,
        "mean {ours_mean:.2} m against {contacts_mean:.2} m"
    );
}

/// A recon.json whose measured ground is malformed is an error naming the file, not a
/// venue drawn from nonsense.
#[test]
fn a_malformed_measured_ground_is_an_error_naming_the_file() {
    let (_, rec) = fixture();
    let text = std::fs::read_to_string(rec.join("recon.json")).expect("recon.json");
    let mut m: serde_json::Value = serde_json::from_str(&text).expect("json");
    m["venue"]["terrain"] =
        serde_json::json!({"along": [[0.0, 1.0]], "across": [[0.0, 0.0], [1.0, 0.0]]});
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("recon.json");
    let open_err = |m: &serde_json::Value| {
        std::fs::write(&path, m.to_string()).expect("write");
        Reconstruction::open(dir.path())
            .expect_err("an error")
            .to_string()
    };
    let err = open_err(&m);
    assert!(err.contains("measured ground"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    // A fence standing backwards (ending before it starts) likewise.
    let mut m: serde_json::Value = serde_json::from_str(&text).expect("json");
    m["venue"]["fences"] = serde_json::json!([{
        "l": 11.0, "s": [5.0, -5.0], "height": 1.2,
        "inner_texture": "venue/f_in.png", "outer_texture": "venue/f_out.png"
    }]);
    let err = open_err(&m);
    assert!(err.contains("fence 0"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn analysis_finds_take_off_apex_and_landing() {
    let (cap, rec) = fixture();
    let truth = Truth::load(cap).expect("truth");
    let recon = Reconstruction::open(rec).expect("recon");
    let a = recon
        .manifest
        .analysis
        .as_ref()
        .expect("a flight is detected");
    assert!(
        (a.apex_time - truth.apex_time).abs() < 0.06,
        "apex {} vs {}",
        a.apex_time,
        truth.apex_time
    );
    // Take-off from where the centroid leaves the kicker's curve (it came 0.12-0.13 s early
    // when it was the first frame within the flight's tolerance, the take-off speed then a
    // metre a second high; here 0.004 s and 0.16 m/s low).
    assert!(
        (a.takeoff_time - truth.takeoff_time).abs() < 0.05,
        "take-off {} vs {}",
        a.takeoff_time,
        truth.takeoff_time
    );
    assert!(
        (a.takeoff_speed_mps - truth.athlete.takeoff_speed).abs() < 0.5,
        "take-off speed {} vs {}",
        a.takeoff_speed_mps,
        truth.athlete.takeoff_speed
    );
    assert!(
        (a.landing_time - truth.landing_time).abs() < 0.2,
        "landing {} vs {}",
        a.landing_time,
        truth.landing_time
    );
    let venue = recon.manifest.venue.as_ref().expect("venue model");
    assert!(rec.join(&venue.ground_texture).exists() && rec.join(&venue.dome_texture).exists());
}

/// The kicker in the venue's ground proxy: its lip where the synthetic kicker's is (world
/// x = 0, 2.13 m above the table), with the snow behind it dropping away. The plates of the
/// tiny preset are too coarse to measure, so this is the athlete's contact profile: on the
/// three captures this was checked on, its smoothing once reached across the flight and put
/// the lip 3 m low (a dip where the kicker stands), and the contacts stopped 0.13 s before
/// take-off, a metre and a half short of the lip. The proxy's lip is where the skis are at the
/// estimated take-off, so it lies as far along the course from the true lip as that estimate
/// is off (`analysis_finds_take_off_apex_and_landing` allows 0.05 s, 0.6 m of travel), and
/// on the kicker's last, steep metre (50°) the lowest point of a frame's hull stands up to a
/// frame's travel from the snow beneath it. When written the take-off was 0.026 s early and the
/// proxy's crest 0.65 m short of the true lip, 0.12 m above it (0.004 s late, the crest at the
/// lip, before the hull was carved with the athlete's motion, which keeps more of the skis and
/// moves the centroid the take-off is found from).
#[test]
fn the_venue_has_the_kicker_where_the_athlete_took_off() {
    let (cap, rec) = fixture();
    let truth = Truth::load(cap).expect("truth");
    let recon = Reconstruction::open(rec).expect("recon");
    let model = recon.manifest.venue.as_ref().expect("venue model");
    let venue = replay360::synth::venue::Venue::new(truth.venue.clone());
    let frame = model.frame();
    let at = |x: f64| {
        let (s, l) = frame.coords(&nalgebra::Point3::new(x, 0.0, 0.0));
        model.ground_point(s, l).z
    };
    // The proxy's crest near the true lip, in 5 cm steps.
    let (crest_x, crest) = (-20..=20)
        .map(|k| k as f64 * 0.05)
        .map(|x| (x, at(x)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("heights");
    let true_lip = venue.height(0.0, 0.0);
    eprintln!("crest {crest:.2} m at x = {crest_x:.2} m; true lip {true_lip:.2} m at 0");
    assert!(crest_x.abs() < 0.8, "the crest is at x = {crest_x:.2} m");
    assert!(
        (crest - true_lip).abs() < 0.3,
        "crest {crest:.2} m, lip {true_lip:.2}"
    );
    // A crest: the proxy drops 1.5 m behind it (truly 2.1 m behind the lip; its back face is
    // assumed at 45°, the real one is steeper) and stands lower 2 m before it.
    assert!(
        crest - at(crest_x + 1.5) > 0.7,
        "behind the crest {:.2} m",
        at(crest_x + 1.5)
    );
    assert!(
        crest - at(crest_x - 2.0) > 0.5,
        "up the ramp {:.2} m",
        at(crest_x - 2.0)
    );
}

#[test]
fn a_held_out_camera_is_refused_as_unknown_when_misspelt() {
    let (cap, _) = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = ReconstructOptions {
        hold_out: Some(vec!["nosuch".to_owned()]),
        ..Default::default()
    };
    let err = reconstruct(cap, &dir.path().join("r"), &opts).expect_err("unknown camera");
    assert!(err.to_string().contains("nosuch"), "{err}");
    assert!(!dir.path().join("r").exists(), "nothing is left behind");
}

#[test]
fn posture_skeletons_follow_the_true_joints() {
    use replay360::analyse::skeleton::{SkeletonParams, skeleton};
    let (cap, rec) = fixture();
    let truth = Truth::load(cap).expect("truth");
    let athlete = truth.athlete();
    let recon = Reconstruction::open(rec).expect("recon");
    let params = SkeletonParams::for_spacing(recon.manifest.voxel_size);
    let (mut inside, mut joints_total) = (Vec::new(), 0usize);
    let mut covered = Vec::new();
    for (i, f) in recon.manifest.frames.iter().enumerate().step_by(3) {
        let frame = recon.load_frame(i).expect("frame");
        if frame.len() < 50 {
            continue;
        }
        let pose = athlete.pose(f.time);
        let s = skeleton(&frame.positions, &params);
        joints_total += s.joints.len();
        // Joints lie inside the body (a visual hull is loose, so within a voxel or two of it).
        for j in &s.joints {
            inside.push(pose.signed_distance(j));
        }
        for (name, p) in &pose.joints {
            if *name == "pelvis" {
                covered.push(s.distance_to(p));
            }
        }
    }
    inside.sort_by(f64::total_cmp);
    let q = |v: &[f64], f: f64| v[((v.len() - 1) as f64 * f) as usize];
    let voxel = recon.manifest.voxel_size;
    let mut pelvis = covered;
    pelvis.sort_by(f64::total_cmp);
    eprintln!(
        "{joints_total} joints; signed distance median {:.3} p90 {:.3}; pelvis to skeleton median {:.3}",
        q(&inside, 0.5),
        q(&inside, 0.9),
        q(&pelvis, 0.5)
    );
    // The skeleton comes from the reconstruction alone, so it is as good as the hull: this
    // preset's 5 cm voxels and 8 cameras give a loose hull in which thin limbs merge. Its joints
    // still lie inside the true body or within a couple of voxels of it, and it runs through
    // the pelvis. (On the true surface, `analyse::skeleton`'s tests hold it to 8 cm at the
    // head, hands and feet.)
    assert!(joints_total > 100, "{joints_total} joints");
    assert!(
        q(&inside, 0.5) < 0.5 * voxel,
        "median {:.3}",
        q(&inside, 0.5)
    );
    assert!(q(&inside, 0.9) < 2.5 * voxel, "p90 {:.3}", q(&inside, 0.9));
    assert!(
        q(&pelvis, 0.5) < 1.5 * voxel,
        "pelvis {:.3}",
        q(&pelvis, 0.5)
    );
}

/// Graceful degradation: the same capture from all eight cameras and from four, scored on the
/// held-out cameras. Fewer cameras leave the hull looser; the athlete must not get better.
#[test]
fn fewer_cameras_are_scored_side_by_side() {
    let (cap, _) = fixture();
    let work = cap.parent().expect("fixture dir");
    let rows = replay360::bench::degradation(work, &[4, 8]).expect("degradation");
    assert_eq!(
        rows.iter().map(|r| r.cameras).collect::<Vec<_>>(),
        vec![8, 4]
    );
    // Four cameras spread around the rig, not the first four.
    assert_eq!(rows[1].used, ["cam00", "cam02", "cam04", "cam06"]);
    for r in &rows {
        assert!(
            r.psnr_athlete_db > 12.0 && r.ssim > 0.5,
            "{} cameras: {r:?}",
            r.cameras
        );
    }
    // The mattes against the true masks, over the cameras used (the same segmentation in both
    // rows). At 480x270 the athlete covers a few hundred pixels, most of them on its outline,
    // so the IoU is far below aerials16's 0.90: 0.632 measured (0.627 before the clean-up's
    // filled gaps were opened again). The bound is a floor under that, not the target.
    for r in &rows {
        assert!(r.matte_iou > 0.6, "{} cameras: {r:?}", r.cameras);
    }
    // A looser hull from four views: more volume, so more surface splats, and no better
    // athlete (tiny preset: about 21 dB from eight, 19.5 from four).
    assert!(rows[1].splats_mean > rows[0].splats_mean, "{rows:?}");
    assert!(
        rows[1].psnr_athlete_db < rows[0].psnr_athlete_db + 0.5,
        "{rows:?}"
    );
}
