//! Text rendering survives many dpi changes in one process.
//!
//! Pango 1.50's font-matching threads outlive the call that started them
//! and raced the next dpi change on the same font map (SIGFPE or SIGABRT in
//! `g_hash_table_lookup`); `label()` autofits by trying a dozen dpi values
//! per call. A crash here kills the test binary, so this file holds only
//! this test. See core/src/vips/pango.rs.

use imagor::{Imagor, Options};

fn png() -> Vec<u8> {
    let path = format!(
        "{}/../testdata/gopher-front.png",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).expect("testdata/gopher-front.png")
}

fn render_many(imagor: &Imagor, input: &[u8], seed: usize) {
    for i in 0..40 {
        let size = 8 + (i * 7 + seed * 3) % 60;
        let dpi = 36 + (i * 13 + seed * 5) % 200;
        for path in [
            format!("fit-in/120x80/filters:label(IMAGOR{i},5,5,{size},red,10)/in.png"),
            format!("fit-in/120x80/filters:text(Hi{i},0,0,sans 9,blue,0,normal,0,low,false,word,0,{dpi})/in.png"),
        ] {
            let out = imagor
                .process(input, &format!("unsafe/{path}"))
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(!out.data.is_empty(), "{path}");
        }
    }
}

#[test]
fn labels_and_texts_at_many_dpis_do_not_crash() {
    let imagor = Imagor::new(Options::default()).unwrap();
    let input = png();
    render_many(&imagor, &input, 0);
    std::thread::scope(|s| {
        for seed in 1..=3 {
            let (imagor, input) = (&imagor, &input);
            s.spawn(move || render_many(imagor, input, seed));
        }
    });
}
