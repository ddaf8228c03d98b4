//! Y'CbCr planes to interleaved RGB(A), with the arithmetic libheif (1.23)
//! uses when libvips' `heifload` asks it for RGB(A), so that a still AVIF
//! decoded by us has the samples `heifload` gives:
//!
//! - 8-bit 4:2:0 at full range: fixed-point coefficients
//!   (`round(256 * c)`), chroma from the nearest sample (`x / 2`, `y / 2`),
//!   `+ 128 >> 8`;
//! - any other 8-bit subsampling or limited range, and 10 or 12 bits
//!   ([`to_rgb16`]): `f32`, limited range first expanded by libheif's
//!   factors, each channel summed left to right and rounded as
//!   `(int)(v + 0.5)`; libvips then shifts 10 and 12 bits up to 16;
//! - 8-bit monochrome: the luma copied to R, G and B as it is;
//! - alpha: the alpha plane's luma copied as it is (premultiplied or not).
//!
//! The identity matrix (0: the planes hold G, B, R, as lossless AVIFs
//! store them) is copied as libheif copies it (limited range expanded by
//! the same factors). The chromaticity-derived matrices (12, 13) take Kr
//! and Kb from the colour primaries, as libheif works them out. The other
//! matrices libheif treats specially (YCgCo, ICtCp) are not handled here:
//! [`Matrix::of`] refuses them.

/// The chroma layout of the planes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Luma only.
    Mono,
    /// Chroma at half width and half height.
    I420,
    /// Chroma at half width, full height.
    I422,
    /// Chroma at full size.
    I444,
}

/// Borrowed planes of one picture, 8-bit (`u8`) or deeper (`u16`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Planes<'a, T = u8> {
    /// Width in luma samples.
    pub width: usize,
    /// Height in luma samples.
    pub height: usize,
    /// The chroma layout.
    pub layout: Layout,
    /// `(samples, stride in samples)` of Y, Cb and Cr (Cb, Cr unused for
    /// `Mono`).
    pub planes: [(&'a [T], usize); 3],
}

pub(crate) use super::yuv_matrix::{Form, Matrix};

/// Interleaved RGB (or RGBA with `alpha`'s luma) of `p`, `3` or `4` bytes
/// a pixel, rows packed. `alpha` must have `p`'s size.
pub(crate) fn to_rgb(p: &Planes, m: Matrix, full_range: bool, alpha: Option<&Planes>) -> Vec<u8> {
    let bands = if alpha.is_some() { 4 } else { 3 };
    let mut out = vec![0u8; p.width * p.height * bands];
    let (y_plane, y_stride) = p.planes[0];
    let terms = FloatTerms::new(m, full_range);
    for (y, row) in out.chunks_exact_mut(p.width * bands).enumerate() {
        let luma = &y_plane[y * y_stride..][..p.width];
        match p.layout {
            Layout::Mono => {
                for (px, &l) in row.chunks_exact_mut(bands).zip(luma) {
                    px[..3].fill(l);
                }
            }
            // libheif's fixed-point 4:2:0 op refuses some matrices.
            Layout::I420 if full_range && m.fixed_point() => {
                fixed_row(row, bands, luma, p, y / 2, m.fixed())
            }
            Layout::I420 => float_row(row, bands, luma, p, y / 2, 1, &terms),
            Layout::I422 => float_row(row, bands, luma, p, y, 1, &terms),
            Layout::I444 => float_row(row, bands, luma, p, y, 0, &terms),
        }
        if let Some(a) = alpha {
            let (a_plane, a_stride) = a.planes[0];
            for (px, &v) in row
                .chunks_exact_mut(4)
                .zip(&a_plane[y * a_stride..][..p.width])
            {
                px[3] = v;
            }
        }
    }
    out
}

/// Interleaved RGB (or RGBA with `alpha`'s luma) of `bits`-deep (10 or 12)
/// monochrome, 4:2:0, 4:2:2 or 4:4:4 planes, as libheif's high-bit-depth conversion gives them
/// (in `f32` at the native depth) and libvips stores them: each sample
/// shifted up to 16 bits, alpha included. `alpha` must have `p`'s size and
/// depth.
pub(crate) fn to_rgb16(
    p: &Planes<u16>,
    bits: u32,
    m: Matrix,
    full_range: bool,
    alpha: Option<&Planes<u16>>,
) -> Vec<u16> {
    let bands = if alpha.is_some() { 4 } else { 3 };
    let mut out = vec![0u16; p.width * p.height * bands];
    let up = 16 - bits;
    // Chroma at (x >> sh, y >> sv): nearest, as libheif's ops take it.
    let (sh, sv) = match p.layout {
        Layout::I420 => (1, 1),
        Layout::I422 => (1, 0),
        Layout::I444 | Layout::Mono => (0, 0),
    };
    let (y_plane, y_stride) = p.planes[0];
    let ((cb, cb_stride), (cr, cr_stride)) = (p.planes[1], p.planes[2]);
    for (y, row) in out.chunks_exact_mut(p.width * bands).enumerate() {
        let luma = &y_plane[y * y_stride..][..p.width];
        if p.layout == Layout::Mono {
            // libheif makes it 4:2:0 with neutral chroma and no colour
            // profile, converted as full range: each sample as it is.
            for (px, &l) in row.chunks_exact_mut(bands).zip(luma) {
                px[..3].fill(l << up);
            }
        } else {
            let cy = y >> sv;
            let (cb_row, cr_row) = (&cb[cy * cb_stride..], &cr[cy * cr_stride..]);
            for (x, (px, &l)) in row.chunks_exact_mut(bands).zip(luma).enumerate() {
                let (u, v) = (cb_row[x >> sh], cr_row[x >> sh]);
                let rgb = float_rgb(l.into(), u.into(), v.into(), bits, m, full_range);
                for (out, c) in px.iter_mut().zip(rgb) {
                    *out = (c as u16) << up;
                }
            }
        }
        if let Some(a) = alpha {
            let (a_plane, a_stride) = a.planes[0];
            for (px, &v) in row
                .chunks_exact_mut(4)
                .zip(&a_plane[y * a_stride..][..p.width])
            {
                px[3] = v << up;
            }
        }
    }
    out
}

/// One row of 4:2:0 at full range, in libheif's fixed point.
fn fixed_row(row: &mut [u8], bands: usize, luma: &[u8], p: &Planes, cy: usize, k: [i32; 4]) {
    let (cb_row, cr_row) = chroma_rows(p, cy);
    // Each chroma sample serves two pixels: its three terms are worked out
    // once for both (the same integers the per-pixel formula gives).
    let chroma = cb_row.iter().zip(cr_row).map(|(&cb, &cr)| {
        let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
        [
            (k[0] * cr + 128) >> 8,
            (k[1] * cb + k[2] * cr + 128) >> 8,
            (k[3] * cb + 128) >> 8,
        ]
    });
    let put = |px: &mut [u8], l: u8, add: [i32; 3]| {
        let l = i32::from(l);
        px[0] = clip(l + add[0]);
        px[1] = clip(l + add[1]);
        px[2] = clip(l + add[2]);
    };
    let pairs = row.chunks_mut(2 * bands).zip(luma.chunks(2));
    for ((pixels, lumas), add) in pairs.zip(chroma) {
        // (Split rather than chunked: a chunk iterator per pair divides.)
        let (first, second) = pixels.split_at_mut(bands);
        put(first, lumas[0], add);
        if let Some(&l) = lumas.get(1) {
            put(second, l, add);
        }
    }
}

/// One row in libheif's `f32` path; chroma column `x >> shift`.
fn float_row(
    row: &mut [u8],
    bands: usize,
    luma: &[u8],
    p: &Planes,
    cy: usize,
    shift: u32,
    terms: &FloatTerms,
) {
    let (cb_row, cr_row) = chroma_rows(p, cy);
    for (x, (px, &l)) in row.chunks_exact_mut(bands).zip(luma).enumerate() {
        let (cb, cr) = (cb_row[x >> shift], cr_row[x >> shift]);
        px[..3].copy_from_slice(&terms.rgb(l, cb, cr));
    }
}

/// The terms of [`float_rgb`] at 8 bits, each worked out once per sample
/// value: the same `f32` products, summed in the same order per pixel, so
/// the result is bit for bit `float_rgb`'s at a fraction of its cost.
struct FloatTerms {
    /// `None` for a matrix without coefficients (the identity, YCgCo).
    sums: Option<Box<SumTables>>,
    m: Matrix,
    full_range: bool,
}

/// Per sample value: the luma term and the four chroma products.
struct SumTables {
    y: [f32; 256],
    r_cr: [f32; 256],
    g_cb: [f32; 256],
    g_cr: [f32; 256],
    b_cb: [f32; 256],
}

impl FloatTerms {
    fn new(m: Matrix, full_range: bool) -> Self {
        let sums = (m.form == Form::Linear).then(|| {
            let mut t = Box::new(SumTables {
                y: [0.0; 256],
                r_cr: [0.0; 256],
                g_cb: [0.0; 256],
                g_cr: [0.0; 256],
                b_cb: [0.0; 256],
            });
            for i in 0..256 {
                let (y, u, v) = float_inputs(i, i, i, 8, full_range);
                t.y[i as usize] = y;
                t.r_cr[i as usize] = m.r_cr * v;
                t.g_cb[i as usize] = m.g_cb * u;
                t.g_cr[i as usize] = m.g_cr * v;
                t.b_cb[i as usize] = m.b_cb * u;
            }
            t
        });
        FloatTerms {
            sums,
            m,
            full_range,
        }
    }

    /// [`float_rgb`] of one 8-bit pixel.
    fn rgb(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let Some(t) = &self.sums else {
            let rgb = float_rgb(y.into(), cb.into(), cr.into(), 8, self.m, self.full_range);
            return rgb.map(|c| c as u8);
        };
        let (y, cb, cr) = (usize::from(y), usize::from(cb), usize::from(cr));
        let yv = t.y[y];
        // `(int)(c + 0.5)` clamped to 0..=255, as `float_rgb`: truncation
        // and clamping commute here (no NaN), and clamping the float first
        // spares the saturating conversion its checks.
        let round = |c: f32| (c + 0.5).clamp(0.0, 255.0) as u8;
        [
            round(yv + t.r_cr[cr]),
            round(yv + t.g_cb[cb] + t.g_cr[cr]),
            round(yv + t.b_cb[cb]),
        ]
    }
}

fn chroma_rows<'a>(p: &Planes<'a>, cy: usize) -> (&'a [u8], &'a [u8]) {
    let (cb, cb_stride) = p.planes[1];
    let (cr, cr_stride) = p.planes[2];
    (&cb[cy * cb_stride..], &cr[cy * cr_stride..])
}

fn clip(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// libheif's `f32` conversion of one pixel's `bits`-deep samples (Y, Cb,
/// Cr as stored): limited range first expanded by libheif's factors, each
/// channel summed left to right, rounded as `(int)(v + 0.5)` (toward zero)
/// and clamped to the depth. The identity copies Cr, Y, Cb to R, G, B,
/// expanding limited range alone; YCgCo and YCgCo-Re take libheif's integer
/// forms (range ignored).
fn float_rgb(y: i32, cb: i32, cr: i32, bits: u32, m: Matrix, full_range: bool) -> [i32; 3] {
    let max = (1i32 << bits) - 1;
    let half = 1i32 << (bits - 1);
    match m.form {
        Form::Linear => {}
        Form::YCgCo => {
            let (cb, cr) = (cb - half, cr - half);
            return [y - cb + cr, y + cb, y - cb - cr].map(|c| c.clamp(0, 255));
        }
        Form::YCgCoRe => {
            let (cb, cr) = (cb - half, cr - half);
            let t = y - (cb >> 1);
            let b = t - (cr >> 1);
            return [b + cr, t + cb, b].map(|c| (c * 4).clamp(0, max));
        }
        Form::Identity => return identity(y, cb, cr, bits, full_range),
    }
    let (yv, u, v) = float_inputs(y, cb, cr, bits, full_range);
    let round = |c: f32| ((c + 0.5) as i32).clamp(0, max);
    [
        round(yv + m.r_cr * v),
        round(yv + m.g_cb * u + m.g_cr * v),
        round(yv + m.b_cb * u),
    ]
}

/// The identity: Cr, Y, Cb copied to R, G, B, limited range expanded by
/// libheif's factors.
fn identity(y: i32, cb: i32, cr: i32, bits: u32, full_range: bool) -> [i32; 3] {
    if full_range {
        return [cr, y, cb];
    }
    let max = (1i32 << bits) - 1;
    let offset = 16i32 << (bits - 8);
    let expand = |v: i32, k: f32| ((((v - offset) as f32 * k) + 0.5) as i32).clamp(0, max);
    [expand(cr, 1.1429), expand(y, 1.1689), expand(cb, 1.1429)]
}

/// Luma and the two centred chroma samples as `f32`, limited range expanded
/// by libheif's factors.
fn float_inputs(y: i32, cb: i32, cr: i32, bits: u32, full_range: bool) -> (f32, f32, f32) {
    let half = 1i32 << (bits - 1);
    let mut yv = y as f32;
    let mut u = (cb - half) as f32;
    let mut v = (cr - half) as f32;
    if !full_range {
        yv = (yv - (16i32 << (bits - 8)) as f32) * 1.1689;
        u *= 1.1429;
        v *= 1.1429;
    }
    (yv, u, v)
}

/// `(int)(v + 0.5)` (toward zero), then clamped, as libheif rounds.
#[cfg(test)]
fn round_clip(v: f32) -> u8 {
    ((v + 0.5) as i32).clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planes<'a>(w: usize, h: usize, layout: Layout, y: &'a [u8], c: &'a [u8]) -> Planes<'a> {
        let cw = if layout == Layout::I420 {
            w.div_ceil(2)
        } else {
            w
        };
        Planes {
            width: w,
            height: h,
            layout,
            planes: [(y, w), (c, cw), (c, cw)],
        }
    }

    /// The identity (lossless AVIFs' GBR planes) copies Cr, Y, Cb to R, G,
    /// B; limited range is expanded alone, with libheif's factors, and
    /// rounds and clips as libheif does.
    /// The tabulated 8-bit path is `float_rgb` bit for bit, for every
    /// matrix, both ranges, and a spread of samples covering each value.
    #[test]
    fn float_terms_are_float_rgb_exactly() {
        for mc in [0, 1, 2, 4, 5, 7, 9] {
            let m = Matrix::of(mc).unwrap();
            for full_range in [true, false] {
                let terms = FloatTerms::new(m, full_range);
                for y in (0..=255u8).step_by(15).chain([255]) {
                    for cb in (0..=255u8).step_by(3).chain([255]) {
                        for cr in 0..=255u8 {
                            let want = float_rgb(y.into(), cb.into(), cr.into(), 8, m, full_range);
                            let got = terms.rgb(y, cb, cr).map(i32::from);
                            assert_eq!(got, want, "mc {mc} full {full_range} {y} {cb} {cr}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_identity_matrix_copies_the_planes() {
        let m = Matrix::of(0).unwrap();
        assert_eq!(float_rgb(10, 20, 30, 8, m, true), [30, 10, 20]);
        // (30 - 16) * 1.1429 = 16.0; (10 - 16) * 1.1689 < 0; (20 - 16) *
        // 1.1429 = 4.57.
        assert_eq!(float_rgb(10, 20, 30, 8, m, false), [16, 0, 5]);
        assert_eq!(float_rgb(1000, 64, 940, 10, m, true), [940, 1000, 64]);
        assert_eq!(float_rgb(1000, 64, 940, 10, m, false), [1001, 1023, 0]);
    }

    #[test]
    fn ycgco_forms_are_libheifs_integer_sums() {
        let ycgco = Matrix::of(8).unwrap();
        // Cg = +10, Co = -20: R = Y - Cg + Co, G = Y + Cg, B = Y - Cg - Co.
        assert_eq!(float_rgb(100, 138, 108, 8, ycgco, true), [70, 110, 110]);
        assert_eq!(float_rgb(5, 138, 108, 8, ycgco, false), [0, 15, 15]);
        // YCgCo-Re lifting (t = Y - (Cg >> 1), B = t - (Co >> 1), R = B + Co,
        // G = t + Cg), times 4.
        let re = Matrix::of(16).unwrap();
        assert_eq!(float_rgb(10, 130, 124, 8, re, true), [28, 44, 44]);
        assert_eq!(float_rgb(100, 130, 124, 8, re, true), [255, 255, 255]);
        // libheif's fixed-point 4:2:0 op takes YCgCo-Re for BT.601, and
        // refuses YCgCo.
        let y = [50u8, 60, 70, 80];
        let c = [140u8];
        let p = planes(2, 2, Layout::I420, &y, &c);
        assert_eq!(
            to_rgb(&p, re, true, None),
            to_rgb(&p, Matrix::of(2).unwrap(), true, None)
        );
        assert_eq!(to_rgb(&p, ycgco, true, None)[..3], [50, 62, 26]);
    }

    #[test]
    fn grey_chroma_gives_the_luma_and_extremes_clip() {
        let y = [0u8, 100, 255, 16];
        let c = [128u8; 2];
        let p = planes(2, 2, Layout::I420, &y, &c);
        let m = Matrix::of(6).unwrap();
        assert_eq!(
            to_rgb(&p, m, true, None),
            [0, 0, 0, 100, 100, 100, 255, 255, 255, 16, 16, 16]
        );
        // Limited range expands: 16 is black, 235 white.
        let y = [16u8, 235];
        let p = planes(2, 1, Layout::I444, &y, &[128, 128]);
        assert_eq!(to_rgb(&p, m, false, None), [0, 0, 0, 255, 255, 255]);
    }

    #[test]
    fn odd_sizes_use_the_last_chroma_sample_and_alpha_is_copied() {
        let y = [50u8, 60, 70];
        let c = [128u8, 200];
        let p = planes(3, 1, Layout::I420, &y, &c);
        let a = [9u8, 8, 7];
        let alpha = planes(3, 1, Layout::Mono, &a, &[]);
        let out = to_rgb(&p, Matrix::of(1).unwrap(), true, Some(&alpha));
        assert_eq!(&out[..8], [50, 50, 50, 9, 60, 60, 60, 8]);
        // Third pixel: Cr = 200 - 128 = 72 → R = 70 + ((403 * 72 + 128) >> 8).
        assert_eq!(out[8], clip(70 + ((403 * 72 + 128) >> 8)));
        assert_eq!(out[11], 7);
    }

    #[test]
    fn deep_samples_convert_at_their_depth_and_shift_to_16_bits() {
        let m = Matrix::of(6).unwrap();
        // 10 bits, grey chroma (512): the luma, shifted up by 6.
        let y = [0u16, 1023, 300, 64];
        let c = [512u16];
        let p = Planes {
            width: 2,
            height: 2,
            layout: Layout::I420,
            planes: [(&y[..], 2), (&c[..], 1), (&c[..], 1)],
        };
        let a = [1023u16, 0, 5, 6];
        let alpha = Planes {
            planes: [(&a[..], 2), (&[][..], 0), (&[][..], 0)],
            layout: Layout::Mono,
            ..p
        };
        let out = to_rgb16(&p, 10, m, true, Some(&alpha));
        assert_eq!(
            &out[..8],
            [0, 0, 0, 1023 << 6, 1023 << 6, 1023 << 6, 1023 << 6, 0]
        );
        assert_eq!(out[8], 300 << 6);
        // Limited range at 12 bits: 256 is black, 3760 white.
        let y = [256u16, 3760];
        let c = [2048u16, 2048];
        let p = Planes {
            width: 2,
            height: 1,
            layout: Layout::I444,
            planes: [(&y[..], 2), (&c[..], 2), (&c[..], 2)],
        };
        assert_eq!(
            to_rgb16(&p, 12, m, false, None),
            [0, 0, 0, 4095 << 4, 4095 << 4, 4095 << 4]
        );
    }

    #[test]
    fn four_two_two_takes_chroma_from_its_own_row() {
        // 2x2, chroma per row (half width): row 0 grey, row 1 Cr = +72.
        let m = Matrix::of(1).unwrap();
        let y = [50u8, 60, 70, 80];
        let (cb, cr) = ([128u8, 128], [128u8, 200]);
        let p = Planes {
            width: 2,
            height: 2,
            layout: Layout::I422,
            planes: [(&y[..], 2), (&cb[..], 1), (&cr[..], 1)],
        };
        let out = to_rgb(&p, m, true, None);
        assert_eq!(&out[..6], [50, 50, 50, 60, 60, 60]);
        assert_eq!(out[6], round_clip(70.0 + m.r_cr * 72.0));
        assert_eq!(out[9], round_clip(80.0 + m.r_cr * 72.0));
        let y16 = y.map(|v| u16::from(v) << 2);
        let (cb16, cr16) = (cb.map(|v| u16::from(v) << 2), cr.map(|v| u16::from(v) << 2));
        let p = Planes {
            width: 2,
            height: 2,
            layout: Layout::I422,
            planes: [(&y16[..], 2), (&cb16[..], 1), (&cr16[..], 1)],
        };
        let out = to_rgb16(&p, 10, m, true, None);
        assert_eq!(
            &out[..6],
            [200 << 6, 200 << 6, 200 << 6, 240 << 6, 240 << 6, 240 << 6]
        );
        assert_eq!(out[6], ((280.0 + m.r_cr * 288.0 + 0.5) as u16) << 6);
    }

    #[test]
    fn monochrome_copies_the_luma_unexpanded() {
        let y = [16u8, 235];
        let p = planes(2, 1, Layout::Mono, &y, &[]);
        assert_eq!(
            to_rgb(&p, Matrix::of(2).unwrap(), false, None),
            [16, 16, 16, 235, 235, 235]
        );
    }

    #[test]
    fn deep_monochrome_keeps_its_samples_whatever_the_colour_box() {
        // 10 bits at limited range, identity or BT.601: each sample shifted up.
        let y = [64u16, 940, 1023];
        let a = [0u16, 512, 1023];
        let p = Planes {
            width: 3,
            height: 1,
            layout: Layout::Mono,
            planes: [(&y[..], 3), (&[][..], 0), (&[][..], 0)],
        };
        let alpha = Planes {
            planes: [(&a[..], 3), (&[][..], 0), (&[][..], 0)],
            ..p
        };
        for matrix in [0, 6] {
            let out = to_rgb16(&p, 10, Matrix::of(matrix).unwrap(), false, Some(&alpha));
            let want: Vec<u16> = y
                .iter()
                .zip(a)
                .flat_map(|(&l, a)| [l << 6, l << 6, l << 6, a << 6])
                .collect();
            assert_eq!(out, want, "matrix {matrix}");
        }
    }
}
