//! The item graph of an AVIF file, read only far enough to tell whether it
//! is a *plain still*: one AV1 image, optionally one alpha plane for it,
//! and metadata items, with no crop, grid, thumbnail or layer (rotations
//! and mirrors are kept, to be applied after decoding). Such a
//! file decodes through our own AV1 decoder ([`super::still_avif`]); every
//! other file, and every file this reader does not understand, stays with
//! libvips' `heifload`, so a refusal here is never an error.
//!
//! Boxes are ISO/IEC 14496-12 (ISOBMFF) and 23008-12 (HEIF) `meta` boxes:
//! `hdlr`, `pitm`, `iinf`/`infe`, `iloc`, `iref`, `iprp` (`ipco`, `ipma`),
//! `idat`. Every length is checked against its parent before it is used.

use super::yuv::Layout;

/// A colour description from an `nclx` `colr` property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nclx {
    /// Colour primaries (ITU-T H.273).
    pub primaries: u16,
    /// Transfer characteristics (H.273).
    pub transfer: u16,
    /// Matrix coefficients (H.273).
    pub matrix: u16,
    /// Full-range (`true`) or limited-range samples.
    pub full_range: bool,
}

/// A rotation or mirror property (`irot`, `imir`) as libheif 1.23 applies
/// it, after decoding, in the item's property order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transform {
    /// `irot`: this many quarter turns counter-clockwise (1 to 3).
    Rotate(u8),
    /// `imir`: axis 1 flips left to right (`true`); axis 0 top to bottom.
    Mirror {
        /// The left-to-right flip (axis 1).
        left_right: bool,
    },
}

/// A plain still AVIF: the coded bytes of its image and alpha items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlainStill {
    /// The primary item's AV1 data (its extents, in order).
    pub image: Vec<u8>,
    /// The alpha auxiliary item's AV1 data, if there is one.
    pub alpha: Option<Vec<u8>>,
    /// The primary item's `ispe` width.
    pub width: u32,
    /// The primary item's `ispe` height.
    pub height: u32,
    /// The primary item's first `nclx` colour property, if any.
    pub nclx: Option<Nclx>,
    /// The rotations and mirrors to apply to the decoded picture, in order
    /// (the alpha item has the same ones).
    pub transforms: Vec<Transform>,
    /// The chroma layout and bit depth the primary's `av1C` declares, if it
    /// has one: what the decoder should give, known before decoding.
    pub coded: Option<(Layout, u8)>,
}

/// More items than libvips' loader accepts (its `heif` security limit).
const MAX_ITEMS: usize = 256;
/// More extents than a plain still has any reason to use.
const MAX_EXTENTS: usize = 64;
/// The properties a primary image may have: anything else (a crop, a layer
/// selector, an unknown property) leaves the file to libvips.
const PRIMARY_PROPERTIES: &[&[u8; 4]] = &[
    b"ispe", b"colr", b"av1C", b"pixi", b"pasp", b"irot", b"imir",
];
/// The properties an alpha item may have.
const ALPHA_PROPERTIES: &[&[u8; 4]] = &[b"ispe", b"av1C", b"auxC", b"pixi", b"irot", b"imir"];
/// The `auxC` types that mark an alpha plane (MIAF and the older HEVC one).
const ALPHA_URNS: [&[u8]; 2] = [
    b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha",
    b"urn:mpeg:hevc:2015:auxid:1",
];

/// The plain still in `data`, or `None` when the file is anything else or
/// not understood (then libvips decodes it).
pub(crate) fn plain_still(data: &[u8]) -> Option<PlainStill> {
    let top = children(data)?;
    let mut brand_ok = false;
    let mut meta = None;
    for (kind, body) in top {
        match &kind {
            b"ftyp" => brand_ok = body.get(..4) == Some(b"avif"),
            b"meta" if meta.is_none() => meta = Some(full_box(body)?.1),
            b"mdat" | b"free" | b"skip" => {}
            _ => return None,
        }
    }
    if !brand_ok {
        return None;
    }
    Meta::read(meta?)?.plain_still(data)
}

/// What the `meta` box says, as read.
#[derive(Default)]
struct Meta<'a> {
    primary: Option<u32>,
    items: Vec<Item>,
    locations: Vec<Location>,
    refs: Vec<Reference>,
    properties: Vec<([u8; 4], &'a [u8])>,
    /// `(item, 1-based property index)` pairs from `ipma`.
    associations: Vec<(u32, u16)>,
    idat: Option<&'a [u8]>,
}

struct Item {
    id: u32,
    kind: [u8; 4],
    hidden: bool,
}

struct Location {
    id: u32,
    in_idat: bool,
    /// `(offset, length)` of each extent; length 0 runs to the end.
    extents: Vec<(u64, u64)>,
}

struct Reference {
    kind: [u8; 4],
    from: u32,
    to: Vec<u32>,
}

impl<'a> Meta<'a> {
    fn read(body: &'a [u8]) -> Option<Self> {
        let mut m = Meta::default();
        let mut handler_ok = false;
        for (kind, b) in children(body)? {
            match &kind {
                b"hdlr" => {
                    let (_, b) = full_box(b)?;
                    handler_ok = b.get(4..8) == Some(b"pict");
                }
                b"pitm" => {
                    let (version, b) = full_box(b)?;
                    m.primary = Some(Cursor::new(b).id(version == 0)?);
                }
                b"iinf" => m.items = read_iinf(b)?,
                b"iloc" => m.locations = read_iloc(b)?,
                b"iref" => m.refs = read_iref(b)?,
                b"iprp" => {
                    for (kind, b) in children(b)? {
                        match &kind {
                            b"ipco" => m.properties = children(b)?,
                            b"ipma" => m.associations.extend(read_ipma(b)?),
                            _ => return None,
                        }
                    }
                }
                b"idat" => m.idat = Some(b),
                b"dinf" => {}
                _ => return None,
            }
        }
        handler_ok.then_some(m)
    }

    fn plain_still(&self, file: &[u8]) -> Option<PlainStill> {
        let primary = self.primary?;
        let image = self.item(primary)?;
        if &image.kind != b"av01" || image.hidden {
            return None;
        }
        // Every other item: the alpha plane of the primary, or metadata.
        let mut alpha = None;
        for item in &self.items {
            match &item.kind {
                _ if item.id == primary => {}
                b"av01" if alpha.is_none() && self.is_alpha_of(item.id, primary) => {
                    alpha = Some(item.id)
                }
                b"Exif" | b"mime" => {}
                _ => return None,
            }
        }
        // References: alpha, content description, premultiplied alpha.
        for r in &self.refs {
            let ok = match &r.kind {
                b"auxl" => Some(r.from) == alpha && r.to == [primary],
                b"cdsc" => r.to == [primary],
                b"prem" => {
                    Some(r.from) == Some(primary) && r.to.len() == 1 && Some(r.to[0]) == alpha
                }
                _ => false,
            };
            if !ok {
                return None;
            }
        }
        let props = self.properties_of(primary, PRIMARY_PROPERTIES)?;
        let (width, height) = single_ispe(&props)?;
        let mut nclx = None;
        for (kind, b) in &props {
            if kind == b"colr" && nclx.is_none() {
                nclx = read_nclx(b)?;
            }
        }
        let transforms = read_transforms(&props)?;
        let alpha = match alpha {
            Some(id) => {
                let props = self.properties_of(id, ALPHA_PROPERTIES)?;
                if single_ispe(&props)? != (width, height) || read_transforms(&props)? != transforms
                {
                    return None;
                }
                Some(self.bytes_of(id, file)?)
            }
            None => None,
        };
        Some(PlainStill {
            image: self.bytes_of(primary, file)?,
            alpha,
            width,
            height,
            nclx,
            transforms,
            coded: read_av1c(&props),
        })
    }

    fn item(&self, id: u32) -> Option<&Item> {
        let mut found = self.items.iter().filter(|i| i.id == id);
        let item = found.next()?;
        found.next().is_none().then_some(item)
    }

    /// Whether `id` is marked as an alpha plane (`auxC`) and references
    /// `primary` through `auxl`.
    fn is_alpha_of(&self, id: u32, primary: u32) -> bool {
        let linked = self
            .refs
            .iter()
            .any(|r| &r.kind == b"auxl" && r.from == id && r.to == [primary]);
        let marked = self.properties_of(id, ALPHA_PROPERTIES).is_some_and(|p| {
            p.iter().any(|(kind, b)| {
                kind == b"auxC"
                    && full_box(b).is_some_and(|(_, urn)| {
                        let urn = urn.split(|&c| c == 0).next().unwrap_or(urn);
                        ALPHA_URNS.contains(&urn)
                    })
            })
        });
        linked && marked
    }

    /// The properties associated with `id`, or `None` if one of them is
    /// not in `allowed` (a transform, a layer selector, anything unknown).
    fn properties_of(&self, id: u32, allowed: &[&[u8; 4]]) -> Option<Vec<([u8; 4], &'a [u8])>> {
        let mut out = Vec::new();
        for &(item, index) in &self.associations {
            if item != id || index == 0 {
                continue;
            }
            let &(kind, body) = self.properties.get(usize::from(index) - 1)?;
            if !allowed.contains(&&kind) {
                return None;
            }
            out.push((kind, body));
        }
        Some(out)
    }

    /// The item's data: its extents in the file (or in `idat`), joined.
    fn bytes_of(&self, id: u32, file: &[u8]) -> Option<Vec<u8>> {
        let mut found = self.locations.iter().filter(|l| l.id == id);
        let loc = found.next()?;
        if found.next().is_some() {
            return None;
        }
        let source = if loc.in_idat { self.idat? } else { file };
        let mut out = Vec::new();
        for &(offset, length) in &loc.extents {
            let start = usize::try_from(offset).ok()?;
            let end = match length {
                0 => source.len(),
                n => start.checked_add(usize::try_from(n).ok()?)?,
            };
            out.extend_from_slice(source.get(start..end)?);
        }
        (!out.is_empty()).then_some(out)
    }
}

/// The one `ispe` among `props`, as `(width, height)`, both non-zero.
fn single_ispe(props: &[([u8; 4], &[u8])]) -> Option<(u32, u32)> {
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

/// The `irot` and `imir` properties among `props`, in order, without the
/// turns of zero; `None` if one is empty.
fn read_transforms(props: &[([u8; 4], &[u8])]) -> Option<Vec<Transform>> {
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
            _ => {}
        }
    }
    Some(out)
}

/// The chroma layout and bit depth of the first `av1C` among `props`.
fn read_av1c(props: &[([u8; 4], &[u8])]) -> Option<(Layout, u8)> {
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
fn read_nclx(body: &[u8]) -> Option<Option<Nclx>> {
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

fn read_iinf(body: &[u8]) -> Option<Vec<Item>> {
    let (version, b) = full_box(body)?;
    let mut c = Cursor::new(b);
    let count = if version == 0 {
        u32::from(c.u16()?)
    } else {
        c.u32()?
    };
    let entries = children(c.rest())?;
    if entries.len() != usize::try_from(count).ok()? || entries.len() > MAX_ITEMS {
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

fn read_iloc(body: &[u8]) -> Option<Vec<Location>> {
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
    if usize::try_from(count).ok()? > MAX_ITEMS {
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
        if extents == 0 || extents > MAX_EXTENTS {
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

fn read_iref(body: &[u8]) -> Option<Vec<Reference>> {
    let (version, b) = full_box(body)?;
    let mut out = Vec::new();
    for (kind, b) in children(b)? {
        let mut c = Cursor::new(b);
        let from = c.id(version == 0)?;
        let count = c.u16()?;
        let to = (0..count)
            .map(|_| c.id(version == 0))
            .collect::<Option<Vec<_>>>()?;
        out.push(Reference { kind, from, to });
        if out.len() > MAX_ITEMS {
            return None;
        }
    }
    Some(out)
}

fn read_ipma(body: &[u8]) -> Option<Vec<(u32, u16)>> {
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
fn children(mut data: &[u8]) -> Option<Vec<([u8; 4], &[u8])>> {
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
        if out.len() > 4 * MAX_ITEMS {
            return None;
        }
    }
    Some(out)
}

/// A FullBox's version and the rest of its body.
fn full_box(body: &[u8]) -> Option<(u8, &[u8])> {
    full_box_flags(body).map(|(v, _, b)| (v, b))
}

/// A FullBox's version, flags and the rest of its body.
fn full_box_flags(body: &[u8]) -> Option<(u8, u32, &[u8])> {
    let word = u32::from_be_bytes(body.get(..4)?.try_into().ok()?);
    Some(((word >> 24) as u8, word & 0xFF_FFFF, &body[4..]))
}

/// Big-endian fields off the front of a slice.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(rest: &'a [u8]) -> Self {
        Cursor { rest }
    }

    fn rest(&self) -> &'a [u8] {
        self.rest
    }

    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(*head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_be_bytes)
    }

    fn fourcc(&mut self) -> Option<[u8; 4]> {
        self.take()
    }

    /// An item ID: 16 bits when `short`, else 32.
    fn id(&mut self, short: bool) -> Option<u32> {
        if short {
            self.u16().map(u32::from)
        } else {
            self.u32()
        }
    }

    /// An unsigned field of 0, 4 or 8 bytes (`iloc`'s sizes).
    fn sized(&mut self, bytes: u8) -> Option<u64> {
        match bytes {
            0 => Some(0),
            4 => self.u32().map(u64::from),
            8 => self.u64(),
            _ => None,
        }
    }
}
