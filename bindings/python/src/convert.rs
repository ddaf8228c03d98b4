//! Marshalling between Python objects and the core's serde types.
//!
//! - [`from_py`]: a dict read straight into a serde struct (`Options`,
//!   `Params`) by a `Deserializer` over Python objects, so that names,
//!   types and defaults are the core's own, with no list kept here;
//! - [`json_to_py`]: the core's JSON (imagor's field order) as Python objects;
//! - [`input_bytes`]: bytes-like inputs, owned for use without the GIL
//!   ([`image_bytes`]: refused on their length first when too large);
//! - [`field_names`]: the field names a serde struct accepts.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};
use serde::de::{
    self, Deserialize, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use crate::error::{type_error, IntoPyResult};

/// Why a dict could not be read into a struct.
#[derive(Debug)]
pub enum DeError {
    /// A key that is not a field name.
    UnknownName(String),
    /// A value of the wrong Python type (serde's "invalid type").
    Type { field: Option<String>, msg: String },
    /// A value out of range or otherwise bad.
    Value { field: Option<String>, msg: String },
}

impl DeError {
    fn with_field(self, name: &str) -> Self {
        match self {
            DeError::Type { field: None, msg } => DeError::Type {
                field: Some(name.to_owned()),
                msg,
            },
            DeError::Value { field: None, msg } => DeError::Value {
                field: Some(name.to_owned()),
                msg,
            },
            other => other,
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::UnknownName(name) => write!(f, "unknown name {name:?}"),
            DeError::Type { field, msg } | DeError::Value { field, msg } => match field {
                Some(field) => write!(f, "{field}: {msg}"),
                None => f.write_str(msg),
            },
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::Value {
            field: None,
            msg: msg.to_string(),
        }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::Type {
            field: None,
            msg: format!("invalid type: {unexp}, expected {exp}"),
        }
    }
}

/// Read `dict` into `T`; keys must be among `names` (the fields of `T`).
pub fn from_py<'py, T: Deserialize<'py>>(
    dict: &Bound<'py, PyDict>,
    names: &'static [&'static str],
) -> Result<T, DeError> {
    T::deserialize(PyDe {
        obj: dict.clone().into_any(),
        names: Some(names),
        depth: 0,
        left: Rc::new(Cell::new(MAX_VALUES)),
    })
}

/// How deep values may nest, and how many there may be in all, in one
/// argument: a list that contains itself, a 2-million-deep list or a dict
/// whose values share one dict forty times over (2^40 values to walk, even
/// under an unknown key that serde skips) would otherwise crash the
/// interpreter's stack or never end. napi bounds JavaScript values alike.
const MAX_DEPTH: usize = 64;
const MAX_VALUES: usize = 100_000;

/// A serde `Deserializer` over one Python object.
struct PyDe<'py> {
    obj: Bound<'py, PyAny>,
    /// For the top-level dict: the accepted keys.
    names: Option<&'static [&'static str]>,
    /// How deep `obj` is in the argument.
    depth: usize,
    /// Values the argument may still have ([`MAX_VALUES`] in all).
    left: Rc<Cell<usize>>,
}

impl<'py> PyDe<'py> {
    /// A value inside a list or dict at `depth`.
    fn nested(obj: Bound<'py, PyAny>, depth: usize, left: &Rc<Cell<usize>>) -> Self {
        PyDe {
            obj,
            names: None,
            depth,
            left: left.clone(),
        }
    }

    /// Count `n` more values; an error past the bounds.
    fn spend(&self, n: usize) -> Result<(), DeError> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom(format!(
                "values nested more than {MAX_DEPTH} deep"
            )));
        }
        match self.left.get().checked_sub(n) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(de::Error::custom(format!(
                "more than {MAX_VALUES} values in one argument"
            ))),
        }
    }
}

fn py_msg(py: Python<'_>, e: PyErr) -> DeError {
    DeError::Value {
        field: None,
        msg: e.value(py).to_string(),
    }
}

fn string(s: &Bound<'_, PyString>) -> Result<String, DeError> {
    s.to_cow()
        .map(|c| c.into_owned())
        .map_err(|e| py_msg(s.py(), e))
}

impl<'de, 'py> de::Deserializer<'de> for PyDe<'py> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.spend(1)?;
        let obj = &self.obj;
        if obj.is_none() {
            visitor.visit_unit()
        } else if let Ok(b) = obj.cast::<PyBool>() {
            visitor.visit_bool(b.is_true())
        } else if obj.is_instance_of::<PyInt>() {
            if let Ok(i) = obj.extract::<i64>() {
                visitor.visit_i64(i)
            } else if let Ok(u) = obj.extract::<u64>() {
                visitor.visit_u64(u)
            } else {
                Err(de::Error::custom(format!("integer {obj} is out of range")))
            }
        } else if let Ok(f) = obj.cast::<PyFloat>() {
            let v = f.value();
            if v.is_finite() {
                visitor.visit_f64(v)
            } else {
                Err(de::Error::custom(format!("{obj} is not a finite number")))
            }
        } else if let Ok(s) = obj.cast::<PyString>() {
            visitor.visit_string(string(s)?)
        } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
            // Counted before they are collected.
            self.spend(obj.len().map_err(|e| py_msg(obj.py(), e))?)?;
            let items: Vec<Bound<'py, PyAny>> = obj
                .try_iter()
                .and_then(|it| it.collect::<PyResult<_>>())
                .map_err(|e| py_msg(obj.py(), e))?;
            visitor.visit_seq(Seq {
                items: items.into_iter(),
                depth: self.depth + 1,
                left: self.left.clone(),
            })
        } else if let Ok(d) = obj.cast::<PyDict>() {
            self.spend(d.len())?;
            let entries: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)> = d.iter().collect();
            visitor.visit_map(Map {
                entries: entries.into_iter(),
                value: None,
                key: String::new(),
                names: self.names,
                depth: self.depth + 1,
                left: self.left.clone(),
            })
        } else {
            let name = obj
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            Err(DeError::Type {
                field: None,
                msg: format!(
                    "unsupported value of type {name}: expected None, bool, int, float, str, list or dict"
                ),
            })
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.obj.is_none() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Seq<'py> {
    items: std::vec::IntoIter<Bound<'py, PyAny>>,
    depth: usize,
    left: Rc<Cell<usize>>,
}

impl<'de, 'py> SeqAccess<'de> for Seq<'py> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.items
            .next()
            .map(|item| seed.deserialize(PyDe::nested(item, self.depth, &self.left)))
            .transpose()
    }
}

struct Map<'py> {
    entries: std::vec::IntoIter<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    value: Option<Bound<'py, PyAny>>,
    key: String,
    names: Option<&'static [&'static str]>,
    depth: usize,
    left: Rc<Cell<usize>>,
}

impl<'de, 'py> MapAccess<'de> for Map<'py> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key = match key.cast::<PyString>() {
            Ok(k) => string(k)?,
            Err(_) => {
                let ty = key
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                return Err(DeError::Type {
                    field: None,
                    msg: format!("keys must be str, not {ty}"),
                });
            }
        };
        if let Some(names) = self.names {
            if !names.contains(&key.as_str()) {
                return Err(DeError::UnknownName(key));
            }
        }
        self.value = Some(value);
        self.key = key;
        seed.deserialize(self.key.as_str().into_deserializer())
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("value before key"))?;
        seed.deserialize(PyDe::nested(value, self.depth, &self.left))
            .map_err(|e| e.with_field(&self.key))
    }
}

/// JSON text as Python objects through the standard `json` module, which
/// keeps the key order of the core's serialisation (imagor's field order).
pub fn json_to_py<'py>(py: Python<'py>, json: &str) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let loads = LOADS.get_or_try_init(py, || {
        py.import("json")?.getattr("loads").map(Bound::unbind)
    })?;
    loads.bind(py).call1((json,))
}

/// The bytes of a `bytes`, `bytearray`, `memoryview` or other buffer,
/// owned so that they can be used without the GIL: `bytes` are immutable
/// and shared (no copy), anything mutable is copied.
pub fn input_bytes(obj: &Bound<'_, PyAny>) -> PyResult<PyBackedBytes> {
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        return obj.extract::<PyBackedBytes>().map_err(Into::into);
    }
    if obj.is_instance_of::<PyString>() {
        return Err(type_error(
            "expected bytes, bytearray or memoryview, not str (open the file in binary mode)",
        ));
    }
    // The buffer protocol is not in the stable ABI before 3.11: let
    // memoryview copy any buffer (contiguous or not) into bytes.
    let py = obj.py();
    let view = py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((obj,))
        .map_err(|_| {
            let name = obj
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            type_error(format!(
                "expected bytes, bytearray or memoryview, not {name}"
            ))
        })?;
    view.call_method0("tobytes")?
        .extract::<PyBackedBytes>()
        .map_err(Into::into)
}

/// `obj`'s length in bytes, read without copying it: `None` when it is not
/// a buffer ([`input_bytes`] then says what was expected).
pub fn byte_len(obj: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        return obj.len().map(Some);
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(None);
    }
    let py = obj.py();
    match py.import("builtins")?.getattr("memoryview")?.call1((obj,)) {
        Ok(view) => view.getattr("nbytes")?.extract().map(Some),
        Err(_) => Ok(None),
    }
}

/// [`input_bytes`] of an encoded image for `engine`: one larger than its
/// `max_memory` is refused on its length before anything copies it (a
/// 1 GiB `bytearray` was copied whole, then refused).
pub fn image_bytes(engine: &imagor::Imagor, obj: &Bound<'_, PyAny>) -> PyResult<PyBackedBytes> {
    image_bytes_within(engine.options(), obj)
}

/// [`image_bytes`] against options, for a call whose instance is not built
/// yet.
pub fn image_bytes_within(
    opts: &imagor::Options,
    obj: &Bound<'_, PyAny>,
) -> PyResult<PyBackedBytes> {
    if let Some(len) = byte_len(obj)? {
        opts.check_input_size(len).py(obj.py())?;
    }
    input_bytes(obj)
}

/// The JSON field names the derived `Deserialize` of `T` accepts (serde
/// renames applied, skipped fields left out).
pub fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut probe = FieldProbe(&[]);
    let _ = T::deserialize(&mut probe);
    probe.0
}

/// A deserializer that only records the field list serde asks for.
struct FieldProbe(&'static [&'static str]);

impl<'de> de::Deserializer<'de> for &mut FieldProbe {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("field probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("field probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}
