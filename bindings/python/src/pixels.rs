//! Raw pixels in and out: `process_pixels` (pixels in, encoded image out),
//! `to_pixels` (an encoded image or pixels in, pixels out) and the `Pixels`
//! result. numpy arrays come in through the buffer protocol (`memoryview`,
//! which reads their shape) and go out through `__array_interface__`, which
//! lets `numpy.asarray(result)` use the result's bytes without a copy.
//!
//! Input pixels are copied once into an immutable buffer before the GIL is
//! released, so a caller that changes its array meanwhile cannot change
//! what is processed (the stable ABI this module targets has no buffer
//! locking); `bytes` input is used as is.

use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::convert::image_bytes;
use crate::error::{entry, type_error, value_error, IntoPyResult};

/// A pixel dimension argument (`width`, `height`, `bands`): an `int`. One
/// past 64 bits is the `ValueError` one past 32 bits is (not PyO3's
/// `OverflowError`), as the options' integers are.
pub struct Dim(pub i64);

impl<'a, 'py> FromPyObject<'a, 'py> for Dim {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<i64>() {
            Ok(v) => Ok(Dim(v)),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(obj.py()) => Err(
                value_error(format!("pixel dimension {} is out of range", obj.str()?)),
            ),
            Err(e) => Err(e),
        }
    }
}

/// Packed 8-bit pixels and their layout, ready for the core.
struct PixelInput {
    data: PyBackedBytes,
    width: i32,
    height: i32,
    bands: i32,
}

/// How an argument that may hold pixels is laid out: `None` for a plain
/// byte sequence (1-D), `Some((height, width, bands))` for a 2-D (grey) or
/// 3-D (height x width x bands) array of 8-bit samples.
fn array_shape(obj: &Bound<'_, PyAny>) -> PyResult<Option<(i64, i64, i64)>> {
    if obj.is_instance_of::<PyBytes>() {
        return Ok(None);
    }
    let py = obj.py();
    let Ok(view) = py.import("builtins")?.getattr("memoryview")?.call1((obj,)) else {
        // Not a buffer: input_bytes() says what was expected.
        return Ok(None);
    };
    let ndim: usize = view.getattr("ndim")?.extract()?;
    if ndim <= 1 {
        return Ok(None);
    }
    let itemsize: usize = view.getattr("itemsize")?.extract()?;
    let format: String = view.getattr("format")?.extract()?;
    if itemsize != 1 {
        return Err(type_error(format!(
            "pixels must be 8-bit samples (numpy dtype uint8), not buffer format {format:?} of \
             {itemsize} bytes per sample"
        )));
    }
    let shape: Vec<i64> = view.getattr("shape")?.extract()?;
    match shape[..] {
        [h, w] => Ok(Some((h, w, 1))),
        [h, w, b] => Ok(Some((h, w, b))),
        _ => Err(value_error(format!(
            "pixels must be a height x width (x bands) array, not {ndim}-dimensional"
        ))),
    }
}

/// Read `obj` as pixels: its own shape for an array, or `width`, `height`
/// and `bands` for a byte sequence. Given dimensions must agree with an
/// array's shape.
fn pixel_input(
    engine: &imagor::Imagor,
    obj: &Bound<'_, PyAny>,
    width: Option<i64>,
    height: Option<i64>,
    bands: Option<i64>,
) -> PyResult<PixelInput> {
    let (w, h, b) = match array_shape(obj)? {
        Some((h, w, b)) => {
            for (name, given, actual) in [
                ("width", width, w),
                ("height", height, h),
                ("bands", bands, b),
            ] {
                if given.is_some_and(|g| g != actual) {
                    return Err(value_error(format!(
                        "{name}={} does not match the array's shape (height, width, bands) = \
                         ({h}, {w}, {b})",
                        given.unwrap_or_default()
                    )));
                }
            }
            (w, h, b)
        }
        None => match (width, height) {
            (Some(w), Some(h)) => (w, h, bands.unwrap_or(3)),
            _ => {
                return Err(type_error(
                    "pixels given as a flat buffer need width= and height= (and bands=, 3 by \
                     default); a numpy array of shape (height, width, bands) needs none",
                ))
            }
        },
    };
    let data = image_bytes(engine, obj)?;
    let dim = |name: &str, v: i64| {
        i32::try_from(v).map_err(|_| value_error(format!("{name}={v} is out of range")))
    };
    Ok(PixelInput {
        data,
        width: dim("width", w)?,
        height: dim("height", h)?,
        bands: dim("bands", b)?,
    })
}

/// The processed image's pixels: 8-bit sRGB (``bands`` 3) or sRGBA (4),
/// row by row; an animation's ``pages`` frames are stacked top to bottom.
/// ``numpy.asarray(px)`` is a read-only ``(height, width, bands)`` uint8
/// array over ``px.data`` (no copy); ``numpy.array(px)`` a writable copy.
#[pyclass(module = "imagor", name = "Pixels", frozen)]
pub struct PyPixels {
    /// The samples, ``width * height * bands`` bytes.
    #[pyo3(get)]
    data: Py<PyBytes>,
    /// Width in pixels.
    #[pyo3(get)]
    width: u32,
    /// Height in pixels, all frames together.
    #[pyo3(get)]
    height: u32,
    /// Samples per pixel: 3 (RGB) or 4 (RGBA).
    #[pyo3(get)]
    bands: u32,
    /// Frames (1 for a still image); each is ``height // pages`` rows.
    #[pyo3(get)]
    pages: u32,
}

impl PyPixels {
    fn new(py: Python<'_>, px: imagor::Pixels) -> Self {
        PyPixels {
            data: PyBytes::new(py, &px.data).unbind(),
            width: px.width,
            height: px.height,
            bands: px.bands,
            pages: px.pages,
        }
    }
}

#[pymethods]
impl PyPixels {
    /// numpy's array interface (version 3) over :attr:`data`.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        entry(py, || {
            let d = PyDict::new(py);
            d.set_item(
                "shape",
                PyTuple::new(py, [self.height, self.width, self.bands])?,
            )?;
            d.set_item("typestr", "|u1")?;
            d.set_item("data", self.data.bind(py))?;
            d.set_item("version", 3)?;
            Ok(d)
        })
    }

    /// ``(height, width, bands)``, as numpy would say it.
    #[getter]
    fn shape(&self) -> (u32, u32, u32) {
        (self.height, self.width, self.bands)
    }

    fn __bytes__(&self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        entry(py, || Ok(self.data.clone_ref(py)))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        entry(py, || Ok(self.data.bind(py).as_bytes().len()))
    }

    fn __repr__(&self) -> String {
        format!(
            "Pixels(width={}, height={}, bands={}, pages={})",
            self.width, self.height, self.bands, self.pages
        )
    }
}

/// The core instance for a call: `instance` when the caller has one, else
/// the shared default.
fn core(instance: Option<&imagor::Imagor>) -> imagor::Result<&imagor::Imagor> {
    match instance {
        Some(i) => Ok(i),
        None => imagor::default_instance(),
    }
}

/// `process_pixels` for an instance (`None`: the shared default).
#[allow(clippy::too_many_arguments)]
pub fn process_pixels<'py>(
    py: Python<'py>,
    instance: Option<&imagor::Imagor>,
    pixels: &Bound<'py, PyAny>,
    path: &str,
    width: Option<i64>,
    height: Option<i64>,
    bands: Option<i64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let engine = core(instance).py(py)?;
    let input = pixel_input(engine, pixels, width, height, bands)?;
    let out = py
        .detach(|| engine.process_pixels(&input.data, input.width, input.height, input.bands, path))
        .py(py)?;
    Ok(PyBytes::new(py, &out.data))
}

/// `to_pixels` for an instance (`None`: the shared default): an array of
/// pixels is processed as pixels, anything else as an encoded image.
pub fn to_pixels(
    py: Python<'_>,
    instance: Option<&imagor::Imagor>,
    data: &Bound<'_, PyAny>,
    path: &str,
) -> PyResult<PyPixels> {
    let engine = core(instance).py(py)?;
    let px = if array_shape(data)?.is_some() {
        let input = pixel_input(engine, data, None, None, None)?;
        py.detach(|| {
            engine.process_pixels_to_pixels(
                &input.data,
                input.width,
                input.height,
                input.bands,
                path,
            )
        })
    } else {
        let data = image_bytes(engine, data)?;
        py.detach(|| engine.process_to_pixels(&data, path))
    }
    .py(py)?;
    Ok(PyPixels::new(py, px))
}

/// The path argument, `""` when left out.
pub fn path_or_empty(path: &Option<PyBackedStr>) -> &str {
    path.as_deref().unwrap_or("")
}
