//! `toPixels` and `processPixels`: raw 8-bit pixels out of and into the
//! pipeline, as sharp's `raw()` output and `{ raw }` input. Marshalling
//! only; the work is `imagor::Imagor::{process_to_pixels, process_pixels}`,
//! off the JavaScript thread.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Buffer, Uint8Array, Unknown};
use napi::Env;
use napi_derive::napi;

use crate::error::{guard, Fallible};
use crate::processor::engine_for;
use crate::tasks::{copy_input, input, Input, OffThread, Work};

/// The pixels of a processed image: 8-bit sRGB (`bands` 3) or sRGBA (4),
/// row by row, with no padding; an animation's `pages` frames are stacked
/// top to bottom.
#[napi(object)]
pub struct ImagorPixels {
    /// `width * height * bands` bytes.
    pub data: Buffer,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels, all frames together.
    pub height: u32,
    /// Samples per pixel: 3 or 4.
    pub bands: u32,
    /// Frames (1 for a still image); each is `height / pages` rows.
    pub pages: u32,
}

/// The layout of raw pixels given to `processPixels` (sharp's `raw`
/// option, with `bands` for its `channels`).
#[napi(object)]
pub struct RawPixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Samples per pixel: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
    pub bands: u32,
}

/// Process an image with an imagor path, off the JavaScript thread, and
/// resolve with the result's pixels instead of an encoded image (output
/// filters such as `format()` have nothing to act on).
///
/// ```js
/// const { data, width, height, bands } = await toPixels(buf, 'fit-in/64x64')
/// ```
#[napi(
    catch_unwind,
    ts_args_type = "data: Uint8Array | ArrayBuffer, path?: string | undefined | null, options?: ImagorOptions",
    ts_return_type = "Promise<ImagorPixels>"
)]
pub fn to_pixels(
    env: Env,
    data: Uint8Array,
    path: Option<String>,
    options: Option<Unknown>,
) -> napi::Result<AsyncTask<OffThread<ToPixels>>> {
    let engine = guard(&env, || engine_for(options))?;
    Ok(AsyncTask::new(OffThread::new(ToPixels {
        data: copy_input(&engine, &data),
        engine,
        path: path.unwrap_or_default(),
    })))
}

/// Process raw 8-bit pixels (`raw` gives their layout) with an imagor path,
/// off the JavaScript thread; resolves with the encoded image.
///
/// ```js
/// const png = await processPixels(rgba, { width: 64, height: 64, bands: 4 }, 'filters:format(png)')
/// ```
#[napi(
    catch_unwind,
    ts_args_type = "pixels: Uint8Array | ArrayBuffer, raw: RawPixels, path: string, options?: ImagorOptions",
    ts_return_type = "Promise<Buffer>"
)]
pub fn process_pixels(
    env: Env,
    pixels: Uint8Array,
    raw: RawPixels,
    path: String,
    options: Option<Unknown>,
) -> napi::Result<AsyncTask<OffThread<ProcessPixels>>> {
    let engine = guard(&env, || engine_for(options))?;
    Ok(AsyncTask::new(OffThread::new(ProcessPixels {
        pixels: copy_input(&engine, &pixels),
        engine,
        raw,
        path,
    })))
}

/// `toPixels`: encoded image in (copied on the JavaScript thread), pixels out.
pub(crate) struct ToPixels {
    engine: Arc<imagor::Imagor>,
    data: Input,
    path: String,
}

impl Work for ToPixels {
    type Out = imagor::Pixels;
    type Js = ImagorPixels;

    fn compute(&mut self) -> Fallible<imagor::Pixels> {
        Ok(self
            .engine
            .process_to_pixels(input(&self.data)?, &self.path)?)
    }

    fn to_js(_env: &Env, out: imagor::Pixels) -> napi::Result<ImagorPixels> {
        Ok(ImagorPixels {
            data: Buffer::from(out.data),
            width: out.width,
            height: out.height,
            bands: out.bands,
            pages: out.pages,
        })
    }
}

/// `processPixels`: raw pixels in (copied on the JavaScript thread),
/// encoded image out.
pub(crate) struct ProcessPixels {
    engine: Arc<imagor::Imagor>,
    pixels: Input,
    raw: RawPixels,
    path: String,
}

impl Work for ProcessPixels {
    type Out = Vec<u8>;
    type Js = Buffer;

    fn compute(&mut self) -> Fallible<Vec<u8>> {
        let dim = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let raw = &self.raw;
        Ok(self
            .engine
            .process_pixels(
                input(&self.pixels)?,
                dim(raw.width),
                dim(raw.height),
                dim(raw.bands),
                &self.path,
            )?
            .data)
    }

    fn to_js(_env: &Env, out: Vec<u8>) -> napi::Result<Buffer> {
        Ok(Buffer::from(out))
    }
}
