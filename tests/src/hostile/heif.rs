//! HEIF and AVIF (ISO base media file format) forgeries: boxes, item
//! extents and properties that declare far more than the file holds.
//!
//! They start from the small real files in `testdata/` and patch one field
//! each, so the rest of the file stays valid and the parser reaches the
//! forged field.

use super::Corpus;

/// 2 GB less a little: a declared length no real box of ours comes near.
const FORGED: u32 = 0x7fff_0000;

/// One box found in a file.
#[derive(Debug, Clone, Copy)]
struct BoxAt {
    /// Where its header starts.
    offset: usize,
    kind: [u8; 4],
    /// Where its payload starts.
    payload: usize,
}

/// Bytes before the children of a container box (full-box header and, for
/// `iinf`, the entry count), or `None` for a leaf.
fn children_skip(kind: &[u8; 4], payload: &[u8]) -> Option<usize> {
    match kind {
        b"iprp" | b"ipco" | b"dinf" => Some(0),
        b"meta" | b"iref" => Some(4),
        b"iinf" => Some(if payload.first() == Some(&0) { 6 } else { 8 }),
        _ => None,
    }
}

/// Every box of `data[start..end]` and of its containers, in file order.
fn walk(data: &[u8], mut start: usize, end: usize, out: &mut Vec<BoxAt>) {
    while start + 8 <= end {
        let size = u32::from_be_bytes(data[start..start + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = data[start + 4..start + 8].try_into().expect("4 bytes");
        if size < 8 || start + size > end {
            return;
        }
        let b = BoxAt {
            offset: start,
            kind,
            payload: start + 8,
        };
        out.push(b);
        if let Some(skip) = children_skip(&kind, &data[b.payload..start + size]) {
            walk(data, b.payload + skip, start + size, out);
        }
        start += size;
    }
}

/// Every box of kind `kind` in `data`, in file order.
fn boxes_of(data: &[u8], kind: &[u8; 4]) -> Vec<BoxAt> {
    let mut all = Vec::new();
    walk(data, 0, data.len(), &mut all);
    all.retain(|b| &b.kind == kind);
    all
}

/// The `nth` box of kind `kind` (0 is the first).
fn find(data: &[u8], kind: &[u8; 4], nth: usize) -> BoxAt {
    *boxes_of(data, kind)
        .get(nth)
        .unwrap_or_else(|| panic!("no box {} #{nth}", String::from_utf8_lossy(kind)))
}

fn put_u32(data: &mut [u8], at: usize, value: u32) {
    data[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// `data` with its first box of kind `kind` declaring [`FORGED`] bytes.
fn box_declaring_2gb(data: &[u8], kind: &[u8; 4]) -> Vec<u8> {
    let mut v = data.to_vec();
    put_u32(&mut v, find(data, kind, 0).offset, FORGED);
    v
}

/// `data` whose first `colr` box becomes an ICC profile (`prof`) that
/// declares 2 GB, of which the file holds the old box's few bytes.
fn icc_profile_declaring_2gb(data: &[u8]) -> Vec<u8> {
    let colr = find(data, b"colr", 0);
    let mut v = box_declaring_2gb(data, b"colr");
    v[colr.payload..colr.payload + 4].copy_from_slice(b"prof");
    v
}

/// `data` with the first extent of the first item of `iloc` (versions 0
/// and 1) set to `offset` and `length`.
fn first_extent(data: &[u8], offset: u32, length: u32) -> Vec<u8> {
    let iloc = find(data, b"iloc", 0);
    let p = iloc.payload;
    let version = data[p];
    assert!(version < 2, "iloc version {version}");
    let offset_size = (data[p + 4] >> 4) as usize;
    let length_size = (data[p + 4] & 15) as usize;
    let base_size = (data[p + 5] >> 4) as usize;
    let index_size = if version == 1 {
        (data[p + 5] & 15) as usize
    } else {
        0
    };
    assert!(offset_size == 4 && length_size == 4, "iloc field sizes");
    // item count (2), item id (2), construction method (v1: 2),
    // data reference index (2), base offset, extent count (2), extent index.
    let method = if version == 1 { 2 } else { 0 };
    let extent = p + 6 + 2 + 2 + method + 2 + base_size + 2 + index_size;
    let mut v = data.to_vec();
    put_u32(&mut v, extent, offset);
    put_u32(&mut v, extent + 4, length);
    v
}

/// `data` whose `nth` `ispe` property declares `w` x `h`.
fn image_size(data: &[u8], nth: usize, w: u32, h: u32) -> Vec<u8> {
    let ispe = find(data, b"ispe", nth);
    let mut v = data.to_vec();
    put_u32(&mut v, ispe.payload + 4, w);
    put_u32(&mut v, ispe.payload + 8, h);
    v
}

/// `data` whose `iinf` (version 0) claims 65535 item entries.
fn item_count_65535(data: &[u8]) -> Vec<u8> {
    let iinf = find(data, b"iinf", 0);
    assert_eq!(data[iinf.payload], 0, "iinf version");
    let mut v = data.to_vec();
    v[iinf.payload + 4..iinf.payload + 6].copy_from_slice(&[0xff, 0xff]);
    v
}

/// `data` with every item's data (one extent each; `iloc` version 0 or 1,
/// 4-byte offsets and lengths, a 4-byte base offset or none) repeated
/// `copies` times in an `mdat` box appended to the file: an AV1 or HEVC
/// item that codes its picture `copies` times, each decoded again.
fn items_repeated(data: &[u8], copies: usize) -> Vec<u8> {
    let iloc = find(data, b"iloc", 0);
    let p0 = iloc.payload;
    let version = data[p0];
    assert!(version < 2, "iloc version {version}");
    assert_eq!(data[p0 + 4], 0x44, "iloc field sizes");
    let base_size = (data[p0 + 5] >> 4) as usize;
    assert!(base_size == 0 || base_size == 4, "iloc base offset size");
    let u16_at = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_be_bytes(data[i..i + 4].try_into().unwrap()) as usize;
    let mut v = data.to_vec();
    let mut p = p0 + 6;
    let count = u16_at(p);
    p += 2;
    for _ in 0..count {
        p += 2 + if version == 1 { 2 } else { 0 } + 2;
        let base = if base_size == 4 { u32_at(p) } else { 0 };
        if base_size == 4 {
            put_u32(&mut v, p, 0);
        }
        p += base_size;
        assert_eq!(u16_at(p), 1, "one extent");
        p += 2;
        let (offset, length) = (base + u32_at(p), u32_at(p + 4));
        let copied = data[offset..offset + length].repeat(copies);
        v.extend(((8 + copied.len()) as u32).to_be_bytes());
        v.extend(b"mdat");
        let moved = v.len() as u32;
        v.extend(copied);
        put_u32(&mut v, p, moved);
        put_u32(&mut v, p + 4, (length * copies) as u32);
        p += 8;
    }
    v
}

/// The HEIF/AVIF forgeries, built from `testdata`'s AVIF and HEIC files.
pub(super) fn heif_forgeries(c: &mut Corpus, testdata: &std::path::Path) {
    let read = |name: &str| {
        std::fs::read(testdata.join(name)).unwrap_or_else(|e| panic!("testdata/{name}: {e}"))
    };
    for (format, data) in [
        ("avif", read("gopher-front.avif")),
        ("heif", read("gopher-front.heif")),
    ] {
        for kind in [
            b"colr", b"ispe", b"iloc", b"iinf", b"ipma", b"iref", b"mdat",
        ] {
            if boxes_of(&data, kind).is_empty() {
                continue; // the HEIC file has no colr box
            }
            c.add(
                &format!(
                    "{format} {} box declaring 2 GB",
                    String::from_utf8_lossy(kind)
                ),
                box_declaring_2gb(&data, kind),
            );
        }
        c.add(
            &format!("{format} item extent declaring 2 GB"),
            first_extent(&data, 0, FORGED),
        );
        c.add(
            &format!("{format} item extent at 4 GB"),
            first_extent(&data, u32::MAX - 16, 64),
        );
        // Every image and auxiliary (alpha) image, one at a time.
        for nth in 0..boxes_of(&data, b"ispe").len() {
            c.add(
                &format!("{format} ispe #{nth} declaring 65535x65535"),
                image_size(&data, nth, 65_535, 65_535),
            );
        }
        c.add(
            &format!("{format} iinf claiming 65535 items"),
            item_count_65535(&data),
        );
        // Past the 2 s default at 45 (AV1) and 75 (HEVC) ns a pixel; the
        // HEIC's item is four times the AVIF's.
        let copies = if format == "avif" { 2000 } else { 1000 };
        c.add(
            &format!("{format} items coding their picture {copies} times"),
            items_repeated(&data, copies),
        );
    }
    c.add(
        "avif ICC profile declaring 2 GB",
        icc_profile_declaring_2gb(&read("gopher-front.avif")),
    );
}
