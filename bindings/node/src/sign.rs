//! `sign` and `verify`: imagor URL signatures (HMAC over the path, padded
//! base64url, optionally truncated).
//!
//! Keyed signers are cached per thread (the HMAC key schedule is computed
//! once per secret, algorithm and truncation), so a call costs one HMAC over
//! the path plus the two string conversions.

use std::cell::RefCell;

use imagor::sign::{Signer, SignerAlg};
use napi::bindgen_prelude::{Either, JsObjectValue, Object, Uint8Array, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;

use crate::error::{guard, js_type, Failure, Fallible};

/// Options of `sign`, `verify` and `generate`: how signatures are made.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Only describes a JavaScript object for index.d.ts.
pub struct SignOptions {
    /// Hash function: `'sha1'` (default, thumbor's), `'sha256'` or `'sha512'`.
    #[napi(ts_type = "'sha1' | 'sha256' | 'sha512'")]
    pub signer_type: Option<String>,
    /// Cut signatures to this many characters; 0 (default) keeps them whole.
    pub truncate: Option<u32>,
}

/// Signers kept per thread, most recently used first.
const CACHE_SIZE: usize = 8;

struct Cached {
    alg: SignerAlg,
    truncate: usize,
    secret: Box<[u8]>,
    signer: Signer,
}

thread_local! {
    static SIGNERS: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` with the (cached) signer for these settings.
pub(crate) fn with_signer<R>(
    alg: SignerAlg,
    truncate: usize,
    secret: &[u8],
    f: impl FnOnce(&Signer) -> R,
) -> R {
    SIGNERS.with(|cell| {
        let mut cache = cell.borrow_mut();
        let hit = cache
            .iter()
            .position(|c| c.alg == alg && c.truncate == truncate && *c.secret == *secret);
        match hit {
            Some(0) => {}
            Some(i) => {
                let entry = cache.remove(i);
                cache.insert(0, entry);
            }
            None => {
                cache.truncate(CACHE_SIZE - 1);
                cache.insert(
                    0,
                    Cached {
                        alg,
                        truncate,
                        secret: secret.into(),
                        signer: Signer::new(alg, truncate, secret),
                    },
                );
            }
        }
        f(&cache[0].signer)
    })
}

/// Signer settings read from a `{ signerType, truncate }` object.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SignerSettings {
    pub alg: SignerAlg,
    pub truncate: usize,
}

/// Read `signerType` and `truncate` from `obj`; `extra` lists the other
/// keys the caller accepts (`secret`, `unsafe` for `generate`). Unknown
/// keys, wrong types and bad values are `TypeError`s.
pub(crate) fn settings_from(obj: &Object, what: &str, extra: &[&str]) -> Fallible<SignerSettings> {
    let mut s = SignerSettings::default();
    let keys = Object::keys(obj).map_err(|e| Failure::bad_type(e.reason))?;
    for key in keys {
        let v: Unknown = obj
            .get_named_property(&key)
            .map_err(|e| Failure::bad_type(e.reason))?;
        let kind = v.get_type().map_err(|e| Failure::bad_type(e.reason))?;
        if kind == ValueType::Undefined || extra.contains(&key.as_str()) {
            continue;
        }
        match key.as_str() {
            "signerType" => {
                if kind != ValueType::String {
                    return Err(Failure::bad_type(format!(
                        "imagor: {what} option \"signerType\" must be a string, got {}",
                        js_type(kind)
                    )));
                }
                // SAFETY: checked to be a string.
                let name: String = unsafe { v.cast() }.map_err(|e| Failure::bad_type(e.reason))?;
                s.alg = name.parse().map_err(|_| {
                    Failure::bad_value(format!(
                        "imagor: {what} option \"signerType\" must be 'sha1', 'sha256' or 'sha512', got {name:?}"
                    ))
                })?;
            }
            "truncate" => {
                let n: Option<f64> = if kind == ValueType::Number {
                    // SAFETY: checked to be a number.
                    unsafe { v.cast::<f64>() }.ok()
                } else {
                    None
                };
                let n = n.ok_or_else(|| {
                    Failure::bad_type(format!(
                        "imagor: {what} option \"truncate\" must be a number, got {}",
                        js_type(kind)
                    ))
                })?;
                if !(n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64) {
                    return Err(Failure::bad_value(format!(
                        "imagor: {what} option \"truncate\" must be a non-negative integer, got {n}"
                    )));
                }
                s.truncate = n as usize;
            }
            _ => {
                let mut known = vec!["signerType", "truncate"];
                known.extend_from_slice(extra);
                return Err(Failure::bad_value(format!(
                    "imagor: unknown {what} option \"{key}\" (known: {})",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(s)
}

/// Settings from an optional options argument (`undefined`/`null`: defaults).
fn settings(value: Option<Unknown>, what: &str) -> Fallible<SignerSettings> {
    let Some(value) = value else {
        return Ok(SignerSettings::default());
    };
    match value.get_type().map_err(|e| Failure::bad_type(e.reason))? {
        ValueType::Undefined | ValueType::Null => Ok(SignerSettings::default()),
        ValueType::Object => {
            // SAFETY: checked to be an object.
            let obj: Object = unsafe { value.cast() }.map_err(|e| Failure::bad_type(e.reason))?;
            settings_from(&obj, what, &[])
        }
        kind => Err(Failure::bad_type(format!(
            "imagor: {what} options must be an object, got {}",
            js_type(kind)
        ))),
    }
}

/// The signature of an imagor path: padded base64url of
/// HMAC-`signerType`(`secret`, `path`), cut to `truncate` characters.
///
/// `path` is what follows the signature in the URL, e.g.
/// `fit-in/200x200/filters:format(webp)/photo.jpg`; the URL is then
/// `/${sign(path, secret)}/${path}`. Synchronous (microseconds). A
/// `Uint8Array` path is signed as its bytes, which need not be UTF-8:
/// imagor also accepts the signature of the bytes a path's `%XX` escapes
/// decode to (`caf\xE9.jpg` for `caf%E9.jpg`).
///
/// ```js
/// sign('500x500/top/raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png',
///      'mysecret', { signerType: 'sha256', truncate: 40 })
/// // 'IGEn3TxngivD0jy4uuiZim2bdUCvhcnVi1Nm0xGy'
/// ```
#[napi(
    catch_unwind,
    ts_args_type = "path: string | Uint8Array, secret: string, options?: SignOptions"
)]
pub fn sign(
    env: Env,
    path: Either<String, Uint8Array>,
    secret: String,
    options: Option<Unknown>,
) -> napi::Result<String> {
    guard(&env, || {
        let s = settings(options, "sign")?;
        Ok(with_signer(
            s.alg,
            s.truncate,
            secret.as_bytes(),
            |signer| signer.sign_bytes(path_bytes(&path)),
        ))
    })
}

/// Whether `hash` is the signature of `path` (a string, or bytes as for
/// `sign`) for this secret and signer, compared in constant time.
#[napi(
    catch_unwind,
    ts_args_type = "path: string | Uint8Array, hash: string, secret: string, options?: SignOptions"
)]
pub fn verify(
    env: Env,
    path: Either<String, Uint8Array>,
    hash: String,
    secret: String,
    options: Option<Unknown>,
) -> napi::Result<bool> {
    guard(&env, || {
        let s = settings(options, "verify")?;
        Ok(with_signer(
            s.alg,
            s.truncate,
            secret.as_bytes(),
            |signer| signer.verify_bytes(path_bytes(&path), &hash),
        ))
    })
}

/// The bytes of a path given as a string (UTF-8) or as bytes.
fn path_bytes(path: &Either<String, Uint8Array>) -> &[u8] {
    match path {
        Either::A(text) => text.as_bytes(),
        Either::B(bytes) => bytes,
    }
}
