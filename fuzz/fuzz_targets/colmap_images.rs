#![no_main]

use libfuzzer_sys::fuzz_target;
use replay360::formats::colmap;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = colmap::parse_images(text, Path::new("images.txt"));
    }
});
