//! The cost of quantising a whole image to a palette (a GIF of one frame,
//! a PNG `palette()` or colour at fewer than 8 bits), measured on a sample.
//!
//! libvips quantises the whole image in one call it cannot interrupt, and
//! what that costs depends on the content far more than on the size: CPU
//! per pixel of a 2000x2000 image, measured, was 60-75 ns for flat
//! graphics and gradients, 150-170 for noise and a scanned photo, 320-480
//! for photos, and 900 for a 1900x1263 photo (`jpg-24bit-icc-adobe-rgb`).
//! No per-pixel figure both lets a large graphic through and stops a large
//! photo, so where it matters the saver is timed on four tiles of the image
//! and the whole is charged at that rate. The busiest rate, which bounds
//! what may run untimed, is the quantiser's on noise, timed once per
//! process ([`busiest_ns`]): libvips builds differ fourfold.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::export::{save, ExportParams};
use crate::budget::{thread_cpu_time, Budget, Cost};
use crate::error::Result;
use crate::format::ImageFormat;
use crate::options::Options;
use crate::vips::Image;

/// The least CPU per pixel taken as the busiest content's, whatever the
/// quantiser's timing says: a photo, 1900x1263, took 880-960 ns on
/// libvips 8.14. (500 let that photo's GIF run 2.3 s of CPU on a 2 s
/// budget.)
const BUSIEST_FLOOR_NS: f64 = 1000.0;
/// The flattest content measured: an image over the time left even at
/// this rate is refused without a sample.
const FLATTEST_NS: f64 = 60.0;
/// The whole's cost per pixel over the sample's, at most: the sample's
/// time includes the palette's set-up, so most images encode faster per
/// pixel whole (0.5-1.0x over eight images at 2000x2000 and 3000x3000),
/// but a photo rich in colours took 1.18x (2.13 s for 2.4 MP against
/// 0.68-0.82 s for a 1 MP sample). Dividing by 1.4, the middle of the
/// first eight, let that photo's palette PNG run 2.35 s of CPU on a 2 s
/// budget.
const WHOLE_OVER_SAMPLE: f64 = 1.25;
/// The side of each of the four tiles of the sample (512x512 in all), at
/// most; less when the sample would take over half the time left at the
/// busiest rate.
const TILE: i32 = 256;
/// The least side of a tile worth timing.
const MIN_TILE: i32 = 32;
/// The side of the noise the quantiser is timed on, once per process:
/// 9 216 pixels, 28 ms of CPU on libvips 8.14.
const CALIBRATION_SIDE: i32 = 96;
/// The side of the close colours [`crowded_ns`] times: 65 536 pixels,
/// 37 ms of CPU on libvips 8.14, 68 ms on 8.18.
const CROWDED_SIDE: i32 = 256;
/// The least CPU per pixel taken for [`crowded_ns`], whatever its timing
/// says (the most measured on libvips 8.14 at 1024x1024 was 460 ns).
const CROWDED_FLOOR_NS: f64 = 500.0;

/// Charge the quantising save of `img` (`encode` saves an image as the
/// whole will be), at `alpha` times the rates for images with alpha. An
/// image that neither surely fits the time left nor surely does not is
/// first rendered to memory (the deadline stops that), which `img` then
/// holds, so that the sample and the save read the same pixels once.
pub(super) fn charge(
    img: &mut Image,
    alpha: f64,
    what: &str,
    budget: &Budget,
    opts: &Options,
    encode: impl Fn(&Image) -> Result<()>,
) -> Result<()> {
    if budget.time_left_ns().is_none() {
        return Ok(()); // No deadline: nothing to hold the work to.
    }
    let busiest = busiest_ns(budget, opts)? * alpha;
    let Some(left) = budget.time_left_ns() else {
        return Ok(());
    };
    let pixels = img.width().max(0) as f64 * img.height().max(0) as f64;
    let fits = |ns: f64| Cost::per_pixel(pixels, ns).duration().as_nanos() <= u128::from(left);
    // Too thin to cut four tiles from: charged as the busiest content.
    if fits(busiest) || img.width() < 2 || img.height() < 2 {
        return budget.charge_unstoppable_time(what, Cost::per_pixel(pixels, busiest));
    }
    if !fits(FLATTEST_NS * alpha) {
        // Refused: even flat content would not fit.
        return budget.charge_unstoppable_time(what, Cost::per_pixel(pixels, FLATTEST_NS * alpha));
    }
    // Four tiles that take half the time left at most, even at the
    // busiest rate: smaller ones overstate the rate (the palette's set-up
    // weighs more), never understate it.
    let tile = ((left as f64 / 2.0 / busiest / 4.0).sqrt() as i32).min(TILE);
    if tile < MIN_TILE {
        return budget.charge_unstoppable_time(what, Cost::per_pixel(pixels, busiest));
    }
    *img = img.copy_memory()?;
    let sample = tiles(img, tile)?;
    let sampled = sample.width() as f64 * sample.height() as f64;
    let charged = budget.unstoppable(Cost::per_pixel(sampled, busiest));
    budget.charge_time("sampling the palette's cost", charged)?;
    let started = Instant::now();
    encode(&sample)?;
    let took = started.elapsed();
    budget.settle(charged, took);
    let per_pixel = took.as_nanos() as f64 / sampled * WHOLE_OVER_SAMPLE;
    // Timed on the clock the deadline runs on, with the other calls of
    // the moment sharing the cores: not scaled again.
    budget.charge_time(what, Cost::per_pixel(pixels, per_pixel))
}

/// CPU per pixel of the busiest content for this process's quantiser:
/// noise, with as many colours as pixels, saved as a palette PNG once
/// (the first time a call needs it) on a small image, which overstates
/// the rate of large ones, never understates it. The calling thread's CPU
/// time is taken, not the clock: the calls working meanwhile would
/// inflate the figure for the life of the process. What a quantiser costs
/// depends on the libvips build far more than on the machine: noise took
/// 1.2-1.5 µs a pixel on Debian's libvips 8.14 and 5.5-6.2 on the 8.18
/// the packages bundle (libimagequant 2.4), photos under 1.
pub(super) fn busiest_ns(budget: &Budget, opts: &Options) -> Result<f64> {
    static TIMED: OnceLock<f64> = OnceLock::new();
    timed_once(&TIMED, budget, || {
        let side = CALIBRATION_SIDE;
        let pixels = noise((side * side * 3) as usize);
        // Twice, the least: the first quantisation of a process also
        // starts the quantiser's threads.
        let least = time_palette(pixels, side, opts)?.min(time_palette(
            noise((side * side * 3) as usize),
            side,
            opts,
        )?);
        Ok((least.as_nanos() as f64 / f64::from(side * side)).max(BUSIEST_FLOOR_NS))
    })
}

/// CPU per pixel the quantiser spends on a large image of few colours
/// that lie close together, timed once per process like
/// [`busiest_ns`]: the costliest per pixel of the contents whose colours
/// are not what sets the cost ([`super::gif_frames`] adds those). Measured
/// at 1024x1024 with dithering, libvips 8.14 / 8.18: 0.25 / 0.64 µs for
/// 512 close colours, 0.40 / 0.78 for 4 096, 0.46 / 0.82 for 32 768, 0.23
/// / 0.47 for 1 024 colours spread over the cube. The 256x256 it is timed
/// on adds the palette's set-up to that: 0.56 µs on 8.14, 1.03-1.05 on
/// 8.18.
pub(super) fn crowded_ns(budget: &Budget, opts: &Options) -> Result<f64> {
    static TIMED: OnceLock<f64> = OnceLock::new();
    busiest_ns(budget, opts)?; // Starts the quantiser's threads first.
    timed_once(&TIMED, budget, || {
        let side = CROWDED_SIDE;
        // Noise in a cube of 16 levels a channel: 4 096 colours, close.
        let pixels = noise((side * side * 3) as usize)
            .into_iter()
            .map(|v| 120 + (v >> 4))
            .collect();
        let took = time_palette(pixels, side, opts)?;
        Ok((took.as_nanos() as f64 / f64::from(side * side)).max(CROWDED_FLOOR_NS))
    })
}

/// The figure in `cell`, worked out by `time` the first time a call needs
/// it (calls that need it meanwhile wait for that one timing), and its
/// time counted to the call that ran it.
fn timed_once(
    cell: &OnceLock<f64>,
    budget: &Budget,
    time: impl FnOnce() -> Result<f64>,
) -> Result<f64> {
    static TIMING: Mutex<()> = Mutex::new(());
    if let Some(&ns) = cell.get() {
        return Ok(ns);
    }
    let _timing = TIMING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&ns) = cell.get() {
        return Ok(ns);
    }
    let started = Instant::now();
    let ns = time()?;
    budget.settle(Cost::default(), started.elapsed());
    Ok(*cell.get_or_init(|| ns))
}

/// The calling thread's CPU time to save `side`-square RGB `pixels` as a
/// palette PNG.
fn time_palette(pixels: Vec<u8>, side: i32, opts: &Options) -> Result<Duration> {
    let img = Image::from_pixels(pixels, side, side, 3)?;
    let params = ExportParams::quantising(ImageFormat::Png);
    let cpu = thread_cpu_time();
    save(&img, ImageFormat::Png, &params, 0, opts)?;
    Ok(thread_cpu_time().saturating_sub(cpu))
}

/// `n` bytes of noise (xorshift).
fn noise(n: usize) -> Vec<u8> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Four `tile`-square tiles from the middles of the quarters of `img`,
/// joined two by two.
fn tiles(img: &Image, tile: i32) -> Result<Image> {
    let (w, h) = (img.width(), img.height());
    let (tw, th) = (tile.min(w / 2), tile.min(h / 2));
    let mut parts = Vec::with_capacity(4);
    for (qy, qx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let left = qx * (w / 2) + (w / 2 - tw) / 2;
        let top = qy * (h / 2) + (h / 2 - th) / 2;
        parts.push(img.extract_area(left, top, tw, th)?);
    }
    let refs: Vec<&Image> = parts.iter().collect();
    // One frame of its own size, whatever `img` said of its pages.
    Image::arrayjoin(&refs, 2)?.with_meta(|m| {
        m.remove("page-height");
        m.remove("n-pages");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_come_from_each_quarter_of_any_image_two_pixels_wide_or_more() {
        crate::vips::init().unwrap();
        for (w, h, want) in [
            (2000, 1000, (512, 512)),
            (2, 2, (2, 2)),
            (3, 1000, (2, 512)),
        ] {
            let img = Image::black(w, h, 3).unwrap();
            let sample = tiles(&img, TILE).unwrap();
            assert_eq!((sample.width(), sample.height()), want, "{w}x{h}");
        }
    }
}
