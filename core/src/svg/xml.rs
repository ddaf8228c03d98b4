//! XML-level checks: entity-expansion pre-scan, roxmltree parse with a node limit and no
//! external entities, and an iterative nesting-depth check.

use roxmltree::Document;
use std::collections::HashMap;

use super::{SvgError, SvgLimits};

/// Parses XML with roxmltree after the entity pre-scan, then checks the nesting depth
/// iteratively (so a 100k-deep document never reaches a recursive parser).
pub(crate) fn parse_xml<'a>(text: &'a str, limits: &SvgLimits) -> Result<Document<'a>, SvgError> {
    check_entities(text, limits)?;
    let nodes_limit = (limits.max_nodes as u64)
        .saturating_mul(4)
        .saturating_add(1024);
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        nodes_limit: nodes_limit.min(u32::MAX as u64) as u32,
        // External entities (XXE) are never fetched: without a resolver they are discarded.
        entity_resolver: None,
    };
    let doc = Document::parse_with_options(text, opt).map_err(|e| match e {
        roxmltree::Error::NodesLimitReached => SvgError::TooLarge {
            what: "XML nodes (4 x max_nodes)".into(),
            limit: nodes_limit,
        },
        e => SvgError::Parse(e.to_string()),
    })?;
    // Iterative depth computation in document order (parents come before children).
    let mut depth = vec![0u32; doc.descendants().count() + 1];
    for n in doc.descendants() {
        let Some(parent) = n.parent() else { continue };
        let d = depth[parent.id().get_usize()] + u32::from(n.is_element());
        if d as usize > limits.max_depth {
            return Err(too_deep(limits));
        }
        depth[n.id().get_usize()] = d;
    }
    Ok(doc)
}

fn too_deep(limits: &SvgLimits) -> SvgError {
    SvgError::TooLarge {
        what: "XML nesting depth (max_depth)".into(),
        limit: limits.max_depth as u64,
    }
}

/// Bounds internal-entity expansion (roxmltree limits depth and references per entity, but a
/// large entity referenced many times still expands quadratically). Total expanded size must
/// stay within `max_input_bytes`. External entities are never resolved by roxmltree.
fn check_entities(text: &str, limits: &SvgLimits) -> Result<(), SvgError> {
    if !text.contains("<!ENTITY") {
        return Ok(());
    }
    let mut ents: HashMap<&str, &str> = HashMap::new();
    let mut rest = text;
    while let Some(pos) = rest.find("<!ENTITY") {
        rest = &rest[pos + 8..];
        let s = rest.trim_start();
        if s.starts_with('%') {
            continue;
        }
        let end = s.find(|c: char| c.is_whitespace()).unwrap_or(s.len());
        let (name, after) = s.split_at(end);
        let after = after.trim_start();
        let value = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &after[1..];
                &body[..body.find(q).unwrap_or(body.len())]
            }
            _ => "",
        };
        ents.entry(name).or_insert(value);
    }
    fn expand<'a>(
        name: &'a str,
        ents: &HashMap<&'a str, &'a str>,
        memo: &mut HashMap<&'a str, u64>,
        depth: u32,
    ) -> u64 {
        if depth > 12 {
            return u64::MAX / 4;
        }
        if let Some(v) = memo.get(name) {
            return *v;
        }
        let value = ents[name];
        let mut len = value.len() as u64;
        for r in entity_refs(value) {
            if ents.contains_key(r) {
                len = len.saturating_add(expand(r, ents, memo, depth + 1));
            }
        }
        memo.insert(name, len);
        len
    }
    let mut memo = HashMap::new();
    let mut total = text.len() as u64;
    for r in entity_refs(text) {
        if ents.contains_key(r) {
            total = total.saturating_add(expand(r, &ents, &mut memo, 0));
        }
    }
    if total > limits.max_input_bytes as u64 {
        return Err(SvgError::TooLarge {
            what: "XML entity expansion (max_input_bytes)".into(),
            limit: limits.max_input_bytes as u64,
        });
    }
    Ok(())
}

fn entity_refs(s: &str) -> impl Iterator<Item = &str> {
    s.match_indices('&').filter_map(move |(i, _)| {
        let tail = &s[i + 1..];
        let end = tail.find(';')?;
        let name = &tail[..end];
        let ok = !name.is_empty()
            && !name.starts_with('#')
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        ok.then_some(name)
    })
}
