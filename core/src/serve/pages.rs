//! The two HTML pages imagor serves: the landing page at `/` and the upload
//! form (a `GET` of a path without an image while uploads are enabled).

use crate::path::Params;
use crate::request::Response;

/// The imagor release whose behaviour this crate reproduces, which its
/// landing page names (imagor `templates/landing.html`: `imagor v1.9.5`).
pub(crate) const IMAGOR_VERSION: &str = "1.9.5";

/// `GET /`: a small page naming the server and the imagor version it
/// reproduces (imagor's page shows `imagor v1.9.5`; clients and imagor's
/// own `TestVersion` look for that version there).
pub(super) fn landing() -> Response {
    let version = env!("CARGO_PKG_VERSION");
    html(format!(
        "<!doctype html>\n<html>\n<head><meta charset=\"utf-8\"><title>imagor v{IMAGOR_VERSION}</title></head>\n\
         <body>\n<h1>imagor</h1>\n<p>v{IMAGOR_VERSION}</p>\n<p>imagor-rs v{version}, a Rust implementation of \
         <a href=\"https://imagor.net\">imagor</a> v{IMAGOR_VERSION}</p>\n</body>\n</html>\n"
    ))
}

/// The upload form for `path`: posts a file to the same path, showing the
/// parsed params. The file field uses the configured name (imagor always
/// writes `image`).
pub(super) fn upload_form(path: &str, p: &Params, field: &str) -> Response {
    let params = if path == "/" {
        String::new()
    } else {
        format!("<pre>{}</pre>\n", html_escape(&p.to_json_pretty()))
    };
    html(format!(
        "<!doctype html>\n<html>\n<head><meta charset=\"utf-8\"><title>imagor upload</title></head>\n\
         <body>\n<h1>Upload</h1>\n<p>{path}</p>\n{params}\
         <form method=\"POST\" enctype=\"multipart/form-data\">\n\
         <input type=\"file\" id=\"{field}\" name=\"{field}\" accept=\"image/*\" required>\n\
         <button type=\"submit\">Upload</button>\n</form>\n</body>\n</html>\n",
        path = html_escape(path),
        field = html_escape(field),
    ))
}

fn html(body: String) -> Response {
    Response {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/html".into()),
            ("Content-Length".into(), body.len().to_string()),
        ],
        body: body.into(),
    }
}

/// Escape text for HTML.
pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
