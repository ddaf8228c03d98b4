//! Keyword arguments → `imagor::Options`, through the same serde
//! definition the C JSON and the server use, so the names, types and
//! checks are the core's.

use std::sync::OnceLock;

use imagor::Options;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use crate::convert::{field_names, from_py};
use crate::error::{de_error, to_py};

/// The option names (`Options` fields, `unsafe` for `unsafe_`).
pub fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<&'static [&'static str]> = OnceLock::new();
    NAMES.get_or_init(field_names::<Options>)
}

/// Build validated `Options` from keyword arguments. `what` names the
/// callee in messages (`"Imagor()"`, `"process()"`). Unknown names and
/// wrong types raise `TypeError`, bad values `ValueError`
/// (`imagor.InvalidError` for the core's range checks).
pub fn from_kwargs(what: &str, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Options> {
    let Some(kwargs) = kwargs else {
        return Ok(Options::default());
    };
    let opts: Options = from_py(kwargs, names()).map_err(|e| de_error(what, names(), e))?;
    let py = kwargs.py();
    py.detach(|| opts.validate()).map_err(|e| to_py(py, &e))?;
    Ok(opts)
}

/// `name=value` for the options that differ from the defaults, the
/// secrets hidden: the body of `Imagor.__repr__`.
pub fn describe(opts: &Options) -> String {
    let (Value::Object(mine), Ok(Value::Object(defaults))) = (
        opts.to_json_redacted(),
        serde_json::to_value(Options::default()),
    ) else {
        return String::new();
    };
    mine.iter()
        .filter(|(k, v)| defaults.get(*k) != Some(v))
        .map(|(k, v)| match (k.as_str(), v) {
            (k, _) if Options::is_secret_field(k) => format!("{k}=<redacted>"),
            (_, Value::Bool(b)) => format!("{k}={}", if *b { "True" } else { "False" }),
            (_, Value::String(s)) => format!("{k}={s:?}"),
            _ => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
