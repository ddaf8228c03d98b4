//! The item graph of an AVIF file, read only far enough to tell whether it
//! is a *plain still*: one AV1 image or one grid of AV1 tiles, optionally
//! one alpha plane for it (itself an AV1 image or a grid), and metadata
//! items, with no thumbnail or layer (rotations, mirrors and crops are
//! kept, to be applied after decoding). Such a file decodes through our
//! own AV1 decoder ([`super::still_avif`]); every other file, and every
//! file this reader does not understand, stays with libvips' `heifload`,
//! so a refusal here is never an error.
//!
//! Boxes are ISO/IEC 14496-12 (ISOBMFF) and 23008-12 (HEIF) `meta` boxes:
//! `hdlr`, `pitm`, `iinf`/`infe`, `iloc`, `iref`, `iprp` (`ipco`, `ipma`),
//! `idat` ([`boxes`]). Every length is checked against its parent before
//! it is used.

mod boxes;
mod clap;
mod nals;
mod obus;
mod scan;

use boxes::{
    children, full_box, last_nclx, read_av1c, read_grid, read_iinf, read_iloc, read_ipma,
    read_iref, read_transforms, single_ispe, Cursor,
};

use super::yuv::Layout;
pub(crate) use clap::Clap;
#[cfg(feature = "own-av1")]
pub(crate) use clap::Rect;
pub(crate) use scan::{has_empty_coded_item, most_extra_frames};

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

/// A rotation, mirror or crop property (`irot`, `imir`, `clap`) as libheif
/// 1.23 applies it, after decoding, in the item's property order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transform {
    /// `irot`: this many quarter turns counter-clockwise (1 to 3).
    Rotate(u8),
    /// `imir`: axis 1 flips left to right (`true`); axis 0 top to bottom.
    Mirror {
        /// The left-to-right flip (axis 1).
        left_right: bool,
    },
    /// `clap`: a crop.
    Crop(Clap),
}

/// A plain still AVIF: the coded bytes of its image and alpha items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlainStill {
    /// The primary item's AV1 data, or its grid's.
    pub image: Coded,
    /// The alpha auxiliary item's, if there is one.
    pub alpha: Option<Coded>,
    /// The primary item's `ispe` width (a grid's output width).
    pub width: u32,
    /// The primary item's `ispe` height.
    pub height: u32,
    /// The primary item's first `nclx` colour property, if any.
    pub nclx: Option<Nclx>,
    /// The rotations, mirrors and crops to apply to the decoded picture, in
    /// order (the alpha item has the same ones).
    pub transforms: Vec<Transform>,
    /// The chroma layout and bit depth the primary's `av1C` (a grid's
    /// tiles') declares: what libvips sizes its output by, and what the
    /// decoder must give.
    pub coded: (Layout, u8),
}

impl PlainStill {
    /// Pixels decoded beyond one frame of each AV1 item: an item's data may
    /// code many frames, and its decoder decodes them all
    /// ([`obus::coded_frames`]). 0 for a file as encoders write it.
    pub(crate) fn extra_frame_pixels(&self) -> u64 {
        let area = (self.width as u64) * (self.height as u64);
        self.image.extra_frame_pixels(area)
            + self
                .alpha
                .as_ref()
                .map_or(0, |alpha| alpha.extra_frame_pixels(area))
    }
}

/// The coded form of an image item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Coded {
    /// One AV1 item's data (its extents, in order).
    Single(Vec<u8>),
    /// A `grid` item's tiles.
    Grid(Grid),
}

impl Coded {
    /// [`PlainStill::extra_frame_pixels`] of this item, `area` pixels in
    /// all (a grid's tiles are counted at their own size, each time the
    /// grid places them).
    fn extra_frame_pixels(&self, area: u64) -> u64 {
        let extra = |data: &[u8]| obus::coded_frames(data).saturating_sub(1);
        match self {
            Coded::Single(data) => extra(data).saturating_mul(area),
            Coded::Grid(grid) => {
                let tile = grid.tile_size.0 as u64 * grid.tile_size.1 as u64;
                let per_item: Vec<u64> = grid.data.iter().map(|d| extra(d)).collect();
                grid.tiles
                    .iter()
                    .map(|&i| per_item.get(i).copied().unwrap_or(0).saturating_mul(tile))
                    .fold(0u64, u64::saturating_add)
            }
        }
    }
}

/// A `grid` derived image (ISO/IEC 23008-12 6.6.2.3): tiles of one size in
/// raster order, pasted side by side and cut to the item's size. Every
/// tile lies at least partly inside that size and no tile is larger than
/// it, so the tiles hold at most four times the image's pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grid {
    /// Tiles per row.
    pub columns: usize,
    /// The size every tile's `ispe` declares.
    pub tile_size: (u32, u32),
    /// The AV1 data of each distinct tile item.
    pub data: Vec<Vec<u8>>,
    /// Each tile in raster order, as an index into `data` (a grid may
    /// reference one item more than once).
    pub tiles: Vec<usize>,
    /// The tiles' `nclx` colour property (the same on every tile). libheif
    /// 1.23 converts a grid with the grid item's own colour property if it
    /// has one, else with this, else with the tiles' bitstream's.
    pub nclx: Option<Nclx>,
    /// The chroma layout and bit depth every tile's `av1C` declares.
    pub coded: (Layout, u8),
}

/// More items than libvips' loader accepts (its `heif` security limit).
const MAX_ITEMS: usize = 256;
/// More references in one `iref` entry than libvips lets libheif read
/// (its `max_items`): such a file is refused there.
const MAX_REFERENCES: usize = 256;
/// More child boxes than libheif reads in one `meta`, `iprp`, `ipco` or
/// `iref` (its `max_children_per_box`, which libvips leaves at 100).
const MAX_CHILDREN: usize = 100;
/// More extents than a plain still has any reason to use.
const MAX_EXTENTS: usize = 64;
/// More property associations than a plain still has any reason to use:
/// `ipma` may repeat them freely (such files stay with libvips).
const MAX_ASSOCIATIONS: usize = 4096;
/// More properties than one plain still item has any reason to use: each
/// transform among them is a pass over the image.
const MAX_ITEM_PROPERTIES: usize = 32;
/// The properties a primary image may have: anything else (a layer
/// selector, an unknown property) leaves the file to libvips.
const PRIMARY_PROPERTIES: &[&[u8; 4]] = &[
    b"ispe", b"colr", b"av1C", b"pixi", b"pasp", b"irot", b"imir", b"clap",
];
/// The properties a grid's tile may have: no transform of its own.
const TILE_PROPERTIES: &[&[u8; 4]] = &[b"ispe", b"colr", b"av1C", b"pixi", b"pasp", b"auxC"];
/// The properties an alpha item may have.
const ALPHA_PROPERTIES: &[&[u8; 4]] = &[
    b"ispe", b"av1C", b"auxC", b"pixi", b"irot", b"imir", b"clap",
];
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

/// Items [`has_empty_coded_item`] reads at most. libheif links items in
/// time that grows with their square, so a file of more is refused by the
/// charge for its index ([`super::decode_cost::heif_index_cost`]) before
/// libheif decodes anything.
pub(super) const SCANNED_ITEMS: usize = 1 << 16;

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
    /// `(offset, length)` of each extent. A length of 0 adds nothing, as
    /// libheif 1.23 reads it (not "to the end", as ISOBMFF would have it).
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
        for (kind, b) in few_children(body)? {
            match &kind {
                b"hdlr" => {
                    let (_, b) = full_box(b)?;
                    handler_ok = b.get(4..8) == Some(b"pict");
                }
                b"pitm" => {
                    let (version, b) = full_box(b)?;
                    m.primary = Some(Cursor::new(b).id(version == 0)?);
                }
                b"iinf" => m.items = read_iinf(b, MAX_ITEMS)?,
                b"iloc" => m.locations = read_iloc(b, MAX_ITEMS, false)?,
                b"iref" => m.refs = read_iref(b)?,
                b"iprp" => {
                    for (kind, b) in few_children(b)? {
                        match &kind {
                            b"ipco" => m.properties = few_children(b)?,
                            b"ipma" => {
                                m.associations.extend(read_ipma(b)?);
                                if m.associations.len() > MAX_ASSOCIATIONS {
                                    return None;
                                }
                            }
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
        if !is_image_kind(&image.kind) || image.hidden {
            return None;
        }
        let alpha = self
            .items
            .iter()
            .find(|i| is_image_kind(&i.kind) && self.is_alpha_of(i.id, primary))
            .map(|i| i.id);
        let primary_tiles = self.tiles_of(primary)?;
        let alpha_tiles = match alpha {
            Some(id) => self.tiles_of(id)?,
            None => Vec::new(),
        };
        // Every other item: a hidden AV1 tile of the primary's or the
        // alpha's grid, or metadata.
        for item in &self.items {
            let tile = primary_tiles.contains(&item.id) || alpha_tiles.contains(&item.id);
            let ok = match &item.kind {
                _ if item.id == primary || Some(item.id) == alpha => true,
                b"av01" => tile && item.hidden,
                b"Exif" | b"mime" => !tile,
                _ => false,
            };
            if !ok {
                return None;
            }
        }
        // References: alpha, content description, premultiplied alpha,
        // and each grid's tiles.
        for r in &self.refs {
            let ok = match &r.kind {
                b"auxl" => Some(r.from) == alpha && r.to == [primary],
                b"cdsc" => r.to == [primary],
                b"prem" => {
                    Some(r.from) == Some(primary) && r.to.len() == 1 && Some(r.to[0]) == alpha
                }
                b"dimg" => {
                    (r.from == primary && r.to == primary_tiles)
                        || (Some(r.from) == alpha && r.to == alpha_tiles)
                }
                _ => false,
            };
            if !ok {
                return None;
            }
        }
        let props = self.properties_of(primary, PRIMARY_PROPERTIES)?;
        let (width, height) = single_ispe(&props)?;
        let nclx = last_nclx(&props)?;
        let transforms = read_transforms(&props)?;
        // Item data is copied out of the file: no more of it than the file
        // holds (extents may overlap, and a grid may name one tile twice).
        let mut left = file.len();
        let (image, coded) = self.coded(primary, &props, (width, height), file, &mut left)?;
        let alpha = match alpha {
            Some(id) => {
                let props = self.properties_of(id, ALPHA_PROPERTIES)?;
                if single_ispe(&props)? != (width, height) || read_transforms(&props)? != transforms
                {
                    return None;
                }
                Some(self.coded(id, &props, (width, height), file, &mut left)?.0)
            }
            None => None,
        };
        Some(PlainStill {
            image,
            alpha,
            width,
            height,
            nclx,
            transforms,
            coded,
        })
    }

    /// The tiles a `grid` item references through `dimg`, in order (none
    /// for an AV1 item); `None` if it has no such reference or more than one.
    fn tiles_of(&self, id: u32) -> Option<Vec<u32>> {
        if &self.item(id)?.kind != b"grid" {
            return Some(Vec::new());
        }
        let mut refs = self
            .refs
            .iter()
            .filter(|r| &r.kind == b"dimg" && r.from == id);
        let tiles = refs.next()?.to.clone();
        (refs.next().is_none() && !tiles.is_empty()).then_some(tiles)
    }

    /// Item `id`'s coded data, an AV1 item's or a grid's of `size`, and the
    /// layout and depth its (first tile's) `av1C` declares.
    fn coded(
        &self,
        id: u32,
        props: &[([u8; 4], &[u8])],
        size: (u32, u32),
        file: &[u8],
        left: &mut usize,
    ) -> Option<(Coded, (Layout, u8))> {
        let tiles = self.tiles_of(id)?;
        if tiles.is_empty() {
            // libheif refuses an AV1 item without `av1C`.
            let coded = read_av1c(props)?;
            return Some((Coded::Single(self.bytes_of(id, file, left)?), coded));
        }
        let (columns, rows, grid_size) = read_grid(&self.bytes_of(id, file, left)?)?;
        if grid_size != size || tiles.len() != columns * rows {
            return None;
        }
        let mut distinct: Vec<u32> = Vec::new();
        // What every tile must share: size, colour property, av1C.
        type Shared = ((u32, u32), Option<Nclx>, (Layout, u8));
        let mut first: Option<Shared> = None;
        let mut indices = Vec::with_capacity(tiles.len());
        for &tile in &tiles {
            let index = match distinct.iter().position(|&t| t == tile) {
                Some(i) => i,
                None => {
                    let item = self.item(tile)?;
                    if &item.kind != b"av01" || !item.hidden {
                        return None;
                    }
                    let props = self.properties_of(tile, TILE_PROPERTIES)?;
                    let this = (single_ispe(&props)?, last_nclx(&props)?, read_av1c(&props)?);
                    if *first.get_or_insert(this) != this {
                        return None; // libheif refuses unequal tiles
                    }
                    distinct.push(tile);
                    distinct.len() - 1
                }
            };
            indices.push(index);
        }
        let (tile_size, nclx, coded) = first?;
        // The tiles cover the image, none lies wholly outside it, and none
        // is larger than it.
        let fits = |tile: u32, count: usize, size: u32| {
            let count = u64::try_from(count).unwrap_or(u64::MAX);
            let covered = u64::from(tile).saturating_mul(count);
            covered >= u64::from(size)
                && covered - u64::from(tile) < u64::from(size)
                && tile <= size
        };
        if !fits(tile_size.0, columns, size.0) || !fits(tile_size.1, rows, size.1) {
            return None;
        }
        let data = distinct
            .iter()
            .map(|&t| self.bytes_of(t, file, left))
            .collect::<Option<Vec<_>>>()?;
        let grid = Grid {
            columns,
            tile_size,
            data,
            tiles: indices,
            nclx,
            coded,
        };
        Some((Coded::Grid(grid), coded))
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
            if !allowed.contains(&&kind) || out.len() == MAX_ITEM_PROPERTIES {
                return None;
            }
            out.push((kind, body));
        }
        Some(out)
    }

    /// The item's data: its extents in the file (or in `idat`), joined;
    /// `None` if they run past their source or `left` bytes, which this
    /// copy then uses up.
    fn bytes_of(&self, id: u32, file: &[u8], left: &mut usize) -> Option<Vec<u8>> {
        let mut found = self.locations.iter().filter(|l| l.id == id);
        let loc = found.next()?;
        if found.next().is_some() {
            return None;
        }
        let source = if loc.in_idat { self.idat? } else { file };
        let mut ranges = Vec::with_capacity(loc.extents.len());
        for &(offset, length) in &loc.extents {
            let start = usize::try_from(offset).ok()?;
            let end = start.checked_add(usize::try_from(length).ok()?)?;
            source.get(start..end)?;
            *left = left.checked_sub(end - start)?;
            ranges.push(start..end);
        }
        let mut out = Vec::with_capacity(ranges.iter().map(|r| r.len()).sum());
        for r in ranges {
            out.extend_from_slice(&source[r]);
        }
        (!out.is_empty()).then_some(out)
    }
}

/// An item type this reader decodes: AV1, or a grid of AV1 tiles.
fn is_image_kind(kind: &[u8; 4]) -> bool {
    kind == b"av01" || kind == b"grid"
}

/// The child boxes of a `meta`, `iprp` or `ipco`, if libheif reads them all.
fn few_children(data: &[u8]) -> Option<Vec<([u8; 4], &[u8])>> {
    children(data).filter(|c| c.len() <= MAX_CHILDREN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_with_extents(extents: Vec<(u64, u64)>) -> Meta<'static> {
        Meta {
            locations: vec![Location {
                id: 1,
                in_idat: false,
                extents,
            }],
            ..Meta::default()
        }
    }

    /// Extents may overlap: the copies of item data together never exceed
    /// the file.
    #[test]
    fn item_data_never_exceeds_the_file() {
        let file = vec![7u8; 100];
        let mut left = file.len();
        let twice = meta_with_extents(vec![(0, 100), (0, 100)]);
        assert!(twice.bytes_of(1, &file, &mut left).is_none());
        let mut left = file.len();
        let split = meta_with_extents(vec![(0, 60), (60, 40)]);
        let data = split.bytes_of(1, &file, &mut left).unwrap();
        assert_eq!((data.len(), left), (100, 0));
        assert!(split.bytes_of(1, &file, &mut left).is_none());
    }

    /// libheif 1.23 reads nothing for an extent of length 0; one past the
    /// end of the file is refused.
    #[test]
    fn an_extent_of_length_zero_adds_nothing() {
        let file = vec![7u8; 100];
        let mut left = file.len();
        let data = meta_with_extents(vec![(10, 0), (20, 5)]).bytes_of(1, &file, &mut left);
        assert_eq!(data.map(|d| d.len()), Some(5));
        let mut left = file.len();
        assert!(meta_with_extents(vec![(0, 0)])
            .bytes_of(1, &file, &mut left)
            .is_none());
        let mut left = file.len();
        assert!(meta_with_extents(vec![(101, 0), (0, 5)])
            .bytes_of(1, &file, &mut left)
            .is_none());
    }

    /// libheif keeps the last `nclx` it reads; an ICC profile leaves it.
    #[test]
    fn the_last_nclx_colour_property_counts() {
        let nclx = |matrix: u16| {
            let mut b = b"nclx\0\x01\0\x0d".to_vec();
            b.extend(matrix.to_be_bytes());
            b.push(0x80);
            b
        };
        let (bt709, icc, bt601) = (nclx(1), b"prof\0\0".to_vec(), nclx(6));
        let props = [
            (*b"colr", &bt709[..]),
            (*b"colr", &icc[..]),
            (*b"colr", &bt601[..]),
        ];
        let matrix = |p: &[([u8; 4], &[u8])]| last_nclx(p).unwrap().map(|n| n.matrix);
        assert_eq!(matrix(&props), Some(6));
        assert_eq!(matrix(&props[..2]), Some(1));
        assert_eq!(matrix(&props[1..2]), None);
    }
}
