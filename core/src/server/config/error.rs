//! Why configuration stopped, what imagor prints for it and its exit code.

use std::fmt;

use super::help::help_text;
use super::VERSION;

/// The outcome of [`super::parse`] when imagor would not start serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `-h`, `-help`, `--h` or `--help` on the command line: print
    /// [`help_text`] on stderr and exit 0.
    Help,
    /// `-version` is true (from any source): print [`VERSION`] on stdout
    /// and exit 0. (imagor builds the whole app first, so a broken S3 or
    /// GCS setup still panics; that is the caller's business.)
    Version,
    /// A command-line error, with the message Go's `flag` package prints
    /// before the usage text: `flag provided but not defined: -foo`,
    /// `invalid value "abc" for flag -port: parse error`,
    /// `invalid boolean value "x" for -debug: parse error`,
    /// `flag needs an argument: -port`, `bad flag syntax: ---x`. Exit 2.
    Usage(String),
    /// A bad value in an environment variable or the config file, an
    /// invalid config-file line, or a config file that cannot be opened.
    ///
    /// Deviation: imagor `panic`s with ff's error (a Go stack trace, exit
    /// 2). We keep the exit code 2 but print one line: ff's message for
    /// environment variables (`error parsing environment variables: error
    /// setting flag "port" from environment variable "PORT": parse error`),
    /// and for the config file ff's message prefixed with the file name and
    /// line number (`config file ".env" line 3: invalid line: PORT=`).
    Invalid(String),
}

impl ConfigError {
    /// The process exit code imagor ends with: 0 for [`ConfigError::Help`]
    /// and [`ConfigError::Version`], 2 otherwise (Go's `flag.ExitOnError`,
    /// and the exit code of a Go panic).
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::Help | ConfigError::Version => 0,
            ConfigError::Usage(_) | ConfigError::Invalid(_) => 2,
        }
    }

    /// What imagor writes on stderr: the help text for `-h`; the message,
    /// a newline and the help text for a usage error; the message and a
    /// newline for an invalid environment or config file; nothing for
    /// `-version`.
    pub fn stderr_text(&self) -> String {
        match self {
            ConfigError::Help => help_text(),
            ConfigError::Usage(msg) => format!("{msg}\n{}", help_text()),
            ConfigError::Invalid(msg) => format!("{msg}\n"),
            ConfigError::Version => String::new(),
        }
    }

    /// What imagor writes on stdout: `1.9.5\n` for `-version`, else nothing.
    pub fn stdout_text(&self) -> String {
        match self {
            ConfigError::Version => format!("{VERSION}\n"),
            _ => String::new(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Go's flag.ErrHelp.
            ConfigError::Help => f.write_str("flag: help requested"),
            ConfigError::Version => write!(f, "version {VERSION} requested"),
            ConfigError::Usage(msg) | ConfigError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ConfigError {}
