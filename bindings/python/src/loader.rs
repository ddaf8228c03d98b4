//! `Imagor(loader=callable)`: a Python callable as a source of images,
//! tried after the file loader, like Node's `loader` option.
//!
//! The core calls it from the thread doing the work, with the GIL released;
//! the call takes the GIL back for the callable only. Its answer: bytes (or
//! any bytes-like object) for the image, `None` for "not found" (404, the
//! next loader is tried); an `ImagorError` it raises keeps its status, any
//! other exception is a 500 naming the key and the exception. The answer is
//! copied only after room for it is reserved in the call's
//! `max_total_memory` (429 or 422 otherwise).

use pyo3::prelude::*;

use imagor::loader::{BoxFuture, LoadContext, Loader, SourceRoom};
use imagor::{Blob, Error};

use crate::convert::{byte_len, input_bytes};

/// A Python callable `(key: str) -> bytes | None`.
pub struct PyLoader {
    callable: Py<PyAny>,
}

impl PyLoader {
    /// Wrap `callable` (checked callable by the caller).
    pub fn new(callable: Py<PyAny>) -> Self {
        PyLoader { callable }
    }

    fn call(&self, key: &str) -> Result<imagor::Bytes, Error> {
        let room = SourceRoom::for_this_call();
        Python::attach(|py| {
            let answer = self
                .callable
                .call1(py, (key,))
                .map_err(|e| from_exception(py, key, e))?;
            let answer = answer.bind(py);
            if answer.is_none() {
                return Err(Error::NOT_FOUND);
            }
            let wrong = |e: PyErr| {
                Error::Internal(format!(
                    "loader({key:?}): must return bytes or None: {}",
                    e.value(py)
                ))
            };
            // Room for the answer before any copy of it: a bytearray or
            // memoryview is copied out once (that copy is the one kept and
            // counted), bytes are kept as they are.
            if let Some(len) = byte_len(answer).map_err(wrong)? {
                room.reserve(len as u64)?;
            }
            room.keep(input_bytes(answer).map_err(wrong)?)
        })
    }
}

/// An exception of the callable as an imagor error: an `ImagorError` (or
/// anything with an integer `.status` in 400..600) keeps its status.
fn from_exception(py: Python<'_>, key: &str, e: PyErr) -> Error {
    if let Some(stop) = crate::error::hold_interrupt(py, &e) {
        return stop;
    }
    let value = e.value(py);
    let status = value
        .getattr("status")
        .ok()
        .and_then(|s| s.extract::<u16>().ok())
        .filter(|s| (400..600).contains(s));
    let message = value
        .getattr("message")
        .ok()
        .and_then(|m| m.extract::<String>().ok())
        .unwrap_or_else(|| value.to_string());
    // An imagor error raised with words of its own keeps its kind, not only
    // its status (`SourceNotAllowedError("not ours")` came back a
    // StatusError); kinds that carry a message keep it.
    let code = value
        .getattr("code")
        .ok()
        .and_then(|c| c.extract::<String>().ok());
    let kind = code.as_deref().and_then(|c| Error::from_code(c, &message));
    if let Some(kind) = kind.filter(|k| status.is_none_or(|s| s == k.status())) {
        return kind;
    }
    match status {
        Some(status) => Error::from_status(&message, status),
        None => {
            let kind = value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            Error::Internal(format!("loader({key:?}) raised {kind}: {message}"))
        }
    }
}

impl Loader for PyLoader {
    fn get<'a>(
        &'a self,
        _ctx: LoadContext<'a>,
        key: &'a str,
    ) -> BoxFuture<'a, imagor::Result<Blob>> {
        let result = self.call(key).map(Blob::new);
        Box::pin(std::future::ready(result))
    }

    fn name(&self) -> &'static str {
        "python"
    }
}
