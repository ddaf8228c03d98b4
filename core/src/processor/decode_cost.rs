//! What a decode will cost before it starts (which decoder runs is
//! [`super::decode`]'s choice).
//!
//! The estimates follow what each decoder really allocates and how often
//! it passes over the data, read from the header libvips gives and from
//! [`crate::probe`]: a multi-scan JPEG buffers every DCT coefficient at full
//! size (whatever the shrink-on-load factor) and makes one pass per scan; an
//! interlaced PNG, a lossless WebP, HEIF/AVIF and JPEG XL decode whole
//! images; OpenJPEG decodes whole tiles into 32-bit samples; animations
//! decode every frame. The pipeline charges them to the call's
//! [`Budget`] before any pixel is decoded.

use super::yuv::Layout;
use crate::budget::{Budget, Cost};
use crate::error::{Error, Result};
use crate::format::ImageFormat;
use crate::probe;
use crate::vips::{BandFormat, Image};

/// How a decode will use its pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// libvips shrinks while decoding, streaming rows.
    Shrink,
    /// The whole image, held in memory for random access (trim, rotate,
    /// flips, smart crop on the full image ...).
    Full,
}

/// Bytes per band of a libvips band format.
fn band_bytes(format: i32) -> u64 {
    match format {
        BandFormat::UCHAR | BandFormat::CHAR => 1,
        BandFormat::USHORT | BandFormat::SHORT => 2,
        BandFormat::DOUBLE => 8,
        9 | 10 => 16, // complex, dpcomplex
        _ => 4,
    }
}

/// Bytes a pixel libheif holds, per byte of sample depth (1 for 8 bits, 2
/// deeper), by the chroma layout an AVIF's `av1C` declares: 4:2:0 (and
/// monochrome) 9, 13 with alpha (measured 7.6-8.2 and 11.5-12.8 with the
/// resize); anything else, or unknown (HEIF, a file our reader of boxes
/// does not take), as 4:4:4: 14 and 16. The declaration need not be the
/// stream's, and libheif decodes what the stream says: a file declaring
/// 4:2:0 over a 4:4:4 stream holds up to 1.6 times its charge with the
/// system libheif; our own AV1 path charges the difference before leaving
/// such a file to libheif ([`super::still_avif`]).
pub(crate) fn heif_bytes_per_sample_byte(layout: Option<Layout>, alpha: bool) -> u64 {
    match (layout, alpha) {
        (Some(Layout::I420 | Layout::Mono), false) => 9,
        (Some(Layout::I420 | Layout::Mono), true) => 13,
        (_, false) => 14,
        (_, true) => 16,
    }
}

/// Nanoseconds per pixel of each decoder (measured throughputs rounded
/// down: `core/examples/calibrate_budget.rs`).
fn decode_ns_per_pixel(format: Option<ImageFormat>, lossless_webp: bool) -> f64 {
    match format {
        Some(ImageFormat::Jpeg) => 4.0,
        Some(ImageFormat::Png) => 8.0,
        Some(ImageFormat::Webp) if lossless_webp => 12.0,
        Some(ImageFormat::Webp) => 8.0,
        Some(ImageFormat::Gif) => 3.0,
        // dav1d: 34 ns a pixel for 8-bit RGB at 4:2:0 (16 MP, two threads),
        // 44 at 4:4:4, 53 RGBA, 79 lossless; libde265: 72.
        Some(ImageFormat::Avif) => 45.0,
        Some(ImageFormat::Heif) => 75.0,
        // libjxl: 35-77 lossy, 115-213 lossless, with alpha or 16-bit.
        Some(ImageFormat::Jxl) => 60.0,
        Some(ImageFormat::Jp2) => 40.0,
        Some(ImageFormat::Pdf) => 10.0,
        Some(ImageFormat::Tiff) => 3.0,
        _ => 3.0,
    }
}

/// Nanoseconds per coded byte beyond the per-pixel rate, for decoders
/// whose cost follows the size of the coded stream.
fn decode_ns_per_byte(format: Option<ImageFormat>, lossless_webp: bool) -> f64 {
    match format {
        Some(ImageFormat::Webp) if !lossless_webp => 50.0,
        Some(ImageFormat::Avif | ImageFormat::Heif) => 35.0,
        _ => 0.0,
    }
}

/// Charge the decode of `header` (a lazy load of `data`) to `budget`:
/// refuse it when it needs more memory than `max_memory` or more time than
/// `process_timeout` allows.
pub(super) fn admit(
    budget: &Budget,
    data: &[u8],
    format: Option<ImageFormat>,
    header: &Image,
    access: Access,
) -> Result<()> {
    let w = header.width().max(0) as u64;
    let page_h = header.page_height().max(0) as u64;
    let frames = header.frames().max(1) as u64;
    let bpp = header.bands().max(1) as u64 * band_bytes(header.format());
    let frame_px = w * page_h;
    let all_px = frame_px * frames;
    let whole = all_px * bpp;
    let interlaced = header.get_int("interlaced").unwrap_or(0) != 0;
    let alpha = matches!(header.bands(), 2 | 4);
    let webp = (format == Some(ImageFormat::Webp))
        .then(|| probe::webp(data))
        .flatten();
    let lossless_webp = webp.is_some_and(|f| f.lossless);
    let jpeg = (format == Some(ImageFormat::Jpeg))
        .then(|| probe::jpeg(data))
        .flatten();
    let avif_still = (format == Some(ImageFormat::Avif))
        .then(|| super::avif_items::plain_still(data))
        .flatten();
    // Frames an AV1 item's data codes beyond the one shown: each is decoded
    // in full, in one call, and the decoder holds up to eight of them as
    // references. Outside a plain still, at the image's size.
    let extra_frame_px = match (&avif_still, format) {
        (Some(still), _) => still.extra_frame_pixels(),
        (None, Some(ImageFormat::Avif | ImageFormat::Heif)) => {
            super::avif_items::most_extra_frames(data).saturating_mul(frame_px)
        }
        _ => 0,
    };

    // Memory a decoder allocates whatever the access. HEIF and AVIF (libheif
    // 1.15 with dav1d or libde265, 16 MP, peak RSS) hold the coded planes
    // twice and the interleaved result: 7.6 bytes a pixel for 8-bit RGB at
    // 4:2:0, 11.5 RGBA, 9.3 lossless, 8.8 HEVC; 13.9 RGB, 14.3 RGBA and
    // 24.8 12-bit RGB or RGBA at 4:4:4 ([`heif_bytes_per_sample_byte`]).
    // libjxl decodes into 32-bit floats whatever the output: 6.5 bytes a
    // pixel for lossy RGB, 15 lossless, 16 lossy grey, 20 lossless RGBA,
    // 32 lossless 16-bit RGB, 39 lossy RGBA and 50 lossy grey with alpha.
    let mut memory = match format {
        // Headers the probe could not read are charged as the worst case
        // libjpeg could be decoding: multi-scan, three components at 4:4:4.
        Some(ImageFormat::Jpeg) => match &jpeg {
            Some(f) if f.width > 0 => f.coefficient_bytes(),
            _ => w.div_ceil(8) * page_h.div_ceil(8) * 3 * 64 * 2,
        },
        Some(ImageFormat::Png) if interlaced => whole,
        Some(ImageFormat::Webp) if lossless_webp => {
            let canvas = webp.map_or(frame_px, |f| f.width as u64 * f.height as u64);
            canvas.max(frame_px) * 4
        }
        Some(ImageFormat::Avif | ImageFormat::Heif) => {
            let layout = avif_still.as_ref().map(|still| still.coded.0);
            let per_byte = heif_bytes_per_sample_byte(layout, alpha);
            frame_px.saturating_mul(per_byte * band_bytes(header.format()))
        }
        Some(ImageFormat::Jxl) => {
            frame_px.saturating_mul(if alpha { 52 } else { 16 } * band_bytes(header.format()))
        }
        Some(ImageFormat::Pdf) => frame_px * bpp,
        Some(ImageFormat::Jp2) => probe::jp2(data).map_or(frame_px * bpp, |f| f.tile_bytes()),
        Some(ImageFormat::Gif) => frame_px * 4 * 2,
        // libtiff decodes a whole strip (or a row of tiles) at once, and
        // libvips copies it out.
        Some(ImageFormat::Tiff) => probe::tiff(data).map_or(0, |f| f.chunk_bytes() * 3 / 2),
        _ => 0,
    };
    if access == Access::Full {
        memory = memory.saturating_add(whole);
    }
    let references = extra_frame_px.min(frame_px.saturating_mul(8));
    memory = memory.saturating_add(references.saturating_mul(3 * band_bytes(header.format())));
    let what = format!(
        "decoding the {} image ({w}x{page_h}{})",
        format.map_or("source", ImageFormat::name),
        if frames > 1 {
            format!(", {frames} frames")
        } else if extra_frame_px > 0 {
            format!(", and {extra_frame_px} pixels of further frames its data codes")
        } else {
            String::new()
        }
    );
    budget.charge_memory(&what, memory)?;

    // Time: the pixels decoded, plus the passes of a multi-scan JPEG.
    let mut ns = decode_ns_per_pixel(format, lossless_webp);
    if interlaced && format == Some(ImageFormat::Png) {
        // Adam7 is decoded whole, in seven passes, in one library call
        // that cannot be interrupted: estimate on the high side.
        ns = 30.0;
    }
    if frames > 1 && format == Some(ImageFormat::Webp) && access == Access::Full {
        // Every frame of an animated WebP held at full size (a flip, a
        // trim, a crop: shrinking loads are scaled or small), measured 170-310
        // ns a pixel (4000 frames of 142x142: 14-25 s), in steps libvips
        // interrupts only after seconds. Large animations are scaled while
        // they load where they can be ([`super::load`]).
        ns = ns.max(ANIMATED_WEBP_NS);
    }
    // Per-pixel work grows with the bands (TIFF may have thousands).
    ns *= (bpp as f64 / 3.0).max(1.0);
    let mut cost = Cost::per_pixel(all_px as f64 + extra_frame_px as f64, ns);
    // Bands beyond RGBA: every later pass (resize, colour) carries them.
    let extra_bands = (header.bands() - 4).max(0) as f64;
    cost += Cost::per_pixel(all_px as f64 * extra_bands, 5.0);
    if frames > 1 {
        cost += Cost::per_pixel(frames as f64, frame_overhead_ns(format));
    }
    // Entropy decoding reads every coded byte, shrunk or not, and noise
    // codes far more of them a pixel than a photo: a lossy WebP of 9000x9000
    // noise (77 MB) took 4.5 s of CPU against 0.65 s at its pixels' rate,
    // so 50 ns a byte beyond; HEVC and AV1 noise (23 and 28 MB for
    // 4300x4300) 18-38 ns a byte beyond theirs (charged 35).
    // (A WebP's own chunks say which bytes are coded: padding chunks and
    // bytes past the RIFF are read by no decoder.)
    let coded = webp.as_ref().map_or(data.len() as u64, |f| f.coded);
    cost += Cost::per_pixel(coded as f64, decode_ns_per_byte(format, lossless_webp));
    if let Some(f) = &jpeg {
        // Entropy decoding touches every coefficient, shrunk or not.
        cost += Cost::per_pixel(f.width as f64 * f.height as f64, 1.0);
        if f.scans > 1 {
            cost += Cost::per_pixel(f.blocks() as f64 * f.scans as f64, 30.0);
        }
    }
    admit_profile(budget, header)?;
    budget.charge_time(&what, cost)
}

/// Refuse a source whose embedded ICC profile alone would take more than
/// the time left to build a colour transform from (`to_colorspace`, the
/// sRGB conversion of `/meta` colours, thumbhash, detectors): LittleCMS
/// evaluates every processing element at every point of its grid, in one
/// call nothing interrupts. A profile of 1 000 elements took 1.09 s, of
/// 10 000 about 11 s. Nothing is added to the call's total: most calls
/// never build one.
fn admit_profile(budget: &Budget, header: &Image) -> Result<()> {
    let Some(profile) = header.get_blob("icc-profile-data") else {
        return Ok(());
    };
    let elements = probe::icc_processing_elements(&profile);
    if elements == 0 {
        return Ok(());
    }
    let cost = Cost::per_pixel(elements as f64, ICC_ELEMENT_NS);
    budget.charge_time(
        &format!(
            "a colour transform through the embedded ICC profile \
             ({elements} processing elements)"
        ),
        cost,
    )?;
    budget.settle(cost, std::time::Duration::ZERO);
    Ok(())
}

/// Nanoseconds LittleCMS takes per processing element of a profile to
/// build one transform (its grid of samples, 1.09 ms measured).
const ICC_ELEMENT_NS: f64 = 1_200_000.0;

/// What reading the header of a WebP costs (`None` when it is nothing to
/// speak of, or another format): the time and the memory, and what is
/// being read. libvips indexes every frame through libwebp's demuxer, whose
/// lookup of frame `i` walks the `i` before it, inside one call nothing
/// interrupts. 10 000 frames of 1x1 took 0.13 s, 20 000 0.39 s, 100 000
/// about 9 s (so 10 us a frame and 1 ns per frame squared, on the high
/// side), whatever the frames' size: a file of 4.6 MB. The demuxer also
/// allocates a record for every other chunk of an extended file, unknown
/// ones included, in the same call: 8 bytes of file (an empty chunk) cost
/// up to 80 bytes of memory and about 40 ns, so a 250 MB file of empty
/// chunks took 1.5 GB before any charge refused it.
pub(super) fn webp_index_cost(
    data: &[u8],
    format: Option<ImageFormat>,
) -> Option<(String, Cost, u64)> {
    if format != Some(ImageFormat::Webp) {
        return None;
    }
    let facts = probe::webp(data)?;
    let frames = u64::from(facts.frames);
    let chunks = facts.chunks.saturating_sub(frames);
    if frames <= 1 && chunks <= WEBP_CHUNKS_FREE {
        return None;
    }
    let n = frames as f64;
    let mut cost = Cost::per_pixel(n, 10_000.0) + Cost::per_pixel(n * n, 1.0);
    let mut what = format!("indexing the {frames} frames of the webp image");
    let mut memory = 0;
    if chunks > WEBP_CHUNKS_FREE {
        cost += Cost::per_pixel(chunks as f64, WEBP_CHUNK_NS);
        memory = chunks.saturating_mul(WEBP_CHUNK_BYTES);
        what = format!("indexing the {} chunks of the webp image", facts.chunks);
    }
    Some((what, cost, memory))
}

/// What reading the header of a HEIF or AVIF file costs in libheif 1.15
/// (`None` when it is nothing to speak of, or another format), and what is
/// being read: linking its items to their properties and references takes
/// time that grows with the square of their number, in the one call that
/// reads the header, which nothing interrupts. A grid of 141x141 tiles of
/// 8x8 (19 882 items, an 855 KB file) took 12.7 s of CPU, 10 001 items
/// 3.1-3.4 s: 32-34 ns per item squared over a call's header reads.
pub(super) fn heif_index_cost(data: &[u8], format: Option<ImageFormat>) -> Option<(String, Cost)> {
    if !matches!(format, Some(ImageFormat::Heif | ImageFormat::Avif)) {
        return None;
    }
    let items = probe::heif_items(data)?;
    (items > HEIF_ITEMS_FREE).then(|| {
        let n = items as f64;
        (
            format!(
                "reading the {items} items of the {} image",
                format.map_or("heif", ImageFormat::name)
            ),
            Cost::per_pixel(n * n, HEIF_ITEM_PAIR_NS),
        )
    })
}

/// What reading the header of a TIFF costs (`None` when it is nothing to
/// speak of, or another format): libtiff 4.5 registers each tag it does not
/// know as it reads a directory, merging and sorting its whole table of
/// fields again for every one, inside the one call that opens the file,
/// which nothing interrupts. A 49 KB TIFF of one pixel whose first IFD
/// holds 4 087 private tags (libtiff reads at most 4 096 entries) took
/// 0.35-0.4 s per open, and libvips opens a file two or three times per
/// load: a 408 at a 100 ms deadline came after 0.8 s, and an overlay of
/// it ran 0.5 s past a 2 s budget. About 24 ns per entry squared per open.
pub(super) fn tiff_index_cost(data: &[u8], format: Option<ImageFormat>) -> Option<(String, Cost)> {
    if format != Some(ImageFormat::Tiff) {
        return None;
    }
    let entries = probe::tiff(data)?.entries;
    (entries > TIFF_ENTRIES_FREE).then(|| {
        let n = entries as f64;
        (
            format!("reading the {entries} tags of the tiff image"),
            Cost::per_pixel(n * n, TIFF_ENTRY_PAIR_NS),
        )
    })
}

/// What the metadata a header read copies costs (`None` when it is nothing
/// to speak of, or the format holds none beyond a small bound): TIFF tags,
/// WebP chunks and HEIF/AVIF `meta` boxes may be as long as the file, and
/// are read whole, then copied into the image's metadata (an ICC profile
/// is copied again for each of its readers, and into the output), in
/// calls nothing interrupts. A 64x64 TIFF holding a 100 MB ICC profile
/// took 860 MB of RSS (a 100 MB file without took 245 MB), 2.2 s writing
/// WebP and 963 MB; a WebP's 100 MB `ICCP` chunk 657 MB; an AVIF's 100 MB
/// `colr` box, which libheif reads a byte at a time, 4.2-6 s of a 2 s
/// budget; a PNG's 50 MB `iTXt` of XMP 502 MB writing WebP (245 MB
/// without). A JPEG's segments are 64 KB each, but libjpeg keeps all it
/// saves for libvips (up to 1024 of them, [`crate::probe::SAVED_MARKER_LIMIT`]):
/// 1000 APP1 segments of 64 KB grew a thumbnail's RSS by 190 MB beyond
/// the file, uncharged. Compressed PNG text ([`super::png_chunks`]) is
/// bounded already. The memory: what one header read holds and leaves,
/// [`METADATA_COPIES`] times the bytes ([`JPEG_MARKER_COPIES`] for JPEG).
pub(super) fn header_metadata_cost(
    data: &[u8],
    format: Option<ImageFormat>,
) -> Option<(String, Cost, u64)> {
    let copies = |bytes: u64| bytes.saturating_mul(METADATA_COPIES);
    let (bytes, ns, memory) = match format? {
        ImageFormat::Tiff => {
            let (copied, kept) = probe::tiff_metadata_bytes(data)?;
            let memory = copies(copied).saturating_add(kept.saturating_mul(TAG_COPIES));
            (copied.saturating_add(kept), TIFF_METADATA_NS, memory)
        }
        ImageFormat::Webp => {
            let bytes = probe::webp(data)?.metadata;
            (bytes, WEBP_METADATA_NS, copies(bytes))
        }
        ImageFormat::Heif | ImageFormat::Avif => {
            let bytes = probe::heif_meta_bytes(data)?;
            (bytes, HEIF_META_NS, copies(bytes))
        }
        ImageFormat::Png => {
            let bytes = super::png_chunks::metadata_bytes(data)?;
            (bytes, PNG_METADATA_NS, copies(bytes))
        }
        ImageFormat::Jpeg => {
            let bytes = probe::jpeg_saved_marker_bytes(data);
            let memory = bytes.saturating_mul(JPEG_MARKER_COPIES);
            (bytes, JPEG_METADATA_NS, memory)
        }
        _ => return None,
    };
    (bytes > METADATA_FREE).then(|| {
        (
            format!(
                "reading the {} of metadata in the header of the {} image",
                crate::budget::format_bytes(bytes),
                format.map_or("", ImageFormat::name)
            ),
            Cost::per_pixel(bytes as f64, ns),
            memory,
        )
    })
}

/// Copies of a TIFF tag value libvips does not copy: libtiff's read and
/// its stored field, at peak.
const TAG_COPIES: u64 = 2;

/// Metadata not worth a charge: real ICC profiles are at most a few MB.
const METADATA_FREE: u64 = 1 << 20;
/// Copies of the metadata a call holds at once: the decoder's, libvips'
/// and ours, and more on the way to the output (measured 2-3x for a header
/// read alone, 4-7x over a call of two; a 64x64 TIFF with a 48 MB profile
/// to a PNG thumbnail peaked at 397 MB, 7x over the process's own, when 4x
/// was charged and it was let through).
const METADATA_COPIES: u64 = 7;
/// Copies of a JPEG's saved segments a call holds beyond its input:
/// libjpeg's list, at each of the two header reads of a thumbnail (1000
/// segments of 64 KB, Exif, XMP or neither: 190 MB over the file's 64 MB).
const JPEG_MARKER_COPIES: u64 = 3;
/// A JPEG's saved segments: 5 ns a byte for libjpeg to list them and
/// libvips to read them (in a debug build).
const JPEG_METADATA_NS: f64 = 5.0;
/// Nanoseconds per byte of metadata of one header read: TIFF 5.7 (a call
/// 16 over its reads and the output), WebP 3.
const TIFF_METADATA_NS: f64 = 8.0;
const WEBP_METADATA_NS: f64 = 4.0;
/// PNG: 12 a byte of XMP read and copied (libvips parses `eXIf` further,
/// stopped at the deadline).
const PNG_METADATA_NS: f64 = 16.0;
/// libheif reads a `colr` profile a byte at a time: 40-60 ns a byte.
const HEIF_META_NS: f64 = 50.0;

/// TIFF tags not worth a charge (a real file has a few dozen; 500 cost
/// 6 ms an open).
const TIFF_ENTRIES_FREE: u64 = 500;
/// Nanoseconds per entry squared charged per header read: one libtiff
/// directory read is 24, and libvips reads the directory again when it
/// opens the file for pixels, uncharged (1.1-1.2 s of CPU for a load
/// charged twice).
const TIFF_ENTRY_PAIR_NS: f64 = 40.0;

/// Items of a HEIF or AVIF file not worth a charge (40 ms at most).
const HEIF_ITEMS_FREE: u64 = 1000;
/// Nanoseconds per item squared of one of libheif's header reads (a call
/// reads the header twice, so its reads are charged 40 in all).
const HEIF_ITEM_PAIR_NS: f64 = 20.0;

/// Chunks of a WebP besides its frames that are not worth a charge (a real
/// file has a handful: VP8X, ICCP, EXIF, XMP, ANIM, ALPH).
const WEBP_CHUNKS_FREE: u64 = 1024;
/// Memory (a record, the allocator's overhead) and time libwebp's demuxer
/// spends on each chunk it keeps, charged at each header read: 24 MB of
/// empty chunks (3 million) grew a call's peak RSS by 159 MB more than 8 MB
/// did, on both libvips builds (80 bytes a chunk for its header reads
/// together, the copies of the input included). On the high side, as no
/// real file comes near [`WEBP_CHUNKS_FREE`].
const WEBP_CHUNK_BYTES: u64 = 80;
const WEBP_CHUNK_NS: f64 = 40.0;

/// CPU per decoded pixel of an animated WebP held at full size.
const ANIMATED_WEBP_NS: f64 = 170.0;

/// Nanoseconds each frame of an animation costs beyond its pixels:
/// animated WebP decodes and composites each frame through libwebp's
/// demuxer; GIF frames are cheaper.
fn frame_overhead_ns(format: Option<ImageFormat>) -> f64 {
    match format {
        Some(ImageFormat::Webp) => 150_000.0,
        Some(ImageFormat::Gif) => 20_000.0,
        _ => 0.0,
    }
}

/// Charge the frames an animation decodes before page `skipped + 1`:
/// libvips' GIF and WebP loaders reach a page by decoding and compositing
/// every frame before it, inside one call nothing interrupts, so a
/// `page(3000)` of a small file would run for many seconds. (Pages of
/// TIFF, PDF and HEIF are independent.) `header` is the page loaded.
pub(super) fn admit_skipped_frames(
    budget: &Budget,
    data: &[u8],
    format: Option<ImageFormat>,
    header: &Image,
    skipped: u64,
) -> Result<()> {
    if skipped == 0 || !matches!(format, Some(ImageFormat::Webp | ImageFormat::Gif)) {
        return Ok(());
    }
    let what = format!(
        "decoding the {} frames before page {}",
        skipped,
        skipped + 1
    );
    admit_frames(
        budget,
        data,
        format,
        (header.width(), header.page_height()),
        skipped,
        &what,
    )
}

/// Charge the decode of `frames` frames of `size` (width, page height) of
/// a GIF or WebP animation, at its decoder's rate per pixel and its
/// per-frame cost.
pub(super) fn admit_frames(
    budget: &Budget,
    data: &[u8],
    format: Option<ImageFormat>,
    size: (i32, i32),
    frames: u64,
    what: &str,
) -> Result<()> {
    let lossless =
        format == Some(ImageFormat::Webp) && probe::webp(data).is_some_and(|f| f.lossless);
    let frame_px = size.0.max(0) as f64 * size.1.max(0) as f64;
    let ns = decode_ns_per_pixel(format, lossless);
    let cost = Cost::per_pixel(frame_px * frames as f64, ns)
        + Cost::per_pixel(frames as f64, frame_overhead_ns(format));
    budget.charge_time(what, cost)
}

/// Refuse a load that silently dropped frames: libvips stops at 4096 GIF
/// frames (with only a warning), so an animation longer than that would
/// come out cut short. `wanted` is the number of frames asked for (-1: all).
pub(super) fn check_frames_loaded(
    data: &[u8],
    format: Option<ImageFormat>,
    loaded: &Image,
    wanted: i32,
) -> Result<()> {
    let in_file = match format {
        Some(ImageFormat::Gif) => probe::gif_frames(data),
        Some(ImageFormat::Webp) => probe::webp(data).map(|f| f.frames),
        _ => None,
    };
    let Some(in_file) = in_file else {
        return Ok(());
    };
    let loaded = loaded.frames().max(1) as u32;
    let wanted = if wanted > 0 { wanted as u32 } else { in_file };
    if loaded < wanted.min(in_file) {
        let name = format.map_or("source", ImageFormat::name);
        return Err(Error::limit(
            "max_animation_frames",
            format!(
                "the {name} image has {in_file} frames and libvips loads only {loaded}; \
                 ask for fewer with max_frames() or max_animation_frames"
            ),
        ));
    }
    Ok(())
}
