//! An AVIF image item decoded to Y'CbCr planes, before any conversion: one
//! AV1 picture as dav1d gives it, or a grid's tiles decoded one at a time
//! and pasted into one set of planes as libheif 1.23 pastes them (each
//! plane's offset rounded up for subsampled chroma, tiles cut at the
//! image's edge).

use super::avif_items::{Coded, Grid, Nclx};
use super::yuv::{Layout, Planes};
use crate::error::Result;
use crate::vips::av1;

/// A decoded image item: its planes and its colour description.
pub(super) struct Decoded {
    /// Bits per sample: 8, 10 or 12.
    pub bits: u8,
    /// The chroma layout.
    pub layout: Layout,
    /// Matrix coefficients: the bitstream's, or for a grid what libheif
    /// gives its tiles (their `colr`, else their bitstream's).
    pub matrix: u16,
    /// Full or limited range, from the same place as `matrix`.
    pub full_range: bool,
    /// Colour primaries, from the same place as `matrix` (the
    /// chromaticity-derived matrices depend on them).
    pub primaries: u16,
    /// Whether the bitstream (a tile's, for a grid) itself declares the
    /// identity matrix, whatever a `colr` property says.
    pub coded_identity: bool,
    store: Store,
}

enum Store {
    Picture(av1::Picture),
    Canvas8(Canvas<u8>),
    Canvas16(Canvas<u16>),
}

/// Planes we own: Y, Cb, Cr, each row after row without padding.
struct Canvas<T> {
    width: usize,
    height: usize,
    layout: Layout,
    planes: [Vec<T>; 3],
}

impl Decoded {
    /// Width and height in luma samples.
    pub fn size(&self) -> (usize, usize) {
        match &self.store {
            Store::Picture(p) => p.size(),
            Store::Canvas8(c) => (c.width, c.height),
            Store::Canvas16(c) => (c.width, c.height),
        }
    }

    /// The planes of an 8-bit image; `None` if it is deeper.
    pub fn planes(&self) -> Option<Planes<'_>> {
        match &self.store {
            Store::Picture(p) => p.planes(),
            Store::Canvas8(c) => Some(c.planes()),
            Store::Canvas16(_) => None,
        }
    }

    /// The planes of a 10- or 12-bit image; `None` if it is 8-bit.
    pub fn planes16(&self) -> Option<Planes<'_, u16>> {
        match &self.store {
            Store::Picture(p) => p.planes16(),
            Store::Canvas16(c) => Some(c.planes()),
            Store::Canvas8(_) => None,
        }
    }
}

impl Decoded {
    /// This alpha plane's luma at `bits` per sample, as libheif adjusts an
    /// alpha plane to its image's depth before converting: deeper by
    /// repeating the top bits below the shifted sample (`v << s | v >> (2a - t)`),
    /// shallower by dropping the low bits. `layout` and the colour fields
    /// stay as decoded; only the luma is kept.
    pub fn alpha_at_depth(&self, bits: u8) -> Option<Decoded> {
        let (from, to) = (u32::from(self.bits), u32::from(bits));
        let scale = |v: u32| {
            if to > from {
                (v << (to - from)) | (v >> (2 * from - to))
            } else {
                v >> (from - to)
            }
        };
        let store = match (self.planes(), self.planes16()) {
            (Some(p), _) if bits > 8 => {
                Store::Canvas16(luma_scaled(&p, |v| scale(v.into()) as u16))
            }
            (_, Some(p)) if bits > 8 => {
                Store::Canvas16(luma_scaled(&p, |v| scale(v.into()) as u16))
            }
            (_, Some(p)) => Store::Canvas8(luma_scaled(&p, |v| scale(v.into()) as u8)),
            _ => return None,
        };
        Some(Decoded {
            bits,
            layout: self.layout,
            matrix: self.matrix,
            full_range: self.full_range,
            primaries: self.primaries,
            coded_identity: self.coded_identity,
            store,
        })
    }
}

/// A monochrome canvas of `p`'s luma, each sample mapped by `f`.
fn luma_scaled<T: Copy, U: Copy + Default>(p: &Planes<'_, T>, f: impl Fn(T) -> U) -> Canvas<U> {
    let mut out = Canvas::new(p.width, p.height, Layout::Mono);
    let (src, stride) = p.planes[0];
    for (row, dst) in out.planes[0].chunks_exact_mut(p.width).enumerate() {
        for (d, &v) in dst.iter_mut().zip(&src[row * stride..][..p.width]) {
            *d = f(v);
        }
    }
    out
}

/// libheif's "undefined" nclx: unspecified everything, full range.
const UNDEFINED: Nclx = Nclx {
    primaries: 2,
    transfer: 2,
    matrix: 2,
    full_range: true,
};

/// The matrix, range and primaries libheif converts with: a defined
/// `colr` nclx overrides the decoded image's (all three).
pub(super) fn effective(colr: Option<Nclx>, decoded: (u16, bool, u16)) -> (u16, bool, u16) {
    match colr {
        Some(n) if n != UNDEFINED => (n.matrix, n.full_range, n.primaries),
        _ => decoded,
    }
}

/// `coded`, an item of `size`, decoded; `None` to leave the file to
/// libvips (the data does not decode, or a grid's tiles differ as libheif
/// does not allow), `Err` once the call's deadline has passed.
pub(super) fn decode(coded: &Coded, size: (u32, u32)) -> Result<Option<Decoded>> {
    match coded {
        Coded::Single(data) => {
            let Some(max_pixels) = size.0.checked_mul(size.1) else {
                return Ok(None);
            };
            Ok(av1::decode_still(data, max_pixels).map(|p| Decoded {
                bits: p.bits,
                layout: p.layout,
                matrix: p.matrix,
                full_range: p.full_range,
                primaries: p.primaries,
                coded_identity: p.matrix == 0,
                store: Store::Picture(p),
            }))
        }
        Coded::Grid(grid) => decode_grid(grid, size),
    }
}

fn decode_grid(grid: &Grid, (width, height): (u32, u32)) -> Result<Option<Decoded>> {
    let (tw, th) = grid.tile_size;
    let Some(max_pixels) = tw.checked_mul(th) else {
        return Ok(None);
    };
    let (tw, th, width, height) = (tw as usize, th as usize, width as usize, height as usize);
    // Decided from the tiles' av1C, before any is decoded; each decoded
    // tile must then be what its av1C declares.
    if overlapping(grid, grid.coded.0) {
        return Ok(None);
    }
    let budget = crate::budget::current();
    let mut out: Option<Decoded> = None;
    for (i, &tile) in grid.tiles.iter().enumerate() {
        budget.check()?;
        let Some(pic) = av1::decode_still(&grid.data[tile], max_pixels) else {
            return Ok(None);
        };
        if pic.size() != (tw, th) || (pic.layout, pic.bits) != grid.coded {
            return Ok(None);
        }
        let colour = (pic.matrix, pic.full_range, pic.primaries);
        let (matrix, full_range, primaries) = effective(grid.nclx, colour);
        let canvas = out.get_or_insert_with(|| Decoded {
            bits: pic.bits,
            layout: pic.layout,
            matrix,
            full_range,
            primaries,
            coded_identity: false,
            store: if pic.bits == 8 {
                Store::Canvas8(Canvas::new(width, height, pic.layout))
            } else {
                Store::Canvas16(Canvas::new(width, height, pic.layout))
            },
        });
        if (canvas.matrix, canvas.full_range, canvas.primaries) != (matrix, full_range, primaries) {
            return Ok(None);
        }
        canvas.coded_identity |= pic.matrix == 0;
        let at = ((i % grid.columns) * tw, (i / grid.columns) * th);
        let pasted = match &mut canvas.store {
            Store::Canvas8(c) => pic.planes().map(|p| c.paste(&p, at)),
            Store::Canvas16(c) => pic.planes16().map(|p| c.paste(&p, at)),
            Store::Picture(_) => None, // a grid's canvas is never a picture
        };
        if pasted.is_none() {
            return Ok(None);
        }
    }
    Ok(out)
}

/// Whether tiles of `grid` in `layout` share chroma samples: with an odd
/// tile width, the third tile's chroma starts inside the second's (and so
/// on down for odd heights in 4:2:0). libheif pastes up to four tiles at
/// once, so which one it keeps there is a matter of timing.
fn overlapping(grid: &Grid, layout: Layout) -> bool {
    let (tw, th) = grid.tile_size;
    let rows = grid.tiles.len() / grid.columns.max(1);
    let (sx, sy) = shifts(layout, 1);
    let odd = |tile: u32, count: usize, shift: u32| shift == 1 && tile % 2 == 1 && count >= 3;
    odd(tw, grid.columns, sx) || odd(th, rows, sy)
}

/// How far a plane of `layout` is subsampled: `(x shift, y shift)`.
pub(super) fn shifts(layout: Layout, plane: usize) -> (u32, u32) {
    match (layout, plane) {
        (_, 0) | (Layout::I444, _) | (Layout::Mono, _) => (0, 0),
        (Layout::I420, _) => (1, 1),
        (Layout::I422, _) => (1, 0),
    }
}

/// `v` luma samples in a plane subsampled by `shift`, rounded up.
pub(super) fn scaled(v: usize, shift: u32) -> usize {
    (v + (1 << shift) - 1) >> shift
}

impl<T: Copy + Default> Canvas<T> {
    fn new(width: usize, height: usize, layout: Layout) -> Self {
        let plane = |i: usize| {
            if i > 0 && layout == Layout::Mono {
                return Vec::new();
            }
            let (sx, sy) = shifts(layout, i);
            vec![T::default(); scaled(width, sx) * scaled(height, sy)]
        };
        Canvas {
            width,
            height,
            layout,
            planes: [plane(0), plane(1), plane(2)],
        }
    }

    fn planes(&self) -> Planes<'_, T> {
        let plane = |i: usize| {
            if self.planes[i].is_empty() {
                return (&[][..], 0); // a monochrome image's chroma
            }
            let (sx, _) = shifts(self.layout, i);
            (&self.planes[i][..], scaled(self.width, sx))
        };
        Planes {
            width: self.width,
            height: self.height,
            layout: self.layout,
            planes: [plane(0), plane(1), plane(2)],
        }
    }

    /// Copies `tile` (of this canvas's layout) with its top left corner at
    /// luma sample `(x0, y0)`, cut at the canvas's edges.
    fn paste(&mut self, tile: &Planes<'_, T>, (x0, y0): (usize, usize)) {
        if x0 >= self.width || y0 >= self.height {
            return; // wholly outside (the reader refuses such grids)
        }
        let planes = if self.layout == Layout::Mono { 1 } else { 3 };
        for i in 0..planes {
            let (sx, sy) = shifts(self.layout, i);
            let (cw, ch) = (scaled(self.width, sx), scaled(self.height, sy));
            let (xs, ys) = (scaled(x0, sx), scaled(y0, sy));
            let (src, stride) = tile.planes[i];
            let w = scaled(tile.width, sx).min(cw.saturating_sub(xs));
            let h = scaled(tile.height, sy).min(ch.saturating_sub(ys));
            for row in 0..h {
                let to = (ys + row) * cw + xs;
                self.planes[i][to..to + w].copy_from_slice(&src[row * stride..row * stride + w]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile<'a>(y: &'a [u8], c: &'a [u8], (w, h): (usize, usize), cw: usize) -> Planes<'a> {
        Planes {
            width: w,
            height: h,
            layout: Layout::I420,
            planes: [(y, w), (c, cw), (c, cw)],
        }
    }

    /// libheif puts a tile's chroma at its luma offset halved and rounded
    /// up, and cuts each plane at the canvas's own plane size (two odd-sized
    /// tiles side by side do not overlap; a third would, see
    /// [`overlapping`]).
    #[test]
    fn tiles_paste_at_libheifs_chroma_offsets_and_are_cut_at_the_edge() {
        let mut canvas = Canvas::<u8>::new(5, 3, Layout::I420);
        let y: Vec<u8> = (1..=6).collect(); // 3x2
        let c = [7, 8]; // 2x1
        canvas.paste(&tile(&y, &c, (3, 2), 2), (0, 0));
        canvas.paste(
            &tile(&[11, 12, 13, 14, 15, 16], &[17, 18], (3, 2), 2),
            (3, 0),
        );
        canvas.paste(
            &tile(&[21, 22, 23, 24, 25, 26], &[27, 28], (3, 2), 2),
            (0, 2),
        );
        #[rustfmt::skip]
        assert_eq!(canvas.planes[0], [
            1, 2, 3, 11, 12,
            4, 5, 6, 14, 15,
            21, 22, 23, 0, 0,
        ]);
        // Chroma is 3x2: the second tile starts at column 2 (3 / 2 rounded
        // up) and keeps one column; the third at row 1.
        assert_eq!(canvas.planes[1], [7, 8, 17, 27, 28, 0]);
        let planes = canvas.planes();
        assert_eq!((planes.planes[0].1, planes.planes[1].1), (5, 3));
    }

    #[test]
    fn odd_tiles_whose_chroma_would_overlap_are_refused() {
        let grid = |columns: usize, rows: usize, tile_size: (u32, u32)| Grid {
            columns,
            tile_size,
            data: vec![Vec::new()],
            tiles: vec![0; columns * rows],
            nclx: None,
            coded: (Layout::I420, 8),
        };
        assert!(!overlapping(&grid(2, 2, (3, 3)), Layout::I420));
        assert!(overlapping(&grid(3, 1, (3, 4)), Layout::I420));
        assert!(overlapping(&grid(1, 3, (4, 3)), Layout::I420));
        assert!(!overlapping(&grid(1, 3, (4, 3)), Layout::I422));
        assert!(overlapping(&grid(3, 1, (3, 4)), Layout::I422));
        assert!(!overlapping(&grid(3, 3, (3, 3)), Layout::I444));
        assert!(!overlapping(&grid(3, 3, (4, 4)), Layout::I420));
    }

    #[test]
    fn monochrome_canvases_have_luma_only() {
        let mut canvas = Canvas::<u16>::new(3, 1, Layout::Mono);
        let y = [5u16, 6];
        let t = Planes {
            width: 2,
            height: 1,
            layout: Layout::Mono,
            planes: [(&y[..], 2), (&[][..], 0), (&[][..], 0)],
        };
        canvas.paste(&t, (2, 0));
        assert_eq!(canvas.planes[0], [0, 0, 5]);
        assert!(canvas.planes[1].is_empty() && canvas.planes[2].is_empty());
    }

    fn alpha(bits: u8, samples: Vec<u16>) -> Decoded {
        let mut c = Canvas::<u16>::new(samples.len(), 1, Layout::Mono);
        c.planes[0] = samples;
        let store = if bits == 8 {
            let mut c8 = Canvas::<u8>::new(c.width, 1, Layout::Mono);
            c8.planes[0] = c.planes[0].iter().map(|&v| v as u8).collect();
            Store::Canvas8(c8)
        } else {
            Store::Canvas16(c)
        };
        Decoded {
            bits,
            layout: Layout::Mono,
            matrix: 2,
            full_range: true,
            primaries: 2,
            coded_identity: false,
            store,
        }
    }

    /// libheif's depth steps for an alpha plane: up by repeating the top
    /// bits, down by dropping the low ones.
    #[test]
    fn alpha_planes_take_the_images_depth_as_libheif_adjusts_them() {
        let up = alpha(8, vec![0, 128, 255]).alpha_at_depth(10).unwrap();
        assert_eq!(up.planes16().unwrap().planes[0].0, [0, 514, 1023]);
        let down = alpha(10, vec![0, 514, 1023]).alpha_at_depth(8).unwrap();
        assert_eq!(down.planes().unwrap().planes[0].0, [0, 128, 255]);
        let deeper = alpha(10, vec![1, 1023]).alpha_at_depth(12).unwrap();
        assert_eq!(deeper.planes16().unwrap().planes[0].0, [4, 4095]);
        let shallower = alpha(12, vec![4095, 7]).alpha_at_depth(10).unwrap();
        assert_eq!(shallower.planes16().unwrap().planes[0].0, [1023, 1]);
    }
}
