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
    // Held while timing: calls that need it at once wait for one timing.
    static TIMING: Mutex<()> = Mutex::new(());
    if let Some(&ns) = TIMED.get() {
        return Ok(ns);
    }
    let _timing = TIMING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&ns) = TIMED.get() {
        return Ok(ns);
    }
    let side = CALIBRATION_SIDE;
    let noise = Image::from_pixels(noise((side * side * 3) as usize), side, side, 3)?;
    let params = ExportParams::quantising(ImageFormat::Png);
    // Twice, the least: the first quantisation of a process also starts
    // the quantiser's threads.
    let mut least = Duration::MAX;
    for _ in 0..2 {
        let (started, cpu) = (Instant::now(), thread_cpu_time());
        save(&noise, ImageFormat::Png, &params, 0, opts)?;
        budget.settle(Cost::default(), started.elapsed());
        least = least.min(thread_cpu_time().saturating_sub(cpu));
    }
    let ns = (least.as_nanos() as f64 / f64::from(side * side)).max(BUSIEST_FLOOR_NS);
    Ok(*TIMED.get_or_init(|| ns))
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
