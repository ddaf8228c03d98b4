//! `imagor -h`: Go's default usage, `Usage of imagor:` and
//! `FlagSet.PrintDefaults()`.

use super::flags::{sorted, Flag, Kind};
use super::goquote::quote;

/// The exact text `imagor -h` writes on stderr (also after a usage error):
/// `Usage of imagor:` then, for every flag sorted by name, two spaces,
/// `-name`, a space and the type word (none for bools), a newline, four
/// spaces and a tab, the help text, and ` (default …)` when the default is
/// not the zero value (`""`, `false`, `0`, `0s`; strings quoted as `%q`).
pub fn help_text() -> String {
    let mut out = String::from("Usage of imagor:\n");
    for flag in sorted() {
        out.push_str(&flag_defaults(flag));
    }
    out
}

/// One flag's lines of Go's `PrintDefaults`.
fn flag_defaults(flag: &Flag) -> String {
    let mut line = format!("  -{}", flag.name);
    let type_name = flag.kind.type_name();
    if !type_name.is_empty() {
        line.push(' ');
        line.push_str(type_name);
    }
    // Go puts the usage of one-letter bool flags on the same line; imagor
    // has none, but keep the rule.
    if line.len() <= 4 {
        line.push('\t');
    } else {
        line.push_str("\n    \t");
    }
    line.push_str(&flag.usage.replace('\n', "\n    \t"));
    if !is_zero_default(flag) {
        if flag.kind == Kind::String {
            line.push_str(&format!(" (default {})", quote(flag.default)));
        } else {
            line.push_str(&format!(" (default {})", flag.default));
        }
    }
    line.push('\n');
    line
}

/// Go's `isZeroValue`: the default prints like the type's zero value.
fn is_zero_default(flag: &Flag) -> bool {
    match flag.kind {
        Kind::Bool => flag.default == "false",
        Kind::Int | Kind::Int64 => flag.default == "0",
        Kind::Duration => flag.default == "0s",
        Kind::String | Kind::CidrList => flag.default.is_empty(),
    }
}
