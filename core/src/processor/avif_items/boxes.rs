//! The ISOBMFF boxes of an AVIF's `meta`, read into plain lists (item
//! infos, locations, references, property associations), the properties
//! and grid data the item graph needs, and the checked big-endian cursor
//! they are read with.

use super::{
    Clap, Item, Location, Nclx, Reference, Transform, MAX_CHILDREN, MAX_EXTENTS, MAX_ITEMS,
    MAX_REFERENCES,
};
use crate::processor::yuv::Layout;

/// A `grid` item's data: `(columns, rows, (output width, output height))`,
/// as libheif reads it (version 0; 16- or 32-bit sizes; trailing bytes
/// ignored), both sizes non-zero.
pub(super) fn read_grid(data: &[u8]) -> Option<(usize, usize, (u32, u32))> {
    let mut c = Cursor::new(data);
    let (version, flags) = (c.u8()?, c.u8()?);
    let rows = usize::from(c.u8()?) + 1;
    let columns = usize::from(c.u8()?) + 1;
    let size = if flags & 1 != 0 {
        (c.u32()?, c.u32()?)
    } else {
        (u32::from(c.u16()?), u32::from(c.u16()?))
    };
    (version == 0 && size.0 > 0 && size.1 > 0).then_some((columns, rows, size))
}

/// The one `ispe` among `props`, as `(width, height)`, both non-zero.
pub(super) fn single_ispe(props: &[([u8; 4], &[u8])]) -> Option<(u32, u32)> {
    let mut sizes = props.iter().filter(|(kind, _)| kind == b"ispe");
    let (_, body) = sizes.next()?;
    if sizes.next().is_some() {
        return None;
    }
    let (_, b) = full_box(body)?;
    let mut c = Cursor::new(b);
    let (w, h) = (c.u32()?, c.u32()?);
    (w > 0 && h > 0).then_some((w, h))
}

/// The `irot`, `imir` and `clap` properties among `props`, in order,
/// without the turns of zero; `None` if one is empty or malformed.
pub(super) fn read_transforms(props: &[([u8; 4], &[u8])]) -> Option<Vec<Transform>> {
    let mut out = Vec::new();
    for (kind, body) in props {
        match kind {
            b"irot" => match body.first()? & 3 {
                0 => {}
                turns => out.push(Transform::Rotate(turns)),
            },
            b"imir" => out.push(Transform::Mirror {
                left_right: body.first()? & 1 == 1,
            }),
            b"clap" => out.push(Transform::Crop(Clap::read(body)?)),
            _ => {}
        }
    }
    Some(out)
}

/// The last `nclx` colour property among `props` (libheif keeps the last
/// one it reads), `Some(None)` if there is none, `None` if a `colr` is of
/// a kind we do not know.
pub(super) fn last_nclx(props: &[([u8; 4], &[u8])]) -> Option<Option<Nclx>> {
    let mut nclx = None;
    for (kind, b) in props {
        if kind == b"colr" {
            nclx = read_nclx(b)?.or(nclx);
        }
    }
    Some(nclx)
}

/// The chroma layout and bit depth of the first `av1C` among `props`.
pub(super) fn read_av1c(props: &[([u8; 4], &[u8])]) -> Option<(Layout, u8)> {
    let (_, body) = props.iter().find(|(kind, _)| kind == b"av1C")?;
    let flags = *body.get(2)?;
    let bits = match (flags & 0x40 != 0, flags & 0x20 != 0) {
        (false, _) => 8,
        (true, false) => 10,
        (true, true) => 12,
    };
    let layout = match (flags & 0x10 != 0, flags & 0x08 != 0, flags & 0x04 != 0) {
        (true, ..) => Layout::Mono,
        (false, true, true) => Layout::I420,
        (false, true, false) => Layout::I422,
        (false, false, false) => Layout::I444,
        (false, false, true) => return None,
    };
    Some((layout, bits))
}

/// `Some(Some(nclx))` for an `nclx` `colr`, `Some(None)` for an ICC one,
/// `None` for anything else.
pub(super) fn read_nclx(body: &[u8]) -> Option<Option<Nclx>> {
    let mut c = Cursor::new(body);
    match &c.fourcc()? {
        b"nclx" => Some(Some(Nclx {
            primaries: c.u16()?,
            transfer: c.u16()?,
            matrix: c.u16()?,
            full_range: c.u8()? & 0x80 != 0,
        })),
        b"prof" | b"rICC" => Some(None),
        _ => None,
    }
}

/// The items of an `iinf` box; `None` past `max_items` or where one is
/// not an `infe` of version 2 or 3.
pub(super) fn read_iinf(body: &[u8], max_items: usize) -> Option<Vec<Item>> {
    let (version, b) = full_box(body)?;
    let mut c = Cursor::new(b);
    let count = if version == 0 {
        u32::from(c.u16()?)
    } else {
        c.u32()?
    };
    if usize::try_from(count).ok()? > max_items {
        return None;
    }
    let entries = children_at_most(c.rest(), max_items)?;
    if entries.len() != usize::try_from(count).ok()? {
        return None;
    }
    entries
        .into_iter()
        .map(|(kind, b)| {
            if &kind != b"infe" {
                return None;
            }
            let (version, flags, b) = full_box_flags(b)?;
            if version != 2 && version != 3 {
                return None;
            }
            let mut c = Cursor::new(b);
            let id = c.id(version == 2)?;
            let protection = c.u16()?;
            let kind = c.fourcc()?;
            (protection == 0).then_some(Item {
                id,
                kind,
                hidden: flags & 1 != 0,
            })
        })
        .collect()
}

/// The locations of an `iloc` box; `None` past `max_items`, for data in
/// another file or built from other items, and for a location of no
/// extent unless `no_extents` allows it.
pub(super) fn read_iloc(body: &[u8], max_items: usize, no_extents: bool) -> Option<Vec<Location>> {
    let (version, b) = full_box(body)?;
    if version > 2 {
        return None;
    }
    let mut c = Cursor::new(b);
    let sizes = c.u8()?;
    let (offset_size, length_size) = (sizes >> 4, sizes & 0xF);
    let sizes = c.u8()?;
    let base_size = sizes >> 4;
    let index_size = if version > 0 { sizes & 0xF } else { 0 };
    let count = if version < 2 {
        u32::from(c.u16()?)
    } else {
        c.u32()?
    };
    if usize::try_from(count).ok()? > max_items {
        return None;
    }
    let mut out = Vec::new();
    for _ in 0..count {
        let id = c.id(version < 2)?;
        let method = if version > 0 { c.u16()? & 0xF } else { 0 };
        if c.u16()? != 0 || method > 1 {
            return None; // another file's data, or data built from items
        }
        let base = c.sized(base_size)?;
        let extents = usize::from(c.u16()?);
        if (extents == 0 && !no_extents) || extents > MAX_EXTENTS {
            return None;
        }
        let mut list = Vec::with_capacity(extents);
        for _ in 0..extents {
            c.sized(index_size)?;
            let offset = base.checked_add(c.sized(offset_size)?)?;
            list.push((offset, c.sized(length_size)?));
        }
        out.push(Location {
            id,
            in_idat: method == 1,
            extents: list,
        });
    }
    Some(out)
}

pub(super) fn read_iref(body: &[u8]) -> Option<Vec<Reference>> {
    let (version, b) = full_box(body)?;
    let mut out = Vec::new();
    for (kind, b) in children(b)? {
        let mut c = Cursor::new(b);
        let from = c.id(version == 0)?;
        // libheif refuses an entry without references, or with more than
        // libvips allows.
        let count = c.u16()?;
        if count == 0 || usize::from(count) > MAX_REFERENCES {
            return None;
        }
        let to = (0..count)
            .map(|_| c.id(version == 0))
            .collect::<Option<Vec<_>>>()?;
        out.push(Reference { kind, from, to });
        if out.len() > MAX_CHILDREN {
            return None;
        }
    }
    Some(out)
}

pub(super) fn read_ipma(body: &[u8]) -> Option<Vec<(u32, u16)>> {
    let (version, flags, b) = full_box_flags(body)?;
    let mut c = Cursor::new(b);
    let count = c.u32()?;
    if usize::try_from(count).ok()? > MAX_ITEMS {
        return None;
    }
    let mut out = Vec::new();
    for _ in 0..count {
        let id = c.id(version < 1)?;
        for _ in 0..c.u8()? {
            let index = if flags & 1 != 0 {
                c.u16()? & 0x7FFF
            } else {
                u16::from(c.u8()? & 0x7F)
            };
            out.push((id, index));
        }
    }
    Some(out)
}

/// The boxes that fill `data` exactly, as `(type, body)`; `None` if one
/// overruns it or is malformed.
pub(super) fn children(data: &[u8]) -> Option<Vec<([u8; 4], &[u8])>> {
    children_at_most(data, 4 * MAX_ITEMS)
}

/// [`children`], `None` past `max` of them.
fn children_at_most(mut data: &[u8], max: usize) -> Option<Vec<([u8; 4], &[u8])>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let mut c = Cursor::new(data);
        let size = c.u32()?;
        let kind = c.fourcc()?;
        let (header, size) = match size {
            0 => (8, data.len()),
            1 => (16, usize::try_from(c.u64()?).ok()?),
            n => (8, usize::try_from(n).ok()?),
        };
        if size < header || size > data.len() {
            return None;
        }
        out.push((kind, &data[header..size]));
        data = &data[size..];
        if out.len() > max {
            return None;
        }
    }
    Some(out)
}

/// A FullBox's version and the rest of its body.
pub(super) fn full_box(body: &[u8]) -> Option<(u8, &[u8])> {
    full_box_flags(body).map(|(v, _, b)| (v, b))
}

/// A FullBox's version, flags and the rest of its body.
pub(super) fn full_box_flags(body: &[u8]) -> Option<(u8, u32, &[u8])> {
    let word = u32::from_be_bytes(body.get(..4)?.try_into().ok()?);
    Some(((word >> 24) as u8, word & 0xFF_FFFF, &body[4..]))
}

/// Big-endian fields off the front of a slice.
pub(super) struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(super) fn new(rest: &'a [u8]) -> Self {
        Cursor { rest }
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(*head)
    }

    pub(super) fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }

    pub(super) fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }

    pub(super) fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_be_bytes)
    }

    pub(super) fn fourcc(&mut self) -> Option<[u8; 4]> {
        self.take()
    }

    /// An item ID: 16 bits when `short`, else 32.
    pub(super) fn id(&mut self, short: bool) -> Option<u32> {
        if short {
            self.u16().map(u32::from)
        } else {
            self.u32()
        }
    }

    /// An unsigned field of 0, 4 or 8 bytes (`iloc`'s sizes).
    pub(super) fn sized(&mut self, bytes: u8) -> Option<u64> {
        match bytes {
            0 => Some(0),
            4 => self.u32().map(u64::from),
            8 => self.u64(),
            _ => None,
        }
    }
}
