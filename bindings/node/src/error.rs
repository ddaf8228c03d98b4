//! The one place where failures become JavaScript errors.
//!
//! Every failure is first a [`Failure`]: plain Rust data (`Send`), so it can
//! be made on a libuv or loader thread. On the JavaScript thread
//! [`Failure::into_js`] turns it into
//!
//! - an `ImagorError` (the class `index.js` defines and registers through
//!   `__init`) with `.code` (`ERR_IMAGOR_` + [`imagor::Error::code`]
//!   upper-cased, e.g. `ERR_IMAGOR_SIGNATURE_MISMATCH`) and `.status`
//!   (imagor's HTTP status), for errors of imagor itself;
//! - a `TypeError` with Node's `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`
//!   codes, for arguments and options the caller got wrong;
//! - an `ImagorError` with code `ERR_IMAGOR_PANIC` and status 500 when Rust
//!   panicked: [`guard`] (synchronous exports) and [`catch`] (work on other
//!   threads) catch every unwind, so no export can abort the process.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::{FnArgs, JsObjectValue, Unknown};
use napi::{Env, JsValue, ValueType};

/// Code of a Rust panic caught at the boundary.
pub(crate) const PANIC_CODE: &str = "ERR_IMAGOR_PANIC";

/// What went wrong, as plain data until it reaches the JavaScript thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An imagor error or a caught panic: becomes an `ImagorError`.
    Imagor {
        /// imagor's message.
        message: String,
        /// `ERR_IMAGOR_*`.
        code: String,
        /// imagor's HTTP status.
        status: u16,
    },
    /// A caller mistake in an argument or option: becomes a `TypeError`.
    Type {
        /// What is wrong, naming the argument or option.
        message: String,
        /// `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE`.
        code: &'static str,
    },
}

/// `typeof` of a value kind, for error messages.
pub(crate) fn js_type(kind: ValueType) -> &'static str {
    match kind {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "boolean",
        ValueType::Number => "number",
        ValueType::String => "string",
        ValueType::Symbol => "symbol",
        ValueType::Object => "object",
        ValueType::Function => "function",
        ValueType::BigInt => "bigint",
        ValueType::External | ValueType::Unknown => "an unknown value",
    }
}

/// Shorthand for results whose error is a [`Failure`].
pub type Fallible<T> = std::result::Result<T, Failure>;

impl From<imagor::Error> for Failure {
    fn from(e: imagor::Error) -> Self {
        Failure::Imagor {
            message: e.message(),
            code: js_code(e.code()),
            status: e.status(),
        }
    }
}

/// `signature_mismatch` → `ERR_IMAGOR_SIGNATURE_MISMATCH`.
pub(crate) fn js_code(code: &str) -> String {
    format!("ERR_IMAGOR_{}", code.to_ascii_uppercase())
}

impl Failure {
    /// A value of the right type but not an accepted one.
    pub(crate) fn bad_value(message: impl Into<String>) -> Self {
        Failure::Type {
            message: message.into(),
            code: "ERR_INVALID_ARG_VALUE",
        }
    }

    /// A value of the wrong type.
    pub(crate) fn bad_type(message: impl Into<String>) -> Self {
        Failure::Type {
            message: message.into(),
            code: "ERR_INVALID_ARG_TYPE",
        }
    }

    /// A caught panic, with its message when it had one.
    pub(crate) fn panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        // The payload is dropped here, inside the boundary.
        drop(payload);
        Failure::Imagor {
            message: format!("internal error: Rust panic: {text}"),
            code: PANIC_CODE.to_owned(),
            status: 500,
        }
    }

    /// The JavaScript error for this failure, wrapped so that napi throws
    /// (or rejects with) exactly that object.
    pub(crate) fn into_js(self, env: &Env) -> napi::Error {
        match self.build(env) {
            Ok(err) => err,
            // Building the object failed (the environment is going away):
            // fall back to a plain Error carrying the message.
            Err(e) => e,
        }
    }

    fn build(self, env: &Env) -> napi::Result<napi::Error> {
        // Reading a caller's value ran JavaScript that threw (a getter, a
        // Proxy trap): that exception, still pending, is what the call
        // throws (napi rethrows nothing over it). It was replaced by
        // `TypeError: get_named_property error`.
        let mut pending = false;
        // SAFETY: `env` is the live environment of the current call.
        let status = unsafe { napi::sys::napi_is_exception_pending(env.raw(), &mut pending) };
        if status == napi::sys::Status::napi_ok && pending {
            return Ok(napi::Error::new(
                napi::Status::PendingException,
                "a JavaScript exception is pending",
            ));
        }
        match self {
            Failure::Imagor {
                message,
                code,
                status,
            } => {
                let class = crate::helpers(env)
                    .map(|h| h.error_class.borrow_back(env))
                    .transpose()?;
                let obj = match class {
                    Some(ctor) => {
                        ctor.new_instance(FnArgs::from((message, code, u32::from(status))))?
                    }
                    None => {
                        // Loaded without index.js: a plain Error with the
                        // same properties.
                        let mut obj = env.create_error(napi::Error::from_reason(message))?;
                        obj.set_named_property("name", "ImagorError")?;
                        obj.set_named_property("code", code)?;
                        obj.set_named_property("status", u32::from(status))?;
                        obj.to_unknown()
                    }
                };
                Ok(napi::Error::from(obj))
            }
            Failure::Type { message, code } => {
                let msg = env.create_string(&message)?;
                let code = env.create_string(code)?;
                let mut raw = std::ptr::null_mut();
                // SAFETY: both strings are live values of this env; the
                // out-pointer is ours.
                let status = unsafe {
                    napi::sys::napi_create_type_error(env.raw(), code.raw(), msg.raw(), &mut raw)
                };
                if status != napi::sys::Status::napi_ok {
                    return Ok(napi::Error::new(napi::Status::InvalidArg, message));
                }
                // SAFETY: `raw` was just created in this env.
                let value = unsafe { Unknown::from_raw_unchecked(env.raw(), raw) };
                Ok(napi::Error::from(value))
            }
        }
    }
}

/// Run a synchronous export: a panic becomes an `ImagorError` with code
/// `ERR_IMAGOR_PANIC`, every [`Failure`] the matching JavaScript error.
pub(crate) fn guard<T>(env: &Env, f: impl FnOnce() -> Fallible<T>) -> napi::Result<T> {
    catch(f).map_err(|failure| failure.into_js(env))
}

/// Run `f`, turning a panic into a [`Failure`]. For work on any thread.
pub(crate) fn catch<T>(f: impl FnOnce() -> Fallible<T>) -> Fallible<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(Failure::panic(payload)),
    }
}
