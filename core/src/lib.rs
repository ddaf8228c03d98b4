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

pub mod error;
pub mod hasher;
pub mod path;
pub mod sign;
pub mod vips;

pub use error::{Error, Result};
