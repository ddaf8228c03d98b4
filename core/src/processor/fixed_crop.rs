//! Thumbnails cropped to a fixed part of the resized image (centre, top or
//! left, bottom or right) that compute only that part.
//!
//! libvips' thumbnail copies the whole resized image to memory before it
//! crops (its crop may have to look at the pixels), so a 512x512 cover of
//! a 3:2 photo resizes a third more than it keeps. Its steps are otherwise
//! these, from 8.14 to 8.18, for an 8-bit grey or sRGB image without
//! alpha, EXIF turn, pages or profiles: the processing space (the image's
//! own), the shrink of each axis, `resize`, then `smartcrop`, which for a
//! fixed part only extracts it. Run in that order without the copy, each
//! pixel of the crop is computed as there, and nothing outside it.

use super::decode::ThumbnailCall;
use crate::error::Result;
use crate::vips::{BandFormat, Image, Interesting, Interpretation, Size};

/// libvips' `thumbnail_image` of `img` for `t`, computing only the crop;
/// `None` where it is not one of these (see the module's comment).
pub(super) fn thumbnail(img: &Image, t: &ThumbnailCall) -> Option<Result<Image>> {
    let processing_space = match img.bands() {
        1 => Interpretation::B_W,
        3 => Interpretation::SRGB,
        _ => return None,
    };
    let plain = matches!(
        t.crop,
        Interesting::Centre | Interesting::Low | Interesting::High
    ) && t.size != Size::Force
        && img.format() == BandFormat::UCHAR
        && img.interpretation() == processing_space
        && matches!(img.orientation(), 0 | 1)
        && img.page_height() == img.height();
    plain.then(|| {
        let (width, height) = (t.width.max(1), t.height.max(1));
        let (across, down) = t.axis_shrinks(img.width(), img.height(), false);
        let resized = img.resize(1.0 / across, 1.0 / down)?;
        let (crop_width, crop_height) = (width.min(resized.width()), height.min(resized.height()));
        resized.smartcrop(crop_width, crop_height, t.crop)
    })
}

#[cfg(test)]
mod tests {
    //! Against libvips' own `thumbnail_image`, pixel for pixel.
    use super::*;
    use crate::processor::test_images::{assert_same_pixels, testdata};

    fn call(width: i32, height: i32, crop: Interesting, size: Size) -> ThumbnailCall {
        ThumbnailCall {
            width,
            height,
            crop,
            size,
        }
    }

    /// The test photo at `width` x `height` (stretched), as pixels in
    /// memory with nothing to be read lazily.
    fn photo(width: i32, height: i32, grey: bool) -> Image {
        let img = testdata("demo1.jpg", "jpegload_buffer")
            .thumbnail_image(width, height, Size::Force, Interesting::None)
            .unwrap();
        let img = match grey {
            true => img.colourspace(Interpretation::B_W).unwrap(),
            false => img,
        };
        img.copy_memory().unwrap()
    }

    #[test]
    fn same_pixels_as_libvips_thumbnail() {
        let mut compared = 0;
        for (width, height, grey) in [(1603, 1001, false), (777, 1401, true), (640, 480, false)] {
            let img = photo(width, height, grey);
            // Shrinks of about 1.2 to 60 (box shrinks too), a target larger
            // than the image, a side of 1.
            for (w, h) in [
                (512, 512),
                (300, 90),
                (90, 300),
                (25, 25),
                (2000, 1500),
                (1, 40),
            ] {
                for crop in [Interesting::Centre, Interesting::Low, Interesting::High] {
                    for size in [Size::Both, Size::Down, Size::Up] {
                        let t = call(w, h, crop, size);
                        let ours = thumbnail(&img, &t).expect("a plain image").unwrap();
                        let reference = img.thumbnail_image(w, h, size, crop).unwrap();
                        let what = format!("{width}x{height} to {w}x{h} {crop:?} {size:?}");
                        assert_same_pixels(&reference, &ours, &what);
                        assert_eq!(
                            reference.get_int("xoffset"),
                            ours.get_int("xoffset"),
                            "{what}"
                        );
                        assert_eq!(
                            reference.get_int("yoffset"),
                            ours.get_int("yoffset"),
                            "{what}"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 3 * 6 * 3 * 3);
    }

    #[test]
    fn left_to_libvips_where_its_thumbnail_does_more() {
        let img = photo(300, 200, false);
        let t = call(100, 100, Interesting::Centre, Size::Both);
        assert!(thumbnail(&img, &t).is_some());
        for other in [
            call(100, 100, Interesting::None, Size::Both),
            call(100, 100, Interesting::Attention, Size::Both),
            call(100, 100, Interesting::Entropy, Size::Both),
            call(100, 100, Interesting::Centre, Size::Force),
        ] {
            assert!(thumbnail(&img, &other).is_none(), "{other:?}");
        }
        let turned = img.with_meta(|m| m.set_int("orientation", 6)).unwrap();
        let alpha = img.bandjoin_const(&[255.0]).unwrap();
        let deep = img.cast(crate::vips::BandFormat::USHORT).unwrap();
        let pages = img.with_meta(|m| m.set_int("page-height", 100)).unwrap();
        for (what, other) in [
            ("turned", turned),
            ("alpha", alpha),
            ("16-bit", deep),
            ("pages", pages),
        ] {
            assert!(thumbnail(&other, &t).is_none(), "{what}");
        }
    }
}
