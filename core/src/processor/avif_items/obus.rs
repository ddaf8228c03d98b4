//! AV1 open bitstream units (OBUs, AV1 specification 5.3) of an image
//! item's data, counted without decoding.
//!
//! An AV1 image item holds one temporal unit, which may carry many coded
//! frames: hidden frames, shown ones, layers. libaom (the decoder of the
//! bundled libheif) decodes every frame of the item's data in one call that
//! nothing interrupts, and dav1d every frame up to the first one shown; a
//! file of thousands of copies of one frame is decoded thousands of times.
//! The budget charges the frames the data codes ([`coded_frames`]).

/// `OBU_FRAME_HEADER`: a frame header whose tiles follow in tile groups.
const FRAME_HEADER: u8 = 3;
/// `OBU_FRAME`: a frame header and its tiles in one unit.
const FRAME: u8 = 6;

/// How many frames `data`, a run of OBUs, codes: its `OBU_FRAME` and
/// `OBU_FRAME_HEADER` units (a redundant copy of a header is not counted).
/// A unit without a size field runs to the end of the data, as AV1 allows
/// for the last one; counting stops at a malformed unit (the decoder
/// fails there too).
pub(crate) fn coded_frames(data: &[u8]) -> u64 {
    let mut frames = 0;
    let mut at = 0;
    while at < data.len() {
        let header = data[at];
        let kind = (header >> 3) & 0x0F;
        let has_extension = header & 0x04 != 0;
        let has_size = header & 0x02 != 0;
        let mut next = at + 1 + usize::from(has_extension);
        if next > data.len() {
            break;
        }
        if kind == FRAME_HEADER || kind == FRAME {
            frames += 1;
        }
        if !has_size {
            break;
        }
        let Some((size, read)) = leb128(&data[next..]) else {
            break;
        };
        next += read;
        match usize::try_from(size).ok().and_then(|s| next.checked_add(s)) {
            Some(end) if end <= data.len() => at = end,
            _ => break,
        }
    }
    frames
}

/// An unsigned LEB128 value of at most 8 bytes (AV1's `leb128()`), and
/// the bytes it took; `None` if it does not end within them.
fn leb128(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in data.iter().take(8).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obu(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(kind << 3) | 0x02];
        let mut n = payload.len();
        loop {
            let byte = (n & 0x7F) as u8;
            n >>= 7;
            if n == 0 {
                v.push(byte);
                break;
            }
            v.push(byte | 0x80);
        }
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn frames_and_frame_headers_are_counted() {
        let sequence = obu(1, &[0u8; 12]);
        let frame = obu(FRAME, &[0x55; 200]);
        let mut data = [obu(2, &[]), sequence.clone(), frame.clone()].concat();
        assert_eq!(coded_frames(&data), 1);
        // A separate header with its tile group, a redundant header,
        // metadata and padding.
        data.extend(obu(FRAME_HEADER, &[1, 2, 3]));
        data.extend(obu(7, &[1, 2, 3]));
        data.extend(obu(4, &[9; 300]));
        data.extend(obu(5, &[0; 4]));
        data.extend(obu(15, &[0; 4]));
        assert_eq!(coded_frames(&data), 2);
        // Thousands of copies of one frame.
        let copies = [sequence, frame.repeat(5000)].concat();
        assert_eq!(coded_frames(&copies), 5000);
    }

    #[test]
    fn an_extension_byte_and_a_last_unit_without_size_are_read() {
        // Extension flag: one byte more before the size.
        let mut data = vec![(FRAME << 3) | 0x04 | 0x02, 0x08, 2, 0xAA, 0xBB];
        // No size field: the unit runs to the end.
        data.extend([(FRAME << 3), 1, 2, 3, 4]);
        assert_eq!(coded_frames(&data), 2);
    }

    #[test]
    fn counting_stops_at_a_malformed_unit() {
        let frame = obu(FRAME, &[0x55; 10]);
        // A size past the end, an unterminated size.
        let past = [frame.clone(), vec![(FRAME << 3) | 0x02, 100, 1]].concat();
        assert_eq!(coded_frames(&past), 2);
        let unterminated = [frame.clone(), vec![(FRAME << 3) | 0x02], vec![0xFF; 9]].concat();
        assert_eq!(coded_frames(&unterminated), 2);
        assert_eq!(coded_frames(&[]), 0);
        assert_eq!(coded_frames(&[(FRAME << 3) | 0x04]), 0);
    }
}
