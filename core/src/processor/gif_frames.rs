//! What the costliest frame of an animated GIF takes to quantise.
//!
//! libvips' GIF saver quantises every frame of an animation to a palette
//! of its own (keeping an earlier palette only when the new one is close)
//! and remaps the frame to it, in library calls it cannot interrupt: the
//! frame in hand when the deadline passes runs to its end. Any frame may
//! cost what noise does ([`quantise_probe::busiest_ns`] a pixel), which on
//! the packages' libvips 8.18 (6-8 µs a pixel) would keep every frame over
//! about 490x490 from a 2 s budget. So when that bound weighs, the frames
//! are rendered (the saver reads them from memory afterwards) and each
//! one's distinct colours counted, as the saver hands them to the
//! quantiser: what it costs grows with the pixels (remapping, at most
//! [`quantise_probe::crowded_ns`] each) and with the colours (at most the
//! busiest rate each). Measured CPU for a 1024x1024 frame, libvips 8.14 /
//! 8.18: 0.24 / 0.49 s for 1 024 colours, 0.41 / 0.82 s for 32 768, 0.57
//! / 1.39 s for 130 000 and 1.44 / 3.95 s for 650 000 (noise). On 8.18 a
//! 700x700 frame of a gradient is now bound at 0.68 s (it takes 0.09 s)
//! where any content's bound was 4.2 s.

use super::quantise_probe;
use crate::budget::{Budget, Cost};
use crate::error::Result;
use crate::options::Options;
use crate::vips::{Image, Interpretation};

/// The estimate over the model's figure. Each rate is timed on a small
/// image, which overstates it for large frames (1.3x); the costliest
/// frames measured took 0.41-0.75 of the model (noise, close colours,
/// gradients; 700x700 and 1000x1000; libvips 8.14 and 8.18).
const MARGIN: f64 = 1.25;
/// A frame's fixed set-up, in pixels at the busiest rate.
const SETUP_PIXELS: f64 = 1024.0;
/// The share of the time left under which the bound for any content is
/// taken as it is, without counting.
const UNCOUNTED_SHARE: f64 = 0.25;
/// CPU charged per pixel for counting colours.
const COUNT_NS: f64 = 5.0;

/// Nanoseconds of CPU the costliest frame of `img`, saved as an animated
/// GIF, may take to quantise and remap, the bound for any content taken
/// `alpha` times for an image with alpha. The frames may first be rendered
/// to memory, which `img` then holds.
///
/// Counted frames need no such factor: the saver makes each pixel opaque
/// or transparent before quantising, and close colours with alpha took
/// 0.8x their time without, half transparent 0.5x (libvips 8.14, 512x512).
pub(super) fn costliest_frame_ns(
    img: &mut Image,
    alpha: f64,
    budget: &Budget,
    opts: &Options,
) -> Result<f64> {
    let busiest = quantise_probe::busiest_ns(budget, opts)?;
    let frame_pixels = img.width().max(0) as f64 * img.page_height().max(0) as f64;
    let any_content = busiest * frame_pixels * alpha;
    let Some(left) = budget.time_left_ns() else {
        return Ok(any_content);
    };
    if any_content <= left as f64 * UNCOUNTED_SHARE || colour_of(img).is_none() {
        return Ok(any_content);
    }
    let crowded = quantise_probe::crowded_ns(budget, opts)?;
    let total = frame_pixels * img.frames() as f64;
    budget.charge_time(
        "counting the frames' colours",
        Cost::per_pixel(total, COUNT_NS),
    )?;
    if img.memory_bytes().is_none() {
        *img = img.copy_memory()?; // Frames in memory already are read there.
    }
    let (Some(pixels), Some(colour)) = (img.memory_bytes(), colour_of(img)) else {
        return Ok(any_content);
    };
    let frame_bytes = frame_pixels as usize * colour.bands();
    let mut seen = ColourSet::new();
    let mut most = 0u32;
    for frame in pixels.chunks_exact(frame_bytes.max(1)) {
        budget.check()?;
        most = most.max(seen.count(frame, colour));
    }
    let model = crowded * frame_pixels + busiest * (f64::from(most) + SETUP_PIXELS);
    Ok((MARGIN * model).min(any_content))
}

/// How the saver reads a pixel of 8-bit samples: grey or RGB, with or
/// without alpha.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Colour {
    Grey,
    GreyAlpha,
    Rgb,
    Rgba,
}

impl Colour {
    fn bands(self) -> usize {
        match self {
            Colour::Grey => 1,
            Colour::GreyAlpha => 2,
            Colour::Rgb => 3,
            Colour::Rgba => 4,
        }
    }
}

/// The layout of `img`'s pixels when the saver takes them as they are:
/// 8-bit sRGB or grey; `None` for what it converts first.
fn colour_of(img: &Image) -> Option<Colour> {
    let srgb = matches!(
        img.interpretation(),
        Interpretation::SRGB | Interpretation::RGB
    );
    let grey = img.interpretation() == Interpretation::B_W;
    if img.format() != crate::vips::BandFormat::UCHAR {
        return None;
    }
    match img.bands() {
        1 if grey => Some(Colour::Grey),
        2 if grey => Some(Colour::GreyAlpha),
        3 if srgb => Some(Colour::Rgb),
        4 if srgb => Some(Colour::Rgba),
        _ => None,
    }
}

/// A set of 24-bit colours, one bit each (2 MiB), reused frame by frame.
struct ColourSet {
    bits: Vec<u64>,
}

impl ColourSet {
    fn new() -> ColourSet {
        ColourSet {
            bits: vec![0; (1 << 24) / 64],
        }
    }

    /// The distinct colours of one frame of packed `pixels` as the saver
    /// quantises them: a pixel under half opaque becomes the one
    /// transparent colour, any other is opaque.
    fn count(&mut self, pixels: &[u8], colour: Colour) -> u32 {
        self.bits.fill(0);
        let mut distinct = 0u32;
        let mut transparent = false;
        for p in pixels.chunks_exact(colour.bands()) {
            let (rgb, alpha) = match colour {
                Colour::Grey => (u32::from(p[0]) * 0x01_0101, 255),
                Colour::GreyAlpha => (u32::from(p[0]) * 0x01_0101, p[1]),
                Colour::Rgb => (rgb(p), 255),
                Colour::Rgba => (rgb(p), p[3]),
            };
            if alpha < 128 {
                transparent = true;
                continue;
            }
            let (word, bit) = ((rgb >> 6) as usize, 1u64 << (rgb & 63));
            distinct += u32::from(self.bits[word] & bit == 0);
            self.bits[word] |= bit;
        }
        distinct + u32::from(transparent)
    }
}

fn rgb(p: &[u8]) -> u32 {
    u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_counted_as_the_saver_quantises_them() {
        let mut seen = ColourSet::new();
        // Two opaque colours, one repeated; two pixels under half opaque
        // (one transparent colour); alpha 128 counts as opaque.
        let rgba = [
            1, 2, 3, 255, 1, 2, 3, 200, 9, 9, 9, 128, 5, 5, 5, 127, 7, 7, 7, 0,
        ];
        assert_eq!(seen.count(&rgba, Colour::Rgba), 3);
        // Counts start again for each frame.
        assert_eq!(seen.count(&[0, 0, 0, 255, 255, 255], Colour::Rgb), 2);
        assert_eq!(seen.count(&[4, 4, 5, 4], Colour::Grey), 2);
        assert_eq!(seen.count(&[4, 255, 4, 0, 5, 9], Colour::GreyAlpha), 2);
    }

    #[test]
    fn only_eight_bit_srgb_and_grey_are_counted() {
        crate::vips::init().unwrap();
        let rgb = Image::black(4, 4, 3).unwrap();
        let rgb = rgb.copy_as(Some(Interpretation::SRGB)).unwrap();
        assert_eq!(colour_of(&rgb), Some(Colour::Rgb));
        let wide = rgb.colourspace(Interpretation::RGB16).unwrap();
        assert_eq!(colour_of(&wide), None);
        let cmyk = Image::black(4, 4, 4)
            .unwrap()
            .copy_as(Some(Interpretation::CMYK))
            .unwrap();
        assert_eq!(colour_of(&cmyk), None);
    }
}
