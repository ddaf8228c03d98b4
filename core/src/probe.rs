//! Header facts the budget needs and libvips does not report, read from
//! the bytes without decoding anything: what a decoder will really
//! allocate and how many passes it will make.
//!
//! - JPEG: multi-scan (progressive) files are decoded through a buffer of
//!   every DCT coefficient of the image, at full size even when libvips
//!   shrinks while loading, and each scan is one more pass over it.
//! - WebP: lossless (VP8L) bitstreams are decoded whole, at full size;
//!   animations decode every frame onto a canvas.
//! - GIF: the number of frames.
//! - JPEG 2000: the size of one tile, which OpenJPEG decodes whole into
//!   32-bit samples.
//! - TIFF: how the first page is stored, and where its link to the next
//!   page is ([`tiff`]).
//!
//! Every reader stops at the first inconsistency and returns what it has
//! (or `None`): the decoder will then fail on its own. Where a decoder
//! accepts what the reader does not expect (a JPEG marker whose length is
//! 0), the reader must read on as the decoder does, since facts it misses
//! are memory and time nobody charges.

mod icc;
mod jpeg;
mod tiff;

pub(crate) use icc::{icc_processing_elements, icc_tags, icc_u32};
#[cfg(test)]
pub(crate) use jpeg::seg as jpeg_segment;
#[cfg(any(test, feature = "own-jpeg"))]
pub(crate) use jpeg::segments as jpeg_segments;
pub(crate) use jpeg::{
    jpeg, jpeg_saved_marker_bytes, jpeg_saved_markers, jpeg_single_pass, SAVED_MARKER_LIMIT,
};
pub(crate) use tiff::{tiff, tiff_metadata_bytes, tiff_next_page_field};

use crate::format::find;

/// What a WebP's chunks say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WebpFacts {
    /// Canvas (or image) width and height.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Animation frames (`ANMF` chunks); 1 for a still image.
    pub frames: u32,
    /// Some bitstream is lossless (VP8L).
    pub lossless: bool,
    /// Chunks at the top level of the RIFF (libwebp's demuxer allocates a
    /// record for each one it keeps, unknown ones included).
    pub chunks: u64,
    /// Bytes of coded image data (`VP8 `, `VP8L` and `ALPH` chunks, in
    /// frames too): what the decoders' entropy stages read.
    pub coded: u64,
    /// Bytes of metadata (`ICCP`, `EXIF` and `XMP ` chunks), which libvips
    /// copies into the image's metadata at every header read.
    pub metadata: u64,
}

/// Walk a WebP's RIFF chunks (and the chunks inside animation frames).
pub(crate) fn webp(data: &[u8]) -> Option<WebpFacts> {
    if data.len() < 12 || &data[..4] != b"RIFF" || &data[8..12] != b"WEBP" {
        return None;
    }
    // libwebp reads nothing past the end its RIFF header declares (and
    // refuses a RIFF shorter than one chunk): whatever follows is not
    // walked, however long (a still WebP followed by 600 MB of zeros was
    // walked as 78 million empty chunks, four times per call).
    let riff = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
    let end = data.len().min(riff.saturating_add(8));
    let mut facts = WebpFacts::default();
    walk_webp(data.get(12..end).unwrap_or_default(), &mut facts, true);
    if facts.frames == 0 {
        facts.frames = 1;
    }
    Some(facts)
}

fn walk_webp(mut chunks: &[u8], facts: &mut WebpFacts, top: bool) {
    while chunks.len() >= 8 {
        if top {
            facts.chunks += 1;
        }
        let tag = &chunks[..4];
        let len = u32::from_le_bytes([chunks[4], chunks[5], chunks[6], chunks[7]]) as usize;
        let body = &chunks[8..(8 + len).min(chunks.len())];
        if matches!(tag, b"VP8 " | b"VP8L" | b"ALPH") {
            facts.coded = facts.coded.saturating_add(body.len() as u64);
        }
        if top && matches!(tag, b"ICCP" | b"EXIF" | b"XMP ") {
            facts.metadata = facts.metadata.saturating_add(body.len() as u64);
        }
        match tag {
            b"VP8X" if top && body.len() >= 10 => {
                facts.width = u24(&body[4..7]) + 1;
                facts.height = u24(&body[7..10]) + 1;
            }
            b"VP8L" => {
                facts.lossless = true;
                if top && body.len() >= 5 && facts.width == 0 {
                    let bits = u32::from_le_bytes([body[1], body[2], body[3], body[4]]);
                    facts.width = (bits & 0x3FFF) + 1;
                    facts.height = ((bits >> 14) & 0x3FFF) + 1;
                }
            }
            b"VP8 " if top && body.len() >= 10 && facts.width == 0 => {
                facts.width = u16::from_le_bytes([body[6], body[7]]) as u32 & 0x3FFF;
                facts.height = u16::from_le_bytes([body[8], body[9]]) as u32 & 0x3FFF;
            }
            b"ANMF" if top => {
                facts.frames = facts.frames.saturating_add(1);
                if body.len() > 16 {
                    walk_webp(&body[16..], facts, false);
                }
            }
            _ => {}
        }
        let step = 8 + len + (len & 1);
        if step > chunks.len() {
            break;
        }
        chunks = &chunks[step..];
    }
}

/// The boxes in `data`: (type, body).
fn isobmff_boxes(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as u64;
        let (header, size) = match size {
            0 => (8, data.len() as u64),
            1 if data.len() >= 16 => (
                16,
                u64::from_be_bytes(data[8..16].try_into().unwrap_or_default()),
            ),
            1 => return None,
            n => (8, n),
        };
        let size = usize::try_from(size).ok()?.min(data.len());
        if size < header {
            return None;
        }
        let kind = &data[4..8];
        let body = &data[header..size];
        data = &data[size..];
        Some((kind, body))
    })
}

/// Bytes of an ISOBMFF (HEIF, AVIF) file's top-level boxes that libheif
/// 1.15 parses while it reads the header: every one but the media data and
/// padding, wherever it sits (a `colr` box at the top level is parsed as
/// one inside `meta` is, and a second `meta` box as the first), in one
/// call nothing interrupts, some of it a byte at a time through libvips'
/// source (an ICC profile in a `colr` property: 100 MB took 4 s).
pub(crate) fn heif_meta_bytes(data: &[u8]) -> Option<u64> {
    let parsed = isobmff_boxes(data)
        .filter(|(kind, _)| !matches!(*kind, b"mdat" | b"free" | b"skip" | b"ftyp"))
        .map(|(_, body)| body.len() as u64)
        .sum();
    Some(parsed)
}

/// How many items an ISOBMFF (HEIF, AVIF) file's top-level `meta` boxes
/// hold: the largest `iinf` entry count or `iloc` item count of any of
/// them (libheif keeps the last; `None` without a `meta` box), each at
/// most what its box has room for. libheif 1.15 links items to their
/// properties, locations and references by searching lists as long as the
/// file's items, once per item, in the one call that reads the header; it
/// stops reading a box's entries where the box ends, so a count its box
/// cannot hold (a damaged file) costs no more than the entries that are
/// there.
pub(crate) fn heif_items(data: &[u8]) -> Option<u64> {
    let metas: Vec<&[u8]> = isobmff_boxes(data)
        .filter(|(kind, _)| *kind == b"meta")
        .map(|(_, body)| body)
        .collect();
    if metas.is_empty() {
        return None;
    }
    Some(metas.into_iter().filter_map(meta_items).max().unwrap_or(0))
}

/// The fewest bytes an `iinf` entry takes: an `infe` box's header.
const MIN_IINF_ENTRY: usize = 8;
/// The fewest bytes an `iloc` item takes: its ID, data reference index and
/// extent count (version 0, with offsets and lengths of no bytes).
const MIN_ILOC_ITEM: usize = 6;

/// The items one `meta` box holds (see [`heif_items`]).
fn meta_items(meta: &[u8]) -> Option<u64> {
    let mut items = 0u64;
    for (kind, body) in isobmff_boxes(meta.get(4..)?) {
        let (version, rest) = (*body.first()?, body.get(4..)?);
        // The declared count, where the entries start, the least each takes.
        let (count, entries, least) = match kind {
            b"iinf" if version == 0 => (
                u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as u64,
                2,
                MIN_IINF_ENTRY,
            ),
            b"iinf" => (
                u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as u64,
                4,
                MIN_IINF_ENTRY,
            ),
            // iloc: two bytes of field sizes, then the count.
            b"iloc" if version < 2 => (
                u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]) as u64,
                4,
                MIN_ILOC_ITEM,
            ),
            b"iloc" => (
                u32::from_be_bytes(rest.get(2..6)?.try_into().ok()?) as u64,
                6,
                MIN_ILOC_ITEM,
            ),
            _ => continue,
        };
        let room = (rest.len().saturating_sub(entries) / least) as u64;
        items = items.max(count.min(room));
    }
    Some(items)
}

fn u24(b: &[u8]) -> u32 {
    b[0] as u32 | (b[1] as u32) << 8 | (b[2] as u32) << 16
}

/// Count the frames (image descriptors) of a GIF by walking its blocks.
pub(crate) fn gif_frames(data: &[u8]) -> Option<u32> {
    if data.len() < 13 || !(data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a")) {
        return None;
    }
    let flags = data[10];
    let mut i = 13;
    if flags & 0x80 != 0 {
        i += 3 << ((flags & 7) + 1);
    }
    let mut frames = 0u32;
    // Skip a chain of data sub-blocks starting at `j`.
    let skip_blocks = |mut j: usize| -> Option<usize> {
        loop {
            let n = *data.get(j)? as usize;
            j += 1;
            if n == 0 {
                return Some(j);
            }
            j += n;
        }
    };
    while let Some(&b) = data.get(i) {
        match b {
            0x2C => {
                frames += 1;
                let packed = *data.get(i + 9)?;
                i += 10;
                if packed & 0x80 != 0 {
                    i += 3 << ((packed & 7) + 1);
                }
                i += 1; // LZW minimum code size
                i = skip_blocks(i)?;
            }
            0x21 => i = skip_blocks(i + 2)?,
            0x3B => break,
            _ => break,
        }
    }
    Some(frames)
}

/// What a JPEG 2000 codestream's SIZ marker says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Jp2Facts {
    /// Image width and height (reference grid, offsets removed).
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Width and height of one tile.
    pub tile_width: u32,
    /// See `tile_width`.
    pub tile_height: u32,
    /// Components.
    pub components: u32,
}

impl Jp2Facts {
    /// Bytes OpenJPEG allocates to decode one tile (32-bit samples).
    pub(crate) fn tile_bytes(&self) -> u64 {
        let tw = self.tile_width.min(self.width.max(1)) as u64;
        let th = self.tile_height.min(self.height.max(1)) as u64;
        tw * th * self.components.max(1) as u64 * 4
    }
}

/// Find the SIZ marker of a JPEG 2000 codestream (raw `.j2k` or inside a
/// `.jp2` box structure).
pub(crate) fn jp2(data: &[u8]) -> Option<Jp2Facts> {
    let start = find(data, &[0xFF, 0x4F, 0xFF, 0x51])?;
    let siz = data.get(start + 4..)?;
    let be32 =
        |o: usize| -> Option<u32> { Some(u32::from_be_bytes(siz.get(o..o + 4)?.try_into().ok()?)) };
    // Lsiz(2) Rsiz(2) Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz(2)
    let (x, y, xo, yo) = (be32(4)?, be32(8)?, be32(12)?, be32(16)?);
    let (xt, yt) = (be32(20)?, be32(24)?);
    let comps = u16::from_be_bytes(siz.get(36..38)?.try_into().ok()?) as u32;
    Some(Jp2Facts {
        width: x.saturating_sub(xo),
        height: y.saturating_sub(yo),
        tile_width: xt,
        tile_height: yt,
        components: comps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heif_item_counts() {
        fn bx(kind: &[u8], body: &[u8]) -> Vec<u8> {
            let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend(kind);
            b.extend(body);
            b
        }
        let mut iinf = vec![0, 0, 0, 0];
        iinf.extend(30000u16.to_be_bytes());
        // Room for the 30 000 entries (the smallest an entry can be).
        iinf.extend([0u8; 8 * 30000]);
        let mut iloc = vec![1, 0, 0, 0, 0x44, 0];
        iloc.extend(7u16.to_be_bytes());
        iloc.extend([0u8; 7 * 6]);
        let mut meta = vec![0, 0, 0, 0];
        meta.extend(bx(b"iloc", &iloc));
        meta.extend(bx(b"iinf", &iinf));
        let mut file = bx(b"ftyp", b"avif\0\0\0\0");
        file.extend(bx(b"meta", &meta));
        assert_eq!(heif_items(&file), Some(30000));
        assert_eq!(heif_items(&file[..20]), None);
        // An empty `meta` box first hid the real one (libheif keeps the
        // last), and a top-level `colr` box was not counted as parsed.
        let mut dodge = bx(b"ftyp", b"avif\0\0\0\0");
        dodge.extend(bx(b"meta", &[0, 0, 0, 0]));
        dodge.extend(bx(b"meta", &meta));
        dodge.extend(bx(b"colr", &[7u8; 5000]));
        dodge.extend(bx(b"mdat", &[0u8; 9000]));
        assert_eq!(heif_items(&dodge), Some(30000));
        let parsed = 4 + meta.len() as u64 + 5000;
        assert_eq!(heif_meta_bytes(&dodge), Some(parsed));
        // A count its box has no room for (a damaged file: libheif stops
        // at the box's end) counts the entries there is room for.
        let mut short_iinf = vec![0, 0, 0, 0];
        short_iinf.extend(65535u16.to_be_bytes());
        short_iinf.extend([0u8; 8 * 5 + 7]);
        let mut short_iloc = vec![1, 0, 0, 0, 0x44, 0];
        short_iloc.extend(60000u16.to_be_bytes());
        short_iloc.extend([0u8; 6 * 9]);
        let mut meta = vec![0, 0, 0, 0];
        meta.extend(bx(b"iinf", &short_iinf));
        meta.extend(bx(b"iloc", &short_iloc));
        let mut damaged = bx(b"ftyp", b"avif\0\0\0\0");
        damaged.extend(bx(b"meta", &meta));
        assert_eq!(heif_items(&damaged), Some(9));
    }

    #[test]
    fn webp_chunks() {
        let mut w = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0".to_vec();
        w.extend([0xFF, 0x0F, 0x00, 0xFF, 0x0F, 0x00]); // 4096 x 4096
        for _ in 0..3 {
            let mut frame = vec![0u8; 16];
            frame.extend(b"VP8L\x05\0\0\0\x2f\0\0\0\0\0");
            w.extend(b"ANMF");
            w.extend((frame.len() as u32).to_le_bytes());
            w.extend(&frame);
        }
        let riff = (w.len() - 8) as u32;
        w[4..8].copy_from_slice(&riff.to_le_bytes());
        let f = webp(&w).unwrap();
        assert_eq!(
            f,
            WebpFacts {
                width: 4096,
                height: 4096,
                frames: 3,
                lossless: true,
                chunks: 4,
                coded: 15,
                metadata: 0,
            }
        );
        // Bytes past the RIFF's declared end are not the file's: libwebp
        // never reads them, and neither does the walk.
        let mut trailing = w.clone();
        trailing.extend(std::iter::repeat_n(0, 8 * 1000));
        assert_eq!(webp(&trailing).unwrap(), f);
        // Empty chunks inside the RIFF are each one more chunk.
        let mut padded = w.clone();
        padded.extend(std::iter::repeat_n(0, 8 * 1000));
        let riff = (padded.len() - 8) as u32;
        padded[4..8].copy_from_slice(&riff.to_le_bytes());
        assert_eq!(webp(&padded).unwrap().chunks, 1004);
    }

    #[test]
    fn gif_frames_and_jp2_tiles() {
        let mut g = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff".to_vec();
        g.extend(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0");
        for _ in 0..5 {
            g.extend(b"\x21\xf9\x04\0\x01\0\0\0\x2c\0\0\0\0\x01\0\x01\0\0\x02\x02\x44\x01\0");
        }
        g.push(0x3B);
        assert_eq!(gif_frames(&g), Some(5));
        let mut c = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [9000u32, 9000, 0, 0, 9000, 9000, 0, 0] {
            c.extend(v.to_be_bytes());
        }
        c.extend([0, 3]);
        let f = jp2(&c).unwrap();
        assert_eq!(f.tile_bytes(), 9000 * 9000 * 3 * 4);
    }
}
