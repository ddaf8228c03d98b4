//! JPEG marker segments: the frame and scans the budget charges, whether a
//! file can be decoded as it arrives, and the segments libjpeg saves for
//! libvips.

use std::ops::Range;

/// Saved segments ([`is_saved_marker`]) libvips is given of a JPEG: 1024
/// cost libjpeg about 3 ms. A real file has a few (an ICC profile is at
/// most 255); the rest are dropped, being metadata, never pixels.
pub(crate) const SAVED_MARKER_LIMIT: usize = 1024;

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

/// One marker segment of a JPEG: the marker, and where the segment and
/// its body are (cut to the data at hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The marker's second byte (`0xDA` for SOS).
    pub marker: u8,
    /// The length the segment declares (below 2: libjpeg skips nothing).
    pub length: u16,
    /// From the marker's `0xFF` to the end of its body.
    pub whole: Range<usize>,
    /// The body, after the length.
    pub body: Range<usize>,
}

/// The marker segments of a JPEG that carry a length, as libjpeg reads
/// them: through the entropy-coded data of every scan (to the next
/// marker), past fill bytes, stuffed zeros and restart markers, until EOI
/// or the end of `data`. A length below 2 is an empty body, as libjpeg
/// skips nothing then. Nothing when `data` is no JPEG.
pub(crate) fn segments(data: &[u8]) -> impl Iterator<Item = Segment> + '_ {
    let mut i = if data.starts_with(&[0xFF, 0xD8]) {
        2
    } else {
        data.len()
    };
    std::iter::from_fn(move || {
        while i + 1 < data.len() {
            if data[i] != 0xFF {
                // Entropy-coded data after a scan: jump to the next marker
                // (memchr: a byte-at-a-time loop here was 8% of a JPEG
                // resize).
                i += memchr::memchr(0xFF, &data[i..]).unwrap_or(data.len() - i);
                continue;
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
            let length = u16::from_be_bytes([hi, lo]);
            let start = i;
            i += 2 + usize::from(length.max(2));
            let end = i.min(data.len());
            return Some(Segment {
                marker,
                length,
                whole: start..end,
                body: (start + 4).min(end)..end,
            });
        }
        i = data.len();
        None
    })
}

/// The part of `data` whose markers libjpeg reads. A single-pass JPEG
/// ([`jpeg_single_pass`]) is decoded from its first scan with no look at
/// anything after it (libvips reads no further, and libjpeg takes no
/// second scan in that mode), so its markers end at that scan's header;
/// any other file is read to its end. Walking a 2 MB photo's entropy-coded
/// data for markers it cannot have was 1.5% of a JPEG resize.
fn marker_extent(data: &[u8]) -> &[u8] {
    if !single_pass(data, usize::MAX) {
        return data;
    }
    let first_scan = segments(data).find(|s| s.marker == 0xDA);
    first_scan.map_or(data, |s| &data[..s.whole.end])
}

/// Read a JPEG's frame header and count the scans libjpeg reads.
pub(crate) fn jpeg(data: &[u8]) -> Option<JpegFacts> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut facts = JpegFacts::default();
    for segment in segments(marker_extent(data)) {
        let body = &data[segment.body];
        match segment.marker {
            0xC0..=0xCF if !matches!(segment.marker, 0xC4 | 0xC8 | 0xCC) && body.len() >= 6 => {
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
    }
    (facts.width > 0 || facts.scans > 0).then_some(facts)
}

/// Does libjpeg keep this marker's segment in its list for libvips?
/// libvips asks for APP1 (Exif, XMP), APP2 (ICC), APP13 (IPTC) and APP14
/// (Adobe). libjpeg appends each one by walking the list from its head,
/// so n of them cost n²/2 steps in one call no deadline reaches: 20 000
/// took 1.3 s to read the header, a million would take hours.
pub(crate) fn is_saved_marker(marker: u8) -> bool {
    matches!(marker, 0xE1 | 0xE2 | 0xED | 0xEE)
}

/// Where the segments libjpeg saves for libvips are ([`is_saved_marker`]),
/// in order, anywhere libjpeg reads markers (between the scans of a
/// progressive JPEG too; before the scan of a single-pass one:
/// [`marker_extent`]). Those of a length below 2 are not saved, and not
/// listed.
pub(crate) fn jpeg_saved_markers(data: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    segments(marker_extent(data))
        .filter(|s| is_saved_marker(s.marker) && s.length >= 2)
        .map(|s| s.whole)
}

/// The bytes of the segments libjpeg keeps for libvips
/// ([`jpeg_saved_markers`]), of the first [`SAVED_MARKER_LIMIT`]: libvips
/// is never given more.
pub(crate) fn jpeg_saved_marker_bytes(data: &[u8]) -> u64 {
    jpeg_saved_markers(data)
        .take(SAVED_MARKER_LIMIT)
        .map(|r| r.len() as u64)
        .sum()
}

/// Is this JPEG decoded in one pass, front to back? Its frame is
/// sequential Huffman (SOF0 or SOF1) and its first scan, found within
/// `head`, carries every component: libjpeg then decodes rows as the
/// data arrives and refuses any further scan. `false` when `head` ends
/// before the first scan, or holds more than [`SAVED_MARKER_LIMIT`]
/// segments libjpeg saves (such a file waits to be whole, and loses the
/// excess).
pub(crate) fn jpeg_single_pass(head: &[u8]) -> bool {
    single_pass(head, SAVED_MARKER_LIMIT)
}

/// [`jpeg_single_pass`], with `false` past `saved_limit` saved segments
/// before the first scan.
fn single_pass(head: &[u8], saved_limit: usize) -> bool {
    if !head.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut components = None;
    let mut saved = 0;
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
        if is_saved_marker(marker) && len >= 2 {
            saved += 1;
            if saved > saved_limit {
                return false;
            }
        }
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

/// A marker segment of `body` (for tests).
#[cfg(test)]
pub(crate) fn seg(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xFF, marker];
    v.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // Past SAVED_MARKER_LIMIT saved segments before the scan (APP5 and
        // COM are not saved), a file waits to be whole.
        let saved = |n: usize, marker: u8| {
            let mut parts = vec![seg(marker, b"x"); n];
            parts.extend([sof(0xC0, 3), sos(3)]);
            jpeg_single_pass(&file(&parts))
        };
        // `file` adds one APP1 of its own.
        assert!(saved(SAVED_MARKER_LIMIT - 1, 0xED));
        assert!(!saved(SAVED_MARKER_LIMIT, 0xED));
        assert!(!saved(SAVED_MARKER_LIMIT, 0xE2));
        assert!(saved(5000, 0xE5));
        assert!(saved(5000, 0xFE));
    }

    #[test]
    fn markers_after_the_scan_of_a_single_pass_jpeg_are_not_read() {
        let sof = |marker: u8| seg(marker, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0]);
        let sos = seg(0xDA, &[1, 1, 0, 0, 63, 0]);
        let file = |frame: u8| {
            let mut j = vec![0xFF, 0xD8];
            j.extend(seg(0xE1, b"exif"));
            j.extend(sof(frame));
            j.extend(&sos);
            // Entropy-coded data with stuffed bytes and a restart marker,
            // then what libjpeg reads only in a multi-scan decode.
            j.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
            for _ in 0..3 {
                j.extend(seg(0xE2, &[7u8; 100]));
                j.extend(&sos);
                j.extend([0x78, 0x9A]);
            }
            j.extend([0xFF, 0xD9]);
            j
        };
        let baseline = file(0xC0);
        assert_eq!(jpeg_saved_markers(&baseline).count(), 1);
        assert_eq!(jpeg_saved_marker_bytes(&baseline), 8);
        let facts = jpeg(&baseline).unwrap();
        assert_eq!((facts.scans, facts.coefficient_bytes()), (1, 0));
        // A progressive file is read to its end, between the scans too.
        let progressive = file(0xC2);
        assert_eq!(jpeg_saved_markers(&progressive).count(), 4);
        assert_eq!(jpeg_saved_marker_bytes(&progressive), 8 + 3 * 104);
        assert_eq!(jpeg(&progressive).unwrap().scans, 4);
        // However many saved segments come before the scan.
        let mut crowded = vec![0xFF, 0xD8];
        for _ in 0..SAVED_MARKER_LIMIT + 5 {
            crowded.extend(seg(0xE1, b"x"));
        }
        crowded.extend(&baseline[2..]);
        assert_eq!(jpeg_saved_markers(&crowded).count(), SAVED_MARKER_LIMIT + 6);
        assert_eq!(jpeg(&crowded).unwrap().scans, 1);
    }
}
