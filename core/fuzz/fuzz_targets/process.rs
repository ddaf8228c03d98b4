//! `process(bytes, path)` on arbitrary input: the first byte gives the
//! length of the path, the path follows, the rest is the image. Every call
//! ends in an image or a typed error (never a panic, never a status
//! outside the documented set) within a small budget, so a run covers many
//! executions.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;

fn imagor() -> &'static imagor::Imagor {
    static I: OnceLock<imagor::Imagor> = OnceLock::new();
    I.get_or_init(|| {
        imagor::Imagor::new(imagor::Options {
            max_width: 2000,
            max_height: 2000,
            max_resolution: 1_000_000,
            process_timeout: Duration::from_millis(500),
            max_memory: 64 << 20,
            ..imagor::Options::default()
        })
        .expect("imagor")
    })
}

const TYPED: &[u16] = &[400, 404, 406, 408, 422];

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (path, image) = rest.split_at((n as usize).min(rest.len()));
    let path = String::from_utf8_lossy(path);
    match imagor().process(image, &path) {
        Ok(out) => assert!(!out.data.is_empty(), "empty output for {path:?}"),
        Err(e) => assert!(TYPED.contains(&e.status()), "{path:?}: {} {e}", e.status()),
    }
});
