//! JPEG segments libjpeg saves for libvips, past a limit.
//!
//! libjpeg keeps every APP1, APP2, APP13 and APP14 segment in a list for
//! libvips and appends each by walking the list from its head: an 8 MB
//! JPEG of a million 10-byte APP1 segments held a server thread for hours
//! reading its header, in one call no deadline reaches (20 000 took 1.3 s).
//! libvips is given a copy without those past the first
//! [`SAVED_MARKER_LIMIT`] (their content is metadata, never pixels);
//! between the scans of a progressive JPEG too, where libjpeg saves them
//! while it decodes.

use crate::probe::{jpeg_saved_markers, SAVED_MARKER_LIMIT};

/// Does the JPEG `data` have more saved segments than libvips is given?
pub(crate) fn has_excess(data: &[u8]) -> bool {
    jpeg_saved_markers(data).nth(SAVED_MARKER_LIMIT).is_some()
}

/// A copy of the JPEG `data` without the saved segments past the first
/// [`SAVED_MARKER_LIMIT`].
pub(crate) fn without_excess(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut from = 0;
    for segment in jpeg_saved_markers(data).skip(SAVED_MARKER_LIMIT) {
        out.extend_from_slice(&data[from..segment.start]);
        from = segment.end;
    }
    out.extend_from_slice(&data[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::jpeg_segment as segment;

    #[test]
    fn only_saved_segments_past_the_limit_are_dropped() {
        // Progressive: libjpeg reads the segments between its scans too.
        let frame = [
            segment(0xC2, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]),
            segment(0xDA, &[1, 1, 0, 0, 63, 0]),
        ]
        .concat();
        let mut j = vec![0xFF, 0xD8];
        for n in 0..SAVED_MARKER_LIMIT + 10 {
            // APP1, APP2, APP13, APP14 in turn, with a COM and an APP5
            // (not saved) and a bogus length (not saved) among them.
            j.extend(segment([0xE1, 0xE2, 0xED, 0xEE][n % 4], b"meta"));
            if n % 100 == 0 {
                j.extend(segment(0xFE, b"comment"));
                j.extend(segment(0xE5, b"app5"));
                j.extend([0xFF, 0xE1, 0, 0]);
            }
        }
        j.extend(&frame);
        j.extend([0x12, 0x34, 0xFF, 0x00, 0x56]);
        j.extend(segment(0xE2, b"between scans"));
        j.extend(segment(0xDA, &[1, 1, 0, 0, 63, 0]));
        j.extend([0x78, 0xFF, 0xD9]);
        assert!(has_excess(&j));
        let kept = without_excess(&j);
        assert_eq!(jpeg_saved_markers(&kept).count(), SAVED_MARKER_LIMIT);
        assert!(!has_excess(&kept));
        // The last 10 before the frame (8 bytes each) and the one between
        // the scans (17) went; everything else stays.
        assert_eq!(kept.len(), j.len() - 10 * 8 - 17);
        assert_eq!(crate::probe::jpeg(&kept), crate::probe::jpeg(&j));
        let count = |d: &[u8], marker: u8| {
            crate::probe::jpeg_segments(d)
                .filter(|s| s.marker == marker)
                .count()
        };
        for marker in [0xFE, 0xE5, 0xC2, 0xDA] {
            assert_eq!(count(&kept, marker), count(&j, marker), "{marker:x}");
        }
        // At the limit, nothing to drop.
        let mut at_limit = vec![0xFF, 0xD8];
        for _ in 0..SAVED_MARKER_LIMIT {
            at_limit.extend(segment(0xE1, b"x"));
        }
        at_limit.extend(&frame);
        assert!(!has_excess(&at_limit));
        assert!(!has_excess(b"\x89PNG\r\n\x1a\n"));
    }
}
