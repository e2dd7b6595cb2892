#![no_main]

use libfuzzer_sys::fuzz_target;
use replay360::formats::nerfstudio;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("transforms.json");
    if let Ok(t) = nerfstudio::parse(text, path) {
        for f in &t.frames {
            let (w, h) = f.size.unwrap_or((640, 480));
            let _ = f.lens.intrinsics(w, h, path, "frame");
        }
    }
});
