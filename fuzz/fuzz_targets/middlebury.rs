#![no_main]

use libfuzzer_sys::fuzz_target;
use replay360::formats::middlebury;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = middlebury::parse(text, Path::new("dino_par.txt"));
    }
});
