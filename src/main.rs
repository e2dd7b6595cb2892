fn main() {
    let args: Vec<String> = std::env::args().collect();
    tracing_subscriber::fmt().with_env_filter("info").init();
    match args[1].as_str() {
        "synth" => {
            let opts = replay360::synth::SynthOptions {
                preset: replay360::synth::Preset::by_name(&args[2]).unwrap(),
                seed: 7,
            };
            println!("{:?}", replay360::synth::generate(&opts, std::path::Path::new(&args[3])));
        }
        _ => {
            let r = replay360::pipeline::reconstruct(std::path::Path::new(&args[2]), std::path::Path::new(&args[3]), &Default::default());
            println!("{r:?}");
        }
    }
}
