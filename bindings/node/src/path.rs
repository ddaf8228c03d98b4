//! `parse` and `generate`: imagor's URL grammar, through the core's
//! `imagor::path`. Params objects have imagor's JSON shape (the `/params`
//! endpoint's field names, zero values left out).

use imagor::path::{self, Params};
use napi::bindgen_prelude::{JsObjectValue, Object, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;

use crate::error::{guard, js_type, Failure, Fallible};
use crate::sign::{settings_from, with_signer, SignerSettings};

/// One `name(args)` entry of the `filters:` segment, arguments kept raw.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Only describes a JavaScript object for index.d.ts.
pub struct ImagorFilter {
    /// Filter name, e.g. `format`.
    pub name: String,
    /// Raw argument text, e.g. `webp` or `gopher.png,10,10` (left out when
    /// empty).
    pub args: Option<String>,
}

/// The parameters of an imagor path, with imagor's field names
/// (`imagorpath.Params` as JSON). `parse` leaves out zero, `false` and empty
/// values; `generate` treats missing fields as zero.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Only describes a JavaScript object for index.d.ts.
pub struct ImagorParams {
    /// The path started with `params/` (imagor's `/params` endpoint). Set by
    /// `parse` only; imagor's JSON leaves it out.
    pub params: Option<bool>,
    /// The path after the `unsafe/` or signature segment: what is signed.
    /// Ignored by `generate`.
    pub path: Option<String>,
    /// The image (query-unescaped; decoded for `b64:` images).
    pub image: Option<String>,
    /// The image was given base64url-encoded (`b64:...`).
    #[napi(js_name = "base64_image")]
    pub base64_image: Option<bool>,
    /// The path started with `unsafe/`.
    pub r#unsafe: Option<bool>,
    /// The URL signature segment, when the path is signed. Ignored by
    /// `generate`.
    pub hash: Option<String>,
    /// `meta/`: answer with metadata JSON instead of an image.
    pub meta: Option<bool>,
    /// `trim/`: remove surrounding space.
    pub trim: Option<bool>,
    /// Reference pixel for trim: `'top-left'` or `'bottom-right'`.
    #[napi(js_name = "trim_by")]
    pub trim_by: Option<String>,
    /// Colour tolerance for trim.
    #[napi(js_name = "trim_tolerance")]
    pub trim_tolerance: Option<f64>,
    /// Crop rectangle, left edge (values below 1 are fractions).
    #[napi(js_name = "crop_left")]
    pub crop_left: Option<f64>,
    /// Crop rectangle, top edge.
    #[napi(js_name = "crop_top")]
    pub crop_top: Option<f64>,
    /// Crop rectangle, right edge.
    #[napi(js_name = "crop_right")]
    pub crop_right: Option<f64>,
    /// Crop rectangle, bottom edge.
    #[napi(js_name = "crop_bottom")]
    pub crop_bottom: Option<f64>,
    /// `fit-in/` (also set by the adaptive and full variants).
    #[napi(js_name = "fit_in")]
    pub fit_in: Option<bool>,
    /// `adaptive-fit-in/` or `adaptive-full-fit-in/`.
    #[napi(js_name = "adaptive_fit_in")]
    pub adaptive_fit_in: Option<bool>,
    /// `full-fit-in/` or `adaptive-full-fit-in/`.
    #[napi(js_name = "full_fit_in")]
    pub full_fit_in: Option<bool>,
    /// `stretch/`: resize without keeping the aspect ratio.
    pub stretch: Option<bool>,
    /// Target width (0 = proportional); negative flips when generated.
    pub width: Option<f64>,
    /// Target height (0 = proportional); negative flips when generated.
    pub height: Option<f64>,
    /// Padding, left.
    #[napi(js_name = "padding_left")]
    pub padding_left: Option<f64>,
    /// Padding, top.
    #[napi(js_name = "padding_top")]
    pub padding_top: Option<f64>,
    /// Padding, right.
    #[napi(js_name = "padding_right")]
    pub padding_right: Option<f64>,
    /// Padding, bottom.
    #[napi(js_name = "padding_bottom")]
    pub padding_bottom: Option<f64>,
    /// Flip horizontally (`-W` in the dimensions).
    #[napi(js_name = "h_flip")]
    pub h_flip: Option<bool>,
    /// Flip vertically (`-H` in the dimensions).
    #[napi(js_name = "v_flip")]
    pub v_flip: Option<bool>,
    /// Horizontal alignment: `'left'`, `'right'` or `'center'`.
    #[napi(js_name = "h_align")]
    pub h_align: Option<String>,
    /// Vertical alignment: `'top'`, `'bottom'` or `'middle'`.
    #[napi(js_name = "v_align")]
    pub v_align: Option<String>,
    /// `smart/`: focus the crop on detected features.
    pub smart: Option<bool>,
    /// Filters in URL order.
    pub filters: Option<Vec<ImagorFilter>>,
}

/// Options of `generate`: sign with `secret`, or prefix `unsafe/`, or
/// neither (the bare path).
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Only describes a JavaScript object for index.d.ts.
pub struct GenerateOptions {
    /// Sign the path with this secret: `HASH/path`.
    pub secret: Option<String>,
    /// Prefix `unsafe/` instead of a signature.
    pub r#unsafe: Option<bool>,
    /// Hash function: `'sha1'` (default), `'sha256'` or `'sha512'`.
    #[napi(ts_type = "'sha1' | 'sha256' | 'sha512'")]
    pub signer_type: Option<String>,
    /// Cut signatures to this many characters; 0 keeps them whole.
    pub truncate: Option<u32>,
}

/// Parse an imagor path (with or without a leading `/`, `unsafe/` or
/// signature) into its params. Never throws for a string: unrecognised
/// segments become part of the image, as in imagor.
///
/// ```js
/// parse('unsafe/fit-in/200x150/filters:format(webp)/a.jpg')
/// // { path: 'fit-in/200x150/filters:format(webp)/a.jpg', image: 'a.jpg', unsafe: true,
/// //   fit_in: true, width: 200, height: 150, filters: [{ name: 'format', args: 'webp' }] }
/// ```
#[napi(catch_unwind, ts_return_type = "ImagorParams")]
pub fn parse(env: Env, path: String) -> napi::Result<Unknown<'static>> {
    let params = guard(&env, || path::try_parse(&path).map_err(Into::into))?;
    let value = env.to_js_value(&params)?;
    if params.params {
        // SAFETY: Params serialises to a JSON object.
        let mut obj: Object = unsafe { value.cast() }?;
        obj.set_named_property("params", true)?;
    }
    Ok(value)
}

/// The warning for a path whose ignored image segment looks like a mistyped
/// operation (`fit_in/300x200/`), or `null`; the JS layer emits it.
#[napi(catch_unwind, js_name = "__pathTypo", skip_typescript)]
pub fn path_typo(path: String) -> Option<String> {
    path::mistyped(&path)
}

/// What `generate` was asked to produce.
enum Mode {
    Bare,
    Unsafe,
    Signed(SignerSettings, String),
}

fn generate_mode(options: Option<Unknown>) -> Fallible<Mode> {
    let Some(value) = options else {
        return Ok(Mode::Bare);
    };
    let kind = value.get_type().map_err(|e| Failure::bad_type(e.reason))?;
    match kind {
        ValueType::Undefined | ValueType::Null => return Ok(Mode::Bare),
        ValueType::Object => {}
        _ => {
            return Err(Failure::bad_type(format!(
                "imagor: generate options must be an object, got {}",
                js_type(kind)
            )))
        }
    }
    // SAFETY: checked to be an object.
    let obj: Object = unsafe { value.cast() }.map_err(|e| Failure::bad_type(e.reason))?;
    let settings = settings_from(&obj, "generate", &["secret", "unsafe"])?;
    let secret = field::<String>(&obj, "secret", ValueType::String, "a string")?;
    let unsafe_ = field::<bool>(&obj, "unsafe", ValueType::Boolean, "a boolean")?;
    match (secret, unsafe_.unwrap_or(false)) {
        (Some(_), true) => Err(Failure::bad_value(
            "imagor: generate takes either a secret or unsafe: true, not both",
        )),
        (Some(secret), false) => Ok(Mode::Signed(settings, secret)),
        (None, true) => Ok(Mode::Unsafe),
        (None, false) => Ok(Mode::Bare),
    }
}

/// An optional typed property of an options object.
fn field<T: napi::bindgen_prelude::FromNapiValue>(
    obj: &Object,
    key: &str,
    want: ValueType,
    want_text: &str,
) -> Fallible<Option<T>> {
    let v: Unknown = obj
        .get_named_property(key)
        .map_err(|e| Failure::bad_type(e.reason))?;
    let kind = v.get_type().map_err(|e| Failure::bad_type(e.reason))?;
    if kind == ValueType::Undefined {
        return Ok(None);
    }
    if kind != want {
        return Err(Failure::bad_type(format!(
            "imagor: generate option \"{key}\" must be {want_text}, got {}",
            js_type(kind)
        )));
    }
    // SAFETY: the type was checked just above.
    unsafe { v.cast::<T>() }
        .map(Some)
        .map_err(|e| Failure::bad_type(e.reason))
}

/// Params from a JavaScript object, through serde as the C JSON path does.
pub(crate) fn params_from(value: Unknown) -> Fallible<Params> {
    let kind = value.get_type().map_err(|e| Failure::bad_type(e.reason))?;
    if kind != ValueType::Object {
        return Err(Failure::bad_type(format!(
            "imagor: params must be an object, got {}",
            js_type(kind)
        )));
    }
    // napi's own conversion, bounded in depth and size (see
    // `options::parse`); `Env::from_js_value` walked cycles until the
    // stack overflowed and shared objects for ever.
    // SAFETY: `serde_json::Value` reads any JavaScript value.
    let json: serde_json::Value = unsafe { value.cast::<serde_json::Value>() }
        .map_err(|e| Failure::bad_type(format!("imagor: invalid params: {}", e.reason)))?;
    if !json.is_object() {
        return Err(Failure::bad_type("imagor: params must be a plain object"));
    }
    serde_json::from_value(json)
        .map_err(|e| Failure::bad_type(format!("imagor: invalid params: {e}")))
}

/// The imagor path for `params` (imagor's `Generate*`): the bare path by
/// default, `unsafe/` + path with `{ unsafe: true }`, or `HASH/` + path with
/// `{ secret }` (and `signerType`, `truncate`). Synchronous (microseconds).
///
/// ```js
/// generate({ image: 'a.jpg', width: 300, height: 200, smart: true }, { secret: 'mysecret' })
/// // 'HASH/300x200/smart/a.jpg'
/// ```
#[napi(
    catch_unwind,
    ts_args_type = "params: ImagorParams, options?: GenerateOptions"
)]
pub fn generate(env: Env, params: Unknown, options: Option<Unknown>) -> napi::Result<String> {
    guard(&env, || {
        let p = params_from(params)?;
        Ok(match generate_mode(options)? {
            Mode::Bare => path::generate_path(&p),
            Mode::Unsafe => path::generate_unsafe(&p),
            Mode::Signed(s, secret) => {
                with_signer(s.alg, s.truncate, secret.as_bytes(), |signer| {
                    path::generate(&p, Some(signer))
                })
            }
        })
    })
}
