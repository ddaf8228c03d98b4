//! The Pango markup `text()` and `label()` accept: a safe subset.
//!
//! libvips renders text as Pango markup, and Pango rasterises the whole
//! layout before anything is clipped, so markup that changes the size of
//! the text (`<span font="sans 25000">`, `size`, `<big>` nested a hundred
//! times) would make the size estimate taken from the font argument
//! meaningless. Tags and attributes that only style the text are allowed;
//! anything that scales, shifts or spaces it is a 400 that names it, and
//! malformed markup is a 400 too (Pango would fail on it later).

/// Tags that style without changing the size (`small`, `sub` and `sup`
/// only shrink).
const TAGS: &[&str] = &["b", "i", "s", "u", "tt", "sub", "sup", "small", "span"];

/// `span` attributes that style without changing the size.
const SPAN_ATTRIBUTES: &[&str] = &[
    "foreground",
    "fgcolor",
    "color",
    "background",
    "bgcolor",
    "alpha",
    "fgalpha",
    "bgalpha",
    "weight",
    "style",
    "variant",
    "stretch",
    "underline",
    "underline_color",
    "strikethrough",
    "strikethrough_color",
    "overline",
    "overline_color",
    "font_family",
    "face",
    "lang",
    "fallback",
    "allow_breaks",
    "insert_hyphens",
    "show",
    "font_features",
];

/// Deepest nesting of tags.
const MAX_DEPTH: usize = 32;

/// Check `text` against the safe subset; `Err` says what is refused.
pub(crate) fn check(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut rest = text;
    while let Some(lt) = rest.find(['<', '&']) {
        let tail = &rest[lt..];
        if tail.starts_with('&') {
            let end = tail
                .find(';')
                .filter(|&e| e <= 12)
                .ok_or("markup: `&` must start an entity such as &amp;")?;
            check_entity(&tail[1..end])?;
            rest = &tail[end + 1..];
            continue;
        }
        let end = tail.find('>').ok_or("markup: unclosed `<`")?;
        let inner = &tail[1..end];
        if let Some(name) = inner.strip_prefix('/') {
            if !TAGS.contains(&name.trim()) {
                return Err(format!("markup: unknown closing tag </{}>", name.trim()));
            }
            depth = depth
                .checked_sub(1)
                .ok_or("markup: unbalanced closing tag")?;
        } else {
            let self_closing = inner.ends_with('/');
            let inner = inner.trim_end_matches('/');
            let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
            let name = &inner[..name_end];
            if !TAGS.contains(&name) {
                return Err(format!(
                    "markup: <{name}> is not allowed (it changes the text size, or Pango \
                     does not know it); allowed tags: {}",
                    TAGS.join(", ")
                ));
            }
            check_attributes(name, &inner[name_end..])?;
            if !self_closing {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("markup: tags nested deeper than {MAX_DEPTH}"));
                }
            }
        }
        rest = &tail[end + 1..];
    }
    if depth != 0 {
        return Err("markup: unclosed tag".to_owned());
    }
    Ok(())
}

fn check_entity(name: &str) -> Result<(), String> {
    let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
        || name
            .strip_prefix("#x")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
        || name
            .strip_prefix('#')
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!("markup: unknown entity &{name};"))
    }
}

/// `name="value"` pairs of a tag; only `span` takes attributes.
fn check_attributes(tag: &str, mut attrs: &str) -> Result<(), String> {
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            return Ok(());
        }
        let eq = attrs.find('=').ok_or("markup: attribute without a value")?;
        let name = attrs[..eq].trim();
        if tag != "span" {
            return Err(format!("markup: <{tag}> takes no attributes"));
        }
        if !SPAN_ATTRIBUTES.contains(&name) {
            return Err(format!(
                "markup: <span {name}=...> is not allowed (size, font, rise, spacing and \
                 scale attributes change the text size; use the filter's font argument)"
            ));
        }
        let value = attrs[eq + 1..].trim_start();
        let quote = value
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or("markup: attribute values must be quoted")?;
        let close = value[1..]
            .find(quote)
            .ok_or("markup: unterminated attribute value")?;
        attrs = &value[close + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn styling_passes_sizing_is_refused() {
        for ok in [
            "plain text",
            "a &amp; b &lt;3 &#169; &#xA9;",
            "<b>bold</b> <i>it</i> <span foreground=\"red\" weight='bold'>x</span>",
            "<small><sub>2</sub></small>",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "<span font=\"sans 25000\">x</span>",
            "<span size=\"100000\">x</span>",
            "<span font_desc='sans 900'>x</span>",
            "<span rise=\"99999\">x</span>",
            "<big>x</big>",
            "<script>x</script>",
            "<b>unclosed",
            "</b>",
            "a & b",
            "<span foreground=red>x</span>",
            "<b>",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
        let deep = "<b>".repeat(40) + &"</b>".repeat(40);
        assert!(check(&deep).is_err());
        assert!(check(&("<b>".repeat(20) + &"</b>".repeat(20))).is_ok());
    }
}
