//! Cost and memory model of a resvg render, walking the usvg tree the way `resvg::render`
//! does (same layer, filter-region, pattern-tile, clip and mask sizes). One unit ≈ 1 ns of
//! CPU in a release build on the reference machine (see README.md for the calibration).
//!
//! The walk is budgeted: it stops as soon as the running total passes `max_cost`, and every
//! node visit costs at least `NODE` units, so even exponentially shared trees (patterns of
//! patterns, masks of masks) are estimated in bounded time.

use resvg::tiny_skia::{Rect, Transform};
use resvg::usvg::{self, filter::Kind, Group, Node, Paint};

use super::precheck::Stats;
use super::{SvgError, SvgLimits};

// ---- parse stage (per unit of the raw-XML statistics) ----
const PARSE_NODE: f64 = 1_500.0; // per svgtree element + per converted element
const PARSE_CHAR: f64 = 3_500.0; // text shaping + outlining per character
const PARSE_CHAR_PAIR: f64 = 0.9; // layout of one <text>, per character squared
const PARSE_SPAN_CHAR: f64 = 240.0; // layout of one <text>, per character x span
const BASE: f64 = 500_000.0; // thread start, XML parse of a small document, setup
const PARSE_BYTE: f64 = 15.0; // XML + attribute (path data, lists) parsing per input byte
const PARSE_IMAGE_BYTE: f64 = 3.0; // base64 decode + copy of data: URLs per byte
const CSS_STEP: f64 = 5.0; // one selector matching step

// ---- render stage ----
const NODE: f64 = 100.0; // any node visit
const PATH: f64 = 1_500.0; // per fill or stroke call
const SEGMENT: f64 = 30.0; // per path segment (edge building)
const EDGE_ROW: f64 = 34.0; // per device row crossed by an edge (4x supersampled scan conversion)
const STROKE_EDGES: f64 = 3.4; // a stroke outline has ~2.5x the edges of its centre line
const STROKE_SEGMENT: f64 = 150.0; // stroker per segment
const DASH: f64 = 100.0; // per generated dash
const MAX_DASHES: f64 = 1_000_000.0; // tiny-skia's dash limit
const FILL_PX: f64 = 0.7; // solid fill per covered bbox pixel
const GRADIENT_PX: f64 = 9.0; // gradient shader per pixel
const PATTERN_PX: f64 = 10.0; // pattern shader per pixel
const ALLOC_PX: f64 = 0.5; // zeroed pixmap allocation
const COMPOSITE_PX: f64 = 11.0; // layer composited through a bilinear pattern shader
const CLIP_PX: f64 = 10.0; // clip pixmap + mask conversion
const MASK_PX: f64 = 12.0; // mask pixmap + luminance + apply
const IMAGE_DECODE_PX: f64 = 6.0;
const IMAGE_DRAW_PX: f64 = 6.0;
const FILTER_PX: f64 = 10.0; // per primitive: input copy, colour space, result
const BLUR_BOX_PX: f64 = 220.0; // 5 box passes x 2 directions, radius independent
const BLUR_IIR_PX: f64 = 380.0; // IIR (sigma < 2), radius independent
const MORPH_PX: f64 = 1.5; // per pixel per window element
const CONVOLVE_PX: f64 = 6.5; // per pixel per kernel element
const CONVOLVE_BASE_PX: f64 = 40.0; // per pixel (edge handling, divisor, bias)
const TURB_PX: f64 = 120.0; // per pixel per octave (4 channels)
const LIGHT_PX: f64 = 90.0;
const SIMPLE_PX: f64 = 13.0; // flood, offset, blend, composite, merge input, tile, ...
const OUTPUT_PX: f64 = 3.0; // canvas allocation + unpremultiply

/// Parse-stage cost from the raw-XML statistics.
pub(crate) fn parse_cost(s: &Stats) -> u64 {
    let c = BASE
        + s.bytes as f64 * PARSE_BYTE
        + s.nodes as f64 * PARSE_NODE
        + s.text_chars as f64 * PARSE_CHAR
        + s.text_char_pairs as f64 * PARSE_CHAR_PAIR
        + s.text_span_chars as f64 * PARSE_SPAN_CHAR
        + s.image_bytes as f64 * PARSE_IMAGE_BYTE
        + s.css_work as f64 * CSS_STEP
        + s.stroke as f64;
    to_units(c)
}

/// Cost of `steps` CSS matching steps.
pub(crate) fn css_cost(steps: u64) -> u64 {
    to_units(steps as f64 * CSS_STEP)
}

fn to_units(c: f64) -> u64 {
    if c.is_finite() && c < u64::MAX as f64 {
        c as u64
    } else {
        u64::MAX
    }
}

/// Estimates the render of `tree` with `ts` into a `w`×`h` canvas. `spent` is the parse cost
/// already used. Returns the total estimate, or an error when over `max_cost`/`max_memory`.
pub(crate) fn estimate(
    tree: &usvg::Tree,
    ts: Transform,
    w: u32,
    h: u32,
    limits: &SvgLimits,
    spent: u64,
) -> Result<u64, SvgError> {
    let mut est = Est {
        cost: spent as f64,
        limits,
        mem: 0.0,
        peak: 0.0,
    };
    let canvas = Area::new(0.0, 0.0, w as f64, h as f64);
    est.alloc(canvas.px())?;
    est.add(canvas.px() * OUTPUT_PX)?;
    est.tree(tree, ts, canvas)?;
    Ok(to_units(est.cost))
}

/// Axis-aligned device rectangle in f64 (never overflows).
#[derive(Clone, Copy, Debug)]
struct Area {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Area {
    fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        Area { x0, y0, x1, y1 }
    }
    fn from_rect(r: Rect, ts: Transform) -> Option<Self> {
        let r = r.transform(ts)?;
        Some(Area::new(
            r.left() as f64,
            r.top() as f64,
            r.right() as f64,
            r.bottom() as f64,
        ))
    }
    fn w(&self) -> f64 {
        (self.x1 - self.x0).max(0.0)
    }
    fn h(&self) -> f64 {
        (self.y1 - self.y0).max(0.0)
    }
    fn px(&self) -> f64 {
        self.w() * self.h()
    }
    fn round_out(self) -> Self {
        Area::new(
            self.x0.floor(),
            self.y0.floor(),
            self.x1.ceil(),
            self.y1.ceil(),
        )
    }
    fn grow(self, d: f64) -> Self {
        Area::new(self.x0 - d, self.y0 - d, self.x1 + d, self.y1 + d)
    }
    fn intersect(self, o: Area) -> Self {
        Area::new(
            self.x0.max(o.x0),
            self.y0.max(o.y0),
            self.x1.min(o.x1),
            self.y1.min(o.y1),
        )
    }
    /// resvg's `max_filter_bbox`: layers may extend 2x the canvas on each side.
    fn max_bbox(self) -> Self {
        Area::new(
            self.x0 - 2.0 * self.w(),
            self.y0 - 2.0 * self.h(),
            self.x1 + 2.0 * self.w(),
            self.y1 + 2.0 * self.h(),
        )
    }
}

struct Est<'a> {
    cost: f64,
    limits: &'a SvgLimits,
    mem: f64,
    peak: f64,
}

type R = Result<(), SvgError>;

impl Est<'_> {
    fn add(&mut self, c: f64) -> R {
        self.cost += c.max(0.0);
        if self.cost.is_nan() || self.cost > self.limits.max_cost as f64 {
            return Err(SvgError::TooExpensive {
                estimated: to_units(self.cost),
                limit: self.limits.max_cost,
            });
        }
        Ok(())
    }

    /// Accounts a live RGBA buffer of `px` pixels.
    fn alloc(&mut self, px: f64) -> R {
        self.mem += px * 4.0;
        self.peak = self.peak.max(self.mem);
        if self.mem.is_nan() || self.mem > self.limits.max_memory as f64 {
            return Err(SvgError::TooLarge {
                what: format!(
                    "estimated peak pixel memory {:.0} bytes (max_memory)",
                    self.mem
                ),
                limit: self.limits.max_memory,
            });
        }
        Ok(())
    }

    fn free(&mut self, px: f64) {
        self.mem -= px * 4.0;
    }

    fn tree(&mut self, tree: &usvg::Tree, ts: Transform, canvas: Area) -> R {
        self.children(tree.root(), ts, canvas, canvas.max_bbox())
    }

    fn children(&mut self, g: &Group, ts: Transform, canvas: Area, max_bbox: Area) -> R {
        for node in g.children() {
            self.node(node, ts, canvas, max_bbox)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node, ts: Transform, canvas: Area, max_bbox: Area) -> R {
        self.add(NODE)?;
        match node {
            Node::Group(g) => self.group(g, ts, canvas, max_bbox),
            Node::Path(p) => self.path(p, ts, canvas, max_bbox, true),
            Node::Image(img) => self.image(img, ts, canvas),
            Node::Text(t) => self.group(t.flattened(), ts, canvas, max_bbox),
        }
    }

    fn group(&mut self, g: &Group, ts: Transform, canvas: Area, max_bbox: Area) -> R {
        let ts = ts.pre_concat(g.transform());
        if !g.should_isolate() {
            return self.children(g, ts, canvas, max_bbox);
        }
        let Some(bbox) = Area::from_rect(g.layer_bounding_box().to_rect(), ts) else {
            return Ok(());
        };
        let layer = if g.filters().is_empty() {
            bbox.round_out().grow(2.0).intersect(max_bbox)
        } else {
            bbox.round_out().intersect(max_bbox)
        };
        let px = layer.px();
        if px <= 0.0 {
            return Ok(());
        }
        self.alloc(px)?;
        self.add(px * (ALLOC_PX + COMPOSITE_PX))?;
        self.children(g, ts, layer, max_bbox)?;
        for f in g.filters() {
            self.filter(f, ts, layer)?;
        }
        if let Some(clip) = g.clip_path() {
            self.clip(clip, ts, layer)?;
        }
        if let Some(mask) = g.mask() {
            self.mask(mask, ts, layer, max_bbox)?;
        }
        self.free(px);
        Ok(())
    }

    fn path(
        &mut self,
        p: &usvg::Path,
        ts: Transform,
        canvas: Area,
        max_bbox: Area,
        stroke: bool,
    ) -> R {
        if !p.is_visible() {
            return Ok(());
        }
        let segs = p.data().len() as f64;
        let rows = edge_rows(p.data(), ts, canvas);
        if let Some(fill) = p.fill() {
            let area =
                Area::from_rect(p.bounding_box(), ts).map_or(0.0, |a| a.intersect(canvas).px());
            self.add(PATH + segs * SEGMENT + rows * EDGE_ROW)?;
            self.paint(fill.paint(), area, ts, max_bbox)?;
        }
        if let (Some(s), true) = (p.stroke(), stroke) {
            let area = Area::from_rect(p.stroke_bounding_box(), ts)
                .map_or(0.0, |a| a.intersect(canvas).px());
            self.add(PATH + segs * (SEGMENT + STROKE_SEGMENT) + rows * EDGE_ROW * STROKE_EDGES)?;
            let mut curves = p
                .data()
                .segments()
                .filter(|s| {
                    matches!(
                        s,
                        resvg::tiny_skia::PathSegment::CubicTo(..)
                            | resvg::tiny_skia::PathSegment::QuadTo(..)
                    )
                })
                .count() as f64;
            if let Some(dashes) = s.dasharray() {
                let period: f32 = dashes.iter().sum();
                let len = polyline_len(p.data());
                let n = if period > 0.0 {
                    (len / period as f64) * dashes.len() as f64
                } else {
                    0.0
                };
                // Over tiny-skia's limit the stroke is dropped; charge the limit anyway
                // because the control-polygon length over-estimates the real length.
                self.add(n.min(MAX_DASHES) * DASH)?;
                if curves > 0.0 {
                    curves += n.min(MAX_DASHES);
                }
            }
            // tiny-skia strokes in path coordinates with a tolerance of 0.25 device pixels:
            // the stroker's work explodes with the device magnitude (see `stroke.rs`).
            if curves > 0.0 {
                let b = p.bounding_box();
                let local = [b.left(), b.top(), b.right(), b.bottom()]
                    .iter()
                    .fold(s.width().get() as f64, |m, v| m.max((*v as f64).abs()));
                let (sx, sy) = ts.get_scale();
                let scale = (sx as f64).max(sy as f64).max(1.0);
                self.add(curves * super::stroke::curve_excess(local * scale))?;
            }
            self.paint(s.paint(), area, ts, max_bbox)?;
        }
        Ok(())
    }

    fn paint(&mut self, paint: &Paint, area: f64, ts: Transform, max_bbox: Area) -> R {
        match paint {
            Paint::Color(_) => self.add(area * FILL_PX),
            Paint::LinearGradient(_) | Paint::RadialGradient(_) => self.add(area * GRADIENT_PX),
            Paint::Pattern(pat) => {
                // resvg renders the tile at device resolution for every fill/stroke.
                let (sx, sy) = ts.pre_concat(pat.transform()).get_scale();
                let r = pat.rect();
                let tw = (r.width() as f64 * sx as f64).round();
                let th = (r.height() as f64 * sy as f64).round();
                let tile = Area::new(0.0, 0.0, tw, th);
                let tpx = tile.px();
                if tpx > 0.0 {
                    self.alloc(tpx)?;
                    self.add(tpx * ALLOC_PX)?;
                    self.children(pat.root(), Transform::from_scale(sx, sy), tile, max_bbox)?;
                    self.free(tpx);
                }
                self.add(area * PATTERN_PX)
            }
        }
    }

    fn image(&mut self, img: &usvg::Image, ts: Transform, canvas: Area) -> R {
        if !img.is_visible() {
            return Ok(());
        }
        match img.kind() {
            usvg::ImageKind::SVG(tree) => {
                // resvg renders a nested tree into a canvas-sized sub-pixmap.
                let px = canvas.px();
                self.alloc(px)?;
                self.add(px * COMPOSITE_PX)?;
                let sub = Area::new(0.0, 0.0, canvas.w(), canvas.h());
                self.tree(tree, ts, sub)?;
                self.free(px);
                Ok(())
            }
            _ => {
                let s = img.size();
                let px = s.width() as f64 * s.height() as f64;
                let dest = Rect::from_xywh(0.0, 0.0, s.width(), s.height())
                    .and_then(|r| Area::from_rect(r, ts))
                    .map_or(0.0, |a| a.intersect(canvas).px());
                self.alloc(px)?;
                self.add(px * IMAGE_DECODE_PX + dest * IMAGE_DRAW_PX)?;
                self.free(px);
                Ok(())
            }
        }
    }

    fn clip(&mut self, clip: &usvg::ClipPath, ts: Transform, layer: Area) -> R {
        let px = layer.px();
        self.alloc(px)?;
        self.add(px * CLIP_PX)?;
        self.clip_children(clip.root(), ts.pre_concat(clip.transform()), layer)?;
        if let Some(inner) = clip.clip_path() {
            self.clip(inner, ts, layer)?;
        }
        self.free(px);
        Ok(())
    }

    fn clip_children(&mut self, g: &Group, ts: Transform, layer: Area) -> R {
        for node in g.children() {
            self.add(NODE)?;
            match node {
                Node::Path(p) => self.path(p, ts, layer, layer, false)?,
                Node::Text(t) => self.clip_children(t.flattened(), ts, layer)?,
                Node::Group(sub) => {
                    let ts = ts.pre_concat(sub.transform());
                    if let Some(clip) = sub.clip_path() {
                        let px = layer.px();
                        self.alloc(px)?;
                        self.add(px * CLIP_PX)?;
                        self.clip_children(sub, ts, layer)?;
                        self.clip(clip, ts, layer)?;
                        self.free(px);
                    } else {
                        self.clip_children(sub, ts, layer)?;
                    }
                }
                Node::Image(_) => {}
            }
        }
        Ok(())
    }

    fn mask(&mut self, mask: &usvg::Mask, ts: Transform, layer: Area, max_bbox: Area) -> R {
        let px = layer.px();
        self.alloc(px * 1.25)?;
        self.add(px * MASK_PX)?;
        self.children(mask.root(), ts, layer, max_bbox)?;
        if let Some(inner) = mask.mask() {
            self.mask(inner, ts, layer, max_bbox)?;
        }
        self.free(px * 1.25);
        Ok(())
    }

    fn filter(&mut self, f: &usvg::filter::Filter, ts: Transform, layer: Area) -> R {
        let Some(region) = Area::from_rect(f.rect().to_rect(), ts) else {
            return Ok(());
        };
        let region = region.round_out().intersect(layer);
        let (rw, rh, px) = (region.w(), region.h(), region.px());
        if px <= 0.0 {
            return Ok(());
        }
        let (sx, sy) = ts.get_scale();
        let (sx, sy) = (sx as f64, sy as f64);
        let mut live = px; // cropped source copy
        self.alloc(px)?;
        for prim in f.primitives() {
            self.add(NODE + px * FILTER_PX)?;
            self.alloc(px)?; // every result is kept until the filter ends
            live += px;
            let extra = match prim.kind() {
                Kind::GaussianBlur(b) => blur_px(b.std_dev_x().get(), b.std_dev_y().get(), sx, sy),
                Kind::DropShadow(d) => {
                    blur_px(d.std_dev_x().get(), d.std_dev_y().get(), sx, sy) + 3.0 * COMPOSITE_PX
                }
                Kind::Morphology(m) => {
                    let rx = (m.radius_x().get() as f64 * sx).round().max(0.0);
                    let ry = (m.radius_y().get() as f64 * sy).round().max(0.0);
                    let wx = (2.0 * rx + 1.0).min(rw);
                    let wy = (2.0 * ry + 1.0).min(rh);
                    wx * wy * MORPH_PX
                }
                Kind::ConvolveMatrix(c) => {
                    let m = c.matrix();
                    CONVOLVE_BASE_PX + m.columns() as f64 * m.rows() as f64 * CONVOLVE_PX
                }
                Kind::Turbulence(t) => t.num_octaves() as f64 * TURB_PX,
                Kind::DiffuseLighting(_) | Kind::SpecularLighting(_) => LIGHT_PX,
                Kind::Merge(m) => m.inputs().len() as f64 * SIMPLE_PX,
                Kind::Image(fe) => {
                    let sub_ts = Transform::from_row(
                        sx as f32,
                        0.0,
                        0.0,
                        sy as f32,
                        region.x0 as f32,
                        region.y0 as f32,
                    );
                    self.children(fe.root(), sub_ts, region, region)?;
                    SIMPLE_PX
                }
                _ => SIMPLE_PX,
            };
            self.add(px * extra)?;
        }
        self.add(px * COMPOSITE_PX)?;
        self.free(live);
        Ok(())
    }
}

/// resvg uses a box blur (5 passes) for device sigma >= 2, IIR otherwise; both are
/// independent of the radius.
fn blur_px(sdx: f32, sdy: f32, sx: f64, sy: f64) -> f64 {
    let (dx, dy) = (sdx as f64 * sx, sdy as f64 * sy);
    if dx <= 0.0 && dy <= 0.0 {
        0.0
    } else if dx >= 2.0 || dy >= 2.0 {
        BLUR_BOX_PX
    } else {
        BLUR_IIR_PX
    }
}

/// Device rows crossed by the edges of the control polygon, clipped to the canvas: the
/// scan converter's work grows with it (many long edges crossing the same rows).
fn edge_rows(path: &resvg::tiny_skia::Path, ts: Transform, canvas: Area) -> f64 {
    let y = |p: &resvg::tiny_skia::Point| (ts.ky * p.x + ts.sy * p.y + ts.ty) as f64;
    path.points()
        .windows(2)
        .map(|w| {
            let (a, b) = (y(&w[0]), y(&w[1]));
            (a.max(b).min(canvas.y1) - a.min(b).max(canvas.y0)).max(0.0)
        })
        .filter(|d| d.is_finite())
        .sum()
}

/// Length of the control polygon (an upper bound of the path length) in user units.
fn polyline_len(path: &resvg::tiny_skia::Path) -> f64 {
    let pts = path.points();
    pts.windows(2)
        .map(|w| ((w[1].x - w[0].x) as f64).hypot((w[1].y - w[0].y) as f64))
        .filter(|d| d.is_finite())
        .sum()
}
