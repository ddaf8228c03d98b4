//! Container-level truncation checks for a strict `fail_on`.
//!
//! libvips reports a truncated source through decoder warnings, and with
//! more than one worker thread and shrink-on-load (libvips 8.14's
//! `thumbnail`) a warning raised while the last rows decode can be lost: the
//! call then succeeds on a half-grey image. With `fail_on` at `truncated` or
//! stricter, the sources whose container says where it ends are checked
//! here first, so a cut JPEG, PNG or WebP fails every time, whatever the
//! thread count. Formats without such an end marker are left to libvips.

use crate::format::{find, ImageFormat};

/// Does `data`, sniffed as `format`, stop before its container's end?
/// `false` when the format has no reliable end marker or the check cannot
/// tell (a false "complete" only leaves the decision to libvips).
pub(super) fn is_truncated(format: ImageFormat, data: &[u8]) -> bool {
    match format {
        ImageFormat::Jpeg => jpeg_truncated(data),
        ImageFormat::Png => png_truncated(data),
        ImageFormat::Webp => webp_truncated(data),
        _ => false,
    }
}

/// A JPEG ends its last scan with EOI (`FF D9`). Entropy-coded data stuffs
/// every `FF` with a `00` and restart markers are `FF D0`..`FF D7`, so after
/// the first start of scan (`FF DA`) an EOI marker appears only at the end
/// (trailing bytes after it, as some cameras append, are allowed).
fn jpeg_truncated(data: &[u8]) -> bool {
    let Some(sos) = find(data, &[0xFF, 0xDA]) else {
        return true;
    };
    find(&data[sos + 2..], &[0xFF, 0xD9]).is_none()
}

/// A PNG ends with its `IEND` chunk (12 bytes: length 0, type, CRC).
fn png_truncated(data: &[u8]) -> bool {
    match find(data, b"IEND") {
        Some(at) => data.len() < at + 8,
        None => true,
    }
}

/// A WebP's RIFF header gives the file's size.
fn webp_truncated(data: &[u8]) -> bool {
    let Some(size) = data.get(4..8) else {
        return true;
    };
    let riff = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as u64;
    (data.len() as u64) < riff + 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn whole_files_are_complete_and_cut_ones_are_not() {
        for (name, format) in [
            ("demo1.jpg", ImageFormat::Jpeg),
            ("gopher.png", ImageFormat::Png),
            ("demo3.webp", ImageFormat::Webp),
        ] {
            let data = testdata(name);
            assert!(!is_truncated(format, &data), "{name}");
            for cut in [10, data.len() / 3, data.len() - 3] {
                assert!(is_truncated(format, &data[..cut]), "{name} cut at {cut}");
            }
        }
        // Bytes after the end marker are allowed.
        let mut jpeg = testdata("demo1.jpg");
        jpeg.extend_from_slice(b"trailing camera data");
        assert!(!is_truncated(ImageFormat::Jpeg, &jpeg));
        // Formats without an end marker are left to libvips.
        assert!(!is_truncated(ImageFormat::Gif, b"GIF89a"));
    }
}
