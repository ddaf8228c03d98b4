//! TIFF (classic and BigTIFF, either byte order): how the first page is
//! stored, and where the first page links to the next.
//!
//! libvips only ever decodes the first page of a TIFF here, but libtiff
//! walks the whole chain of pages to count them each time a header is
//! read, in one step no deadline interrupts: a file of a million tiny
//! pages holds a thread for seconds. [`tiff_next_page_field`] finds the
//! link so that libvips can be given a copy that ends after page one.

use std::ops::Range;

/// What the first IFD of a TIFF says about its storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TiffFacts {
    /// Image width and height.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Samples per pixel.
    pub samples: u32,
    /// Bits per sample (of the first sample).
    pub bits: u32,
    /// Rows per strip (0 when tiled).
    pub rows_per_strip: u32,
    /// Tile width and height (0 when stripped).
    pub tile_width: u32,
    /// See `tile_width`.
    pub tile_height: u32,
    /// Entries (tags) of the first IFD.
    pub entries: u64,
}

impl TiffFacts {
    /// Bytes libtiff decodes in one call: a whole strip, or a row of tiles
    /// (libvips reads tiles a row at a time).
    pub(crate) fn chunk_bytes(&self) -> u64 {
        let sample_bytes = (self.samples.max(1) as u64 * self.bits.max(1) as u64).div_ceil(8);
        let rows = if self.tile_width > 0 {
            self.tile_height as u64
        } else {
            (self.rows_per_strip as u64).min(self.height as u64).max(1)
        };
        let width = if self.tile_width > 0 {
            (self.width as u64).div_ceil(self.tile_width as u64) * self.tile_width as u64
        } else {
            self.width as u64
        };
        width * rows * sample_bytes
    }
}

/// The reading of a TIFF's numbers: byte order, and classic (32-bit
/// offsets, 12-byte entries) or BigTIFF (64-bit offsets, 20-byte entries).
struct Layout<'a> {
    data: &'a [u8],
    little_endian: bool,
    big: bool,
}

impl<'a> Layout<'a> {
    fn of(data: &'a [u8]) -> Option<Layout<'a>> {
        let (little_endian, big) = match data.get(..4)? {
            b"II*\0" => (true, false),
            b"MM\0*" => (false, false),
            b"II+\0" => (true, true),
            b"MM\0+" => (false, true),
            _ => return None,
        };
        let layout = Layout {
            data,
            little_endian,
            big,
        };
        // BigTIFF: offsets are 8 bytes wide, and the next two bytes are 0.
        if big && (layout.u16_at(4)? != 8 || layout.u16_at(6)? != 0) {
            return None;
        }
        Some(layout)
    }

    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        let mut b: [u8; N] = self.data.get(at..at.checked_add(N)?)?.try_into().ok()?;
        if !self.little_endian {
            b.reverse();
        }
        Some(b)
    }

    fn u16_at(&self, at: usize) -> Option<u64> {
        self.bytes(at).map(|b| u16::from_le_bytes(b) as u64)
    }

    fn u32_at(&self, at: usize) -> Option<u64> {
        self.bytes(at).map(|b| u32::from_le_bytes(b) as u64)
    }

    fn u64_at(&self, at: usize) -> Option<u64> {
        self.bytes(at).map(u64::from_le_bytes)
    }

    /// An offset or count as wide as this layout's (4 or 8 bytes).
    fn wide_at(&self, at: usize) -> Option<u64> {
        if self.big {
            self.u64_at(at)
        } else {
            self.u32_at(at)
        }
    }

    fn offset_width(&self) -> usize {
        if self.big {
            8
        } else {
            4
        }
    }

    fn first_ifd(&self) -> Option<usize> {
        usize::try_from(self.wide_at(if self.big { 8 } else { 4 })?).ok()
    }

    /// The entry count of the IFD at `ifd` and where its entries start.
    fn entries(&self, ifd: usize) -> Option<(usize, usize)> {
        if self.big {
            Some((
                usize::try_from(self.u64_at(ifd)?).ok()?,
                ifd.checked_add(8)?,
            ))
        } else {
            Some((self.u16_at(ifd)? as usize, ifd.checked_add(2)?))
        }
    }

    fn entry_size(&self) -> usize {
        if self.big {
            20
        } else {
            12
        }
    }

    /// An entry's tag, type, count and where its value (or the offset of
    /// its values) is.
    fn entry(&self, at: usize) -> Option<(u64, u64, u64, usize)> {
        let (tag, ty) = (self.u16_at(at)?, self.u16_at(at + 2)?);
        let count = self.wide_at(at + 4)?;
        Some((tag, ty, count, at + 4 + self.offset_width()))
    }

    /// A one-value entry's value: SHORT, LONG or (BigTIFF) LONG8.
    fn value(&self, ty: u64, at: usize) -> Option<u64> {
        match ty {
            3 => self.u16_at(at),
            16 => self.u64_at(at),
            _ => self.u32_at(at),
        }
    }
}

/// Read the first IFD of a TIFF (classic or BigTIFF, either byte order).
pub(crate) fn tiff(data: &[u8]) -> Option<TiffFacts> {
    let t = Layout::of(data)?;
    let (count, start) = t.entries(t.first_ifd()?)?;
    let mut f = TiffFacts {
        samples: 1,
        bits: 1,
        rows_per_strip: u32::MAX,
        entries: count as u64,
        ..TiffFacts::default()
    };
    let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    for i in 0..count.min(512) {
        let (tag, ty, n, at) = t.entry(start + i * t.entry_size())?;
        let value = narrow(t.value(ty, at)?);
        match tag {
            256 => f.width = value,
            257 => f.height = value,
            258 => {
                // Inline when they fit in the value field, else an offset
                // to the first.
                f.bits = if n * 2 <= t.offset_width() as u64 {
                    narrow(t.u16_at(at)?)
                } else {
                    usize::try_from(t.wide_at(at)?)
                        .ok()
                        .and_then(|o| t.u16_at(o))
                        .map_or(8, narrow)
                };
            }
            277 => f.samples = value,
            278 => f.rows_per_strip = value,
            322 => f.tile_width = value,
            323 => f.tile_height = value,
            _ => {}
        }
    }
    Some(f)
}

/// Bytes of the tag values the first IFD of a TIFF holds (libtiff reads up
/// to 4 096 entries, each whole, at every open; none bigger than the file,
/// which libtiff checks): those libvips also copies into the image's
/// metadata (the ICC profile 34675, XMP 700, IPTC 33723, Photoshop 34377
/// and the image description 270, a string it writes into TIFF output),
/// and all the others (private tags, a layered Photoshop file's 37724),
/// which libtiff keeps.
pub(crate) fn tiff_metadata_bytes(data: &[u8]) -> Option<(u64, u64)> {
    let t = Layout::of(data)?;
    let (count, start) = t.entries(t.first_ifd()?)?;
    let (mut copied, mut other) = (0u64, 0u64);
    for i in 0..count.min(4096) {
        let (tag, ty, n, _) = t.entry(start.checked_add(i.checked_mul(t.entry_size())?)?)?;
        let size = match ty {
            3 | 8 => 2,
            4 | 9 | 11 | 13 => 4,
            5 | 10 | 12 | 16..=18 => 8,
            _ => 1,
        };
        let bytes = n.saturating_mul(size).min(data.len() as u64);
        match tag {
            270 | 700 | 33723 | 34377 | 34675 => copied = copied.saturating_add(bytes),
            _ => other = other.saturating_add(bytes),
        }
    }
    Some((copied, other))
}

/// Where the first IFD of a TIFF stores the offset of the second, when
/// there is a second: zeroing those bytes leaves a one-page TIFF whose
/// first page reads exactly as before. `None` for a one-page TIFF, for
/// anything else, and when the first IFD runs past the end (libtiff
/// refuses it then, without walking on).
pub(crate) fn tiff_next_page_field(data: &[u8]) -> Option<Range<usize>> {
    let t = Layout::of(data)?;
    let (count, start) = t.entries(t.first_ifd()?)?;
    let at = count
        .checked_mul(t.entry_size())
        .and_then(|n| n.checked_add(start))?;
    let field = at..at.checked_add(t.offset_width())?;
    (t.wide_at(at)? != 0).then_some(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TIFF of `pages` pages, each one IFD of `entries`, in the layout
    /// and byte order given (the same helpers write both).
    fn chain(big: bool, le: bool, pages: usize, entries: &[(u16, u16, u64)]) -> Vec<u8> {
        let put = |out: &mut Vec<u8>, v: u64, width: usize| {
            let b = v.to_le_bytes();
            let mut b = b[..width].to_vec();
            if !le {
                b.reverse();
            }
            out.extend_from_slice(&b);
        };
        let ow = if big { 8 } else { 4 };
        let mut out = if le { b"II".to_vec() } else { b"MM".to_vec() };
        put(&mut out, if big { 43 } else { 42 }, 2);
        if big {
            put(&mut out, 8, 2);
            put(&mut out, 0, 2);
        }
        let first = out.len() + ow;
        put(&mut out, first as u64, ow);
        let ifd_size = (if big { 8 } else { 2 }) + entries.len() * (4 + 2 * ow) + ow;
        for page in 0..pages {
            put(&mut out, entries.len() as u64, if big { 8 } else { 2 });
            for &(tag, ty, value) in entries {
                put(&mut out, tag as u64, 2);
                put(&mut out, ty as u64, 2);
                put(&mut out, 1, ow);
                let width = match ty {
                    3 => 2,
                    16 => 8,
                    _ => 4,
                };
                put(&mut out, value, width);
                out.extend(std::iter::repeat_n(0, ow - width));
            }
            let next = if page + 1 < pages {
                first + (page + 1) * ifd_size
            } else {
                0
            };
            put(&mut out, next as u64, ow);
        }
        out
    }

    #[test]
    fn facts_and_page_links_in_every_layout() {
        let entries = [(256, 4, 3000), (257, 3, 2000), (277, 3, 3), (278, 4, 16)];
        for big in [false, true] {
            for le in [false, true] {
                let what = format!("big={big} le={le}");
                let one = chain(big, le, 1, &entries);
                let f = tiff(&one).expect(&what);
                assert_eq!((f.width, f.height, f.samples), (3000, 2000, 3), "{what}");
                assert_eq!(f.rows_per_strip, 16, "{what}");
                assert_eq!(tiff_next_page_field(&one), None, "{what}");

                let mut three = chain(big, le, 3, &entries);
                let field = tiff_next_page_field(&three).expect(&what);
                assert_eq!(field.len(), if big { 8 } else { 4 }, "{what}");
                three[field].fill(0);
                assert_eq!(tiff_next_page_field(&three), None, "{what}");
                assert_eq!(tiff(&three), Some(f), "{what}");
            }
        }
    }

    #[test]
    fn metadata_tags_are_counted_in_bytes_in_every_layout() {
        for big in [false, true] {
            for le in [false, true] {
                let what = format!("big={big} le={le}");
                // 600 private tags before the profile: counted all the same.
                let mut entries = vec![(256, 4, 1), (257, 4, 1), (270, 2, 0), (700, 1, 0)];
                entries.extend((0..600).map(|i| (30000 + i, 3, 0)));
                entries.extend([(33723, 4, 0), (34675, 7, 0), (50000, 7, 0)]);
                let mut t = chain(big, le, 1, &entries);
                // Counts: a description of 7 characters, XMP 10 bytes, IPTC
                // 3 LONGs, ICC 100 bytes (then more than the file: cut to
                // its length), a private blob (counted apart).
                let ow = if big { 8 } else { 4 };
                let (first, entry) = (if big { 16 + 8 } else { 8 + 2 }, 4 + 2 * ow);
                let put_count = |t: &mut Vec<u8>, index: usize, n: u64| {
                    let at = first + index * entry + 4;
                    let mut b = n.to_le_bytes()[..ow].to_vec();
                    if !le {
                        b.reverse();
                    }
                    t[at..at + ow].copy_from_slice(&b);
                };
                put_count(&mut t, 2, 7);
                put_count(&mut t, 3, 10);
                put_count(&mut t, 604, 3);
                put_count(&mut t, 606, 1 << 40);
                let len = t.len() as u64;
                put_count(&mut t, 605, 100);
                // Read by libtiff, not copied by libvips: the two LONGs of
                // the size, the 600 SHORTs and the private blob (its count
                // 2^40, cut to the file's length, is 0 in a classic TIFF's
                // four bytes).
                let other = 4 + 4 + 600 * 2 + if big { len } else { 0 };
                assert_eq!(
                    tiff_metadata_bytes(&t),
                    Some((7 + 10 + 12 + 100, other)),
                    "{what}"
                );
                put_count(&mut t, 605, u32::MAX.into());
                assert_eq!(
                    tiff_metadata_bytes(&t),
                    Some((7 + 10 + 12 + len, other)),
                    "{what}"
                );
            }
        }
        assert_eq!(tiff_metadata_bytes(b"GIF89a"), None);
    }

    #[test]
    fn a_first_page_past_the_end_is_left_alone() {
        let mut t = chain(false, true, 2, &[(256, 4, 1), (257, 4, 1)]);
        // 65535 entries: the IFD runs past the end of the file.
        t[8..10].copy_from_slice(&[0xFF, 0xFF]);
        assert_eq!(tiff_next_page_field(&t), None);
        let mut big = chain(true, true, 2, &[(256, 4, 1)]);
        big[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(tiff_next_page_field(&big), None);
        assert_eq!(tiff(b"II*\0\xff\xff\xff\xff"), None);
        assert_eq!(tiff_next_page_field(b"GIF89a"), None);
        // A BigTIFF must say its offsets are 8 bytes wide.
        let mut odd = chain(true, true, 2, &[(256, 4, 1)]);
        odd[4] = 4;
        assert_eq!(tiff(&odd), None);
    }
}
