//! Shared helpers of the golden, meta and hostile tests: paths, the golden
//! manifest, format sniffing of outputs, decoding through libvips and the
//! pixel comparison of `testdata/vectors/README` ("Comparing images").
//!
//! Both sides of a comparison go through exactly the same decoder
//! ([`decode`]), so differences of the local libvips (8.14) and the one that
//! rendered the goldens cancel out wherever they affect decoding only.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod timeline;

use std::path::PathBuf;

use imagor::vips::{Arg, BandFormat, Blob, Call, Image, Intent, Interpretation};
use serde::Deserialize;
use serde_json::Value;

/// The workspace root (`tests/..`).
pub fn workspace() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("tests/ has a parent folder")
        .to_path_buf()
}

/// `<workspace>/testdata`: the source images (the file loader's root).
pub fn testdata() -> PathBuf {
    workspace().join("testdata")
}

/// Read a file below `testdata/`, with the path in the panic message.
pub fn read_testdata(rel: &str) -> Vec<u8> {
    let p = testdata().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Parse a JSON file below `testdata/`.
pub fn read_json(rel: &str) -> Value {
    let bytes = read_testdata(rel);
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{rel} is not valid JSON: {e}"))
}

/// The raw pixels of imagor's in-memory golden source ("memory-test.png"):
/// 3x1, 3 bands, red, green, blue.
pub const MEMORY_TEST_PIXELS: [u8; 9] = [255, 0, 0, 0, 255, 0, 0, 0, 255];

/// One entry of `testdata/golden/manifest.json` (see the conformance README,
/// "golden_manifest.json").
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub id: String,
    pub golden: String,
    pub path: String,
    pub request: String,
    pub source: Option<String>,
    #[serde(default)]
    pub generated_source: Option<String>,
    pub format: String,
    pub content_type: String,
    pub kind: String,
    pub width: i64,
    pub height: i64,
    #[serde(default)]
    pub bands: Option<i64>,
    #[serde(default)]
    pub pages: Option<i64>,
    #[serde(default)]
    pub config: serde_json::Map<String, Value>,
    #[serde(default)]
    pub config_dir: Option<String>,
    pub check: String,
    #[serde(default)]
    pub platform_sensitive: bool,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub skip_reason: Option<String>,
    #[serde(default)]
    pub meta_expect: Option<Value>,
    /// What the golden's renderer had that a local libvips may lack
    /// ([`timeline::GIF_WRITER_MERGES`]).
    #[serde(default)]
    pub requires: Option<String>,
}

impl Entry {
    /// The source is imagor's in-memory raw pixel blob, not a file.
    pub fn is_memory_source(&self) -> bool {
        self.source.is_none()
            && self
                .generated_source
                .as_deref()
                .is_some_and(|s| s.starts_with("in-memory raw pixels"))
    }

    /// The notes say the pixels depend on installed fonts.
    pub fn is_text_rendering(&self) -> bool {
        self.notes.iter().any(|n| n.contains("text rendering"))
    }

    /// The comparison rule for this entry's pixels.
    pub fn rule(&self) -> Rule {
        Rule {
            lossless: is_lossless(&self.format, &self.path),
            platform_sensitive: self.platform_sensitive,
            text: self.is_text_rendering(),
        }
    }

    /// The golden file.
    pub fn golden_path(&self) -> PathBuf {
        testdata().join("golden").join(&self.golden)
    }
}

/// All entries of the golden manifest.
pub fn manifest() -> Vec<Entry> {
    let v = read_json("golden/manifest.json");
    let entries = v
        .get("entries")
        .cloned()
        .expect("manifest.json has an `entries` array");
    serde_json::from_value(entries).expect("manifest entries match the schema")
}

/// Lossless outputs per the README: PNG without `palette()`, TIFF, and WebP
/// with `lossless()`. Everything else (JPEG, lossy WebP, AVIF, HEIF, JXL,
/// GIF, palette PNG) is lossy.
pub fn is_lossless(format: &str, path: &str) -> bool {
    match format {
        "png" => !path.contains("palette()"),
        "tiff" => true,
        "webp" => path.contains("lossless()"),
        _ => false,
    }
}

/// The image format of encoded bytes, by magic number. Independent of the
/// crate's own sniffer on purpose.
pub fn sniff_format(b: &[u8]) -> Option<&'static str> {
    let starts = |m: &[u8]| b.starts_with(m);
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some("png");
    }
    if starts(b"\xff\xd8\xff") {
        return Some("jpeg");
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some("gif");
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Some("webp");
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Some("tiff");
    }
    if starts(b"\xff\x0a") || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Some("jxl");
    }
    if starts(b"\0\0\0\x0cjP  \r\n\x87\n") || starts(b"\xff\x4f\xff\x51") {
        return Some("jp2k");
    }
    if starts(b"BM") {
        return Some("bmp");
    }
    if starts(b"%PDF") {
        return Some("pdf");
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return match &b[8..12] {
            b"avif" | b"avis" => Some("avif"),
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => {
                Some("heif")
            }
            _ => None,
        };
    }
    None
}

/// imagor's content type of an output format.
pub fn content_type_of(format: &str) -> &'static str {
    match format {
        "png" => "image/png",
        "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "tiff" => "image/tiff",
        "avif" => "image/avif",
        "heif" => "image/heif",
        "jxl" => "image/jxl",
        "jp2k" => "image/jp2",
        "bmp" => "image/bmp",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// A decoded image, normalised for comparison.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Sniffed format of the encoded bytes.
    pub format: String,
    /// The libvips loader that decoded it.
    pub loader: String,
    pub width: i32,
    /// Height of one frame.
    pub page_height: i32,
    pub pages: i32,
    /// Band count as decoded (before normalisation).
    pub bands: i32,
    /// Bands per pixel in `frames` (1..=4; the last is alpha when
    /// `has_alpha`).
    pub norm_bands: usize,
    pub has_alpha: bool,
    /// One buffer per frame: 8-bit sRGB or B_W, colour premultiplied by
    /// alpha, as f32 (`width * page_height * norm_bands` values).
    pub frames: Vec<Vec<f32>>,
}

/// Decode encoded bytes with libvips (all frames), convert to 8-bit sRGB
/// (B_W for 1-2 band images) through the embedded ICC profile when there is
/// one, and premultiply by alpha.
pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    let format = sniff_format(bytes).unwrap_or("unknown").to_owned();
    let (img, loader) = load(bytes, true)?;
    decoded_from_image(&img, format, loader)
}

/// Load encoded bytes with the libvips loader that recognises them (all
/// frames when `all_frames`); returns the image and the loader's name.
pub fn load(bytes: &[u8], all_frames: bool) -> Result<(Image, String), String> {
    let loader = Image::find_loader(bytes).ok_or("no libvips loader recognises the bytes")?;
    let blob = Blob::copy_from(bytes);
    let mut call = Call::new(&loader).arg("buffer", Arg::Blob(&blob));
    if all_frames {
        call = call.arg_if_supported("n", Arg::Int(-1));
    }
    let img = call
        .run()
        .and_then(|o| o.out())
        .map_err(|e| format!("{loader}: {e}"))?;
    Ok((img, loader))
}

/// Encode with a libvips `*save_buffer` operation and boolean options
/// (`("interlace", true)`).
pub fn save(img: &Image, saver: &str, flags: &[(&str, bool)]) -> Result<Vec<u8>, String> {
    let mut call = Call::new(saver).arg("in", Arg::Image(img));
    for (name, value) in flags {
        call = call.arg(name, Arg::Bool(*value));
    }
    call.run()
        .and_then(|o| o.blob("buffer"))
        .map(|b| b.as_slice().to_vec())
        .map_err(|e| format!("{saver}: {e}"))
}

/// The normalisation half of [`decode`], for images built in memory.
pub fn decoded_from_image(img: &Image, format: String, loader: String) -> Result<Decoded, String> {
    let width = img.width();
    let page_height = img.page_height();
    let pages = img.frames();
    let bands = img.bands();
    let grey = bands <= 2;
    let target = if grey {
        Interpretation::B_W
    } else {
        Interpretation::SRGB
    };
    let mut work = img.clone();
    if work.has_field("icc-profile-data") {
        // A profile that does not fit the pixels (grey profile on RGB ...)
        // is ignored, as libvips' own loaders do.
        if let Ok(t) = work.icc_transform("srgb", Intent::Relative, 8) {
            work = t;
        }
    }
    let mut work = match work.colourspace(target) {
        Ok(t) => t,
        Err(_) => work.copy_as(Some(target)).map_err(|e| e.to_string())?,
    };
    if work.format() != BandFormat::UCHAR {
        if work.format() == BandFormat::USHORT {
            work = work
                .linear(&[1.0 / 257.0], &[0.0])
                .map_err(|e| e.to_string())?;
        }
        work = work.cast(BandFormat::UCHAR).map_err(|e| e.to_string())?;
    }
    let norm_bands = work.bands() as usize;
    let has_alpha = norm_bands == 2 || norm_bands == 4;
    if norm_bands == 0 || norm_bands > 4 {
        return Err(format!(
            "unexpected band count {norm_bands} after conversion"
        ));
    }
    let raw = work.write_to_memory().map_err(|e| e.to_string())?;
    let frame_len = width as usize * page_height as usize * norm_bands;
    if frame_len == 0 || raw.len() != frame_len * pages as usize {
        return Err(format!(
            "pixel buffer of {} bytes does not hold {pages} frames of {width}x{page_height}x{norm_bands}",
            raw.len()
        ));
    }
    let frames = raw
        .chunks_exact(frame_len)
        .map(|f| premultiply(f, norm_bands, has_alpha))
        .collect();
    Ok(Decoded {
        format,
        loader,
        width,
        page_height,
        pages,
        bands,
        norm_bands,
        has_alpha,
        frames,
    })
}

fn premultiply(raw: &[u8], bands: usize, has_alpha: bool) -> Vec<f32> {
    if !has_alpha {
        return raw.iter().map(|&v| f32::from(v)).collect();
    }
    let mut out = Vec::with_capacity(raw.len());
    for px in raw.chunks_exact(bands) {
        let a = f32::from(px[bands - 1]);
        out.extend(px[..bands - 1].iter().map(|&c| f32::from(c) * a / 255.0));
        out.push(a);
    }
    out
}

/// Which thresholds apply (conformance README, "Comparing images", step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub lossless: bool,
    pub platform_sensitive: bool,
    pub text: bool,
}

impl Rule {
    /// Does a worst-band/worst-frame `psnr`/`mad` pass?
    pub fn passes(&self, m: &Metrics) -> bool {
        let base = if self.lossless {
            m.mad <= 1.5 && m.psnr >= 35.0
        } else {
            m.psnr >= 27.0 || m.mad <= 4.0
        };
        // README: "platform_sensitive entries: PSNR >= 25 dB".
        let platform = self.platform_sensitive && m.psnr >= 25.0;
        // README: "entries whose notes mention text rendering: dimensions
        // and format exact, pixels at PSNR >= 20 dB at most" (fonts differ).
        let text = self.text && m.psnr >= 20.0;
        base || platform || text
    }

    pub fn describe(&self) -> String {
        let mut s = if self.lossless {
            "lossless: mad<=1.5 and psnr>=35".to_owned()
        } else {
            "lossy: psnr>=27 or mad<=4".to_owned()
        };
        if self.platform_sensitive {
            s.push_str(", platform-sensitive: psnr>=25");
        }
        if self.text {
            s.push_str(", text: psnr>=20");
        }
        s
    }
}

/// Pixel difference of two decoded images: the worst band of the worst
/// frame (highest MAD, lowest PSNR), plus the all-band figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub psnr: f64,
    pub mad: f64,
    pub overall_psnr: f64,
    pub overall_mad: f64,
    pub worst_frame: usize,
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "psnr {} mad {:.2}", fmt_db(self.psnr), self.mad)?;
        if self.worst_frame > 0 {
            write!(f, " frame {}", self.worst_frame)?;
        }
        Ok(())
    }
}

/// PSNR with one decimal, "inf" for identical pixels.
pub fn fmt_db(v: f64) -> String {
    if v.is_infinite() {
        "inf".to_owned()
    } else {
        format!("{v:.1}")
    }
}

fn psnr_of(sum_sq: f64, n: f64) -> f64 {
    if sum_sq == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / (sum_sq / n)).log10()
    }
}

/// Check geometry exactly (format, width, frame height, pages, bands), then
/// measure pixels frame by frame and band by band.
pub fn compare(ours: &Decoded, golden: &Decoded) -> Result<Metrics, String> {
    let geo = |d: &Decoded| (d.format.clone(), d.width, d.page_height, d.pages, d.bands);
    if geo(ours) != geo(golden) {
        return Err(format!(
            "geometry differs: ours {} {}x{} pages {} bands {}, golden {} {}x{} pages {} bands {}",
            ours.format,
            ours.width,
            ours.page_height,
            ours.pages,
            ours.bands,
            golden.format,
            golden.width,
            golden.page_height,
            golden.pages,
            golden.bands
        ));
    }
    if ours.norm_bands != golden.norm_bands {
        return Err(format!(
            "colour model differs: {} vs {} bands after sRGB/B_W conversion",
            ours.norm_bands, golden.norm_bands
        ));
    }
    let nb = ours.norm_bands;
    let mut m = Metrics {
        psnr: f64::INFINITY,
        mad: 0.0,
        overall_psnr: f64::INFINITY,
        overall_mad: 0.0,
        worst_frame: 0,
    };
    let (mut all_abs, mut all_sq, mut all_n) = (0.0f64, 0.0f64, 0.0f64);
    for (fi, (a, b)) in ours.frames.iter().zip(&golden.frames).enumerate() {
        let mut abs = vec![0.0f64; nb];
        let mut sq = vec![0.0f64; nb];
        for (pa, pb) in a.chunks_exact(nb).zip(b.chunks_exact(nb)) {
            for k in 0..nb {
                let d = f64::from(pa[k] - pb[k]);
                abs[k] += d.abs();
                sq[k] += d * d;
            }
        }
        let n = (a.len() / nb) as f64;
        for k in 0..nb {
            let (mad, psnr) = (abs[k] / n, psnr_of(sq[k], n));
            if mad > m.mad || psnr < m.psnr {
                m.worst_frame = fi;
            }
            m.mad = m.mad.max(mad);
            m.psnr = m.psnr.min(psnr);
            all_abs += abs[k];
            all_sq += sq[k];
            all_n += n;
        }
    }
    if all_n > 0.0 {
        m.overall_mad = all_abs / all_n;
        m.overall_psnr = psnr_of(all_sq, all_n);
    }
    Ok(m)
}

/// Compare a `/meta` JSON answer with an expectation (meta.json,
/// "golden_meta"): fields in `exact` must be equal; `exif` is checked as
/// "subset-optional" (every key we return that the expectation also has must
/// match after trimming; missing keys are allowed) unless `exif_mode` is
/// "not-checked". An empty expected `exif` object must stay empty: that is
/// not a formatting question (no EXIF at all, or `strip_exif()`).
pub fn check_meta(got: &Value, expect: &Value, exact: &[&str], exif_mode: &str) -> Vec<String> {
    let mut errors = Vec::new();
    for field in exact {
        let (g, e) = (got.get(*field), expect.get(*field));
        if g != e {
            errors.push(format!(
                "{field}: got {}, want {}",
                g.map_or("(absent)".to_owned(), Value::to_string),
                e.map_or("(absent)".to_owned(), Value::to_string)
            ));
        }
    }
    if exif_mode == "not-checked" {
        return errors;
    }
    let empty = serde_json::Map::new();
    let want = expect.get("exif").and_then(Value::as_object);
    let have = got.get("exif").and_then(Value::as_object).unwrap_or(&empty);
    let Some(want) = want else { return errors };
    if want.is_empty() && !have.is_empty() {
        let keys: Vec<&String> = have.keys().take(5).collect();
        errors.push(format!(
            "exif: want {{}}, got {} keys {keys:?}...",
            have.len()
        ));
    }
    for (k, v) in have {
        if let Some(w) = want.get(k) {
            let trim = |v: &Value| match v {
                Value::String(s) => s.trim().to_owned(),
                other => other.to_string(),
            };
            if trim(v) != trim(w) {
                errors.push(format!("exif.{k}: got {v}, want {w}"));
            }
        }
    }
    errors
}

/// Filter names used anywhere in a path, nested `image()`/`watermark()`
/// paths included: every `name(` that follows a `:`.
pub fn filter_names(path: &str) -> Vec<String> {
    let bytes = path.as_bytes();
    let mut out: Vec<String> = Vec::new();
    for (i, &c) in bytes.iter().enumerate() {
        if c != b':' {
            continue;
        }
        let rest = &path[i + 1..];
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if len > 0 && rest.as_bytes().get(len) == Some(&b'(') {
            let name = rest[..len].to_owned();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// A small deterministic PRNG (xorshift64*), for reproducible noise.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 56) as u8).collect()
    }
}

/// Everything written to this process's stderr (fd 2) between
/// [`StderrCapture::start`] and [`StderrCapture::finish`], by Rust, C
/// libraries or GLib alike.
pub struct StderrCapture {
    saved: i32,
    path: PathBuf,
}

impl StderrCapture {
    /// Point fd 2 at a temporary file.
    pub fn start() -> StderrCapture {
        let path = std::env::temp_dir().join(format!(
            "imagor-stderr-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let file = std::fs::File::create(&path).expect("stderr capture file");
        use std::os::fd::AsRawFd;
        // SAFETY: plain POSIX fd calls on valid descriptors; fd 2 is
        // restored in finish().
        let saved = unsafe {
            let saved = libc::dup(2);
            libc::dup2(file.as_raw_fd(), 2);
            saved
        };
        StderrCapture { saved, path }
    }

    /// Restore fd 2 and return what was written meanwhile.
    pub fn finish(self) -> String {
        // SAFETY: restores the descriptor saved in start().
        unsafe {
            libc::dup2(self.saved, 2);
            libc::close(self.saved);
        }
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let _ = std::fs::remove_file(&self.path);
        text
    }
}

/// The stub detectors of a `config.detectors` value (imagor's test
/// `stubDetector`): one [`imagor::detector::FixedRegions`] per entry, each
/// answering its `stub_regions`.
pub fn stub_detectors(config: &Value) -> Result<Vec<imagor::detector::FixedRegions>, String> {
    use imagor::detector::{FixedRegions, Region};
    let list = config
        .as_array()
        .ok_or_else(|| format!("config.detectors is not a list: {config}"))?;
    list.iter()
        .map(|d| {
            let regions = d
                .get("stub_regions")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("detector without stub_regions: {d}"))?;
            regions
                .iter()
                .map(|r| {
                    let num = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
                    Ok(
                        Region::new(num("left"), num("top"), num("right"), num("bottom"))
                            .with_score(num("score"))
                            .with_name(name),
                    )
                })
                .collect::<Result<Vec<_>, String>>()
                .map(FixedRegions::new)
        })
        .collect()
}

/// `imagor` with the stub detectors of `config.detectors` added, if any.
pub fn with_stub_detectors(
    mut imagor: imagor::Imagor,
    config: Option<&Value>,
) -> Result<imagor::Imagor, String> {
    let Some(config) = config else {
        return Ok(imagor);
    };
    for d in stub_detectors(config)? {
        imagor = imagor
            .with_detector(std::sync::Arc::new(d))
            .map_err(|e| format!("with_detector: {e}"))?;
    }
    Ok(imagor)
}
