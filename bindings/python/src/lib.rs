//! `imagor._imagor`: the Python extension of imagor-rs (PyO3, abi3).
//!
//! The module mirrors the core: [`path`] (parse, generate), [`sign`] (sign,
//! verify), [`processor`] (process, meta, `Imagor`); [`error`] turns every
//! failure into an `imagor.ImagorError` subclass. The pure-Python package
//! `imagor` (bindings/python/python/imagor) re-exports it and adds the
//! libthumbor-compatible `CryptoURL`, the `url()` builder and the Django
//! template tags. No algorithm lives here: only marshalling.

use pyo3::prelude::*;

mod convert;
mod detector;
mod error;
mod handle;
mod loader;
mod options;
mod path;
mod pixels;
mod processor;
mod sign;

/// libvips' version as ``(major, minor, micro)``.
#[pyfunction]
fn libvips_version(py: Python<'_>) -> PyResult<(i32, i32, i32)> {
    error::entry(py, || Ok(py.detach(imagor::vips::version)))
}

/// What this build loads and saves: ``{"load": [...], "save": [...],
/// "libvips": "8.18.7", "flavour": "bundled"|"system", "av1_decoder":
/// "dav1d"|"libheif"}`` (imagor's format names). The prebuilt wheel's libvips has no JPEG XL, JPEG 2000, PDF or
/// HEIC; a build against a system libvips that has them does.
#[pyfunction]
fn formats(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    error::entry(py, || {
        let f = py
            .detach(imagor::formats)
            .map_err(|e| error::to_py(py, &e))?;
        let d = pyo3::types::PyDict::new(py);
        d.set_item("load", f.load)?;
        d.set_item("save", f.save)?;
        d.set_item("libvips", f.libvips)?;
        d.set_item("flavour", f.flavour)?;
        d.set_item("av1_decoder", f.av1_decoder)?;
        Ok(d)
    })
}

/// The option names :class:`Imagor` and :func:`process` accept.
#[pyfunction]
fn option_names(py: Python<'_>) -> PyResult<Vec<&'static str>> {
    error::entry(py, || Ok(options::names().to_vec()))
}

/// Panics inside an entry point; the test suite checks that this surfaces
/// as ``imagor.InternalError``.
#[pyfunction]
fn _test_panic(py: Python<'_>, message: String) -> PyResult<()> {
    error::entry(py, || py.detach(|| panic!("{message}")))
}

/// Raises the exception for imagor's `(message, status)` pair
/// (`imagor::Error::from_status`), so that the tests reach every kind.
#[pyfunction]
fn _test_error(py: Python<'_>, message: String, status: u16) -> PyResult<()> {
    error::entry(py, || {
        Err(error::to_py(
            py,
            &imagor::Error::from_status(&message, status),
        ))
    })
}

#[pymodule(gil_used = false)]
#[pyo3(name = "_imagor")]
fn imagor_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    error::register(m)?;
    m.add_function(wrap_pyfunction!(sign::sign, m)?)?;
    m.add_function(wrap_pyfunction!(sign::verify, m)?)?;
    m.add_function(wrap_pyfunction!(path::parse, m)?)?;
    m.add_function(wrap_pyfunction!(path::generate, m)?)?;
    m.add_function(wrap_pyfunction!(processor::process, m)?)?;
    m.add_function(wrap_pyfunction!(processor::meta, m)?)?;
    m.add_function(wrap_pyfunction!(processor::process_pixels, m)?)?;
    m.add_function(wrap_pyfunction!(processor::to_pixels, m)?)?;
    m.add_function(wrap_pyfunction!(processor::process_async, m)?)?;
    m.add_function(wrap_pyfunction!(processor::meta_async, m)?)?;
    m.add_function(wrap_pyfunction!(libvips_version, m)?)?;
    m.add_function(wrap_pyfunction!(option_names, m)?)?;
    m.add_function(wrap_pyfunction!(formats, m)?)?;
    m.add_function(wrap_pyfunction!(_test_panic, m)?)?;
    m.add_function(wrap_pyfunction!(_test_error, m)?)?;
    m.add_function(wrap_pyfunction!(processor::_after_fork_in_child, m)?)?;
    m.add_class::<processor::PyImagor>()?;
    m.add_class::<processor::PyOutput>()?;
    m.add_class::<pixels::PyPixels>()?;
    m.add_class::<handle::PyResponse>()?;
    // A child forked after libvips started raises instead of hanging
    // (`os.register_at_fork` exists where `fork` does).
    if let Ok(register) = m.py().import("os")?.getattr("register_at_fork") {
        let kwargs = pyo3::types::PyDict::new(m.py());
        kwargs.set_item("after_in_child", m.getattr("_after_fork_in_child")?)?;
        register.call((), Some(&kwargs))?;
    }
    Ok(())
}
