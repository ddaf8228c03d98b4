//! Shrink-on-load thumbnails of JPEG images through our own libjpeg
//! ([`crate::vips::jpeg`], feature `own-jpeg`), with the pixels libvips'
//! `thumbnail_buffer` makes: the same DCT scale (libvips' rule, or sharp's
//! under `fast_shrink_on_load`), the same decode, the header's metadata,
//! then `thumbnail_image`, which does what `thumbnail_buffer` does after
//! its load.

use super::decode::{load_error, ThumbnailCall};
use crate::error::Result;
use crate::format::ImageFormat;
use crate::vips::jpeg::{self, Window};
use crate::vips::{Extend, Image, Interesting, Size};

/// The DCT scale libvips' thumbnail loads a JPEG with: a factor of two or
/// more is left for the resize after the load.
pub(super) fn libvips_shrink(header: &Image, t: &ThumbnailCall) -> i32 {
    let shrink = t.common_shrink(header);
    [(16.0, 8), (8.0, 4), (4.0, 2)]
        .into_iter()
        .find(|(at_least, _)| shrink >= *at_least)
        .map_or(1, |(_, factor)| factor)
}

/// The part of a `width` x `height` decoded image that `t`'s thumbnail
/// reads when it crops a fixed part of the resized image (centre, top or
/// left, bottom or right): the crop scaled back, widened by what the
/// resize reads around it (a lanczos3 kernel reaches three shrinks each
/// side; four, and 32 pixels more for the rounding of the resized size and
/// of the crop's offset), its left edge moved to a multiple of 32. `None`
/// where it may read all of it: no crop, a crop that looks at the pixels
/// (attention, entropy), an image that does not shrink or that EXIF turns
/// or flips, or a part that is nearly all.
fn read_window(t: &ThumbnailCall, width: i32, height: i32, orientation: i32) -> Option<Window> {
    if t.size == Size::Force || !matches!(orientation, 0 | 1) {
        return None;
    }
    let shrink = t.common_shrink_of(width, height, false);
    if shrink.is_nan() || shrink <= 1.0 {
        return None;
    }
    let (resized_width, resized_height) = (f64::from(width) / shrink, f64::from(height) / shrink);
    let crop_width = f64::from(t.width.max(1)).min(resized_width);
    let crop_height = f64::from(t.height.max(1)).min(resized_height);
    let (left, top) = match t.crop {
        Interesting::Low => (0.0, 0.0),
        Interesting::High => (resized_width - crop_width, resized_height - crop_height),
        Interesting::Centre => (
            (resized_width - crop_width) / 2.0,
            (resized_height - crop_height) / 2.0,
        ),
        _ => return None,
    };
    let margin = 4.0 * shrink.ceil() + 32.0;
    let span = |start: f64, length: f64, limit: i32| {
        let from = (start * shrink - margin).floor().max(0.0) as i32;
        let to = ((start + length) * shrink + margin)
            .ceil()
            .min(f64::from(limit)) as i32;
        (from, to - from)
    };
    let (x, window_width) = span(left, crop_width, width);
    // From a multiple of 32 columns, a block boundary at every subsampling
    // and DCT scale but 3:1: libjpeg then writes its rows in place.
    let (x, window_width) = (x / 32 * 32, window_width + x % 32);
    let (y, window_height) = span(top, crop_height, height);
    let read = i64::from(window_width) * i64::from(window_height);
    let all = i64::from(width) * i64::from(height);
    (window_width >= 1 && window_height >= 1 && read * 20 < all * 19).then_some(Window {
        x,
        y,
        width: window_width,
        height: window_height,
    })
}

/// Decoded pixels this path holds at most: past them, and past what the
/// call may hold ([`crate::budget::Budget::room_to_hold`]: the rest is for
/// the steps after the load), libvips' loader decodes instead, streaming
/// rows into the resize.
const MAX_DECODED_BYTES: u64 = 512 << 20;

/// The thumbnail of a JPEG decoded at `1/shrink`, or `None` where libvips
/// decodes it (CMYK, 12-bit, a header libjpeg refuses, pixels too large to
/// hold). `fields` carries the header's metadata
/// ([`Image::fields_carrier`]). The decoded pixels are charged to the
/// call's memory. `Err`: the deadline passed, or the file is corrupt
/// (libvips' load fails on it too: the same typed error).
pub(super) fn thumbnail(
    data: &[u8],
    shrink: i32,
    unlimited: bool,
    fields: &Image,
    t: &ThumbnailCall,
) -> Result<Option<Image>> {
    let Some(header) = jpeg::header(data, shrink) else {
        return Ok(None);
    };
    if !every_coefficient_coded(data) {
        return Ok(None);
    }
    let budget = crate::budget::current();
    let room = budget.room_to_hold().unwrap_or(MAX_DECODED_BYTES);
    if header.bytes() > room.min(MAX_DECODED_BYTES) {
        return Ok(None);
    }
    budget.charge_memory(
        &format!(
            "decoding the jpeg image to memory ({}x{})",
            header.width, header.height
        ),
        header.bytes(),
    )?;
    let window = read_window(t, header.width, header.height, fields.orientation());
    let (still, _warnings) = jpeg::decode(data, shrink, unlimited, header, window)
        .map_err(|e| load_error(e, Some(ImageFormat::Jpeg)))?;
    let Some(window) = window else {
        return Ok(Some(t.of_pixels(still, fields)?));
    };
    // The window where it lies in the image, the rest black (never read).
    let placed = Image::from_pixels(still.pixels, still.width, still.height, still.bands)?.embed(
        window.x,
        window.y,
        header.width,
        header.height,
        Extend::Black,
        None,
    )?;
    Ok(Some(t.of_image(placed, fields)?))
}

/// Whether the scans of `data` code every DCT coefficient of every
/// component down to its last bit, as every file an encoder writes does. A
/// progressive file whose scans leave some out (DC only, say: valid, and
/// not truncated) is decoded with libjpeg's block smoothing of the missing
/// coefficients, which libjpeg-turbo 2.1 changed: our mozjpeg and the
/// libjpeg libvips is built with then give different pixels, so libvips
/// decodes it. Sequential files code all of them in each scan, so only a
/// progressive file's segments are walked past its frame header.
fn every_coefficient_coded(data: &[u8]) -> bool {
    let mut ids: Vec<u8> = Vec::new();
    let mut coded: Vec<u64> = Vec::new();
    let mut progressive = false;
    for segment in crate::probe::jpeg_segments(data) {
        let body = &data[segment.body];
        match segment.marker {
            0xC0..=0xCF if !matches!(segment.marker, 0xC4 | 0xC8 | 0xCC) => {
                progressive = matches!(segment.marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                if !progressive {
                    // libjpeg refuses a second frame header: the first
                    // decides, and the scan data need not be walked.
                    return true;
                }
                let n = body.get(5).map_or(0, |n| usize::from(*n));
                ids = body
                    .get(6..)
                    .unwrap_or_default()
                    .chunks_exact(3)
                    .take(n)
                    .map(|c| c[0])
                    .collect();
                coded = vec![0; ids.len()];
            }
            0xDA if progressive => {
                let n = body.first().map_or(0, |n| usize::from(*n));
                let (Some(&ss), Some(&se), Some(&ahal)) = (
                    body.get(1 + 2 * n),
                    body.get(2 + 2 * n),
                    body.get(3 + 2 * n),
                ) else {
                    continue;
                };
                if ahal & 0x0F != 0 || ss > se || se > 63 {
                    continue;
                }
                let bits = (u64::MAX >> (63 - se)) & (u64::MAX << ss);
                for k in 0..n {
                    let id = body[1 + 2 * k];
                    if let Some(c) = ids.iter().position(|i| *i == id) {
                        coded[c] |= bits;
                    }
                }
            }
            _ => {}
        }
    }
    !progressive || coded.iter().all(|c| *c == u64::MAX)
}

#[cfg(test)]
mod tests {
    //! The fast path against libvips' own `thumbnail_buffer`, pixel for
    //! pixel: baseline and progressive, 4:4:4, 4:2:2, 4:2:0 and grey,
    //! restart markers, EXIF-rotated, sizes libjpeg's DCT scaling rounds,
    //! every scale libvips picks and every resize mode.
    use super::*;
    use crate::processor::decode::{call_loader, thumbnail_of, Encoded, LoadOpts};
    use crate::processor::test_images::{
        assert_same_pixels, libvips_thumbnail_and_header, pixels, save, testdata,
    };
    use crate::vips::{Arg, Blob, Interesting, Interpretation, Size};

    fn source(path: &str) -> Image {
        testdata(path, "jpegload_buffer")
    }

    /// `img` (w x h of it, resized to exactly that) saved as JPEG with
    /// libvips' `jpegsave` options `args`.
    fn jpeg(img: &Image, w: i32, h: i32, args: &[(&str, Arg)]) -> Vec<u8> {
        let sized = img
            .thumbnail_image(w, h, Size::Force, Interesting::None)
            .unwrap();
        save(&sized, "jpegsave_buffer", args)
    }

    /// libvips' thumbnail and ours for one source and target (`None`:
    /// ours left it to libvips).
    fn both(data: &[u8], t: &ThumbnailCall) -> (Image, Option<Image>) {
        let (reference, header) =
            libvips_thumbnail_and_header(data, "jpegload_buffer", ImageFormat::Jpeg, t);
        let fields = header.fields_carrier().unwrap();
        let shrink = libvips_shrink(&header, t);
        drop(header);
        (
            reference,
            thumbnail(data, shrink, false, &fields, t).unwrap(),
        )
    }

    #[test]
    fn same_pixels_as_libvips_thumbnail() {
        let photo = source("demo1.jpg");
        let grey = photo.colourspace(Interpretation::B_W).unwrap();
        let turned = photo.with_meta(|m| m.set_int("orientation", 6)).unwrap();
        let q = |q: i64| ("Q", Arg::Int(q));
        let sources = [
            ("4:4:4", jpeg(&photo, 1603, 1001, &[q(95)])),
            ("4:2:0", jpeg(&photo, 1603, 1001, &[q(75)])),
            (
                "4:2:0 progressive",
                jpeg(&photo, 1199, 803, &[q(80), ("interlace", Arg::Bool(true))]),
            ),
            (
                "restart markers",
                jpeg(
                    &photo,
                    1001,
                    1003,
                    &[q(70), ("restart_interval", Arg::Int(3))],
                ),
            ),
            ("grey", jpeg(&grey, 1301, 977, &[q(85)])),
            ("exif orientation 6", jpeg(&turned, 1203, 901, &[q(80)])),
        ];
        let modes = [
            (Size::Both, Interesting::None),
            (Size::Down, Interesting::Centre),
            (Size::Force, Interesting::None),
            (Size::Up, Interesting::None),
            (Size::Both, Interesting::Attention),
        ];
        let mut compared = 0;
        let mut scales = std::collections::BTreeSet::new();
        for (name, data) in &sources {
            // Shrinks of about 1.5, 4, 9 and 20: every DCT scale.
            for (width, height) in [(800, 600), (250, 250), (100, 170), (50, 37), (2000, 2000)] {
                for (size, crop) in modes {
                    let t = ThumbnailCall {
                        width,
                        height,
                        crop,
                        size,
                    };
                    let (reference, ours) = both(data, &t);
                    let ours = ours.unwrap_or_else(|| panic!("{name}: left to libvips"));
                    assert_same_pixels(
                        &reference,
                        &ours,
                        &format!("{name} {width}x{height} {size:?}/{crop:?}"),
                    );
                    assert_eq!(reference.orientation(), ours.orientation(), "{name}");
                    assert_eq!(reference.interpretation(), ours.interpretation(), "{name}");
                    scales.insert(libvips_shrink(&source_header(data), &t));
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 6 * 5 * 5);
        assert_eq!(scales.into_iter().collect::<Vec<_>>(), [1, 2, 4, 8]);
    }

    /// Crops of a fixed part (centre, low, high) decode only the window
    /// the resize reads, columns and rows, and give libvips' pixels: wide
    /// and tall sources, 4:2:0 (whose upsampling reads the rows and
    /// columns beside each one), progressive, restart markers, grey, at
    /// every DCT scale.
    #[test]
    fn a_fixed_crop_decodes_its_window_to_libvips_pixels() {
        let photo = source("demo1.jpg");
        let grey = photo.colourspace(Interpretation::B_W).unwrap();
        let q = |q: i64| ("Q", Arg::Int(q));
        let progressive = ("interlace", Arg::Bool(true));
        let sources = [
            ("wide 4:4:4", jpeg(&photo, 1603, 1001, &[q(95)])),
            ("tall 4:2:0", jpeg(&photo, 803, 1297, &[q(75)])),
            (
                "tall 4:2:0 progressive",
                jpeg(&photo, 777, 1401, &[q(80), progressive]),
            ),
            (
                "wide restart markers",
                jpeg(&photo, 1501, 703, &[("restart_interval", Arg::Int(2))]),
            ),
            ("tall grey", jpeg(&grey, 601, 1333, &[q(85)])),
        ];
        let (mut compared, mut windows) = (0, 0);
        let mut scales = std::collections::BTreeSet::new();
        for (name, data) in &sources {
            let header = source_header(data);
            for (width, height) in [(250, 250), (300, 90), (90, 300), (512, 512), (40, 40)] {
                for crop in [Interesting::Centre, Interesting::Low, Interesting::High] {
                    for size in [Size::Both, Size::Down] {
                        let t = ThumbnailCall {
                            width,
                            height,
                            crop,
                            size,
                        };
                        let shrink = libvips_shrink(&header, &t);
                        let decoded = jpeg::header(data, shrink).unwrap();
                        if read_window(&t, decoded.width, decoded.height, 1).is_some() {
                            windows += 1;
                        }
                        let (reference, ours) = both(data, &t);
                        let ours = ours.unwrap_or_else(|| panic!("{name}: left to libvips"));
                        assert_same_pixels(
                            &reference,
                            &ours,
                            &format!("{name} {width}x{height} {size:?}/{crop:?}"),
                        );
                        scales.insert(shrink);
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 5 * 5 * 3 * 2);
        assert!(windows * 10 > compared * 9, "{windows} of {compared}");
        assert_eq!(scales.into_iter().collect::<Vec<_>>(), [1, 2, 4, 8]);
    }

    #[test]
    fn no_window_where_the_resize_may_read_everything() {
        let t = |crop, size| ThumbnailCall {
            width: 512,
            height: 512,
            crop,
            size,
        };
        let cover = t(Interesting::Centre, Size::Both);
        let window = read_window(&cover, 3000, 2000, 1).unwrap();
        assert_eq!((window.y, window.height), (0, 2000));
        assert!(window.x > 400 && window.width < 2200, "{window:?}");
        // About the centre, from a multiple of 32 columns.
        assert_eq!(window.x % 32, 0);
        assert!((3000 - window.x - window.width).abs_diff(window.x) < 32);
        for (call, orientation) in [
            (t(Interesting::None, Size::Both), 1),
            (t(Interesting::Attention, Size::Both), 1),
            (t(Interesting::Entropy, Size::Both), 1),
            (t(Interesting::Centre, Size::Force), 1),
            (cover, 6),
            (cover, 2),
        ] {
            assert_eq!(read_window(&call, 3000, 2000, orientation), None);
        }
        // Growing, or a crop of nearly all of it.
        assert_eq!(read_window(&cover, 400, 300, 1), None);
        assert_eq!(read_window(&cover, 540, 512, 1), None);
    }

    fn source_header(data: &[u8]) -> Image {
        call_loader(
            "jpegload_buffer",
            Encoded::Blob(&Blob::copy_from(data)),
            Some(ImageFormat::Jpeg),
            LoadOpts {
                n: 1,
                ..LoadOpts::default()
            },
        )
        .unwrap()
    }

    /// A truncated baseline file decodes to libvips' pixels exactly. A
    /// multi-scan file cut before its last scans has coefficients no scan
    /// codes, which libjpeg smooths differently from one libjpeg-turbo
    /// release to another ([`every_coefficient_coded`]): libvips decodes
    /// it. (A file cut inside its last scan still has them all declared:
    /// close to libvips' pixels, not equal.)
    #[test]
    fn a_truncated_file_decodes_as_libvips_decodes_it() {
        let photo = source("demo1.jpg");
        for interlace in [false, true] {
            let data = jpeg(&photo, 900, 700, &[("interlace", Arg::Bool(interlace))]);
            let cut = &data[..data.len() * 2 / 3];
            let t = ThumbnailCall {
                width: 300,
                height: 200,
                crop: Interesting::None,
                size: Size::Both,
            };
            let (reference, ours) = both(cut, &t);
            if interlace {
                assert!(
                    ours.is_none(),
                    "a progressive JPEG cut before its last scans"
                );
            } else {
                let ours = ours.expect("a truncated JPEG decodes");
                assert!(
                    pixels(&reference) == pixels(&ours),
                    "a truncated baseline JPEG"
                );
            }
            let header = jpeg::header(cut, 1).unwrap();
            let (_, warnings) = jpeg::decode(cut, 1, false, header, None).unwrap();
            assert!(warnings >= 1, "libjpeg warns of the early end");
        }
    }

    /// A file libjpeg gives up on mid-decode fails as libvips' load fails on
    /// it: the same typed error.
    #[test]
    fn a_corrupt_file_fails_as_libvips_fails() {
        let photo = source("demo1.jpg");
        let mut data = jpeg(&photo, 900, 700, &[("restart_interval", Arg::Int(1))]);
        // Every restart marker out of sequence: a warning each, and the
        // 100th warning is fatal (libvips' rule, without `unlimited`).
        let start = data.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let mut shifted = 0;
        for i in start..data.len() - 1 {
            if data[i] == 0xFF && (0xD0..=0xD7).contains(&data[i + 1]) {
                data[i + 1] = 0xD0 + (data[i + 1] - 0xD0 + 3) % 8;
                shifted += 1;
            }
        }
        assert!(shifted > 200, "{shifted} restart markers");
        let t = ThumbnailCall {
            width: 300,
            height: 200,
            crop: Interesting::None,
            size: Size::Both,
        };
        let blob = Blob::copy_from(&data);
        let format = Some(ImageFormat::Jpeg);
        let libvips = thumbnail_of(
            Encoded::Blob(&blob),
            "jpegload_buffer",
            format,
            &t,
            LoadOpts::default(),
        )
        .and_then(|img| img.write_to_memory())
        .map_err(|e| load_error(e, format));
        let header = source_header(&data);
        let fields = header.fields_carrier().unwrap();
        let ours = thumbnail(&data, 1, false, &fields, &t)
            .and_then(|img| img.expect("ours decodes it").write_to_memory());
        match (libvips, ours) {
            (Err(a), Err(b)) => {
                assert_eq!((a.status(), a.to_string()), (b.status(), b.to_string()))
            }
            (a, b) => panic!(
                "libvips {:?}, ours {:?}",
                a.map(|p| p.len()),
                b.map(|p| p.len())
            ),
        }
    }

    /// A complete progressive file whose scans code only the DC
    /// coefficients: libjpeg smooths the missing ones, differently in our
    /// mozjpeg and in libvips' libjpeg, so the pixels are libvips'.
    #[test]
    fn a_progressive_file_without_some_coefficients_decodes_as_libvips_decodes_it() {
        let photo = source("demo1.jpg");
        let data = jpeg(&photo, 900, 700, &[("interlace", Arg::Bool(true))]);
        let segments: Vec<_> = crate::probe::jpeg_segments(&data).collect();
        // Keep the header and the scans of DC coefficients only (Ss = 0).
        let first_scan = segments
            .iter()
            .find(|s| s.marker == 0xDA)
            .unwrap()
            .whole
            .start;
        let mut dc_only = data[..first_scan].to_vec();
        for (i, s) in segments.iter().enumerate() {
            let body = &data[s.body.clone()];
            if s.marker == 0xDA && body[1 + 2 * usize::from(body[0])] == 0 {
                let end = segments
                    .get(i + 1)
                    .map_or(data.len() - 2, |n| n.whole.start);
                dc_only.extend_from_slice(&data[s.whole.start..end]);
            }
        }
        dc_only.extend_from_slice(&[0xFF, 0xD9]);
        let t = ThumbnailCall {
            width: 300,
            height: 200,
            crop: Interesting::None,
            size: Size::Both,
        };
        let (reference, ours) = both(&dc_only, &t);
        if let Some(ours) = ours {
            assert!(
                pixels(&reference) == pixels(&ours),
                "a DC-only progressive JPEG"
            );
        }
        // A whole progressive file still takes our decoder.
        assert!(both(&data, &t).1.is_some());
    }

    #[test]
    fn cmyk_and_broken_files_are_left_to_libvips() {
        let photo = source("demo1.jpg");
        let small = photo
            .thumbnail_image(300, 200, Size::Force, Interesting::None)
            .unwrap();
        let cmyk = save(
            &small.colourspace(Interpretation::CMYK).unwrap(),
            "jpegsave_buffer",
            &[],
        );
        assert_eq!(source_header(&cmyk).bands(), 4);
        let mut no_frame = jpeg(&photo, 300, 200, &[]);
        // The start-of-frame marker made an unknown one: libjpeg's fatal
        // "improper call" / bogus marker errors.
        if let Some(at) = no_frame.windows(2).position(|w| w == [0xFF, 0xC0]) {
            no_frame[at + 1] = 0xCF;
        }
        for (name, data) in [("cmyk", &cmyk), ("no frame header", &no_frame)] {
            assert_eq!(jpeg::header(data, 1), None, "{name}");
            let t = ThumbnailCall {
                width: 100,
                height: 100,
                crop: Interesting::None,
                size: Size::Both,
            };
            let blank = Image::from_memory(&[0], 1, 1, 1, crate::vips::BandFormat::UCHAR).unwrap();
            assert!(
                thumbnail(data, 1, false, &blank, &t).unwrap().is_none(),
                "{name}"
            );
        }
    }

    #[test]
    fn the_decode_stops_at_the_deadline() {
        use crate::call::Stop;
        use crate::vips::deadline::Deadline;
        let photo = source("demo1.jpg");
        let data = jpeg(&photo, 1600, 1200, &[("interlace", Arg::Bool(true))]);
        let deadline =
            Deadline::with_stop(std::time::Duration::ZERO, "process_timeout", Stop::Never);
        let _entered = deadline.enter();
        let header = jpeg::header(&data, 1).unwrap();
        let Err(err) = jpeg::decode(&data, 1, false, header, None) else {
            panic!("decoded past the deadline");
        };
        assert_eq!(err.status(), 408, "{err}");
    }
}
