//! The parsed configuration: one typed value per flag of [`FLAGS`], and
//! where it came from.

use std::fmt;
use std::time::Duration;

use super::flags::{Flag, Kind, FLAGS};
use super::goparse;

/// A flag's value, typed by its [`Kind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// [`Kind::Bool`].
    Bool(bool),
    /// [`Kind::Int`] and [`Kind::Int64`] (Go's `int` is 64 bits).
    Int(i64),
    /// [`Kind::Duration`], in nanoseconds like Go's `time.Duration`; may be
    /// negative (`-1s` is valid Go syntax).
    Duration(i64),
    /// [`Kind::String`].
    String(String),
    /// [`Kind::CidrList`]: the networks as Go's `IPNet.String()` prints
    /// them (`10.0.0.0/8`, `::1/128`), in the given order.
    CidrList(Vec<String>),
}

impl Value {
    /// Parse `text` as Go's `flag.Value.Set` does for `kind`. The error is
    /// the text Go's `flag` puts after the colon (`parse error`,
    /// `value out of range`, `invalid CIDR address: x`).
    pub fn parse(kind: Kind, text: &str) -> Result<Value, String> {
        Ok(match kind {
            Kind::Bool => Value::Bool(goparse::parse_bool(text)?),
            Kind::Int | Kind::Int64 => Value::Int(goparse::parse_int(text)?),
            Kind::Duration => Value::Duration(goparse::parse_duration(text)?),
            Kind::String => Value::String(text.to_owned()),
            // Each Set replaces the whole list (config/flags.go).
            Kind::CidrList => Value::CidrList(
                text.split(',')
                    .map(goparse::parse_cidr)
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// The default of `flag`, from its Go `DefValue`.
    ///
    /// # Panics
    ///
    /// If the static table holds a default its kind cannot parse (a bug
    /// that the unit tests rule out).
    fn default_of(flag: &Flag) -> Value {
        if flag.kind == Kind::CidrList && flag.default.is_empty() {
            return Value::CidrList(Vec::new());
        }
        match Value::parse(flag.kind, flag.default) {
            Ok(v) => v,
            Err(e) => panic!("flag table: bad default for -{}: {e}", flag.name),
        }
    }
}

impl fmt::Display for Value {
    /// Go's `flag.Value.String()`: `true`, `8000`, `168h0m0s`, the string
    /// itself, or the networks joined with `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Duration(ns) => f.write_str(&goparse::format_duration_nanos(*ns)),
            Value::String(s) => f.write_str(s),
            Value::CidrList(nets) => f.write_str(&nets.join(",")),
        }
    }
}

/// Which source gave a flag its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Not set anywhere: the built-in default.
    Default,
    /// The command line.
    CommandLine,
    /// An environment variable (`IMAGOR_SECRET`).
    Environment,
    /// The config file (`-config`, default `.env`).
    ConfigFile,
}

/// The value of every imagor flag after command line, environment and
/// config file were applied, with the source of each.
///
/// Accessors take the flag name without dash and panic when the name is
/// not in [`FLAGS`] or has another kind: flag names are constants of the
/// calling code, never user input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    values: Vec<(Value, Source)>,
    positional: Vec<String>,
    config_file: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config::defaults()
    }
}

impl Config {
    /// Every flag at its default, nothing set.
    pub fn defaults() -> Config {
        Config {
            values: FLAGS
                .iter()
                .map(|f| (Value::default_of(f), Source::Default))
                .collect(),
            positional: Vec::new(),
            config_file: None,
        }
    }

    fn index(name: &str) -> usize {
        match FLAGS.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => panic!("imagor has no flag -{name}"),
        }
    }

    /// Set `flag` from `text` as Go's `flag.Value.Set` would, recording
    /// `source`. The error is Go's text (see [`Value::parse`]).
    pub(super) fn set(&mut self, flag: &Flag, text: &str, source: Source) -> Result<(), String> {
        let value = Value::parse(flag.kind, text)?;
        self.values[Config::index(flag.name)] = (value, source);
        Ok(())
    }

    pub(super) fn set_positional(&mut self, args: Vec<String>) {
        self.positional = args;
    }

    pub(super) fn set_config_file(&mut self, path: String) {
        self.config_file = Some(path);
    }

    /// The value of flag `name`, or `None` if imagor has no such flag.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = FLAGS.iter().position(|f| f.name == name)?;
        Some(&self.values[i].0)
    }

    fn value(&self, name: &str) -> &Value {
        &self.values[Config::index(name)].0
    }

    fn wrong_kind(name: &str, want: &str) -> ! {
        panic!("flag -{name} is not a {want} flag")
    }

    /// A string flag's value.
    ///
    /// # Panics
    ///
    /// If `name` is not a [`Kind::String`] flag.
    pub fn str(&self, name: &str) -> &str {
        match self.value(name) {
            Value::String(s) => s,
            _ => Config::wrong_kind(name, "string"),
        }
    }

    /// A bool flag's value.
    ///
    /// # Panics
    ///
    /// If `name` is not a [`Kind::Bool`] flag.
    pub fn bool(&self, name: &str) -> bool {
        match self.value(name) {
            Value::Bool(b) => *b,
            _ => Config::wrong_kind(name, "bool"),
        }
    }

    /// An int or int64 flag's value.
    ///
    /// # Panics
    ///
    /// If `name` is not a [`Kind::Int`] or [`Kind::Int64`] flag.
    pub fn int(&self, name: &str) -> i64 {
        match self.value(name) {
            Value::Int(n) => *n,
            _ => Config::wrong_kind(name, "int"),
        }
    }

    /// A duration flag's value; a negative value reads as zero (every
    /// imagor consumer treats `<= 0` alike: "unset" or "none").
    ///
    /// # Panics
    ///
    /// If `name` is not a [`Kind::Duration`] flag.
    pub fn duration(&self, name: &str) -> Duration {
        Duration::from_nanos(u64::try_from(self.duration_nanos(name)).unwrap_or(0))
    }

    /// A duration flag's value in signed nanoseconds, as Go holds it.
    ///
    /// # Panics
    ///
    /// If `name` is not a [`Kind::Duration`] flag.
    pub fn duration_nanos(&self, name: &str) -> i64 {
        match self.value(name) {
            Value::Duration(ns) => *ns,
            _ => Config::wrong_kind(name, "duration"),
        }
    }

    /// A CIDR list flag's networks, as Go's `IPNet.String()` prints them.
    ///
    /// # Panics
    ///
    /// If `name` is not a [`Kind::CidrList`] flag.
    pub fn cidrs(&self, name: &str) -> Vec<String> {
        match self.value(name) {
            Value::CidrList(nets) => nets.clone(),
            _ => Config::wrong_kind(name, "CIDR list"),
        }
    }

    /// Where flag `name` got its value.
    ///
    /// # Panics
    ///
    /// If imagor has no flag `name`.
    pub fn source(&self, name: &str) -> Source {
        self.values[Config::index(name)].1
    }

    /// Whether flag `name` was set by any source (Go's `FlagSet.Visit`),
    /// even to its default value.
    ///
    /// # Panics
    ///
    /// If imagor has no flag `name`.
    pub fn is_set(&self, name: &str) -> bool {
        self.source(name) != Source::Default
    }

    /// Every flag with its value and source, in [`FLAGS`] order (for
    /// diagnostics; `Value` displays as Go prints it).
    pub fn iter(&self) -> impl Iterator<Item = (&'static Flag, &Value, Source)> + '_ {
        FLAGS.iter().zip(&self.values).map(|(f, (v, s))| (f, v, *s))
    }

    /// The arguments after the flags (Go's `FlagSet.Args()`): everything
    /// from the first non-flag argument, or after `--`. imagor ignores them.
    pub fn positional(&self) -> &[String] {
        &self.positional
    }

    /// The config file that was read, if one existed and was not disabled
    /// with `-config ""`.
    pub fn config_file(&self) -> Option<&str> {
        self.config_file.as_deref()
    }
}
