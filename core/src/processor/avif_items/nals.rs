//! HEVC pictures of an image item's data (ISO/IEC 23008-2 NAL units, each
//! behind a 4-byte length as HEIF stores them), counted without decoding.
//!
//! libheif hands every NAL unit of an item to libde265 and decodes until
//! the decoder has nothing left: an item whose data repeats its picture
//! decodes it again for each copy.

/// Bytes of the length before each NAL unit: `hvcC`'s
/// `lengthSizeMinusOne` + 1, which every HEIF writer sets to 4, and which
/// libheif's libde265 plugin assumes whatever `hvcC` says (a file with
/// shorter lengths fails there before anything is decoded).
const LENGTH_BYTES: usize = 4;

/// How many pictures `data` codes: its slice segments (VCL NAL unit types
/// 0 to 31) that start a picture (`first_slice_segment_in_pic_flag`).
/// Counting stops at a unit that runs past the data.
pub(crate) fn coded_pictures(data: &[u8]) -> u64 {
    let mut pictures = 0;
    let mut at = 0;
    while let Some(length) = data.get(at..at + LENGTH_BYTES) {
        let length = u32::from_be_bytes(length.try_into().unwrap_or_default()) as usize;
        let start = at + LENGTH_BYTES;
        let Some(unit) = start
            .checked_add(length)
            .and_then(|end| data.get(start..end))
        else {
            break;
        };
        if let [header, _, first_byte, ..] = unit {
            let kind = (header >> 1) & 0x3F;
            if kind < 32 && first_byte & 0x80 != 0 {
                pictures += 1;
            }
        }
        at = start + length;
    }
    pictures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nal(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut unit = vec![kind << 1, 1];
        unit.extend_from_slice(body);
        let mut v = (unit.len() as u32).to_be_bytes().to_vec();
        v.extend(unit);
        v
    }

    #[test]
    fn pictures_start_at_a_first_slice_segment() {
        // VPS, SPS, PPS, then an IDR picture in two slice segments.
        let params = [nal(32, &[0; 8]), nal(33, &[0; 8]), nal(34, &[0; 4])].concat();
        let picture = [nal(19, &[0x80, 1, 2, 3]), nal(19, &[0x40, 1, 2])].concat();
        let one = [params.clone(), picture.clone()].concat();
        assert_eq!(coded_pictures(&one), 1);
        // SEI and a trailing picture of another type count as they are.
        let more = [one.clone(), nal(39, &[0x80; 3]), nal(1, &[0x80])].concat();
        assert_eq!(coded_pictures(&more), 2);
        let copies = [params, picture.repeat(3000)].concat();
        assert_eq!(coded_pictures(&copies), 3000);
    }

    #[test]
    fn counting_stops_at_a_unit_past_the_end() {
        let picture = nal(19, &[0x80, 1]);
        let cut = [picture.clone(), vec![0, 0, 1, 0, 38, 1, 0x80]].concat();
        assert_eq!(coded_pictures(&cut), 1);
        assert_eq!(coded_pictures(&[0, 0, 0]), 0);
        // A unit of two bytes has no slice header to read.
        assert_eq!(coded_pictures(&[0, 0, 0, 2, 38, 1]), 0);
    }
}
