//! [`Blob`]: bytes with what a loader or storage knows about them (content
//! type, size, modification time, ETag, response headers to pass on), as
//! imagor's `Blob` carries them through loaders, storages and responses.

use std::time::SystemTime;

use bytes::Bytes;

/// What a storage knows about a stored object (imagor's `Stat`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Last modification; `None` when unknown.
    pub modified: Option<SystemTime>,
    /// The storage's own ETag (S3's, quoted), when it has one.
    pub etag: Option<String>,
}

/// An image (or `/meta` JSON) and what is known about it. Cloning shares
/// the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blob {
    /// The bytes.
    pub data: Bytes,
    /// A content type given by the source (an HTTP origin's header, an
    /// upload's part); `None`: sniffed from the bytes.
    pub content_type: Option<String>,
    /// Size and modification time, from a file or an object storage.
    pub stat: Option<Stat>,
    /// Response headers the source asks to pass on (imagor's
    /// `blob.Header`, e.g. `-http-loader-override-response-headers`).
    pub headers: Vec<(String, String)>,
}

impl Blob {
    /// Bytes without anything else known about them.
    pub fn new(data: impl Into<Bytes>) -> Blob {
        Blob {
            data: data.into(),
            ..Blob::default()
        }
    }

    /// With a stat.
    pub fn with_stat(mut self, stat: Stat) -> Blob {
        self.stat = Some(stat);
        self
    }

    /// With a declared content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Blob {
        self.content_type = Some(content_type.into());
        self
    }

    /// No bytes.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The content type: the declared one, else sniffed from the bytes as
    /// imagor does (`application/octet-stream` when unknown).
    pub fn content_type(&self) -> String {
        match &self.content_type {
            Some(t) => t.clone(),
            None => crate::format::sniff(&self.data).content_type.to_owned(),
        }
    }
}

impl From<Vec<u8>> for Blob {
    fn from(data: Vec<u8>) -> Blob {
        Blob::new(data)
    }
}
