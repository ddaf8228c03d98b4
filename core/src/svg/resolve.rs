//! usvg options: fonts, 72 dpi, and an `href` resolver that never touches files or the network.
//!
//! * `data:` URLs only; every other `href` (`file:`, `http:`, relative paths) renders as absent.
//! * Raster images (PNG, JPEG, GIF, WebP, detected by magic bytes, not by the declared MIME
//!   type) are accepted only if their header dimensions fit `max_pixels`, `max_width` and
//!   `max_height`; otherwise the whole render fails with `TooLarge`.
//! * Nested SVG images are allowed one level deep, under the same limits (pre-checks and
//!   parse cost are charged to the same budget); SVG inside a nested SVG renders as absent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use resvg::usvg;
use usvg::{ImageHrefResolver, ImageKind, Options};

use super::{SvgError, SvgLimits};

/// State shared by the resolver closures of one render (outer and nested documents).
pub(crate) struct Shared {
    pub(crate) limits: SvgLimits,
    cost: AtomicU64,
    violation: Mutex<Option<SvgError>>,
}

impl Shared {
    pub(crate) fn new(limits: SvgLimits, initial_cost: u64) -> Self {
        Shared {
            limits,
            cost: AtomicU64::new(initial_cost),
            violation: Mutex::new(None),
        }
    }

    /// Parse-stage cost spent so far.
    pub(crate) fn cost(&self) -> u64 {
        self.cost.load(Ordering::Relaxed)
    }

    /// Fails if the parse-stage cost is already over budget.
    pub(crate) fn check_cost(&self) -> Result<(), SvgError> {
        let c = self.cost();
        if c > self.limits.max_cost {
            return Err(SvgError::TooExpensive {
                estimated: c,
                limit: self.limits.max_cost,
            });
        }
        Ok(())
    }

    fn charge(&self, c: u64) -> Result<(), SvgError> {
        self.cost.fetch_add(c, Ordering::Relaxed);
        self.check_cost()
    }

    /// Takes the first limit violation recorded by a resolver, if any.
    pub(crate) fn take_violation(&self) -> Option<SvgError> {
        self.violation.lock().map(|mut v| v.take()).unwrap_or(None)
    }

    fn has_violation(&self) -> bool {
        self.violation.lock().map(|v| v.is_some()).unwrap_or(true)
    }

    fn record(&self, err: SvgError) {
        if let Ok(mut v) = self.violation.lock() {
            v.get_or_insert(err);
        }
    }
}

/// Builds usvg options bound to `shared`. `allow_svg` permits nested SVG images (outer level).
pub(crate) fn options<'a>(shared: &'a Shared, allow_svg: bool) -> Options<'a> {
    Options {
        resources_dir: None,
        dpi: super::size::DPI as f32,
        // librsvg's initial font-family is "Times New Roman"; fontconfig maps it to serif.
        font_family: "serif".to_string(),
        font_size: 12.0,
        image_href_resolver: ImageHrefResolver {
            resolve_data: Box::new(move |_mime, data, _opts| resolve_data(shared, data, allow_svg)),
            resolve_string: Box::new(|_href, _opts| None),
        },
        fontdb: super::fontdb(),
        ..Options::default()
    }
}

fn resolve_data(shared: &Shared, data: Arc<Vec<u8>>, allow_svg: bool) -> Option<ImageKind> {
    if shared.has_violation() {
        return None;
    }
    match imagesize::image_type(&data) {
        Ok(
            t @ (imagesize::ImageType::Png
            | imagesize::ImageType::Jpeg
            | imagesize::ImageType::Gif
            | imagesize::ImageType::Webp),
        ) => {
            let size = imagesize::blob_size(&data).ok()?;
            let (w, h) = (size.width as u64, size.height as u64);
            let l = &shared.limits;
            if w == 0 || h == 0 {
                return None;
            }
            if w > l.max_width as u64 || h > l.max_height as u64 || w * h > l.max_pixels {
                shared.record(SvgError::TooLarge {
                    what: format!("embedded image {w}x{h} (max_pixels/max_width/max_height)"),
                    limit: l.max_pixels,
                });
                return None;
            }
            Some(match t {
                imagesize::ImageType::Png => ImageKind::PNG(data),
                imagesize::ImageType::Jpeg => ImageKind::JPEG(data),
                imagesize::ImageType::Gif => ImageKind::GIF(data),
                _ => ImageKind::WEBP(data),
            })
        }
        _ if allow_svg => match nested_svg(shared, &data) {
            Ok(kind) => kind,
            Err(e) => {
                shared.record(e);
                None
            }
        },
        _ => None,
    }
}

/// Parses a nested SVG image under the same limits; its own images may only be raster.
fn nested_svg(shared: &Shared, data: &[u8]) -> Result<Option<ImageKind>, SvgError> {
    let limits = &shared.limits;
    if data.len() > limits.max_input_bytes {
        return Err(SvgError::TooLarge {
            what: "nested SVG image bytes (max_input_bytes)".into(),
            limit: limits.max_input_bytes as u64,
        });
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(None);
    };
    let Ok(doc) = super::precheck::parse_xml(text, limits) else {
        return Ok(None);
    };
    if doc.root_element().tag_name().name() != "svg" {
        return Ok(None);
    }
    let stats = super::precheck::analyze(&doc, limits)?;
    shared.charge(stats.cost())?;
    let opts = options(shared, false);
    Ok(usvg::Tree::from_xmltree(&doc, &opts)
        .ok()
        .map(ImageKind::SVG))
}
