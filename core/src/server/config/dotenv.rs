//! The config-file pass: ff v3.4.0's `EnvParser` (`.env` format) on the
//! file named by `-config`, applied as `ff.Parse` does.

use std::io::{ErrorKind, Read};

use super::error::ConfigError;
use super::flags::{lookup, lookup_env, FLAGS};
use super::goquote::{quote, unquote};
use super::values::{Config, Source};

/// Go's `bufio.MaxScanTokenSize`: ff's scanner stops (silently) at a line
/// of this many bytes or more.
const MAX_LINE: usize = 64 * 1024;

/// What one line of a `.env` file means to ff's `EnvParser`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Line {
    /// Blank or a `#` comment.
    Skip,
    /// `name=value`, both trimmed, the value unquoted if it is a Go literal.
    Pair(String, String),
    /// No `=`, an empty name or an empty value: ff's `invalid line: <line>`
    /// (the line trimmed).
    Invalid(String),
}

/// Read one line as `EnvParser` does: trim; skip empty lines and lines
/// starting with `#`; split at the first `=`; trim name and value; refuse an
/// empty name or value; unquote a value `strconv.Unquote` accepts. There
/// is no `export` keyword (`export X=1` has the name `export X`) and no
/// inline comment (`X=1 # c` has the value `1 # c`).
pub(super) fn parse_line(raw: &str) -> Line {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Line::Skip;
    }
    let Some((name, value)) = line.split_once('=') else {
        return Line::Invalid(line.to_owned());
    };
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() || value.is_empty() {
        return Line::Invalid(line.to_owned());
    }
    let value = unquote(value).unwrap_or_else(|| value.to_owned());
    Line::Pair(name.to_owned(), value)
}

/// Split `data` into lines as Go's `bufio.Scanner` with `ScanLines` does:
/// at `\n`, one trailing `\r` dropped, a last line without `\n` kept. A line
/// of [`MAX_LINE`] bytes or more ends the scan (ff ignores the scanner's
/// error, so that line and the rest of the file are silently skipped).
/// Invalid UTF-8 becomes U+FFFD.
pub(super) fn scan_lines(data: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(p) => (&rest[..p], &rest[p + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        if line.len() >= MAX_LINE {
            break;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        lines.push(String::from_utf8_lossy(line).into_owned());
        rest = next;
    }
    lines
}

/// Apply the config file named by the `config` flag (after command line
/// and environment) to `cfg`, as `ff.Parse` with `WithConfigFileFlag`,
/// `WithIgnoreUndefined(true)`, `WithAllowMissingConfigFile(true)` and
/// `EnvParser` does: `""` means no file; a missing file is fine; keys are
/// flag names (`imagor-secret`) or their environment form
/// (`IMAGOR_SECRET`); unknown keys are ignored; flags set on the command
/// line or in the environment are left alone; later lines win; the first
/// bad line or value stops with [`ConfigError::Invalid`].
///
/// Relative names are opened from the current directory, as Go's
/// `os.Open` does. A read error after opening ends the file where it
/// happened, silently, as in ff (Go's scanner error is not checked).
pub(super) fn apply(cfg: &mut Config) -> Result<(), ConfigError> {
    let path = cfg.str("config").to_owned();
    if path.is_empty() {
        return Ok(());
    }
    let mut file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ConfigError::Invalid(format!(
                "config file {}: open {path}: {e}",
                quote(&path)
            )))
        }
    };
    let mut data = Vec::new();
    // On error, `data` keeps what was read: ff parses that much.
    let _ = file.read_to_end(&mut data);
    cfg.set_config_file(path.clone());

    // ff's `provided` set is taken once, before the file: later lines of
    // the file override earlier ones.
    let provided: Vec<bool> = FLAGS.iter().map(|f| cfg.is_set(f.name)).collect();
    let was_provided = |name: &str| {
        FLAGS
            .iter()
            .position(|f| f.name == name)
            .is_some_and(|i| provided[i])
    };
    for (n, raw) in scan_lines(&data).iter().enumerate() {
        let at = || format!("config file {} line {}", quote(&path), n + 1);
        let (key, value) = match parse_line(raw) {
            Line::Skip => continue,
            Line::Invalid(line) => {
                return Err(ConfigError::Invalid(format!(
                    "{}: invalid line: {line}",
                    at()
                )))
            }
            Line::Pair(key, value) => (key, value),
        };
        let Some(flag) = lookup(&key).or_else(|| lookup_env(&key)) else {
            continue;
        };
        if was_provided(flag.name) {
            continue;
        }
        cfg.set(flag, &value, Source::ConfigFile).map_err(|e| {
            ConfigError::Invalid(format!(
                "{}: error setting flag {} from config file: {e}",
                at(),
                quote(&key)
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(k: &str, v: &str) -> Line {
        Line::Pair(k.to_owned(), v.to_owned())
    }

    #[test]
    fn lines_as_ff_env_parser() {
        assert_eq!(parse_line(""), Line::Skip);
        assert_eq!(parse_line("   \t"), Line::Skip);
        assert_eq!(parse_line("# PORT=1"), Line::Skip);
        assert_eq!(parse_line("  # indented comment"), Line::Skip);
        assert_eq!(parse_line("PORT=8080"), pair("PORT", "8080"));
        assert_eq!(parse_line("  PORT =  8080  "), pair("PORT", "8080"));
        assert_eq!(parse_line("A=b=c"), pair("A", "b=c"));
        assert_eq!(
            parse_line("A=1 # not a comment"),
            pair("A", "1 # not a comment")
        );
        assert_eq!(parse_line("export A=1"), pair("export A", "1"));
        assert_eq!(parse_line("A=\"x y\""), pair("A", "x y"));
        assert_eq!(parse_line("A=\"a\\nb\""), pair("A", "a\nb"));
        assert_eq!(parse_line("A=\"\""), pair("A", ""));
        assert_eq!(parse_line("A='z'"), pair("A", "z"));
        assert_eq!(parse_line("A='zz'"), pair("A", "'zz'"));
        assert_eq!(parse_line("A=`r\\n`"), pair("A", "r\\n"));
        assert_eq!(parse_line("A=\"open"), pair("A", "\"open"));
        assert_eq!(parse_line("A=#x"), pair("A", "#x"));
        assert_eq!(parse_line("PORT="), Line::Invalid("PORT=".into()));
        assert_eq!(parse_line(" PORT =  "), Line::Invalid("PORT =".into()));
        assert_eq!(parse_line("=1"), Line::Invalid("=1".into()));
        assert_eq!(parse_line("PORT"), Line::Invalid("PORT".into()));
    }

    #[test]
    fn scanner_lines_as_go_bufio() {
        assert_eq!(scan_lines(b"a\nb\r\nc"), ["a", "b", "c"]);
        assert_eq!(scan_lines(b"a\n\n"), ["a", ""]);
        assert_eq!(scan_lines(b"a\r\r\n"), ["a\r"]);
        assert!(scan_lines(b"").is_empty());
        let mut long = b"A=1\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_LINE));
        long.extend(b"\nB=2\n");
        assert_eq!(scan_lines(&long), ["A=1"]);
        let mut fits = vec![b'x'; MAX_LINE - 1];
        fits.extend(b"\nB=2");
        assert_eq!(scan_lines(&fits).len(), 2);
    }
}
