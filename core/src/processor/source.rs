//! The input of one processing call: encoded bytes (copied or shared with
//! libvips, trimmed of what would make a decoder overrun), a body still
//! arriving, or packed pixels.

use std::sync::Arc;

use super::decode::Encoded;
use super::jpeg_markers;
use crate::arriving::Body;
use crate::budget::Holding;
use crate::error::{Error, Result};
use crate::format::{sniff, ImageFormat, Sniffed};
use crate::options::Options;
use crate::vips::{BandFormat, Blob, Image, Interpretation};

/// The input of one processing call.
pub(crate) enum Source {
    /// Encoded bytes, copied once into a libvips blob.
    Bytes {
        /// The bytes, owned by libvips.
        blob: Blob,
        /// imagor's view of the type.
        sniffed: Sniffed,
    },
    /// A JPEG or PNG still arriving, decoded as it arrives
    /// ([`Source::arriving`]).
    Arriving {
        /// The bytes, as they arrive.
        body: Arc<Body>,
        /// imagor's view of the type (from the head).
        sniffed: Sniffed,
        /// The first bytes: the headers the checks read.
        head: Vec<u8>,
    },
    /// Packed 8-bit pixels (imagor's in-memory blob).
    Pixels {
        /// The pixel image.
        image: Image,
    },
}

impl Source {
    /// Encoded bytes (a PNG without any chunk that runs past its end, nor
    /// compressed text past its budget: [`super::png_chunks`]; a JPEG
    /// without metadata segments past libjpeg's: [`super::jpeg_markers`]).
    pub(crate) fn bytes(data: &[u8]) -> Source {
        let sniffed = sniff(data);
        let blob = match sniffed.format {
            Some(ImageFormat::Png) => {
                png_blob(super::png_chunks::whole_chunks(data), Blob::copy_from)
            }
            Some(ImageFormat::Tiff) => match crate::probe::tiff_next_page_field(data) {
                Some(link) => Blob::sharing(bytes::Bytes::from(first_page_only(data, link))),
                None => Blob::copy_from(data),
            },
            Some(ImageFormat::Jpeg) if jpeg_markers::has_excess(data) => {
                Blob::sharing(bytes::Bytes::from(jpeg_markers::without_excess(data)))
            }
            _ => Blob::copy_from(data),
        };
        Source::Bytes { sniffed, blob }
    }

    /// As [`Source::bytes`], sharing `data` with libvips instead of copying
    /// it (sources the server loaded). A TIFF of several pages and a JPEG
    /// with too many metadata segments are the exceptions: libvips gets a
    /// copy that ends after the first page, or lacks the excess segments,
    /// the room for which is reserved first in the call's pool (429 or 422
    /// without it).
    pub(crate) fn shared(data: &bytes::Bytes) -> Result<Source> {
        let sniffed = sniff(data);
        let blob = match sniffed.format {
            Some(ImageFormat::Png) => png_blob(super::png_chunks::whole_chunks(data), |whole| {
                Blob::sharing(data.slice_ref(whole))
            }),
            Some(ImageFormat::Tiff) => match crate::probe::tiff_next_page_field(data) {
                Some(link) => reserved_copy("a first-page copy of the TIFF", data, |d| {
                    first_page_only(d, link)
                })?,
                None => Blob::sharing(data.clone()),
            },
            Some(ImageFormat::Jpeg) if jpeg_markers::has_excess(data) => reserved_copy(
                "a copy of the JPEG without its excess metadata",
                data,
                jpeg_markers::without_excess,
            )?,
            _ => Blob::sharing(data.clone()),
        };
        Ok(Source::Bytes { sniffed, blob })
    }

    /// A body still arriving. Decoded as it arrives when its decoder reads
    /// front to back in one pass and every check can be made on its first
    /// bytes ([`streams_while_arriving`]); anything else, and any source
    /// under a strict `fail_on` (its truncation check needs the end), is
    /// waited for and then loaded as bytes.
    pub(crate) fn arriving(body: Arc<Body>, opts: &Options) -> Result<Source> {
        // Waits for bytes without this request's processing slot (a slow
        // origin holds none), as reads of the body do.
        let head = crate::serve::slots::released_while(|| body.head(HEAD_BYTES))?;
        let sniffed = sniff(&head);
        if super::decode::fail_on_nick(&opts.fail_on).is_none()
            && streams_while_arriving(sniffed.format, &head)
        {
            return Ok(Source::Arriving {
                body,
                sniffed,
                head,
            });
        }
        Source::shared(&crate::serve::slots::released_while(|| body.whole())?)
    }

    /// The encoded input, its type and the bytes known now (all of them,
    /// or the head of an arriving body).
    pub(super) fn encoded(&self) -> Option<(Encoded<'_>, &Sniffed, &[u8])> {
        match self {
            Source::Bytes { blob, sniffed } => {
                Some((Encoded::Blob(blob), sniffed, blob.as_slice()))
            }
            Source::Arriving {
                body,
                sniffed,
                head,
            } => Some((Encoded::Arriving(body), sniffed, head)),
            Source::Pixels { .. } => None,
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
        self.encoded().and_then(|(_, sniffed, _)| sniffed.format)
    }

    /// GIF or WebP.
    pub(crate) fn supports_animation(&self) -> bool {
        self.encoded()
            .is_some_and(|(_, sniffed, _)| sniffed.supports_animation)
    }

    pub(super) fn is_multi_page(&self, n: i32, page: i32) -> bool {
        (self.supports_animation() || self.format() == Some(ImageFormat::Pdf))
            && ((n != 1 && n != 0) || (page != 1 && page != 0))
    }
}

/// How much of an arriving body is read before deciding how to load it:
/// enough for the headers of nearly every JPEG (EXIF, ICC and XMP come
/// before the frame) and PNG.
const HEAD_BYTES: usize = 256 << 10;

/// Can a source of `format` starting with `head` be decoded while it
/// arrives, with every check made on `head`? A sequential JPEG whose first
/// scan carries every component is decoded in one pass (libjpeg refuses a
/// second scan in such a file, so no scan count can grow later), and a PNG
/// without interlacing row by row. Progressive and multi-scan JPEGs
/// (their cost depends on every scan), interlaced PNGs, animations and
/// the rest wait for the whole body.
pub(crate) fn streams_while_arriving(format: Option<ImageFormat>, head: &[u8]) -> bool {
    match format {
        Some(ImageFormat::Jpeg) => {
            crate::vips::has_operation("jpegload_source") && crate::probe::jpeg_single_pass(head)
        }
        Some(ImageFormat::Png) => {
            // IHDR first: its interlace method is byte 12 of its data.
            crate::vips::has_operation("pngload_source")
                && head.len() > 28
                && &head[12..16] == b"IHDR"
                && head[28] == 0
                && super::png_chunks::head_chunks_end(head)
        }
        _ => false,
    }
}

/// What `copy` makes of `data` for libvips, its room (the size of `data`)
/// reserved first in the call's pool: 429 or 422 without it.
fn reserved_copy(
    what: &'static str,
    data: &[u8],
    copy: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<Blob> {
    let room = Holding::for_this_call(what);
    room.grow_to(data.len() as u64)?;
    Ok(Blob::sharing(room.into_bytes(copy(data))?))
}

/// A copy of a TIFF whose first page links to no other (`link`: where it
/// says where the second is, [`crate::probe::tiff_next_page_field`]).
/// Only the first page of a TIFF is ever loaded, but libtiff walks every
/// page to count them, in one step no deadline interrupts.
fn first_page_only(data: &[u8], link: std::ops::Range<usize>) -> Vec<u8> {
    let mut copy = data.to_vec();
    copy[link].fill(0);
    copy
}

/// A PNG's whole chunks as libvips gets them: `as_is` unless compressed
/// text past its budget must go, which takes a copy without it.
fn png_blob(whole: &[u8], as_is: impl FnOnce(&[u8]) -> Blob) -> Blob {
    match super::png_chunks::within_text_budget(whole) {
        Some(kept) => Blob::sharing(bytes::Bytes::from(kept)),
        None => as_is(whole),
    }
}
