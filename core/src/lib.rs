//! # imagor
//!
//! A Rust re-implementation of [imagor](https://github.com/cshum/imagor), the
//! libvips image server that speaks thumbor's URL syntax, built as a library
//! first:
//!
//! - [`path`]: imagor's URL grammar (`/HASH|unsafe/trim/AxB:CxD/fit-in/-WxH/...`):
//!   parse a path into [`path::Params`] and generate it back;
//! - [`sign`]: HMAC URL signatures (sha1, sha256, sha512, truncation);
//! - [`hasher`]: the storage and result-storage key styles.
//!
//! ```
//! let params = imagor::path::parse("unsafe/fit-in/200x150/filters:format(webp)/photo.jpg");
//! assert!(params.fit_in);
//! assert_eq!((params.width, params.height), (200, 150));
//! let signer = imagor::sign::Signer::new(imagor::sign::SignerAlg::Sha1, 0, "secret");
//! let url = imagor::path::generate(&params, Some(&signer));
//! assert!(url.ends_with("/fit-in/200x150/filters:format(webp)/photo.jpg"));
//! ```
#![deny(missing_docs)]

pub(crate) mod arriving;
pub mod blob;
mod budget;
mod call;
pub mod detector;
pub mod duration;
pub mod error;
mod filters;
pub mod format;
pub mod formats;
pub mod hasher;
mod imagor;
pub mod loader;
mod mime_sniff;
mod net_runtime;
mod ops;
pub mod options;
pub mod path;
mod probe;
pub mod processor;
pub mod request;
pub mod safe_dir;
mod serve;
#[cfg(feature = "server")]
pub mod server;
pub mod sign;
pub mod stack;
pub mod storage;
pub mod svg;
#[cfg(feature = "leak-hook")]
pub mod testing;
mod tls;
pub mod vips;

pub use crate::imagor::Imagor;
pub use blob::{Blob, Stat};
/// The shared byte buffer of [`Blob::data`] and [`loader::SourceRoom::copy`].
pub use bytes::Bytes;
pub use error::{Error, Result};
pub use formats::{formats, Formats};
pub use options::{Options, MAX_OVERLAY_DEPTH};
pub use processor::{Meta, Output, Pixels};
pub use serve::Stats;

/// Process `data` with an imagor path using the default options
/// (imagor's limits; overlays that name URLs load over HTTP under the
/// default SSRF policy): `process(&jpeg, "fit-in/200x200/filters:format(webp)")`.
pub fn process(data: &[u8], path: &str) -> Result<Output> {
    crate::imagor::default_imagor()?.process(data, path)
}

/// The shared instance behind [`process`] and [`meta`] (default options,
/// created on first use), for the other [`Imagor`] calls without options.
pub fn default_instance() -> Result<&'static Imagor> {
    crate::imagor::default_imagor()
}

/// imagor's `/meta` of `data` after applying `path` (`""` for as is).
pub fn meta(data: &[u8], path: &str) -> Result<Meta> {
    crate::imagor::default_imagor()?.meta(data, path)
}
