//! Image formats: content sniffing as imagor's `Blob` does it, content
//! types, and which formats libvips can save.

/// An image format imagor knows by name (`format(webp)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// GIF (animated too).
    Gif,
    /// WebP (animated too).
    Webp,
    /// AVIF (AV1 in HEIF).
    Avif,
    /// HEIF / HEIC.
    Heif,
    /// JPEG XL.
    Jxl,
    /// TIFF.
    Tiff,
    /// JPEG 2000.
    Jp2,
    /// BMP (load only).
    Bmp,
    /// SVG (load only).
    Svg,
    /// PDF (load only).
    Pdf,
}

impl ImageFormat {
    /// Parse a `format()` argument: `jpeg`/`jpg`, `png`, `gif`, `webp`,
    /// `avif`, `heif`, `jxl`, `tiff`, `jp2`, `bmp`, `svg`, `pdf`.
    pub fn from_name(name: &str) -> Option<ImageFormat> {
        Some(match name {
            "jpeg" | "jpg" => ImageFormat::Jpeg,
            "png" => ImageFormat::Png,
            "gif" => ImageFormat::Gif,
            "webp" => ImageFormat::Webp,
            "avif" => ImageFormat::Avif,
            "heif" => ImageFormat::Heif,
            "jxl" => ImageFormat::Jxl,
            "tiff" => ImageFormat::Tiff,
            "jp2" => ImageFormat::Jp2,
            "bmp" => ImageFormat::Bmp,
            "svg" => ImageFormat::Svg,
            "pdf" => ImageFormat::Pdf,
            _ => return None,
        })
    }

    /// imagor's name of the format (`/meta` `format` field).
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::Gif => "gif",
            ImageFormat::Webp => "webp",
            ImageFormat::Avif => "avif",
            ImageFormat::Heif => "heif",
            ImageFormat::Jxl => "jxl",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Jp2 => "jp2",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Svg => "svg",
            ImageFormat::Pdf => "pdf",
        }
    }

    /// The name imagor's `/meta` reports (libvips' type name: `jp2k` for
    /// JPEG 2000, otherwise [`ImageFormat::name`]).
    pub fn meta_name(self) -> &'static str {
        match self {
            ImageFormat::Jp2 => "jp2k",
            other => other.name(),
        }
    }

    /// The MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Webp => "image/webp",
            ImageFormat::Avif => "image/avif",
            ImageFormat::Heif => "image/heif",
            ImageFormat::Jxl => "image/jxl",
            ImageFormat::Tiff => "image/tiff",
            ImageFormat::Jp2 => "image/jp2",
            ImageFormat::Bmp => "image/bmp",
            ImageFormat::Svg => "image/svg+xml",
            ImageFormat::Pdf => "application/pdf",
        }
    }

    /// Can the format hold several frames that we keep (GIF, WebP)?
    pub fn supports_animation(self) -> bool {
        matches!(self, ImageFormat::Gif | ImageFormat::Webp)
    }

    /// The format we save to when asked for this one: load-only formats
    /// (BMP, SVG, PDF) fall back to JPEG, as imagor's `supportedSaveFormat`.
    pub fn save_format(self) -> ImageFormat {
        match self {
            ImageFormat::Bmp | ImageFormat::Svg | ImageFormat::Pdf => ImageFormat::Jpeg,
            other => other,
        }
    }

    /// The format libvips reports through its loader name
    /// (`"heifload_buffer"` → HEIF, AVIF is told apart by the compression).
    pub fn from_loader(loader: &str) -> Option<ImageFormat> {
        let base = loader
            .trim_end_matches("_buffer")
            .trim_end_matches("_source")
            .trim_end_matches("load");
        Some(match base {
            "jpeg" => ImageFormat::Jpeg,
            "png" => ImageFormat::Png,
            "gif" => ImageFormat::Gif,
            "webp" => ImageFormat::Webp,
            "heif" => ImageFormat::Heif,
            "jxl" => ImageFormat::Jxl,
            "tiff" => ImageFormat::Tiff,
            "jp2k" => ImageFormat::Jp2,
            "svg" => ImageFormat::Svg,
            "pdf" => ImageFormat::Pdf,
            "magick" | "bmp" => ImageFormat::Bmp,
            _ => return None,
        })
    }
}

/// What imagor's `Blob` sniffing says about a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// imagor's blob type name: `jpeg`, `png`, ..., `raf`, `cr2`, `json`,
    /// `empty`, `unknown`.
    pub type_name: &'static str,
    /// The content type imagor would answer with.
    pub content_type: &'static str,
    /// File extension with the dot (`.jpg`), or `""` when unknown.
    pub extension: &'static str,
    /// GIF or WebP.
    pub supports_animation: bool,
    /// A camera RAW format.
    pub is_raw: bool,
    /// The image format, when it is one we can load.
    pub format: Option<ImageFormat>,
}

const fn sniffed(
    type_name: &'static str,
    content_type: &'static str,
    extension: &'static str,
    format: Option<ImageFormat>,
) -> Sniffed {
    let supports_animation = matches!(format, Some(ImageFormat::Gif | ImageFormat::Webp));
    let is_raw = matches!(
        type_name.as_bytes(),
        b"raf" | b"orf" | b"rw2" | b"x3f" | b"cr3" | b"cr2"
    );
    Sniffed {
        type_name,
        content_type,
        extension,
        supports_animation,
        is_raw,
        format,
    }
}

/// Sniff the type of `data` from its first bytes, as imagor does (magic
/// numbers need more than 24 bytes; SVG and JSON are recognised as text).
pub fn sniff(data: &[u8]) -> Sniffed {
    use ImageFormat as F;
    let b = &data[..data.len().min(512)];
    if b.is_empty() {
        return sniffed("empty", "", "", None);
    }
    let at = |start: usize, magic: &[u8]| {
        b.len() >= start + magic.len() && &b[start..start + magic.len()] == magic
    };
    if b.len() > 24 {
        let tiff = at(0, b"II*\0") || at(0, b"MM\0*");
        // BigTIFF: Go's sniffing does not know it, but libvips loads it as
        // a TIFF in imagor; here it gets a TIFF's checks too.
        let big_tiff = at(0, b"II+\0") || at(0, b"MM\0+");
        let brand = if at(4, b"ftyp") { &b[8..12] } else { &[][..] };
        let found = if at(0, b"\xFF\xD8\xFF") {
            Some(sniffed("jpeg", "image/jpeg", ".jpg", Some(F::Jpeg)))
        } else if at(0, b"\x89PNG") {
            Some(sniffed("png", "image/png", ".png", Some(F::Png)))
        } else if at(0, b"GIF") {
            Some(sniffed("gif", "image/gif", ".gif", Some(F::Gif)))
        } else if at(0, b"\xff\x0a") || at(0, b"\x00\x00\x00\x0CJXL \x0D\x0A\x87\x0A") {
            Some(sniffed("jxl", "image/jxl", ".jxl", Some(F::Jxl)))
        } else if at(8, b"WEBP") {
            Some(sniffed("webp", "image/webp", ".webp", Some(F::Webp)))
        } else if brand == b"avif" {
            Some(sniffed("avif", "image/avif", ".avif", Some(F::Avif)))
        } else if matches!(brand, b"heic" | b"mif1" | b"msf1") {
            Some(sniffed("heif", "image/heif", ".heif", Some(F::Heif)))
        } else if at(0, b"FUJIFILMCCD-RAW") {
            Some(sniffed("raf", "image/x-fuji-raf", ".raf", None))
        } else if at(0, b"IIRO") || at(0, b"MMOR") {
            Some(sniffed("orf", "image/x-olympus-orf", ".orf", None))
        } else if at(0, b"IIU\0") {
            Some(sniffed("rw2", "image/x-panasonic-rw2", ".rw2", None))
        } else if at(0, b"FOVb") {
            Some(sniffed("x3f", "image/x-sigma-x3f", ".x3f", None))
        } else if brand == b"crx " {
            Some(sniffed("cr3", "image/x-canon-cr3", ".cr3", None))
        } else if tiff && at(8, b"CR") {
            Some(sniffed("cr2", "image/x-canon-cr2", ".cr2", None))
        } else if tiff || big_tiff {
            Some(sniffed("tiff", "image/tiff", ".tiff", Some(F::Tiff)))
        } else if (at(4, b"jP  ") || at(4, b"jP2 "))
            && (at(20, b"jp2 ") || at(20, b"jpm ") || at(20, b"jpx "))
        {
            Some(sniffed("jp2", "image/jp2", ".jp2", Some(F::Jp2)))
        } else if at(0, b"%PDF") {
            Some(sniffed("pdf", "application/pdf", ".pdf", Some(F::Pdf)))
        } else if at(0, b"BM") {
            Some(sniffed("bmp", "image/bmp", ".bmp", Some(F::Bmp)))
        } else {
            None
        };
        if let Some(s) = found {
            return s;
        }
    }
    sniff_text(b)
}

/// No image format: Go's `http.DetectContentType` decides, as in imagor,
/// which then takes plain text starting with `{"` for JSON and plain text,
/// HTML or XML whose root element is `<svg` for SVG.
fn sniff_text(b: &[u8]) -> Sniffed {
    let ct = crate::mime_sniff::detect_content_type(b);
    let text = trim_ascii(b);
    if ct.starts_with("text/plain") && b.starts_with(b"{\"") {
        return sniffed("json", "application/json", ".json", None);
    }
    let textual = ["text/plain", "text/html", "text/xml"]
        .iter()
        .any(|t| ct.starts_with(t));
    if textual && looks_like_svg(text) {
        return sniffed("svg", "image/svg+xml", ".svg", Some(ImageFormat::Svg));
    }
    sniffed("unknown", ct, "", None)
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// An `<svg` root element after optional XML declaration, comments and
/// doctype (imagor's svgTagRegex / svgTagInXMLRegex).
fn looks_like_svg(text: &[u8]) -> bool {
    let mut rest = text;
    loop {
        rest = trim_ascii(rest);
        if rest.starts_with(b"<?xml")
            || rest.starts_with(b"<!--")
            || starts_with_ci(rest, b"<!doctype")
        {
            let end: &[u8] = if rest.starts_with(b"<?xml") {
                b"?>"
            } else if rest.starts_with(b"<!--") {
                b"-->"
            } else {
                b">"
            };
            match find(rest, end) {
                Some(i) => rest = &rest[i + end.len()..],
                None => return false,
            }
            continue;
        }
        break;
    }
    starts_with_ci(rest, b"<svg")
        && rest
            .get(4)
            .is_none_or(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The offset of the first `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_numbers() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.resize(64, 0);
        assert_eq!(sniff(&png).format, Some(ImageFormat::Png));
        assert_eq!(sniff(b"").type_name, "empty");
        assert_eq!(sniff(b"\x89PNG").type_name, "unknown");
        assert_eq!(sniff(br#"{"foo": "bar"}"#).type_name, "json");
        let svg = b"<?xml version=\"1.0\"?>\n<!-- hi -->\n<svg xmlns=\"x\"></svg>";
        assert_eq!(sniff(svg).format, Some(ImageFormat::Svg));
        assert_eq!(sniff(b"<svgfoo>").type_name, "unknown");
    }
}
