//! Loading a source into a libvips image, as imagor's `NewThumbnail` and
//! `NewImage` do: shrink-on-load where the format allows it, frame and page
//! selection for GIF/WebP/PDF, and the resolution limits checked on the
//! header, before any pixel is decoded (libvips decodes lazily).

use super::decode::{
    call_loader, choose_loader, render_svg, thumbnail_of, LoadOpts, ThumbnailCall,
};
use super::decode_cost::{admit, admit_skipped_frames, check_frames_loaded, Access};
use super::source::Source;
use super::still_webp;
use crate::error::{Error, Result};
use crate::format::ImageFormat;
use crate::ops::limits::{
    charge_thumbnail_copy, check_resolution, refuse_oversized_result, refuse_oversized_stretch,
};
use crate::options::Options;
use crate::vips::{Image, Interesting, Size};

/// Loads sources under the limits of one [`Options`].
pub(crate) struct Loader<'a> {
    pub(crate) opts: &'a Options,
    pub(crate) budget: &'a crate::budget::Budget,
    /// The call answers `/meta`: pixels are read only if a step asks for
    /// them, so sources keep libvips' lazy loaders rather than our own
    /// eager decodes of still WebP and AVIF (a `/meta` of a 25 MP AVIF
    /// decoded it all: 0.97 s, 191 MB, for a header libvips reads in 35 ms).
    pub(crate) header_only: bool,
}

impl Loader<'_> {
    /// Charge the decode of a lazily loaded `header` to the budget.
    fn admit(&self, source: &Source, header: &Image, access: Access) -> Result<()> {
        match source.encoded() {
            Some((_, sniffed, data)) => admit(self.budget, data, sniffed.format, header, access),
            None => admit(self.budget, &[], None, header, access),
        }
    }

    /// Charge the frames decoded to reach page `page` of a final
    /// multi-frame load (`page` as [`LoadOpts::multi_page`] takes it:
    /// below -1 for an exact page).
    fn admit_page(&self, source: &Source, header: &Image, page: i32) -> Result<()> {
        match source.encoded() {
            Some((_, sniffed, data)) if page < -1 => admit_skipped_frames(
                self.budget,
                data,
                sniffed.format,
                header,
                u64::try_from(-i64::from(page) - 1).unwrap_or(0),
            ),
            _ => Ok(()),
        }
    }

    /// Charge `frames` frames of `width` x `page_height` decoded (an
    /// animation loaded scaled: libwebp decodes each at its full size).
    fn admit_frames(
        &self,
        source: &Source,
        width: i32,
        page_height: i32,
        frames: i32,
    ) -> Result<()> {
        match source.encoded() {
            Some((_, sniffed, data)) => super::decode_cost::admit_frames(
                self.budget,
                data,
                sniffed.format,
                (width, page_height),
                u64::try_from(frames).unwrap_or(0),
                "decoding the frames of the animation",
            ),
            None => Ok(()),
        }
    }

    /// The final multi-frame load has every frame asked for: `n` is -1 for
    /// all, `-count` for exactly `count` (after a counting pass).
    fn check_frames(&self, source: &Source, img: &Image, n: i32) -> Result<()> {
        match source {
            Source::Bytes { blob, sniffed } if n < 0 => {
                let wanted = if n == -1 { -1 } else { -n };
                check_frames_loaded(blob.as_slice(), sniffed.format, img, wanted)
            }
            _ => Ok(()),
        }
    }

    /// [`check_resolution`] under this loader's options.
    fn check_resolution(&self, img: &Image) -> Result<()> {
        check_resolution(img, self.opts)
    }

    fn base_opts(&self, source: &Source, dpi: i32) -> LoadOpts {
        LoadOpts {
            dpi: dpi.max(0),
            unlimited: self.opts.unlimited,
            fail_on: super::decode::fail_on_nick(&self.opts.fail_on),
            ..LoadOpts::default()
        }
        .with_thumbnail(source)
    }

    /// imagor's `NewImage`: the whole image (at most `n` frames, or page
    /// `page`), checked against the limits.
    pub(crate) fn image(&self, source: &Source, n: i32, page: i32, dpi: i32) -> Result<Image> {
        let mut opts = self.base_opts(source, dpi);
        opts.thumbnail = false;
        if source.is_multi_page(n, page) {
            // Read top to bottom, as the thumbnail load of an animation
            // ([`Self::thumbnail`]): the resize, crops and flips that
            // follow read it once in that order (per-frame work a batch at a
            // time, [`crate::ops::multipage::per_frame`]); at random, 300
            // GIF frames of 300x300 flipped or trimmed took 3.5-3.9 s where
            // they take about 1 s.
            let mut all_frames = opts.multi_page(n, page);
            all_frames.sequential = !(n > 1 || page > 1);
            let img = self.load(source, all_frames)?;
            self.check_resolution(&img)?;
            if n > 1 || page > 1 {
                let (n, page) = clamp_to_pages(&img, n, page);
                return self.image(source, -n, -page, dpi);
            }
            self.check_frames(source, &img, n)?;
            self.admit(source, &img, Access::Full)?;
            self.admit_page(source, &img, page)?;
            return Ok(img);
        }
        let img = self.load(source, opts)?;
        self.check_resolution(&img)?;
        self.admit(source, &img, Access::Full)?;
        Ok(img)
    }

    /// imagor's `NewThumbnail`: load and resize to fit `width` x `height`
    /// in one step where libvips can shrink while decoding.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn thumbnail(
        &self,
        source: &Source,
        width: i32,
        height: i32,
        crop: Interesting,
        size: Size,
        n: i32,
        page: i32,
        dpi: i32,
    ) -> Result<Image> {
        let opts = self.base_opts(source, dpi);
        let target = ThumbnailCall {
            width,
            height,
            crop,
            size,
        };
        // Sources libvips can shrink while loading get their header read
        // once: for the decode guard, and to see whether a GIF or WebP asked
        // for all its frames has only one, which then takes the
        // shrink-on-load path (same pixels, no full-size decode).
        let (shrink_loader, single_frame, animation_scale) = match source.encoded() {
            Some((input, sniffed, data)) if shrinks_on_load(sniffed.format) => {
                let loader = choose_loader(self.opts, data, sniffed)?;
                let header =
                    call_loader(&loader, input, sniffed.format, LoadOpts { n: 1, ..opts })?;
                self.check_decode_guard(&header, data, sniffed.format)?;
                self.admit(source, &header, Access::Shrink)?;
                refuse_oversized_stretch(width, height, size, self.opts)?;
                charge_thumbnail_copy(&header, width, height, crop, size)?;
                let fast = match sniffed.format {
                    Some(ImageFormat::Jpeg) if self.opts.fast_shrink_on_load => {
                        fast_jpeg_shrink(&header, &target)
                    }
                    _ => 1,
                };
                // A still WebP decodes through our own libwebp, a plain
                // still AVIF through dav1d, a plain PNG through libdeflate:
                // what they need of the header (scale, metadata) is taken
                // now.
                let own = match sniffed.format {
                    _ if self.header_only => None,
                    Some(ImageFormat::Webp) if header.n_pages() == 1 => Some(OwnDecode::Webp(
                        still_webp::load_scale(&header, &target),
                        header.fields_carrier()?,
                    )),
                    #[cfg(feature = "own-av1")]
                    Some(ImageFormat::Avif) if header.n_pages() == 1 => {
                        match super::still_avif::eligible(data) {
                            Some(file) => {
                                Some(OwnDecode::Avif(Box::new(file), header.fields_carrier()?))
                            }
                            None => None,
                        }
                    }
                    Some(ImageFormat::Png)
                        if matches!(input, super::decode::Encoded::Blob(_))
                            && self.opts.fail_on == "none"
                            && header.n_pages() == 1 =>
                    {
                        Some(OwnDecode::Png(header.fields_carrier()?))
                    }
                    #[cfg(feature = "own-jpeg")]
                    Some(ImageFormat::Jpeg)
                        if matches!(input, super::decode::Encoded::Blob(_))
                            && self.opts.fail_on == "none" =>
                    {
                        let shrink = if fast > 1 {
                            fast
                        } else {
                            super::still_jpeg::libvips_shrink(&header, &target)
                        };
                        Some(OwnDecode::Jpeg(shrink, header.fields_carrier()?))
                    }
                    _ => None,
                };
                // A large animated WebP shrinks while loading: each frame
                // decoded straight to about the target size by libwebp.
                // Resizing all its frames at full size ran 175 ns a pixel
                // (a 570 KB file of 4000 frames 14 s, past any deadline);
                // smaller ones keep imagor's pixels (full-size frames,
                // resized). The frames are charged at their full size,
                // which libwebp decodes.
                let animation_pixels = f64::from(header.n_pages())
                    * f64::from(header.width())
                    * f64::from(header.page_height());
                let animation_scale = match sniffed.format {
                    Some(ImageFormat::Webp)
                        if header.n_pages() > 1 && animation_pixels > SCALED_ANIMATION_PIXELS =>
                    {
                        Some(still_webp::load_scale(&header, &target))
                            .filter(|scale| *scale < 1.0)
                            .map(|scale| (scale, header.width(), header.page_height()))
                    }
                    _ => None,
                };
                // The header is released before decoding starts: a WebP
                // loader holds decoder state for as long as it lives.
                (
                    Some((loader, fast, own)),
                    header.n_pages() == 1,
                    animation_scale,
                )
            }
            _ => (None, false, None),
        };
        let multi_page = source.is_multi_page(n, page) && !(page <= 1 && single_frame);
        let img = if multi_page {
            let mut all_frames = opts.multi_page(n, page);
            // From the first frame only: libwebp reaches a later page by
            // decoding every frame before it, which a scaled load does
            // while it opens (a `page(3000)` ran 8 s before it could be
            // charged); unscaled, it is charged first ([`Self::admit_page`]).
            if let Some((scale, _, _)) = animation_scale.filter(|_| (-1..=1).contains(&page)) {
                all_frames.scale = scale;
            }
            // Resized in one pass, top to bottom (a crop then takes the
            // frames apart a batch at a time, top down, in memory:
            // [`crate::ops::multipage::per_frame`]): read that way. A
            // random-access GIF of 300 frames of 300x300 took 2.0 s to a
            // 30x30 thumbnail, past the 2 s default, where sequential
            // access takes 0.45 s, as libvips' own thumbnail does.
            all_frames.sequential = !(n > 1 || page > 1);
            let img = self.load(source, all_frames)?;
            if n > 1 || page > 1 {
                // imagor checks the all-frames load of a cropped animation
                // before it reduces the frames.
                if crop != Interesting::None {
                    self.check_resolution(&img)?;
                }
                let (n, page) = clamp_to_pages(&img, n, page);
                return self.thumbnail(source, width, height, crop, size, -n, -page, dpi);
            }
            self.check_resolution(&img)?;
            self.check_frames(source, &img, n)?;
            self.admit(source, &img, Access::Shrink)?;
            if let Some((_, width, page_height)) =
                animation_scale.filter(|_| (-1..=1).contains(&page))
            {
                self.admit_frames(source, width, page_height, img.frames())?;
            }
            self.admit_page(source, &img, page)?;
            refuse_oversized_stretch(width, height, size, self.opts)?;
            refuse_oversized_result(&img, width, height, crop, size, self.opts)?;
            if crop == Interesting::None || size == Size::Force {
                img.thumbnail_image(width, height, size, crop)?
            } else {
                animated_thumbnail_with_crop(&img, width, height, crop, size, self.opts)?
            }
        } else {
            let still = match (source.encoded(), &shrink_loader) {
                (Some((_, _, data)), Some((_, _, Some(OwnDecode::Webp(scale, fields))))) => {
                    still_webp::thumbnail(data, *scale, fields, &target)?
                }
                #[cfg(feature = "own-jpeg")]
                (Some((_, _, data)), Some((_, _, Some(OwnDecode::Jpeg(shrink, fields))))) => {
                    super::still_jpeg::thumbnail(
                        data,
                        *shrink,
                        self.opts.unlimited,
                        fields,
                        &target,
                    )?
                }
                (Some((_, _, data)), Some((_, _, Some(OwnDecode::Png(fields))))) => {
                    super::still_png::thumbnail(data, fields, &target)?
                }
                #[cfg(feature = "own-av1")]
                (_, Some((_, _, Some(OwnDecode::Avif(file, fields))))) => {
                    super::still_avif::thumbnail(file, fields, &target)?
                }
                _ => None,
            };
            match (still, source.encoded(), &shrink_loader) {
                (Some(img), _, _) => img,
                (None, Some((input, sniffed, _)), Some((loader, fast, _))) if *fast > 1 => {
                    // Decode at 1/fast (libjpeg's DCT scaling), then resize
                    // the rest of the way as thumbnail does.
                    let scaled = LoadOpts {
                        sequential: true,
                        shrink: *fast,
                        ..opts
                    };
                    call_loader(loader, input, sniffed.format, scaled)?
                        .thumbnail_image(width, height, size, crop)?
                }
                (None, Some((input, sniffed, _)), Some((loader, _, _))) => {
                    thumbnail_of(input, loader, sniffed.format, &target, opts)?
                }
                _ => {
                    // thumbnail_image reads the source once, top to bottom.
                    let streamed = LoadOpts {
                        sequential: true,
                        ..opts
                    };
                    let img = self.load(source, streamed)?;
                    self.check_resolution(&img)?;
                    self.admit(source, &img, Access::Shrink)?;
                    refuse_oversized_stretch(width, height, size, self.opts)?;
                    charge_thumbnail_copy(&img, width, height, crop, size)?;
                    img.thumbnail_image(width, height, size, crop)?
                }
            }
        };
        self.check_resolution(&img)?;
        Ok(img)
    }

    /// Pixels a shrink-on-load decode may touch. imagor checks only the
    /// thumbnail of JPEG, GIF, WebP and HEIF/AVIF sources, so those may
    /// exceed the limits, but only by the factor their decoders really
    /// shrink while loading: 16 for JPEG and lossy WebP (DCT and VP8
    /// scaling), none for GIF, lossless WebP and HEIF/AVIF, whose decoders
    /// produce full-size pixels. PNG is checked as imagor checks it: the
    /// whole image. The time and memory of the decode are charged to the
    /// budget separately.
    fn check_decode_guard(
        &self,
        header: &Image,
        data: &[u8],
        format: Option<ImageFormat>,
    ) -> Result<()> {
        if self.opts.unlimited {
            return Ok(());
        }
        if format == Some(ImageFormat::Png) {
            return self.check_resolution(header);
        }
        let lossless_webp = format == Some(ImageFormat::Webp)
            && crate::probe::webp(data).is_some_and(|f| f.lossless);
        let factor: i64 = match format {
            Some(ImageFormat::Jpeg) => 16,
            Some(ImageFormat::Webp) if !lossless_webp => 16,
            _ => 1,
        };
        let pixels = header.width() as i64 * header.page_height() as i64;
        if pixels > self.opts.max_resolution.saturating_mul(factor) {
            return Err(Error::MaxResolutionExceeded);
        }
        Ok(())
    }

    /// A lazy load of the whole source (pixels decode on demand).
    fn load(&self, source: &Source, opts: LoadOpts) -> Result<Image> {
        let Some((input, sniffed, data)) = source.encoded() else {
            return match source {
                Source::Pixels { image } => Ok(image.clone()),
                _ => Err(Error::internal()),
            };
        };
        // An arriving source is a JPEG or PNG: `data` is all of any other.
        match sniffed.format {
            Some(ImageFormat::Bmp) => super::bmp::decode(data, self),
            Some(ImageFormat::Svg) => render_svg(data, opts.dpi, self.opts, self.budget),
            format => {
                let loader = choose_loader(self.opts, data, sniffed)?;
                call_loader(&loader, input, format, opts)
            }
        }
    }
}

impl LoadOpts {
    /// HEIF and AVIF thumbnails load the embedded preview when present.
    fn with_thumbnail(mut self, source: &Source) -> Self {
        self.thumbnail = matches!(source.format(), Some(ImageFormat::Avif | ImageFormat::Heif));
        self
    }
}

/// Formats whose thumbnails libvips makes while loading (imagor uses
/// `thumbnail_source` for JPEG, GIF, WebP, AVIF and HEIF; PNG gives the same
/// pixels through it, streaming the decode).
/// A source decoded by our own code instead of libvips' loader, with
/// what that needs of the header.
enum OwnDecode {
    /// A still WebP: libwebp's load scale, the header's metadata.
    Webp(f64, Image),
    /// A plain still AVIF our path may take, read from its boxes
    /// ([`super::still_avif::eligible`]), and the header's metadata.
    #[cfg(feature = "own-av1")]
    Avif(Box<super::still_avif::Eligible>, Image),
    /// A still PNG whose bytes are all here, under `fail_on` "none": the
    /// header's metadata.
    Png(Image),
    /// A JPEG whose bytes are all here, under `fail_on` "none": the DCT
    /// scale to decode at, the header's metadata.
    #[cfg(feature = "own-jpeg")]
    Jpeg(i32, Image),
}

fn shrinks_on_load(format: Option<ImageFormat>) -> bool {
    matches!(
        format,
        Some(
            ImageFormat::Jpeg
                | ImageFormat::Png
                | ImageFormat::Gif
                | ImageFormat::Webp
                | ImageFormat::Avif
                | ImageFormat::Heif
        )
    )
}

/// The JPEG shrink-on-load factor of `fast_shrink_on_load` (as sharp's
/// default does it): the largest DCT scale not above the whole shrink to
/// `width` x `height`, where libvips' thumbnail leaves a factor of two for
/// the final resize. 1: none.
fn fast_jpeg_shrink(header: &Image, target: &ThumbnailCall) -> i32 {
    // Below 1 when the image would grow (and always for `Size::Up`).
    let shrink = target.common_shrink(header);
    // sharp also steps down once when the shrink's integer part equals
    // the factor ("libjpeg rounding errors"); libjpeg rounds scaled sizes
    // up, so the decode is never smaller than the target, and the output
    // sizes are checked equal to the default's (core/tests/process_api.rs).
    [8, 4, 2]
        .into_iter()
        .find(|&f| shrink >= f as f64)
        .unwrap_or(1)
}

/// Decoded pixels (all frames) past which an animated WebP is scaled while
/// it loads ([`Loader::thumbnail`]).
const SCALED_ANIMATION_PIXELS: f64 = 4_000_000.0;

/// imagor's `recalculateImage`: never ask for more frames or a later page
/// than the source has.
fn clamp_to_pages(img: &Image, n: i32, page: i32) -> (i32, i32) {
    let pages = img.n_pages();
    if page > 1 && page > pages {
        (n, pages)
    } else if n > 1 && n > pages {
        (pages, page)
    } else {
        (n, page)
    }
}

/// Crop-to-fill for animations (libvips' `thumbnail` cannot crop them):
/// resize to cover, then cut every frame at the anchor.
pub(crate) fn animated_thumbnail_with_crop(
    img: &Image,
    w: i32,
    h: i32,
    crop: Interesting,
    size: Size,
    opts: &Options,
) -> Result<Image> {
    if size == Size::Down && img.width() < w && img.page_height() < h {
        return Ok(img.clone());
    }
    let (tw, th) = if w as f64 / h as f64 > img.width() as f64 / img.page_height() as f64 {
        (w, opts.max_height)
    } else {
        (opts.max_width, h)
    };
    // The frames resized, stacked, must stay within what libvips addresses
    // (thin frames of a long animation grow past it: a bare 406
    // `thumbnail_image failed`).
    refuse_oversized_result(img, tw, th, Interesting::None, size, opts)?;
    let resized = img.thumbnail_image(tw, th, size, Interesting::None)?;
    // Frames too thin to cover the box within the size limits (a 9999x1
    // frame cropped to 10x10), or not upscaled, are narrower or shorter
    // than it: crop what there is, never outside the frame (a bare 406
    // `extract_area failed`).
    let (w, h) = (w.min(resized.width()), h.min(resized.page_height()));
    let (left, top) = match crop {
        Interesting::High => (resized.width() - w, resized.page_height() - h),
        Interesting::Centre | Interesting::Attention => {
            ((resized.width() - w) / 2, (resized.page_height() - h) / 2)
        }
        _ => (0, 0),
    };
    crate::ops::multipage::extract_area(&resized, left, top, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_shrink_takes_the_largest_dct_scale_the_resize_allows() {
        crate::vips::init().unwrap();
        let photo = Image::black(4000, 3000, 3).unwrap();
        let f = |img: &Image, width, height, crop, size| {
            let target = ThumbnailCall {
                width,
                height,
                crop,
                size,
            };
            fast_jpeg_shrink(img, &target)
        };
        // Cover 512x512: 3000/512 = 5.9 -> 4 (libvips' thumbnail: 2).
        assert_eq!(f(&photo, 512, 512, Interesting::Centre, Size::Both), 4);
        // Fit in 512x512: 4000/512 = 7.8 -> 4; in 400x400: 10 -> 8.
        assert_eq!(f(&photo, 512, 512, Interesting::None, Size::Both), 4);
        assert_eq!(f(&photo, 400, 400, Interesting::None, Size::Down), 8);
        // A shrink of exactly 4 takes 4 (sharp would step down to 2).
        assert_eq!(f(&photo, 1000, 1000, Interesting::None, Size::Both), 4);
        // Under a factor of two: no scaling; only upscaling: none.
        assert_eq!(f(&photo, 2500, 2500, Interesting::Centre, Size::Both), 1);
        assert_eq!(f(&photo, 100, 100, Interesting::None, Size::Up), 1);
        // Forced to 2000x300: the smaller shrink (2) bounds it.
        assert_eq!(f(&photo, 2000, 300, Interesting::None, Size::Force), 2);
        // A quarter turn (orientation 6): 3000 wide once turned, so a
        // 1400x1900 cover shrinks by min(2.1, 2.1) -> 2, not min(2.9, 1.6).
        let turned = photo.with_meta(|m| m.set_int("orientation", 6)).unwrap();
        assert_eq!(f(&turned, 1400, 1900, Interesting::Centre, Size::Both), 2);
        assert_eq!(f(&photo, 1400, 1900, Interesting::Centre, Size::Both), 1);
    }
}
