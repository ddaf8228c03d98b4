//! Typed wrappers for the libvips operations the pipeline and filters use.
//! Rare operations can be called directly with [`Call`].

use super::{pango, Arg, Blob, Call, Image};
use crate::error::Result;

macro_rules! nick_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $nick:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }
        impl $name {
            /// libvips' nickname for the value.
            pub fn nick(self) -> &'static str {
                match self { $($name::$variant => $nick),+ }
            }
        }
    };
}

nick_enum!(
    /// `VipsSize`: which way `thumbnail` may resize.
    Size { /** Up or down. */ Both => "both", /** Only up. */ Up => "up",
           /** Only down. */ Down => "down", /** Ignore aspect ratio. */ Force => "force" }
);
nick_enum!(
    /// `VipsInteresting`: how `thumbnail`/`smartcrop` pick the crop.
    Interesting { /** No crop. */ None => "none", /** Centre. */ Centre => "centre",
                  /** Entropy. */ Entropy => "entropy", /** Attention. */ Attention => "attention",
                  /** Top/left. */ Low => "low", /** Bottom/right. */ High => "high",
                  /** Everything. */ All => "all" }
);
nick_enum!(
    /// `VipsExtend`: how `embed` fills new pixels.
    Extend { /** Black / transparent. */ Black => "black", /** Copy edges. */ Copy => "copy",
             /** Tile. */ Repeat => "repeat", /** Mirror. */ Mirror => "mirror",
             /** White. */ White => "white", /** A colour. */ Background => "background" }
);
nick_enum!(
    /// `VipsAngle`: rotation by a multiple of 90 degrees (clockwise).
    Angle { /** None. */ D0 => "d0", /** 90°. */ D90 => "d90",
            /** 180°. */ D180 => "d180", /** 270°. */ D270 => "d270" }
);
nick_enum!(
    /// `VipsDirection`: flip axis or join direction.
    Direction { /** Left-right. */ Horizontal => "horizontal", /** Top-bottom. */ Vertical => "vertical" }
);
nick_enum!(
    /// `VipsIntent`: ICC rendering intent.
    Intent { /** Perceptual. */ Perceptual => "perceptual", /** Relative. */ Relative => "relative",
             /** Saturation. */ Saturation => "saturation", /** Absolute. */ Absolute => "absolute" }
);
nick_enum!(
    /// `VipsTextWrap`: how `text` breaks lines.
    TextWrap { /** At words. */ Word => "word", /** At characters. */ Char => "char",
               /** Words, then characters. */ WordChar => "word-char", /** Never. */ None => "none" }
);
nick_enum!(
    /// `VipsBlendMode`: Porter-Duff and PDF blend modes for `composite`.
    BlendMode {
        /** Normal. */ Over => "over", /** Multiply. */ Multiply => "multiply",
        /** Colour burn. */ ColourBurn => "colour-burn", /** Darken. */ Darken => "darken",
        /** Screen. */ Screen => "screen", /** Colour dodge. */ ColourDodge => "colour-dodge",
        /** Lighten. */ Lighten => "lighten", /** Add. */ Add => "add",
        /** Overlay. */ Overlay => "overlay", /** Soft light. */ SoftLight => "soft-light",
        /** Hard light. */ HardLight => "hard-light", /** Difference. */ Difference => "difference",
        /** Exclusion. */ Exclusion => "exclusion", /** Mask (dest-in). */ DestIn => "dest-in",
        /** Mask out (dest-out). */ DestOut => "dest-out"
    }
);

/// Options of [`Image::text`].
#[derive(Debug, Clone, Default)]
pub struct TextOptions<'a> {
    /// Pango font description (`"sans 20"`).
    pub font: &'a str,
    /// Wrap width in pixels; 0 means unconstrained.
    pub width: i32,
    /// Maximum height (autofit); 0 means unset.
    pub height: i32,
    /// `"low"`, `"centre"` or `"high"`.
    pub align: &'a str,
    /// Justify lines.
    pub justify: bool,
    /// Line wrapping.
    pub wrap: Option<TextWrap>,
    /// Line spacing; 0 keeps Pango's.
    pub spacing: i32,
    /// DPI; 0 keeps libvips' 72.
    pub dpi: i32,
}

impl Image {
    /// The libvips loader name for these bytes (`"jpegload_buffer"`).
    pub fn find_loader(data: &[u8]) -> Option<String> {
        super::init().ok()?;
        // SAFETY: sniffs the first bytes of a valid slice; returns a static
        // string or NULL (with an error we clear).
        let name =
            unsafe { super::sys::vips_foreign_find_load_buffer(data.as_ptr().cast(), data.len()) };
        if name.is_null() {
            super::clear_error();
            return None;
        }
        // SAFETY: libvips returns the loader's NUL-terminated class name; we
        // map it to its registered nickname (both static strings).
        unsafe {
            let ty = super::sys::g_type_from_name(name);
            let nick = super::sys::vips_nickname_find(ty);
            if ty == 0 || nick.is_null() {
                return None;
            }
            Some(
                std::ffi::CStr::from_ptr(nick)
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    }

    /// A solid black image of `bands` bands.
    pub fn black(width: i32, height: i32, bands: i32) -> Result<Image> {
        Call::new("black")
            .arg("width", Arg::Int(width.into()))
            .arg("height", Arg::Int(height.into()))
            .arg("bands", Arg::Int(bands.into()))
            .run()?
            .out()
    }

    /// Render text with Pango as a 4-band RGBA image (black text).
    ///
    /// One call at a time in the process, each on a Pango font map no
    /// earlier call set another dpi on, and autofit (`height` without
    /// `dpi`) searched here rather than in libvips: see `super::pango`
    /// for the Pango 1.50 race this avoids. The rendered image owns no
    /// Pango objects.
    pub fn text(text: &str, o: &TextOptions<'_>) -> Result<Image> {
        static PANGO: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = PANGO.lock().unwrap_or_else(|e| e.into_inner());
        let (mut height, mut dpi) = (o.height, o.dpi);
        if height > 0 && dpi <= 0 {
            let layout = pango::Layout {
                text,
                font: o.font,
                width: o.width,
                spacing: o.spacing,
                align: o.align,
                wrap: o.wrap.map_or("", TextWrap::nick),
                justify: o.justify,
            };
            if let Some(found) = pango::autofit_dpi(&layout, height) {
                (height, dpi) = (0, found);
            }
        }
        pango::fresh_default_font_map();
        let mut c = Call::new("text")
            .arg("text", Arg::Str(text))
            .arg("rgba", Arg::Bool(true));
        if !o.font.is_empty() {
            c = c.arg("font", Arg::Str(o.font));
        }
        if o.width > 0 {
            c = c.arg("width", Arg::Int(o.width.into()));
        }
        if height > 0 {
            c = c.arg("height", Arg::Int(height.into()));
        }
        if !o.align.is_empty() {
            c = c.arg("align", Arg::Nick(o.align));
        }
        if o.justify {
            c = c.arg("justify", Arg::Bool(true));
        }
        if let Some(w) = o.wrap {
            c = c.arg_if_supported("wrap", Arg::Nick(w.nick()));
        }
        if o.spacing > 0 {
            c = c.arg("spacing", Arg::Int(o.spacing.into()));
        }
        if dpi > 0 {
            c = c.arg("dpi", Arg::Int(dpi.into()));
        }
        // The operation (and its Pango objects) is released at the end of
        // this statement, before the lock; so is this thread's font map.
        let image = c.run().and_then(|outputs| outputs.out());
        pango::fresh_default_font_map();
        image
    }

    /// Load an SVG document from memory (used for masks and shapes).
    pub fn svg(svg: &[u8]) -> Result<Image> {
        let blob = Blob::copy_from(svg);
        Call::new("svgload_buffer")
            .arg("buffer", Arg::Blob(&blob))
            .run()?
            .out()
    }

    /// `thumbnail_image`: resize (and optionally crop) an already loaded
    /// image to fit `width` x `height`. Auto-rotates by EXIF orientation.
    pub fn thumbnail_image(
        &self,
        width: i32,
        height: i32,
        size: Size,
        crop: Interesting,
    ) -> Result<Image> {
        Call::new("thumbnail_image")
            .arg("in", Arg::Image(self))
            .arg("width", Arg::Int(width.max(1).into()))
            .arg("height", Arg::Int(height.max(1).into()))
            .arg("size", Arg::Nick(size.nick()))
            .arg("crop", Arg::Nick(crop.nick()))
            .run()?
            .out()
    }

    /// `copy`, optionally changing the interpretation.
    pub fn copy_as(&self, interpretation: Option<i32>) -> Result<Image> {
        let mut c = Call::new("copy").arg("in", Arg::Image(self));
        if let Some(i) = interpretation {
            c = c.arg("interpretation", Arg::Int(i.into()));
        }
        c.run()?.out()
    }

    /// Cast to a band format ([`super::BandFormat`]).
    pub fn cast(&self, format: i32) -> Result<Image> {
        Call::new("cast")
            .arg("in", Arg::Image(self))
            .arg("format", Arg::Int(format.into()))
            .run()?
            .out()
    }

    /// `out = in * a + b` per band (float output).
    pub fn linear(&self, a: &[f64], b: &[f64]) -> Result<Image> {
        Call::new("linear")
            .arg("in", Arg::Image(self))
            .arg("a", Arg::Doubles(a))
            .arg("b", Arg::Doubles(b))
            .run()?
            .out()
    }

    /// Convert to another colour space ([`super::Interpretation`]).
    pub fn colourspace(&self, space: i32) -> Result<Image> {
        Call::new("colourspace")
            .arg("in", Arg::Image(self))
            .arg("space", Arg::Int(space.into()))
            .run()?
            .out()
    }

    /// Transform from the embedded profile to `profile` (`"srgb"`, a path).
    pub fn icc_transform(&self, profile: &str, intent: Intent, depth: i32) -> Result<Image> {
        let mut c = Call::new("icc_transform")
            .arg("in", Arg::Image(self))
            .arg("output-profile", Arg::Str(profile))
            .arg("embedded", Arg::Bool(true))
            .arg("intent", Arg::Nick(intent.nick()));
        if depth > 0 {
            c = c.arg("depth", Arg::Int(depth.into()));
        }
        c.run()?.out()
    }

    /// Remove alpha by blending onto `background`.
    pub fn flatten(&self, background: &[f64]) -> Result<Image> {
        Call::new("flatten")
            .arg("in", Arg::Image(self))
            .arg("background", Arg::Doubles(background))
            .run()?
            .out()
    }

    /// Gaussian blur.
    pub fn gaussblur(&self, sigma: f64) -> Result<Image> {
        Call::new("gaussblur")
            .arg("in", Arg::Image(self))
            .arg("sigma", Arg::Double(sigma))
            .run()?
            .out()
    }

    /// Unsharp mask in LAB (libvips `sharpen`).
    pub fn sharpen(&self, sigma: f64, x1: f64, m2: f64) -> Result<Image> {
        Call::new("sharpen")
            .arg("in", Arg::Image(self))
            .arg("sigma", Arg::Double(sigma))
            .arg("x1", Arg::Double(x1))
            .arg("m2", Arg::Double(m2))
            .run()?
            .out()
    }

    /// Cut out a rectangle.
    pub fn extract_area(&self, left: i32, top: i32, width: i32, height: i32) -> Result<Image> {
        Call::new("extract_area")
            .arg("input", Arg::Image(self))
            .arg("left", Arg::Int(left.into()))
            .arg("top", Arg::Int(top.into()))
            .arg("width", Arg::Int(width.into()))
            .arg("height", Arg::Int(height.into()))
            .run()?
            .out()
    }

    /// `resize` by `hscale` across and `vscale` down (libvips' default
    /// kernel, lanczos3).
    pub fn resize(&self, hscale: f64, vscale: f64) -> Result<Image> {
        Call::new("resize")
            .arg("in", Arg::Image(self))
            .arg("scale", Arg::Double(hscale))
            .arg("vscale", Arg::Double(vscale))
            .run()?
            .out()
    }

    /// `smartcrop` to `width` x `height`, choosing the part by `interesting`.
    pub fn smartcrop(&self, width: i32, height: i32, interesting: Interesting) -> Result<Image> {
        Call::new("smartcrop")
            .arg("input", Arg::Image(self))
            .arg("width", Arg::Int(width.into()))
            .arg("height", Arg::Int(height.into()))
            .arg("interesting", Arg::Nick(interesting.nick()))
            .run()?
            .out()
    }

    /// Place the image at (`x`, `y`) in a `width` x `height` canvas.
    pub fn embed(
        &self,
        x: i32,
        y: i32,
        width: i32,
        height: i32,
        extend: Extend,
        background: Option<&[f64]>,
    ) -> Result<Image> {
        let mut c = Call::new("embed")
            .arg("in", Arg::Image(self))
            .arg("x", Arg::Int(x.into()))
            .arg("y", Arg::Int(y.into()))
            .arg("width", Arg::Int(width.into()))
            .arg("height", Arg::Int(height.into()))
            .arg("extend", Arg::Nick(extend.nick()));
        if let Some(bg) = background {
            c = c.arg("background", Arg::Doubles(bg));
        }
        c.run()?.out()
    }

    /// Rotate by a multiple of 90 degrees.
    pub fn rot(&self, angle: Angle) -> Result<Image> {
        Call::new("rot")
            .arg("in", Arg::Image(self))
            .arg("angle", Arg::Nick(angle.nick()))
            .run()?
            .out()
    }

    /// Mirror along an axis.
    pub fn flip(&self, direction: Direction) -> Result<Image> {
        Call::new("flip")
            .arg("in", Arg::Image(self))
            .arg("direction", Arg::Nick(direction.nick()))
            .run()?
            .out()
    }

    /// Tile the image `across` x `down` times.
    pub fn replicate(&self, across: i32, down: i32) -> Result<Image> {
        Call::new("replicate")
            .arg("in", Arg::Image(self))
            .arg("across", Arg::Int(across.into()))
            .arg("down", Arg::Int(down.into()))
            .run()?
            .out()
    }

    /// Join images in a grid `across` wide (frames: `across = 1`).
    pub fn arrayjoin(images: &[&Image], across: i32) -> Result<Image> {
        Call::new("arrayjoin")
            .arg("in", Arg::Images(images))
            .arg("across", Arg::Int(across.into()))
            .run()?
            .out()
    }

    /// Stack bands of several images.
    pub fn bandjoin(images: &[&Image]) -> Result<Image> {
        Call::new("bandjoin")
            .arg("in", Arg::Images(images))
            .run()?
            .out()
    }

    /// Append constant bands.
    pub fn bandjoin_const(&self, c: &[f64]) -> Result<Image> {
        Call::new("bandjoin_const")
            .arg("in", Arg::Image(self))
            .arg("c", Arg::Doubles(c))
            .run()?
            .out()
    }

    /// Take `n` bands starting at `band`.
    pub fn extract_band(&self, band: i32, n: i32) -> Result<Image> {
        Call::new("extract_band")
            .arg("in", Arg::Image(self))
            .arg("band", Arg::Int(band.into()))
            .arg("n", Arg::Int(n.into()))
            .run()?
            .out()
    }

    /// Integer box shrink.
    pub fn shrink(&self, h: f64, v: f64) -> Result<Image> {
        Call::new("shrink")
            .arg("in", Arg::Image(self))
            .arg("hshrink", Arg::Double(h))
            .arg("vshrink", Arg::Double(v))
            .run()?
            .out()
    }

    /// Integer pixel-replication zoom.
    pub fn zoom(&self, x: i32, y: i32) -> Result<Image> {
        Call::new("zoom")
            .arg("input", Arg::Image(self))
            .arg("xfac", Arg::Int(x.into()))
            .arg("yfac", Arg::Int(y.into()))
            .run()?
            .out()
    }

    /// Composite `overlay` on top at (`x`, `y`) with a blend mode.
    pub fn composite2(&self, overlay: &Image, mode: BlendMode, x: i32, y: i32) -> Result<Image> {
        let mut c = Call::new("composite2")
            .arg("base", Arg::Image(self))
            .arg("overlay", Arg::Image(overlay))
            .arg("mode", Arg::Nick(mode.nick()));
        if x != 0 {
            c = c.arg("x", Arg::Int(x.into()));
        }
        if y != 0 {
            c = c.arg("y", Arg::Int(y.into()));
        }
        c.run()?.out()
    }

    /// The pixel value at (`x`, `y`), one entry per band.
    pub fn getpoint(&self, x: i32, y: i32) -> Result<Vec<f64>> {
        Call::new("getpoint")
            .arg("in", Arg::Image(self))
            .arg("x", Arg::Int(x.into()))
            .arg("y", Arg::Int(y.into()))
            .run()?
            .doubles("out-array")
    }

    /// Bounding box of the non-background area: `(left, top, width, height)`.
    pub fn find_trim(&self, threshold: f64, background: &[f64]) -> Result<(i32, i32, i32, i32)> {
        let out = Call::new("find_trim")
            .arg("in", Arg::Image(self))
            .arg("threshold", Arg::Double(threshold))
            .arg("background", Arg::Doubles(background))
            .run()?;
        Ok((
            out.int("left")?,
            out.int("top")?,
            out.int("width")?,
            out.int("height")?,
        ))
    }

    /// Per-band statistics matrix (`stats`).
    pub fn stats(&self) -> Result<Image> {
        Call::new("stats").arg("in", Arg::Image(self)).run()?.out()
    }

    /// Add an opaque alpha band (255, or 65535 for 16-bit interpretations).
    pub fn add_alpha(&self) -> Result<Image> {
        let max = match self.interpretation() {
            super::Interpretation::GREY16 | super::Interpretation::RGB16 => 65535.0,
            _ => 255.0,
        };
        self.bandjoin_const(&[max])
    }
}
