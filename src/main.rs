use std::path::Path;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    tracing_subscriber::fmt().with_env_filter("info,wgpu=warn,naga=warn,bevy_render=warn").init();
    match args[1].as_str() {
        "synth" => {
            let opts = replay360::synth::SynthOptions {
                preset: replay360::synth::Preset::by_name(&args[2]).unwrap(),
                seed: 7,
            };
            println!("{:?}", replay360::synth::generate(&opts, Path::new(&args[3])));
        }
        "snap" => {
            let scene = replay360::render::load_scene(Path::new(&args[2])).unwrap();
            let cap = replay360::capture::Capture::open(&scene.recon.capture_path()).unwrap();
            let cam = cap.camera(&args[3]).unwrap().camera.clone();
            let t: f64 = args[4].parse().unwrap();
            let mut pin = cam.clone();
            pin.intrinsics = pin.intrinsics.pinhole();
            let req = replay360::render::FrameRequest { camera: pin, time: t, show_athlete: true, ghosts: vec![], trajectory: None, show_venue: std::env::var_os("NOV").is_none(), show_rig: false };
            let (w, h) = (cam.intrinsics.width, cam.intrinsics.height);
            let t0 = std::time::Instant::now();
            let mut r = replay360::render::OffscreenRenderer::new(scene, req.clone(), w, h).unwrap();
            println!("init {:?}", t0.elapsed());
            let img = r.render_one(&req).unwrap();
            println!("first {:?}", t0.elapsed());
            img.save(&args[5]).unwrap();
            let t1 = std::time::Instant::now();
            let reqs: Vec<_> = (0..20).map(|_| req.clone()).collect();
            r.render(&reqs, |_, _| Ok(())).unwrap();
            println!("20 frames {:?}", t1.elapsed());
        }
        _ => {
            let r = replay360::pipeline::reconstruct(Path::new(&args[2]), Path::new(&args[3]), &Default::default());
            println!("{r:?}");
        }
    }
}
