//! The Content-Type of bytes that are no image, as Go's
//! `http.DetectContentType` gives it (the WHATWG MIME sniffing table):
//! imagor answers it for a `raw()` or raw-on-error body it does not know.
//! At most the first 512 bytes count; the fallback is
//! `application/octet-stream`.

/// Bytes that decide.
const SNIFF_LEN: usize = 512;

/// One row of the table.
enum Sig {
    /// An HTML tag (ASCII letters compared case-insensitively) after
    /// leading whitespace, then a space or `>`.
    Html(&'static [u8]),
    /// `data & mask == pattern`, optionally after leading whitespace.
    Masked {
        mask: &'static [u8],
        pattern: &'static [u8],
        skip_ws: bool,
        ct: &'static str,
    },
    /// A prefix.
    Exact(&'static [u8], &'static str),
    /// A RIFF/IFF container: its 4-byte tag, any 4-byte size, then the
    /// form type (Go's masked rows with the size bytes masked out).
    Chunk(&'static [u8; 4], &'static [u8], &'static str),
    /// An ISO BMFF `ftyp` box naming an `mp4` brand.
    Mp4,
    /// No binary bytes after leading whitespace.
    Text,
}

const fn masked(mask: &'static [u8], pattern: &'static [u8], ct: &'static str) -> Sig {
    Sig::Masked {
        mask,
        pattern,
        skip_ws: false,
        ct,
    }
}

/// Go's `sniffSignatures`, in its order.
const SIGNATURES: &[Sig] = &[
    Sig::Html(b"<!DOCTYPE HTML"),
    Sig::Html(b"<HTML"),
    Sig::Html(b"<HEAD"),
    Sig::Html(b"<SCRIPT"),
    Sig::Html(b"<IFRAME"),
    Sig::Html(b"<H1"),
    Sig::Html(b"<DIV"),
    Sig::Html(b"<FONT"),
    Sig::Html(b"<TABLE"),
    Sig::Html(b"<A"),
    Sig::Html(b"<STYLE"),
    Sig::Html(b"<TITLE"),
    Sig::Html(b"<B"),
    Sig::Html(b"<BODY"),
    Sig::Html(b"<BR"),
    Sig::Html(b"<P"),
    Sig::Html(b"<!--"),
    Sig::Masked {
        mask: b"\xFF\xFF\xFF\xFF\xFF",
        pattern: b"<?xml",
        skip_ws: true,
        ct: "text/xml; charset=utf-8",
    },
    Sig::Exact(b"%PDF-", "application/pdf"),
    Sig::Exact(b"%!PS-Adobe-", "application/postscript"),
    // Byte order marks.
    masked(b"\xFF\xFF\x00\x00", b"\xFE\xFF\x00\x00", "text/plain; charset=utf-16be"),
    masked(b"\xFF\xFF\x00\x00", b"\xFF\xFE\x00\x00", "text/plain; charset=utf-16le"),
    masked(b"\xFF\xFF\xFF\x00", b"\xEF\xBB\xBF\x00", "text/plain; charset=utf-8"),
    // Images.
    Sig::Exact(b"\x00\x00\x01\x00", "image/x-icon"),
    Sig::Exact(b"\x00\x00\x02\x00", "image/x-icon"),
    Sig::Exact(b"BM", "image/bmp"),
    Sig::Exact(b"GIF87a", "image/gif"),
    Sig::Exact(b"GIF89a", "image/gif"),
    Sig::Chunk(b"RIFF", b"WEBPVP", "image/webp"),
    Sig::Exact(b"\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    Sig::Exact(b"\xFF\xD8\xFF", "image/jpeg"),
    // Audio and video.
    Sig::Chunk(b"FORM", b"AIFF", "audio/aiff"),
    masked(b"\xFF\xFF\xFF", b"ID3", "audio/mpeg"),
    masked(b"\xFF\xFF\xFF\xFF\xFF", b"OggS\x00", "application/ogg"),
    masked(
        b"\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF",
        b"MThd\x00\x00\x00\x06",
        "audio/midi",
    ),
    Sig::Chunk(b"RIFF", b"AVI ", "video/avi"),
    Sig::Chunk(b"RIFF", b"WAVE", "audio/wave"),
    Sig::Mp4,
    Sig::Exact(b"\x1A\x45\xDF\xA3", "video/webm"),
    // Fonts: an Embedded OpenType file has "LP" after 34 bytes.
    masked(
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xFF\xFF",
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00LP",
        "application/vnd.ms-fontobject",
    ),
    Sig::Exact(b"\x00\x01\x00\x00", "font/ttf"),
    Sig::Exact(b"OTTO", "font/otf"),
    Sig::Exact(b"ttcf", "font/collection"),
    Sig::Exact(b"wOFF", "font/woff"),
    Sig::Exact(b"wOF2", "font/woff2"),
    // Archives.
    Sig::Exact(b"\x1F\x8B\x08", "application/x-gzip"),
    Sig::Exact(b"PK\x03\x04", "application/zip"),
    Sig::Exact(b"Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    Sig::Exact(b"Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    Sig::Exact(b"\x00asm", "application/wasm"),
    Sig::Text,
];

/// The MIME type Go's `http.DetectContentType` gives `data`.
pub fn detect_content_type(data: &[u8]) -> &'static str {
    let data = &data[..data.len().min(SNIFF_LEN)];
    let first_non_ws = data.iter().position(|&b| !is_ws(b)).unwrap_or(data.len());
    SIGNATURES
        .iter()
        .find_map(|sig| sig.matches(data, first_non_ws))
        .unwrap_or("application/octet-stream")
}

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

impl Sig {
    fn matches(&self, data: &[u8], first_non_ws: usize) -> Option<&'static str> {
        match self {
            Sig::Html(tag) => {
                let d = &data[first_non_ws..];
                let next = *d.get(tag.len())?;
                let same = tag.iter().zip(d).all(|(&t, &b)| {
                    let b = if t.is_ascii_uppercase() { b & 0xDF } else { b };
                    t == b
                });
                (same && (next == b' ' || next == b'>')).then_some("text/html; charset=utf-8")
            }
            Sig::Masked {
                mask,
                pattern,
                skip_ws,
                ct,
            } => {
                let d = if *skip_ws {
                    &data[first_non_ws..]
                } else {
                    data
                };
                let same = d.len() >= mask.len()
                    && mask
                        .iter()
                        .zip(pattern.iter())
                        .zip(d)
                        .all(|((m, p), b)| b & m == *p);
                same.then_some(*ct)
            }
            Sig::Exact(prefix, ct) => data.starts_with(prefix).then_some(*ct),
            Sig::Chunk(tag, form, ct) => (data.starts_with(*tag)
                && data.get(8..).is_some_and(|d| d.starts_with(form)))
            .then_some(*ct),
            Sig::Mp4 => is_mp4(data).then_some("video/mp4"),
            Sig::Text => data[first_non_ws..]
                .iter()
                .all(|&b| !matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F))
                .then_some("text/plain; charset=utf-8"),
        }
    }
}

/// WHATWG's mp4 signature: an `ftyp` box, a multiple of 4 long and wholly
/// within `data`, whose major or a compatible brand starts with `mp4`.
fn is_mp4(data: &[u8]) -> bool {
    if data.len() < 12 {
        return false;
    }
    let box_size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if data.len() < box_size || !box_size.is_multiple_of(4) || &data[4..8] != b"ftyp" {
        return false;
    }
    (8..box_size)
        .step_by(4)
        .filter(|&at| at != 12)
        .any(|at| data.get(at..at + 3) == Some(b"mp4"))
}

#[cfg(test)]
mod tests {
    use super::detect_content_type as ct;

    #[test]
    fn go_detect_content_type_cases() {
        // As Go's table answers them.
        let cases: &[(&[u8], &str)] = &[
            (b"", "text/plain; charset=utf-8"),
            (b"\x01\x02\x03", "application/octet-stream"),
            (
                b"<HtMl><bOdY>blah blah blah</body></html>",
                "text/html; charset=utf-8",
            ),
            (b"\n<html>blah</html>", "text/html; charset=utf-8"),
            (b"<HTML", "text/plain; charset=utf-8"),
            (b"<html", "text/plain; charset=utf-8"),
            (b"<p>x", "text/html; charset=utf-8"),
            (b"<?xml version=\"1.0\"?><svg/>", "text/xml; charset=utf-8"),
            (b"  <?xml", "text/xml; charset=utf-8"),
            (b"%PDF-1.4", "application/pdf"),
            (b"%!PS-Adobe-3.0", "application/postscript"),
            (b"\xFE\xFF\x00\x41", "text/plain; charset=utf-16be"),
            (b"\xFF\xFE\x41\x00", "text/plain; charset=utf-16le"),
            (b"\xEF\xBB\xBFhi", "text/plain; charset=utf-8"),
            (b"Plain text", "text/plain; charset=utf-8"),
            (b"OggS\x00\x02", "application/ogg"),
            (b"MThd\x00\x00\x00\x06\x00\x01", "audio/midi"),
            (b"ID3\x03", "audio/mpeg"),
            (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wave"),
            (b"RIFF\x00\x00\x00\x00AVI LIST", "video/avi"),
            (b"FORM\x01\x02\x03\x04AIFFCOMM", "audio/aiff"),
            (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
            (b"RIFF\x10\x00\x00\x00WEBP", "application/octet-stream"),
            (b"\x1A\x45\xDF\xA3\x01", "video/webm"),
            (
                b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom<\x06t\xbfmdat",
                "video/mp4",
            ),
            (
                b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isomavc1\x00\x00\x00\x00",
                "application/octet-stream",
            ),
            (b"wOFF\x00\x01", "font/woff"),
            (b"\x1F\x8B\x08\x00", "application/x-gzip"),
            (b"PK\x03\x04\x14", "application/zip"),
            (b"Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
            (b"\x00asm\x01\x00", "application/wasm"),
            (b"\x00\x00\x01\x00\x01", "image/x-icon"),
            (b"BM\x00", "image/bmp"),
        ];
        for (data, want) in cases {
            assert_eq!(ct(data), *want, "{data:?}");
        }
        let mut eot = vec![0u8; 34];
        eot.extend_from_slice(b"LP");
        assert_eq!(ct(&eot), "application/vnd.ms-fontobject");
        // Only the first 512 bytes count.
        let mut late = vec![b'a'; 512];
        late.push(0);
        assert_eq!(ct(&late), "text/plain; charset=utf-8");
    }
}
