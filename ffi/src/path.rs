//! imagor's URL grammar over C: [`imagor::path::parse`] with Params JSON
//! out, and [`imagor::path`]'s generators with Params JSON in.

use std::ffi::c_char;

use imagor::path::{self, Params};

use crate::args::{opt_str_arg, str_arg, Out};
use crate::boundary::ffi_call;
use crate::bytes::string_into_raw;
use crate::sign::signer;
use crate::status::imagor_status;

/// Parse an imagor path into its parameters, as JSON.
///
/// The JSON is byte for byte that of imagor's `/params` endpoint in compact
/// form: imagor's field names, zero values omitted, e.g.
/// `{"path":"fit-in/200x150/a.jpg","image":"a.jpg","unsafe":true,"fit_in":true,"width":200,"height":150}`.
/// Parsing never fails: unrecognised segments become part of the image.
///
/// @param path An imagor path, with or without a leading `/`, `unsafe/` or
///        signature (`unsafe/fit-in/200x150/filters:format(webp)/a.jpg`).
/// @param out_json On success, the JSON; release it with imagor_string_free().
/// @return ::IMAGOR_STATUS_OK, ::IMAGOR_STATUS_NULL_ARGUMENT or
///         ::IMAGOR_STATUS_INVALID_UTF8.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out_json` is NULL or valid for
/// writing a pointer.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn imagor_parse(
    path: *const c_char,
    out_json: *mut *mut c_char,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { str_arg(path, "path") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out_json, "out_json") }?;
        out.write(string_into_raw(path::try_parse(path)?.to_json())?);
        Ok(())
    })
}

/// Generate an imagor path from parameters given as JSON (the form
/// imagor_parse() writes; `path` and `hash` are ignored).
///
/// - With neither `secret` nor `unsafe_`: the bare path
///   (`fit-in/200x150/a.jpg`, imagor's `GeneratePath`).
/// - With `unsafe_`: `unsafe/` + path (`GenerateUnsafe`).
/// - With a `secret`: the signature + `/` + path (`Generate`), signed with
///   `signer_type` and cut to `truncate` characters.
///
/// @param params_json A JSON object of parameters, e.g.
///        `{"image":"a.jpg","fit_in":true,"width":200,"height":150}`.
/// @param secret The signing secret, or NULL for an unsigned path. `""` is
///        a (weak) secret: it signs.
/// @param signer_type `"sha1"`, `"sha256"` or `"sha512"`; NULL means sha1.
/// @param truncate Cut the signature to this many characters; 0 keeps it.
/// @param unsafe_ Prefix `unsafe/`. Not allowed together with a secret.
/// @param out_path On success, the path; release it with imagor_string_free().
/// @return ::IMAGOR_STATUS_OK; ::IMAGOR_STATUS_INVALID for JSON that is not
///         a Params object, an unknown signer type, or both `secret` and
///         `unsafe_`; ::IMAGOR_STATUS_NULL_ARGUMENT;
///         ::IMAGOR_STATUS_INVALID_UTF8.
///
/// # Safety
/// Each string is NULL or NUL-terminated; `out_path` is NULL or valid for
/// writing a pointer.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn imagor_generate(
    params_json: *const c_char,
    secret: *const c_char,
    signer_type: *const c_char,
    truncate: usize,
    unsafe_: bool,
    out_path: *mut *mut c_char,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let json = unsafe { str_arg(params_json, "params_json") }?;
        // SAFETY: forwarded from this function's contract.
        let secret = unsafe { opt_str_arg(secret, "secret") }?;
        // SAFETY: forwarded from this function's contract.
        let signer_type = unsafe { opt_str_arg(signer_type, "signer_type") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out_path, "out_path") }?;
        let params: Params = serde_json::from_str(json)
            .map_err(|e| imagor::Error::invalid_msg(format!("invalid params JSON: {e}")))?;
        let generated = match (secret, unsafe_) {
            (Some(_), true) => {
                return Err(imagor::Error::invalid_msg(
                    "generate takes a secret or unsafe, not both",
                )
                .into())
            }
            (Some(secret), false) => {
                path::generate(&params, Some(&signer(secret, signer_type, truncate)?))
            }
            (None, true) => path::generate_unsafe(&params),
            (None, false) => path::generate_path(&params),
        };
        out.write(string_into_raw(generated)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::imagor_string_free;
    use std::ffi::CStr;
    use std::ptr;

    /// Run `f` with an out-string, returning the status and the text.
    fn out_string(f: impl FnOnce(*mut *mut c_char) -> imagor_status) -> (imagor_status, String) {
        let mut s: *mut c_char = ptr::null_mut();
        let status = f(&mut s);
        let text = if s.is_null() {
            String::new()
        } else {
            // SAFETY: written by the call on success; freed once.
            unsafe {
                let t = CStr::from_ptr(s).to_string_lossy().into_owned();
                imagor_string_free(s);
                t
            }
        };
        (status, text)
    }

    #[test]
    fn parse_writes_imagor_params_json() {
        // SAFETY: literals and valid out-pointers.
        let (status, json) =
            out_string(|o| unsafe { imagor_parse(c"unsafe/fit-in/200x150/a.jpg".as_ptr(), o) });
        assert_eq!(status, imagor_status::Ok);
        assert_eq!(
            json,
            r#"{"path":"fit-in/200x150/a.jpg","image":"a.jpg","unsafe":true,"fit_in":true,"width":200,"height":150}"#
        );
    }

    #[test]
    fn generate_bare_unsafe_and_signed() {
        let p = c"{\"image\":\"a.jpg\",\"fit_in\":true,\"width\":200,\"height\":150}";
        let gen = |secret: Option<&CStr>, unsafe_: bool| {
            // SAFETY: literals and valid out-pointers.
            out_string(|o| unsafe {
                imagor_generate(
                    p.as_ptr(),
                    secret.map_or(ptr::null(), CStr::as_ptr),
                    ptr::null(),
                    0,
                    unsafe_,
                    o,
                )
            })
        };
        assert_eq!(
            gen(None, false),
            (imagor_status::Ok, "fit-in/200x150/a.jpg".into())
        );
        assert_eq!(
            gen(None, true),
            (imagor_status::Ok, "unsafe/fit-in/200x150/a.jpg".into())
        );
        let (status, signed) = gen(Some(c"mysecret"), false);
        assert_eq!(status, imagor_status::Ok);
        assert!(signed.ends_with("=/fit-in/200x150/a.jpg"), "{signed}");
        assert_eq!(gen(Some(c"mysecret"), true).0, imagor_status::Invalid);
        // SAFETY: literals and valid out-pointers.
        let bad = out_string(|o| unsafe {
            imagor_generate(c"[1]".as_ptr(), ptr::null(), ptr::null(), 0, false, o)
        });
        assert_eq!(bad, (imagor_status::Invalid, String::new()));
    }
}
