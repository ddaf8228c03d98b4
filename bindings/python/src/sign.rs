//! `sign` and `verify`: `imagor::sign::Signer`, with the keyed HMAC state
//! cached per (secret, signer type, truncate) so that a call costs one
//! HMAC over the path and no key setup.

use std::sync::{Arc, Mutex};

use imagor::sign::{Signer, SignerAlg};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyBytes, PyString};

use crate::error::{entry, type_error, value_error, IntoPyResult};

/// How many distinct signers are kept; an application uses one or two.
const CACHE_SIZE: usize = 16;

struct Entry {
    secret: Box<[u8]>,
    alg: SignerAlg,
    truncate: usize,
    signer: Arc<Signer>,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The signer for `(secret, alg, truncate)`, from the cache or new.
pub fn signer(secret: &[u8], alg: SignerAlg, truncate: usize) -> Arc<Signer> {
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(e) = cache
        .iter()
        .find(|e| e.alg == alg && e.truncate == truncate && *e.secret == *secret)
    {
        return Arc::clone(&e.signer);
    }
    let signer = Arc::new(Signer::new(alg, truncate, secret));
    if cache.len() >= CACHE_SIZE {
        cache.remove(0);
    }
    cache.push(Entry {
        secret: secret.into(),
        alg,
        truncate,
        signer: Arc::clone(&signer),
    });
    signer
}

/// A `str` (used as UTF-8) or `bytes` argument.
pub enum StrOrBytes {
    Str(PyBackedStr),
    Bytes(PyBackedBytes),
}

impl StrOrBytes {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            StrOrBytes::Str(s) => s.as_bytes(),
            StrOrBytes::Bytes(b) => b,
        }
    }

    /// `obj` as `str` or `bytes`; anything else is a `TypeError` naming
    /// the argument `what`.
    fn extract(obj: Borrowed<'_, '_, PyAny>, what: &str) -> PyResult<Self> {
        if obj.is_instance_of::<PyString>() {
            Ok(StrOrBytes::Str(obj.extract()?))
        } else if obj.is_instance_of::<PyBytes>() {
            Ok(StrOrBytes::Bytes(obj.extract()?))
        } else {
            Err(type_error(format!(
                "{what} must be str or bytes, not {}",
                obj.get_type().name()?
            )))
        }
    }
}

/// A secret given as `str` (UTF-8) or `bytes`.
pub struct Secret(StrOrBytes);

impl Secret {
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Secret {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        StrOrBytes::extract(obj, "secret").map(Secret)
    }
}

/// A path to sign or check, given as `str` (UTF-8) or `bytes` (signed as
/// they are, which need not be UTF-8).
pub struct SignedPath(StrOrBytes);

impl<'a, 'py> FromPyObject<'a, 'py> for SignedPath {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        StrOrBytes::extract(obj, "path").map(SignedPath)
    }
}

/// Run `f` with the signer for `secret`, `signer_type` (``None``: sha1)
/// and `truncate`, without the GIL: the signer type is parsed, the signer
/// looked up or keyed, and `f` run, all in the core.
pub fn with_signer<T: Send>(
    py: Python<'_>,
    secret: &Secret,
    signer_type: Option<&str>,
    truncate: i64,
    f: impl FnOnce(&Signer) -> T + Send,
) -> PyResult<T> {
    let truncate = usize::try_from(truncate)
        .map_err(|_| value_error(format!("truncate must not be negative, got {truncate}")))?;
    py.detach(|| {
        let alg = match signer_type {
            None => SignerAlg::Sha1,
            Some(t) => t.parse::<SignerAlg>()?,
        };
        Ok(f(&signer(secret.as_bytes(), alg, truncate)))
    })
    .py(py)
}

/// The URL signature of `path` (the part after the signature segment, e.g.
/// ``fit-in/300x200/photo.jpg``): padded base64url of HMAC(secret, path),
/// cut to `truncate` characters when `truncate` > 0. `signer_type` is
/// ``"sha1"`` (imagor's and thumbor's default), ``"sha256"`` or ``"sha512"``.
/// A ``bytes`` path is signed as its bytes, which need not be UTF-8 (imagor
/// also accepts the signature of the bytes ``caf%E9.jpg`` decodes to).
#[pyfunction]
#[pyo3(
    signature = (path, secret, signer_type = None, truncate = 0),
    text_signature = "(path, secret, signer_type=\"sha1\", truncate=0)"
)]
pub fn sign(
    py: Python<'_>,
    path: SignedPath,
    secret: Secret,
    signer_type: Option<PyBackedStr>,
    truncate: i64,
) -> PyResult<String> {
    entry(py, || {
        with_signer(py, &secret, signer_type.as_deref(), truncate, |s| {
            s.sign_bytes(path.0.as_bytes())
        })
    })
}

/// Whether `hash` is the signature of `path` (``str`` or ``bytes``, as for
/// `sign`) under `secret` (compared in constant time).
#[pyfunction]
#[pyo3(
    signature = (path, hash, secret, signer_type = None, truncate = 0),
    text_signature = "(path, hash, secret, signer_type=\"sha1\", truncate=0)"
)]
pub fn verify(
    py: Python<'_>,
    path: SignedPath,
    hash: PyBackedStr,
    secret: Secret,
    signer_type: Option<PyBackedStr>,
    truncate: i64,
) -> PyResult<bool> {
    entry(py, || {
        with_signer(py, &secret, signer_type.as_deref(), truncate, |s| {
            s.verify_bytes(path.0.as_bytes(), &hash)
        })
    })
}
