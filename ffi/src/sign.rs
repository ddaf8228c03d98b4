//! URL signatures over C: [`imagor::sign::Signer`] without a handle, and the
//! signing and checking of a configured `imagor`.

use std::ffi::c_char;

use imagor::sign::{Signer, SignerAlg};

use crate::args::{cstr_bytes_arg, opt_str_arg, str_arg, Out};
use crate::boundary::ffi_call;
use crate::bytes::string_into_raw;
use crate::handle::{borrow, Handle};
use crate::status::{imagor_status, Failure};

/// The signer for C arguments: `signer_type` NULL means sha1.
pub(crate) fn signer(
    secret: &str,
    signer_type: Option<&str>,
    truncate: usize,
) -> Result<Signer, Failure> {
    let alg: SignerAlg = signer_type.unwrap_or("sha1").parse()?;
    Ok(Signer::new(alg, truncate, secret))
}

/// Sign a path with a secret (no handle needed): padded base64url of
/// HMAC(secret, path), cut to `truncate` characters.
///
/// The path is what follows the signature in a URL, as it appears there:
/// for `/HASH/fit-in/100x100/a.jpg` it is `fit-in/100x100/a.jpg`. Its bytes
/// are signed as they are and need not be UTF-8: imagor also accepts the
/// signature of the bytes a path's `%XX` escapes decode to (`caf\xE9.jpg`
/// for `caf%E9.jpg`), which only such a path can express.
///
/// @param path The path to sign (any bytes but NUL).
/// @param secret The secret (HMAC key).
/// @param signer_type `"sha1"`, `"sha256"` or `"sha512"` (any case); NULL
///        means sha1.
/// @param truncate Cut the signature to this many characters; 0 keeps it.
/// @param out_hash On success, the signature (28, 44 or 88 characters before
///        truncation); release it with imagor_string_free().
/// @return ::IMAGOR_STATUS_OK; ::IMAGOR_STATUS_INVALID for an unknown
///         signer type; ::IMAGOR_STATUS_NULL_ARGUMENT;
///         ::IMAGOR_STATUS_INVALID_UTF8 (the secret or the signer type).
///
/// # Safety
/// Each string is NULL or NUL-terminated; `out_hash` is NULL or valid for
/// writing a pointer.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn imagor_signer_sign(
    path: *const c_char,
    secret: *const c_char,
    signer_type: *const c_char,
    truncate: usize,
    out_hash: *mut *mut c_char,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { cstr_bytes_arg(path, "path") }?;
        // SAFETY: forwarded from this function's contract.
        let secret = unsafe { str_arg(secret, "secret") }?;
        // SAFETY: forwarded from this function's contract.
        let signer_type = unsafe { opt_str_arg(signer_type, "signer_type") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out_hash, "out_hash") }?;
        let hash = signer(secret, signer_type, truncate)?.sign_bytes(path);
        out.write(string_into_raw(hash)?);
        Ok(())
    })
}

/// Check a signature against a path and a secret (no handle needed), in
/// constant time.
///
/// @param path The signed path (what follows the signature in the URL; any
///        bytes but NUL, as for imagor_signer_sign()).
/// @param hash The signature to check.
/// @param secret As for imagor_signer_sign().
/// @param signer_type As for imagor_signer_sign().
/// @param truncate As for imagor_signer_sign().
/// @return ::IMAGOR_STATUS_OK when `hash` is the signature of `path`,
///         ::IMAGOR_STATUS_SIGNATURE_MISMATCH (HTTP 403) when it is not;
///         ::IMAGOR_STATUS_INVALID for an unknown signer type;
///         ::IMAGOR_STATUS_NULL_ARGUMENT; ::IMAGOR_STATUS_INVALID_UTF8 (the
///         hash, the secret or the signer type).
///
/// # Safety
/// Each string is NULL or NUL-terminated.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn imagor_signer_verify(
    path: *const c_char,
    hash: *const c_char,
    secret: *const c_char,
    signer_type: *const c_char,
    truncate: usize,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { cstr_bytes_arg(path, "path") }?;
        // SAFETY: forwarded from this function's contract.
        let hash = unsafe { str_arg(hash, "hash") }?;
        // SAFETY: forwarded from this function's contract.
        let secret = unsafe { str_arg(secret, "secret") }?;
        // SAFETY: forwarded from this function's contract.
        let signer_type = unsafe { opt_str_arg(signer_type, "signer_type") }?;
        if signer(secret, signer_type, truncate)?.verify_bytes(path, hash) {
            Ok(())
        } else {
            Err(imagor::Error::SignatureMismatch.into())
        }
    })
}

/// Sign a path with the handle's configured `secret`, `signer_type` and
/// `signer_truncate`.
///
/// @param im The handle.
/// @param path The path to sign (a leading `/` is ignored).
/// @param out_hash On success, the signature; release it with
///        imagor_string_free().
/// @return ::IMAGOR_STATUS_OK; ::IMAGOR_STATUS_INVALID when the handle has
///         no secret; ::IMAGOR_STATUS_NULL_ARGUMENT;
///         ::IMAGOR_STATUS_INVALID_UTF8.
///
/// # Safety
/// `im` is NULL or a live handle; `path` is NULL or NUL-terminated;
/// `out_hash` is NULL or valid for writing a pointer.
///
/// Thread-safe: one handle may serve many threads at once.
#[no_mangle]
pub unsafe extern "C" fn imagor_sign(
    im: *const Handle,
    path: *const c_char,
    out_hash: *mut *mut c_char,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let im = unsafe { borrow(im, "im") }?;
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { str_arg(path, "path") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out_hash, "out_hash") }?;
        out.write(string_into_raw(im.sign(path)?)?);
        Ok(())
    })
}

/// Check a request path as the handle's server would: `unsafe/` paths pass
/// when the handle allows `unsafe`; otherwise the signature segment must be
/// the signature of the rest of the path.
///
/// @param im The handle.
/// @param path A request path, e.g. `HASH/fit-in/200x150/a.jpg`.
/// @return ::IMAGOR_STATUS_OK or ::IMAGOR_STATUS_SIGNATURE_MISMATCH (HTTP
///         403); ::IMAGOR_STATUS_NULL_ARGUMENT; ::IMAGOR_STATUS_INVALID_UTF8;
///         ::IMAGOR_STATUS_INTERNAL (500) when the handle has neither a
///         secret nor `unsafe` (it can serve nothing; the server refuses to
///         start so); ::IMAGOR_STATUS_INVALID (400) for a path longer than
///         the server reads (65 534 bytes), refused before it is parsed.
///
/// # Safety
/// `im` is NULL or a live handle; `path` is NULL or NUL-terminated.
///
/// Thread-safe: one handle may serve many threads at once.
#[no_mangle]
pub unsafe extern "C" fn imagor_verify(im: *const Handle, path: *const c_char) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let im = unsafe { borrow(im, "im") }?;
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { str_arg(path, "path") }?;
        im.verify(&imagor::path::try_parse(path)?)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::imagor_string_free;
    use std::ffi::CStr;
    use std::ptr;

    const PATH: &CStr =
        c"500x500/top/raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png";

    #[test]
    fn stateless_sign_and_verify() {
        let mut hash: *mut c_char = ptr::null_mut();
        // SAFETY: literals, valid out-pointer; the hash is freed once.
        unsafe {
            let s = imagor_signer_sign(
                PATH.as_ptr(),
                c"mysecret".as_ptr(),
                c"sha256".as_ptr(),
                40,
                &mut hash,
            );
            assert_eq!(s, imagor_status::Ok);
            assert_eq!(
                CStr::from_ptr(hash),
                c"IGEn3TxngivD0jy4uuiZim2bdUCvhcnVi1Nm0xGy"
            );
            let ok = imagor_signer_verify(
                PATH.as_ptr(),
                hash,
                c"mysecret".as_ptr(),
                c"sha256".as_ptr(),
                40,
            );
            assert_eq!(ok, imagor_status::Ok);
            let bad = imagor_signer_verify(
                PATH.as_ptr(),
                hash,
                c"other".as_ptr(),
                c"sha256".as_ptr(),
                40,
            );
            assert_eq!(bad, imagor_status::SignatureMismatch);
            imagor_string_free(hash);
            let mut untouched: *mut c_char = ptr::null_mut();
            let s = imagor_signer_sign(
                PATH.as_ptr(),
                c"k".as_ptr(),
                c"md5".as_ptr(),
                0,
                &mut untouched,
            );
            assert_eq!((s, untouched.is_null()), (imagor_status::Invalid, true));
        }
    }

    /// A path that is not UTF-8 is signed as its bytes (the HMAC-SHA1 of
    /// `caf\xE9.png`, which imagor accepts for `caf%E9.png`).
    #[test]
    fn paths_are_signed_as_bytes() {
        let path = c"caf\xE9.png";
        let mut hash: *mut c_char = ptr::null_mut();
        // SAFETY: literals, valid out-pointer; the hash is freed once.
        unsafe {
            let s = imagor_signer_sign(
                path.as_ptr(),
                c"mysecret".as_ptr(),
                ptr::null(),
                0,
                &mut hash,
            );
            assert_eq!(s, imagor_status::Ok);
            assert_eq!(CStr::from_ptr(hash), c"lK5m5Kx0mYPQVuaN4ft_MQk4cgg=");
            let verified = |p: &CStr| {
                imagor_signer_verify(p.as_ptr(), hash, c"mysecret".as_ptr(), ptr::null(), 0)
            };
            assert_eq!(verified(path), imagor_status::Ok);
            assert_eq!(
                verified(c"caf\xEF\xBF\xBD.png"),
                imagor_status::SignatureMismatch
            );
            imagor_string_free(hash);
        }
    }

    #[test]
    fn handle_sign_and_verify() {
        let mut im: *mut Handle = ptr::null_mut();
        let mut hash: *mut c_char = ptr::null_mut();
        // SAFETY: literals, valid out-pointers; everything freed once.
        unsafe {
            let opts =
                c"{\"secret\":\"mysecret\",\"signer_type\":\"sha256\",\"signer_truncate\":40}";
            assert_eq!(
                crate::handle::imagor_new(opts.as_ptr(), &mut im),
                imagor_status::Ok
            );
            assert_eq!(imagor_sign(im, PATH.as_ptr(), &mut hash), imagor_status::Ok);
            let request = format!(
                "{}/{}",
                CStr::from_ptr(hash).to_str().unwrap_or_default(),
                PATH.to_str().unwrap_or_default()
            );
            let request = std::ffi::CString::new(request).unwrap_or_default();
            assert_eq!(imagor_verify(im, request.as_ptr()), imagor_status::Ok);
            let forged = c"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/500x500/a.png";
            assert_eq!(
                imagor_verify(im, forged.as_ptr()),
                imagor_status::SignatureMismatch
            );
            assert_eq!(
                imagor_verify(ptr::null(), forged.as_ptr()),
                imagor_status::NullArgument
            );
            let long = std::ffi::CString::new("a/".repeat(40_000)).unwrap_or_default();
            assert_eq!(imagor_verify(im, long.as_ptr()), imagor_status::Invalid);
            imagor_string_free(hash);
            crate::handle::imagor_free(im);
        }
    }
}
