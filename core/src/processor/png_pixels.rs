//! The pixels of a plain PNG, decoded without libvips: the image data
//! inflated in one call by libdeflate, then unfiltered in place
//! ([`crate::vips::png_rows`]).
//!
//! libvips' PNG loader (libspng) inflates a row at a time through zlib,
//! which was 59% of the CPU of a 512x512 thumbnail of a 6 MP photo on the
//! bundled libvips; libdeflate inflates the whole stream at once in about
//! 0.6x zlib's time. Only what both decode to the same bytes is taken
//! here: 8-bit grey, grey + alpha, RGB and RGBA, not interlaced, without
//! `tRNS`, whose image data inflates cleanly to exactly the rows the header
//! declares (its Adler-32 checked too). Anything else ([`layout`] or
//! [`decode`] answer `None`) is left to libvips, which then reads it in its
//! own way: a damaged file fails or decodes there as it always has.

use super::png_chunks::{chunks_from, SIGNATURE};
use crate::error::Result;

/// Inflated image data (rows and their filter bytes) decoded here at most:
/// libdeflate inflates it in one call nothing interrupts, some 0.2 s of
/// work at worst (incompressible data, about 350 MB/s). Larger images
/// stream through libvips, which the deadline stops between rows.
pub(super) const MAX_INFLATED_BYTES: u64 = 64 << 20;

/// What the decode needs of a PNG: its size, samples per pixel, and where
/// its image data is (a run of `IDAT` chunks, found again when it is read,
/// so that a file of millions of empty chunks costs no list of them).
pub(super) struct Layout<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Samples per pixel, one byte each: 1 (grey), 2 (grey + alpha), 3
    /// (RGB) or 4 (RGBA).
    pub bands: usize,
    /// The file, and where its first `IDAT` chunk starts.
    data: &'a [u8],
    idat_start: usize,
    /// How many `IDAT` chunks the run holds.
    pub idat_chunks: usize,
    /// Bytes of image data in them.
    pub compressed_bytes: u64,
}

impl Layout<'_> {
    /// Bytes of one row of pixels.
    fn stride(&self) -> Option<usize> {
        usize::try_from(self.width).ok()?.checked_mul(self.bands)
    }

    /// Bytes of the inflated image data: each row and its filter byte.
    pub(super) fn inflated_bytes(&self) -> Option<u64> {
        (self.stride()? as u64 + 1).checked_mul(u64::from(self.height))
    }

    /// The image data: borrowed from one chunk, joined from several.
    fn compressed(&self) -> std::borrow::Cow<'_, [u8]> {
        let mut parts = chunks_from(self.data, self.idat_start)
            .take(self.idat_chunks)
            .map(|(start, _, end)| &self.data[start + 8..end - 4]);
        match self.idat_chunks {
            1 => parts.next().unwrap_or_default().into(),
            _ => {
                let mut joined = Vec::with_capacity(self.compressed_bytes as usize);
                parts.for_each(|part| joined.extend_from_slice(part));
                joined.into()
            }
        }
    }
}

/// The layout of `data` when it is a PNG this decoder takes; `None`
/// otherwise (other depths and colour types, interlaced, `tRNS`, image data
/// cut short or missing).
pub(super) fn layout(data: &[u8]) -> Option<Layout<'_>> {
    if !data.starts_with(SIGNATURE) {
        return None;
    }
    // Each chunk, with its data when the file holds it whole (and its CRC,
    // which libvips does not check under `fail_on` "none", nor do we).
    let mut chunks = chunks_from(data, SIGNATURE.len()).map(|(start, kind, end)| {
        let body = data.get(start + 8..end).map(|b| &b[..b.len() - 4]);
        (start, kind, body)
    });
    let (_, b"IHDR", Some(ihdr)) = chunks.next()? else {
        return None;
    };
    let &[w0, w1, w2, w3, h0, h1, h2, h3, depth, colour, compression, filter, interlace] = ihdr
    else {
        return None;
    };
    let bands = match colour {
        0 => 1,
        4 => 2,
        2 => 3,
        6 => 4,
        _ => return None,
    };
    if depth != 8 || compression != 0 || filter != 0 || interlace != 0 {
        return None;
    }
    let (width, height) = (
        u32::from_be_bytes([w0, w1, w2, w3]),
        u32::from_be_bytes([h0, h1, h2, h3]),
    );
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return None;
    }
    let (mut idat_start, mut idat_chunks, mut compressed_bytes) = (0, 0, 0u64);
    for (start, kind, body) in chunks {
        match (kind, body) {
            (b"IDAT", Some(body)) => {
                if idat_chunks == 0 {
                    idat_start = start;
                }
                idat_chunks += 1;
                compressed_bytes += body.len() as u64;
            }
            // Image data cut short is libvips' to read as it can.
            (b"IDAT", None) => return None,
            // The image data ends at the first other chunk after it.
            _ if idat_chunks > 0 => break,
            (b"tRNS" | b"IEND", _) | (_, None) => return None,
            _ => {}
        }
    }
    (idat_chunks > 0).then_some(Layout {
        width,
        height,
        bands,
        data,
        idat_start,
        idat_chunks,
        compressed_bytes,
    })
}

/// The pixels of the PNG `layout` describes, packed rows of `width * bands`
/// bytes; `None` where its image data does not inflate cleanly to exactly
/// its rows, or a row names no filter. `Err`: the call's deadline passed.
pub(super) fn decode(layout: &Layout<'_>) -> Result<Option<Vec<u8>>> {
    let (Some(stride), Some(inflated)) = (layout.stride(), layout.inflated_bytes()) else {
        return Ok(None);
    };
    let Ok(inflated) = usize::try_from(inflated) else {
        return Ok(None);
    };
    crate::vips::deadline::check()?;
    let compressed = layout.compressed();
    // Zeroed by the allocator (fresh pages), not by a pass over it.
    let mut rows = vec![0u8; inflated];
    let mut inflater = libdeflater::Decompressor::new();
    match inflater.zlib_decompress(&compressed, &mut rows) {
        Ok(n) if n == inflated => {}
        _ => return Ok(None),
    }
    drop(inflater);
    crate::vips::deadline::check()?;
    if !crate::vips::png_rows::unfilter(&mut rows, stride, layout.bands)? {
        return Ok(None);
    }
    rows.truncate(stride * layout.height as usize);
    Ok(Some(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG of `rows` (each a filter byte and its samples), compressed
    /// and cut into `IDAT` chunks of at most `chunk` bytes.
    fn png(
        width: u32,
        colour: u8,
        rows: &[u8],
        chunk: usize,
        extra: &[(&[u8; 4], &[u8])],
    ) -> Vec<u8> {
        let bands = [1, 0, 3, 0, 2, 0, 4][usize::from(colour)];
        let height = rows.len() / (width as usize * bands + 1);
        let mut out = SIGNATURE.to_vec();
        let mut put = |kind: &[u8], body: &[u8]| {
            out.extend((body.len() as u32).to_be_bytes());
            out.extend(kind);
            out.extend(body);
            out.extend([0; 4]);
        };
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend((height as u32).to_be_bytes());
        ihdr.extend([8, colour, 0, 0, 0]);
        put(b"IHDR", &ihdr);
        for (kind, body) in extra {
            put(&kind[..], body);
        }
        let mut z = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
        let mut compressed = vec![0; z.zlib_compress_bound(rows.len())];
        let n = z.zlib_compress(rows, &mut compressed).unwrap();
        for part in compressed[..n].chunks(chunk) {
            put(b"IDAT", part);
        }
        put(b"IEND", &[]);
        out
    }

    #[test]
    fn every_filter_decodes_to_its_pixels() {
        // Two RGB pixels a row, three rows: None, Sub, Up; then Average and
        // Paeth over the rows they predict from.
        let rows = [
            0, 10, 20, 30, 40, 50, 60, //
            1, 1, 2, 3, 1, 2, 3, //
            2, 1, 1, 1, 1, 1, 1, //
            3, 1, 1, 1, 1, 1, 1, //
            4, 1, 1, 1, 1, 1, 1,
        ];
        let data = png(2, 2, &rows, 7, &[]);
        let layout = layout(&data).unwrap();
        assert_eq!((layout.width, layout.height, layout.bands), (2, 5, 3));
        assert!(layout.idat_chunks > 1);
        let pixels = decode(&layout).unwrap().unwrap();
        let want: &[u8] = &[
            10, 20, 30, 40, 50, 60, // as written
            1, 2, 3, 2, 4, 6, // Sub: left + this
            2, 3, 4, 3, 5, 7, // Up: above + this
            2, 2, 3, 3, 4, 6, // Average: (left + above) / 2 + this
            // Paeth of (left, above, above-left): first pixel takes above.
            3, 3, 4, 4, 5, 7,
        ];
        assert_eq!(pixels, want);
    }

    #[test]
    fn empty_chunks_in_the_image_data_are_read_past() {
        let rows = [0u8, 7, 8, 2, 1, 1];
        let data = png(2, 0, &rows, 1, &[]);
        // An empty IDAT after each one-byte chunk.
        let idat_start = 33;
        let iend = data.len() - 12;
        let mut spaced = data[..idat_start].to_vec();
        let mut at = idat_start;
        while at < iend {
            let chunk = 12 + u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            spaced.extend(&data[at..at + chunk]);
            spaced.extend([0, 0, 0, 0, b'I', b'D', b'A', b'T', 0, 0, 0, 0]);
            at += chunk;
        }
        spaced.extend(&data[iend..]);
        let layout = layout(&spaced).unwrap();
        assert_eq!(layout.idat_chunks, 2 * (layout.compressed_bytes as usize));
        assert_eq!(decode(&layout).unwrap().unwrap(), [7, 8, 8, 9]);
    }

    #[test]
    fn what_libvips_must_decode_has_no_layout() {
        let rows = [0u8, 1, 2];
        assert!(layout(&png(2, 0, &rows, 100, &[])).is_some());
        // A transparent colour, palette, interlacing, 16 bits: libvips'.
        assert!(layout(&png(2, 0, &rows, 100, &[(b"tRNS", &[0, 1])])).is_none());
        let mut palette = png(2, 0, &rows, 100, &[]);
        palette[25] = 3;
        assert!(layout(&palette).is_none());
        let mut interlaced = png(2, 0, &rows, 100, &[]);
        interlaced[28] = 1;
        assert!(layout(&interlaced).is_none());
        let mut deep = png(2, 0, &rows, 100, &[]);
        deep[24] = 16;
        assert!(layout(&deep).is_none());
        // Image data cut inside its last chunk.
        let whole = png(2, 0, &rows, 100, &[]);
        let idat_end = whole.len() - 12;
        assert!(layout(&whole[..idat_end - 6]).is_none());
        // A file that ends after whole image data is read as it is.
        assert!(layout(&whole[..idat_end]).is_some());
        assert!(layout(b"\x89PNG\r\n\x1a\n").is_none());
        assert!(layout(b"GIF89a").is_none());
    }

    #[test]
    fn data_that_does_not_inflate_to_the_rows_is_left_to_libvips() {
        let rows = [0u8, 1, 2, 0, 3, 4];
        // A row short, a row too many.
        for declared in [
            png(2, 0, &rows[..3], 100, &[]),
            png(2, 0, &[&rows[..], &rows[..3]].concat(), 100, &[]),
        ] {
            let mut data = png(2, 0, &rows, 100, &[]);
            let start = 8 + 25;
            let idat = layout(&declared).unwrap().compressed().to_vec();
            let mut swapped = data[..start].to_vec();
            swapped.extend((idat.len() as u32).to_be_bytes());
            swapped.extend(b"IDAT");
            swapped.extend(&idat);
            swapped.extend([0; 4]);
            swapped.extend(&data[data.len() - 12..]);
            data = swapped;
            let layout = layout(&data).unwrap();
            assert_eq!(decode(&layout).unwrap(), None);
        }
        // A damaged checksum, an unknown filter.
        let mut data = png(2, 0, &rows, 100, &[]);
        let at = data.len() - 12 - 4 - 1;
        data[at] ^= 1;
        assert_eq!(decode(&layout(&data).unwrap()).unwrap(), None);
        let data = png(2, 0, &[5, 1, 2], 100, &[]);
        assert_eq!(decode(&layout(&data).unwrap()).unwrap(), None);
    }
}
