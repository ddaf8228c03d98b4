//! JavaScript detectors: `new Imagor({ detectors: [async (pixels, width,
//! height, bands) => [[left, top, right, bottom, score?, name?], ...]] })`.
//!
//! The core asks its detectors synchronously, from the thread that
//! processes the image. A [`JsDetector`] hands the probe to the JavaScript
//! thread through a threadsafe function and waits for the answer, which
//! `index.js` sends back as JSON with `__detectorReply(id, json, error)`
//! when the detector's promise settles. Jobs of such an instance run on the
//! loader pool (`loader::spawn`), never on the libuv pool or the event loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use imagor::detector::{Detector, Probe, Region};
use napi::bindgen_prelude::{FnArgs, Function, Uint8Array, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use serde_json::Value;

/// How long a detection may wait for JavaScript before it fails with
/// imagor's timeout (408).
const DETECTOR_TIMEOUT: Duration = Duration::from_secs(60);

type DetectArgs = FnArgs<(u32, Uint8Array, u32, u32, u32, u32)>;
type DetectFn = ThreadsafeFunction<DetectArgs, Unknown<'static>, DetectArgs, Status, false, true>;
type Reply = imagor::Result<Vec<Region>>;
type Waiting = (ThreadId, SyncSender<Reply>);

fn pending() -> std::sync::MutexGuard<'static, HashMap<u32, Waiting>> {
    static PENDING: OnceLock<Mutex<HashMap<u32, Waiting>>> = OnceLock::new();
    PENDING
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// An [`imagor::detector::Detector`] answered by a JavaScript function.
pub(crate) struct JsDetector {
    call: DetectFn,
    js_thread: ThreadId,
}

impl JsDetector {
    /// Wrap the bridge `(id, pixels, width, height, bands, caller) => void` that
    /// `index.js` built around the user's detector. Weak: it does not keep
    /// the process alive.
    pub(crate) fn new(bridge: Unknown) -> napi::Result<JsDetector> {
        // SAFETY: the bridge is a function made by index.js.
        let func: Function<DetectArgs, Unknown<'static>> = unsafe { bridge.cast() }?;
        let call = func
            .build_threadsafe_function::<DetectArgs>()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        Ok(JsDetector {
            call,
            js_thread: std::thread::current().id(),
        })
    }
}

impl Detector for JsDetector {
    fn detect(&self, _image_key: &str, probe: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        if std::thread::current().id() == self.js_thread {
            return Err(imagor::Error::Detector(
                "imagor: a JavaScript detector cannot run inside a synchronous call; use the async method"
                    .to_owned(),
            ));
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        pending().insert(id, (self.js_thread, tx));
        // The requests this detection is for, for the calls the detector makes.
        let caller = crate::nesting::Lent::here();
        let args = (
            id,
            Uint8Array::from(probe.pixels.to_vec()),
            probe.width,
            probe.height,
            probe.bands,
            caller.id(),
        );
        let status = self
            .call
            .call(FnArgs::from(args), ThreadsafeFunctionCallMode::NonBlocking);
        if status != Status::Ok {
            pending().remove(&id);
            return Err(imagor::Error::Detector(format!(
                "imagor: the JavaScript detector is not available ({status})"
            )));
        }
        // The call's deadline: a detector that never answers held the call
        // for DETECTOR_TIMEOUT whatever its budget.
        let wait = probe.deadline.map_or(DETECTOR_TIMEOUT, |at| {
            at.saturating_duration_since(std::time::Instant::now())
                .min(DETECTOR_TIMEOUT)
        });
        match rx.recv_timeout(wait) {
            Ok(reply) => reply,
            Err(_) => {
                pending().remove(&id);
                Err(imagor::Error::timeout())
            }
        }
    }
}

/// Regions from the detector's answer, as JSON: an array of
/// `[left, top, right, bottom]` or `[left, top, right, bottom, score, name]`
/// arrays (`NaN` and `Infinity` arrive as `null`: refused).
fn regions(json: &str) -> Reply {
    let bad =
        |what: String| imagor::Error::Detector(format!("imagor: the detector returned {what}"));
    let value: Value = serde_json::from_str(json).map_err(|e| bad(format!("no JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(bad(format!("{value}, not an array of regions")));
    };
    if items.len() > imagor::detector::MAX_REGIONS {
        return Err(bad(format!(
            "{} regions, more than {}",
            items.len(),
            imagor::detector::MAX_REGIONS
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let region_error = || {
                bad(format!(
                    "a bad region at index {i}: {item} (expected [left, top, right, bottom] or \
                     [left, top, right, bottom, score, name] with finite numbers)"
                ))
            };
            let a = item.as_array().filter(|a| a.len() == 4 || a.len() == 6);
            let a = a.ok_or_else(region_error)?;
            let n = |k: usize| a[k].as_f64().ok_or_else(region_error);
            let mut r = Region::new(n(0)?, n(1)?, n(2)?, n(3)?);
            if a.len() == 6 {
                r.score = match &a[4] {
                    Value::Null => 0.0,
                    v => v.as_f64().ok_or_else(region_error)?,
                };
                r.name = match &a[5] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    _ => return Err(region_error()),
                };
            }
            Ok(r)
        })
        .collect()
}

/// The answer of a JavaScript detector to request `id`: the regions as
/// JSON, or the message of what it threw. Called by `index.js` only.
#[napi(catch_unwind, js_name = "__detectorReply", skip_typescript)]
pub fn detector_reply(id: u32, json: Option<String>, error: Option<String>) -> bool {
    let reply = match (json, error) {
        (Some(json), None) => regions(&json),
        (_, error) => Err(imagor::Error::Detector(format!(
            "imagor: the detector threw: {}",
            error.unwrap_or_default()
        ))),
    };
    match pending().remove(&id) {
        Some((_, tx)) => tx.send(reply).is_ok(),
        None => false,
    }
}

/// Fail the detections a JavaScript thread will never answer (its
/// environment shut down).
pub(crate) fn abandon_pending(js_thread: ThreadId) {
    let mut map = pending();
    let ids: Vec<u32> = map
        .iter()
        .filter(|(_, (thread, _))| *thread == js_thread)
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        if let Some((_, tx)) = map.remove(&id) {
            let _ = tx.send(Err(imagor::Error::Detector(
                "imagor: the JavaScript environment of the detector shut down".to_owned(),
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_or_refused() {
        let r = regions(r#"[[0.1,0.2,0.3,0.4],[0,0,1,1,9.5,"face"],[0,0,1,1,null,null]]"#).unwrap();
        assert_eq!(
            r[1],
            Region::new(0.0, 0.0, 1.0, 1.0)
                .with_score(9.5)
                .with_name("face")
        );
        assert_eq!(r[2], Region::new(0.0, 0.0, 1.0, 1.0));
        for bad in [
            "{}",
            "[[1,2]]",
            "[[null,0,1,1]]",
            r#"[["a",0,1,1]]"#,
            "[[0,0,1,1,1,2]]",
        ] {
            assert_eq!(regions(bad).unwrap_err().code(), "detector", "{bad}");
        }
    }
}
