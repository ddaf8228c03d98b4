//! Image processing over C: [`imagor::Imagor::process`], `meta` and `serve`
//! on a handle, and [`imagor::process`] with default options.

use std::ffi::c_char;

use crate::args::{bytes_arg, str_arg, Out};
use crate::boundary::ffi_call;
use crate::bytes::{imagor_bytes, string_into_raw};
use crate::handle::{borrow, Handle};
use crate::status::{imagor_status, Failure};

/// Write a processed image to the out-parameters; the content type is
/// converted first so that nothing is written when that fails.
fn write_output(
    output: imagor::Output,
    out: Out<imagor_bytes>,
    out_content_type: Option<Out<*mut c_char>>,
) -> Result<(), Failure> {
    let content_type = match out_content_type {
        Some(o) => Some((o, string_into_raw(output.content_type)?)),
        None => None,
    };
    out.write(imagor_bytes::from_vec(output.data));
    if let Some((o, ct)) = content_type {
        o.write(ct);
    }
    Ok(())
}

/// Process an encoded image with an imagor path, using the handle's
/// options (limits, filters, loaders for `image()` overlays).
///
/// The path is an imagor path such as `fit-in/200x150/filters:format(webp)`;
/// a leading `unsafe/` or signature is accepted and not checked (see
/// imagor_serve() for that), and a trailing image segment is ignored. A
/// `meta/` path gives imagor's `/meta` JSON instead of an image.
///
/// @param im The handle.
/// @param data The encoded source image (JPEG, PNG, WebP, AVIF, GIF, TIFF,
///        ...). Must not be NULL, even when `len` is 0.
/// @param len The number of bytes at `data`.
/// @param path The imagor path.
/// @param out On success, the encoded result; release it with
///        imagor_bytes_free().
/// @param out_content_type Optional (may be NULL): on success, the MIME type
///        of the result (`"image/webp"`); release it with imagor_string_free().
/// @return ::IMAGOR_STATUS_OK; ::IMAGOR_STATUS_UNSUPPORTED_FORMAT for bytes
///         that are not an image; ::IMAGOR_STATUS_MAX_RESOLUTION_EXCEEDED;
///         ::IMAGOR_STATUS_INVALID; ::IMAGOR_STATUS_PROCESSING; ... with the
///         message from imagor_last_error_message().
///
/// # Safety
/// `im` is NULL or a live handle; `data` is NULL or readable for `len`
/// bytes; `path` is NULL or NUL-terminated; `out` and `out_content_type`
/// are NULL or valid for writing.
///
/// Thread-safe: one handle may serve many threads at once.
#[no_mangle]
pub unsafe extern "C" fn imagor_process(
    im: *const Handle,
    data: *const u8,
    len: usize,
    path: *const c_char,
    out: *mut imagor_bytes,
    out_content_type: *mut *mut c_char,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let im = unsafe { borrow(im, "im") }?;
        // SAFETY: forwarded from this function's contract.
        let data = unsafe { bytes_arg(data, len, "data") }?;
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { str_arg(path, "path") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out, "out") }?;
        // SAFETY: forwarded from this function's contract.
        let out_content_type = unsafe { Out::optional(out_content_type) };
        write_output(im.process(data, path)?, out, out_content_type)
    })
}

/// Process an encoded image with imagor's default options, without a
/// handle: the same as imagor_process() on a handle made from `""`.
///
/// @param data As for imagor_process().
/// @param len As for imagor_process().
/// @param path As for imagor_process().
/// @param out As for imagor_process().
/// @param out_content_type As for imagor_process() (optional).
/// @return As for imagor_process().
///
/// # Safety
/// As for imagor_process(), without the handle.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn imagor_process_default(
    data: *const u8,
    len: usize,
    path: *const c_char,
    out: *mut imagor_bytes,
    out_content_type: *mut *mut c_char,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let data = unsafe { bytes_arg(data, len, "data") }?;
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { str_arg(path, "path") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out, "out") }?;
        // SAFETY: forwarded from this function's contract.
        let out_content_type = unsafe { Out::optional(out_content_type) };
        write_output(imagor::process(data, path)?, out, out_content_type)
    })
}

/// imagor's `/meta` of an image after applying a path, as JSON:
/// `{"format":"webp","content_type":"image/webp","width":300,"height":200,
/// "orientation":0,"pages":1,"bands":3,"exif":{}}`.
///
/// @param im The handle.
/// @param data The encoded image. Must not be NULL.
/// @param len The number of bytes at `data`.
/// @param path An imagor path to apply first, or `""` for the image as is.
/// @param out_json On success, the JSON; release it with imagor_string_free().
/// @return As for imagor_process().
///
/// # Safety
/// `im` is NULL or a live handle; `data` is NULL or readable for `len`
/// bytes; `path` is NULL or NUL-terminated; `out_json` is NULL or valid for
/// writing a pointer.
///
/// Thread-safe: one handle may serve many threads at once.
#[no_mangle]
pub unsafe extern "C" fn imagor_meta(
    im: *const Handle,
    data: *const u8,
    len: usize,
    path: *const c_char,
    out_json: *mut *mut c_char,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let im = unsafe { borrow(im, "im") }?;
        // SAFETY: forwarded from this function's contract.
        let data = unsafe { bytes_arg(data, len, "data") }?;
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { str_arg(path, "path") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out_json, "out_json") }?;
        let meta = im.meta(data, path)?;
        let json =
            serde_json::to_string(&meta).map_err(|e| imagor::Error::Internal(e.to_string()))?;
        out.write(string_into_raw(json)?);
        Ok(())
    })
}

/// Serve a request path as imagor's server does: check the signature (or
/// `unsafe/` when the handle allows it), load the image through the
/// handle's loaders (`file_loader_base_dir`; `color:` images need none) and
/// process it.
///
/// @param im The handle.
/// @param path The request path, e.g. `HASH/fit-in/200x150/photo.jpg`.
/// @param out As for imagor_process().
/// @param out_content_type As for imagor_process() (optional).
/// @return ::IMAGOR_STATUS_OK; ::IMAGOR_STATUS_SIGNATURE_MISMATCH (403);
///         ::IMAGOR_STATUS_NOT_FOUND (404); the errors of imagor_process().
///         imagor_last_error_status() gives the HTTP status to answer with.
///
/// # Safety
/// `im` is NULL or a live handle; `path` is NULL or NUL-terminated; `out`
/// and `out_content_type` are NULL or valid for writing.
///
/// Thread-safe: one handle may serve many threads at once.
#[no_mangle]
pub unsafe extern "C" fn imagor_serve(
    im: *const Handle,
    path: *const c_char,
    out: *mut imagor_bytes,
    out_content_type: *mut *mut c_char,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let im = unsafe { borrow(im, "im") }?;
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { str_arg(path, "path") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out, "out") }?;
        // SAFETY: forwarded from this function's contract.
        let out_content_type = unsafe { Out::optional(out_content_type) };
        write_output(im.serve(path)?, out, out_content_type)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::{imagor_bytes_free, imagor_string_free};
    use std::ffi::CStr;
    use std::ptr;

    fn gopher() -> Vec<u8> {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/gopher.png");
        std::fs::read(file).unwrap_or_default()
    }

    #[test]
    fn process_default_to_webp() {
        let png = gopher();
        assert!(!png.is_empty());
        let mut out = imagor_bytes {
            data: ptr::null_mut(),
            len: 0,
        };
        let mut ct: *mut c_char = ptr::null_mut();
        // SAFETY: valid buffers and out-pointers; freed once.
        unsafe {
            let s = imagor_process_default(
                png.as_ptr(),
                png.len(),
                c"fit-in/64x64/filters:format(webp)".as_ptr(),
                &mut out,
                &mut ct,
            );
            assert_eq!(s, imagor_status::Ok);
            let bytes = std::slice::from_raw_parts(out.data, out.len);
            assert_eq!((&bytes[..4], &bytes[8..12]), (&b"RIFF"[..], &b"WEBP"[..]));
            assert_eq!(CStr::from_ptr(ct), c"image/webp");
            imagor_bytes_free(&mut out);
            imagor_string_free(ct);
        }
    }

    #[test]
    fn garbage_is_unsupported_and_writes_nothing() {
        let junk = [0x42_u8; 64];
        let mut out = imagor_bytes {
            data: ptr::dangling_mut::<u8>(),
            len: 7,
        };
        // SAFETY: valid buffers and out-pointer.
        let s = unsafe {
            imagor_process_default(
                junk.as_ptr(),
                junk.len(),
                c"".as_ptr(),
                &mut out,
                ptr::null_mut(),
            )
        };
        assert_eq!(s, imagor_status::UnsupportedFormat);
        assert_eq!((out.data, out.len), (ptr::dangling_mut::<u8>(), 7));
    }
}
