//! Loading a source into a libvips image, as imagor's `NewThumbnail` and
//! `NewImage` do: shrink-on-load where the format allows it, frame and page
//! selection for GIF/WebP/PDF, and the resolution limits checked on the
//! header, before any pixel is decoded (libvips decodes lazily).

use crate::error::{Error, Result};
use crate::format::{sniff, ImageFormat, Sniffed};
use crate::ops::limits::check_resolution;
use crate::options::Options;
use crate::vips::{Arg, BandFormat, Blob, Call, Image, Interesting, Interpretation, Size};

/// The buffer loader of each format we sniff (BMP is decoded in Rust).
fn loader_of(format: ImageFormat) -> Option<&'static str> {
    Some(match format {
        ImageFormat::Jpeg => "jpegload_buffer",
        ImageFormat::Png => "pngload_buffer",
        ImageFormat::Gif => "gifload_buffer",
        ImageFormat::Webp => "webpload_buffer",
        ImageFormat::Avif | ImageFormat::Heif => "heifload_buffer",
        ImageFormat::Jxl => "jxlload_buffer",
        ImageFormat::Tiff => "tiffload_buffer",
        ImageFormat::Jp2 => "jp2kload_buffer",
        ImageFormat::Svg => "svgload_buffer",
        ImageFormat::Pdf => "pdfload_buffer",
        ImageFormat::Bmp => return None,
    })
}

/// The input of one processing call.
pub(crate) enum Source {
    /// Encoded bytes, copied once into a libvips blob.
    Bytes {
        /// The bytes, owned by libvips.
        blob: Blob,
        /// imagor's view of the type.
        sniffed: Sniffed,
    },
    /// Packed 8-bit pixels (imagor's in-memory blob).
    Pixels {
        /// The pixel image.
        image: Image,
    },
}

impl Source {
    /// Encoded bytes.
    pub(crate) fn bytes(data: &[u8]) -> Source {
        Source::Bytes {
            sniffed: sniff(data),
            blob: Blob::copy_from(data),
        }
    }

    /// Packed 8-bit pixels, `bands` per pixel (1 to 4).
    pub(crate) fn pixels(data: &[u8], width: i32, height: i32, bands: i32) -> Result<Source> {
        if !(1..=4).contains(&bands) || width <= 0 || height <= 0 {
            return Err(Error::invalid_msg(
                "pixels: width, height must be positive and bands 1..=4",
            ));
        }
        let expected = width as usize * height as usize * bands as usize;
        if data.len() != expected {
            return Err(Error::invalid_msg(format!(
                "pixels: expected {expected} bytes for {width}x{height}x{bands}, got {}",
                data.len()
            )));
        }
        let mut image = Image::from_memory(data, width, height, bands, BandFormat::UCHAR)?;
        if bands >= 3 {
            image = image.copy_as(Some(Interpretation::SRGB))?;
        }
        Ok(Source::Pixels { image })
    }

    /// The sniffed format (`None` for raw pixels or unknown bytes).
    pub(crate) fn format(&self) -> Option<ImageFormat> {
        match self {
            Source::Bytes { sniffed, .. } => sniffed.format,
            Source::Pixels { .. } => None,
        }
    }

    /// GIF or WebP.
    pub(crate) fn supports_animation(&self) -> bool {
        matches!(self, Source::Bytes { sniffed, .. } if sniffed.supports_animation)
    }

    fn is_multi_page(&self, n: i32, page: i32) -> bool {
        (self.supports_animation() || self.format() == Some(ImageFormat::Pdf))
            && ((n != 1 && n != 0) || (page != 1 && page != 0))
    }
}

/// Loader options (imagor's `vips.LoadOptions`), each passed only to
/// loaders that know it.
#[derive(Debug, Clone, Copy, Default)]
struct LoadOpts {
    n: i32,
    page: i32,
    dpi: i32,
    thumbnail: bool,
    unlimited: bool,
}

impl LoadOpts {
    /// imagor's `applyMultiPageOptions`: negative numbers carry "reload
    /// with exactly this page / count" from a first counting pass.
    fn multi_page(mut self, n: i32, page: i32) -> Self {
        if page < -1 {
            self.page = -page - 1;
        } else if n < -1 {
            self.n = -n;
        } else {
            self.n = -1;
        }
        self
    }

    fn option_string(&self, loader: &str) -> String {
        let has = |arg: &str| crate::vips::operation_has_arg(loader, arg);
        let mut parts = Vec::new();
        if self.n != 0 && has("n") {
            parts.push(format!("n={}", self.n));
        }
        if self.page != 0 && has("page") {
            parts.push(format!("page={}", self.page));
        }
        if self.dpi != 0 && has("dpi") {
            parts.push(format!("dpi={}", self.dpi));
        }
        if self.unlimited && has("unlimited") {
            parts.push("unlimited=true".to_owned());
        }
        if self.thumbnail && has("thumbnail") {
            parts.push("thumbnail=true".to_owned());
        }
        parts.join(",")
    }
}

/// Loads sources under the limits of one [`Options`].
pub(crate) struct Loader<'a> {
    pub(crate) opts: &'a Options,
}

impl Loader<'_> {
    /// [`check_resolution`] under this loader's options.
    fn check_resolution(&self, img: &Image) -> Result<()> {
        check_resolution(img, self.opts)
    }

    fn base_opts(&self, source: &Source, dpi: i32) -> LoadOpts {
        LoadOpts {
            dpi: dpi.max(0),
            unlimited: self.opts.unlimited,
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
            let img = self.load(source, opts.multi_page(n, page))?;
            self.check_resolution(&img)?;
            if n > 1 || page > 1 {
                let (n, page) = clamp_to_pages(&img, n, page);
                return self.image(source, -n, -page, dpi);
            }
            return Ok(img);
        }
        let img = self.load(source, opts)?;
        self.check_resolution(&img)?;
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
        // Sources libvips can shrink while loading get their header read
        // once: for the decode guard, and to see whether a GIF or WebP asked
        // for all its frames has only one, which then takes the
        // shrink-on-load path (same pixels, no full-size decode).
        let (shrink_loader, single_frame) = match source {
            Source::Bytes { blob, sniffed } if shrinks_on_load(sniffed.format) => {
                let loader = self.loader_for(blob, sniffed)?;
                let header = call_loader(&loader, blob, LoadOpts { n: 1, ..opts })?;
                self.check_decode_guard(&header, sniffed.format)?;
                // The header is released before decoding starts: a WebP
                // loader holds decoder state for as long as it lives.
                (Some(loader), header.n_pages() == 1)
            }
            _ => (None, false),
        };
        let multi_page = source.is_multi_page(n, page) && !(page <= 1 && single_frame);
        let img = if multi_page {
            let img = self.load(source, opts.multi_page(n, page))?;
            if n > 1 || page > 1 {
                let (n, page) = clamp_to_pages(&img, n, page);
                return self.thumbnail(source, width, height, crop, size, -n, -page, dpi);
            }
            self.check_resolution(&img)?;
            if crop == Interesting::None || size == Size::Force {
                img.thumbnail_image(width, height, size, crop)?
            } else {
                animated_thumbnail_with_crop(&img, width, height, crop, size, self.opts)?
            }
        } else {
            match (source, &shrink_loader) {
                (Source::Bytes { blob, .. }, Some(loader)) => {
                    let thumb = ThumbnailCall {
                        width,
                        height,
                        crop,
                        size,
                    };
                    thumbnail_buffer(blob, loader, &thumb, opts)?
                }
                _ => {
                    let img = self.load(source, opts)?;
                    self.check_resolution(&img)?;
                    img.thumbnail_image(width, height, size, crop)?
                }
            }
        };
        self.check_resolution(&img)?;
        Ok(img)
    }

    /// Pixels a shrink-on-load decode may touch. imagor checks only the
    /// thumbnail of JPEG, GIF, WebP and HEIF/AVIF sources, so those may
    /// exceed the limits, but not by more than the factor their decoders can
    /// shrink while loading (GIF cannot). PNG is checked as imagor checks
    /// it: the whole image (imagor loads PNG fully; libvips' PNG thumbnail
    /// gives the same pixels while streaming the decode).
    fn check_decode_guard(&self, header: &Image, format: Option<ImageFormat>) -> Result<()> {
        if self.opts.unlimited {
            return Ok(());
        }
        if format == Some(ImageFormat::Png) {
            return self.check_resolution(header);
        }
        let factor: i64 = match format {
            Some(ImageFormat::Gif) => 1,
            _ => 16,
        };
        let pixels = header.width() as i64 * header.page_height() as i64;
        if pixels > self.opts.max_resolution.saturating_mul(factor) {
            return Err(Error::MaxResolutionExceeded);
        }
        Ok(())
    }

    /// The libvips loader for a source. With `block_untrusted_loaders` (the
    /// default) only the loaders of the formats we sniff are used, so unknown
    /// bytes never reach libvips' own sniffers (ImageMagick's among them).
    fn loader_for(&self, blob: &Blob, sniffed: &Sniffed) -> Result<String> {
        if sniffed.type_name == "empty" {
            return Err(Error::NotFound);
        }
        if sniffed.is_raw {
            // Camera RAW needs libvips' dcrawload (8.16+ with libraw).
            return Err(Error::UnsupportedFormat);
        }
        if let Some(loader) = sniffed.format.and_then(loader_of) {
            return Ok(loader.to_owned());
        }
        if self.opts.block_untrusted_loaders {
            return Err(Error::UnsupportedFormat);
        }
        Image::find_loader(blob.as_slice()).ok_or(Error::UnsupportedFormat)
    }

    /// A lazy load of the whole source (pixels decode on demand).
    fn load(&self, source: &Source, opts: LoadOpts) -> Result<Image> {
        match source {
            Source::Pixels { image } => Ok(image.clone()),
            Source::Bytes { blob, sniffed } => {
                if sniffed.format == Some(ImageFormat::Bmp) {
                    return super::bmp::decode(blob.as_slice(), self);
                }
                let loader = self.loader_for(blob, sniffed)?;
                call_loader(&loader, blob, opts)
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

/// The target of a shrink-on-load thumbnail.
struct ThumbnailCall {
    width: i32,
    height: i32,
    crop: Interesting,
    size: Size,
}

/// Shrink-on-load through libvips' `thumbnail_buffer`.
fn thumbnail_buffer(blob: &Blob, loader: &str, t: &ThumbnailCall, opts: LoadOpts) -> Result<Image> {
    let option_string = opts.option_string(loader);
    let mut call = Call::new("thumbnail_buffer")
        .arg("buffer", Arg::Blob(blob))
        .arg("width", Arg::Int(t.width.max(1).into()))
        .arg("height", Arg::Int(t.height.max(1).into()))
        .arg("size", Arg::Nick(t.size.nick()))
        .arg("crop", Arg::Nick(t.crop.nick()));
    if !option_string.is_empty() {
        call = call.arg("option-string", Arg::Str(&option_string));
    }
    call.run().and_then(|o| o.out()).map_err(load_error)
}

fn call_loader(loader: &str, blob: &Blob, opts: LoadOpts) -> Result<Image> {
    let mut call = Call::new(loader).arg("buffer", Arg::Blob(blob));
    if opts.n != 0 {
        call = call.arg_if_supported("n", Arg::Int(opts.n.into()));
    }
    if opts.page != 0 {
        call = call.arg_if_supported("page", Arg::Int(opts.page.into()));
    }
    if opts.dpi != 0 {
        call = call.arg_if_supported("dpi", Arg::Double(opts.dpi.into()));
    }
    if opts.unlimited {
        call = call.arg_if_supported("unlimited", Arg::Bool(true));
    }
    if opts.thumbnail {
        call = call.arg_if_supported("thumbnail", Arg::Bool(true));
    }
    call.run().and_then(|o| o.out()).map_err(load_error)
}

/// imagor turns every failed load into 406 "unsupported format" (its BMP
/// fallback answers so for anything that is not a BMP).
fn load_error(e: Error) -> Error {
    match e {
        Error::Processing(_) | Error::UnsupportedFormat => Error::UnsupportedFormat,
        other => other,
    }
}

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
    let resized = if w as f64 / h as f64 > img.width() as f64 / img.page_height() as f64 {
        img.thumbnail_image(w, opts.max_height, size, Interesting::None)?
    } else {
        img.thumbnail_image(opts.max_width, h, size, Interesting::None)?
    };
    let (left, top) = match crop {
        Interesting::High => (resized.width() - w, resized.page_height() - h),
        Interesting::Centre | Interesting::Attention => {
            ((resized.width() - w) / 2, (resized.page_height() - h) / 2)
        }
        _ => (0, 0),
    };
    crate::ops::multipage::extract_area(&resized, left, top, w, h)
}
