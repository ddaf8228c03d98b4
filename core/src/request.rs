//! An HTTP request and response as imagor's request handling sees them,
//! independent of any HTTP library: the server, the Express middleware and
//! any binding hand a [`Request`] to [`crate::Imagor`] and send back the
//! [`Response`] it gives, so every surface answers the same status,
//! headers and bytes.

use bytes::Bytes;

pub use crate::serve::{Nesting, NestingGuard, MAX_NESTED_REQUESTS};

/// An HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, ... (upper case).
    pub method: String,
    /// The path exactly as the client sent it (percent-escapes kept), after
    /// any server path prefix: what imagor signs and parses.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Request headers; names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body (POST uploads).
    pub body: Bytes,
}

impl Request {
    /// A `GET` of `path` with no headers.
    pub fn get(path: &str) -> Request {
        Request {
            method: "GET".to_owned(),
            path: path.to_owned(),
            ..Request::default()
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Response headers, in order (a name may repeat, e.g. `Vary`).
    pub headers: Vec<(String, String)>,
    /// The body (empty for `HEAD`, 304 and bodiless errors).
    pub body: Bytes,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A cancellation flag for one call: the server cancels it when the client
/// goes away, and the work of that call stops (libvips is killed between
/// tiles, loads and queue waits give up) with [`crate::Error::Cancelled`].
/// Cheap to clone; clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    /// A flag that is not cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Cancel the call (idempotent).
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Has [`Cancel::cancel`] been called?
    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}
