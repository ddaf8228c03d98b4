//! JavaScript option objects → [`imagor::Options`].
//!
//! Keys are the fields of `imagor::Options` in camelCase (`maxWidth`,
//! `fileLoaderBaseDir`, `unsafe`). Each key is converted to its snake_case
//! field name and its value to JSON, then the whole object goes through the
//! same serde path as the C ABI's JSON options (`Options` denies unknown
//! fields) and [`imagor::Options::validate`]. Mistakes are `TypeError`s that
//! name the option.

use std::sync::OnceLock;

use napi::bindgen_prelude::{JsObjectValue, Object, Unknown};
use napi::{JsValue, ValueType};
use serde_json::{Map, Value};

use crate::error::{js_type, Failure, Fallible};

/// The default options as JSON: the known fields and their value kinds.
fn defaults() -> &'static Map<String, Value> {
    static DEFAULTS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFAULTS.get_or_init(|| match serde_json::to_value(imagor::Options::default()) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    })
}

/// `maxWidth` → `max_width`.
pub(crate) fn to_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `max_width` → `maxWidth`.
pub(crate) fn to_camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `"an integer"`, `"a boolean"`... for the default value of a field.
fn expected(default: &Value) -> &'static str {
    match default {
        Value::String(s) if imagor::duration::parse_go_duration(s).is_ok() => {
            "a duration (seconds, or a string such as \"2s\")"
        }
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_u64() => "an integer",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array of strings",
        _ => "a valid value",
    }
}

/// A short description of a received value for error messages.
fn describe(v: &Value) -> String {
    let text = v.to_string();
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if text.len() > 40 {
        kind.to_owned()
    } else {
        format!("{kind} {text}")
    }
}

/// Options read from a JavaScript object, plus the `loader` function when
/// one was given (only the `Imagor` constructor accepts it).
pub(crate) struct Parsed<'env> {
    /// The validated options.
    pub options: imagor::Options,
    /// `options.loader`, a function (checked).
    pub loader: Option<Unknown<'env>>,
    /// `options.detectors`, functions (checked).
    pub detectors: Vec<Unknown<'env>>,
}

/// `options.detectors`: an array of functions.
fn detector_functions(v: Unknown<'_>, kind: ValueType) -> Fallible<Vec<Unknown<'_>>> {
    let not_array = || {
        Failure::bad_type(format!(
            "imagor: option \"detectors\" must be an array of functions, got {}",
            js_type(kind)
        ))
    };
    if kind != ValueType::Object {
        return Err(not_array());
    }
    // SAFETY: an object of this env (checked above).
    let obj: Object = unsafe { v.cast() }.map_err(|e| Failure::bad_type(e.reason))?;
    if !obj.is_array().unwrap_or(false) {
        return Err(not_array());
    }
    let len = obj
        .get_array_length()
        .map_err(|e| Failure::bad_type(e.reason))?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let f: Unknown = obj
            .get_element(i)
            .map_err(|e| Failure::bad_type(e.reason))?;
        let k = f.get_type().map_err(|e| Failure::bad_type(e.reason))?;
        if k != ValueType::Function {
            return Err(Failure::bad_type(format!(
                "imagor: options.detectors[{i}] must be a function, got {}",
                js_type(k)
            )));
        }
        out.push(f);
    }
    Ok(out)
}

/// Read and validate an options object; `undefined` and `null` give the
/// defaults.
pub(crate) fn parse<'env>(
    value: Option<Unknown<'env>>,
    allow_loader: bool,
) -> Fallible<Parsed<'env>> {
    let mut parsed = Parsed {
        options: imagor::Options::default(),
        loader: None,
        detectors: Vec::new(),
    };
    let Some(value) = value else {
        return Ok(parsed);
    };
    let kind = value.get_type().map_err(|e| Failure::bad_type(e.reason))?;
    match kind {
        ValueType::Undefined | ValueType::Null => return Ok(parsed),
        ValueType::Object => {}
        _ => {
            return Err(Failure::bad_type(format!(
                "imagor: options must be an object, got {}",
                js_type(kind)
            )))
        }
    }
    // SAFETY: the value is an object (checked above) of this env.
    let obj: Object = unsafe { value.cast() }.map_err(|e| Failure::bad_type(e.reason))?;
    if obj.is_array().unwrap_or(false) {
        return Err(Failure::bad_type(
            "imagor: options must be an object, got an array",
        ));
    }
    let keys = Object::keys(&obj).map_err(|e| Failure::bad_type(e.reason))?;
    let known = defaults();
    let mut map = Map::new();
    for key in keys {
        let v: Unknown = obj
            .get_named_property(&key)
            .map_err(|e| Failure::bad_type(e.reason))?;
        let v_kind = v.get_type().map_err(|e| Failure::bad_type(e.reason))?;
        if v_kind == ValueType::Undefined {
            continue;
        }
        if key == "loader" && allow_loader {
            if v_kind != ValueType::Function {
                return Err(Failure::bad_type(format!(
                    "imagor: option \"loader\" must be a function, got {}",
                    js_type(v_kind)
                )));
            }
            parsed.loader = Some(v);
            continue;
        }
        if key == "detectors" && allow_loader {
            parsed.detectors = detector_functions(v, v_kind)?;
            continue;
        }
        let field = to_snake(&key);
        let Some(default) = known.get(&field).filter(|_| !key.contains('_')) else {
            let names: Vec<String> = known.keys().map(|k| to_camel(k)).collect();
            let extra = if allow_loader {
                ", loader, detectors"
            } else {
                ""
            };
            return Err(Failure::bad_value(format!(
                "imagor: unknown option \"{key}\" (known: {}{extra})",
                names.join(", ")
            )));
        };
        // napi's own conversion to JSON, which bounds nesting (128) and
        // the values walked (a million): `Env::from_js_value` has no
        // bound, and an array that contains itself crashed the process.
        // SAFETY: `Value` reads any JavaScript value.
        let json: Value = unsafe { v.cast::<Value>() }.map_err(|_| {
            Failure::bad_type(format!(
                "imagor: option \"{key}\" must be {}, got {}",
                expected(default),
                js_type(v_kind)
            ))
        })?;
        let json = whole_numbers(json);
        let mut one = Map::new();
        one.insert(field.clone(), json.clone());
        if let Err(e) = serde_json::from_value::<imagor::Options>(Value::Object(one)) {
            let same_kind = std::mem::discriminant(default) == std::mem::discriminant(&json);
            let msg = format!(
                "imagor: option \"{key}\" must be {}, got {}",
                expected(default),
                describe(&json)
            );
            return Err(if same_kind {
                Failure::bad_value(format!("{msg} ({e})"))
            } else {
                Failure::bad_type(msg)
            });
        }
        map.insert(field, json);
    }
    let options: imagor::Options = serde_json::from_value(Value::Object(map))
        .map_err(|e| Failure::bad_value(format!("imagor: invalid options: {e}")))?;
    options
        .validate()
        .map_err(|e| Failure::bad_value(camelize(&e.message())))?;
    parsed.options = options;
    Ok(parsed)
}

/// JavaScript numbers that are whole, as JSON integers. napi's conversion
/// gives a number past 32 bits as a float (`2 ** 32` arrives as
/// `4294967296.0`), which the byte and pixel limits (64-bit integers)
/// refused as "must be an integer". Exact up to 2^53, as JavaScript's own
/// integers are.
fn whole_numbers(value: Value) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => {
                Value::Number(serde_json::Number::from(f as i64))
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(whole_numbers).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, whole_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Replace snake_case field names in a core message by their camelCase
/// option names.
fn camelize(message: &str) -> String {
    let mut out = message.to_owned();
    let mut fields: Vec<&String> = defaults().keys().filter(|k| k.contains('_')).collect();
    // Longest first, so `max_width` does not eat part of a longer name.
    fields.sort_by_key(|k| std::cmp::Reverse(k.len()));
    for field in fields {
        out = out.replace(field.as_str(), &to_camel(field));
    }
    format!("imagor: {}", out.trim_start_matches("imagor: "))
}

/// The options as a JavaScript-style JSON object (camelCase keys), with the
/// secrets hidden as the core hides them ([`imagor::Options::to_json_redacted`]).
pub(crate) fn to_json_redacted(options: &imagor::Options) -> Value {
    match options.to_json_redacted() {
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (to_camel(&k), v)).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(to_snake("fileLoaderBaseDir"), "file_loader_base_dir");
        assert_eq!(to_camel("file_loader_base_dir"), "fileLoaderBaseDir");
        assert_eq!(to_snake("unsafe"), "unsafe");
        assert_eq!(
            camelize("invalid options: max_width, max_height must be positive"),
            "imagor: invalid options: maxWidth, maxHeight must be positive"
        );
    }
}
