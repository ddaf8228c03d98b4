//! Checks on the raw XML that run before usvg sees the document: entity expansion, nesting
//! depth, and a memoised count of the document *after* reference expansion (billion-laughs
//! style `use`/pattern/marker/clip/mask/filter fan-out), plus text, embedded data and CSS work.

use std::collections::{HashMap, HashSet};

use roxmltree::{Document, Node, NodeId};

pub(crate) use super::xml::parse_xml;

use super::stroke::StrokeScan;
use super::{SvgError, SvgLimits};

/// Totals for the document after reference expansion.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    /// Input bytes (XML, path data and other attribute parsing).
    pub bytes: u64,
    /// Elements after expansion: svgtree elements plus converted/rendered elements.
    pub nodes: u64,
    /// Characters of text to shape (after expansion); characters >= U+3000 count 4x.
    pub text_chars: u64,
    /// Sum over `<text>` elements of their characters squared: laying out one text
    /// element costs time quadratic in its length.
    pub text_char_pairs: u64,
    /// Sum over `<text>` elements of characters x spans (`tspan`, `textPath`, `a`, plus
    /// one): each span is laid out against the whole element's text.
    pub text_span_chars: u64,
    /// Bytes of `href` data on `<image>`/`<feImage>` decoded by usvg (after expansion).
    pub image_bytes: u64,
    /// Upper bound of CSS selector-matching steps usvg performs.
    pub css_work: u64,
    /// Work units usvg spends stroking curves for their stroke bounding boxes.
    pub stroke: u64,
}

impl Stats {
    /// Parse-stage cost in work units.
    pub(crate) fn cost(&self) -> u64 {
        super::cost::parse_cost(self)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum RefKind {
    /// Content instantiated in place (`use`, pattern/gradient/filter `href`, `feImage`, `textPath`).
    Instance,
    /// `fill`/`stroke`: inherited, applied once per drawable element below.
    Paint,
    /// `marker*`: inherited, applied once per vertex of marker-capable shapes below.
    Marker,
    /// `clip-path`, `mask`, `filter` and any other `url(#…)`.
    Other,
}

#[derive(Clone, Copy, Default)]
struct Agg {
    /// Elements usvg converts/renders when this element is rendered (all references expanded).
    nodes: u64,
    /// Elements usvg's svgtree holds for this subtree (only `use` is expanded there; this
    /// includes never-rendered definitions).
    tree_nodes: u64,
    drawables: u64,
    vertices: u64,
    chars: u64,
    /// Spans of text below (`tspan`, `textPath`, `a`), until their `<text>` counts them.
    spans: u64,
    char_pairs: u64,
    span_chars: u64,
    image_bytes: u64,
    /// Work units of stroking the curves below (see `stroke.rs`).
    stroke: u64,
    height: u64,
}

impl Agg {
    fn add(&mut self, o: &Agg, mult: u64, with_shape_counts: bool) {
        self.nodes = self.nodes.saturating_add(o.nodes.saturating_mul(mult));
        if with_shape_counts {
            // Children and `use` instances live in the svgtree; paint/clip/... refs do not.
            self.tree_nodes = self
                .tree_nodes
                .saturating_add(o.tree_nodes.saturating_mul(mult));
        }
        self.chars = self.chars.saturating_add(o.chars.saturating_mul(mult));
        self.spans = self.spans.saturating_add(o.spans.saturating_mul(mult));
        self.char_pairs = self
            .char_pairs
            .saturating_add(o.char_pairs.saturating_mul(mult));
        self.span_chars = self
            .span_chars
            .saturating_add(o.span_chars.saturating_mul(mult));
        self.image_bytes = self
            .image_bytes
            .saturating_add(o.image_bytes.saturating_mul(mult));
        self.stroke = self.stroke.saturating_add(o.stroke.saturating_mul(mult));
        if with_shape_counts {
            self.drawables = self
                .drawables
                .saturating_add(o.drawables.saturating_mul(mult));
            self.vertices = self
                .vertices
                .saturating_add(o.vertices.saturating_mul(mult));
        }
        self.height = self.height.max(o.height + 1);
    }
}

const INSTANCE_HREF: &[&str] = &[
    "use",
    "pattern",
    "linearGradient",
    "radialGradient",
    "filter",
    "feImage",
    "textPath",
    "tref",
];
const DRAWABLE: &[&str] = &[
    "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "image",
];
/// Elements never rendered where they stand, only when referenced.
const NOT_RENDERED: &[&str] = &[
    "defs",
    "clipPath",
    "mask",
    "pattern",
    "marker",
    "symbol",
    "linearGradient",
    "radialGradient",
    "filter",
    "style",
    "title",
    "desc",
    "metadata",
];
const TEXT_CONTAINER: &[&str] = &["text", "tspan", "textPath", "a"];

struct Analyzer<'a, 'input> {
    limits: &'a SvgLimits,
    /// Every element carrying each id: usvg resolves `use` to the first and `url()` to the
    /// last occurrence, so all candidates are counted.
    ids: HashMap<&'a str, Vec<Node<'a, 'input>>>,
    css_refs: HashMap<NodeId, Vec<(RefKind, &'a str)>>,
    memo: HashMap<NodeId, Agg>,
    in_progress: HashSet<NodeId>,
    stroke: StrokeScan,
}

/// Computes the expanded statistics and refuses documents over `max_nodes`/`max_depth`,
/// with reference cycles, or with excessive CSS matching work.
pub(crate) fn analyze(doc: &Document, limits: &SvgLimits) -> Result<Stats, SvgError> {
    let mut ids: HashMap<&str, Vec<Node>> = HashMap::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        if let Some(id) = n.attribute("id") {
            ids.entry(id).or_default().push(n);
        }
    }
    let sheet = collect_css(doc);
    for rule in &sheet.rules {
        for d in &rule.declarations {
            check_font_decl(d.name, d.value)?;
        }
    }
    let elements = doc.descendants().filter(|n| n.is_element()).count() as u64;
    let raw_depth = limits.max_depth as u64;
    // Our own matching of the (few) rules that carry url() references is bounded first.
    let url_rules: Vec<&simplecss::Rule> = sheet
        .rules
        .iter()
        .filter(|r| r.declarations.iter().any(|d| d.value.contains("url(")))
        .collect();
    let own_work = url_rules.iter().fold(0u64, |acc, r| {
        acc.saturating_add(selector_work(r, elements, raw_depth))
    });
    if super::cost::css_cost(own_work) > limits.max_cost {
        return Err(SvgError::TooExpensive {
            estimated: super::cost::css_cost(own_work),
            limit: limits.max_cost,
        });
    }
    let mut css_refs: HashMap<NodeId, Vec<(RefKind, &str)>> = HashMap::new();
    if !url_rules.is_empty() {
        for n in doc.descendants().filter(|n| n.is_element()) {
            for rule in &url_rules {
                if rule.selector.matches(&XmlNode(n)) {
                    let out = css_refs.entry(n.id()).or_default();
                    for d in &rule.declarations {
                        classify(d.name, d.value, out);
                    }
                }
            }
        }
    }
    let mut an = Analyzer {
        limits,
        ids,
        css_refs,
        memo: HashMap::new(),
        in_progress: HashSet::new(),
        stroke: StrokeScan::new(doc, &sheet),
    };
    let agg = an.visit(doc.root_element(), 1)?;
    if agg.height > limits.max_depth as u64 {
        return Err(SvgError::TooLarge {
            what: "nesting depth after reference expansion (max_depth)".into(),
            limit: limits.max_depth as u64,
        });
    }
    let css_work = sheet.rules.iter().fold(0u64, |acc, r| {
        acc.saturating_add(selector_work(r, agg.nodes, agg.height))
    });
    Ok(Stats {
        bytes: doc.input_text().len() as u64,
        nodes: agg.nodes.saturating_add(agg.tree_nodes),
        text_chars: agg.chars,
        text_char_pairs: agg.char_pairs,
        text_span_chars: agg.span_chars,
        image_bytes: agg.image_bytes,
        css_work,
        stroke: agg.stroke,
    })
}

impl<'a, 'input> Analyzer<'a, 'input> {
    fn visit(&mut self, node: Node<'a, 'input>, depth: u64) -> Result<Agg, SvgError> {
        if depth > self.limits.max_depth as u64 {
            return Err(SvgError::TooLarge {
                what: "nesting depth after reference expansion (max_depth)".into(),
                limit: self.limits.max_depth as u64,
            });
        }
        if let Some(a) = self.memo.get(&node.id()) {
            return Ok(*a);
        }
        if !self.in_progress.insert(node.id()) {
            return Err(SvgError::Unsupported(format!(
                "reference cycle through <{}> id=\"{}\"",
                node.tag_name().name(),
                node.attribute("id").unwrap_or("")
            )));
        }
        let name = node.tag_name().name();
        let mut agg = Agg {
            nodes: 1,
            tree_nodes: 1,
            height: 1,
            ..Agg::default()
        };
        if DRAWABLE.contains(&name) {
            agg.drawables = 1;
        }
        agg.stroke = self.stroke.element(node);
        agg.vertices = match name {
            "path" => node.attribute("d").map_or(0, count_numbers) / 2 + 1,
            "polyline" | "polygon" => node.attribute("points").map_or(0, count_numbers) / 2 + 1,
            "line" => 2,
            _ => 0,
        };
        if name == "image" || name == "feImage" {
            agg.image_bytes = href(node).map_or(0, |h| h.len() as u64);
        }
        let is_text = TEXT_CONTAINER.contains(&name);
        for child in node.children() {
            if child.is_element() {
                let c = self.visit(child, depth + 1)?;
                if NOT_RENDERED.contains(&child.tag_name().name()) {
                    // Parsed into the svgtree, converted only through references.
                    agg.tree_nodes = agg.tree_nodes.saturating_add(c.tree_nodes);
                    agg.height = agg.height.max(c.height + 1);
                } else {
                    agg.add(&c, 1, true);
                }
            } else if is_text && child.is_text() {
                // Characters DejaVu lacks (CJK and above) go through usvg's font fallback
                // search over every face: ~4x the cost of a covered character.
                let n = child.text().map_or(0, |t| {
                    t.chars()
                        .map(|c| if (c as u32) < 0x3000 { 1 } else { 4 })
                        .sum::<u64>()
                });
                agg.chars = agg.chars.saturating_add(n);
                agg.stroke = agg.stroke.saturating_add(self.stroke.text(node, n));
            }
        }
        if matches!(name, "tspan" | "textPath" | "a") {
            agg.spans = agg.spans.saturating_add(1);
        }
        let refs = self.refs(node)?;
        for pass in [
            RefKind::Instance,
            RefKind::Other,
            RefKind::Paint,
            RefKind::Marker,
        ] {
            for &(kind, id) in refs.iter().filter(|(k, _)| *k == pass) {
                let targets = self.ids.get(id).cloned().unwrap_or_default();
                for target in targets {
                    let t = self.visit(target, depth + 1)?;
                    match kind {
                        // Only `use` is expanded inside usvg's svgtree; other hrefs at conversion.
                        RefKind::Instance if name == "use" => agg.add(&t, 1, true),
                        RefKind::Instance => {
                            let tree_nodes = agg.tree_nodes;
                            agg.add(&t, 1, true);
                            agg.tree_nodes = tree_nodes;
                        }
                        RefKind::Other => agg.add(&t, 1, false),
                        RefKind::Paint => agg.add(&t, agg.drawables.max(1), false),
                        RefKind::Marker => agg.add(&t, agg.vertices, false),
                    }
                }
            }
        }
        if name == "text" {
            // The element's layout: quadratic in its characters and in characters x spans.
            let n = agg.chars;
            agg.char_pairs = agg.char_pairs.saturating_add(n.saturating_mul(n));
            agg.span_chars = agg
                .span_chars
                .saturating_add(n.saturating_mul(agg.spans.saturating_add(1)));
            agg.spans = 0;
        }
        if agg.nodes.max(agg.tree_nodes) > self.limits.max_nodes as u64 {
            return Err(SvgError::TooLarge {
                what: "elements after reference expansion (max_nodes)".into(),
                limit: self.limits.max_nodes as u64,
            });
        }
        self.in_progress.remove(&node.id());
        self.memo.insert(node.id(), agg);
        Ok(agg)
    }

    fn refs(&self, node: Node<'a, 'input>) -> Result<Vec<(RefKind, &'a str)>, SvgError> {
        let mut out = Vec::new();
        let name = node.tag_name().name();
        for attr in node.attributes() {
            let value: &'a str = attr.value();
            check_font_decl(attr.name(), value)?;
            match attr.name() {
                "href" => {
                    if INSTANCE_HREF.contains(&name) {
                        if let Some(id) = value.trim().strip_prefix('#') {
                            out.push((RefKind::Instance, id));
                        }
                    }
                }
                "style" => {
                    for decl in value.split(';') {
                        if let Some((p, v)) = decl.split_once(':') {
                            check_font_decl(p.trim(), v)?;
                            classify(p.trim(), v, &mut out);
                        }
                    }
                }
                other => classify(other, value, &mut out),
            }
        }
        if let Some(extra) = self.css_refs.get(&node.id()) {
            out.extend_from_slice(extra);
        }
        Ok(out)
    }
}

/// Longest accepted `font-family`/`font` value: usvg matches every listed family against the
/// font database for every text chunk, and the value is inherited by all descendants.
const MAX_FONT_DECL: usize = 1024;

fn check_font_decl(prop: &str, value: &str) -> Result<(), SvgError> {
    if matches!(prop, "font-family" | "font") && value.len() > MAX_FONT_DECL {
        return Err(SvgError::TooLarge {
            what: format!("{prop} value length {}", value.len()),
            limit: MAX_FONT_DECL as u64,
        });
    }
    Ok(())
}

fn href<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name() == "href")
        .map(|a| a.value())
}

fn classify<'a>(prop: &str, value: &'a str, out: &mut Vec<(RefKind, &'a str)>) {
    if !value.contains("url(") {
        return;
    }
    let kind = match prop {
        "fill" | "stroke" => RefKind::Paint,
        "marker" | "marker-start" | "marker-mid" | "marker-end" => RefKind::Marker,
        _ => RefKind::Other,
    };
    let mut rest = value;
    while let Some(pos) = rest.find("url(") {
        rest = &rest[pos + 4..];
        let inner = rest.trim_start().trim_start_matches(['"', '\'']);
        if let Some(id) = inner.strip_prefix('#') {
            let end = id.find(|c: char| c == ')' || c == '"' || c == '\'' || c.is_whitespace());
            out.push((kind, &id[..end.unwrap_or(id.len())]));
        }
    }
}

/// Number of numeric tokens (approximate) in path data or a points list.
fn count_numbers(s: &str) -> u64 {
    let mut count = 0u64;
    let mut prev_num = false;
    for c in s.bytes() {
        let is_num = c.is_ascii_digit() || c == b'.';
        if is_num && !prev_num {
            count += 1;
        }
        prev_num = is_num || (prev_num && matches!(c, b'e' | b'E'));
    }
    count
}

fn collect_css<'a>(doc: &'a Document) -> simplecss::StyleSheet<'a> {
    let mut sheet = simplecss::StyleSheet::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("style")) {
        if !matches!(node.attribute("type"), None | Some("text/css")) {
            continue;
        }
        if let Some(text) = node.text() {
            sheet.parse_more(text);
        }
    }
    sheet
}

/// Worst-case matching steps of one rule over `nodes` elements: descendant combinators
/// backtrack over ancestors, so each one multiplies by the depth.
fn selector_work(rule: &simplecss::Rule, nodes: u64, depth: u64) -> u64 {
    let s = rule.selector.to_string();
    let spaces = s.matches(' ').count();
    let others = s.matches(" > ").count() + s.matches(" + ").count();
    let descendant = spaces.saturating_sub(2 * others) as u32;
    nodes.saturating_mul(depth.max(1).saturating_pow(descendant))
}

/// roxmltree node adapter for simplecss (same semantics as usvg's).
struct XmlNode<'a, 'input: 'a>(Node<'a, 'input>);

impl simplecss::Element for XmlNode<'_, '_> {
    fn parent_element(&self) -> Option<Self> {
        self.0.parent_element().map(XmlNode)
    }
    fn prev_sibling_element(&self) -> Option<Self> {
        self.0.prev_sibling_element().map(XmlNode)
    }
    fn has_local_name(&self, local_name: &str) -> bool {
        self.0.tag_name().name() == local_name
    }
    fn attribute_matches(&self, local_name: &str, operator: simplecss::AttributeOperator) -> bool {
        self.0
            .attribute(local_name)
            .is_some_and(|v| operator.matches(v))
    }
    fn pseudo_class_matches(&self, class: simplecss::PseudoClass) -> bool {
        matches!(class, simplecss::PseudoClass::FirstChild)
            && self.0.prev_sibling_element().is_none()
    }
}
