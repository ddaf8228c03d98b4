//! `Imagor.handle`: Python values → `imagor::request::Request`, and the
//! `imagor::request::Response` back as an `imagor.Response`.

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyList, PyMapping, PyTuple};

use crate::convert::{byte_len, input_bytes};
use crate::error::{entry, type_error};

/// An HTTP response from :meth:`Imagor.handle`: what imagor's server would
/// send for the request.
#[pyclass(module = "imagor", name = "Response", frozen)]
pub struct PyResponse {
    /// The status code.
    #[pyo3(get)]
    status: u16,
    /// Headers in order, as ``(name, value)`` tuples.
    #[pyo3(get)]
    headers: Py<PyList>,
    /// The body (empty for ``HEAD``, 304 and bodiless errors).
    #[pyo3(get)]
    body: Py<PyBytes>,
}

#[pymethods]
impl PyResponse {
    /// The first value of header `name` (any case), or `default`.
    #[pyo3(signature = (name, default = None))]
    fn header(
        &self,
        py: Python<'_>,
        name: PyBackedStr,
        default: Option<Py<PyAny>>,
    ) -> PyResult<Option<Py<PyAny>>> {
        entry(py, || {
            for item in self.headers.bind(py).iter() {
                let (k, v): (String, Py<PyAny>) = item.extract()?;
                if k.eq_ignore_ascii_case(&name) {
                    return Ok(Some(v));
                }
            }
            Ok(default)
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        entry(py, || {
            Ok(format!(
                "Response(status={}, {} headers, {} bytes)",
                self.status,
                self.headers.bind(py).len(),
                self.body.bind(py).as_bytes().len()
            ))
        })
    }
}

impl PyResponse {
    /// The Python object for a core response.
    pub fn from_core(py: Python<'_>, res: imagor::request::Response) -> PyResult<PyResponse> {
        let headers = PyList::empty(py);
        for (k, v) in res.headers {
            headers.append(PyTuple::new(py, [k, v])?)?;
        }
        Ok(PyResponse {
            status: res.status,
            headers: headers.unbind(),
            body: PyBytes::new(py, &res.body).unbind(),
        })
    }
}

/// `(name, value)` pairs from a mapping (``dict``, Django's
/// ``request.headers``) or an iterable of pairs; names in lower case.
fn header_pairs(headers: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let items = match headers.cast::<PyMapping>() {
        Ok(mapping) => mapping.items()?.into_any(),
        Err(_) if headers.hasattr("items")? => headers.call_method0("items")?,
        Err(_) => headers.clone(),
    };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let (name, value): (String, String) = item?
            .extract()
            .map_err(|_| type_error("headers: expected (str, str) pairs or a mapping of str"))?;
        out.push((name.to_ascii_lowercase(), value));
    }
    Ok(out)
}

/// The core request for `Imagor.handle`'s arguments (a `?query` in `path`
/// is split off unless `query` is given), or the error that refuses its
/// body: one larger than `engine`'s `max_memory` is not copied.
pub fn request(
    engine: &imagor::Imagor,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: Option<&Bound<'_, PyAny>>,
    body: Option<&Bound<'_, PyAny>>,
) -> PyResult<imagor::Result<imagor::request::Request>> {
    let (path, split_query) = match path.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path, ""),
    };
    let body = match body {
        Some(b) if !b.is_none() => {
            // Refused on its length before it is copied, and answered as
            // imagor answers errors (as Node's `handle` does).
            if let Some(len) = byte_len(b)? {
                if let Err(refused) = engine.check_input_size(len) {
                    return Ok(Err(refused));
                }
            }
            input_bytes(b)?.to_vec().into()
        }
        _ => Default::default(),
    };
    Ok(Ok(imagor::request::Request {
        method: method.to_ascii_uppercase(),
        path: path.to_owned(),
        query: query.unwrap_or(split_query).to_owned(),
        headers: match headers {
            Some(h) if !h.is_none() => header_pairs(h)?,
            _ => Vec::new(),
        },
        body,
    }))
}
