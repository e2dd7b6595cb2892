#![no_main]

use libfuzzer_sys::fuzz_target;
use replay360::formats::{Units, opencv};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.xml");
    if let Ok(fs) = opencv::FileStorage::parse(text, path) {
        let _ = opencv::camera(&fs, path, 640, 480, Units::Metres, &mut Vec::new());
    }
});
