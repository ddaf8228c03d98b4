//! `process`, `meta` and the configured `Imagor` class: marshalling only,
//! the work is `imagor::process`, `imagor::meta` and `imagor::Imagor`.
//!
//! Inputs are extracted into owned values first, then every core call runs
//! with the GIL released (`py.detach`).

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::{image_bytes, json_to_py};
use crate::error::{entry, to_py as error_to_py, warn_typo, IntoPyResult};
use crate::options;
use crate::pixels;

static VIPS_STARTED: AtomicBool = AtomicBool::new(false);
static FORKED: AtomicBool = AtomicBool::new(false);

/// Called before every entry point that runs libvips. libvips keeps a pool
/// of worker threads that a forked child does not have: work queued there
/// would never run, so in a child forked after libvips started this raises
/// instead of hanging.
fn vips_entry(py: Python<'_>) -> PyResult<()> {
    if FORKED.load(Ordering::Relaxed) {
        return Err(error_to_py(
            py,
            &imagor::Error::Internal(
                "libvips cannot run in a process forked after it started: use the \"spawn\" \
                 or \"forkserver\" multiprocessing start method, or fork before the first \
                 call"
                    .to_owned(),
            ),
        ));
    }
    VIPS_STARTED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Registered with `os.register_at_fork(after_in_child=...)`.
#[pyfunction]
pub fn _after_fork_in_child(py: Python<'_>) -> PyResult<()> {
    entry(py, || {
        if VIPS_STARTED.load(Ordering::Relaxed) {
            FORKED.store(true, Ordering::Relaxed);
        }
        Ok(())
    })
}

/// The instance for per-call options: the shared default one when there
/// are none, a new one otherwise.
fn instance(what: &str, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Option<imagor::Imagor>> {
    match kwargs {
        Some(k) if !k.is_empty() => {
            let opts = options::from_kwargs(what, Some(k))?;
            let py = k.py();
            py.detach(|| imagor::Imagor::new(opts)).py(py).map(Some)
        }
        _ => Ok(None),
    }
}

fn meta_to_py<'py>(py: Python<'py>, meta: &imagor::Meta) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_string(meta)
        .map_err(|e| error_to_py(py, &imagor::Error::Internal(e.to_string())))?;
    json_to_py(py, &json)
}

/// Process image bytes with an imagor path and return the encoded image.
///
/// `data` is ``bytes``, ``bytearray`` or ``memoryview``; `path` is an imagor
/// path such as ``fit-in/300x200/filters:format(webp)`` (``unsafe/`` or a
/// signature in front are ignored, as is the trailing image segment).
/// Keyword arguments are :class:`Imagor` options (``max_width=2000``, ...).
/// A ``meta/`` path returns imagor's ``/meta`` JSON as bytes. Raises an
/// :class:`ImagorError` subclass on failure.
#[pyfunction]
#[pyo3(signature = (data, path, **options))]
pub fn process<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    path: PyBackedStr,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyBytes>> {
    entry(py, || {
        vips_entry(py)?;
        let instance = instance("process()", options)?;
        let engine = match &instance {
            Some(i) => i,
            None => imagor::default_instance().py(py)?,
        };
        let data = image_bytes(engine, data)?;
        let strict = instance
            .as_ref()
            .is_some_and(|i| i.options().strict_filters);
        warn_typo(py, "process()", &path, strict)?;
        let out = py.detach(|| engine.process(&data, &path));
        Ok(PyBytes::new(py, &out.py(py)?.data))
    })
}

/// Process raw 8-bit pixels with an imagor path and return the encoded
/// image. `pixels` is a numpy ``uint8`` array of shape ``(height, width,
/// bands)`` or ``(height, width)`` (any buffer with that layout), or a flat
/// ``bytes``-like object with ``width=``, ``height=`` and ``bands=`` (1
/// grey, 2 grey+alpha, 3 RGB, 4 RGBA). Other keyword arguments are
/// :class:`Imagor` options.
#[pyfunction]
#[pyo3(
    signature = (pixels, path = None, *, width = None, height = None, bands = None, **options),
    text_signature = "(pixels, path=\"\", *, width=None, height=None, bands=None, **options)"
)]
#[allow(clippy::too_many_arguments)]
pub fn process_pixels<'py>(
    py: Python<'py>,
    pixels: &Bound<'py, PyAny>,
    path: Option<PyBackedStr>,
    width: Option<pixels::Dim>,
    height: Option<pixels::Dim>,
    bands: Option<pixels::Dim>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyBytes>> {
    entry(py, || {
        vips_entry(py)?;
        let instance = instance("process_pixels()", options)?;
        let path = pixels::path_or_empty(&path);
        let [width, height, bands] = [width, height, bands].map(|d| d.map(|d| d.0));
        pixels::process_pixels(py, instance.as_ref(), pixels, path, width, height, bands)
    })
}

/// Process an encoded image (``bytes``) or raw pixels (a numpy array, as
/// :func:`process_pixels` takes) with an imagor path and return the
/// result's pixels as :class:`Pixels` (8-bit sRGB or sRGBA):
/// ``numpy.asarray(imagor.to_pixels(jpeg, "fit-in/64x64"))``. Output
/// filters (``format()``, ``quality()``) have nothing to act on.
#[pyfunction]
#[pyo3(signature = (data, path = None, **options), text_signature = "(data, path=\"\", **options)")]
pub fn to_pixels<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    path: Option<PyBackedStr>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<pixels::PyPixels> {
    entry(py, || {
        vips_entry(py)?;
        let instance = instance("to_pixels()", options)?;
        pixels::to_pixels(py, instance.as_ref(), data, pixels::path_or_empty(&path))
    })
}

/// imagor's ``/meta`` of the image after applying `path` (``""``: the image
/// as it is) as a dict: ``format``, ``content_type``, ``width``,
/// ``height``, ``orientation``, ``pages``, ``bands``, ``exif`` and, when the
/// path asks for them, ``blurhash``, ``thumbhash``, ``average_color``.
#[pyfunction]
#[pyo3(signature = (data, path = None), text_signature = "(data, path=\"\")")]
pub fn meta<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    path: Option<PyBackedStr>,
) -> PyResult<Bound<'py, PyAny>> {
    entry(py, || {
        vips_entry(py)?;
        let engine = imagor::default_instance().py(py)?;
        let data = image_bytes(engine, data)?;
        let path = path.as_deref().unwrap_or("");
        warn_typo(py, "meta()", path, false)?;
        let meta = py.detach(|| engine.meta(&data, path)).py(py)?;
        meta_to_py(py, &meta)
    })
}

/// `data` as an immutable `bytes` now, so that a buffer changed after the
/// call (a bytearray, a numpy array) cannot change what is processed; one
/// larger than the options' `max_memory` is refused before it is copied.
fn frozen_bytes<'py>(
    opts: &imagor::Options,
    data: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    if data.is_instance_of::<PyBytes>() {
        return Ok(data.clone());
    }
    let owned = crate::convert::image_bytes_within(opts, data)?;
    Ok(PyBytes::new(data.py(), &owned).into_any())
}

/// `call(*args)` on the running event loop's default executor: an awaitable
/// that resolves with its result, computed off the event loop (the call
/// releases the GIL, so other coroutines and threads keep running).
fn in_executor<'py>(
    call: Bound<'py, PyAny>,
    args: Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = call.py();
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let mut all = vec![py.None().into_bound(py), call];
    all.extend(args);
    event_loop.call_method1("run_in_executor", pyo3::types::PyTuple::new(py, all)?)
}

/// :func:`process` off the event loop: ``await imagor.process_async(data, path)``
/// (in a coroutine; runs in the loop's default executor).
#[pyfunction]
#[pyo3(signature = (data, path, **options))]
pub fn process_async<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    path: PyBackedStr,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    // The options only (the instance is built in the executor, off the
    // event loop: building one may walk a storage folder).
    let opts = match options {
        Some(k) if !k.is_empty() => Some(options::from_kwargs("process_async()", Some(k))?),
        _ => None,
    };
    let opts = match &opts {
        Some(o) => o,
        None => imagor::default_instance().py(py)?.options(),
    };
    let data = frozen_bytes(opts, data)?;
    let module = py.import("imagor._imagor")?;
    let call = py
        .import("functools")?
        .getattr("partial")?
        .call((module.getattr("process")?,), options)?;
    let path = pyo3::types::PyString::new(py, &path).into_any();
    in_executor(call, vec![data, path])
}

/// :func:`meta` off the event loop: ``await imagor.meta_async(data, path)``.
#[pyfunction]
#[pyo3(signature = (data, path = None), text_signature = "(data, path=\"\")")]
pub fn meta_async<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    path: Option<PyBackedStr>,
) -> PyResult<Bound<'py, PyAny>> {
    let data = frozen_bytes(imagor::default_instance().py(py)?.options(), data)?;
    let call = py.import("imagor._imagor")?.getattr("meta")?;
    let path = pyo3::types::PyString::new(py, path.as_deref().unwrap_or("")).into_any();
    in_executor(call, vec![data, path])
}

/// The result of :meth:`Imagor.serve`: the encoded image (or ``/meta``
/// JSON), its content type and its format.
#[pyclass(module = "imagor", name = "Output", frozen)]
pub struct PyOutput {
    /// The encoded image, or the ``/meta`` JSON.
    #[pyo3(get)]
    data: Py<PyBytes>,
    /// ``image/webp``, ``application/json``, ...
    #[pyo3(get)]
    content_type: String,
    /// ``webp``, ``jpeg``, ... (``None`` for ``/meta`` JSON).
    #[pyo3(get)]
    format: Option<&'static str>,
}

#[pymethods]
impl PyOutput {
    fn __bytes__(&self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        entry(py, || Ok(self.data.clone_ref(py)))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        entry(py, || Ok(self.data.bind(py).as_bytes().len()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        entry(py, || {
            Ok(format!(
                "Output(content_type={:?}, format={}, {} bytes)",
                self.content_type,
                self.format.map_or("None".to_owned(), |f| format!("{f:?}")),
                self.data.bind(py).as_bytes().len()
            ))
        })
    }
}

/// A configured imagor: the same options as imagor's server flags
/// (``secret``, ``signer_type``, ``unsafe``, ``max_width``,
/// ``file_loader_base_dir``, ...) as keyword arguments. Thread-safe; every
/// call is independent and releases the GIL.
///
/// ``detectors`` is a list of callables ``fn(pixels: bytes, width, height,
/// bands) -> list`` of ``(left, top, right, bottom)`` or ``(left, top,
/// right, bottom, score, name)`` tuples in fractions of the probe: they
/// steer ``smart`` crop, ``redact()``, ``redact_oval()``,
/// ``draw_detections()`` and ``/meta``. They are called with the GIL held;
/// what they raise becomes :class:`DetectorError`.
///
/// >>> im = imagor.Imagor(secret="mysecret", file_loader_base_dir="images")
/// >>> out = im.serve(im.sign("fit-in/200x200/photo.jpg") + "/fit-in/200x200/photo.jpg")
#[pyclass(module = "imagor", name = "Imagor", frozen)]
pub struct PyImagor {
    inner: imagor::Imagor,
}

#[pymethods]
impl PyImagor {
    #[new]
    #[pyo3(signature = (detectors = None, **options))]
    fn new(
        py: Python<'_>,
        detectors: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        entry(py, || {
            vips_entry(py)?;
            // `loader` is not an imagor option: a Python callable, tried after the file loader.
            let mut loader = None;
            let options = match options {
                Some(kwargs) if kwargs.contains("loader")? => {
                    let rest = kwargs.copy()?;
                    let value = rest.get_item("loader")?.expect("checked above");
                    rest.del_item("loader")?;
                    if !value.is_none() {
                        if !value.is_callable() {
                            return Err(crate::error::type_error(
                                "Imagor(): loader must be a callable (key) -> bytes | None",
                            ));
                        }
                        loader = Some(value.unbind());
                    }
                    Some(rest)
                }
                other => other.cloned(),
            };
            let opts = options::from_kwargs("Imagor()", options.as_ref())?;
            let detectors = match detectors {
                Some(d) if !d.is_none() => crate::detector::from_py(d)?,
                _ => Vec::new(),
            };
            let mut inner = py
                .detach(|| {
                    detectors
                        .into_iter()
                        .try_fold(imagor::Imagor::new(opts)?, |i, d| i.with_detector(d))
                })
                .py(py)?;
            if let Some(callable) = loader {
                inner =
                    inner.with_loader(std::sync::Arc::new(crate::loader::PyLoader::new(callable)));
            }
            Ok(PyImagor { inner })
        })
    }

    /// Process image bytes with an imagor path under this instance's
    /// options; overlays (``image()``, ``watermark()``) load through its
    /// loaders. Returns the encoded image.
    #[pyo3(signature = (data, path))]
    fn process<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        path: PyBackedStr,
    ) -> PyResult<Bound<'py, PyBytes>> {
        entry(py, || {
            vips_entry(py)?;
            let data = image_bytes(&self.inner, data)?;
            let strict = self.inner.options().strict_filters;
            warn_typo(py, "Imagor.process()", &path, strict)?;
            let out = py.detach(|| self.inner.process(&data, &path)).py(py)?;
            Ok(PyBytes::new(py, &out.data))
        })
    }

    /// :func:`imagor.process_pixels` under this instance's options.
    #[pyo3(
        signature = (pixels, path = None, *, width = None, height = None, bands = None),
        text_signature = "($self, pixels, path=\"\", *, width=None, height=None, bands=None)"
    )]
    fn process_pixels<'py>(
        &self,
        py: Python<'py>,
        pixels: &Bound<'py, PyAny>,
        path: Option<PyBackedStr>,
        width: Option<pixels::Dim>,
        height: Option<pixels::Dim>,
        bands: Option<pixels::Dim>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        entry(py, || {
            vips_entry(py)?;
            let path = pixels::path_or_empty(&path);
            let [width, height, bands] = [width, height, bands].map(|d| d.map(|d| d.0));
            pixels::process_pixels(py, Some(&self.inner), pixels, path, width, height, bands)
        })
    }

    /// :func:`imagor.to_pixels` under this instance's options.
    #[pyo3(signature = (data, path = None), text_signature = "($self, data, path=\"\")")]
    fn to_pixels<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        path: Option<PyBackedStr>,
    ) -> PyResult<pixels::PyPixels> {
        entry(py, || {
            vips_entry(py)?;
            pixels::to_pixels(py, Some(&self.inner), data, pixels::path_or_empty(&path))
        })
    }

    /// imagor's ``/meta`` of `data` after `path`, as a dict (see
    /// :func:`imagor.meta`).
    #[pyo3(signature = (data, path = None), text_signature = "($self, data, path=\"\")")]
    fn meta<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        path: Option<PyBackedStr>,
    ) -> PyResult<Bound<'py, PyAny>> {
        entry(py, || {
            vips_entry(py)?;
            let data = image_bytes(&self.inner, data)?;
            let path = path.as_deref().unwrap_or("");
            warn_typo(
                py,
                "Imagor.meta()",
                path,
                self.inner.options().strict_filters,
            )?;
            let meta = py.detach(|| self.inner.meta(&data, path)).py(py)?;
            meta_to_py(py, &meta)
        })
    }

    /// :meth:`process` off the event loop (``await im.process_async(data, path)``).
    #[pyo3(signature = (data, path))]
    fn process_async<'py>(
        slf: &Bound<'py, Self>,
        data: &Bound<'py, PyAny>,
        path: PyBackedStr,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let path = pyo3::types::PyString::new(py, &path).into_any();
        let data = frozen_bytes(slf.get().inner.options(), data)?;
        in_executor(slf.getattr("process")?, vec![data, path])
    }

    /// :meth:`meta` off the event loop (``await im.meta_async(data, path)``).
    #[pyo3(signature = (data, path = None), text_signature = "($self, data, path=\"\")")]
    fn meta_async<'py>(
        slf: &Bound<'py, Self>,
        data: &Bound<'py, PyAny>,
        path: Option<PyBackedStr>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let path = pyo3::types::PyString::new(py, path.as_deref().unwrap_or("")).into_any();
        let data = frozen_bytes(slf.get().inner.options(), data)?;
        in_executor(slf.getattr("meta")?, vec![data, path])
    }

    /// :meth:`serve` off the event loop (``await im.serve_async(path)``).
    #[pyo3(signature = (path))]
    fn serve_async<'py>(slf: &Bound<'py, Self>, path: PyBackedStr) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let path = pyo3::types::PyString::new(py, &path).into_any();
        in_executor(slf.getattr("serve")?, vec![path])
    }

    /// Serve a request path as imagor's server does: check the signature
    /// (or ``unsafe/`` when the instance allows it), load the image through
    /// the loaders (``file_loader_base_dir``) and process it.
    #[pyo3(signature = (path))]
    fn serve(&self, py: Python<'_>, path: PyBackedStr) -> PyResult<PyOutput> {
        entry(py, || {
            vips_entry(py)?;
            let out = py.detach(|| self.inner.serve(&path)).py(py)?;
            Ok(PyOutput {
                data: PyBytes::new(py, &out.data).unbind(),
                content_type: out.content_type,
                format: out.format.map(|f| f.name()),
            })
        })
    }

    /// Answer an HTTP request as imagor's server does (the same status,
    /// headers and body): signatures, ``/params``, ``meta/``, uploads,
    /// result storage, auto format, cache and conditional headers. imagor
    /// failures are responses (JSON bodies), never exceptions. `path` is
    /// the raw request path (percent-escapes kept) after any mount point;
    /// `headers` a mapping or ``(name, value)`` pairs; `body` the POST body.
    ///
    /// >>> res = im.handle("GET", "/unsafe/fit-in/100x100/photo.jpg", headers={"Accept": "image/webp"})
    /// >>> res.status, res.header("Content-Type"), len(res.body)
    #[pyo3(signature = (method, path, headers = None, body = None, query = None))]
    fn handle(
        &self,
        py: Python<'_>,
        method: PyBackedStr,
        path: PyBackedStr,
        headers: Option<&Bound<'_, PyAny>>,
        body: Option<&Bound<'_, PyAny>>,
        query: Option<PyBackedStr>,
    ) -> PyResult<crate::handle::PyResponse> {
        entry(py, || {
            vips_entry(py)?;
            let req = crate::handle::request(
                &self.inner,
                &method,
                &path,
                query.as_deref(),
                headers,
                body,
            )?;
            let res = match req {
                Ok(req) => py.detach(|| self.inner.handle(&req)),
                Err(refused) => self.inner.error_response(&refused),
            };
            crate::handle::PyResponse::from_core(py, res)
        })
    }

    /// ``HASH/path``'s ``HASH`` for `path` under this instance's secret and
    /// signer (a leading ``/`` is ignored). Raises :class:`InvalidError`
    /// when no secret is configured.
    #[pyo3(signature = (path))]
    fn sign(&self, py: Python<'_>, path: PyBackedStr) -> PyResult<String> {
        entry(py, || py.detach(|| self.inner.sign(&path)).py(py))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        entry(py, || {
            Ok(format!(
                "Imagor({})",
                options::describe(self.inner.options())
            ))
        })
    }
}
