//! The processing pipeline, in imagor's order. Each stage says why it sits
//! where it does.
//!
//! 1. `color:` sources are generated at the requested size (no loader).
//! 2. The filters are read once; the ones that steer loading are looked at
//!    first, because they decide how to load (frames, page, dpi) and whether
//!    libvips may shrink while decoding.
//! 3. Load: shrink-on-load thumbnail when nothing needs the full image
//!    (crop, trim, flips, `orient`, `fill(auto)`, `focal`, `max_bytes`,
//!    full/adaptive fit-in need it), else a full lazy load. The limits are
//!    checked on the header, before pixels are decoded.
//! 4. `orient` rotates before any resize, and clears the EXIF orientation so
//!    `thumbnail` does not rotate again.
//! 5. Focal regions are resolved against the loaded size (fractions), before
//!    crop changes the coordinate system.
//! 6. Geometry ([`super::geometry`]): crop and trim in source space, then the
//!    resize, then flips.
//! 7. Filters in URL order, each seeing the previous one's output; `fill`
//!    pads to the box computed in 6.
//! 8. Export ([`super::export`]) chooses format and settings from the filters.
//!
//! Nested `image()` overlays run this pipeline again one level deeper and
//! `watermark()` loads through the same loader: the filters ask for both
//! through [`Overlays`], which [`Ctx`] implements here.

use super::geometry::{self, Resize};
use super::load::Loader;
use super::source::Source;
use super::Ctx;
use crate::error::{Error, Result};
use crate::filters::apply::{FilterCtx, Overlays};
use crate::filters::{self, resolve_full_dimensions, FilterOp, FocalRect, Parsed};
use crate::format::ImageFormat;
use crate::ops::keep_alive::KeepAlive;
use crate::ops::{color, multipage};
use crate::path::{Params, H_ALIGN_LEFT, H_ALIGN_RIGHT, V_ALIGN_BOTTOM, V_ALIGN_TOP};
use crate::vips::{Image, Interesting, Size};

/// The processed image and what export needs to know about its source.
pub(crate) struct Processed {
    /// The image after geometry and filters.
    pub img: Image,
    /// The format of the source (`None` for raw pixels, BMP, `color:`).
    pub source_format: Option<ImageFormat>,
    /// The filters as parsed, for export and `/meta`.
    pub ops: Vec<Parsed>,
    /// The intermediate images, released after `img` (declared after it).
    pub chain: KeepAlive,
}

/// Load `source` (or generate the `color:` image) and apply `p`.
pub(crate) fn load_and_process(
    ctx: &Ctx<'_>,
    source: Option<&Source>,
    p: &Params,
) -> Result<Processed> {
    let ops = filters::parse_all(&p.filters, ctx.opts)?;
    if let Some(c) = color::parse_color_image(&p.image) {
        let img = color_source(ctx, p, c)?;
        let how = Resize {
            thumbnail: true,
            stretch: false,
            upscale: false,
        };
        let (img, chain) = transform_and_filter(ctx, img, p, &ops, &how, &[])?;
        return Ok(Processed {
            img,
            source_format: None,
            ops,
            chain,
        });
    }
    let source = source.ok_or(Error::NOT_FOUND)?;
    // The encoded bytes stay alive for the whole call: they count towards
    // the memory all calls share (not `max_memory`, which bounds what the
    // call makes of them).
    if let Source::Bytes { blob, .. } = source {
        ctx.budget.reserve_source(blob.as_slice())?;
    }
    let loader = Loader {
        opts: ctx.opts,
        budget: ctx.budget,
        header_only: p.meta,
    };
    let plan = LoadPlan::new(ctx, source, p, &ops);
    let (img, thumbnail) = plan.load(&loader, source, p)?;
    let img = if plan.orient > 0 {
        // Rotate before resizing; drop the tag so thumbnail won't rotate again.
        multipage::rotate(&img, multipage::angle_for(plan.orient))?
            .with_meta(|m| m.remove("orientation"))?
    } else {
        img
    };
    let mut focal = resolve_focal(&ops, img.width() as f64, img.page_height() as f64);
    if p.smart && focal.is_empty() && !ctx.detectors.is_empty() {
        focal = detected_focal(ctx, &img, &p.image)?;
    }
    let how = Resize {
        thumbnail,
        stretch: plan.stretch,
        upscale: plan.upscale,
    };
    let (img, chain) = transform_and_filter(ctx, img, p, &ops, &how, &focal)?;
    Ok(Processed {
        img,
        source_format: source.format(),
        ops,
        chain,
    })
}

/// The pipeline seen from overlay filters: a nested `image()` path runs one
/// level deeper (up to `max_overlay_depth`), watermarks load through the
/// same loader.
impl Overlays for Ctx<'_> {
    /// Run the nested path of `image()` one level deeper.
    fn nested(
        &self,
        path: &str,
        parent_width: i32,
        parent_height: i32,
    ) -> Result<(Image, KeepAlive)> {
        let max = self.opts.max_overlay_depth;
        if self.depth >= max {
            return Err(Error::invalid_msg(format!(
                "image(): overlays nested deeper than max_overlay_depth ({max})"
            )));
        }
        // The count above bounds one call; calls nested through a binding's
        // callback multiply it, on a host thread of any size.
        crate::stack::check_room("image()")?;
        let path = resolve_full_dimensions(path, parent_width, parent_height);
        let params = crate::path::parse(&path);
        let source = if color::parse_color_image(&params.image).is_some() {
            None
        } else {
            let load = self.load.ok_or(Error::NOT_FOUND)?;
            Some(Source::shared(&load(&params.image)?.into())?)
        };
        let child = Ctx {
            opts: self.opts,
            budget: self.budget,
            load: self.load,
            depth: self.depth + 1,
            detectors: self.detectors,
        };
        let done = load_and_process(&child, source.as_ref(), &params)?;
        Ok((done.img, done.chain))
    }

    /// imagor's `loadOverlayImage` without its cache: the watermark resized to
    /// fit the ratio box (up or down), or only shrunk to the limits. Over an
    /// animation imagor loads all the watermark's frames; those past the
    /// base's are cut before compositing, so only the base's count is
    /// loaded (and checked against the limits: 3000 frames of 200x200 over
    /// 8 were a 422 for 120 MP, of which 8 frames were used).
    fn watermark(&self, key: &str, fit: Option<(i32, i32)>, frames: i32) -> Result<Image> {
        let load = self.load.ok_or(Error::NOT_FOUND)?;
        let source = Source::shared(&load(key)?.into())?;
        let n = frames.max(1);
        let loader = Loader {
            opts: self.opts,
            budget: self.budget,
            header_only: false,
        };
        if let Some((w, h)) = fit {
            return loader.thumbnail(&source, w, h, Interesting::None, Size::Both, n, 1, 0);
        }
        let (mw, mh) = (self.opts.max_width, self.opts.max_height);
        loader.thumbnail(&source, mw, mh, Interesting::None, Size::Down, n, 1, 0)
    }
}

/// Stage 1: a solid image of the requested size (1x1 by default, a square
/// when one side is given), within the limits.
fn color_source(ctx: &Ctx<'_>, p: &Params, c: [f64; 4]) -> Result<Image> {
    let opts = ctx.opts;
    let (mut w, mut h) = (
        p.width.unsigned_abs() as i64,
        p.height.unsigned_abs() as i64,
    );
    if w == 0 && h == 0 {
        (w, h) = (1, 1);
    } else if w == 0 {
        w = h;
    } else if h == 0 {
        h = w;
    }
    if !opts.unlimited && w.saturating_mul(h) > opts.max_resolution {
        return Err(Error::MaxResolutionExceeded);
    }
    let w = w.min(opts.max_width as i64) as i32;
    let h = h.min(opts.max_height as i64) as i32;
    color::color_image(w, h, c)
}

/// Stage 2: what the filters say about loading.
struct LoadPlan {
    full_image_needed: bool,
    upscale: bool,
    stretch: bool,
    max_frames: i32,
    page: i32,
    dpi: i32,
    orient: i32,
}

impl LoadPlan {
    fn new(ctx: &Ctx<'_>, source: &Source, p: &Params, ops: &[Parsed]) -> Self {
        let mut plan = LoadPlan {
            full_image_needed: p.trim || p.v_flip || p.full_fit_in || p.adaptive_fit_in,
            upscale: !p.fit_in || p.full_fit_in,
            stretch: p.stretch,
            max_frames: ctx.opts.max_animation_frames,
            page: 1,
            dpi: 0,
            orient: 0,
        };
        // With a detector, smart crop detects on the whole image before
        // cropping (imagor loads it at full size for that).
        if p.smart && !ctx.detectors.is_empty() {
            plan.full_image_needed = true;
        }
        if plan.max_frames == 0 || plan.max_frames < -1 {
            plan.max_frames = 1;
        }
        if !source.supports_animation() {
            plan.max_frames = 1;
        }
        // The last fallback_format wins, as in imagor.
        let fallback = ops.iter().rev().find_map(|f| match f.op {
            FilterOp::FallbackFormat(Some(f)) => Some(f.save_format()),
            _ => None,
        });
        for f in ops {
            if f.needs_full_image() {
                plan.full_image_needed = true;
            }
            match f.op {
                // No frames when neither the format nor the fallback animates.
                FilterOp::Format(Some(f))
                    if !f.save_format().supports_animation()
                        && !fallback.is_some_and(ImageFormat::supports_animation) =>
                {
                    plan.max_frames = 1;
                }
                FilterOp::MaxFrames(n)
                    if n > 0 && (plan.max_frames == -1 || n < plan.max_frames) =>
                {
                    plan.max_frames = n;
                }
                FilterOp::Stretch => plan.stretch = true,
                FilterOp::Upscale => plan.upscale = true,
                FilterOp::NoUpscale => plan.upscale = false,
                FilterOp::Page(n) if n > 0 => plan.page = n,
                FilterOp::Dpi(n) if n > 0 => plan.dpi = n,
                FilterOp::Orient(n) if n > 0 => plan.orient = n,
                _ => {}
            }
        }
        plan
    }

    /// Stage 3: shrink-on-load when possible. Returns the image and whether
    /// it is already at its final size.
    fn load(&self, loader: &Loader<'_>, source: &Source, p: &Params) -> Result<(Image, bool)> {
        let (n, page, dpi) = (self.max_frames, self.page, self.dpi);
        let opts = loader.opts;
        let has_crop =
            p.crop_bottom != 0.0 || p.crop_top != 0.0 || p.crop_left != 0.0 || p.crop_right != 0.0;
        let (w, h) = (
            p.width.clamp(0, i32::MAX as i64) as i32,
            p.height.clamp(0, i32::MAX as i64) as i32,
        );
        if !self.full_image_needed && !has_crop {
            let size = if self.upscale { Size::Both } else { Size::Down };
            let thumb = |tw, th, crop| loader.thumbnail(source, tw, th, crop, size, n, page, dpi);
            if p.fit_in {
                if w > 0 || h > 0 {
                    let tw = if w == 0 { opts.max_width } else { w };
                    let th = if h == 0 { opts.max_height } else { h };
                    return Ok((thumb(tw, th, Interesting::None)?, true));
                }
            } else if self.stretch {
                if w > 0 && h > 0 {
                    let img = loader.thumbnail(
                        source,
                        w,
                        h,
                        Interesting::None,
                        Size::Force,
                        n,
                        page,
                        dpi,
                    )?;
                    return Ok((img, true));
                }
            } else if w > 0 && h > 0 {
                if let Some(crop) = crop_interest(p) {
                    return Ok((thumb(w, h, crop)?, true));
                }
            } else if w > 0 {
                return Ok((thumb(w, opts.max_height, Interesting::None)?, true));
            } else if h > 0 {
                return Ok((thumb(opts.max_width, h, Interesting::None)?, true));
            }
        }
        if self.full_image_needed {
            Ok((loader.image(source, n, page, dpi)?, false))
        } else {
            let img = loader.thumbnail(
                source,
                opts.max_width,
                opts.max_height,
                Interesting::None,
                Size::Down,
                n,
                page,
                dpi,
            )?;
            Ok((img, false))
        }
    }
}

/// The crop a cover-resize can do while loading, from `smart` and the
/// alignments; `None` when the alignment needs the general path.
fn crop_interest(p: &Params) -> Option<Interesting> {
    let (h, v) = (p.h_align.as_str(), p.v_align.as_str());
    if p.smart {
        Some(Interesting::Attention)
    } else if (v == V_ALIGN_TOP && h.is_empty()) || (h == H_ALIGN_LEFT && v.is_empty()) {
        Some(Interesting::Low)
    } else if (v == V_ALIGN_BOTTOM && h.is_empty()) || (h == H_ALIGN_RIGHT && v.is_empty()) {
        Some(Interesting::High)
    } else if (v.is_empty() || v == "middle") && (h.is_empty() || h == "center") {
        Some(Interesting::Centre)
    } else {
        None
    }
}

/// Stage 5: focal regions in loaded-image pixels; fractions (all below 1)
/// are relative to the loaded size, a point becomes a 1x1 region.
fn resolve_focal(ops: &[Parsed], w: f64, h: f64) -> Vec<FocalRect> {
    let mut out = Vec::new();
    for f in ops {
        let FilterOp::Focal(Some(r)) = &f.op else {
            continue;
        };
        let mut r = *r;
        if r.right.is_nan() {
            if r.left < 1.0 && r.top < 1.0 {
                r.left *= w;
                r.top *= h;
            }
            r.right = r.left + 1.0;
            r.bottom = r.top + 1.0;
            out.push(r);
            continue;
        }
        if r.left < 1.0 && r.top < 1.0 && r.right <= 1.0 && r.bottom <= 1.0 {
            r.left *= w;
            r.right *= w;
            r.top *= h;
            r.bottom *= h;
        }
        if r.right > r.left && r.bottom > r.top {
            out.push(r);
        }
    }
    out
}

/// Stage 5b: with `smart`, no `focal()` and a detector, the detected
/// regions (fractions) become focal regions in loaded-image pixels. None
/// found: the crop falls back to attention.
fn detected_focal(ctx: &Ctx<'_>, img: &Image, key: &str) -> Result<Vec<FocalRect>> {
    let (w, h) = (img.width() as f64, img.page_height() as f64);
    let regions = crate::detector::run::detect(
        ctx.detectors,
        img,
        key,
        ctx.opts.detector_probe_size,
        ctx.budget,
    )?;
    Ok(regions
        .iter()
        .map(|r| FocalRect {
            left: r.left * w,
            top: r.top * h,
            right: r.right * w,
            bottom: r.bottom * h,
        })
        .collect())
}

/// A 400 from inside a filter names the filter (`blur(): ...`).
fn in_filter(e: Error, name: &str) -> Error {
    match e {
        Error::Invalid(m) if !m.starts_with(name) && !m.starts_with("invalid ") => {
            Error::Invalid(format!("{name}(): {m}"))
        }
        other => other,
    }
}

/// Stages 6 and 7.
fn transform_and_filter(
    ctx: &Ctx<'_>,
    img: Image,
    p: &Params,
    ops: &[Parsed],
    how: &Resize,
    focal: &[FocalRect],
) -> Result<(Image, KeepAlive)> {
    let (mut img, fill_w, fill_h) = geometry::transform(img, p, how, focal, ctx.opts)?;
    let clamp = |v: i64| v.clamp(0, i32::MAX as i64) as i32;
    let mut cx = FilterCtx {
        opts: ctx.opts,
        budget: ctx.budget,
        overlays: ctx,
        rotate90: false,
        fill_width: fill_w,
        fill_height: fill_h,
        padding: [
            clamp(p.padding_left),
            clamp(p.padding_top),
            clamp(p.padding_right),
            clamp(p.padding_bottom),
        ],
        keep: KeepAlive::default(),
        detectors: ctx.detectors,
    };
    cx.keep.push(&img);
    let max_ops = ctx.opts.max_filter_ops;
    for f in ops {
        if max_ops > 0 && f.index >= max_ops as usize {
            break;
        }
        filters::apply::check_output_size(&f.op, &img, ctx.opts)?;
        ctx.budget.charge_time(
            &format!("{}()", f.name),
            filters::apply::cost(&f.op, &img, (cx.fill_width, cx.fill_height), cx.padding),
        )?;
        let depth = filters::apply::depth(&f.op, &img);
        img =
            f.op.apply(img, &mut cx)
                .map_err(|e| in_filter(e, &f.name))?;
        cx.keep.push(&img);
        cx.keep.deepen(depth - 1);
        img = cx.keep.cut(img, ctx.opts, ctx.budget)?;
    }
    Ok((img, std::mem::take(&mut cx.keep)))
}
