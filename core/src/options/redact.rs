//! Showing options without their secrets: `Debug` and
//! [`Options::to_json_redacted`].

use super::Options;

/// Every URL string in `value` (a string or a list of them) with its
/// password shown as `***`.
fn hide_url_passwords(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            if let Ok(mut url) = url::Url::parse(text) {
                if url.password().is_some() && url.set_password(Some("***")).is_ok() {
                    *text = url.to_string();
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(hide_url_passwords),
        _ => {}
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Options {}", self.to_json_redacted())
    }
}

impl Options {
    /// The options as JSON with every secret hidden: the signing secret
    /// and object-storage secrets read `<redacted>` when set (`""` when
    /// not), and passwords inside the HTTP loader's base URL and proxy URLs
    /// `***`. What `Debug` and the bindings' option views show.
    pub fn to_json_redacted(&self) -> serde_json::Value {
        let mut shown = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = shown.as_object_mut() {
            for (key, value) in map.iter_mut() {
                if Options::is_secret_field(key) && value.as_str().is_some_and(|v| !v.is_empty()) {
                    *value = "<redacted>".into();
                }
            }
            for key in ["http_loader_base_url", "http_loader_proxy_urls"] {
                if let Some(value) = map.get_mut(key) {
                    hide_url_passwords(value);
                }
            }
        }
        shown
    }
}
