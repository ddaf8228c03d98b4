//! The command-line pass: Go's `flag.FlagSet.Parse` with imagor's flags.

use super::error::ConfigError;
use super::flags::{lookup, Kind};
use super::goquote::quote;
use super::values::{Config, Source};

/// Apply `args` (without the program name) to `cfg` as Go's
/// `FlagSet.Parse` does: `-name`, `--name`, `-name=value`, `-name value`
/// (not for bools: `-debug false` sets `-debug` and stops parsing at
/// `false`), last occurrence wins, parsing stops at the first non-flag
/// argument (`-` included) or after `--`; the rest is kept as positional
/// arguments. `-h`/`-help` (any dashes, any `=value`) give
/// [`ConfigError::Help`] unless an earlier argument failed.
pub(super) fn apply(cfg: &mut Config, args: &[String]) -> Result<(), ConfigError> {
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let bytes = arg.as_bytes();
        if bytes.len() < 2 || bytes[0] != b'-' {
            break;
        }
        let mut dashes = 1;
        if bytes[1] == b'-' {
            dashes = 2;
            if bytes.len() == 2 {
                // "--" terminates the flags and is consumed.
                i += 1;
                break;
            }
        }
        let body = &arg[dashes..];
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(ConfigError::Usage(format!("bad flag syntax: {arg}")));
        }
        i += 1;
        // The first '=' after the first byte splits name and value.
        let (name, mut value) = match body.bytes().skip(1).position(|b| b == b'=') {
            Some(p) => (&body[..p + 1], Some(&body[p + 2..])),
            None => (body, None),
        };
        let Some(flag) = lookup(name) else {
            if name == "h" || name == "help" {
                return Err(ConfigError::Help);
            }
            return Err(ConfigError::Usage(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        if flag.kind == Kind::Bool {
            let text = value.unwrap_or("true");
            cfg.set(flag, text, Source::CommandLine).map_err(|e| {
                ConfigError::Usage(format!(
                    "invalid boolean value {} for -{name}: {e}",
                    quote(text)
                ))
            })?;
            continue;
        }
        if value.is_none() && i < args.len() {
            // Non-bool flags take the next argument, whatever it looks like.
            value = Some(&args[i]);
            i += 1;
        }
        let Some(text) = value else {
            return Err(ConfigError::Usage(format!(
                "flag needs an argument: -{name}"
            )));
        };
        cfg.set(flag, text, Source::CommandLine).map_err(|e| {
            ConfigError::Usage(format!(
                "invalid value {} for flag -{name}: {e}",
                quote(text)
            ))
        })?;
    }
    cfg.set_positional(args[i..].to_vec());
    Ok(())
}
