//! Which image formats this build loads and saves.
//!
//! imagor-rs builds against one of two libvips flavours (see `core/build.rs`):
//! the system libvips found by pkg-config, or a prebuilt single-file libvips
//! such as the one the wheel and the npm packages bundle (npm's
//! `@img/sharp-libvips-*`, libvips 8.18), which has no JPEG XL, JPEG 2000,
//! PDF or HEVC (HEIC) codec. A format the library lacks answers 406
//! `unsupported_format` with a message that names it and the build that has
//! it, never a 500.
//!
//! Answers come from libvips itself, once per process: a loader or saver
//! operation exists or not; HEIF and AVIF, which share libheif's operations,
//! are probed by decoding a tiny embedded image or encoding a 16x16 one, each
//! only when `formats()` asks, an HEVC image is loaded or a HEIF/AVIF save
//! has failed.

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::format::ImageFormat;
use crate::vips::{has_operation, Arg, Blob, Call};

/// The formats this build of imagor-rs loads and saves, by imagor's names
/// (`jpeg`, `png`, `gif`, `webp`, `avif`, `heif`, `jxl`, `tiff`, `jp2`,
/// `bmp`, `svg`, `pdf`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Formats {
    /// Formats accepted as input.
    pub load: Vec<&'static str>,
    /// Formats `format(...)` can write.
    pub save: Vec<&'static str>,
    /// The libvips version in use (`"8.18.7"`).
    pub libvips: String,
    /// `"system"` (libvips found by pkg-config at build time) or `"bundled"`
    /// (a prebuilt libvips shipped with the package).
    pub flavour: &'static str,
    /// What decodes a plain still AVIF (one AV1 image or a grid of them):
    /// `"dav1d"` (the core's own AV1 path, feature `own-av1`, on in the
    /// packages) or `"libheif"` (libvips' heifload, which decodes every other
    /// AVIF in either build).
    pub av1_decoder: &'static str,
}

/// Every format imagor knows, in a stable order.
const ALL: [ImageFormat; 12] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::Gif,
    ImageFormat::Webp,
    ImageFormat::Avif,
    ImageFormat::Heif,
    ImageFormat::Jxl,
    ImageFormat::Tiff,
    ImageFormat::Jp2,
    ImageFormat::Bmp,
    ImageFormat::Svg,
    ImageFormat::Pdf,
];

/// `"system"` or `"bundled"`, from `build.rs`.
pub const FLAVOUR: &str = env!("IMAGOR_VIPS_FLAVOUR");

/// `"dav1d"` or `"libheif"`: see [`Formats::av1_decoder`].
pub const AV1_DECODER: &str = if cfg!(feature = "own-av1") {
    "dav1d"
} else {
    "libheif"
};

/// What this build loads and saves (probed once, then cached).
pub fn formats() -> Result<Formats> {
    crate::vips::init()?;
    let (major, minor, micro) = crate::vips::version();
    Ok(Formats {
        load: ALL
            .into_iter()
            .filter(|f| can_load(*f))
            .map(ImageFormat::name)
            .collect(),
        save: ALL
            .into_iter()
            .filter(|f| f.save_format() == *f && can_save(*f))
            .map(ImageFormat::name)
            .collect(),
        libvips: format!("{major}.{minor}.{micro}"),
        flavour: FLAVOUR,
        av1_decoder: AV1_DECODER,
    })
}

/// Can this build decode `format`? BMP and SVG are decoded in Rust.
pub fn can_load(format: ImageFormat) -> bool {
    match format {
        ImageFormat::Bmp | ImageFormat::Svg => true,
        ImageFormat::Heif => heif_probe(HeifCapability::HevcLoad),
        ImageFormat::Avif => heif_probe(HeifCapability::Av1Load),
        other => crate::processor::loader_name(other).is_some_and(has_operation),
    }
}

/// Can this build encode `format`? (Load-only formats save as JPEG.)
pub fn can_save(format: ImageFormat) -> bool {
    match format {
        ImageFormat::Heif => heif_probe(HeifCapability::HevcSave),
        ImageFormat::Avif => heif_probe(HeifCapability::Av1Save),
        other => has_operation(crate::processor::saver_name(other.save_format())),
    }
}

/// The 406 for a format this build cannot `verb` (`"load"`, `"save"`).
pub fn unsupported(format: ImageFormat, verb: &str) -> Error {
    let what = match format {
        ImageFormat::Heif => "HEIF/HEIC (HEVC)",
        ImageFormat::Jxl => "JPEG XL",
        ImageFormat::Jp2 => "JPEG 2000",
        ImageFormat::Pdf => "PDF",
        ImageFormat::Avif => "AVIF (AV1)",
        _ => format.name(),
    };
    let (major, minor, micro) = crate::vips::version();
    let hint = if FLAVOUR == "bundled" {
        "; the build of imagor-rs against a system libvips that has it supports it \
         (build from source with libvips-dev)"
    } else {
        "; install a libvips built with it and rebuild"
    };
    Error::UnsupportedFormat(format!(
        "unsupported format: this build cannot {verb} {} ({what}): its libvips \
         {major}.{minor}.{micro} ({FLAVOUR}) has no codec for it{hint}",
        format.name()
    ))
}

/// What libheif can do in this libvips: one probe per codec and
/// direction, each run at most once per process and only when asked.
#[derive(Clone, Copy)]
enum HeifCapability {
    HevcLoad,
    HevcSave,
    Av1Load,
    Av1Save,
}

/// A 16x16 HEIC (HEVC) and AVIF (AV1) image, 744 and 549 bytes.
const PROBE_HEIC: &[u8] = include_bytes!("probe.heic");
const PROBE_AVIF: &[u8] = include_bytes!("probe.avif");

fn heif_probe(capability: HeifCapability) -> bool {
    static PROBES: [OnceLock<bool>; 4] = [const { OnceLock::new() }; 4];
    *PROBES[capability as usize].get_or_init(|| {
        // On a thread of its own: no caller's deadline applies to the probe,
        // whose answer is kept for the life of the process.
        let probe = move || match capability {
            HeifCapability::HevcLoad => has_operation("heifload_buffer") && decodes(PROBE_HEIC),
            HeifCapability::Av1Load => has_operation("heifload_buffer") && decodes(PROBE_AVIF),
            HeifCapability::HevcSave => has_operation("heifsave_buffer") && encodes("hevc"),
            HeifCapability::Av1Save => has_operation("heifsave_buffer") && encodes("av1"),
        };
        std::thread::spawn(probe).join().unwrap_or(false)
    })
}

/// Does `heifload_buffer` decode `data` to pixels?
fn decodes(data: &[u8]) -> bool {
    let run = || -> Result<()> {
        let blob = Blob::copy_from(data);
        let img = Call::new("heifload_buffer")
            .arg("buffer", Arg::Blob(&blob))
            .run()?
            .out()?;
        Call::new("avg").arg("in", Arg::Image(&img)).run()?;
        Ok(())
    };
    run().is_ok()
}

/// Does `heifsave_buffer` encode a 16x16 image with `compression`?
fn encodes(compression: &str) -> bool {
    let run = || -> Result<()> {
        let img = Call::new("black")
            .arg("width", Arg::Int(16))
            .arg("height", Arg::Int(16))
            .arg("bands", Arg::Int(3))
            .run()?
            .out()?;
        let img = Call::new("cast")
            .arg("in", Arg::Image(&img))
            .arg("format", Arg::Nick("uchar"))
            .run()?
            .out()?;
        Call::new("heifsave_buffer")
            .arg("in", Arg::Image(&img))
            .arg("compression", Arg::Nick(compression))
            .run()?
            .blob("buffer")?;
        Ok(())
    };
    run().is_ok()
}
