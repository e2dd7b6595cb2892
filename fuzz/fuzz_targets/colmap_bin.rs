#![no_main]

use libfuzzer_sys::fuzz_target;
use replay360::formats::colmap_bin;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = colmap_bin::parse_cameras(data, Path::new("cameras.bin"));
    let _ = colmap_bin::parse_images(data, Path::new("images.bin"));
});
