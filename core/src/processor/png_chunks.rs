//! PNG chunks that declare more bytes than the file holds.
//!
//! libspng, behind Debian's libvips 8.14, allocates a `tEXt`, `zTXt`, `iTXt`
//! or `sPLT` chunk's declared length before it reads the chunk: a 100-byte
//! PNG declaring a 2 GB text chunk before its image data took 2 GB and 3 s
//! of CPU to refuse, whatever the memory budget. Such a chunk can only be a
//! cut or forged file, so the loaders never show it to libvips: a buffer is
//! cut before it ([`whole_chunks`]), which libvips then handles as any PNG
//! cut there, and an arriving body whose chunks before the image data do
//! not all end within its head waits to be whole ([`head_chunks_end`]).
//! Chunk types are not checked: the next libspng may cache another kind.
//!
//! libspng also inflates every compressed text chunk (`zTXt`, compressed
//! `iTXt`) while it reads the header, in one call no deadline reaches: a
//! 1 MB chunk inflates to 1 GiB of text in about a second, and twelve of
//! them ran past the call's budget. Only the first
//! [`COMPRESSED_TEXT_BUDGET`] bytes of compressed text reach libvips
//! ([`within_text_budget`]); later such chunks are dropped (their text is
//! metadata, never pixels), and a head holding more waits to be whole.

/// The PNG file signature.
pub(super) const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Compressed text, over all of a file's `zTXt` and compressed `iTXt`
/// chunks, that libspng is given to inflate: deflate expands a byte at most
/// 1032 times, so at most 64 MiB of text, some 50 ms of work.
pub(crate) const COMPRESSED_TEXT_BUDGET: usize = 64 * 1024;

/// Is a chunk of this type and data compressed text? (`iTXt`: the byte
/// after its keyword's terminating NUL is its compression flag.)
fn compressed_text(kind: &[u8], body: &[u8]) -> bool {
    match kind {
        b"zTXt" => true,
        b"iTXt" => body
            .iter()
            .position(|&b| b == 0)
            .and_then(|nul| body.get(nul + 1))
            .is_some_and(|&flag| flag != 0),
        _ => false,
    }
}

/// The PNG `data` without the compressed text chunks that would take the
/// file's compressed text past [`COMPRESSED_TEXT_BUDGET`]; `None` when
/// there is none to drop (or `data` is no PNG).
pub(crate) fn within_text_budget(data: &[u8]) -> Option<Vec<u8>> {
    if !data.starts_with(SIGNATURE) {
        return None;
    }
    let mut spent = 0usize;
    let mut dropped: Vec<(usize, usize)> = Vec::new();
    for (start, kind, end) in chunks(data) {
        if kind == b"IEND" || end > data.len() {
            break;
        }
        let body = &data[start + 8..end - 4];
        if compressed_text(kind, body) {
            if spent + body.len() <= COMPRESSED_TEXT_BUDGET {
                spent += body.len();
            } else {
                dropped.push((start, end));
            }
        }
    }
    if dropped.is_empty() {
        return None;
    }
    let mut kept = Vec::with_capacity(data.len());
    let mut at = 0;
    for (start, end) in dropped {
        kept.extend_from_slice(&data[at..start]);
        at = end;
    }
    kept.extend_from_slice(&data[at..]);
    Some(kept)
}

/// Bytes of the metadata libspng keeps whole as it reads the PNG `data`
/// (`None` for anything else): uncompressed text (`tEXt`, `iTXt`, XMP
/// among them) and `eXIf`, which may be as long as the file; libvips copies
/// them into the image's metadata and the savers into their output.
/// Compressed text is bounded apart ([`within_text_budget`]).
pub(crate) fn metadata_bytes(data: &[u8]) -> Option<u64> {
    if !data.starts_with(SIGNATURE) {
        return None;
    }
    let mut bytes = 0u64;
    for (start, kind, end) in chunks(data) {
        if kind == b"IEND" {
            break;
        }
        let body = data.get(start + 8..end.min(data.len()))?;
        let body = body.get(..body.len().saturating_sub(4)).unwrap_or_default();
        if matches!(kind, b"tEXt" | b"eXIf") || (kind == b"iTXt" && !compressed_text(kind, body)) {
            bytes = bytes.saturating_add(body.len() as u64);
        }
    }
    Some(bytes)
}

/// Each chunk: its start, type and end (`usize::MAX` when its declared
/// length overflows), in order, as far as `data` has chunk headers.
fn chunks(data: &[u8]) -> impl Iterator<Item = (usize, &[u8], usize)> + '_ {
    chunks_from(data, SIGNATURE.len())
}

/// [`chunks`] from the chunk at `at` on.
pub(super) fn chunks_from(
    data: &[u8],
    mut at: usize,
) -> impl Iterator<Item = (usize, &[u8], usize)> + '_ {
    std::iter::from_fn(move || {
        let header = data.get(at..at.checked_add(8)?)?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let start = at;
        // Length, type, data, CRC.
        let end = start.saturating_add(12).saturating_add(len);
        at = end;
        Some((start, &header[4..8], end))
    })
}

/// The PNG `data` up to the first chunk other than image data that runs
/// past its end; all of `data` when there is none, or when it is no PNG.
/// Cut image data (`IDAT`) is left to libvips, which reads it as it goes.
pub(crate) fn whole_chunks(data: &[u8]) -> &[u8] {
    if !data.starts_with(SIGNATURE) {
        return data;
    }
    for (start, kind, end) in chunks(data) {
        if kind == b"IEND" {
            break;
        }
        if end > data.len() && kind != b"IDAT" {
            return &data[..start];
        }
    }
    data
}

/// Do all the chunks of a PNG's `head` before its first image data end
/// within `head`, with no more compressed text than libspng is given?
/// Only then can it be decoded while the rest arrives.
pub(crate) fn head_chunks_end(head: &[u8]) -> bool {
    if !head.starts_with(SIGNATURE) {
        return false;
    }
    let mut text = 0usize;
    for (start, kind, end) in chunks(head) {
        if kind == b"IDAT" {
            return true;
        }
        if end > head.len() {
            return false;
        }
        let body = &head[start + 8..end - 4];
        if compressed_text(kind, body) {
            text += body.len();
            if text > COMPRESSED_TEXT_BUDGET {
                return false;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        v.extend_from_slice(&[0; 4]);
        v
    }

    fn png(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
        for p in parts {
            v.extend_from_slice(p);
        }
        v
    }

    /// A chunk header that declares `len` bytes, and a few of them.
    fn forged(kind: &[u8], len: u32) -> Vec<u8> {
        let mut v = len.to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(b"key\0value");
        v
    }

    #[test]
    fn metadata_counts_the_text_libspng_keeps_whole() {
        let mut compressed = b"XML:com.adobe.xmp\0\x01\0\0\0".to_vec();
        compressed.extend([0x78; 100]);
        let data = png(&[
            chunk(b"tEXt", &[b'c'; 1000]),
            chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x/>"),
            chunk(b"iTXt", &compressed),
            chunk(b"zTXt", &[b'z'; 500]),
            chunk(b"eXIf", &[0; 300]),
            chunk(b"IDAT", &[0; 50]),
            chunk(b"IEND", &[]),
            chunk(b"tEXt", &[b'c'; 1000]),
        ]);
        assert_eq!(metadata_bytes(&data), Some(1000 + 26 + 300));
        // A chunk cut short counts what the file holds.
        let mut cut = png(&[chunk(b"tEXt", &[b'c'; 10])]);
        cut.extend(forged(b"tEXt", u32::MAX));
        assert_eq!(metadata_bytes(&cut), Some(10 + 5));
        assert_eq!(metadata_bytes(b"GIF89a"), None);
    }

    #[test]
    fn whole_files_pass_unchanged() {
        let data = std::fs::read(format!(
            "{}/../testdata/gopher.png",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert_eq!(whole_chunks(&data).len(), data.len());
        assert!(head_chunks_end(&data));
        // Not a PNG: nothing to say.
        assert_eq!(whole_chunks(b"GIF89a").len(), 6);
        assert!(!head_chunks_end(b"GIF89a"));
    }

    #[test]
    fn a_chunk_declaring_more_than_follows_is_cut_off() {
        let idat = chunk(b"IDAT", &[0; 16]);
        let iend = chunk(b"IEND", b"");
        for kind in [&b"tEXt"[..], b"zTXt", b"iTXt", b"sPLT", b"eXIf", b"abCd"] {
            for len in [0x7fff_0000, u32::MAX, 64] {
                let data = png(&[forged(kind, len), idat.clone(), iend.clone()]);
                let cut = whole_chunks(&data);
                assert_eq!(cut.len(), 8 + 25, "{kind:?} {len}: cut before the chunk");
                assert!(!head_chunks_end(&data), "{kind:?} {len}: not streamed");
            }
        }
        // After the image data too: the file ends at the last whole chunk.
        let data = png(&[idat.clone(), forged(b"tEXt", 1 << 30)]);
        assert_eq!(whole_chunks(&data).len(), 8 + 25 + idat.len());
        assert!(head_chunks_end(&data));
    }

    #[test]
    fn compressed_text_past_the_budget_is_dropped() {
        let idat = chunk(b"IDAT", &[0; 16]);
        let iend = chunk(b"IEND", b"");
        let big = |kind: &[u8], head: &[u8]| {
            let mut data = head.to_vec();
            data.resize(40_000, 7);
            chunk(kind, &data)
        };
        let ztxt = big(b"zTXt", b"k\0\0");
        let itxt = big(b"iTXt", b"k\0\x01\0\0\0");
        let plain_itxt = big(b"iTXt", b"k\0\0\0\0\0");
        let text = big(b"tEXt", b"k\0");
        // One of each fits; plain text never counts.
        let fits = png(&[
            ztxt.clone(),
            text.clone(),
            plain_itxt.clone(),
            idat.clone(),
            iend.clone(),
        ]);
        assert_eq!(within_text_budget(&fits), None);
        assert!(head_chunks_end(&fits));
        // The second compressed chunk would pass the budget: it goes, and so
        // does any after the image data; a small one after still fits.
        let small = chunk(b"zTXt", b"s\0\0tiny");
        let data = png(&[
            ztxt.clone(),
            itxt.clone(),
            small.clone(),
            idat.clone(),
            ztxt.clone(),
            iend.clone(),
        ]);
        let kept = within_text_budget(&data).expect("over the budget");
        assert_eq!(
            kept,
            png(&[ztxt.clone(), small, idat.clone(), iend.clone()])
        );
        assert_eq!(within_text_budget(&kept), None);
        assert!(!head_chunks_end(&data), "waits to be whole");
        assert!(within_text_budget(b"GIF89a").is_none());
    }

    #[test]
    fn cut_image_data_is_left_to_libvips() {
        let mut data = png(&[chunk(b"IDAT", &[0; 1000])]);
        data.truncate(data.len() - 500);
        assert_eq!(whole_chunks(&data).len(), data.len());
        assert!(head_chunks_end(&data));
        // A head cut inside a chunk before the image data cannot stream.
        let data = png(&[chunk(b"iCCP", &[0; 1000]), chunk(b"IDAT", &[0; 10])]);
        assert!(!head_chunks_end(&data[..500]));
        assert!(head_chunks_end(&data));
    }
}
