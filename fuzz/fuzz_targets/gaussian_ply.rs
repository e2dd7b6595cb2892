#![no_main]

use libfuzzer_sys::fuzz_target;
use replay360::formats::gaussian_ply::GaussianCloud;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = GaussianCloud::parse(data, Path::new("splats.ply"));
});
