//! imagor's command line: every flag of `imagor -h`, read as Go's `flag`
//! package and peterbourgon/ff v3.4.0 read them in imagor 1.9.5
//! (config/config.go `CreateServer`).
//!
//! Sources, highest priority first: the command line, then the environment
//! (`IMAGOR_SECRET` for `-imagor-secret`; empty values skipped), then the
//! config file named by `-config` (default `.env` in the current
//! directory; missing is fine, `-config ""` disables it), then the
//! built-in default. See [`parse`].
//!
//! Deviations from imagor, all documented where they live:
//! * a bad environment variable or config-file line is reported in one line
//!   naming the variable or the file and line, exit 2, instead of a Go
//!   panic with exit 2 ([`ConfigError::Invalid`]);
//! * values are Rust strings: bytes that are not UTF-8 (in arguments, the
//!   environment or the file) become U+FFFD;
//! * `-imagor-process-timeout` (like the load and save timeouts) reports
//!   `0s` when not set, as imagor's table says; 0 keeps imagor's effective
//!   20s default, which the code building the app applies ([`FLAGS`]).

mod cmdline;
mod dotenv;
mod error;
mod flags;
mod goparse;
mod goquote;
mod help;
mod values;

pub use error::ConfigError;
pub use flags::{lookup, lookup_env, sorted, Flag, Group, Kind, FLAGS};
pub use help::help_text;
pub use values::{Config, Source, Value};

/// The version `imagor -version` prints: the imagor release this server
/// reproduces.
pub const VERSION: &str = "1.9.5";

/// Read imagor's configuration from `args` (the command line without the
/// program name), the environment `env` (a lookup such as
/// `|k| std::env::var(k).ok()`) and the config file, as imagor does.
///
/// 1. `args` with Go's `flag` syntax: `-name=v`, `--name=v`, `-name v`,
///    `--name v`; bools as `-name` or `-name=v` (`-name false` sets true and
///    stops parsing at `false`, Go's quirk); the last occurrence wins;
///    parsing stops at the first non-flag argument or after `--` (see
///    [`Config::positional`]). Errors are [`ConfigError::Usage`]; `-h` or
///    `-help` is [`ConfigError::Help`].
/// 2. For every flag not set yet, in name order, `env(ENV_NAME)`; an empty
///    value is skipped; a bad value is [`ConfigError::Invalid`].
/// 3. The config file named by the `config` flag as it stands now (so
///    `-config` and `CONFIG` both choose it), in ff's `.env` format; flags
///    already set are skipped.
/// 4. If `version` ended up true: [`ConfigError::Version`].
pub fn parse(args: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let mut cfg = Config::defaults();
    cmdline::apply(&mut cfg, args)?;
    apply_env(&mut cfg, env)?;
    dotenv::apply(&mut cfg)?;
    if cfg.bool("version") {
        return Err(ConfigError::Version);
    }
    Ok(cfg)
}

/// [`parse`] with this process's arguments and environment (arguments and
/// values that are not UTF-8 are converted lossily).
pub fn parse_process() -> Result<Config, ConfigError> {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    parse(&args, &|key| {
        std::env::var_os(key).map(|v| v.to_string_lossy().into_owned())
    })
}

/// ff's environment pass: flags in name order (Go's `VisitAll`), those
/// not set on the command line, non-empty values only; the first bad value
/// stops with ff's message.
fn apply_env(cfg: &mut Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    for flag in sorted() {
        if cfg.is_set(flag.name) {
            continue;
        }
        let key = flag.env_name();
        let Some(value) = env(&key).filter(|v| !v.is_empty()) else {
            continue;
        };
        cfg.set(flag, &value, Source::Environment).map_err(|e| {
            ConfigError::Invalid(format!(
                "error parsing environment variables: error setting flag {} from \
                 environment variable {}: {e}",
                goquote::quote(flag.name),
                goquote::quote(&key)
            ))
        })?;
    }
    Ok(())
}
