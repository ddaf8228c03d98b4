//! A look at every item of a HEIF or AVIF file, whatever its graph: the
//! checks made before libheif reads a file that is not a plain still.

use super::boxes::{children, full_box, read_iinf, read_iloc};
use super::{few_children, nals, obus, Item, Location, SCANNED_ITEMS};

/// Does a HEIF or AVIF file hold a coded image item (AV1 or HEVC) whose
/// data is empty (no extent, or only extents of length 0)? libheif hands
/// such an item to its decoder as a packet of no bytes, and dav1d then
/// prints "Input validation check ... failed in dav1d_send_data!" on the
/// process's stderr for each one (a 469-byte grid AVIF of four empty
/// tiles). Every item is looked at, however many (libheif reads more than
/// our own decoder takes; their index is charged apart), in time linear in
/// their number. A file this reader does not understand answers `false`.
pub(crate) fn has_empty_coded_item(data: &[u8]) -> bool {
    let Some(scan) = ItemScan::read(data) else {
        return false;
    };
    let mut coded_bytes = std::collections::HashMap::with_capacity(scan.locations.len());
    for l in &scan.locations {
        // The first location of an id is the one libheif reads.
        coded_bytes
            .entry(l.id)
            .or_insert_with(|| l.extents.iter().map(|&(_, length)| length).sum::<u64>());
    }
    scan.items
        .iter()
        .filter(|item| item.kind == *b"av01" || item.kind == *b"hvc1")
        .any(|item| coded_bytes.get(&item.id).is_none_or(|&bytes| bytes == 0))
}

/// The most frames any AV1 or HEVC item of a HEIF or AVIF file codes
/// beyond its first ([`obus::coded_frames`], [`nals::coded_pictures`]),
/// for a file that is not a plain still (whose items are counted at their
/// own sizes: [`super::PlainStill::extra_frame_pixels`]). Every item is
/// looked at, as by [`has_empty_coded_item`]; 0 for a file this reader
/// does not understand.
pub(crate) fn most_extra_frames(data: &[u8]) -> u64 {
    let Some(scan) = ItemScan::read(data) else {
        return 0;
    };
    let counters: std::collections::HashMap<u32, fn(&[u8]) -> u64> = scan
        .items
        .iter()
        .filter_map(|item| match &item.kind {
            b"av01" => Some((item.id, obus::coded_frames as fn(&[u8]) -> u64)),
            b"hvc1" => Some((item.id, nals::coded_pictures as fn(&[u8]) -> u64)),
            _ => None,
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut most = 0;
    for l in &scan.locations {
        // The first location of an id is the one libheif reads.
        let Some(count) = counters.get(&l.id).filter(|_| seen.insert(l.id)) else {
            continue;
        };
        let Some(source) = (if l.in_idat { scan.idat } else { Some(data) }) else {
            continue;
        };
        let extent = |&(offset, length): &(u64, u64)| {
            let start = usize::try_from(offset).ok()?;
            source.get(start..start.checked_add(usize::try_from(length).ok()?)?)
        };
        let frames = match l.extents.as_slice() {
            [one] => extent(one).map_or(0, count),
            // Units may run across extents: joined, as libheif joins them
            // (each within the file, so at most its size).
            many => {
                let joined: Option<Vec<u8>> =
                    many.iter()
                        .map(extent)
                        .try_fold(Vec::new(), |mut all, part| {
                            all.extend_from_slice(part?);
                            Some(all)
                        });
                joined.map_or(0, |bytes| count(&bytes))
            }
        };
        most = most.max(frames.saturating_sub(1));
    }
    most
}

/// The items, locations and `idat` of a file's `meta`, read for a look at
/// every item ([`has_empty_coded_item`], [`most_extra_frames`]).
struct ItemScan<'a> {
    items: Vec<Item>,
    locations: Vec<Location>,
    idat: Option<&'a [u8]>,
}

impl<'a> ItemScan<'a> {
    fn read(data: &'a [u8]) -> Option<ItemScan<'a>> {
        let meta = children(data)?
            .into_iter()
            .find(|(kind, _)| kind == b"meta")
            .and_then(|(_, body)| full_box(body).map(|(_, b)| b))?;
        let boxes = few_children(meta)?;
        let find = |kind: &[u8; 4]| boxes.iter().find(|(k, _)| k == kind).map(|(_, b)| *b);
        Some(ItemScan {
            items: read_iinf(find(b"iinf")?, SCANNED_ITEMS)?,
            locations: read_iloc(find(b"iloc")?, SCANNED_ITEMS, true)?,
            idat: find(b"idat"),
        })
    }
}
