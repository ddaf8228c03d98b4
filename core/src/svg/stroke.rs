//! Cost of stroking curves, charged before usvg runs.
//!
//! usvg strokes every stroked path while it builds its tree (to compute the stroke bounding
//! box, `Path::calculate_stroke_bbox`), with tiny-skia's stroker at resolution scale 1, and
//! resvg strokes it again when it renders. Neither can be interrupted. The stroker subdivides
//! each curve (cubic or quadratic) until its offset is within 0.25 units; once the geometry
//! (coordinates and stroke width) is large against that tolerance, f32 precision keeps the test
//! from ever passing and the subdivision runs to the end of its depth limit. Measured on the
//! reference machine, worst case per curve segment over random curves and widths:
//!
//! | magnitude (max of coordinates and stroke width) | 1e4 | 1e4.5 | 1e5 | 1e6 | 1e6.5 | 1e7 | 1e8 |
//! |---|---|---|---|---|---|---|---|
//! | ms per curve | 0.01 | 0.02 | 1.2 | 2.2 | 78 | 760 | 3600 |
//!
//! Lines (with any join or cap) stay cheap at every magnitude. A circle of radius 1e6 with a
//! stroke width of 1e7 took 5.4 s, 90 bytes of `<path d="M0 0 C 9e5 9e5 -9e5 9e5 2000 2000"
//! stroke-width="1e7"/>` 45-115 ms. The byte-driven parse cost cannot see this, so every curve
//! that may be stroked is charged by the magnitude it is stroked at.

use std::collections::HashMap;

use roxmltree::{Document, Node, NodeId};
use svgtypes::{Length, LengthUnit, SimplePathSegment, SimplifyingPathParser};

/// Work units (≈ ns) per stroked curve segment at magnitude `m` (user units, or device
/// pixels for the render): the measured worst case, interpolated in log space.
pub(crate) fn curve_cost(m: f64) -> f64 {
    // (log10 magnitude, units per curve)
    const TABLE: &[(f64, f64)] = &[
        (4.0, 10_000.0),
        (4.5, 20_000.0),
        (5.0, 1_500_000.0),
        (5.5, 2_500_000.0),
        (6.0, 3_000_000.0),
        (6.5, 100_000_000.0),
        (7.0, 1_000_000_000.0),
        (8.0, 4_000_000_000.0),
    ];
    if !m.is_finite() {
        return TABLE[TABLE.len() - 1].1;
    }
    let e = m.abs().max(1.0).log10();
    if e <= TABLE[0].0 {
        return TABLE[0].1;
    }
    for w in TABLE.windows(2) {
        let ((e0, c0), (e1, c1)) = (w[0], w[1]);
        if e <= e1 {
            let f = (e - e0) / (e1 - e0);
            return (c0.ln() + f * (c1.ln() - c0.ln())).exp();
        }
    }
    TABLE[TABLE.len() - 1].1
}

/// Units per stroked curve beyond what the small-magnitude model (`cost.rs`'s per-segment
/// stroker cost) already covers: zero up to the magnitude where the stroker stays cheap.
pub(crate) fn curve_excess(m: f64) -> f64 {
    if m.is_finite() && m.abs() <= 31_623.0 {
        0.0
    } else {
        curve_cost(m)
    }
}

/// Outline curves charged per character of stroked text (a glyph of DejaVu has ~10-30).
const GLYPH_CURVES: f64 = 40.0;

/// Document-wide facts about strokes, gathered in one pass before the expansion walk.
pub(crate) struct StrokeScan {
    /// Some element, attribute or CSS rule sets a `stroke` other than `none`.
    enabled: bool,
    /// Largest stroke width anywhere (default 1).
    width: f64,
    /// Per element: font size in user units (after inheritance and `%`/`em`).
    font: HashMap<NodeId, f64>,
    /// Per element: accumulated text position magnitude (`x`, `y`, sums of `dx`, `dy`).
    text_pos: HashMap<NodeId, f64>,
    /// Per `path` element: (curve segments, largest absolute coordinate).
    paths: HashMap<NodeId, (u64, f64)>,
    /// Largest coordinate of any path (text on a path, marker positions).
    path_mag: f64,
    /// Some transform in the document rotates or skews: usvg then also strokes the path
    /// in absolute coordinates, `gain * magnitude + shift`.
    skew: Option<(f64, f64)>,
    /// Base for percentages (largest root dimension).
    pct: f64,
}

impl StrokeScan {
    pub(crate) fn new(doc: &Document, css: &simplecss::StyleSheet) -> Self {
        let root = doc.root_element();
        let pct = ["width", "height"]
            .iter()
            .filter_map(|a| root.attribute(*a))
            .chain(root.attribute("viewBox"))
            .flat_map(numbers)
            .fold(1000.0f64, |a, b| a.max(b.abs()))
            / 100.0;
        let mut s = StrokeScan {
            enabled: false,
            width: 1.0,
            font: HashMap::new(),
            text_pos: HashMap::new(),
            paths: HashMap::new(),
            path_mag: 0.0,
            skew: None,
            pct,
        };
        // CSS: applies to any element.
        let (mut css_font_abs, mut css_font_rel) = (0.0f64, 1.0f64);
        for rule in &css.rules {
            for d in &rule.declarations {
                s.declaration(d.name, d.value);
                if matches!(d.name, "font-size" | "font") {
                    let (abs, rel) = font_value(d.value, pct);
                    css_font_abs = css_font_abs.max(abs);
                    css_font_rel = css_font_rel.max(rel);
                }
            }
        }
        let mut chain: HashMap<NodeId, (f64, f64)> = HashMap::new();
        let (mut gain, mut shift) = (1.0f64, 0.0f64);
        let mut use_gain = (1.0f64, 0.0f64);
        let mut uses = 0u64;
        let mut rotates = false;
        let mut markers = false;
        let mut marker_scale = 1.0f64;
        for n in doc.descendants().filter(|n| n.is_element()) {
            let name = n.tag_name().name();
            let parent = n.parent_element();
            let pfont = parent
                .and_then(|p| s.font.get(&p.id()).copied())
                .unwrap_or(16.0);
            let ppos = parent
                .and_then(|p| s.text_pos.get(&p.id()).copied())
                .unwrap_or(0.0);
            let (pg, pt) = parent
                .and_then(|p| chain.get(&p.id()).copied())
                .unwrap_or((1.0, 0.0));
            let mut font = pfont;
            let mut own = (1.0f64, 0.0f64);
            for attr in n.attributes() {
                let v = attr.value();
                match attr.name() {
                    "style" => {
                        for decl in v.split(';') {
                            if let Some((p, val)) = decl.split_once(':') {
                                let p = p.trim();
                                s.declaration(p, val);
                                if matches!(p, "font-size" | "font") {
                                    font = resolve_font(val, font, pct);
                                }
                                if p == "transform" {
                                    rotates |= transform_bound(val, &mut own);
                                }
                            }
                        }
                    }
                    "font-size" | "font" => font = resolve_font(v, font, pct),
                    "transform" | "patternTransform" | "gradientTransform" => {
                        rotates |= transform_bound(v, &mut own);
                    }
                    "rotate" if TEXT.contains(&name) => rotates = true,
                    p => s.declaration(p, v),
                }
            }
            font = font.max(css_font_abs).max(pfont * css_font_rel);
            s.font.insert(n.id(), font);
            if TEXT.contains(&name) {
                let pos = ["x", "y"]
                    .iter()
                    .filter_map(|a| n.attribute(*a))
                    .flat_map(|v| lengths(v, font, pct))
                    .fold(0.0f64, |a, b| a.max(b.abs()))
                    + ["dx", "dy"]
                        .iter()
                        .filter_map(|a| n.attribute(*a))
                        .flat_map(|v| lengths(v, font, pct))
                        .map(f64::abs)
                        .sum::<f64>();
                s.text_pos.insert(n.id(), ppos + pos);
            }
            if name == "textPath" {
                rotates = true;
            }
            match name {
                "use" | "svg" | "symbol" | "pattern" | "image" => {
                    let x = n.attribute("x").map_or(0.0, |v| len_mag(v, font, pct));
                    let y = n.attribute("y").map_or(0.0, |v| len_mag(v, font, pct));
                    own.1 += x + y;
                }
                "marker" => {
                    markers = true;
                    rotates |= n.attribute("orient").is_some();
                }
                _ => {}
            }
            if let Some(vb) = n.attribute("viewBox") {
                let v = numbers(vb).collect::<Vec<_>>();
                if v.len() == 4 {
                    let size = ["width", "height", "markerWidth", "markerHeight"]
                        .iter()
                        .filter_map(|a| n.attribute(*a))
                        .map(|v| len_mag(v, font, pct))
                        .fold(pct * 100.0, f64::max);
                    let min = v[2].abs().min(v[3].abs());
                    let scale = if min > 0.0 { size / min } else { 1.0 };
                    let scale = scale.max(1.0);
                    own.0 *= scale;
                    own.1 += (v[0].abs() + v[1].abs()) * scale;
                    if name == "marker" {
                        marker_scale = marker_scale.max(scale);
                    }
                }
            }
            if name == "path" {
                let (curves, mag) = n.attribute("d").map_or((0, 0.0), path_curves);
                s.path_mag = s.path_mag.max(mag);
                s.paths.insert(n.id(), (curves, mag));
            }
            let here = (pg * own.0, pg * own.1 + pt);
            if name == "use" {
                uses += 1;
                use_gain = (use_gain.0.max(here.0), use_gain.1.max(here.1));
            }
            gain = gain.max(here.0);
            shift = shift.max(here.1);
            chain.insert(n.id(), here);
        }
        if rotates {
            // Through `use` (nested up to `uses` times) and markers (scaled by the stroke
            // width, placed at path vertices) content lands anywhere a chain can take it.
            let levels = if uses == 0 {
                0.0
            } else {
                use_levels(doc) as f64
            };
            let mut g = gain * use_gain.0.powf(levels);
            let mut t = shift + levels * use_gain.1 * g;
            if markers {
                g *= s.width.max(1.0) * marker_scale;
                t += s.path_mag * g;
            }
            s.skew = Some((g, t));
        }
        s
    }

    fn declaration(&mut self, name: &str, value: &str) {
        match name {
            "stroke" => {
                let v = value.trim();
                if !v.is_empty() && v != "none" {
                    self.enabled = true;
                }
            }
            "stroke-width" => {
                let w = len_mag(value, 16.0, self.pct);
                self.width = self.width.max(if w.is_finite() { w } else { f64::MAX });
            }
            _ => {}
        }
    }

    /// Parse-stage units for stroking `node` itself (not its children or references).
    pub(crate) fn element(&self, node: Node) -> u64 {
        if !self.enabled {
            return 0;
        }
        let font = self.font.get(&node.id()).copied().unwrap_or(16.0);
        let pct = self.pct;
        let attr = |a: &str| node.attribute(a).map_or(0.0, |v| len_mag(v, font, pct));
        let (curves, mag) = match node.tag_name().name() {
            "path" => self.paths.get(&node.id()).copied().unwrap_or((0, 0.0)),
            "circle" => (4, attr("cx") + attr("cy") + attr("r")),
            "ellipse" => (4, attr("cx") + attr("cy") + attr("rx").max(attr("ry"))),
            "rect" if attr("rx") > 0.0 || attr("ry") > 0.0 => {
                (4, attr("x") + attr("y") + attr("width") + attr("height"))
            }
            _ => return 0,
        };
        self.charge(curves as f64, mag)
    }

    /// Parse-stage units for stroking the outlines of `chars` characters of text in `node`.
    pub(crate) fn text(&self, node: Node, chars: u64) -> u64 {
        if !self.enabled || chars == 0 {
            return 0;
        }
        let font = self.font.get(&node.id()).copied().unwrap_or(16.0);
        let mut pos = self.text_pos.get(&node.id()).copied().unwrap_or(0.0);
        if node.ancestors().any(|a| a.has_tag_name("textPath")) {
            pos += self.path_mag;
        }
        self.charge(chars as f64 * GLYPH_CURVES, pos + font)
    }

    fn charge(&self, curves: f64, mag: f64) -> u64 {
        if curves <= 0.0 {
            return 0;
        }
        let m = mag.max(self.width);
        let mut c = curves * curve_cost(m);
        if let Some((g, t)) = self.skew {
            // `m` bounds each coordinate; the gain bounds Euclidean lengths.
            c += curves * curve_cost(g * m * std::f64::consts::SQRT_2 + t);
        }
        if c.is_finite() && c < u64::MAX as f64 {
            c as u64
        } else {
            u64::MAX
        }
    }
}

/// Deepest nesting of `use` inside content reached through `use` (capped; cycles and
/// deeper documents are refused by the expansion walk anyway).
fn use_levels(doc: &Document) -> u64 {
    const CAP: u64 = 256;
    fn sub<'a, 'i>(
        n: Node<'a, 'i>,
        ids: &HashMap<&'a str, Vec<Node<'a, 'i>>>,
        memo: &mut HashMap<NodeId, u64>,
        depth: u64,
    ) -> u64 {
        if depth > CAP {
            return CAP;
        }
        if let Some(v) = memo.get(&n.id()) {
            return *v;
        }
        memo.insert(n.id(), CAP); // in progress: a cycle counts as the cap
        let mut level = 0;
        for c in n.children().filter(|c| c.is_element()) {
            level = level.max(sub(c, ids, memo, depth + 1));
        }
        if n.has_tag_name("use") {
            let target = n
                .attributes()
                .find(|a| a.name() == "href")
                .and_then(|a| a.value().trim().strip_prefix('#'));
            for t in target.and_then(|id| ids.get(id)).into_iter().flatten() {
                level = level.max(1 + sub(*t, ids, memo, depth + 1));
            }
            level = level.max(1);
        }
        let level = level.min(CAP);
        memo.insert(n.id(), level);
        level
    }
    let mut ids: HashMap<&str, Vec<Node>> = HashMap::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        if let Some(id) = n.attribute("id") {
            ids.entry(id).or_default().push(n);
        }
    }
    sub(doc.root_element(), &ids, &mut HashMap::new(), 0)
}

const TEXT: &[&str] = &["text", "tspan", "textPath", "tref"];

/// Curve segments (cubic and quadratic, arcs converted as usvg does) and the largest
/// absolute coordinate of path data.
fn path_curves(d: &str) -> (u64, f64) {
    let mut curves = 0u64;
    let mut mag = 0.0f64;
    let mut m = |x: f64, y: f64| mag = mag.max(x.abs()).max(y.abs());
    for seg in SimplifyingPathParser::from(d) {
        match seg {
            Ok(SimplePathSegment::MoveTo { x, y }) | Ok(SimplePathSegment::LineTo { x, y }) => {
                m(x, y)
            }
            Ok(SimplePathSegment::CurveTo {
                x1,
                y1,
                x2,
                y2,
                x,
                y,
            }) => {
                curves += 1;
                m(x1, y1);
                m(x2, y2);
                m(x, y);
            }
            Ok(SimplePathSegment::Quadratic { x1, y1, x, y }) => {
                curves += 1;
                m(x1, y1);
                m(x, y);
            }
            Ok(SimplePathSegment::ClosePath) => {}
            Err(_) => break,
        }
    }
    if mag.is_nan() {
        mag = f64::INFINITY;
    }
    (curves, mag)
}

/// Numbers of a list (`viewBox`, `x="1 2 3"`), ignoring anything else.
fn numbers(s: &str) -> impl Iterator<Item = f64> + '_ {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|t| t.parse::<f64>().ok())
}

/// Magnitudes in user units of a list of lengths.
fn lengths(s: &str, font: f64, pct: f64) -> impl Iterator<Item = f64> + '_ {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(move |t| len_mag(t, font, pct))
}

/// Magnitude in user units of one length (0 when unparsable, as usvg ignores it).
fn len_mag(s: &str, font: f64, pct: f64) -> f64 {
    let Ok(l) = s.trim().parse::<Length>() else {
        return 0.0;
    };
    let f = match l.unit {
        LengthUnit::None | LengthUnit::Px => 1.0,
        LengthUnit::In => 96.0,
        LengthUnit::Cm => 96.0 / 2.54,
        LengthUnit::Mm => 96.0 / 25.4,
        LengthUnit::Pt => 4.0 / 3.0,
        LengthUnit::Pc => 16.0,
        LengthUnit::Em | LengthUnit::Ex => font,
        LengthUnit::Percent => pct,
    };
    let v = (l.number * f).abs();
    if v.is_nan() {
        f64::INFINITY
    } else {
        v
    }
}

/// A `font-size` (or `font` shorthand) value: (largest absolute size, largest factor on the
/// parent's size).
fn font_value(v: &str, pct: f64) -> (f64, f64) {
    let (mut abs, mut rel) = (0.0f64, 1.0f64);
    for t in v.split(|c: char| c.is_whitespace() || c == '/' || c == ',') {
        if let Ok(l) = t.parse::<Length>() {
            match l.unit {
                LengthUnit::Percent => rel = rel.max(l.number.abs() / 100.0),
                LengthUnit::Em | LengthUnit::Ex => rel = rel.max(l.number.abs()),
                _ => abs = abs.max(len_mag(t, 16.0, pct)),
            }
        }
    }
    (abs, rel)
}

fn resolve_font(v: &str, parent: f64, pct: f64) -> f64 {
    let (abs, rel) = font_value(v, pct);
    // Never below the parent's size: an over-estimate only charges more.
    abs.max(parent * rel)
}

/// Folds a transform list into a bound (gain, shift): |T(p)| <= gain * |p| + shift.
/// Returns whether it rotates or skews.
fn transform_bound(v: &str, acc: &mut (f64, f64)) -> bool {
    let Ok(ts) = v.parse::<svgtypes::Transform>() else {
        return false;
    };
    // Spectral norm of the linear part (1 for rotations).
    let sq = ts.a * ts.a + ts.b * ts.b + ts.c * ts.c + ts.d * ts.d;
    let det = ts.a * ts.d - ts.b * ts.c;
    let g = ((sq + (sq * sq - 4.0 * det * det).max(0.0).sqrt()) / 2.0)
        .sqrt()
        .max(1.0);
    let t = ts.e.abs() + ts.f.abs();
    let g = if g.is_finite() { g } else { f64::MAX };
    let t = if t.is_finite() { t } else { f64::MAX };
    // Applied after the element's own content: acc ∘ ts.
    acc.1 += acc.0 * t;
    acc.0 *= g;
    ts.b != 0.0 || ts.c != 0.0
}
