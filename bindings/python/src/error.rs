//! Every translation of a failure into a Python exception lives here.
//!
//! - `imagor::Error` becomes `imagor.ImagorError` or the subclass of its
//!   kind, with `.status` (imagor's HTTP status), `.code`
//!   (`imagor::Error::code`) and `.message` (imagor's message).
//! - A Rust panic anywhere behind an entry point becomes
//!   `imagor.InternalError` (never PyO3's `PanicException`): [`entry`].
//! - Bad arguments become `TypeError` (wrong type, unknown name) or
//!   `ValueError` (bad value); `InvalidError` is also a `ValueError`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::convert::DeError;

/// One exception class per kind of `imagor::Error`.
struct Kind {
    /// Python class name.
    name: &'static str,
    /// `imagor::Error::code()` of the kind.
    code: &'static str,
    /// imagor's HTTP status of the kind (`None`: it varies).
    status: Option<u16>,
    /// A builtin exception the class also derives from.
    builtin: Option<&'static str>,
    doc: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "NotFoundError",
        code: "not_found",
        status: Some(404),
        builtin: None,
        doc: "The image (or an overlay it names) does not exist (404).",
    },
    Kind {
        name: "InvalidError",
        code: "invalid",
        status: Some(400),
        builtin: Some("ValueError"),
        doc: "A malformed path, filter argument or option (400). Also a ValueError.",
    },
    Kind {
        name: "MethodNotAllowedError",
        code: "method_not_allowed",
        status: Some(405),
        builtin: None,
        doc: "The HTTP method is not allowed (405).",
    },
    Kind {
        name: "SourceNotAllowedError",
        code: "source_not_allowed",
        status: Some(403),
        builtin: None,
        doc: "The source was refused by the loader's allow-list (403).",
    },
    Kind {
        name: "SignatureMismatchError",
        code: "signature_mismatch",
        status: Some(403),
        builtin: None,
        doc: "The URL signature does not match the path (403).",
    },
    Kind {
        name: "TimeoutError",
        code: "timeout",
        status: Some(408),
        builtin: Some("TimeoutError"),
        doc: "Loading, processing or saving ran out of time (408). Also a builtin TimeoutError.",
    },
    Kind {
        name: "ExpiredError",
        code: "expired",
        status: Some(410),
        builtin: None,
        doc: "The path carries an expire() filter in the past (410).",
    },
    Kind {
        name: "UnsupportedFormatError",
        code: "unsupported_format",
        status: Some(406),
        builtin: None,
        doc: "The bytes are not an image format that can be loaded or saved (406).",
    },
    Kind {
        name: "MaxSizeExceededError",
        code: "max_size_exceeded",
        status: Some(400),
        builtin: None,
        doc: "The source is larger than the byte limit (400).",
    },
    Kind {
        name: "MaxResolutionExceededError",
        code: "max_resolution_exceeded",
        status: Some(422),
        builtin: None,
        doc: "The image is wider, taller or bigger than the limits (422).",
    },
    Kind {
        name: "TooManyRequestsError",
        code: "too_many_requests",
        status: Some(429),
        builtin: None,
        doc: "The processing queue is full (429).",
    },
    Kind {
        name: "LimitExceededError",
        code: "limit_exceeded",
        status: Some(422),
        builtin: None,
        doc: "A resource budget of the call would be exceeded (memory, frames, filter cost); \
              .message names the option that sets it (422).",
    },
    Kind {
        name: "CancelledError",
        code: "cancelled",
        status: Some(499),
        builtin: None,
        doc: "The call was cancelled by its caller before it finished (499).",
    },
    Kind {
        name: "ProcessingError",
        code: "processing",
        status: Some(406),
        builtin: None,
        doc: "libvips refused the image or an operation on it (406).",
    },
    Kind {
        name: "StatusError",
        code: "status",
        status: None,
        builtin: None,
        doc: "An error with an explicit status, such as an origin's HTTP status.",
    },
    Kind {
        name: "DetectorError",
        code: "detector",
        status: Some(500),
        builtin: None,
        doc: "A region detector raised, or answered regions that cannot be used (500).",
    },
    Kind {
        name: "InternalError",
        code: "internal",
        status: Some(500),
        builtin: None,
        doc: "A bug or an environment failure (500); a Rust panic is reported as this.",
    },
];

/// The exception classes, created once at module import.
struct Classes {
    base: Py<PyType>,
    kinds: Vec<Py<PyType>>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

/// `imagor.ImagorWarning`, a `UserWarning`.
static WARNING: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn warning_class(py: Python<'_>) -> PyResult<&Py<PyType>> {
    WARNING.get_or_try_init(py, || {
        let attrs = PyDict::new(py);
        attrs.set_item("__module__", "imagor")?;
        attrs.set_item(
            "__doc__",
            "A call that succeeded but probably did not do what was meant (a mistyped \
             operation left in the path given to process()).",
        )?;
        let bases = PyTuple::new(py, [py.get_type::<pyo3::exceptions::PyUserWarning>()])?;
        let class =
            py.import("builtins")?
                .getattr("type")?
                .call1(("ImagorWarning", bases, attrs))?;
        Ok(class.cast_into::<PyType>()?.unbind())
    })
}

/// Warn (`ImagorWarning`) when the image segment that `call` ignores looks
/// like a mistyped operation; with `strict_filters` the core refuses it.
pub fn warn_typo(py: Python<'_>, call: &str, path: &str, strict: bool) -> PyResult<()> {
    if strict {
        return Ok(());
    }
    let Some(msg) = imagor::path::mistyped(path) else {
        return Ok(());
    };
    let text = std::ffi::CString::new(format!("{call}: {msg}")).unwrap_or_default();
    PyErr::warn(py, warning_class(py)?.bind(py), &text, 1)
}

/// Create `ImagorError` and its subclasses and add them to `m`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ImagorWarning", warning_class(py)?.bind(py))?;
    let classes = CLASSES.get_or_try_init(py, || create_classes(py))?;
    m.add("ImagorError", classes.base.bind(py))?;
    for (kind, class) in KINDS.iter().zip(&classes.kinds) {
        m.add(kind.name, class.bind(py))?;
    }
    Ok(())
}

fn create_classes(py: Python<'_>) -> PyResult<Classes> {
    let builtins = py.import("builtins")?;
    let type_ = builtins.getattr("type")?;
    let make = |name: &str, bases: Bound<'_, PyTuple>, attrs: Bound<'_, PyDict>| {
        attrs.set_item("__module__", "imagor")?;
        let class = type_.call1((name, bases, attrs))?;
        Ok::<_, PyErr>(class.cast_into::<PyType>()?.unbind())
    };
    let attrs = PyDict::new(py);
    attrs.set_item(
        "__doc__",
        "Base class of imagor's errors: .status (HTTP status), .code (stable \
         kind name) and .message (imagor's message).",
    )?;
    let base = make(
        "ImagorError",
        PyTuple::new(py, [py.get_type::<PyException>()])?,
        attrs,
    )?;
    let mut kinds = Vec::with_capacity(KINDS.len());
    for kind in KINDS {
        let mut bases = vec![base.bind(py).clone().into_any()];
        if let Some(builtin) = kind.builtin {
            bases.push(builtins.getattr(builtin)?);
        }
        let attrs = PyDict::new(py);
        attrs.set_item("__doc__", kind.doc)?;
        attrs.set_item("code", kind.code)?;
        if let Some(status) = kind.status {
            attrs.set_item("status", status)?;
        }
        kinds.push(make(kind.name, PyTuple::new(py, bases)?, attrs)?);
    }
    Ok(Classes { base, kinds })
}

/// The Python exception for a core error: an instance of the kind's class
/// with `.status`, `.code` and `.message` set.
pub fn to_py(py: Python<'_>, err: &imagor::Error) -> PyErr {
    let message = err.message();
    let Some(classes) = CLASSES.get(py) else {
        return PyException::new_err(message);
    };
    let class = KINDS
        .iter()
        .position(|k| k.code == err.code())
        .map_or(&classes.base, |i| &classes.kinds[i]);
    let build = || -> PyResult<PyErr> {
        let exc = class.bind(py).call1((message.as_str(),))?;
        exc.setattr("status", err.status())?;
        exc.setattr("code", err.code())?;
        exc.setattr("message", message.as_str())?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// Extension for core results: `.py(py)?` raises the matching exception.
pub trait IntoPyResult<T> {
    /// The value, or the Python exception for the error.
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for imagor::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, &e))
    }
}

thread_local! {
    /// An interrupt a callback raised during this thread's current call.
    static INTERRUPT: std::cell::RefCell<Option<PyErr>> = const { std::cell::RefCell::new(None) };
}

/// Keep `e`, raised by a loader or detector, when it is not an `Exception`
/// (`KeyboardInterrupt`, `SystemExit`, ...): the call then stops
/// ([`imagor::Error::Cancelled`]) and [`entry`] raises it, rather than
/// turning Ctrl-C into an `imagor` error. Callbacks run on the thread of
/// the call that asked for them. `None`: an ordinary exception.
pub fn hold_interrupt(py: Python<'_>, e: &PyErr) -> Option<imagor::Error> {
    if e.is_instance_of::<PyException>(py) {
        return None;
    }
    INTERRUPT.with(|slot| *slot.borrow_mut() = Some(e.clone_ref(py)));
    Some(imagor::Error::Cancelled)
}

/// How deep calls into imagor may nest on one thread (see [`entry`]).
pub const MAX_NESTED_CALLS: usize = 32;

thread_local! {
    /// Entry points running on this thread, the outermost included.
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One level of [`DEPTH`], given back when dropped.
struct Nested;

impl Nested {
    /// A level, or `None` when [`MAX_NESTED_CALLS`] are running already.
    fn enter() -> Option<Nested> {
        DEPTH.with(|d| {
            let depth = d.get();
            (depth < MAX_NESTED_CALLS).then(|| {
                d.set(depth + 1);
                Nested
            })
        })
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Run the body of an entry point; a panic becomes `imagor.InternalError`
/// instead of unwinding into PyO3 (which would raise `PanicException`, a
/// `BaseException` that `except Exception` does not catch).
///
/// A `KeyboardInterrupt` or `SystemExit` that a loader or detector raised
/// during the call ([`hold_interrupt`]) is raised from here, whatever the
/// call's outcome.
///
/// Calls nest when a loader or detector calls back into imagor (on the
/// same thread); past [`MAX_NESTED_CALLS`] the call raises `RecursionError`
/// instead of running. Each level takes native stack (about 22 KB in a
/// debug build) that Python's recursion limit does not see: a loader
/// calling `serve` without end ended the interpreter with SIGSEGV at
/// about 340 levels, where Python's own limit is 1000. With overlays the
/// levels take more (32 calls each nesting 32 overlays needed 9.5 MB, more
/// than the main thread's 8 MB): a nested call also needs
/// `imagor::stack::RESERVE` of the thread's stack free to start.
pub fn entry<T>(py: Python<'_>, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    let Some(_level) = Nested::enter() else {
        return Err(pyo3::exceptions::PyRecursionError::new_err(format!(
            "imagor calls nested more than {MAX_NESTED_CALLS} deep on this thread (a loader or \
             detector calling back into imagor without end?)"
        )));
    };
    // The count bounds the calls, not the stack they take with their
    // overlays (`imagor::stack`): a nested call starts only with room to
    // work (the outermost one runs as before; its overlays are checked).
    let nested = DEPTH.with(|d| d.get()) > 1;
    if let Some(left) = imagor::stack::remaining().filter(|l| nested && *l < imagor::stack::RESERVE)
    {
        return Err(pyo3::exceptions::PyRecursionError::new_err(format!(
            "imagor calls nested too deep for this thread's stack ({} KB left, {} KB needed to \
             start one more; lower max_overlay_depth or nest fewer calls)",
            left >> 10,
            imagor::stack::RESERVE >> 10
        )));
    }
    INTERRUPT.with(|slot| slot.borrow_mut().take());
    let outcome = catch_unwind(AssertUnwindSafe(body));
    if let Some(interrupt) = INTERRUPT.with(|slot| slot.borrow_mut().take()) {
        return Err(interrupt);
    }
    match outcome {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(to_py(
                py,
                &imagor::Error::Internal(format!("internal error (panic: {what})")),
            ))
        }
    }
}

/// `TypeError(msg)`: an argument of the wrong type, or an unknown name.
pub fn type_error(msg: impl Into<String>) -> PyErr {
    PyTypeError::new_err(msg.into())
}

/// `ValueError(msg)`: an argument with a bad value.
pub fn value_error(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// A dict that could not be read into `Options` or `Params`: an unknown
/// name or a wrong type is a `TypeError`, a bad value a `ValueError`.
pub fn de_error(what: &str, names: &[&str], err: DeError) -> PyErr {
    match err {
        DeError::UnknownName(name) => unknown_name(what, &name, names),
        e @ DeError::Type { .. } => type_error(format!("{what}: {e}")),
        e @ DeError::Value { .. } => value_error(format!("{what}: {e}")),
    }
}

/// `what() got an unexpected keyword argument 'name'`, as Python says it,
/// with the closest known name when there is one.
pub fn unknown_name(what: &str, name: &str, known: &[&str]) -> PyErr {
    let hint = known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default();
    type_error(format!(
        "{what} got an unexpected keyword argument '{name}'{hint}"
    ))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
