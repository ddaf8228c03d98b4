//! Helpers of the conformance harness: which keys a request loads, the
//! `raw()` rewrite of a POST path, templates, short bodies for messages.

use std::time::{SystemTime, UNIX_EPOCH};

use imagor::path;

/// Every key the request loads: the image, `watermark()`/`image()` first
/// arguments, the same in base params.
pub fn loaded_keys(target: &str, base: &str) -> Vec<String> {
    let p = path::parse(target.split('?').next().unwrap_or(""));
    let mut filters = p.filters.clone();
    if !base.is_empty() {
        filters.extend(path::parse(&format!("{}/x.jpg", base.trim_end_matches('/'))).filters);
    }
    let mut keys = vec![p.image.clone()];
    for f in filters {
        if f.name == "watermark" || f.name == "image" {
            keys.push(
                path::split_args(&f.args)
                    .first()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    keys.retain(|k| !k.is_empty());
    keys
}

/// `raw()` added to a POST path: to its `filters:` segment, else as one
/// before the last segment.
pub fn with_raw(target: &str) -> String {
    let mut segs: Vec<String> = target.split('/').map(str::to_owned).collect();
    if let Some(f) = segs.iter_mut().find(|s| s.starts_with("filters:")) {
        f.push_str(":raw()");
    } else {
        let at = segs.len() - 1;
        segs.insert(at, "filters:raw()".into());
    }
    segs.join("/")
}

/// `{now_ms+N}` replaced by the current Unix time in ms plus N.
pub fn now_ms_templates(text: &str) -> String {
    let mut out = text.to_owned();
    while let Some(at) = out.find("{now_ms+") {
        let end = at + out[at..].find('}').expect("template end");
        let n: i64 = out[at + 8..end].parse().expect("template number");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
        out.replace_range(at..=end, &(now.as_millis() as i64 + n).to_string());
    }
    out
}

/// The start of a body, for messages.
pub fn short(b: &[u8]) -> String {
    let t = String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned();
    format!("{t}{}", if b.len() > 120 { "…" } else { "" })
}
