//! Path generation: imagor's `GeneratePath`, `GenerateUnsafe`, `Generate`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::go;
use super::params::{
    Params, H_ALIGN_LEFT, H_ALIGN_RIGHT, TRIM_BY_BOTTOM_RIGHT, TRIM_BY_TOP_LEFT, V_ALIGN_BOTTOM,
    V_ALIGN_TOP,
};
use crate::sign::Signer;

/// Image prefixes that would re-parse as a path segment; such images are
/// path-escaped (`top/a.jpg` becomes `top%2Fa.jpg`).
const KEYWORD_PREFIXES: [&str; 10] = [
    "trim/", "meta/", "fit-in/", "stretch/", "top/", "left/", "right/", "bottom/", "center/",
    "smart/",
];

/// The path for `p`, without `unsafe/` or a signature (imagor's
/// `GeneratePath`). [`Params::path`] and [`Params::hash`] are ignored.
///
/// Segments come in the fixed order of the grammar; negative width or
/// height toggle the flip flags; `center`/`middle` alignment is never
/// written. The image is written base64url-encoded (`b64:`) when
/// [`Params::base64_image`] is set, otherwise path-escaped when it holds
/// `?`, `(`, `)`, `,` or starts with a keyword segment.
pub fn generate_path(p: &Params) -> String {
    let mut parts: Vec<String> = Vec::new();
    if p.meta {
        parts.push("meta".into());
    }
    if p.trim || p.trim_by == TRIM_BY_TOP_LEFT || p.trim_by == TRIM_BY_BOTTOM_RIGHT {
        let mut trim = String::from("trim");
        if p.trim_by == TRIM_BY_BOTTOM_RIGHT {
            trim.push_str(":bottom-right");
        }
        if p.trim_tolerance > 0 {
            trim.push_str(&format!(":{}", p.trim_tolerance));
        }
        parts.push(trim);
    }
    if p.crop_top > 0.0 || p.crop_right > 0.0 || p.crop_left > 0.0 || p.crop_bottom > 0.0 {
        parts.push(format!(
            "{}x{}:{}x{}",
            go::format_float(p.crop_left),
            go::format_float(p.crop_top),
            go::format_float(p.crop_right),
            go::format_float(p.crop_bottom)
        ));
    }
    if p.fit_in {
        let mut fit = String::new();
        if p.adaptive_fit_in {
            fit.push_str("adaptive-");
        }
        if p.full_fit_in {
            fit.push_str("full-");
        }
        fit.push_str("fit-in");
        parts.push(fit);
    }
    if p.stretch {
        parts.push("stretch".into());
    }
    if p.h_flip
        || p.width != 0
        || p.v_flip
        || p.height != 0
        || p.padding_left > 0
        || p.padding_top > 0
    {
        let (mut h_flip, mut width) = (p.h_flip, p.width);
        let (mut v_flip, mut height) = (p.v_flip, p.height);
        if width < 0 {
            h_flip = !h_flip;
            // Go's int negation wraps: -MinInt64 stays MinInt64.
            width = width.wrapping_neg();
        }
        if height < 0 {
            v_flip = !v_flip;
            height = height.wrapping_neg();
        }
        let flip = |f: bool| if f { "-" } else { "" };
        parts.push(format!("{}{width}x{}{height}", flip(h_flip), flip(v_flip)));
    }
    if p.padding_left > 0 || p.padding_top > 0 || p.padding_right > 0 || p.padding_bottom > 0 {
        if p.padding_left == p.padding_right && p.padding_top == p.padding_bottom {
            parts.push(format!("{}x{}", p.padding_left, p.padding_top));
        } else {
            parts.push(format!(
                "{}x{}:{}x{}",
                p.padding_left, p.padding_top, p.padding_right, p.padding_bottom
            ));
        }
    }
    if p.h_align == H_ALIGN_LEFT || p.h_align == H_ALIGN_RIGHT {
        parts.push(p.h_align.clone());
    }
    if p.v_align == V_ALIGN_TOP || p.v_align == V_ALIGN_BOTTOM {
        parts.push(p.v_align.clone());
    }
    if p.smart {
        parts.push("smart".into());
    }
    if !p.filters.is_empty() {
        let mut filters = String::from("filters:");
        for (i, f) in p.filters.iter().enumerate() {
            if i > 0 {
                filters.push(':');
            }
            filters.push_str(&f.name);
            filters.push('(');
            filters.push_str(&f.args);
            filters.push(')');
        }
        parts.push(filters);
    }
    // imagor writes the image's bytes; a plain image that is not UTF-8
    // stays in its U+FFFD form, as a `String` cannot hold those bytes.
    if p.base64_image {
        parts.push(format!("b64:{}", URL_SAFE_NO_PAD.encode(p.image_bytes())));
    } else if needs_escape(&p.image) {
        parts.push(go::path_escape(p.image_bytes()));
    } else {
        parts.push(p.image.clone());
    }
    parts.join("/")
}

fn needs_escape(image: &str) -> bool {
    image.contains(['?', '(', ')', ',']) || KEYWORD_PREFIXES.iter().any(|k| image.starts_with(k))
}

/// `unsafe/` + [`generate_path`] (imagor's `GenerateUnsafe`).
pub fn generate_unsafe(p: &Params) -> String {
    format!("unsafe/{}", generate_path(p))
}

/// A request path for `p`: `HASH/path` signed with `signer` (imagor's
/// `Generate`), or `unsafe/path` without one (imagor's `GenerateUnsafe`).
pub fn generate(p: &Params, signer: Option<&Signer>) -> String {
    let path = generate_path(p);
    match signer {
        Some(signer) => format!("{}/{path}", signer.sign(&path)),
        None => format!("unsafe/{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{parse, Filter};

    #[test]
    fn extreme_numbers() {
        let p = Params {
            width: i64::MIN,
            image: "a".into(),
            ..Params::default()
        };
        assert_eq!(generate_path(&p), "--9223372036854775808x0/a");
        let p = Params {
            crop_left: f64::INFINITY,
            ..Params::default()
        };
        assert_eq!(generate_path(&p), "+Infx0:0x0/");
    }

    /// Images that decode to bytes that are not UTF-8 are shown with U+FFFD
    /// but written back with their own bytes (values from Go's `imagorpath`).
    #[test]
    fn images_that_are_not_utf8_keep_their_bytes() {
        let p = parse("unsafe/b64:Zm9vLmpwZ7w");
        assert_eq!(p.image, "foo.jpg\u{FFFD}");
        assert_eq!(p.image_bytes(), b"foo.jpg\xbc");
        assert_eq!(generate_path(&p), "b64:Zm9vLmpwZ7w");
        let p = parse("unsafe/stet%28h%92<img");
        assert_eq!(p.image, "stet(h\u{FFFD}<img");
        assert_eq!(generate_path(&p), "stet%28h%92%3Cimg");
        assert_eq!(
            p.to_json(),
            r#"{"path":"stet%28h%92\u003cimg","image":"stet(h\ufffd\u003cimg","unsafe":true}"#
        );
        // Once the image is changed, the old bytes no longer count.
        let mut q = p.clone();
        q.image = "other(1).jpg".into();
        assert_eq!(q.image_bytes(), b"other(1).jpg");
        assert_eq!(generate_path(&q), "other%281%29.jpg");
        // UTF-8 images carry no shadow bytes.
        assert_eq!(parse("unsafe/caf%C3%A9.jpg").image_raw, None);
    }

    #[test]
    fn round_trip() {
        let p = Params {
            trim: true,
            trim_tolerance: 3,
            crop_left: 0.25,
            crop_bottom: 7.0,
            fit_in: true,
            full_fit_in: true,
            width: -300,
            height: 20,
            padding_left: 1,
            padding_top: 2,
            padding_right: 3,
            padding_bottom: 4,
            h_align: "left".into(),
            v_align: "bottom".into(),
            filters: vec![Filter::new("fill", "red"), Filter::new("blur", "")],
            image: "photo (1).jpg".into(),
            ..Params::default()
        };
        let path = generate_path(&p);
        assert_eq!(
            path,
            "trim:3/0.25x0:0x7/full-fit-in/-300x20/1x2:3x4/left/bottom/filters:fill(red):blur()/photo%20%281%29.jpg"
        );
        let q = parse(&path);
        assert_eq!(
            (q.width, q.h_flip, q.image.as_str()),
            (300, true, "photo (1).jpg")
        );
        assert_eq!(generate_path(&q), path);
    }
}
