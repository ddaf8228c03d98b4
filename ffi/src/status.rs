//! [`imagor_status`], the result of every fallible call, and the one place
//! where errors are translated for C: core errors ([`imagor::Error`]) and
//! the failures of the crossing itself (NULL, bad UTF-8, panics) become a
//! [`Failure`], which knows its status, HTTP status and message.

use std::ffi::{c_char, c_int, CStr};

use crate::boundary::ffi_boundary;

/// The result of every fallible call of the C API.
///
/// The numbers are part of the ABI: they are explicit, stable and never
/// reused. 1 to 99 mirror imagor's error codes (`imagor::Error::code()`,
/// named by imagor_status_str()); 100 and up are failures of the C
/// boundary itself. A retired number stays reserved.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum imagor_status {
    /// Success: the out-parameters were written.
    Ok = 0,
    /// The image (or an overlay) does not exist (HTTP 404).
    NotFound = 1,
    /// A malformed path, filter argument, option or JSON input (HTTP 400).
    Invalid = 2,
    /// The HTTP method is not allowed (HTTP 405).
    MethodNotAllowed = 3,
    /// An HTTP source was refused by the loader's allow-list (HTTP 403).
    SourceNotAllowed = 4,
    /// The URL signature does not match the path (HTTP 403).
    SignatureMismatch = 5,
    /// A load, process or save step ran out of time (HTTP 408).
    Timeout = 6,
    /// The URL carried an `expire()` filter in the past (HTTP 410).
    Expired = 7,
    /// The bytes are not an image format that can be loaded or saved (HTTP 406).
    UnsupportedFormat = 8,
    /// The source is larger than the configured byte limit (HTTP 400).
    MaxSizeExceeded = 9,
    /// The image exceeds the configured width, height or resolution (HTTP 422).
    MaxResolutionExceeded = 10,
    /// The processing queue is full (HTTP 429).
    TooManyRequests = 11,
    /// libvips refused the image or an operation on it (HTTP 406).
    Processing = 12,
    /// An error with an explicit HTTP status, e.g. forwarded from an origin;
    /// see imagor_last_error_status().
    Status = 13,
    /// A bug or an environment failure inside imagor (HTTP 500).
    Internal = 14,
    /// A resource budget of the call would be exceeded (memory, frames,
    /// filter cost); the message names the option that sets it (HTTP 422).
    LimitExceeded = 15,
    /// The call was cancelled by its caller before it finished (HTTP 499).
    Cancelled = 16,
    /// A region detector failed or answered regions that cannot be used
    /// (HTTP 500).
    Detector = 17,
    /// A required pointer argument was NULL.
    NullArgument = 100,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 101,
    /// imagor panicked; the call was abandoned and the process goes on.
    Panic = 102,
}

/// Every status, in number order.
const ALL: [imagor_status; 21] = [
    imagor_status::Ok,
    imagor_status::NotFound,
    imagor_status::Invalid,
    imagor_status::MethodNotAllowed,
    imagor_status::SourceNotAllowed,
    imagor_status::SignatureMismatch,
    imagor_status::Timeout,
    imagor_status::Expired,
    imagor_status::UnsupportedFormat,
    imagor_status::MaxSizeExceeded,
    imagor_status::MaxResolutionExceeded,
    imagor_status::TooManyRequests,
    imagor_status::Processing,
    imagor_status::Status,
    imagor_status::Internal,
    imagor_status::LimitExceeded,
    imagor_status::Cancelled,
    imagor_status::Detector,
    imagor_status::NullArgument,
    imagor_status::InvalidUtf8,
    imagor_status::Panic,
];

impl imagor_status {
    /// The status numbered `n`, if there is one.
    pub fn from_raw(n: c_int) -> Option<imagor_status> {
        ALL.into_iter().find(|s| *s as c_int == n)
    }

    /// The stable lower-case name: imagor's error code (`"not_found"`) for
    /// 1..=17, `"ok"`, `"null_argument"`, `"invalid_utf8"` or `"panic"`.
    pub fn name(self) -> &'static CStr {
        match self {
            imagor_status::Ok => c"ok",
            imagor_status::NotFound => c"not_found",
            imagor_status::Invalid => c"invalid",
            imagor_status::MethodNotAllowed => c"method_not_allowed",
            imagor_status::SourceNotAllowed => c"source_not_allowed",
            imagor_status::SignatureMismatch => c"signature_mismatch",
            imagor_status::Timeout => c"timeout",
            imagor_status::Expired => c"expired",
            imagor_status::UnsupportedFormat => c"unsupported_format",
            imagor_status::MaxSizeExceeded => c"max_size_exceeded",
            imagor_status::MaxResolutionExceeded => c"max_resolution_exceeded",
            imagor_status::TooManyRequests => c"too_many_requests",
            imagor_status::Processing => c"processing",
            imagor_status::Status => c"status",
            imagor_status::Internal => c"internal",
            imagor_status::LimitExceeded => c"limit_exceeded",
            imagor_status::Cancelled => c"cancelled",
            imagor_status::Detector => c"detector",
            imagor_status::NullArgument => c"null_argument",
            imagor_status::InvalidUtf8 => c"invalid_utf8",
            imagor_status::Panic => c"panic",
        }
    }
}

impl From<&imagor::Error> for imagor_status {
    fn from(e: &imagor::Error) -> Self {
        use imagor::Error as E;
        match e {
            E::NotFound(_) => imagor_status::NotFound,
            E::Invalid(_) => imagor_status::Invalid,
            E::MethodNotAllowed => imagor_status::MethodNotAllowed,
            E::SourceNotAllowed => imagor_status::SourceNotAllowed,
            E::SignatureMismatch => imagor_status::SignatureMismatch,
            E::Timeout(_) => imagor_status::Timeout,
            E::Expired => imagor_status::Expired,
            E::UnsupportedFormat(_) => imagor_status::UnsupportedFormat,
            E::MaxSizeExceeded => imagor_status::MaxSizeExceeded,
            E::MaxResolutionExceeded => imagor_status::MaxResolutionExceeded,
            E::TooManyRequests => imagor_status::TooManyRequests,
            E::Processing(_) => imagor_status::Processing,
            E::Status { .. } => imagor_status::Status,
            E::Internal(_) => imagor_status::Internal,
            E::LimitExceeded { .. } => imagor_status::LimitExceeded,
            E::Cancelled => imagor_status::Cancelled,
            E::Detector(_) => imagor_status::Detector,
            // `imagor::Error` is non-exhaustive: a variant added later is
            // reported as internal until it gets its own number here.
            _ => imagor_status::Internal,
        }
    }
}

/// Why a call failed: a core error, or a failure of the crossing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// imagor answered with an error.
    Core(imagor::Error),
    /// The named pointer argument was NULL.
    NullArgument(&'static str),
    /// The named string argument was not UTF-8.
    InvalidUtf8(&'static str),
    /// A panic, with its message.
    Panic(String),
}

impl From<imagor::Error> for Failure {
    fn from(e: imagor::Error) -> Self {
        Failure::Core(e)
    }
}

impl Failure {
    /// The status the call returns.
    pub(crate) fn status(&self) -> imagor_status {
        match self {
            Failure::Core(e) => e.into(),
            Failure::NullArgument(_) => imagor_status::NullArgument,
            Failure::InvalidUtf8(_) => imagor_status::InvalidUtf8,
            Failure::Panic(_) => imagor_status::Panic,
        }
    }

    /// The HTTP status a server would answer with: imagor's for core
    /// errors, 400 for text that is not UTF-8 (a bad request path), 500 for
    /// a NULL argument or a panic (a bug on the calling or our side).
    pub(crate) fn http_status(&self) -> u16 {
        match self {
            Failure::Core(e) => e.status(),
            Failure::InvalidUtf8(_) => 400,
            Failure::NullArgument(_) | Failure::Panic(_) => 500,
        }
    }

    /// The text of imagor_last_error_message(): imagor's message for core
    /// errors (`"url signature mismatch"`), otherwise naming the argument.
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Core(e) => e.message(),
            Failure::NullArgument(arg) => format!("NULL argument: {arg}"),
            Failure::InvalidUtf8(arg) => format!("invalid UTF-8 in argument: {arg}"),
            Failure::Panic(msg) => format!("panic in imagor: {msg}"),
        }
    }
}

/// The stable name of a status (`"ok"`, `"not_found"`, `"signature_mismatch"`,
/// `"null_argument"`, ...), the same code the Python and Node bindings use.
///
/// @param status A value returned by an imagor function. It is taken as an
///        `int` so that any number is safe to pass.
/// @return A static NUL-terminated string, never NULL and never to be freed;
///         `"unknown"` for a number that is not a status.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn imagor_status_str(status: c_int) -> *const c_char {
    ffi_boundary(|| {
        imagor_status::from_raw(status)
            .map_or(c"unknown", imagor_status::name)
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core_errors() -> Vec<imagor::Error> {
        use imagor::Error as E;
        vec![
            E::NOT_FOUND,
            E::invalid(),
            E::MethodNotAllowed,
            E::SourceNotAllowed,
            E::SignatureMismatch,
            E::timeout(),
            E::Expired,
            E::unsupported(),
            E::MaxSizeExceeded,
            E::MaxResolutionExceeded,
            E::TooManyRequests,
            E::Processing("x".into()),
            E::Status {
                message: "teapot".into(),
                status: 418,
            },
            E::internal(),
            E::limit("max_memory", "too big"),
            E::Cancelled,
            E::Detector("x".into()),
        ]
    }

    #[test]
    fn every_core_code_has_its_own_status_named_alike() {
        let mut seen = std::collections::HashSet::new();
        for e in core_errors() {
            let s = imagor_status::from(&e);
            assert_eq!(s.name().to_str().ok(), Some(e.code()), "{e:?}");
            assert!(seen.insert(s), "{s:?} used twice");
            assert_ne!(s, imagor_status::Ok);
        }
        assert_eq!(seen.len(), 17);
    }

    #[test]
    fn numbers_are_stable() {
        let numbers: Vec<(c_int, &str)> = ALL
            .iter()
            .map(|s| (*s as c_int, s.name().to_str().unwrap_or("")))
            .collect();
        assert_eq!(
            numbers,
            [
                (0, "ok"),
                (1, "not_found"),
                (2, "invalid"),
                (3, "method_not_allowed"),
                (4, "source_not_allowed"),
                (5, "signature_mismatch"),
                (6, "timeout"),
                (7, "expired"),
                (8, "unsupported_format"),
                (9, "max_size_exceeded"),
                (10, "max_resolution_exceeded"),
                (11, "too_many_requests"),
                (12, "processing"),
                (13, "status"),
                (14, "internal"),
                (15, "limit_exceeded"),
                (16, "cancelled"),
                (17, "detector"),
                (100, "null_argument"),
                (101, "invalid_utf8"),
                (102, "panic"),
            ]
        );
        for s in ALL {
            assert_eq!(imagor_status::from_raw(s as c_int), Some(s));
        }
    }

    #[test]
    fn status_str_names_and_unknown() {
        // SAFETY: imagor_status_str returns static NUL-terminated strings.
        let name = |n| unsafe { CStr::from_ptr(imagor_status_str(n)) };
        assert_eq!(name(5), c"signature_mismatch");
        assert_eq!(name(102), c"panic");
        assert_eq!(name(-1), c"unknown");
        assert_eq!(name(16), c"cancelled");
        assert_eq!(name(17), c"detector");
        assert_eq!(name(18), c"unknown");
        assert_eq!(name(c_int::MAX), c"unknown");
    }

    #[test]
    fn failures_carry_http_status_and_message() {
        let f = Failure::from(imagor::Error::SignatureMismatch);
        assert_eq!(f.status(), imagor_status::SignatureMismatch);
        assert_eq!(
            (f.http_status(), f.message().as_str()),
            (403, "url signature mismatch")
        );
        let f = Failure::NullArgument("path");
        assert_eq!(
            (f.http_status(), f.message().as_str()),
            (500, "NULL argument: path")
        );
        let f = Failure::InvalidUtf8("path");
        assert_eq!(f.http_status(), 400);
        let f = Failure::from(imagor::Error::Status {
            message: "teapot".into(),
            status: 418,
        });
        assert_eq!((f.status(), f.http_status()), (imagor_status::Status, 418));
    }
}
