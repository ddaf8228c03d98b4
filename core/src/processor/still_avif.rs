//! Thumbnails of plain still AVIFs ([`super::avif_items`]) decoded by
//! dav1d ([`crate::vips::av1`]) and converted to RGB(A) as libheif does
//! ([`super::yuv`]), with the header's metadata, then `thumbnail_image`:
//! the pixels libvips' `thumbnail_buffer` makes through `heifload`, which
//! has no shrink-on-load for AVIF. Anything else returns `None` and stays
//! with libvips.

use super::avif_items::{self, Transform};
use super::avif_planes::{self, Decoded};
use super::decode::ThumbnailCall;
use super::yuv::{self, Layout, Matrix};
use crate::error::Result;
use crate::vips::Image;

/// The thumbnail of a plain still AVIF, or `None` to leave `data` to
/// libvips. `fields` carries the header's metadata
/// ([`Image::fields_carrier`]).
pub(super) fn thumbnail(data: &[u8], fields: &Image, t: &ThumbnailCall) -> Result<Option<Image>> {
    let Some(still) = avif_items::plain_still(data) else {
        return Ok(None);
    };
    let Some(rgb) = decode_still(&still)? else {
        return Ok(None);
    };
    if !still.transforms.is_empty() {
        // The decode itself is charged as heifload's; turning copies it.
        let bytes = rgb.pixels.byte_len() as u64;
        crate::budget::current().charge_memory("turning the decoded AVIF image", bytes)?;
    }
    let Rgb {
        pixels,
        width,
        height,
        bands,
    } = turned(rgb, &still.transforms);
    let loaded = match pixels {
        Samples::U8(p) => Image::from_pixels(p, width, height, bands)?,
        Samples::U16(p) => Image::from_pixels(p, width, height, bands)?,
    };
    Ok(Some(
        loaded
            .with_fields_of(fields)?
            .thumbnail_image(t.width, t.height, t.size, t.crop)?,
    ))
}

/// Interleaved pixels.
pub(super) struct Rgb {
    pub pixels: Samples,
    pub width: i32,
    pub height: i32,
    pub bands: i32,
}

/// 8-bit samples, or 10- and 12-bit ones shifted up to 16 bits as libvips
/// holds them.
pub(super) enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

impl Samples {
    fn byte_len(&self) -> usize {
        match self {
            Samples::U8(p) => p.len(),
            Samples::U16(p) => p.len() * 2,
        }
    }

    /// The number of samples.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(super) fn len(&self) -> usize {
        match self {
            Samples::U8(p) => p.len(),
            Samples::U16(p) => p.len(),
        }
    }

    /// The samples in memory order, as libvips' `write_to_memory` gives.
    #[cfg(test)]
    fn to_ne_bytes(&self) -> Vec<u8> {
        match self {
            Samples::U8(p) => p.clone(),
            Samples::U16(p) => p.iter().flat_map(|v| v.to_ne_bytes()).collect(),
        }
    }
}

/// The RGB(A) libheif would give for `data`, if it is a plain still (for
/// the tests and the `avif_still` fuzz target).
#[cfg(any(test, feature = "fuzzing"))]
pub(super) fn decode(data: &[u8]) -> Option<Rgb> {
    let still = avif_items::plain_still(data)?;
    Some(turned(decode_still(&still).ok()??, &still.transforms))
}

/// The RGB(A) libheif would give for `still`, before its rotations and
/// mirrors ([`turned`]); `None` to leave it to libvips.
fn decode_still(still: &avif_items::PlainStill) -> Result<Option<Rgb>> {
    let (Ok(width), Ok(height)) = (i32::try_from(still.width), i32::try_from(still.height)) else {
        return Ok(None);
    };
    let size = (width as usize, height as usize);
    let odd = size.0 % 2 == 1 || size.1 % 2 == 1;
    let turns = !still.transforms.is_empty();
    // What the container declares rules a file out before it is decoded;
    // what the decoder gives must be the same.
    let (layout, bits) = still.coded;
    if left_to_libvips(layout, bits, odd, turns) || !within_heifloads_limits(still) {
        return Ok(None);
    }
    let ispe = (still.width, still.height);
    let Some(image) = avif_planes::decode(&still.image, ispe)? else {
        return Ok(None);
    };
    // libheif refuses a picture that is not its ispe size.
    if image.size() != size || (image.layout, image.bits) != still.coded {
        return Ok(None);
    }
    let alpha = match &still.alpha {
        Some(coded) => match avif_planes::decode(coded, ispe)? {
            // libheif takes other conversions for an alpha plane of
            // another depth.
            Some(alpha) if alpha.size() == size && alpha.bits == image.bits => Some(alpha),
            _ => return Ok(None),
        },
        None => None,
    };
    let (matrix, full_range) = avif_planes::effective(still.nclx, (image.matrix, image.full_range));
    Ok(
        convert(&image, alpha.as_ref(), matrix, full_range).map(|pixels| Rgb {
            pixels,
            width,
            height,
            bands: if alpha.is_some() { 4 } else { 3 },
        }),
    )
}

/// Whether `still` is well inside what libvips lets libheif decode: at
/// most 16384 x 16384 pixels (`heifload`'s maximum image size), and planes
/// plus RGBA output of at most 1 GiB, half its `max_total_memory`. Larger
/// files go to `heifload`, which decides; we never decode what it would
/// refuse.
fn within_heifloads_limits(still: &avif_items::PlainStill) -> bool {
    const MAX_SIDE: u64 = 16384;
    let pixels = u64::from(still.width) * u64::from(still.height);
    let bytes = if still.coded.1 > 8 { 2 } else { 1 };
    // At most three planes and alpha in, four samples a pixel out.
    pixels <= MAX_SIDE * MAX_SIDE && pixels * bytes * 8 <= 1 << 30
}

/// `image` (and `alpha`) converted to interleaved samples with `matrix`.
fn convert(
    image: &Decoded,
    alpha: Option<&Decoded>,
    matrix: u16,
    full_range: bool,
) -> Option<Samples> {
    let m = Matrix::of(matrix)?;
    Some(if image.bits == 8 {
        let alpha = match alpha {
            Some(a) => Some(a.planes()?),
            None => None,
        };
        Samples::U8(yuv::to_rgb(&image.planes()?, m, full_range, alpha.as_ref()))
    } else {
        let alpha = match alpha {
            Some(a) => Some(a.planes16()?),
            None => None,
        };
        let planes = image.planes16()?;
        let bits = u32::from(image.bits);
        Samples::U16(yuv::to_rgb16(&planes, bits, m, full_range, alpha.as_ref()))
    })
}

/// Whether libheif converts a picture of this layout and depth in a way we
/// do not reproduce: it turns 4:2:0 planes of an odd size, and 4:2:2 ones
/// for most turns, into 4:4:4 (bilinear) before it rotates or mirrors them
/// (even 4:2:0 ones turn as the RGB does), and deep monochrome takes
/// conversions of its own.
fn left_to_libvips(layout: Layout, bits: u8, odd: bool, turns: bool) -> bool {
    let upsampled = match layout {
        Layout::I420 => odd,
        Layout::I422 => true,
        Layout::I444 | Layout::Mono => false,
    };
    (turns && upsampled) || (bits > 8 && layout == Layout::Mono)
}

/// `rgb` rotated and mirrored by `transforms` in order, as libheif turns
/// each plane.
fn turned(rgb: Rgb, transforms: &[Transform]) -> Rgb {
    transforms.iter().fold(rgb, |rgb, t| {
        let (w, h, b) = (rgb.width as usize, rgb.height as usize, rgb.bands as usize);
        let (out_w, out_h) = match t {
            Transform::Rotate(1 | 3) => (h, w),
            _ => (w, h),
        };
        let pixels = match &rgb.pixels {
            Samples::U8(p) => Samples::U8(turn(p, (w, h, b), (out_w, out_h), *t)),
            Samples::U16(p) => Samples::U16(turn(p, (w, h, b), (out_w, out_h), *t)),
        };
        Rgb {
            pixels,
            width: out_w as i32,
            height: out_h as i32,
            bands: rgb.bands,
        }
    })
}

/// `pixels` (`w` x `h`, `b` samples each) as the `out_w` x `out_h` result
/// of one rotation or mirror.
fn turn<T: Copy>(
    pixels: &[T],
    (w, h, b): (usize, usize, usize),
    (out_w, out_h): (usize, usize),
    t: Transform,
) -> Vec<T> {
    let mut out = Vec::with_capacity(pixels.len());
    for y in 0..out_h {
        for x in 0..out_w {
            // The source of output pixel (x, y).
            let (sx, sy) = match t {
                Transform::Rotate(1) => (w - 1 - y, x),
                Transform::Rotate(2) => (w - 1 - x, h - 1 - y),
                Transform::Rotate(_) => (y, h - 1 - x),
                Transform::Mirror { left_right: true } => (w - 1 - x, y),
                Transform::Mirror { left_right: false } => (x, h - 1 - y),
            };
            let from = (sy * w + sx) * b;
            out.extend_from_slice(&pixels[from..from + b]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Against the RGB(A) bytes libvips 8.18.7's `heifload` (libheif
    //! 1.23.5, as npm's `@img/sharp-libvips-linux-x64` 1.3.4 ships it) gives
    //! for the files in `testdata/avif-decoder/`: 257x171 8-bit stills made
    //! by libvips' `heifsave`, some with their `colr` box rewritten (see
    //! that folder's README).
    use super::*;
    use sha2::{Digest, Sha256};

    /// `(file, width, height, bands, SHA-256 of heifload's pixels)`.
    const EXPECTED: [(&str, i32, i32, i32, &str); 28] = [
        (
            "t_rgb",
            257,
            171,
            3,
            "66485ee5c094b191bec6a58a1a855c55017e61f4f4c8f9fbeb38c0ed5c449b19",
        ),
        (
            "t_rgb444",
            257,
            171,
            3,
            "4e71624d96d73e19c1744f8d437db174f049169d846ff2df5b4f99a2de8fe932",
        ),
        (
            "t_rgba",
            257,
            171,
            4,
            "9f14a76382f0b0b6a1fea6fb55093199838ba5c672a261714f79802928b29900",
        ),
        (
            "v222lim",
            257,
            171,
            3,
            "17587a260d9d2dfcc7885677a29ebb834cd57d975dfc629d33852ba5952a29f3",
        ),
        (
            "v709",
            257,
            171,
            3,
            "353dcda6e7a1fa8cb0a7719ebe3bcda404d49ff7ed8384c64fbbe864e7a5373b",
        ),
        (
            "vlim",
            257,
            171,
            3,
            "97b3627cc3c32055271f9c2611c6c8c108cef4130093316e4cfa8cc4818431d0",
        ),
        (
            "vlima",
            257,
            171,
            4,
            "d886c3b6e4316ae6efd36e460335a54d31a0f18fc82702110361a3374ba32a64",
        ),
        (
            "e_rgba_rot90",
            84,
            128,
            4,
            "b10dc8cb4a8597ed71c064828298771ee997bbfd382104dbbf3e56a2b677c2d6",
        ),
        (
            "e_rgb_mir0_rot270",
            84,
            128,
            3,
            "75a8a0c1725f744a26a6841c30d9112c7b794c3a60b6c92a0d8596a01f8f12a9",
        ),
        (
            "e_rgb_rot180_mir1",
            128,
            84,
            3,
            "8b7533a9fd104f767a6fa2bea58064e813b4777c5f1e189b95b1b0f1825050d3",
        ),
        (
            "t_rgb444_rot90_mir1",
            171,
            257,
            3,
            "bc099606955bfec12b7edfaffa2c4c732c704b137d4289e757d980614ed25321",
        ),
        (
            "d10_rgb",
            129,
            85,
            3,
            "a99a83a442c18aa90da5f5694b5f465250667c1f7d6e31256d09e495de3c8b31",
        ),
        (
            "d10_rgba",
            128,
            84,
            4,
            "cdac6c156c3762913b2514d5e4a424900cffc7f78841d09f133f4a60ffad6f99",
        ),
        (
            "d10_444",
            129,
            85,
            3,
            "c2e04dc0bdccafbfac66cda000849ef2667f35144a95fd7c146b6cb63fce4ec3",
        ),
        (
            "d12_rgba",
            129,
            85,
            4,
            "f67a5e661d9ef06daae19b0f01e82393b9c223fd16f36cf49fb299ab6b7bd6aa",
        ),
        (
            "d10_rgba_mir1",
            128,
            84,
            4,
            "3ffaac3e24260b96943e20c5f72101b0ca2f795dd35e0de8177aab00490198e6",
        ),
        (
            "s422",
            257,
            171,
            3,
            "81197d82451be971fe1dbcfd132d9ffc49e8b707be5714451a262213f1e4d235",
        ),
        (
            "s422a",
            257,
            171,
            4,
            "1237d93e9cdf7e4050dd022aa3ee39d3a4ce5dcbe246c116ccb5b0dd2419581d",
        ),
        (
            "g_rgb",
            255,
            171,
            3,
            "04f5bff91dbb6a10ccf5614c76de5d5402b16538ee86f1d10e4d652c160644cb",
        ),
        (
            "g_rgb_tilecolr",
            255,
            171,
            3,
            "04f5bff91dbb6a10ccf5614c76de5d5402b16538ee86f1d10e4d652c160644cb",
        ),
        (
            "g_rgb_even",
            256,
            170,
            3,
            "4f26818107e366f3b84259b663b8ea01d2872e36e2010797088bd1cabb4996ae",
        ),
        (
            "g_rgb_colr709",
            256,
            170,
            3,
            "040e6ed5cf39c323da328eeba28cc814d0d353eb33923c8501eeafac94949c19",
        ),
        (
            "g_rgba",
            256,
            170,
            4,
            "cd0c731fd28e34d567cd6ad9e9ea17b1d727efdbc69d604084227f3d5dbceea6",
        ),
        (
            "g_444",
            257,
            171,
            3,
            "664809fdce0d61fdbd85f25f76d7003017a40b1c293078968243a85bd9ad7c27",
        ),
        (
            "g10_rgb",
            256,
            170,
            3,
            "0d194aa1c818dfa8a15f38d43749f0b2b019832e02e7b59a745c64d52d05008c",
        ),
        (
            "g_rgb_rot90",
            170,
            256,
            3,
            "95ab7a520edf3ef2f2f3e0722f802551526df82fe88d153e6ac6a6702f380416",
        ),
        (
            "i_rgb444",
            257,
            171,
            3,
            "881fcb08f67d26d8468df59decdc752c9586289c014d194d7be3b60d2401696e",
        ),
        (
            "i_d10_444lim",
            129,
            85,
            3,
            "e590058889d1377ca4f56e97898f7e7abf388dbce81d87c614a2488c71895b87",
        ),
    ];

    fn read(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../testdata/avif-decoder/{name}.avif",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn decodes_to_heifloads_bytes() {
        for (name, width, height, bands, sha) in EXPECTED {
            let rgb = decode(&read(name)).unwrap_or_else(|| panic!("{name}: not decoded"));
            assert_eq!(
                (rgb.width, rgb.height, rgb.bands),
                (width, height, bands),
                "{name}"
            );
            let got = format!("{:x}", Sha256::digest(rgb.pixels.to_ne_bytes()));
            assert_eq!(got, sha, "{name}: pixels differ from heifload's");
        }
    }

    /// `heifload`'s pixels for `data` from the libvips this test links.
    #[cfg(imagor_prebuilt_vips)]
    fn heifload(data: &[u8]) -> Vec<u8> {
        use crate::vips::{Arg, Blob, Call};
        Call::new("heifload_buffer")
            .arg("buffer", Arg::Blob(&Blob::copy_from(data)))
            .run()
            .and_then(|o| o.out())
            .and_then(|img| img.write_to_memory())
            .unwrap()
    }

    /// `data` with its `nclx` colour box set to `(cp, tc, mc, full)`, if
    /// it has one.
    #[cfg(imagor_prebuilt_vips)]
    fn with_nclx(data: &[u8], (cp, tc, mc, full): (u16, u16, u16, bool)) -> Option<Vec<u8>> {
        let at = data.windows(8).position(|w| w == b"colrnclx")? + 8;
        let mut out = data.to_vec();
        out[at..at + 2].copy_from_slice(&cp.to_be_bytes());
        out[at + 2..at + 4].copy_from_slice(&tc.to_be_bytes());
        out[at + 4..at + 6].copy_from_slice(&mc.to_be_bytes());
        out[at + 6] = if full { 0x80 } else { 0 };
        Some(out)
    }

    /// Only against the bundled libvips (libheif 1.23): an older libheif
    /// converts some pixels differently (libheif 1.15 in Debian's 8.14).
    /// Each file as it is and with every matrix we convert (the identity
    /// too, on 4:2:0 as well as 4:4:4), both ranges,
    /// and the "undefined" colour box that leaves the bitstream's.
    #[test]
    #[cfg(imagor_prebuilt_vips)]
    fn decodes_as_the_linked_heifload() {
        crate::vips::init().unwrap();
        let mut variants = vec![(2, 2, 2, true)];
        for mc in [0, 1, 2, 3, 4, 5, 6, 7, 9, 10] {
            variants.push((1, 13, mc, true));
            variants.push((9, 16, mc, false));
        }
        for (name, ..) in EXPECTED {
            let file = read(name);
            let mut cases = vec![file.clone()];
            cases.extend(variants.iter().filter_map(|&v| with_nclx(&file, v)));
            for (i, data) in cases.iter().enumerate() {
                let ours = decode(data).unwrap_or_else(|| panic!("{name} #{i}: not decoded"));
                let theirs = heifload(data);
                let ours = ours.pixels.to_ne_bytes();
                let differ = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
                assert_eq!((ours.len(), differ), (theirs.len(), 0), "{name} #{i}");
            }
        }
    }

    #[test]
    fn an_unknown_property_leaves_the_file_to_libvips() {
        // vnocolr.avif: t_rgb.avif with its colour box renamed `free`.
        assert!(decode(&read("vnocolr")).is_none());
    }

    /// libheif refuses a grid whose tiles differ in size, or that
    /// references fewer tiles than it has cells: so does our reader.
    #[test]
    fn malformed_grids_are_left_to_libvips() {
        assert!(avif_items::plain_still(&read("g_uneven")).is_none());
        assert!(avif_items::plain_still(&read("g_short")).is_none());
        assert!(avif_items::plain_still(&read("g_rgb")).is_some());
    }

    /// libheif turns an odd-sized 4:2:0 image, and a 4:2:2 one, to 4:4:4
    /// before rotating it, and an alpha plane that does not turn with its
    /// image is scaled to fit: these stay with libvips.
    #[test]
    fn transforms_we_do_not_reproduce_leave_the_file_to_libvips() {
        assert!(decode(&read("t_rgb_rot90")).is_none());
        assert!(decode(&read("e_rgba_rot90_primary")).is_none());
        assert!(decode(&read("s422_rot90")).is_none());
    }

    #[test]
    fn the_containers_av1c_gives_layout_and_depth_before_decoding() {
        let coded = |name| avif_items::plain_still(&read(name)).unwrap().coded;
        assert_eq!(coded("t_rgb"), (Layout::I420, 8));
        assert_eq!(coded("t_rgb444"), (Layout::I444, 8));
        assert_eq!(coded("s422"), (Layout::I422, 8));
        assert_eq!(coded("d10_444"), (Layout::I444, 10));
        assert_eq!(coded("d12_rgba"), (Layout::I420, 12));
        assert_eq!(coded("g10_rgb"), (Layout::I420, 10));
    }

    #[test]
    fn transforms_turn_the_pixels_as_libheif_does() {
        let plain = |name| decode(&read(name)).unwrap();
        let at = |rgb: &Rgb, x: i32, y: i32| {
            let i = ((y * rgb.width + x) * rgb.bands) as usize;
            rgb.pixels.to_ne_bytes()[i..i + rgb.bands as usize].to_vec()
        };
        // t_rgb444 (257x171) turned a quarter counter-clockwise, which
        // takes source (x, y) to (y, 256 - x), then flipped left to right:
        // to (170 - y, 256 - x).
        let (src, out) = (plain("t_rgb444"), plain("t_rgb444_rot90_mir1"));
        for (x, y) in [(0, 0), (256, 0), (0, 170), (100, 57), (256, 170)] {
            assert_eq!(at(&src, x, y), at(&out, 170 - y, 256 - x), "({x}, {y})");
        }
    }

    /// Damaged boxes and bitstreams (one byte changed, everywhere in the
    /// file) decode or are refused, and never panic or overrun.
    #[test]
    fn single_byte_damage_never_panics() {
        for name in ["t_rgba", "t_rgb444"] {
            let file = read(name);
            for i in 0..file.len().min(800) {
                let mut data = file.clone();
                let at = (i * 7919) % data.len();
                data[at] = data[at].wrapping_add(1 + (i % 255) as u8);
                if let Some(rgb) = decode(&data) {
                    let size = (rgb.width * rgb.height * rgb.bands) as usize;
                    assert_eq!(rgb.pixels.len(), size, "{name} byte {at}");
                }
            }
        }
    }

    #[test]
    fn a_damaged_file_is_left_to_libvips() {
        let data = read("t_rgba");
        for cut in [0, 8, 100, 400, data.len() / 2, data.len() - 1] {
            assert!(decode(&data[..cut]).is_none(), "cut at {cut}");
        }
    }
}
