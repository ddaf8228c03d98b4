//! The one error type of the crate.
//!
//! Every variant mirrors an imagor error value (`errors.go`): it carries
//! imagor's message and HTTP status, plus a stable machine-readable
//! [`Error::code`] that the C, Python and Node bindings expose unchanged.

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in parsing, signing, loading or processing.
///
/// The `Display` text is imagor's message (`"url signature mismatch"`), the
/// HTTP status is [`Error::status`] and the stable code is [`Error::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The image (or an overlay) does not exist. 404.
    ///
    /// The key that was looked up, when known, is shown in the message
    /// (`not found: images/a+b.jpg`) so a typo or imagor's key normalisation
    /// is visible; URL credentials and query strings are left out. The
    /// server's JSON body stays imagor's plain `"not found"`.
    #[error("{}", not_found_text(.0.as_deref()))]
    NotFound(Option<String>),
    /// The request is malformed: a bad path, filter argument or option. 400.
    ///
    /// The message is `"invalid"` for imagor's `ErrInvalid`, or a specific
    /// text such as `"blurhash requires exactly x and y components"`.
    #[error("{0}")]
    Invalid(String),
    /// The HTTP method is not allowed. 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// An HTTP source was refused by the loader's allow-list. 403.
    #[error("http source not allowed")]
    SourceNotAllowed,
    /// The URL signature does not match the path. 403.
    #[error("url signature mismatch")]
    SignatureMismatch,
    /// A load, process or save step ran out of time. 408.
    ///
    /// The message is imagor's `"timeout"`, or names the limit that was hit
    /// (`"timeout: processing took longer than process_timeout (2s)"`).
    #[error("{0}")]
    Timeout(String),
    /// The URL carried an `expire()` filter in the past. 410.
    #[error("expired")]
    Expired,
    /// The bytes are not an image format we can load or save, or a format
    /// refused by configuration. 406.
    ///
    /// The message is imagor's `"unsupported format"`, or says which format
    /// was refused and why (`"unsupported format: pdf input is refused ..."`).
    #[error("{0}")]
    UnsupportedFormat(String),
    /// The source is larger than the configured byte limit. 400.
    #[error("maximum size exceeded")]
    MaxSizeExceeded,
    /// The image is wider, taller or bigger than the configured limits. 422.
    #[error("maximum resolution exceeded")]
    MaxResolutionExceeded,
    /// The processing queue is full. 429.
    #[error("too many requests")]
    TooManyRequests,
    /// A resource budget of the call would be exceeded: memory, frames,
    /// filter cost, text size. 422, like imagor's resolution limit. The
    /// message says what was asked for and names the option that limits it.
    #[error("{message}")]
    LimitExceeded {
        /// The [`crate::Options`] field that sets the limit (`max_memory`).
        option: String,
        /// What was asked for and the limit.
        message: String,
    },
    /// libvips refused the image or an operation on it. 406, as imagor.
    #[error("{0}")]
    Processing(String),
    /// An error with an explicit status, e.g. an upstream HTTP status that a
    /// loader forwards (`404 Not Found` from the origin).
    #[error("{message}")]
    Status {
        /// imagor's message.
        message: String,
        /// HTTP status code.
        status: u16,
    },
    /// A bug or an environment failure on our side. 500.
    #[error("{0}")]
    Internal(String),
    /// A region detector failed, or answered regions that cannot be used
    /// (non-finite numbers, inverted boxes, too many): 500, naming what
    /// was wrong. See [`crate::detector`].
    #[error("{0}")]
    Detector(String),
    /// The caller went away (the client closed the connection, or a
    /// [`crate::request::Cancel`] was cancelled) and the work was stopped.
    /// 499, answered without a body as imagor does.
    #[error("client closed request")]
    Cancelled,
}

impl Error {
    /// imagor's plain `ErrNotFound`: not found, with no key to name.
    pub const NOT_FOUND: Error = Error::NotFound(None);

    /// A 404 naming the key that was looked up (see [`Error::NotFound`]).
    pub fn not_found(key: &str) -> Self {
        Error::NotFound(Some(shown_key(key)))
    }

    /// This error, naming `key` if it is a [`Error::NotFound`] that names
    /// none yet; any other error is returned unchanged.
    pub fn naming_key(self, key: &str) -> Self {
        match self {
            Error::NotFound(None) if !key.is_empty() => Error::not_found(key),
            e => e,
        }
    }

    /// imagor's plain `ErrInvalid` (`{"message":"invalid","status":400}`).
    pub fn invalid() -> Self {
        Error::Invalid("invalid".to_owned())
    }

    /// A 400 error with a specific message.
    pub fn invalid_msg(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// imagor's `ErrInternal` (`"internal error"`, 500).
    pub fn internal() -> Self {
        Error::Internal("internal error".to_owned())
    }

    /// imagor's plain `ErrUnsupportedFormat` (`"unsupported format"`, 406).
    pub fn unsupported() -> Self {
        Error::UnsupportedFormat("unsupported format".to_owned())
    }

    /// imagor's plain `ErrTimeout` (`{"message":"timeout","status":408}`).
    pub fn timeout() -> Self {
        Error::Timeout("timeout".to_owned())
    }

    /// A [`Error::LimitExceeded`] for `option`.
    pub fn limit(option: &str, message: impl Into<String>) -> Self {
        Error::LimitExceeded {
            option: option.to_owned(),
            message: message.into(),
        }
    }

    /// The HTTP status imagor answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            Error::NotFound(_) => 404,
            Error::Invalid(_) | Error::MaxSizeExceeded => 400,
            Error::MethodNotAllowed => 405,
            Error::SourceNotAllowed | Error::SignatureMismatch => 403,
            Error::Timeout(_) => 408,
            Error::Expired => 410,
            Error::UnsupportedFormat(_) | Error::Processing(_) => 406,
            Error::MaxResolutionExceeded | Error::LimitExceeded { .. } => 422,
            Error::TooManyRequests => 429,
            Error::Status { status, .. } => *status,
            Error::Internal(_) | Error::Detector(_) => 500,
            Error::Cancelled => 499,
        }
    }

    /// A stable, machine-readable name for the kind of error.
    ///
    /// These never change once released; bindings derive their own codes
    /// from them (`ERR_IMAGOR_NOT_FOUND` in Node, `imagor.NotFoundError` in
    /// Python, `IMAGOR_STATUS_NOT_FOUND` in C).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not_found",
            Error::Invalid(_) => "invalid",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::SourceNotAllowed => "source_not_allowed",
            Error::SignatureMismatch => "signature_mismatch",
            Error::Timeout(_) => "timeout",
            Error::Expired => "expired",
            Error::UnsupportedFormat(_) => "unsupported_format",
            Error::MaxSizeExceeded => "max_size_exceeded",
            Error::MaxResolutionExceeded => "max_resolution_exceeded",
            Error::TooManyRequests => "too_many_requests",
            Error::LimitExceeded { .. } => "limit_exceeded",
            Error::Processing(_) => "processing",
            Error::Status { .. } => "status",
            Error::Internal(_) => "internal",
            Error::Cancelled => "cancelled",
            Error::Detector(_) => "detector",
        }
    }

    /// The error of kind `code` (as [`Error::code`] names it), keeping
    /// `message` where the kind carries one: how a binding reads back an
    /// imagor error that a host-language callback (a loader) raised with
    /// words of its own, or that a call nested in one raised. A
    /// [`Error::LimitExceeded`] read back this way names no option (its
    /// message does). `None` for codes that are not such a kind.
    pub fn from_code(code: &str, message: &str) -> Option<Error> {
        Some(match code {
            "not_found" => Error::NOT_FOUND,
            "invalid" => Error::Invalid(message.to_owned()),
            "method_not_allowed" => Error::MethodNotAllowed,
            "source_not_allowed" => Error::SourceNotAllowed,
            "signature_mismatch" => Error::SignatureMismatch,
            "timeout" => Error::Timeout(message.to_owned()),
            "expired" => Error::Expired,
            "unsupported_format" => Error::UnsupportedFormat(message.to_owned()),
            "max_size_exceeded" => Error::MaxSizeExceeded,
            "max_resolution_exceeded" => Error::MaxResolutionExceeded,
            "too_many_requests" => Error::TooManyRequests,
            "limit_exceeded" => Error::limit("", message),
            "processing" => Error::Processing(message.to_owned()),
            _ => return None,
        })
    }

    /// The message: imagor's, plus the key for a [`Error::NotFound`]
    /// that names one. The same as `Display`.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// imagor's own message, as in its JSON error body: as
    /// [`Error::message`], but a [`Error::NotFound`] is plain `"not found"`.
    pub fn imagor_message(&self) -> String {
        match self {
            Error::NotFound(_) => not_found_text(None),
            e => e.to_string(),
        }
    }

    /// The compact JSON body imagor's server answers with:
    /// `{"message":"...","status":N}` (keys in that order).
    pub fn to_json(&self) -> String {
        self.json_with(self.imagor_message())
    }

    /// As [`Error::to_json`], with the full [`Error::message`] (naming the
    /// key of a [`Error::NotFound`]): for the command line and logs, where
    /// imagor's exact body is not expected.
    pub fn to_detailed_json(&self) -> String {
        self.json_with(self.message())
    }

    fn json_with(&self, message: String) -> String {
        let body = ErrorBody {
            message,
            status: self.status(),
        };
        serde_json::to_string(&body)
            .unwrap_or_else(|_| format!("{{\"message\":\"internal error\",\"status\":{}}}", 500))
    }

    /// Rebuild an error from imagor's `(message, status)` pair, choosing the
    /// named variant when the pair is one of imagor's canonical values.
    pub fn from_status(message: &str, status: u16) -> Self {
        let named = match (status, message) {
            (404, "not found") => Some(Error::NOT_FOUND),
            (405, "method not allowed") => Some(Error::MethodNotAllowed),
            (403, "http source not allowed") => Some(Error::SourceNotAllowed),
            (403, "url signature mismatch") => Some(Error::SignatureMismatch),
            (408, _) => Some(Error::Timeout(message.to_owned())),
            (410, "expired") => Some(Error::Expired),
            (406, "unsupported format") => Some(Error::unsupported()),
            (400, "maximum size exceeded") => Some(Error::MaxSizeExceeded),
            (422, "maximum resolution exceeded") => Some(Error::MaxResolutionExceeded),
            (429, "too many requests") => Some(Error::TooManyRequests),
            (499, _) => Some(Error::Cancelled),
            _ => None,
        };
        named.unwrap_or_else(|| match status {
            400 => Error::Invalid(message.to_owned()),
            406 => Error::Processing(message.to_owned()),
            500 => Error::Internal(message.to_owned()),
            _ => Error::Status {
                message: message.to_owned(),
                status,
            },
        })
    }
}

fn not_found_text(key: Option<&str>) -> String {
    match key {
        Some(key) => format!("not found: {key}"),
        None => "not found".to_owned(),
    }
}

/// The longest key a message shows, in characters; longer ones are cut
/// with an ellipsis.
const MAX_SHOWN_KEY: usize = 256;

/// `key` as a message may show it: a URL loses its user info, query and
/// fragment (where signatures and tokens live), and a long key is cut.
fn shown_key(key: &str) -> String {
    let mut shown = key.to_owned();
    if let Some(scheme_end) = key.find("://") {
        let rest = &key[scheme_end + 3..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let path = path.split(['?', '#']).next().unwrap_or("");
        shown = format!("{}://{host}{path}", &key[..scheme_end]);
    }
    if shown.chars().count() > MAX_SHOWN_KEY {
        shown = shown.chars().take(MAX_SHOWN_KEY).collect::<String>() + "...";
    }
    shown
}

#[derive(serde::Serialize)]
struct ErrorBody {
    message: String,
    status: u16,
}

/// Shown by `{:#}`-less formatting in logs: `imagor: 404 not found`, the text
/// imagor's Go errors print (and parse back in `WrapError`).
pub struct ImagorText<'a>(pub &'a Error);

impl fmt::Display for ImagorText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "imagor: {} {}", self.0.status(), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_match_imagor() {
        assert_eq!(
            Error::NOT_FOUND.to_json(),
            r#"{"message":"not found","status":404}"#
        );
        assert_eq!(
            Error::not_found("a+b.jpg").to_json(),
            r#"{"message":"not found","status":404}"#
        );
        assert_eq!(
            Error::invalid().to_json(),
            r#"{"message":"invalid","status":400}"#
        );
        assert_eq!(
            Error::MaxResolutionExceeded.to_json(),
            r#"{"message":"maximum resolution exceeded","status":422}"#
        );
        assert_eq!(
            Error::internal().to_json(),
            r#"{"message":"internal error","status":500}"#
        );
    }

    #[test]
    fn from_status_round_trips_named_errors() {
        for e in [
            Error::NOT_FOUND,
            Error::SignatureMismatch,
            Error::SourceNotAllowed,
            Error::unsupported(),
            Error::MaxResolutionExceeded,
            Error::invalid(),
            Error::Processing("VipsJpeg: premature end".into()),
        ] {
            assert_eq!(Error::from_status(&e.message(), e.status()), e);
        }
        let e = Error::from_status("errorrrr", 167);
        assert_eq!(e.status(), 167);
        assert_eq!(ImagorText(&e).to_string(), "imagor: 167 errorrrr");
    }

    #[test]
    fn from_code_round_trips_the_kinds_a_callback_can_raise() {
        for e in [
            Error::NOT_FOUND,
            Error::Invalid("keys are lower case".into()),
            Error::MethodNotAllowed,
            Error::SourceNotAllowed,
            Error::SignatureMismatch,
            Error::Timeout("slow".into()),
            Error::Expired,
            Error::UnsupportedFormat("tga".into()),
            Error::MaxSizeExceeded,
            Error::MaxResolutionExceeded,
            Error::TooManyRequests,
            Error::limit("max_memory", "needs 300 MiB"),
            Error::Processing("VipsJpeg: premature end".into()),
        ] {
            let back = Error::from_code(e.code(), &e.message()).unwrap();
            assert_eq!((back.code(), back.status()), (e.code(), e.status()));
        }
        assert_eq!(
            Error::from_code("invalid", "keys are lower case").map(|e| e.message()),
            Some(Error::Invalid("keys are lower case".into()).message())
        );
        assert!(Error::from_code("internal", "x").is_none());
        assert!(Error::from_code("nonsense", "x").is_none());
    }

    #[test]
    fn not_found_names_the_key_without_secrets() {
        assert_eq!(
            Error::not_found("a+b.jpg").to_string(),
            "not found: a+b.jpg"
        );
        assert_eq!(Error::NOT_FOUND.to_string(), "not found");
        assert_eq!(
            Error::not_found("https://user:pw@example.com/x.jpg?sig=abc#f").to_string(),
            "not found: https://example.com/x.jpg"
        );
        let long = "k".repeat(1000);
        assert_eq!(
            Error::not_found(&long).to_string().len(),
            "not found: ".len() + MAX_SHOWN_KEY + 3
        );
        assert_eq!(
            Error::NOT_FOUND.naming_key("x.png"),
            Error::not_found("x.png")
        );
        assert_eq!(
            Error::not_found("a").naming_key("b"),
            Error::not_found("a"),
            "the first key named stays"
        );
        assert_eq!(Error::Expired.naming_key("b"), Error::Expired);
    }
}
