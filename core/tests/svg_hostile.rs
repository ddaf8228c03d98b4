//! Hostile-input suite: every case must end in `Ok` or the expected typed `SvgError`, quickly.
//! Run with `cargo test -- --nocapture` to see the table (time and result per case).
//! There are no timing assertions.

use std::time::Instant;

use imagor::svg::{render_svg, svg_size, RenderedSvg, SvgError, SvgLimits};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Ok,
    Parse,
    TooLarge,
    TooExpensive,
    Unsupported,
    /// Either a successful render or a refusal on cost (depends on the machine's calibration).
    OkOrExpensive,
    /// Refused by a limit: `TooLarge` (memory) or `TooExpensive` (cost), whichever trips first.
    Refused,
}

fn kind(r: &Result<RenderedSvg, SvgError>) -> Expect {
    match r {
        Ok(_) => Expect::Ok,
        Err(SvgError::Parse(_)) => Expect::Parse,
        Err(SvgError::TooLarge { .. }) => Expect::TooLarge,
        Err(SvgError::TooExpensive { .. }) => Expect::TooExpensive,
        Err(SvgError::Unsupported(_)) => Expect::Unsupported,
        Err(SvgError::Panicked(m)) => panic!("renderer panicked: {m}"),
    }
}

const NS: &str = r#"xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink""#;

fn svg(attrs: &str, body: &str) -> Vec<u8> {
    format!(r#"<svg {NS} {attrs}>{body}</svg>"#).into_bytes()
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A PNG signature + IHDR claiming `w`x`h` (no image data: only the header matters).
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    v.extend_from_slice(b"IHDR");
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v
}

fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let mut c: Vec<(&'static str, Vec<u8>, Expect)> = Vec::new();
    let kernel = vec!["1"; 21 * 21].join(" ");
    c.push((
        "feConvolveMatrix order=21 (librsvg panic)",
        svg(r#"width="200" height="200""#, &format!(
            r#"<filter id="f"><feConvolveMatrix order="21" kernelMatrix="{kernel}"/></filter><rect width="200" height="200" fill="red" filter="url(#f)"/>"#)),
        Expect::Ok,
    ));
    c.push((
        "feConvolveMatrix order=21 target/edge odd",
        svg(r#"width="64" height="64""#, &format!(
            r#"<filter id="f"><feConvolveMatrix order="21 21" targetX="20" targetY="0" edgeMode="wrap" divisor="0" preserveAlpha="true" kernelMatrix="{kernel}"/></filter><circle cx="32" cy="32" r="30" filter="url(#f)"/>"#)),
        Expect::Ok,
    ));
    c.push((
        "feTurbulence numOctaves=1e9, 4000x4000",
        svg(r#"width="4000" height="4000""#,
            r#"<filter id="f" x="0" y="0" width="1" height="1"><feTurbulence baseFrequency="0.01" numOctaves="1000000000"/></filter><rect width="4000" height="4000" filter="url(#f)"/>"#),
        Expect::TooExpensive,
    ));
    c.push((
        "feTurbulence numOctaves=4, 256x256",
        svg(r#"width="256" height="256""#,
            r#"<filter id="f" x="0" y="0" width="1" height="1"><feTurbulence baseFrequency="0.05" numOctaves="4"/></filter><rect width="256" height="256" filter="url(#f)"/>"#),
        Expect::Ok,
    ));
    c.push((
        "feGaussianBlur stdDeviation=1e9, 1000x1000",
        svg(r#"width="1000" height="1000""#,
            r#"<filter id="f"><feGaussianBlur stdDeviation="1000000000"/></filter><rect width="1000" height="1000" fill="blue" filter="url(#f)"/>"#),
        Expect::OkOrExpensive,
    ));
    c.push((
        "feMorphology radius=1e6, 2000x2000",
        svg(r#"width="2000" height="2000""#,
            r#"<filter id="f"><feMorphology operator="dilate" radius="1000000"/></filter><rect width="2000" height="2000" filter="url(#f)"/>"#),
        Expect::TooExpensive,
    ));
    c.push((
        "filter region 1e7 user units, 40 primitives",
        svg(r#"width="1000" height="1000""#, &format!(
            r#"<filter id="f" filterUnits="userSpaceOnUse" x="-1e7" y="-1e7" width="2e7" height="2e7">{}</filter><rect width="10" height="10" filter="url(#f)"/>"#,
            r#"<feFlood flood-color="red"/>"#.repeat(40))),
        Expect::Refused,
    ));
    let mut fan = String::from(r#"<defs><rect id="l0" width="1" height="1"/>"#);
    for i in 1..=10 {
        fan.push_str(&format!(r#"<g id="l{i}">"#));
        for _ in 0..10 {
            fan.push_str(&format!(r##"<use xlink:href="#l{}"/>"##, i - 1));
        }
        fan.push_str("</g>");
    }
    fan.push_str(r##"</defs><use xlink:href="#l10"/>"##);
    c.push((
        "use fan-out 10 levels x 10",
        svg(r#"width="100" height="100""#, &fan),
        Expect::TooLarge,
    ));
    let mut pat = String::from(
        r#"<defs><pattern id="p0" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="2" height="2"/></pattern>"#,
    );
    for i in 1..=8 {
        pat.push_str(&format!(
            r#"<pattern id="p{i}" width="40" height="40" patternUnits="userSpaceOnUse">"#
        ));
        for j in 0..10 {
            pat.push_str(&format!(
                r#"<rect x="{j}" width="4" height="40" fill="url(#p{})"/>"#,
                i - 1
            ));
        }
        pat.push_str("</pattern>");
    }
    pat.push_str(r#"</defs><rect width="100" height="100" fill="url(#p8)"/>"#);
    c.push((
        "pattern-of-pattern fan-out 8 x 10",
        svg(r#"width="100" height="100""#, &pat),
        Expect::TooLarge,
    ));
    let mut markers = String::from(r#"<marker id="m" markerWidth="4" markerHeight="4">"#);
    markers.push_str(&r#"<circle r="1"/>"#.repeat(20));
    markers.push_str(r#"</marker><path marker-mid="url(#m)" d="M0 0"#);
    for i in 0..20000 {
        markers.push_str(&format!(" L{} {}", i % 100, i / 200));
    }
    markers.push_str(r#""/>"#);
    c.push((
        "marker-mid on 20k vertices x 20 shapes",
        svg(r#"width="100" height="100""#, &markers),
        Expect::TooLarge,
    ));
    let mut chain = String::from(r#"<rect id="u0" width="5" height="5"/>"#);
    for i in 1..400 {
        chain.push_str(&format!(
            r##"<use id="u{i}" xlink:href="#u{}" x="0.1"/>"##,
            i - 1
        ));
    }
    c.push((
        "use chain 400 deep (recursion)",
        svg(r#"width="100" height="100""#, &chain),
        Expect::TooLarge,
    ));
    c.push((
        "clipPath cycle A->B->C->A",
        svg(r#"width="100" height="100""#,
            r#"<clipPath id="a" clip-path="url(#b)"><rect width="50" height="50"/></clipPath><clipPath id="b" clip-path="url(#c)"><rect width="50" height="50"/></clipPath><clipPath id="c" clip-path="url(#a)"><rect width="50" height="50"/></clipPath><rect width="100" height="100" clip-path="url(#a)"/>"#),
        Expect::Unsupported,
    ));
    // Each of these 3-cycles overflows the stack of raw usvg 0.49 (process abort); see README.
    c.push((
        "pattern cycle a->b->c->a",
        svg(r#"width="100" height="100""#,
            r#"<pattern id="a" width="10" height="10" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="url(#b)"/></pattern><pattern id="b" width="10" height="10" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="url(#c)"/></pattern><pattern id="c" width="10" height="10" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="url(#a)"/></pattern><rect width="100" height="100" fill="url(#a)"/>"#),
        Expect::Unsupported,
    ));
    c.push((
        "mask cycle a->b->c->a",
        svg(r#"width="100" height="100""#,
            r#"<mask id="a"><rect width="50" height="50" fill="white" mask="url(#b)"/></mask><mask id="b"><rect width="50" height="50" fill="white" mask="url(#c)"/></mask><mask id="c"><rect width="50" height="50" fill="white" mask="url(#a)"/></mask><rect width="100" height="100" mask="url(#a)"/>"#),
        Expect::Unsupported,
    ));
    c.push((
        "filter/feImage cycle a->b->c->a",
        svg(r#"width="100" height="100""#,
            r##"<filter id="fa"><feImage xlink:href="#rb"/></filter><filter id="fb"><feImage xlink:href="#rc"/></filter><filter id="fc"><feImage xlink:href="#ra"/></filter><rect id="ra" width="10" height="10" filter="url(#fa)"/><rect id="rb" width="10" height="10" filter="url(#fb)"/><rect id="rc" width="10" height="10" filter="url(#fc)"/>"##),
        Expect::Unsupported,
    ));
    c.push((
        "CSS-only pattern cycle",
        svg(r#"width="100" height="100""#,
            r#"<style>.x{fill:url(#b)} .y{fill:url(#a)}</style><pattern id="a" width="10" height="10" patternUnits="userSpaceOnUse"><rect class="x" width="5" height="5"/></pattern><pattern id="b" width="10" height="10" patternUnits="userSpaceOnUse"><rect class="y" width="5" height="5"/></pattern><rect width="100" height="100" fill="url(#a)"/>"#),
        Expect::Unsupported,
    ));
    let mut dup = String::from(r#"<defs><g id="x"><rect width="1" height="1"/></g>"#);
    for i in 1..=6 {
        dup.push_str(&format!(r#"<mask id="m{i}">"#));
        for _ in 0..20 {
            dup.push_str(&format!(
                r#"<rect width="10" height="10" fill="white" mask="url(#m{})"/>"#,
                i - 1
            ));
        }
        dup.push_str("</mask>");
    }
    dup.push_str(r#"<mask id="m0"><rect width="10" height="10" fill="white"/></mask></defs><rect width="10" height="10" mask="url(#m6)"/>"#);
    c.push((
        "mask fan-out 6 x 20 (conversion-time)",
        svg(r#"width="10" height="10""#, &dup),
        Expect::TooLarge,
    ));
    c.push((
        "duplicate id: harmless first, bomb last",
        svg(
            r#"width="10" height="10""#,
            &format!(
                r#"<mask id="m6"><rect width="1" height="1"/></mask>{}"#,
                dup
            ),
        ),
        Expect::TooLarge,
    ));
    c.push((
        "font-family list 100 KB",
        svg(
            r#"width="10" height="10""#,
            &format!(
                "<text font-family='{}' y='5'>a</text>",
                "NoSuchFont, ".repeat(8000)
            ),
        ),
        Expect::TooLarge,
    ));
    let lol = r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>"#;
    c.push((
        "XML entity billion laughs",
        format!(r#"{lol}<svg {NS} width="10" height="10"><text>&lol9;</text></svg>"#).into_bytes(),
        Expect::TooLarge,
    ));
    let big = "x".repeat(100_000);
    c.push((
        "XML entity quadratic blowup (100 KB x 1000)",
        format!(r#"<!DOCTYPE svg [<!ENTITY a "{big}">]><svg {NS} width="10" height="10"><text>{}</text></svg>"#, "&a;".repeat(1000)).into_bytes(),
        Expect::TooLarge,
    ));
    c.push((
        "100k-deep nesting",
        svg(
            r#"width="10" height="10""#,
            &format!("{}{}", "<g>".repeat(100_000), "</g>".repeat(100_000)),
        ),
        Expect::TooLarge,
    ));
    c.push((
        "width=1e8",
        svg(r#"width="1e8" height="10""#, "<rect width='5' height='5'/>"),
        Expect::TooLarge,
    ));
    c.push((
        "width=0",
        svg(r#"width="0" height="10""#, ""),
        Expect::Parse,
    ));
    c.push((
        "width=-5",
        svg(r#"width="-5" height="10""#, ""),
        Expect::Parse,
    ));
    c.push((
        "width=NaN",
        svg(r#"width="NaN" height="10""#, ""),
        Expect::Parse,
    ));
    c.push((
        "viewBox=0 0 0 0, no content",
        svg(r#"viewBox="0 0 0 0""#, ""),
        Expect::Parse,
    ));
    c.push((
        "viewBox=0 0 0 0 with content (bbox)",
        svg(
            r#"viewBox="0 0 0 0""#,
            "<rect x='10' y='10' width='30' height='20'/>",
        ),
        Expect::Ok,
    ));
    let mut bad = svg(r#"width="10" height="10""#, "<text y='8'>ab\u{1}</text>");
    let pos = bad.iter().position(|&b| b == 1).unwrap();
    bad[pos] = 0xff;
    c.push(("invalid UTF-8 in text", bad, Expect::Parse));
    c.push((
        "XXE SYSTEM file:///etc/passwd",
        format!(r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg {NS} width="100" height="20"><text y="15">&xxe;</text></svg>"#).into_bytes(),
        Expect::Parse,
    ));
    c.push((
        "image href file:///etc/passwd",
        svg(r#"width="20" height="20""#, r#"<image width="20" height="20" xlink:href="file:///etc/passwd"/><image width="20" height="20" href="/etc/passwd"/>"#),
        Expect::Ok,
    ));
    c.push((
        "image href http://127.0.0.1:9/x.png",
        svg(
            r#"width="20" height="20""#,
            r#"<image width="20" height="20" xlink:href="http://127.0.0.1:9/x.png"/>"#,
        ),
        Expect::Ok,
    ));
    c.push((
        "xi:include /etc/passwd",
        svg(
            r#"width="20" height="20" xmlns:xi="http://www.w3.org/2001/XInclude""#,
            r#"<text y="10"><xi:include href="/etc/passwd" parse="text"/></text>"#,
        ),
        Expect::Ok,
    ));
    c.push((
        "data: PNG header 100000x100000",
        svg(
            r#"width="20" height="20""#,
            &format!(
                r#"<image width="20" height="20" xlink:href="data:image/png;base64,{}"/>"#,
                b64(&png_header(100_000, 100_000))
            ),
        ),
        Expect::TooLarge,
    ));
    let inner2 = format!(
        r#"<svg {NS} width="10" height="10"><rect width="10" height="10" fill="red"/></svg>"#
    );
    let inner1 = format!(
        r#"<svg {NS} width="10" height="10"><rect width="10" height="10" fill="lime"/><image width="10" height="10" href="data:image/svg+xml;base64,{}"/></svg>"#,
        b64(inner2.as_bytes())
    );
    c.push((
        "nested SVG image 2 levels (inner absent)",
        svg(
            r#"width="10" height="10""#,
            &format!(
                r#"<image width="10" height="10" href="data:image/svg+xml;base64,{}"/>"#,
                b64(inner1.as_bytes())
            ),
        ),
        Expect::Ok,
    ));
    c.push((
        "nested SVG image with use fan-out",
        svg(
            r#"width="10" height="10""#,
            &format!(
                r#"<image width="10" height="10" href="data:image/svg+xml;base64,{}"/>"#,
                b64(&svg(r#"width="10" height="10""#, &fan))
            ),
        ),
        Expect::TooLarge,
    ));
    let payload = b64(&svg(
        r#"width="10" height="10""#,
        &"<rect width='1' height='1'/>".repeat(2000),
    ));
    let mut many = format!(
        r#"<defs><image id="i" width="10" height="10" href="data:image/svg+xml;base64,{payload}"/></defs>"#
    );
    many.push_str(&r##"<use xlink:href="#i"/>"##.repeat(5000));
    c.push((
        "data: SVG image instanced 5000x via use",
        svg(r#"width="10" height="10""#, &many),
        Expect::TooExpensive,
    ));
    c.push((
        "text bomb 2M chars",
        svg(
            r#"width="100" height="20""#,
            &format!("<text y='10'>{}</text>", "W".repeat(2_000_000)),
        ),
        Expect::TooExpensive,
    ));
    // Laying out one <text> is quadratic in its length, and in its characters
    // x spans (before: charged linearly, and these ran 8-22 s).
    c.push((
        "one text of 100000 characters",
        svg(
            r#"width="100" height="20""#,
            &format!("<text y='10'>{}</text>", "W".repeat(100_000)),
        ),
        Expect::TooExpensive,
    ));
    c.push((
        "one text of 10000 one-character tspans",
        svg(
            r#"width="100" height="20""#,
            &format!("<text y='10'>{}</text>", "<tspan>W</tspan>".repeat(10_000)),
        ),
        Expect::TooExpensive,
    ));
    c.push((
        "40 texts of 1000 characters",
        svg(
            r#"width="100" height="20""#,
            &format!("<text y='10'>{}</text>", "W".repeat(1000)).repeat(40),
        ),
        Expect::Ok,
    ));
    c.push((
        "stroke-dasharray 0.001 on long path",
        svg(
            r#"width="1000" height="1000""#,
            r#"<path d="M0 0L1000 1000L0 1000L1000 0Z" stroke="black" stroke-dasharray="0.001"/>"#,
        ),
        Expect::OkOrExpensive,
    ));
    c.push((
        "pattern tile 1e6 x 1e6 px",
        svg(r#"width="100" height="100""#, r#"<pattern id="p" width="1000000" height="1000000" patternUnits="userSpaceOnUse"><rect width="10" height="10"/></pattern><rect width="100" height="100" fill="url(#p)"/>"#),
        Expect::TooLarge,
    ));
    let css_chain = format!(
        "{}<rect class='z' width='1' height='1'/>{}",
        "<g class='a'>".repeat(150),
        "</g>".repeat(150)
    );
    c.push((
        "CSS backtracking selector .a .a .a .a .a .b",
        svg(
            r#"width="10" height="10""#,
            &format!("<style>.a .a .a .a .a .b {{fill:red}}</style>{css_chain}"),
        ),
        Expect::TooExpensive,
    ));
    c.push((
        "gzip (svgz) input",
        vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3],
        Expect::Unsupported,
    ));
    c.push((
        "normal SVG",
        svg(r#"width="40" height="30""#, r##"<rect width="20" height="30" fill="#ff0000"/><circle cx="30" cy="15" r="8" fill="blue" opacity="0.5"/><text x="2" y="20" font-family="sans-serif" font-size="10">Hi</text>"##),
        Expect::Ok,
    ));
    c.push((
        "test.svg",
        include_bytes!("../../testdata/test.svg").to_vec(),
        Expect::Ok,
    ));
    c
}

#[test]
fn hostile_inputs_end_in_ok_or_typed_error() {
    let limits = SvgLimits::default();
    let mut failures = Vec::new();
    println!("\n{:<46} {:>9}  {:<14} result", "case", "ms", "expected");
    println!("{}", "-".repeat(130));
    for (name, data, expect) in cases() {
        let t = Instant::now();
        let r = render_svg(&data, 1.0, &limits);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let got = kind(&r);
        let shown = match &r {
            Ok(img) => format!("Ok {}x{}", img.width, img.height),
            Err(e) => format!("Err: {e}"),
        };
        let ok = got == expect
            || (expect == Expect::OkOrExpensive
                && matches!(got, Expect::Ok | Expect::TooExpensive))
            || (expect == Expect::Refused
                && matches!(got, Expect::TooLarge | Expect::TooExpensive));
        println!(
            "{:<46} {:>9.1}  {:<14} {}{}",
            name,
            ms,
            format!("{expect:?}"),
            if ok { "" } else { "UNEXPECTED " },
            shown
        );
        if let Ok(img) = &r {
            assert_eq!(img.rgba.len(), img.width as usize * img.height as usize * 4);
            let text = String::from_utf8_lossy(&img.rgba);
            assert!(!text.contains("root:x:0"), "{name}: file content leaked");
        }
        if !ok {
            failures.push(format!("{name}: expected {expect:?}, got {shown}"));
        }
    }
    assert!(
        failures.is_empty(),
        "unexpected results:\n{}",
        failures.join("\n")
    );
}

#[test]
fn external_references_render_as_absent() {
    let limits = SvgLimits::default();
    for href in [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.png",
        "/etc/passwd",
        "x.png",
    ] {
        let data = svg(
            r#"width="8" height="8""#,
            &format!(r#"<image width="8" height="8" xlink:href="{href}"/>"#),
        );
        let img = render_svg(&data, 1.0, &limits).unwrap();
        assert!(
            img.rgba.iter().all(|&b| b == 0),
            "{href} rendered something"
        );
    }
}

#[test]
fn nested_svg_is_one_level_deep() {
    let inner2 = format!(
        r#"<svg {NS} width="10" height="10"><rect width="10" height="10" fill="red"/></svg>"#
    );
    let inner1 = format!(
        r#"<svg {NS} width="10" height="10"><rect width="10" height="10" fill="lime"/><image width="10" height="10" href="data:image/svg+xml;base64,{}"/></svg>"#,
        b64(inner2.as_bytes())
    );
    let outer = svg(
        r#"width="10" height="10""#,
        &format!(
            r#"<image width="10" height="10" href="data:image/svg+xml;base64,{}"/>"#,
            b64(inner1.as_bytes())
        ),
    );
    let img = render_svg(&outer, 1.0, &SvgLimits::default()).unwrap();
    assert_eq!(
        &img.rgba[..4],
        &[0, 255, 0, 255],
        "level 1 renders (lime), level 2 is absent (no red)"
    );
}

#[test]
fn normal_svg_pixels_are_straight_alpha() {
    let data = svg(
        r#"width="4" height="2""#,
        r##"<rect width="2" height="2" fill="#ff0000"/><rect x="2" width="2" height="2" fill="#0000ff" fill-opacity="0.5"/>"##,
    );
    let img = render_svg(&data, 1.0, &SvgLimits::default()).unwrap();
    assert_eq!((img.width, img.height), (4, 2));
    assert_eq!(&img.rgba[..4], &[255, 0, 0, 255]);
    let p = &img.rgba[12..16];
    assert_eq!((p[0], p[1], p[2]), (0, 0, 255), "un-premultiplied colour");
    assert!((p[3] as i32 - 128).abs() <= 1);
    let img2 = render_svg(&data, 2.5, &SvgLimits::default()).unwrap();
    assert_eq!((img2.width, img2.height), (10, 5));
}

#[test]
fn bad_scale_is_refused() {
    let data = svg(r#"width="4" height="2""#, "");
    for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            render_svg(&data, s, &SvgLimits::default()),
            Err(SvgError::Parse(_))
        ));
    }
}

#[test]
fn limits_are_named_in_messages() {
    let limits = SvgLimits {
        max_width: 50,
        ..SvgLimits::default()
    };
    let e = render_svg(&svg(r#"width="100" height="10""#, ""), 1.0, &limits).unwrap_err();
    assert!(e.to_string().contains("max_width"), "{e}");
    let limits = SvgLimits {
        max_input_bytes: 10,
        ..SvgLimits::default()
    };
    let e = render_svg(&svg(r#"width="100" height="10""#, ""), 1.0, &limits).unwrap_err();
    assert!(e.to_string().contains("max_input_bytes"), "{e}");
    let limits = SvgLimits {
        max_cost: 1000,
        ..SvgLimits::default()
    };
    let e = render_svg(&svg(r#"width="100" height="10""#, ""), 1.0, &limits).unwrap_err();
    assert!(e.to_string().contains("max_cost"), "{e}");
}

/// Expected values from `vipsheader` (libvips 8.14.1, librsvg 2.54.7) on the same documents.
#[test]
fn intrinsic_size_matches_libvips() {
    let rect = "<rect x='10' y='10' width='30' height='20' fill='red'/>";
    let cases: &[(&str, (u32, u32))] = &[
        (r#"width="100mm" height="50mm""#, (283, 142)),
        (r#"width="2in" height="1in""#, (144, 72)),
        (r#"width="72pt" height="36pt""#, (72, 36)),
        (r#"width="10pc" height="5pc""#, (120, 60)),
        (r#"width="10cm" height="5cm""#, (283, 142)),
        (r#"width="10em" height="5em""#, (120, 60)),
        (r#"width="10ex" height="5ex""#, (60, 30)),
        (r#"font-size="20" width="10em" height="2em""#, (200, 40)),
        (
            r#"width="50%" height="50%" viewBox="0 0 200 100""#,
            (200, 100),
        ),
        (r#"viewBox="0 0 200 100""#, (200, 100)),
        (r#"width="300" viewBox="0 0 200 100""#, (300, 150)),
        (r#"height="300" viewBox="0 0 200 100""#, (600, 300)),
        (r#"width="300""#, (30, 20)),
        (r#"width="100.4" height="50.6""#, (100, 51)),
        (r#"width="100.5" height="50.5""#, (101, 51)),
        (r#"width="0.6" height="0.6""#, (1, 1)),
        (r#"viewBox="0 0 0 0""#, (30, 20)),
        (r#"width="50%" height="50%""#, (30, 20)),
        ("", (30, 20)),
        (
            r#"width="100px" height="10px" viewBox="0 0 10 20""#,
            (100, 10),
        ),
    ];
    let limits = SvgLimits::default();
    for (attrs, want) in cases {
        let data = svg(attrs, rect);
        let (w, h) = svg_size(&data, &limits).unwrap_or_else(|e| panic!("{attrs}: {e}"));
        let got = ((w + 0.5).floor() as u32, (h + 0.5).floor() as u32);
        println!(
            "{attrs:<50} svg_size={w:.2}x{h:.2} vips={}x{}",
            want.0, want.1
        );
        assert_eq!(got, *want, "{attrs}");
        let img = render_svg(&data, 1.0, &limits).unwrap();
        assert_eq!((img.width, img.height), *want, "render size for {attrs}");
    }
    // Stroke is part of the ink bbox used by the fallback.
    let data = svg(
        "",
        "<rect x='10' y='10' width='30' height='20' stroke='blue' stroke-width='10'/>",
    );
    let (w, h) = svg_size(&data, &limits).unwrap();
    assert_eq!(((w + 0.5) as u32, (h + 0.5) as u32), (40, 30));
    // libvips: natural sizes <= 0.5 are "bad dimensions".
    assert!(matches!(
        svg_size(&svg(r#"viewBox="0 0 0.3 0.2""#, rect), &limits),
        Err(SvgError::Parse(_))
    ));
    assert!(matches!(
        svg_size(&svg(r#"width="0.4" height="10""#, rect), &limits),
        Err(SvgError::Parse(_))
    ));
}

#[test]
fn test_svg_matches_libvips_size() {
    let data = include_bytes!("../../testdata/test.svg");
    let limits = SvgLimits::default();
    assert_eq!(svg_size(data, &limits).unwrap(), (620.0, 472.0));
    let img = render_svg(data, 1.0, &limits).unwrap();
    assert_eq!((img.width, img.height), (620, 472));
}

/// Documents right at the depth limit must render (or be refused on cost) without overflowing
/// the stack, for every kind of recursion usvg/resvg has: plain nesting, `use` chains, nested
/// clip-paths, masks, patterns and filters with feImage. Also checked with a 1000 limit to
/// show headroom of the 64 MiB worker stack (debug builds have the largest frames).
#[test]
fn deep_documents_do_not_overflow_the_stack() {
    for max_depth in [200usize, 1000] {
        let limits = SvgLimits {
            max_depth,
            ..SvgLimits::default()
        };
        let n = max_depth / 2 - 5;
        let mut docs: Vec<(&str, Vec<u8>)> = Vec::new();
        docs.push((
            "nested groups with opacity",
            svg(
                r#"width="20" height="20""#,
                &format!(
                    "{}<rect width='10' height='10'/>{}",
                    "<g opacity='0.99'>".repeat(max_depth - 5),
                    "</g>".repeat(max_depth - 5)
                ),
            ),
        ));
        let mut uses = String::from(r#"<rect id="u0" width="5" height="5"/>"#);
        for i in 1..max_depth / 3 - 3 {
            uses.push_str(&format!(
                r##"<g id="g{i}"><use xlink:href="#u{}"/></g><use id="u{i}" xlink:href="#g{i}"/>"##,
                i - 1
            ));
        }
        docs.push(("use chain", svg(r#"width="20" height="20""#, &uses)));
        let mut clips =
            String::from(r#"<clipPath id="c0"><rect width="15" height="15"/></clipPath>"#);
        let mut masks =
            String::from(r#"<mask id="m0"><rect width="15" height="15" fill="white"/></mask>"#);
        let mut pats = String::from(
            r#"<pattern id="p0" width="2" height="2" patternUnits="userSpaceOnUse"><rect width="1" height="1"/></pattern>"#,
        );
        for i in 1..n {
            clips.push_str(&format!(r#"<clipPath id="c{i}" clip-path="url(#c{})"><rect width="15" height="15"/></clipPath>"#, i - 1));
            masks.push_str(&format!(r#"<mask id="m{i}"><rect width="15" height="15" fill="white" mask="url(#m{})"/></mask>"#, i - 1));
            pats.push_str(&format!(r#"<pattern id="p{i}" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="3" height="3" fill="url(#p{})"/></pattern>"#, i - 1));
        }
        docs.push((
            "clip-path chain",
            svg(
                r#"width="20" height="20""#,
                &format!(
                    "{clips}<rect width='20' height='20' clip-path='url(#c{})'/>",
                    n - 1
                ),
            ),
        ));
        docs.push((
            "mask chain",
            svg(
                r#"width="20" height="20""#,
                &format!(
                    "{masks}<rect width='20' height='20' mask='url(#m{})'/>",
                    n - 1
                ),
            ),
        ));
        docs.push((
            "pattern chain",
            svg(
                r#"width="20" height="20""#,
                &format!(
                    "{pats}<rect width='20' height='20' fill='url(#p{})'/>",
                    n - 1
                ),
            ),
        ));
        let mut filts = String::from(r#"<rect id="f0" width="4" height="4"/>"#);
        for i in 1..max_depth / 3 - 3 {
            filts.push_str(&format!(r##"<filter id="fl{i}"><feImage xlink:href="#f{}"/></filter><rect id="f{i}" width="4" height="4" filter="url(#fl{i})"/>"##, i - 1));
        }
        docs.push((
            "feImage chain",
            svg(
                r#"width="20" height="20""#,
                &format!(
                    "<defs>{filts}</defs><use xlink:href='#f{}'/>",
                    max_depth / 3 - 4
                ),
            ),
        ));
        for (name, data) in docs {
            let t = Instant::now();
            let r = render_svg(&data, 1.0, &limits);
            println!(
                "max_depth {max_depth:>4} {name:<28} {:>8.1} ms  {:?}",
                t.elapsed().as_secs_f64() * 1e3,
                r.as_ref().map(|i| (i.width, i.height))
            );
            assert!(
                matches!(
                    r,
                    Ok(_) | Err(SvgError::TooExpensive { .. }) | Err(SvgError::TooLarge { .. })
                ),
                "{name}: {r:?}"
            );
        }
    }
}

/// Stroked curves whose geometry is huge against tiny-skia's 0.25-unit stroking tolerance:
/// usvg strokes every one to find its stroke bounding box, before any cost check and in one
/// step nothing interrupts (~45 ms to seconds per curve). The cost must be charged before usvg
/// runs: each case ends within the budget, refused as too expensive.
#[test]
fn huge_stroke_geometry_is_refused_within_budget() {
    // As the processor does for process_timeout = 2 s.
    let limits = SvgLimits {
        max_cost: 1_200_000_000,
        ..SvgLimits::default()
    };
    let cubic = r#"<path d="M0 0 C 9e5 9e5 -9e5 9e5 2000 2000" stroke="black" stroke-width="1e7" fill="none"/>"#;
    let rel_steps = "c 5e5 5e5 -5e5 5e5 1e6 1e6 ".repeat(40);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("200 cubics, stroke-width 1e7", svg(r#"width="2000" height="2000""#, &cubic.repeat(200))),
        ("4000 cubics, stroke-width 1e7", svg(r#"width="2000" height="2000""#, &cubic.repeat(4000))),
        (
            "one circle r=1e6, stroke-width 1e7",
            svg(r#"width="2000" height="2000""#, r#"<circle r="1e6" stroke="red" stroke-width="1e7" fill="none"/>"#),
        ),
        (
            "relative cubics drifting to 4e7, stroke-width 10",
            svg(r#"width="2000" height="2000""#, &format!(r#"<path d="M0 0 {rel_steps}" stroke="black" stroke-width="10" fill="none"/>"#).repeat(20)),
        ),
        (
            "stroke-width from CSS, arcs",
            svg(r#"width="2000" height="2000""#, &format!("<style>path {{ stroke: black; stroke-width: 1e7 }}</style>{}", r#"<path d="M0 0 A 9e5 9e5 0 1 1 2000 0" fill="none"/>"#.repeat(50))),
        ),
        (
            "small curves through a rotating transform",
            svg(r#"width="2000" height="2000""#, &format!(r#"<g transform="rotate(10) scale(1e5)">{}</g>"#, r#"<path d="M0 0 C 90 90 -90 90 0.2 0.2" stroke="black" stroke-width="1" fill="none"/>"#.repeat(100))),
        ),
        (
            "curves used 100 times",
            svg(r#"width="2000" height="2000""#, &format!(r##"<defs><path id="p" d="M0 0 C 9e5 9e5 -9e5 9e5 2000 2000" stroke="black" stroke-width="1e7" fill="none"/></defs>{}"##, r##"<use href="#p"/>"##.repeat(100))),
        ),
        (
            "stroked text, font-size 1e6",
            svg(r#"width="2000" height="2000""#, &r#"<text font-size="1e6" stroke="black" stroke-width="3">hello</text>"#.repeat(20)),
        ),
    ];
    for (name, data) in cases {
        let t = Instant::now();
        let r = render_svg(&data, 100.0 / 2000.0, &limits);
        let s = t.elapsed().as_secs_f64();
        assert!(
            matches!(r, Err(SvgError::TooExpensive { .. })),
            "{name}: expected TooExpensive, got {:?}",
            r.map(|i| (i.width, i.height))
        );
        assert!(s < 1.0, "{name}: refusal took {s:.2} s");
    }
}

/// The stroke charge leaves ordinary stroked drawings alone: they render, cheaply estimated,
/// and exactly as resvg renders them.
#[test]
fn normal_stroked_svg_renders_as_resvg_does() {
    let data = svg(
        r#"width="200" height="120" viewBox="0 0 400 240""#,
        r##"<style>.s { stroke: #036; stroke-width: 6 }</style>
        <path class="s" d="M10 200 C 60 10 140 10 190 200 S 320 390 390 20" fill="none" stroke-dasharray="12 4"/>
        <circle cx="300" cy="80" r="50" fill="#fc0" stroke="#c00" stroke-width="8"/>
        <rect x="20" y="20" width="120" height="60" rx="15" fill="none" stroke="green" stroke-width="4" transform="rotate(5)"/>
        <ellipse cx="200" cy="160" rx="80" ry="30" fill="none" stroke="purple" stroke-linejoin="round"/>
        <path d="M0 0 Q 200 240 400 0" fill="none" stroke="black" stroke-width="40" opacity="0.3"/>"##,
    );
    let limits = SvgLimits::default();
    let cost = imagor::svg::estimate_svg_cost(&data, 1.0, &limits).unwrap();
    assert!(cost < 20_000_000, "estimated cost {cost}");
    let img = render_svg(&data, 1.0, &limits).unwrap();
    assert_eq!((img.width, img.height), (200, 120));

    let tree = resvg::usvg::Tree::from_data(&data, &resvg::usvg::Options::default()).unwrap();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(200, 120).unwrap();
    let ts = resvg::tiny_skia::Transform::from_scale(
        200.0 / tree.size().width(),
        120.0 / tree.size().height(),
    );
    resvg::render(&tree, ts, &mut pixmap.as_mut());
    let mut want = pixmap.take();
    for px in want.chunks_exact_mut(4) {
        let a = px[3] as u32;
        if a != 0 && a != 255 {
            for c in &mut px[..3] {
                *c = ((*c as u32 * 255 + a / 2) / a).min(255) as u8;
            }
        }
    }
    assert!(img.rgba.iter().any(|&b| b != 0), "drawing rendered empty");
    assert!(img.rgba == want, "pixels differ from resvg's own render");
}
