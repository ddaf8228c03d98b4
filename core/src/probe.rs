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

mod tiff;

pub(crate) use tiff::{tiff, tiff_next_page_field};

use crate::format::find;

/// What a JPEG's headers say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JpegFacts {
    /// Frame width and height.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Scans (SOS markers); more than one means a buffered decode.
    pub scans: u32,
    /// `(horizontal, vertical)` sampling factors of each component.
    pub sampling: Vec<(u8, u8)>,
}

impl JpegFacts {
    /// Bytes of the whole-image DCT coefficient buffer a multi-scan
    /// decode allocates (2 bytes per coefficient, 64 per block, per
    /// component at its sampling), or 0 for a single-scan file.
    pub(crate) fn coefficient_bytes(&self) -> u64 {
        if self.scans <= 1 {
            return 0;
        }
        self.blocks() * 64 * 2
    }

    /// 8x8 blocks over all components (padded to whole MCUs).
    pub(crate) fn blocks(&self) -> u64 {
        let hmax = self.sampling.iter().map(|s| s.0).max().unwrap_or(1).max(1) as u64;
        let vmax = self.sampling.iter().map(|s| s.1).max().unwrap_or(1).max(1) as u64;
        let mcus_x = (self.width as u64).div_ceil(8 * hmax);
        let mcus_y = (self.height as u64).div_ceil(8 * vmax);
        self.sampling
            .iter()
            .map(|&(h, v)| mcus_x * h.max(1) as u64 * mcus_y * v.max(1) as u64)
            .sum()
    }
}

/// Read a JPEG's frame header and count its scans.
pub(crate) fn jpeg(data: &[u8]) -> Option<JpegFacts> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut facts = JpegFacts::default();
    let mut i = 2;
    while i + 1 < data.len() {
        if data[i] != 0xFF {
            // Entropy-coded data after a scan: jump to the next marker
            // (memchr: a byte-at-a-time loop here was 8% of a JPEG resize).
            match memchr::memchr(0xFF, &data[i..]) {
                Some(k) => {
                    i += k;
                    continue;
                }
                None => break,
            }
        }
        let marker = data[i + 1];
        match marker {
            // Fill byte, stuffed zero, restart markers: keep scanning.
            0xFF => {
                i += 1;
                continue;
            }
            0x00 | 0xD0..=0xD7 | 0x01 => {
                i += 2;
                continue;
            }
            0xD9 => break,
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (data.get(i + 2), data.get(i + 3)) else {
            break;
        };
        let len = u16::from_be_bytes([hi, lo]) as usize;
        // A length below 2 (libjpeg skips nothing then) is an empty body.
        let end = (i + 2 + len).clamp(i + 4, data.len().max(i + 4));
        let body = data.get(i + 4..end).unwrap_or(&[]);
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && body.len() >= 6 => {
                facts.height = u16::from_be_bytes([body[1], body[2]]) as u32;
                facts.width = u16::from_be_bytes([body[3], body[4]]) as u32;
                let n = body[5] as usize;
                facts.sampling = body[6..]
                    .chunks_exact(3)
                    .take(n)
                    .map(|c| (c[1] >> 4, c[1] & 0x0F))
                    .collect();
            }
            0xDA => facts.scans += 1,
            _ => {}
        }
        i += 2 + len.max(2);
    }
    (facts.width > 0 || facts.scans > 0).then_some(facts)
}

/// Is this JPEG decoded in one pass, front to back? Its frame is
/// sequential Huffman (SOF0 or SOF1) and its first scan, found within
/// `head`, carries every component: libjpeg then decodes rows as the
/// data arrives and refuses any further scan. `false` when `head` ends
/// before the first scan.
pub(crate) fn jpeg_single_pass(head: &[u8]) -> bool {
    if !head.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut components = None;
    let mut i = 2;
    while i + 3 < head.len() {
        if head[i] != 0xFF {
            return false;
        }
        let marker = head[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([head[i + 2], head[i + 3]]) as usize;
        let Some(body) = head.get(i + 4..i + 2 + len.max(2)) else {
            return false;
        };
        match marker {
            0xC0 | 0xC1 if body.len() >= 6 && components.is_none() => {
                components = Some(body[5]);
            }
            // Any other frame type (progressive, lossless, arithmetic,
            // hierarchical), or a second frame header.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => return false,
            0xDA => {
                return components
                    .is_some_and(|n| n > 0 && body.first().is_some_and(|&ns| ns == n));
            }
            0xD9 => return false,
            _ => {}
        }
        i += 2 + len.max(2);
    }
    false
}

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
}

/// Walk a WebP's RIFF chunks (and the chunks inside animation frames).
pub(crate) fn webp(data: &[u8]) -> Option<WebpFacts> {
    if data.len() < 12 || &data[..4] != b"RIFF" || &data[8..12] != b"WEBP" {
        return None;
    }
    let mut facts = WebpFacts::default();
    walk_webp(&data[12..], &mut facts, true);
    if facts.frames == 0 {
        facts.frames = 1;
    }
    Some(facts)
}

fn walk_webp(mut chunks: &[u8], facts: &mut WebpFacts, top: bool) {
    while chunks.len() >= 8 {
        let tag = &chunks[..4];
        let len = u32::from_le_bytes([chunks[4], chunks[5], chunks[6], chunks[7]]) as usize;
        let body = &chunks[8..(8 + len).min(chunks.len())];
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

    fn seg(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn progressive_jpeg_coefficients() {
        let mut j = vec![0xFF, 0xD8];
        // SOF2 65535x65535, 3 components 4:2:0.
        j.extend(seg(
            0xC2,
            &[
                8, 0xFF, 0xFF, 0xFF, 0xFF, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
            ],
        ));
        for _ in 0..3 {
            j.extend(seg(0xDA, &[1, 1, 0, 0, 63, 0]));
            j.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        }
        j.extend([0xFF, 0xD9]);
        let f = jpeg(&j).unwrap();
        assert_eq!((f.width, f.height, f.scans), (65535, 65535, 3));
        assert_eq!(f.sampling, vec![(2, 2), (1, 1), (1, 1)]);
        // 4:2:0 is 1.5 samples per pixel, 2 bytes per coefficient.
        let per_pixel = f.coefficient_bytes() as f64 / (65535.0 * 65535.0);
        assert!((per_pixel - 3.0).abs() < 0.01, "{per_pixel}");
        assert!(jpeg(b"not a jpeg").is_none());
        assert!(jpeg(&j[..10]).is_some() || jpeg(&j[..10]).is_none());
        // libjpeg skips a marker whose length is below 2 (a COM of length
        // 0 before the frame); the facts after it still count. Before: the
        // probe gave up and a 1.9 GB coefficient buffer went uncharged.
        for len in [0u8, 1] {
            let mut hidden = vec![0xFF, 0xD8, 0xFF, 0xFE, 0, len];
            hidden.extend_from_slice(&j[2..]);
            assert_eq!(jpeg(&hidden), Some(f.clone()), "length {len}");
        }
        // A file cut inside a marker's length keeps what came before.
        let last_sos = j.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
        let cut = jpeg(&j[..last_sos + 3]).expect("facts before the cut");
        assert_eq!((cut.width, cut.scans), (65535, 2));
    }

    #[test]
    fn single_pass_jpegs_are_sequential_with_a_full_first_scan() {
        let sof = |marker: u8, n: u8| {
            let mut body = vec![8, 0, 16, 0, 16, n];
            for c in 0..n {
                body.extend([c + 1, 0x11, 0]);
            }
            seg(marker, &body)
        };
        let sos = |n: u8| {
            let mut body = vec![n];
            for c in 0..n {
                body.extend([c + 1, 0]);
            }
            body.extend([0, 63, 0]);
            seg(0xDA, &body)
        };
        let file = |parts: &[Vec<u8>]| {
            let mut j = vec![0xFF, 0xD8];
            j.extend(seg(0xE1, &[0u8; 300])); // EXIF before the frame
            for p in parts {
                j.extend(p);
            }
            j
        };
        assert!(jpeg_single_pass(&file(&[sof(0xC0, 3), sos(3)])));
        assert!(jpeg_single_pass(&file(&[sof(0xC1, 1), sos(1)])));
        // Progressive, or a first scan of one component of three.
        assert!(!jpeg_single_pass(&file(&[sof(0xC2, 3), sos(3)])));
        assert!(!jpeg_single_pass(&file(&[sof(0xC0, 3), sos(1)])));
        // Arithmetic coding, lossless: not streamed.
        assert!(!jpeg_single_pass(&file(&[sof(0xC9, 3), sos(3)])));
        assert!(!jpeg_single_pass(&file(&[sof(0xC3, 3), sos(3)])));
        // The head ends before the first scan; no frame; not a JPEG.
        let whole = file(&[sof(0xC0, 3), sos(3)]);
        assert!(!jpeg_single_pass(&whole[..whole.len() - 6]));
        assert!(!jpeg_single_pass(&file(&[sos(3)])));
        assert!(!jpeg_single_pass(b"\x89PNG\r\n\x1a\n"));
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
        let f = webp(&w).unwrap();
        assert_eq!(
            f,
            WebpFacts {
                width: 4096,
                height: 4096,
                frames: 3,
                lossless: true
            }
        );
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
