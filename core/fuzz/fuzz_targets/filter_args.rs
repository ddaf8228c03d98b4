//! Every filter's argument parser, through `Imagor::check_path`: arbitrary
//! `filters:` segments (the fuzzer's bytes after a fixed prefix, so most
//! inputs reach the argument parsers) end in Ok or a typed 400, never a
//! panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn imagor() -> &'static imagor::Imagor {
    static I: OnceLock<imagor::Imagor> = OnceLock::new();
    I.get_or_init(|| {
        imagor::Imagor::new(imagor::Options {
            strict_filters: true,
            ..imagor::Options::default()
        })
        .expect("imagor")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for path in [format!("filters:{text}/x"), text.into_owned()] {
        if let Err(e) = imagor().check_path(&path) {
            assert_eq!(e.status(), 400, "{path:?}: {e}");
        }
    }
});
