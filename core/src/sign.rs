//! URL signatures: HMAC over the path, padded base64url, optionally cut.
//!
//! imagor signs the request path after the signature segment exactly as it
//! appears in the URL (no unescaping), i.e. [`Params::path`] of the parsed
//! request: for `/HASH/fit-in/100x100/a.jpg` that is `fit-in/100x100/a.jpg`.
//!
//! ```
//! use imagor::sign::{Signer, SignerAlg};
//!
//! let signer = Signer::new(SignerAlg::Sha256, 40, "mysecret");
//! let hash = signer.sign("500x500/top/raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png");
//! assert_eq!(hash, "IGEn3TxngivD0jy4uuiZim2bdUCvhcnVi1Nm0xGy");
//! assert!(signer.verify("500x500/top/raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png", &hash));
//! ```
//!
//! [`Params::path`]: crate::path::Params::path

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::Error;

/// The hash function of the HMAC (imagor's `-imagor-signer-type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SignerAlg {
    /// HMAC-SHA1, imagor's and thumbor's default (28-character hashes).
    #[default]
    Sha1,
    /// HMAC-SHA256 (44 characters).
    Sha256,
    /// HMAC-SHA512 (88 characters).
    Sha512,
}

impl SignerAlg {
    /// The flag value: `sha1`, `sha256` or `sha512`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignerAlg::Sha1 => "sha1",
            SignerAlg::Sha256 => "sha256",
            SignerAlg::Sha512 => "sha512",
        }
    }

    /// imagor's lenient reading of `-imagor-signer-type`: `sha256` and
    /// `sha512` (any case) select those, anything else falls back to SHA1.
    /// [`FromStr`] is the strict alternative.
    pub fn from_flag_lenient(s: &str) -> Self {
        s.parse().unwrap_or_default()
    }
}

impl FromStr for SignerAlg {
    type Err = Error;

    /// `sha1`, `sha256` or `sha512`, case-insensitive (imagor lower-cases the
    /// flag); anything else is an [`Error::Invalid`] (imagor itself would
    /// silently use SHA1, see [`SignerAlg::from_flag_lenient`]).
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "sha1" => Ok(SignerAlg::Sha1),
            "sha256" => Ok(SignerAlg::Sha256),
            "sha512" => Ok(SignerAlg::Sha512),
            _ => Err(Error::invalid_msg(format!(
                "unknown signer type {s:?}: expected sha1, sha256 or sha512"
            ))),
        }
    }
}

impl fmt::Display for SignerAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The keyed HMAC state, computed once from the secret.
#[derive(Clone)]
enum Keyed {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

fn keyed<M: Mac + hmac::digest::KeyInit>(secret: &[u8]) -> M {
    // HMAC takes keys of any length (long keys are hashed), so this cannot
    // fail; the error type exists only for fixed-size-key MACs.
    <M as hmac::digest::KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

/// Signs and verifies imagor paths (imagor's `NewHMACSigner`).
///
/// The secret is never shown by `Debug`.
#[derive(Clone)]
pub struct Signer {
    alg: SignerAlg,
    truncate: usize,
    mac: Keyed,
}

impl Signer {
    /// A signer with hash `alg`, hashes cut to `truncate` characters
    /// (0 = full length; a length beyond the hash keeps the full hash), and
    /// `secret` as the HMAC key.
    pub fn new(alg: SignerAlg, truncate: usize, secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        let mac = match alg {
            SignerAlg::Sha1 => Keyed::Sha1(keyed(secret)),
            SignerAlg::Sha256 => Keyed::Sha256(keyed(secret)),
            SignerAlg::Sha512 => Keyed::Sha512(keyed(secret)),
        };
        Signer { alg, truncate, mac }
    }

    /// imagor's default signer: HMAC-SHA1, no truncation.
    pub fn sha1(secret: impl AsRef<[u8]>) -> Self {
        Signer::new(SignerAlg::Sha1, 0, secret)
    }

    /// The hash function.
    pub fn alg(&self) -> SignerAlg {
        self.alg
    }

    /// The truncation length (0 = none).
    pub fn truncate(&self) -> usize {
        self.truncate
    }

    /// The signature of `path`: padded base64url of HMAC(secret, path),
    /// cut to the truncation length.
    pub fn sign(&self, path: &str) -> String {
        self.sign_bytes(path.as_bytes())
    }

    /// [`Signer::sign`] of a path's bytes, which need not be UTF-8 (imagor
    /// signs the bytes a request path decodes to).
    pub fn sign_bytes(&self, path: &[u8]) -> String {
        let digest = match &self.mac {
            Keyed::Sha1(m) => m
                .clone()
                .chain_update(path)
                .finalize()
                .into_bytes()
                .to_vec(),
            Keyed::Sha256(m) => m
                .clone()
                .chain_update(path)
                .finalize()
                .into_bytes()
                .to_vec(),
            Keyed::Sha512(m) => m
                .clone()
                .chain_update(path)
                .finalize()
                .into_bytes()
                .to_vec(),
        };
        let mut sig = URL_SAFE.encode(digest);
        if self.truncate > 0 && sig.len() > self.truncate {
            // base64 output is ASCII: any byte index is a char boundary.
            sig.truncate(self.truncate);
        }
        sig
    }

    /// Whether `hash` is the signature of `path`, compared in constant time.
    pub fn verify(&self, path: &str, hash: &str) -> bool {
        self.verify_bytes(path.as_bytes(), hash)
    }

    /// [`Signer::verify`] of a path's bytes, which need not be UTF-8.
    pub fn verify_bytes(&self, path: &[u8], hash: &str) -> bool {
        self.sign_bytes(path)
            .as_bytes()
            .ct_eq(hash.as_bytes())
            .into()
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("alg", &self.alg)
            .field("truncate", &self.truncate)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagor_test_vector() {
        let s = Signer::new(SignerAlg::Sha256, 28, "abcd");
        assert_eq!(s.sign("assfasf"), "zb6uWXQxwJDOe_zOgxkuj96Etrsz");
        assert!(s.verify("assfasf", "zb6uWXQxwJDOe_zOgxkuj96Etrsz"));
        assert!(!s.verify("assfasf", "zb6uWXQxwJDOe_zOgxkuj96Etrs"));
        assert!(!s.verify("assfasf", ""));
    }

    #[test]
    fn truncation_and_lengths() {
        for (alg, len) in [
            (SignerAlg::Sha1, 28),
            (SignerAlg::Sha256, 44),
            (SignerAlg::Sha512, 88),
        ] {
            assert_eq!(Signer::new(alg, 0, "k").sign("p").len(), len);
            assert_eq!(Signer::new(alg, 1000, "k").sign("p").len(), len);
            assert_eq!(Signer::new(alg, 5, "k").sign("p").len(), 5);
        }
        assert_eq!(
            Signer::sha1("").sign(""),
            Signer::new(SignerAlg::Sha1, 0, b"").sign("")
        );
    }

    #[test]
    fn alg_names() {
        assert_eq!("SHA256".parse::<SignerAlg>().ok(), Some(SignerAlg::Sha256));
        let err = "md5".parse::<SignerAlg>().err();
        assert_eq!(err.map(|e| e.status()), Some(400));
        assert_eq!(SignerAlg::from_flag_lenient("md5"), SignerAlg::Sha1);
        assert!(!format!("{:?}", Signer::sha1("topsecret")).contains("topsecret"));
    }
}
