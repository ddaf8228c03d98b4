//! Decoding one source with libvips (or resvg for SVG): which loader and
//! its options. What the decode costs is estimated in
//! [`super::decode_cost`] before it starts.

use crate::budget::Budget;
use crate::error::{Error, Result};
use crate::format::{ImageFormat, Sniffed};
use crate::formats::can_load;
use crate::options::Options;
use crate::vips::{
    Arg, BandFormat, Blob, Call, CustomSource, Image, Interesting, Interpretation, Size,
};

/// The buffer loader of each format libvips decodes for us (BMP is decoded
/// by the `image` crate, SVG by resvg).
pub(crate) fn loader_of(format: ImageFormat) -> Option<&'static str> {
    Some(match format {
        ImageFormat::Jpeg => "jpegload_buffer",
        ImageFormat::Png => "pngload_buffer",
        ImageFormat::Gif => "gifload_buffer",
        ImageFormat::Webp => "webpload_buffer",
        ImageFormat::Avif | ImageFormat::Heif => "heifload_buffer",
        ImageFormat::Jxl => "jxlload_buffer",
        ImageFormat::Tiff => "tiffload_buffer",
        ImageFormat::Jp2 => "jp2kload_buffer",
        ImageFormat::Pdf => "pdfload_buffer",
        ImageFormat::Svg | ImageFormat::Bmp => return None,
    })
}

/// The libvips loader for a source. Only the loaders of the formats we
/// sniff are used, so unknown bytes never reach libvips' own sniffers
/// (ImageMagick's among them) unless `block_untrusted_loaders` is off; and
/// with it on, loaders libvips itself flags untrusted are refused.
pub(super) fn choose_loader(opts: &Options, data: &[u8], sniffed: &Sniffed) -> Result<String> {
    if sniffed.type_name == "empty" {
        return Err(Error::NOT_FOUND);
    }
    if sniffed.is_raw {
        return Err(Error::UnsupportedFormat(
            "unsupported format: camera RAW needs libvips' dcrawload (libvips 8.16 with libraw)"
                .to_owned(),
        ));
    }
    let loader = match sniffed.format.and_then(|f| loader_of(f).map(|l| (f, l))) {
        Some((format, loader)) if !crate::vips::has_operation(loader) => {
            return Err(crate::formats::unsupported(format, "load"));
        }
        Some((ImageFormat::Heif, _)) if is_hevc(data) && !can_load(ImageFormat::Heif) => {
            return Err(crate::formats::unsupported(ImageFormat::Heif, "load"));
        }
        Some((_, loader)) => loader.to_owned(),
        None if opts.block_untrusted_loaders => return Err(Error::unsupported()),
        None => Image::find_loader(data).ok_or_else(Error::unsupported)?,
    };
    if let Some(format) = sniffed.format.filter(|f| {
        fail_on_nick(&opts.fail_on).is_some() && super::truncation::is_truncated(*f, data)
    }) {
        return Err(Error::UnsupportedFormat(format!(
            "unsupported format: the {} image could not be decoded (corrupt or truncated; \
             fail_on={}): it ends before its last {}",
            format.name(),
            opts.fail_on,
            if format == ImageFormat::Webp {
                "chunk"
            } else {
                "marker"
            }
        )));
    }
    if opts.block_untrusted_loaders && crate::vips::is_untrusted(&loader) {
        let name = sniffed.format.map_or("this", ImageFormat::name);
        return Err(Error::UnsupportedFormat(format!(
            "unsupported format: {name} input is refused because libvips flags its loader \
             ({loader}) untrusted; set block_untrusted_loaders=false to allow it"
        )));
    }
    Ok(loader)
}

/// Does a HEIF file hold HEVC-coded items (an `hvc1` item type or
/// decoder configuration near the start)? Its header would load without
/// an HEVC decoder, its pixels not.
fn is_hevc(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    head.windows(4).any(|w| w == b"hvc1" || w == b"hvcC")
}

/// Loader options (imagor's `vips.LoadOptions`), each passed only to
/// loaders that know it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LoadOpts {
    pub n: i32,
    pub page: i32,
    pub dpi: i32,
    pub thumbnail: bool,
    pub unlimited: bool,
    /// Read top to bottom once (`access=sequential`): for pipelines that
    /// stream, so the loader never decodes a strip twice.
    pub sequential: bool,
    /// JPEG DCT scaling while decoding (`shrink`: 2, 4 or 8; 0 or 1: none).
    pub shrink: i32,
    /// WebP scaling while decoding (`scale`, below 1; 0: none).
    pub scale: f64,
    /// libvips' `fail_on` nick (`Options::fail_on`); `None` keeps libvips'
    /// default (`none`).
    pub fail_on: Option<&'static str>,
}

/// The `fail_on` nick of `Options::fail_on` (validated), `None` for `none`.
pub(super) fn fail_on_nick(value: &str) -> Option<&'static str> {
    match value {
        "truncated" => Some("truncated"),
        "error" => Some("error"),
        "warning" => Some("warning"),
        _ => None,
    }
}

impl LoadOpts {
    /// imagor's `applyMultiPageOptions`: negative numbers carry "reload
    /// with exactly this page / count" from a first counting pass.
    pub(super) fn multi_page(mut self, n: i32, page: i32) -> Self {
        if page < -1 {
            self.page = -page - 1;
        } else if n < -1 {
            self.n = -n;
        } else {
            self.n = -1;
        }
        self
    }

    /// The options as `thumbnail_buffer`'s option string.
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
        if let Some(nick) = self.fail_on.filter(|_| has("fail_on")) {
            parts.push(format!("fail_on={nick}"));
        }
        parts.join(",")
    }
}

/// The target of a shrink-on-load thumbnail.
#[derive(Clone, Copy, Debug)]
pub(super) struct ThumbnailCall {
    pub width: i32,
    pub height: i32,
    pub crop: Interesting,
    pub size: Size,
}

impl ThumbnailCall {
    /// The thumbnail of pixels one of our own decoders loaded as libvips'
    /// loader would have (packed 8-bit RGB, RGBA or grey), with the
    /// header's metadata from `fields` ([`Image::fields_carrier`]): what
    /// `thumbnail_buffer` does after its load.
    pub(super) fn of_pixels(
        &self,
        still: crate::vips::webp::StillPixels,
        fields: &Image,
    ) -> Result<Image> {
        let img = Image::from_pixels(still.pixels, still.width, still.height, still.bands)?;
        self.of_image(img, fields)
    }

    /// [`ThumbnailCall::of_pixels`] of an image made of decoded pixels,
    /// which nobody else holds.
    pub(super) fn of_image(&self, img: Image, fields: &Image) -> Result<Image> {
        let img = img.with_fields_of(fields)?;
        match super::fixed_crop::thumbnail(&img, self) {
            Some(cropped) => cropped,
            None => img.thumbnail_image(self.width, self.height, self.size, self.crop),
        }
    }

    /// The shrink both axes of `header`'s image need to reach this target,
    /// as libvips' thumbnail computes it before choosing a shrink-on-load
    /// factor (`vips_thumbnail_calculate_common_shrink`): below 1 when the
    /// image would grow.
    pub(super) fn common_shrink(&self, header: &Image) -> f64 {
        // Orientations 5 to 8 turn the image a quarter: the target's sides
        // swap.
        let turned = matches!(header.get_int("orientation"), Some(5..=8));
        self.common_shrink_of(header.width(), header.page_height(), turned)
    }

    /// [`ThumbnailCall::common_shrink`] of an image of `input_width` x
    /// `input_height`, turned a quarter or not.
    pub(super) fn common_shrink_of(
        &self,
        input_width: i32,
        input_height: i32,
        turned: bool,
    ) -> f64 {
        let (across, down) = self.axis_shrinks(input_width, input_height, turned);
        across.min(down)
    }

    /// The shrink of each axis of an image of `input_width` x
    /// `input_height` (turned a quarter or not) to this target, as libvips'
    /// thumbnail computes them for its resize
    /// (`vips_thumbnail_calculate_shrink`, the same from 8.14 to 8.18).
    pub(super) fn axis_shrinks(
        &self,
        input_width: i32,
        input_height: i32,
        turned: bool,
    ) -> (f64, f64) {
        let (input_width, input_height) = (input_width as f64, input_height as f64);
        let (w, h) = (self.width.max(1) as f64, self.height.max(1) as f64);
        let (target_width, target_height) = if turned { (h, w) } else { (w, h) };
        let (mut across, mut down) = (input_width / target_width, input_height / target_height);
        // Fill the box when cropping (the smaller shrink), fit it otherwise.
        let horizontal = if self.crop != Interesting::None {
            across < down
        } else {
            across >= down
        };
        if self.size != Size::Force {
            if horizontal {
                down = across;
            } else {
                across = down;
            }
        }
        match self.size {
            Size::Up => (across, down) = (across.min(1.0), down.min(1.0)),
            Size::Down => (across, down) = (across.max(1.0), down.max(1.0)),
            _ => {}
        }
        (across.min(input_width), down.min(input_height))
    }
}

/// Encoded bytes as libvips reads them: a blob in memory, or a body still
/// arriving (read through a custom source, as a pipe).
#[derive(Clone, Copy)]
pub(super) enum Encoded<'a> {
    /// All the bytes, in a libvips blob.
    Blob(&'a Blob),
    /// A body still arriving.
    Arriving(&'a std::sync::Arc<crate::arriving::Body>),
}

/// The `_buffer` operation `name` on a blob (its `buffer` argument), or
/// its `_source` twin on an arriving body (`source`).
struct OnInput<'a> {
    op: String,
    feed: Feed<'a>,
}

/// Tells this call's budget how long a read of an arriving body waited.
fn waited() -> Box<dyn Fn(std::time::Duration) + Send + Sync> {
    let budget = crate::budget::current();
    Box::new(move |d| budget.add_waiting(d))
}

/// Gives back this request's processing slot while a read of an arriving
/// body waits for bytes (a slow origin holds no slot), and takes it back
/// after ([`crate::serve::slots::idle_hook`]). Reads run on libvips'
/// threads, so the slot is the one this thread holds now.
fn idle() -> Box<dyn Fn(bool) + Send + Sync> {
    crate::serve::slots::idle_hook()
}

enum Feed<'a> {
    Blob(&'a Blob),
    Source(CustomSource),
}

/// A reader of a source libvips decodes that fails once the call's
/// deadline has passed, so the decode stops at its next read.
///
/// libpng inflates whatever follows a PNG's last row inside the image
/// data's zlib stream in one call (`png_read_end`), which nothing else
/// interrupts: a 4 MB file whose image data inflates to 4 GiB past a 1x1
/// image took 8 s. Deflate expands a byte at most 1032 times, and libpng
/// reads the image data 8 KiB at a time, so between two reads it inflates
/// at most some 8 MiB (a few milliseconds); the failed read ends the
/// decode, and the call reports its deadline ([`crate::vips::error_from_vips`]).
///
/// It holds the deadline only, not the call's budget: an image that
/// outlives the call keeps nothing of the call's memory reserved.
struct Checked<R> {
    inner: R,
    deadline: Option<std::sync::Arc<crate::vips::deadline::Deadline>>,
}

impl<R> Checked<R> {
    /// `inner`, checked against the deadline of the call on this thread.
    fn new(inner: R) -> Checked<R> {
        Checked {
            inner,
            deadline: crate::vips::deadline::current(),
        }
    }
}

impl<R: std::io::Read> std::io::Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(d) = self.deadline.as_ref().filter(|d| d.expired()) {
            return Err(std::io::Error::other(d.error()));
        }
        self.inner.read(buf)
    }
}

impl<R: std::io::Seek> std::io::Seek for Checked<R> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(to)
    }
}

/// Is `input` of `format` read through a [`Checked`] source instead of
/// libvips' own buffer (`name` a `_buffer` operation)? PNGs are, whose
/// decoder can inflate without end between two reads.
fn checked_reads(name: &str, format: Option<ImageFormat>) -> Option<String> {
    let op = name.replace("_buffer", "_source");
    (format == Some(ImageFormat::Png) && op != name && crate::vips::has_operation(&op))
        .then_some(op)
}

impl<'a> OnInput<'a> {
    fn new(name: &str, input: Encoded<'a>, format: Option<ImageFormat>) -> Result<OnInput<'a>> {
        Ok(match input {
            Encoded::Blob(blob) => match checked_reads(name, format) {
                Some(op) => OnInput {
                    op,
                    feed: Feed::Source(CustomSource::seekable(Box::new(Checked::new(
                        std::io::Cursor::new(blob.clone()),
                    )))?),
                },
                None => OnInput {
                    op: name.to_owned(),
                    feed: Feed::Blob(blob),
                },
            },
            Encoded::Arriving(body) => {
                let op = name.replace("_buffer", "_source");
                if !crate::vips::has_operation(&op) {
                    return Err(Error::Internal(format!("libvips has no {op}")));
                }
                OnInput {
                    op,
                    feed: Feed::Source(CustomSource::new(Box::new(Checked::new(
                        body.reader(waited(), idle()),
                    )))?),
                }
            }
        })
    }

    /// The call with its input set.
    fn call(&self) -> Call<'_> {
        match &self.feed {
            Feed::Blob(blob) => Call::new(&self.op).arg("buffer", Arg::Blob(blob)),
            Feed::Source(source) => Call::new(&self.op).arg("source", Arg::Source(source)),
        }
    }
}

/// Shrink-on-load through libvips' `thumbnail_buffer` (`thumbnail_source`
/// for a body still arriving).
pub(super) fn thumbnail_of(
    input: Encoded<'_>,
    loader: &str,
    format: Option<ImageFormat>,
    t: &ThumbnailCall,
    opts: LoadOpts,
) -> Result<Image> {
    let option_string = opts.option_string(loader);
    let on = OnInput::new("thumbnail_buffer", input, format)?;
    let run = || {
        let mut call = on
            .call()
            .arg("width", Arg::Int(t.width.max(1).into()))
            .arg("height", Arg::Int(t.height.max(1).into()))
            .arg("size", Arg::Nick(t.size.nick()))
            .arg("crop", Arg::Nick(t.crop.nick()));
        if !option_string.is_empty() {
            call = call.arg("option-string", Arg::Str(&option_string));
        }
        call.run().and_then(|o| o.out())
    };
    charging_the_header(input, format, run).map_err(|e| load_error(e, format))
}

/// A lazy libvips load (header now, pixels on demand).
pub(super) fn call_loader(
    loader: &str,
    input: Encoded<'_>,
    format: Option<ImageFormat>,
    opts: LoadOpts,
) -> Result<Image> {
    let on = OnInput::new(loader, input, format)?;
    #[cfg(feature = "leak-hook")]
    if let Encoded::Blob(blob) = input {
        crate::testing::note_load(crate::testing::LoadRecord {
            input_len: blob.as_slice().len(),
            frames: opts.n,
            sequential: opts.sequential,
        });
    }
    let run = || {
        let mut call = on.call();
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
        if opts.sequential {
            call = call.arg_if_supported("access", Arg::Nick("sequential"));
        }
        if opts.shrink > 1 {
            call = call.arg_if_supported("shrink", Arg::Int(opts.shrink.into()));
        }
        if opts.scale > 0.0 && opts.scale < 1.0 {
            call = call.arg_if_supported("scale", Arg::Double(opts.scale));
        }
        if let Some(nick) = opts.fail_on {
            call = call.arg_if_supported("fail_on", Arg::Nick(nick));
        }
        call.run().and_then(|o| o.out())
    };
    charging_the_header(input, format, run).map_err(|e| load_error(e, format))
}

/// Run `load`, a libvips load of `input` that reads its header now,
/// charging the call's budget first for what that read alone costs where
/// it is more than a glance (an animated WebP's frames are indexed one by
/// one, in time that grows with their square): refused before it starts
/// when that is more than the time left, and counted at what it took.
fn charging_the_header<T>(
    input: Encoded<'_>,
    format: Option<ImageFormat>,
    load: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let Encoded::Blob(blob) = input else {
        return load();
    };
    let data = blob.as_slice();
    if matches!(format, Some(ImageFormat::Avif | ImageFormat::Heif))
        && super::avif_items::has_empty_coded_item(data)
    {
        return Err(Error::UnsupportedFormat(format!(
            "unsupported format: the {} image could not be decoded (corrupt or truncated): \
             an image item holds no data",
            format.map_or("heif", ImageFormat::name)
        )));
    }
    let index = super::decode_cost::webp_index_cost(data, format).or_else(|| {
        super::decode_cost::heif_index_cost(data, format)
            .or_else(|| super::decode_cost::tiff_index_cost(data, format))
            .map(|(what, cost)| (what, cost, 0))
    });
    let metadata = super::decode_cost::header_metadata_cost(data, format);
    if index.is_none() && metadata.is_none() {
        return load();
    }
    let budget = crate::budget::current();
    let mut charged = crate::budget::Cost::default();
    // The metadata's copies are held once by the call, however often it
    // reads the header (a thumbnail reads it twice, `meta()` three times):
    // 7x at each read refused 18 MB of XMP in a PNG. An index (libwebp's
    // chunk records) is built again at each read, and charged so.
    let metadata = metadata.map(|m| (m, true));
    for ((what, cost, memory), once) in metadata.into_iter().chain(index.map(|i| (i, false))) {
        if memory > 0 && once {
            budget.charge_memory_once(data.as_ptr() as usize, &what, memory)?;
        } else if memory > 0 {
            budget.charge_memory(&what, memory)?;
        }
        let cost = budget.unstoppable(cost);
        budget.charge_time(&what, cost)?;
        charged += cost;
    }
    let started = std::time::Instant::now();
    let out = load();
    budget.settle(charged, started.elapsed());
    out
}

/// imagor answers every failed load with 406 "unsupported format"; we keep
/// the status and code and say which decoder gave up.
pub(super) fn load_error(e: Error, format: Option<ImageFormat>) -> Error {
    match (e, format) {
        (Error::Processing(_), Some(f @ (ImageFormat::Heif | ImageFormat::Avif)))
            if !crate::formats::can_load(f) =>
        {
            crate::formats::unsupported(f, "load")
        }
        (Error::Processing(_), Some(f)) => Error::UnsupportedFormat(format!(
            "unsupported format: the {} image could not be decoded (corrupt or truncated)",
            f.name()
        )),
        (Error::Processing(_), None) => Error::unsupported(),
        (other, _) => other,
    }
}

/// Render an SVG source with resvg at `dpi` (72 = its intrinsic size, as
/// libvips' svgload), under the limits and the time left.
pub(super) fn render_svg(data: &[u8], dpi: i32, opts: &Options, budget: &Budget) -> Result<Image> {
    use crate::svg::{render_svg, SvgError, SvgLimits};
    let scale = if dpi > 0 { dpi as f64 / 72.0 } else { 1.0 };
    let unlimited = opts.unlimited;
    let limits = SvgLimits {
        max_pixels: if unlimited {
            u64::MAX
        } else {
            opts.max_resolution.max(1) as u64
        },
        max_width: if unlimited {
            u32::MAX
        } else {
            opts.max_width.max(1) as u32
        },
        max_height: if unlimited {
            u32::MAX
        } else {
            opts.max_height.max(1) as u32
        },
        max_memory: if opts.max_memory == 0 {
            u64::MAX
        } else {
            opts.max_memory
        },
        // resvg cannot be interrupted: keep a margin for the estimate's error.
        max_cost: budget.time_left_ns().map_or(u64::MAX, |ns| ns / 10 * 6),
        ..SvgLimits::default()
    };
    let rendered = render_svg(data, scale, &limits).map_err(|e| match e {
        SvgError::TooLarge { what, .. }
            if what.contains("width") || what.contains("height") || what.contains("pixels") =>
        {
            Error::MaxResolutionExceeded
        }
        SvgError::TooLarge { what, limit } if what.contains("memory") => Error::limit(
            "max_memory",
            format!("rendering the svg image needs more than max_memory ({limit} bytes)"),
        ),
        SvgError::TooLarge { what, limit } => Error::limit(
            "svg",
            format!("the svg image is too large: {what} exceeds {limit}"),
        ),
        SvgError::TooExpensive { .. } => budget.timeout_error("rendering the svg image"),
        SvgError::Parse(m) | SvgError::Unsupported(m) => {
            Error::UnsupportedFormat(format!("unsupported format: invalid svg image: {m}"))
        }
        SvgError::Panicked(_) => Error::UnsupportedFormat(
            "unsupported format: the svg image could not be rendered".to_owned(),
        ),
    })?;
    Image::from_memory(
        &rendered.rgba,
        rendered.width as i32,
        rendered.height as i32,
        4,
        BandFormat::UCHAR,
    )?
    .copy_as(Some(Interpretation::SRGB))
}
