//! Shrink-on-load thumbnails of still WebP images through our own libwebp
//! ([`crate::vips::webp`]), with the pixels libvips' `thumbnail_buffer`
//! makes: the same load scale (libvips' common shrink, never upsizing),
//! the same decode, the header's metadata, then `thumbnail_image`, which
//! does what `thumbnail_buffer` does after its load.

use super::decode::{load_error, ThumbnailCall};
use crate::error::Result;
use crate::format::ImageFormat;
use crate::vips::{webp, Image};

/// The `scale` libvips' thumbnail loads a WebP with: `1 / factor`, where
/// factor is the common shrink to the target, never below 1 (no upsizing
/// through libwebp).
pub(super) fn load_scale(header: &Image, t: &ThumbnailCall) -> f64 {
    1.0 / t.common_shrink(header).max(1.0)
}

/// The thumbnail of a still WebP, or `None` for an animation (left to
/// libvips). `fields` carries the header's metadata
/// ([`Image::fields_carrier`]).
pub(super) fn thumbnail(
    data: &[u8],
    scale: f64,
    fields: &Image,
    t: &ThumbnailCall,
) -> Result<Option<Image>> {
    let Some(still) =
        webp::decode_still(data, scale).map_err(|e| load_error(e, Some(ImageFormat::Webp)))?
    else {
        return Ok(None);
    };
    Ok(Some(t.of_pixels(still, fields)?))
}

#[cfg(test)]
mod tests {
    //! The fast path against libvips' own `thumbnail_buffer`, pixel for
    //! pixel, over lossy, lossless, alpha, ICC and EXIF-rotated stills and
    //! every resize mode.
    use super::*;
    use crate::processor::test_images::{
        assert_same_pixels, libvips_thumbnail_and_header, save, testdata,
    };
    use crate::vips::{Arg, BandFormat, Call, Interesting, Size};

    fn source(path: &str) -> Image {
        testdata(path, "pngload_buffer")
    }

    /// `img` as WebP: lossless, or lossy at quality `q`.
    fn webp(img: &Image, q: Option<i64>) -> Vec<u8> {
        match q {
            Some(q) => save(img, "webpsave_buffer", &[("Q", Arg::Int(q))]),
            None => save(img, "webpsave_buffer", &[("lossless", Arg::Bool(true))]),
        }
    }

    /// Both paths for one source and target.
    fn both(data: &[u8], t: &ThumbnailCall) -> (Image, Image) {
        let (reference, header) =
            libvips_thumbnail_and_header(data, "webpload_buffer", ImageFormat::Webp, t);
        let fields = header.fields_carrier().unwrap();
        let scale = load_scale(&header, t);
        drop(header);
        let ours = thumbnail(data, scale, &fields, t)
            .unwrap()
            .expect("a still image");
        (reference, ours)
    }

    #[test]
    fn same_pixels_as_libvips_thumbnail() {
        let gopher = source("gopher.png"); // RGBA
        let rgb = Call::new("flatten")
            .arg("in", Arg::Image(&gopher))
            .run()
            .unwrap()
            .out()
            .unwrap();
        let turned = rgb.with_meta(|m| m.set_int("orientation", 6)).unwrap();
        let sources = [
            ("lossy rgb", webp(&rgb, Some(80))),
            ("lossy rgba", webp(&gopher, Some(75))),
            ("lossless rgba", webp(&gopher, None)),
            ("lossy, exif orientation 6", webp(&turned, Some(70))),
        ];
        let modes = [
            (Size::Both, Interesting::None),
            (Size::Down, Interesting::Centre),
            (Size::Force, Interesting::None),
            (Size::Up, Interesting::None),
            (Size::Both, Interesting::Attention),
        ];
        let mut compared = 0;
        for (name, data) in &sources {
            for (width, height) in [(100, 100), (37, 250), (300, 17), (1000, 1000), (160, 240)] {
                for (size, crop) in modes {
                    let t = ThumbnailCall {
                        width,
                        height,
                        crop,
                        size,
                    };
                    let (reference, ours) = both(data, &t);
                    assert_same_pixels(
                        &reference,
                        &ours,
                        &format!("{name} {width}x{height} {size:?}/{crop:?}"),
                    );
                    assert_eq!(reference.orientation(), ours.orientation(), "{name}");
                    for field in ["xres", "yres"] {
                        let (a, b) = (reference.get_double(field), ours.get_double(field));
                        assert_eq!(a, b, "{name}: {field}");
                    }
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 4 * 5 * 5);
    }

    #[test]
    fn keeps_the_header_metadata() {
        let gopher = source("gopher.png");
        let tagged = gopher.with_meta(|m| m.set_int("orientation", 3)).unwrap();
        let data = webp(&tagged, Some(60));
        let t = ThumbnailCall {
            width: 50,
            height: 50,
            crop: Interesting::None,
            size: Size::Both,
        };
        let (reference, ours) = both(&data, &t);
        // `vips-sequential` marks a loader's sequential output (downstream
        // operations then add line caches); ours is in memory.
        let fields = |img: &Image| {
            let mut f = img.fields();
            f.retain(|f| f != "vips-sequential");
            f.sort();
            f
        };
        assert_eq!(fields(&reference), fields(&ours));
        assert_eq!(reference.get_blob("exif-data"), ours.get_blob("exif-data"));
    }

    #[test]
    fn an_animation_is_left_to_libvips() {
        let data = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/demo3.webp"
        ))
        .expect("testdata/demo3.webp");
        assert!(webp::decode_still(&data, 1.0).unwrap().is_none());
    }

    #[test]
    fn a_truncated_still_is_a_typed_406() {
        let gopher = source("gopher.png");
        let data = webp(&gopher, Some(80));
        let cut = &data[..data.len() / 2];
        let blank = Image::from_memory(&[0], 1, 1, 1, BandFormat::UCHAR).unwrap();
        let t = ThumbnailCall {
            width: 50,
            height: 50,
            crop: Interesting::None,
            size: Size::Both,
        };
        let Err(err) = thumbnail(cut, 0.5, &blank, &t) else {
            panic!("a truncated still decoded");
        };
        assert_eq!(err.status(), 406, "{err}");
    }
}
