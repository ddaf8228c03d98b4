//! The built-in face detector (feature `face`, option `face_detector`):
//! [rustface](https://crates.io/crates/rustface), a pure-Rust port of the
//! SeetaFace funnel-structured cascade, with SeetaFace's frontal model
//! (BSD-2-Clause, `core/models/`, about 1.2 MB) compiled in.
//!
//! It runs on the greyscale of the probe (`detector_probe_size`), on the
//! calling thread, and answers regions named `"face"` whose score is
//! SeetaFace's (higher is surer).

use std::sync::{Arc, OnceLock};

use super::{CachedDetector, Detector, Probe, Region};
use crate::error::{Error, Result};
use crate::options::Options;

/// SeetaFace's frontal face model, as rustface 0.1.7 ships it.
static MODEL_BYTES: &[u8] = include_bytes!("../../models/seeta_fd_frontal_v1.0.bin");

fn model() -> Result<&'static rustface::Model> {
    static MODEL: OnceLock<std::result::Result<rustface::Model, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| rustface::read_model(MODEL_BYTES).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Detector(format!("face model: {e}")))
}

/// Faces in the probe, as [`Region`]s named `"face"`.
#[derive(Debug, Clone)]
pub struct FaceDetector {
    min_size: u32,
    min_quality: f64,
}

impl FaceDetector {
    /// A detector for faces at least `min_size` probe pixels wide (20 or
    /// more) with a score of at least `min_quality` (above 0; 2.0 is
    /// rustface's example threshold).
    pub fn new(min_size: u32, min_quality: f64) -> Result<FaceDetector> {
        if min_size < 20 || !(min_quality.is_finite() && min_quality > 0.0) {
            return Err(Error::invalid_msg(
                "face detector: min_size must be at least 20 and min_quality positive",
            ));
        }
        Ok(FaceDetector {
            min_size,
            min_quality,
        })
    }
}

/// BT.601 luma of packed sRGB(A) pixels.
fn grey(p: &Probe<'_>) -> Vec<u8> {
    let bands = p.bands.max(1) as usize;
    p.pixels
        .chunks_exact(bands)
        .map(|px| match px {
            [r, g, b, ..] => {
                ((*r as u32 * 299 + *g as u32 * 587 + *b as u32 * 114 + 500) / 1000) as u8
            }
            [v, ..] => *v,
            [] => 0,
        })
        .collect()
}

impl Detector for FaceDetector {
    fn startup(&self) -> Result<()> {
        model().map(|_| ())
    }

    fn detect(&self, _image_key: &str, probe: &Probe<'_>) -> Result<Vec<Region>> {
        let (w, h) = (probe.width, probe.height);
        let expected = w as usize * h as usize * probe.bands as usize;
        if probe.pixels.len() != expected || !(1..=4).contains(&probe.bands) {
            return Err(Error::Detector(format!(
                "face detector: probe of {w}x{h}x{} with {} bytes",
                probe.bands,
                probe.pixels.len()
            )));
        }
        // Smaller than the smallest window: nothing to find (rustface
        // would scan an empty pyramid).
        if w < self.min_size || h < self.min_size {
            return Ok(Vec::new());
        }
        let model = model()?.clone();
        let grey = grey(probe);
        let (min_size, min_quality) = (self.min_size, self.min_quality);
        // rustface asserts on its inputs; none of them can fail here, but
        // a panic must still become an error, never an abort.
        let faces = std::panic::catch_unwind(move || {
            let mut d = rustface::create_detector_with_model(model);
            d.set_min_face_size(min_size);
            d.set_score_thresh(min_quality);
            d.set_pyramid_scale_factor(0.8);
            d.set_slide_window_step(4, 4);
            d.detect(&rustface::ImageData::new(&grey, w, h))
        })
        .map_err(|_| Error::Detector("face detector panicked".to_owned()))?;
        let (wf, hf) = (w as f64, h as f64);
        Ok(faces
            .iter()
            .map(|f| {
                let b = f.bbox();
                let (x, y) = (b.x() as f64, b.y() as f64);
                Region::new(
                    x / wf,
                    y / hf,
                    (x + b.width() as f64) / wf,
                    (y + b.height() as f64) / hf,
                )
                .with_score(f.score())
                .with_name("face")
            })
            .collect())
    }
}

/// The face detector `opts` describe: `face_detector_min_size`,
/// `face_detector_min_quality`, cached per image key when
/// `face_detector_cache_size` is set.
pub fn from_options(opts: &Options) -> Arc<dyn Detector> {
    let d = FaceDetector {
        min_size: opts.face_detector_min_size.max(20),
        min_quality: if opts.face_detector_min_quality > 0.0 {
            opts.face_detector_min_quality
        } else {
            2.0
        },
    };
    if opts.face_detector_cache_size > 0 {
        Arc::new(CachedDetector::new(
            d,
            opts.face_detector_cache_size,
            opts.face_detector_cache_ttl,
        ))
    } else {
        Arc::new(d)
    }
}
