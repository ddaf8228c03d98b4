//! Python callables as `imagor::detector::Detector`s:
//! `Imagor(detectors=[fn, ...])`.
//!
//! Each callable is called as `fn(pixels: bytes, width, height, bands)` and
//! returns a list of `(left, top, right, bottom)` or
//! `(left, top, right, bottom, score, name)` tuples in fractions of the
//! probe. Processing runs with the GIL released; the GIL is taken only for
//! the call and for reading its answer. An exception from the callable, or
//! an answer of the wrong shape, becomes `imagor::Error::Detector`
//! (`imagor.DetectorError`, 500) naming what went wrong.

use std::sync::Arc;

use imagor::detector::{Detector, Probe, Region};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::error::type_error;

/// A Python callable detecting regions.
pub struct PyDetector {
    callable: Py<PyAny>,
}

/// The detectors of `Imagor(detectors=...)`: a list (or other iterable) of
/// callables. Not a callable: `TypeError`.
pub fn from_py(value: &Bound<'_, PyAny>) -> PyResult<Vec<Arc<dyn Detector>>> {
    if value.is_callable() || value.is_instance_of::<pyo3::types::PyString>() {
        return Err(type_error(
            "Imagor(): detectors must be a list of callables",
        ));
    }
    let mut out: Vec<Arc<dyn Detector>> = Vec::new();
    for item in value
        .try_iter()
        .map_err(|_| type_error("Imagor(): detectors must be a list of callables"))?
    {
        let item = item?;
        if !item.is_callable() {
            return Err(type_error(format!(
                "Imagor(): detectors[{}] is not callable: {}",
                out.len(),
                item.get_type().name()?
            )));
        }
        out.push(Arc::new(PyDetector {
            callable: item.unbind(),
        }));
    }
    Ok(out)
}

fn detector_error(msg: impl Into<String>) -> imagor::Error {
    imagor::Error::Detector(msg.into())
}

/// One region from a tuple (or list) of 4 or 6 items.
fn region(i: usize, item: &Bound<'_, PyAny>) -> imagor::Result<Region> {
    let bad = || {
        detector_error(format!(
            "detector returned a bad region at index {i}: expected (left, top, right, bottom) \
             or (left, top, right, bottom, score, name) numbers, got {}",
            item.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    };
    let len = item.len().map_err(|_| bad())?;
    if len != 4 && len != 6 {
        return Err(bad());
    }
    let num = |k: usize| -> imagor::Result<f64> {
        item.get_item(k)
            .and_then(|v| v.extract::<f64>())
            .map_err(|_| bad())
    };
    let mut r = Region::new(num(0)?, num(1)?, num(2)?, num(3)?);
    if len == 6 {
        let score = item.get_item(4).map_err(|_| bad())?;
        if !score.is_none() {
            r.score = score.extract::<f64>().map_err(|_| bad())?;
        }
        let name = item.get_item(5).map_err(|_| bad())?;
        if !name.is_none() {
            r.name = name.extract::<String>().map_err(|_| bad())?;
        }
    }
    Ok(r)
}

impl Detector for PyDetector {
    fn detect(&self, _image_key: &str, probe: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        Python::attach(|py| {
            let pixels = PyBytes::new(py, probe.pixels);
            let answer = self
                .callable
                .bind(py)
                .call1((pixels, probe.width, probe.height, probe.bands))
                .map_err(|e| {
                    if let Some(stop) = crate::error::hold_interrupt(py, &e) {
                        return stop;
                    }
                    let kind = e
                        .get_type(py)
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                    detector_error(format!("detector raised {kind}: {}", e.value(py)))
                })?;
            if answer.is_none() {
                return Ok(Vec::new());
            }
            let list = answer
                .cast::<PyList>()
                .map(|l| l.clone().into_any())
                .or_else(|_| answer.try_iter().map(|_| answer.clone()))
                .map_err(|_| {
                    detector_error(format!(
                        "detector must return a list of tuples, not {}",
                        answer
                            .get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ))
                })?;
            let mut out = Vec::new();
            for (i, item) in list
                .try_iter()
                .map_err(|_| detector_error("detector answer is not iterable"))?
                .enumerate()
            {
                let item = item.map_err(|e| detector_error(format!("detector answer: {e}")))?;
                if out.len() >= imagor::detector::MAX_REGIONS {
                    return Err(detector_error(format!(
                        "detector returned more than {} regions",
                        imagor::detector::MAX_REGIONS
                    )));
                }
                out.push(region(i, &item)?);
            }
            Ok(out)
        })
    }
}
