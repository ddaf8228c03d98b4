//! Encoder settings that are cheap to ask for: each gives what it asks,
//! within the call's budget.

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_lowest_jpeg_xl_qualities_give_the_smallest_files() {
    let png = testdata("gopher.png");
    let size = |q: i32| {
        imagor::process(
            &png,
            &format!("fit-in/400x400/filters:format(jxl):quality({q})"),
        )
        .map(|out| out.data.len())
    };
    let at_five = match size(5) {
        Ok(n) => n,
        // A libvips without a JPEG XL encoder.
        Err(e) if e.status() == 406 || e.status() == 501 => return,
        Err(e) => panic!("{e}"),
    };
    let at_ten = size(10).expect("quality(10)");
    assert!(
        at_five <= at_ten,
        "quality(5) {at_five} > quality(10) {at_ten}"
    );
    // libvips 8.14 maps quality(1) to quality(4) to distances libjxl
    // refuses, which then encoded at its default distance: 14.8 KB here
    // where quality(5) gave 3.8 KB (267 KB against 7 KB for 800x800 of
    // noise), with libjxl's complaint on stderr.
    for q in 1..5 {
        let n = size(q).expect("low quality");
        assert!(
            n <= at_five,
            "quality({q}) gave {n} bytes, quality(5) {at_five}"
        );
    }
}
