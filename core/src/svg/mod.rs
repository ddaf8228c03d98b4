//! Bounded, memory-safe SVG rasteriser, built on `usvg`/`resvg` (pure Rust).
//!
//! This replaces libvips' `svgload` (librsvg) for every SVG source: librsvg
//! panics inside its own Rust code on some filters (`feConvolveMatrix` with
//! a large order), and a panic cannot unwind through C, so it aborts the
//! whole host process. Every document goes through:
//!
//! 1. input size check (`max_input_bytes`), UTF-8 check, XML entity-expansion pre-scan;
//! 2. `roxmltree` parse (no external entities, node limit), iterative nesting-depth check;
//! 3. a memoised pass over the raw XML that computes, for every element, the size of its
//!    subtree *after* `use`/paint/marker/clip/mask/filter reference expansion, the expanded
//!    depth, the amount of text and embedded image data, and the CSS matching work; documents
//!    over `max_nodes`/`max_depth` or with reference cycles are refused before usvg runs;
//! 4. `usvg` tree construction with a resolver that only accepts `data:` URLs (raster images
//!    are header-checked against the pixel budget; nested SVG images are allowed one level deep);
//! 5. a cost/memory estimate of the resvg render that mirrors resvg's own algorithm
//!    (layers, filters per primitive, patterns, clips, masks, images) and refuses over `max_cost`;
//! 6. rendering on a dedicated thread with a large, fixed stack inside `catch_unwind`.
//!
//! Nothing reads files or the network after the one-time system font load.

mod cost;
mod precheck;
mod resolve;
mod size;
mod stroke;
mod xml;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use resvg::tiny_skia;
use resvg::usvg;

/// Limits applied to every SVG parse and render.
#[derive(Clone, Debug, PartialEq)]
pub struct SvgLimits {
    /// Maximum rendered `width * height` at the requested scale (the caller's resolution limit).
    /// Also bounds each embedded raster image (header dimensions).
    pub max_pixels: u64,
    /// Maximum rendered width in pixels at the requested scale.
    pub max_width: u32,
    /// Maximum rendered height in pixels at the requested scale.
    pub max_height: u32,
    /// Maximum size of the input document in bytes (also bounds XML entity expansion and
    /// nested SVG images).
    pub max_input_bytes: usize,
    /// Maximum number of elements after `use`, paint-server, marker, clip, mask and filter
    /// reference expansion (counted on the raw XML before usvg builds its tree).
    pub max_nodes: usize,
    /// Maximum XML nesting depth, also after reference expansion (bounds all recursion).
    pub max_depth: usize,
    /// Maximum estimated work, in abstract units calibrated so that 1e9 units ≈ 1 s of CPU
    /// (release build, see README.md). Covers parsing, text layout and rendering.
    pub max_cost: u64,
    /// Maximum estimated peak size of all simultaneously live pixel buffers, in bytes
    /// (output canvas, group layers, filter results, pattern tiles, masks, decoded images).
    pub max_memory: u64,
}

impl Default for SvgLimits {
    fn default() -> Self {
        SvgLimits {
            max_pixels: 81_000_000,
            max_width: 9999,
            max_height: 9999,
            max_input_bytes: 10 * 1024 * 1024,
            max_nodes: 200_000,
            max_depth: 200,
            max_cost: 1_000_000_000,
            max_memory: 1 << 30,
        }
    }
}

/// Errors returned by [`svg_size`] and [`render_svg`].
#[derive(Clone, Debug, PartialEq)]
pub enum SvgError {
    /// The document is not well-formed SVG, has no usable size, or the scale is invalid.
    Parse(String),
    /// A size limit was exceeded; `what` names the limit (a field of [`SvgLimits`]).
    TooLarge {
        /// Which quantity and which limit, e.g. `"max_nodes (elements after reference expansion)"`.
        what: String,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// The estimated rendering work exceeds [`SvgLimits::max_cost`].
    TooExpensive {
        /// Estimated cost in work units (≈ ns of CPU).
        estimated: u64,
        /// The `max_cost` limit.
        limit: u64,
    },
    /// The document uses a construct this renderer refuses (e.g. a reference cycle).
    Unsupported(String),
    /// usvg/resvg panicked; the panic was contained and the message is attached.
    Panicked(String),
}

impl fmt::Display for SvgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SvgError::Parse(m) => write!(f, "invalid SVG: {m}"),
            SvgError::TooLarge { what, limit } => {
                write!(f, "SVG too large: {what} exceeds limit {limit}")
            }
            SvgError::TooExpensive { estimated, limit } => write!(
                f,
                "SVG too expensive: estimated cost {estimated} exceeds max_cost {limit}"
            ),
            SvgError::Unsupported(m) => write!(f, "unsupported SVG: {m}"),
            SvgError::Panicked(m) => write!(f, "SVG renderer panicked: {m}"),
        }
    }
}

impl std::error::Error for SvgError {}

/// A rendered SVG: straight (un-premultiplied) RGBA8, row-major, `width * height * 4` bytes,
/// transparent background, as libvips' svgload produces (4 bands, sRGB).
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedSvg {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Straight-alpha RGBA8 pixels.
    pub rgba: Vec<u8>,
}

/// Stack size of the worker thread that parses and renders. usvg and resvg recurse over the
/// document; `max_depth` keeps that recursion far below this.
const WORKER_STACK: usize = 64 * 1024 * 1024;

/// Intrinsic size in pixels as libvips 8.14 `svgload` (librsvg 2.54) reports it at 72 dpi:
/// absolute `width`/`height` (units `px in cm mm pt pc em ex`); a percentage or missing side is
/// derived from the `viewBox` (both relative: the viewBox size); without a usable viewBox, the
/// ink bounding box of the content. Values are not rounded; libvips rounds half up.
pub fn svg_size(data: &[u8], limits: &SvgLimits) -> Result<(f64, f64), SvgError> {
    run_guarded(|| {
        let text = input_text(data, limits)?;
        let doc = precheck::parse_xml(text, limits)?;
        match size::intrinsic(&doc)? {
            size::Intrinsic::Fixed(w, h) => size::validate(w, h),
            size::Intrinsic::FromBBox => {
                let prepared = prepare(&doc, limits)?;
                let (w, h) = size::ink_bbox_size(&prepared.tree)?;
                size::validate(w, h)
            }
        }
    })
}

/// Renders `data` at `scale` (1.0 = intrinsic size, see [`svg_size`]) into straight RGBA8.
///
/// The output size is `round(intrinsic * scale)` per side (at least 1), checked against
/// `max_width`, `max_height` and `max_pixels` before anything is allocated; the estimated
/// cost and pixel memory are checked against `max_cost` and `max_memory` before rendering.
pub fn render_svg(data: &[u8], scale: f64, limits: &SvgLimits) -> Result<RenderedSvg, SvgError> {
    run_guarded(|| {
        let plan = plan(data, scale, limits)?;
        let (w, h) = (plan.width, plan.height);
        let mut pixmap = tiny_skia::Pixmap::new(w, h)
            .ok_or_else(|| SvgError::Parse(format!("cannot allocate {w}x{h} canvas")))?;
        resvg::render(&plan.tree, plan.transform, &mut pixmap.as_mut());
        Ok(RenderedSvg {
            width: w,
            height: h,
            rgba: unpremultiply(pixmap),
        })
    })
}

/// Estimates the total cost (parse + render, in `max_cost` units) of rendering `data` at
/// `scale`, running every check of [`render_svg`] except the rendering itself.
pub fn estimate_svg_cost(data: &[u8], scale: f64, limits: &SvgLimits) -> Result<u64, SvgError> {
    run_guarded(|| plan(data, scale, limits).map(|p| p.cost))
}

/// Everything needed to render, after all checks passed.
struct Plan {
    tree: usvg::Tree,
    width: u32,
    height: u32,
    transform: tiny_skia::Transform,
    cost: u64,
}

fn plan(data: &[u8], scale: f64, limits: &SvgLimits) -> Result<Plan, SvgError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(SvgError::Parse(format!(
            "scale must be finite and > 0, got {scale}"
        )));
    }
    let text = input_text(data, limits)?;
    let doc = precheck::parse_xml(text, limits)?;
    let intrinsic = size::intrinsic(&doc)?;
    // Refuse oversized documents before usvg allocates anything.
    if let size::Intrinsic::Fixed(w, h) = intrinsic {
        let (w, h) = size::validate(w, h)?;
        size::output_size(w * scale, h * scale, limits)?;
    }
    let prepared = prepare(&doc, limits)?;
    let tree = prepared.tree;
    let (width, height, transform) = match intrinsic {
        size::Intrinsic::Fixed(w, h) => {
            // Map usvg's viewport onto the libvips size (they differ e.g. for percentages).
            let (ow, oh) = size::output_size(w * scale, h * scale, limits)?;
            let sx = w * scale / tree.size().width() as f64;
            let sy = h * scale / tree.size().height() as f64;
            (
                ow,
                oh,
                tiny_skia::Transform::from_scale(sx as f32, sy as f32),
            )
        }
        size::Intrinsic::FromBBox => {
            // libvips: viewport = ink bbox size, content drawn at its own coordinates.
            let (w, h) = size::validate_pair(size::ink_bbox_size(&tree)?)?;
            let (ow, oh) = size::output_size(w * scale, h * scale, limits)?;
            (
                ow,
                oh,
                tiny_skia::Transform::from_scale(scale as f32, scale as f32),
            )
        }
    };
    let cost = cost::estimate(&tree, transform, width, height, limits, prepared.parse_cost)?;
    Ok(Plan {
        tree,
        width,
        height,
        transform,
        cost,
    })
}

/// A parsed usvg tree plus the parse-stage cost already spent from the budget.
pub(crate) struct Prepared {
    pub(crate) tree: usvg::Tree,
    pub(crate) parse_cost: u64,
}

/// Runs the raw-XML pre-checks, then builds the usvg tree with the restricted resolver.
pub(crate) fn prepare(doc: &roxmltree::Document, limits: &SvgLimits) -> Result<Prepared, SvgError> {
    let stats = precheck::analyze(doc, limits)?;
    let shared = resolve::Shared::new(limits.clone(), stats.cost());
    shared.check_cost()?;
    let opts = resolve::options(&shared, true);
    let tree = usvg::Tree::from_xmltree(doc, &opts).map_err(|e| match e {
        usvg::Error::ElementsLimitReached => SvgError::TooLarge {
            what: "usvg element limit".into(),
            limit: 1_000_000,
        },
        e => SvgError::Parse(e.to_string()),
    });
    // A limit hit inside the image resolver wins over whatever usvg made of the document.
    if let Some(err) = shared.take_violation() {
        return Err(err);
    }
    let tree = tree?;
    Ok(Prepared {
        tree,
        parse_cost: shared.cost(),
    })
}

fn input_text<'a>(data: &'a [u8], limits: &SvgLimits) -> Result<&'a str, SvgError> {
    if data.len() > limits.max_input_bytes {
        return Err(SvgError::TooLarge {
            what: "input bytes (max_input_bytes)".into(),
            limit: limits.max_input_bytes as u64,
        });
    }
    if data.starts_with(&[0x1f, 0x8b]) {
        return Err(SvgError::Unsupported("gzip-compressed SVG (svgz)".into()));
    }
    std::str::from_utf8(data).map_err(|e| SvgError::Parse(format!("not UTF-8: {e}")))
}

/// Runs `f` on a worker thread with a large fixed stack, converting panics to
/// [`SvgError::Panicked`]. Stack overflow cannot be caught, which is why depth is bounded
/// before usvg runs; the dedicated stack makes that bound independent of the caller's thread.
fn run_guarded<T: Send>(f: impl FnOnce() -> Result<T, SvgError> + Send) -> Result<T, SvgError> {
    quiet_worker_panics();
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name(WORKER_NAME.into())
            .stack_size(WORKER_STACK)
            .spawn_scoped(s, || catch_unwind(AssertUnwindSafe(f)))
            .map_err(|e| SvgError::Panicked(format!("cannot start render thread: {e}")))?;
        match handle.join() {
            Ok(Ok(result)) => result,
            Ok(Err(payload)) | Err(payload) => Err(SvgError::Panicked(panic_message(&*payload))),
        }
    })
}

/// Name of the thread that parses and renders.
const WORKER_NAME: &str = "imagor-svg";

/// A contained panic of the renderer would still be printed on the host's
/// stderr by the default panic hook. Wrap the hook in place (once) so that
/// panics on our worker thread stay silent; every other panic goes to the
/// hook that was installed before, unchanged.
fn quiet_worker_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(WORKER_NAME) {
                previous(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

fn unpremultiply(pixmap: tiny_skia::Pixmap) -> Vec<u8> {
    let mut out = pixmap.take();
    for px in out.chunks_exact_mut(4) {
        let a = px[3] as u32;
        if a != 0 && a != 255 {
            for c in &mut px[..3] {
                *c = ((*c as u32 * 255 + a / 2) / a).min(255) as u8;
            }
        }
    }
    out
}

/// System fonts, loaded once into memory (no file access afterwards), with the CSS generic
/// families mapped to DejaVu like fontconfig does on Debian.
pub(crate) fn fontdb() -> Arc<usvg::fontdb::Database> {
    static DB: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        const MAX_FONT_BYTES: usize = 64 * 1024 * 1024;
        let mut scan = usvg::fontdb::Database::new();
        scan.load_system_fonts();
        let mut db = usvg::fontdb::Database::new();
        let mut seen = std::collections::HashSet::new();
        let mut total = 0usize;
        for face in scan.faces() {
            if let usvg::fontdb::Source::File(path) = &face.source {
                if !seen.insert(path.clone()) {
                    continue;
                }
                if let Ok(bytes) = std::fs::read(path) {
                    if total + bytes.len() <= MAX_FONT_BYTES {
                        total += bytes.len();
                        db.load_font_data(bytes);
                    }
                }
            }
        }
        db.set_sans_serif_family("DejaVu Sans");
        db.set_serif_family("DejaVu Serif");
        db.set_monospace_family("DejaVu Sans Mono");
        db.set_cursive_family("DejaVu Sans");
        db.set_fantasy_family("DejaVu Sans");
        Arc::new(db)
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_contained() {
        let r: Result<(), SvgError> = run_guarded(|| panic!("boom"));
        assert_eq!(r, Err(SvgError::Panicked("boom".into())));
    }
}
