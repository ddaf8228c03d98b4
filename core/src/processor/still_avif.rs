//! Thumbnails of plain still AVIFs ([`super::avif_items`]) decoded by
//! dav1d ([`crate::vips::av1`]) and converted to RGB(A) as libheif does
//! ([`super::yuv`]), with the header's metadata, then `thumbnail_image`:
//! the pixels libvips' `thumbnail_buffer` makes through `heifload`, which
//! has no shrink-on-load for AVIF. Anything else returns `None` and stays
//! with libvips.

use super::avif_items::{self, Transform};
use super::avif_planes::{self, Decoded};
use super::avif_turns::{self, Sample};
use super::decode::ThumbnailCall;
use super::yuv::{self, Form, Layout, Matrix, Planes};
use crate::error::Result;
use crate::vips::Image;

/// A plain still AVIF whose container passes every check made before
/// decoding: the files our path may take ([`eligible`]).
pub(super) struct Eligible {
    still: avif_items::PlainStill,
    /// What its rotations, mirrors and crops do.
    plan: avif_turns::Plan,
}

/// `data` if it is a plain still AVIF that our path may decode, from its
/// boxes alone; `None` to leave it to libvips.
pub(super) fn eligible(data: &[u8]) -> Option<Eligible> {
    let still = avif_items::plain_still(data)?;
    let size = (
        usize::try_from(still.width).ok()?,
        usize::try_from(still.height).ok()?,
    );
    // What the container declares rules a file out before it is decoded;
    // what the decoder gives must be the same.
    let layout = still.coded.0;
    if !within_heifloads_limits(&still) {
        return None;
    }
    // What the steps make must be the size libheif declares (libvips
    // refuses anything else).
    let turns = &still.transforms;
    let plan = avif_turns::plan(layout, size, turns)?;
    (avif_turns::declared_size(size, turns) == Some(plan.size)).then_some(Eligible { still, plan })
}

/// The thumbnail of an eligible AVIF, or `None` to leave it to libvips
/// after all (dav1d refuses it, or what it decodes is not what the boxes
/// declare). `fields` carries the header's metadata
/// ([`Image::fields_carrier`]).
pub(super) fn thumbnail(
    file: &Eligible,
    fields: &Image,
    t: &ThumbnailCall,
) -> Result<Option<Image>> {
    let Some(Rgb {
        pixels,
        width,
        height,
        bands,
    }) = decode_still(file)?
    else {
        return Ok(None);
    };
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
    decode_still(&eligible(data)?).ok()?
}

/// The RGB(A) libheif would give for `file`, rotated, mirrored and
/// cropped as it says; `None` to leave it to libvips.
fn decode_still(file: &Eligible) -> Result<Option<Rgb>> {
    let (still, plan) = (&file.still, file.plan);
    let ispe = (still.width, still.height);
    let size = (ispe.0 as usize, ispe.1 as usize);
    let turns = &still.transforms;
    let Some(image) = avif_planes::decode(&still.image, ispe)? else {
        return Ok(None);
    };
    // libheif refuses a picture that is not its ispe size.
    if image.size() != size {
        return Ok(None);
    }
    if (image.layout, image.bits) != still.coded {
        // libheif decodes what the stream says: charge what that holds
        // beyond what `av1C` declared, then leave the file to it.
        let holds = |(layout, bits): (Layout, u8)| {
            let sample = if bits > 8 { 2 } else { 1 };
            super::decode_cost::heif_bytes_per_sample_byte(Some(layout), still.alpha.is_some())
                * sample
        };
        let extra = holds((image.layout, image.bits)).saturating_sub(holds(still.coded));
        let pixels = u64::from(ispe.0) * u64::from(ispe.1);
        crate::budget::current().charge_memory(
            "decoding the AVIF image as its stream says, not its av1C box",
            pixels * extra,
        )?;
        return Ok(None);
    }
    let (alpha, adjusted) = match &still.alpha {
        Some(coded) => match avif_planes::decode(coded, ispe)? {
            Some(alpha) if alpha.size() == size && alpha.bits == image.bits => (Some(alpha), false),
            // libheif brings an alpha plane of another depth to the
            // image's (for monochrome, untested: left to libvips).
            Some(alpha) if alpha.size() == size && image.layout != Layout::Mono => {
                let bytes = (size.0 * size.1 * if image.bits > 8 { 2 } else { 1 }) as u64;
                crate::budget::current()
                    .charge_memory("bringing the AVIF alpha plane to the image's depth", bytes)?;
                match alpha.alpha_at_depth(image.bits) {
                    Some(alpha) => (Some(alpha), true),
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        },
        None => (None, false),
    };
    let colour = (image.matrix, image.full_range, image.primaries);
    let (mut matrix, full_range, mut primaries) = avif_planes::effective(still.nclx, colour);
    // libheif's 4:2:0 ops (full range only at 8 bits) need the alpha at
    // the image's depth, so there the alpha step runs first; its output
    // takes the colour description with unspecified values made sRGB's
    // (BT.601 matrix, BT.709 primaries), which the conversion then reads.
    // Elsewhere the conversion runs first, on the file's description.
    // (Turns that upsample leave 4:4:4.)
    let fast_420 = image.layout == Layout::I420
        && !plan.upsamples
        && !matches!(matrix, 0 | 8 | 11 | 14)
        && (image.bits > 8 || full_range);
    if adjusted && fast_420 {
        (matrix, primaries) = (unspecified_as(matrix, 6), unspecified_as(primaries, 1));
    }
    let Some(m) = Matrix::with_primaries(matrix, primaries) else {
        return Ok(None);
    };
    // libheif converts deeper YCgCo some other way, not yet reproduced.
    if image.bits > 8 && matches!(m.form, Form::YCgCo | Form::YCgCoRe) {
        return Ok(None);
    }
    // AV1 forbids the identity matrix with subsampled chroma: the bundle's
    // libaom refuses such a bitstream, which dav1d decodes. And libheif's
    // 4:4:4 upsampling refuses to run on planes it holds as identity (a
    // grid's tiles' `colr` may say so), taking a route we do not reproduce.
    let subsampled = |d: &Decoded| matches!(d.layout, Layout::I420 | Layout::I422);
    let refused = |d: &Decoded| subsampled(d) && d.coded_identity;
    if refused(&image)
        || alpha.as_ref().is_some_and(refused)
        || (plan.upsamples && image.matrix == 0)
    {
        return Ok(None);
    }
    if !turns.is_empty() {
        // The decode itself is charged as heifload's; turning copies the
        // planes, chroma at full size at most.
        let depth = if image.bits > 8 { 2 } else { 1 };
        let planes = if alpha.is_some() { 4 } else { 3 };
        let bytes = u64::from(ispe.0) * u64::from(ispe.1) * planes * depth;
        crate::budget::current().charge_memory("turning the decoded AVIF image", bytes)?;
    }
    let Some(pixels) = convert(&image, alpha.as_ref(), turns, m, full_range)? else {
        return Ok(None);
    };
    Ok(Some(Rgb {
        pixels,
        width: plan.size.0 as i32,
        height: plan.size.1 as i32,
        bands: if alpha.is_some() { 4 } else { 3 },
    }))
}

/// `convert` applied to `image` and `alpha` (its luma) turned and cropped
/// by `transforms` as libheif does it to planes, or as they are when there
/// are none.
fn with_turns<T: Sample, R>(
    image: Planes<'_, T>,
    alpha: Option<Planes<'_, T>>,
    transforms: &[Transform],
    convert: impl FnOnce(&Planes<'_, T>, Option<&Planes<'_, T>>) -> R,
) -> Result<Option<R>> {
    if transforms.is_empty() {
        return Ok(Some(convert(&image, alpha.as_ref())));
    }
    let Some(image) = avif_turns::turn(&image, transforms)? else {
        return Ok(None);
    };
    let alpha = match alpha {
        Some(a) => {
            let luma = Planes {
                layout: Layout::Mono,
                ..a
            };
            match avif_turns::turn(&luma, transforms)? {
                Some(turned) => Some(turned),
                None => return Ok(None),
            }
        }
        None => None,
    };
    let alpha = alpha.as_ref().map(|a| a.planes());
    Ok(Some(convert(&image.planes(), alpha.as_ref())))
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

/// `image` (and `alpha`) turned by `transforms` and converted to
/// interleaved samples with `m`; `None` where the planes are not of the
/// image's depth or a step is refused.
fn convert(
    image: &Decoded,
    alpha: Option<&Decoded>,
    transforms: &[Transform],
    m: Matrix,
    full_range: bool,
) -> Result<Option<Samples>> {
    if image.bits == 8 {
        let (Some(planes), Some(alpha)) = (image.planes(), depth_alike(alpha, |a| a.planes()))
        else {
            return Ok(None);
        };
        with_turns(planes, alpha, transforms, |p, a| {
            Samples::U8(yuv::to_rgb(p, m, full_range, a))
        })
    } else {
        let (Some(planes), Some(alpha)) = (image.planes16(), depth_alike(alpha, |a| a.planes16()))
        else {
            return Ok(None);
        };
        let bits = u32::from(image.bits);
        with_turns(planes, alpha, transforms, |p, a| {
            Samples::U16(yuv::to_rgb16(p, bits, m, full_range, a))
        })
    }
}

/// `value`, or `default` where it is 2 (unspecified), as libheif fills in
/// a colour description between conversion steps.
fn unspecified_as(value: u16, default: u16) -> u16 {
    if value == 2 {
        default
    } else {
        value
    }
}

/// `Some(None)` without alpha, `Some(Some(planes))` when `alpha` has
/// planes of the wanted depth, `None` when it has not.
fn depth_alike<'a, T>(
    alpha: Option<&'a Decoded>,
    planes: impl Fn(&'a Decoded) -> Option<Planes<'a, T>>,
) -> Option<Option<Planes<'a, T>>> {
    match alpha {
        Some(a) => planes(a).map(Some),
        None => Some(None),
    }
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

    /// `(file, width, height, bands, SHA-256 of heifload's pixels)`, from
    /// `testdata/avif-decoder/heifload-8.18.7.txt`.
    fn expected() -> Vec<(String, i32, i32, i32, String)> {
        let path = format!(
            "{}/../testdata/avif-decoder/heifload-8.18.7.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let rows: Vec<_> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let n = |i: usize| f[i].parse::<i32>().unwrap();
                (f[0].to_string(), n(1), n(2), n(3), f[4].to_string())
            })
            .collect();
        assert!(rows.len() >= 81, "{path}: {} rows", rows.len());
        rows
    }

    fn read(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../testdata/avif-decoder/{name}.avif",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn decodes_to_heifloads_bytes() {
        for (name, width, height, bands, sha) in expected() {
            let rgb = decode(&read(&name)).unwrap_or_else(|| panic!("{name}: not decoded"));
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
    /// too, on 4:2:0 as well as 4:4:4; YCgCo and YCgCo-Re at 8 bits; the
    /// chromaticity-derived ones with each set of primaries), both ranges,
    /// and the "undefined" colour box that leaves the bitstream's.
    #[test]
    #[cfg(imagor_prebuilt_vips)]
    fn decodes_as_the_linked_heifload() {
        crate::vips::init().unwrap();
        let mut variants = vec![(2, 2, 2, true)];
        for mc in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16] {
            variants.push((1, 13, mc, true));
            variants.push((9, 16, mc, false));
        }
        // Chromaticity-derived: Kr and Kb from every set of primaries
        // libheif knows, and one it does not (2, BT.601's constants).
        for cp in [1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 22] {
            variants.push((cp, 13, 12, true));
        }
        for cp in [1, 9, 22] {
            variants.push((cp, 16, 13, false));
        }
        for (name, ..) in expected() {
            let file = read(&name);
            let deep = avif_items::plain_still(&file).unwrap().coded.1 > 8;
            let mut cases = vec![(None, file.clone())];
            cases.extend(
                variants
                    .iter()
                    .filter_map(|&v| Some((Some(v.2), with_nclx(&file, v)?))),
            );
            for (i, (matrix, data)) in cases.iter().enumerate() {
                let Some(ours) = decode(data) else {
                    // Deeper YCgCo stays with libvips (unless a later colour
                    // box, which the variant leaves, overrides it).
                    assert!(
                        deep && matches!(matrix, Some(8 | 16)),
                        "{name} #{i}: not decoded"
                    );
                    continue;
                };
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

    /// An alpha plane that does not turn with its image is scaled to fit
    /// by libvips, and a crop whose pixels are not the size libheif
    /// declares for it is refused there: such files stay with libvips.
    #[test]
    fn transforms_libvips_treats_otherwise_leave_the_file_to_libvips() {
        assert!(decode(&read("e_rgba_rot90_primary")).is_none());
        // A 300x120 crop of a 257x171 image keeps 257x120.
        assert!(decode(&read("c_rgb_big")).is_none());
    }

    /// Each transform is a pass over the image, and `ipma` may repeat
    /// them: an item with more than 32 properties stays with libvips.
    #[test]
    fn an_item_with_too_many_properties_is_left_to_libvips() {
        // t_rgb with 30 half turns added to its 4 properties.
        assert!(avif_items::plain_still(&read("x_many_props")).is_none());
        assert!(avif_items::plain_still(&read("t_rgb")).is_some());
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
