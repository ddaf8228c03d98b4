//! Thumbnails of plain PNG images decoded by [`super::png_pixels`]
//! (libdeflate) instead of libvips' loader, with the pixels libvips'
//! `thumbnail_buffer` makes: the same rows, the header's metadata, then
//! `thumbnail_image`, which does what `thumbnail_buffer` does after its
//! load (PNG has no shrink-on-load).

use super::decode::ThumbnailCall;
use super::png_pixels::{self, MAX_INFLATED_BYTES};
use crate::error::Result;
use crate::vips::webp::StillPixels;
use crate::vips::Image;

/// The thumbnail of the PNG `data`, or `None` where libvips decodes it
/// (see [`png_pixels`]: other kinds of PNG, image data that does not
/// inflate cleanly, more than [`MAX_INFLATED_BYTES`] or than the call may
/// hold ([`crate::budget::Budget::room_to_hold`])). `fields` carries the header's metadata
/// ([`Image::fields_carrier`]). The inflated rows are charged to the call's
/// memory, and the image data joined from its chunks while it inflates.
/// `Err`: the deadline passed.
pub(super) fn thumbnail(data: &[u8], fields: &Image, t: &ThumbnailCall) -> Result<Option<Image>> {
    let Some(layout) = png_pixels::layout(data) else {
        return Ok(None);
    };
    let Some(inflated) = layout.inflated_bytes() else {
        return Ok(None);
    };
    let joined = match layout.idat_chunks {
        1 => 0,
        _ => layout.compressed_bytes,
    };
    let budget = crate::budget::current();
    // The joined image data lives only while it inflates, before the rows
    // reach libvips: it may take as much again.
    let room = budget.room_to_hold().unwrap_or(MAX_INFLATED_BYTES);
    if inflated > room.min(MAX_INFLATED_BYTES) || joined > room {
        return Ok(None);
    }
    let what = format!(
        "decoding the png image to memory ({}x{})",
        layout.width, layout.height
    );
    budget.charge_memory(&what, inflated + joined)?;
    let decoded = png_pixels::decode(&layout)?;
    budget.release_memory(joined);
    let Some(pixels) = decoded else {
        // libvips decodes it, streaming: the rows were freed.
        budget.release_memory(inflated);
        return Ok(None);
    };
    let still = StillPixels {
        pixels,
        width: layout.width as i32,
        height: layout.height as i32,
        bands: layout.bands as i32,
    };
    Ok(Some(t.of_pixels(still, fields)?))
}

#[cfg(test)]
mod tests {
    //! This path against libvips' own `thumbnail_buffer`, pixel for pixel
    //! and field for field, over every colour type and filter it takes.
    use super::*;
    use crate::format::ImageFormat;
    use crate::processor::test_images::{
        assert_same_pixels, libvips_thumbnail_and_header, save, testdata,
    };
    use crate::vips::{Arg, Call, Interesting, Size};

    /// Both paths for one source and target.
    fn both(data: &[u8], t: &ThumbnailCall) -> (Image, Image) {
        let (reference, header) =
            libvips_thumbnail_and_header(data, "pngload_buffer", ImageFormat::Png, t);
        let fields = header.fields_carrier().unwrap();
        drop(header);
        let ours = thumbnail(data, &fields, t).unwrap().expect("a plain png");
        (reference, ours)
    }

    fn call(width: i32, height: i32, crop: Interesting, size: Size) -> ThumbnailCall {
        ThumbnailCall {
            width,
            height,
            crop,
            size,
        }
    }

    /// `img` with `bands` bands: grey, grey + alpha, RGB or RGBA.
    fn with_bands(img: &Image, bands: i32) -> Image {
        let rgba = Call::new("bandjoin_const")
            .arg("in", Arg::Image(img))
            .arg("c", Arg::Doubles(&[200.0]))
            .run()
            .unwrap()
            .out()
            .unwrap();
        let (source, colourspace) = match bands {
            1 | 2 => (if bands == 1 { img } else { &rgba }, 1), // B_W
            _ => (if bands == 3 { img } else { &rgba }, 22),    // sRGB
        };
        let converted = Call::new("colourspace")
            .arg("in", Arg::Image(source))
            .arg("space", Arg::Int(colourspace))
            .run()
            .unwrap()
            .out()
            .unwrap();
        Call::new("cast")
            .arg("in", Arg::Image(&converted))
            .arg("format", Arg::Int(crate::vips::BandFormat::UCHAR.into()))
            .run()
            .unwrap()
            .out()
            .unwrap()
    }

    #[test]
    fn same_pixels_as_libvips_thumbnail() {
        let photo = testdata("gopher-front.png", "pngload_buffer");
        let rgb = Call::new("flatten")
            .arg("in", Arg::Image(&photo))
            .run()
            .unwrap()
            .out()
            .unwrap();
        let targets = [
            (100, 80, Interesting::Centre, Size::Both),
            (120, 120, Interesting::None, Size::Down),
            (2000, 90, Interesting::None, Size::Force),
            (37, 250, Interesting::Attention, Size::Both),
        ];
        // Adaptive filtering, then each filter alone (libvips' bit flags:
        // none 8, sub 16, up 32, average 64, paeth 128).
        for filter in [248, 8, 16, 32, 64, 128] {
            for bands in 1..=4 {
                let img = with_bands(&rgb, bands);
                let data = save(
                    &img,
                    "pngsave_buffer",
                    &[("filter", Arg::Int(filter)), ("compression", Arg::Int(6))],
                );
                assert!(png_pixels::layout(&data).is_some(), "{bands} bands");
                for (width, height, crop, size) in targets {
                    let what = format!("filter {filter}, {bands} bands, {width}x{height}");
                    let (reference, ours) = both(&data, &call(width, height, crop, size));
                    assert_same_pixels(&reference, &ours, &what);
                    assert_eq!(reference.interpretation(), ours.interpretation(), "{what}");
                }
            }
        }
    }

    #[test]
    fn keeps_the_header_metadata() {
        // EXIF orientation 6 and a resolution, then an ICC profile.
        for name in ["gopher-exif-orientation-cw90.png", "gopher-front.png"] {
            let data = std::fs::read(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
            let img = testdata(name, "pngload_buffer");
            let data = match name {
                "gopher-front.png" => save(
                    &img.with_meta(|m| m.set_int("orientation", 3)).unwrap(),
                    "pngsave_buffer",
                    &[("profile", Arg::Str("srgb"))],
                ),
                _ => data,
            };
            let t = call(50, 70, Interesting::None, Size::Both);
            let (reference, ours) = both(&data, &t);
            assert_same_pixels(&reference, &ours, name);
            // `vips-sequential` marks a loader's sequential output; ours is
            // in memory.
            let fields = |img: &Image| {
                let mut f = img.fields();
                f.retain(|f| f != "vips-sequential");
                f.sort();
                f
            };
            assert_eq!(fields(&reference), fields(&ours), "{name}");
            assert_eq!(reference.orientation(), ours.orientation(), "{name}");
            for field in ["exif-data", "icc-profile-data"] {
                assert_eq!(
                    reference.get_blob(field),
                    ours.get_blob(field),
                    "{name}: {field}"
                );
            }
            for field in ["xres", "yres"] {
                assert_eq!(
                    reference.get_double(field),
                    ours.get_double(field),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn a_png_that_does_not_decode_cleanly_is_left_to_libvips() {
        let img = testdata("gopher.png", "pngload_buffer");
        let data = save(&img, "pngsave_buffer", &[]);
        let blank = Image::from_memory(&[0], 1, 1, 1, crate::vips::BandFormat::UCHAR).unwrap();
        let t = call(50, 50, Interesting::None, Size::Both);
        // Its image data cut, its checksum damaged.
        let iend = data.len() - 12;
        assert!(thumbnail(&data[..iend - 100], &blank, &t)
            .unwrap()
            .is_none());
        let mut damaged = data.clone();
        damaged[iend - 5] ^= 0x55;
        assert!(thumbnail(&damaged, &blank, &t).unwrap().is_none());
        assert!(thumbnail(&data, &blank, &t).unwrap().is_some());
    }
}
