//! `parse` and `generate`: imagor's URL grammar (`imagor::path`), with
//! params as dicts of imagor's JSON field names.

use std::sync::OnceLock;

use imagor::path::{self, Params};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;

use crate::convert::{field_names, from_py, json_to_py};
use crate::error::{de_error, entry, type_error, value_error};
use crate::sign::{with_signer, Secret};

/// The params field names (imagor's JSON names).
fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<&'static [&'static str]> = OnceLock::new();
    NAMES.get_or_init(field_names::<Params>)
}

/// `Params` from a dict of imagor's field names; unknown names and wrong
/// types raise `TypeError`, bad values `ValueError`.
pub fn params_from_dict(what: &str, d: &Bound<'_, PyDict>) -> PyResult<Params> {
    from_py(d, names()).map_err(|e| de_error(what, names(), e))
}

/// Parse an imagor path into a dict of imagor's field names (``/params``'s
/// JSON): zero, false and empty values are left out. Parsing never fails:
/// unrecognised segments become part of the image, as in imagor.
///
/// >>> imagor.parse("unsafe/fit-in/200x150/filters:format(webp)/a.jpg")["width"]
/// 200
#[pyfunction]
#[pyo3(signature = (path, /))]
pub fn parse<'py>(py: Python<'py>, path: PyBackedStr) -> PyResult<Bound<'py, PyAny>> {
    entry(py, || {
        let json = py
            .detach(|| path::try_parse(&path).map(|p| p.to_json()))
            .map_err(|e| crate::error::to_py(py, &e))?;
        json_to_py(py, &json)
    })
}

/// The path for `params` (a dict as returned by :func:`parse`; ``path`` and
/// ``hash`` are ignored): the bare path (imagor's ``GeneratePath``) by
/// default, ``unsafe/`` + path with `unsafe`, or ``HASH/`` + path signed
/// with `secret` (imagor's ``Generate``).
#[pyfunction]
#[pyo3(
    signature = (params, secret = None, r#unsafe = None, signer_type = None, truncate = 0),
    text_signature = "(params, secret=None, unsafe=False, signer_type=\"sha1\", truncate=0)"
)]
pub fn generate(
    py: Python<'_>,
    params: &Bound<'_, PyDict>,
    secret: Option<Secret>,
    r#unsafe: Option<&Bound<'_, PyAny>>,
    signer_type: Option<PyBackedStr>,
    truncate: i64,
) -> PyResult<String> {
    entry(py, || {
        let r#unsafe = match r#unsafe {
            None => false,
            Some(flag) => flag.extract::<bool>().map_err(|_| {
                type_error(format!(
                    "generate(): unsafe must be bool, not {}",
                    flag.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?,
        };
        let params = params_from_dict("generate() params", params)?;
        match (secret, r#unsafe) {
            (Some(_), true) => Err(value_error(
                "generate(): give either a secret or unsafe=True, not both",
            )),
            (Some(secret), false) => {
                with_signer(py, &secret, signer_type.as_deref(), truncate, |s| {
                    path::generate(&params, Some(s))
                })
            }
            (None, true) => Ok(py.detach(|| path::generate_unsafe(&params))),
            (None, false) => Ok(py.detach(|| path::generate_path(&params))),
        }
    })
}
