//! The server's log lines: zap's production JSON, as imagor writes them, or
//! with `-log-ecs` the Elastic Common Schema.

use std::sync::atomic::{AtomicBool, Ordering};

/// `-log-ecs`: log in the Elastic Common Schema, as imagor's `ecszap`
/// logger does, instead of zap's production JSON.
static LOG_ECS: AtomicBool = AtomicBool::new(false);

/// Choose the log format (before the first line is logged).
pub fn set_log_ecs(ecs: bool) {
    LOG_ECS.store(ecs, Ordering::Relaxed);
}

/// Log one line as imagor's logger would: zap's production JSON on stderr
/// (`level`, `ts`, `msg`), or with `-log-ecs` an ECS line on stdout
/// (`log.level`, `@timestamp`, `log.origin`, `message`, `ecs.version`).
#[track_caller]
pub(crate) fn log(level: &str, msg: &str, fields: serde_json::Value) {
    let now = std::time::SystemTime::now();
    let ecs = LOG_ECS.load(Ordering::Relaxed);
    let mut line = if ecs {
        let at = std::panic::Location::caller();
        serde_json::json!({
            "log.level": level,
            "@timestamp": crate::serve::headers::iso8601_millis(now),
            "log.origin": {"file.name": at.file(), "file.line": at.line()},
            "message": msg,
            "ecs.version": "1.6.0",
        })
    } else {
        let ts = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        serde_json::json!({"level": level, "ts": ts, "msg": msg})
    };
    if let (Some(obj), serde_json::Value::Object(extra)) = (line.as_object_mut(), fields) {
        obj.extend(extra);
    }
    if ecs {
        println!("{line}");
    } else {
        eprintln!("{line}");
    }
}
