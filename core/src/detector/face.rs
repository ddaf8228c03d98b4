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
    max_size: u32,
    min_quality: f64,
    iou_threshold: f64,
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
            max_size: 400.max(min_size),
            min_quality,
            iou_threshold: 0.2,
        })
    }

    /// Find faces at most `max_size` probe pixels wide (imagorface's
    /// `-face-detector-max-size`, 400); never below the minimum size.
    pub fn with_max_size(mut self, max_size: u32) -> FaceDetector {
        self.max_size = max_size.max(self.min_size);
        self
    }

    /// Merge overlapping faces whose intersection over union is above
    /// `threshold` into the best-scored one (imagorface's
    /// `-face-detector-iou-threshold`, 0.2); clamped to 0..=1, where 1
    /// keeps every box.
    pub fn with_iou_threshold(mut self, threshold: f64) -> FaceDetector {
        self.iou_threshold = if threshold.is_nan() {
            0.2
        } else {
            threshold.clamp(0.0, 1.0)
        };
        self
    }
}

/// Intersection over union of two boxes (fractions of the probe).
fn iou(a: &Region, b: &Region) -> f64 {
    let w = (a.right.min(b.right) - a.left.max(b.left)).max(0.0);
    let h = (a.bottom.min(b.bottom) - a.top.max(b.top)).max(0.0);
    let inter = w * h;
    let area = |r: &Region| (r.right - r.left) * (r.bottom - r.top);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Greedy non-maximum suppression: best score first, dropping every box
/// that overlaps a kept one by more than `threshold`.
fn suppress(mut faces: Vec<Region>, threshold: f64) -> Vec<Region> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Region> = Vec::with_capacity(faces.len());
    for f in faces {
        if kept.iter().all(|k| iou(k, &f) <= threshold) {
            kept.push(f);
        }
    }
    kept
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

    /// Its work is pixel work on the calling thread.
    fn keeps_slot(&self) -> bool {
        true
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
        let (min_size, max_size, min_quality) = (self.min_size, self.max_size, self.min_quality);
        // rustface asserts on its inputs; none of them can fail here, but
        // a panic must still become an error, never an abort.
        let faces = std::panic::catch_unwind(move || {
            let mut d = rustface::create_detector_with_model(model);
            d.set_min_face_size(min_size);
            d.set_max_face_size(max_size);
            d.set_score_thresh(min_quality);
            d.set_pyramid_scale_factor(0.8);
            d.set_slide_window_step(4, 4);
            d.detect(&rustface::ImageData::new(&grey, w, h))
        })
        .map_err(|_| Error::Detector("face detector panicked".to_owned()))?;
        let (wf, hf) = (w as f64, h as f64);
        // rustface's maximum bounds its image pyramid, not each box: a box
        // may come out a little wider, so the bound is applied here too.
        let regions = faces
            .iter()
            .filter(|f| f.bbox().width() <= self.max_size)
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
            .collect();
        Ok(suppress(regions, self.iou_threshold))
    }
}

/// The face detector `opts` describe: `face_detector_min_size`,
/// `face_detector_max_size`, `face_detector_min_quality`,
/// `face_detector_iou_threshold`, cached per image key when
/// `face_detector_cache_size` is set.
pub fn from_options(opts: &Options) -> Arc<dyn Detector> {
    let min_size = opts.face_detector_min_size.max(20);
    let d = FaceDetector {
        min_size,
        max_size: opts.face_detector_max_size.max(min_size),
        min_quality: if opts.face_detector_min_quality > 0.0 {
            opts.face_detector_min_quality
        } else {
            2.0
        },
        iou_threshold: opts.face_detector_iou_threshold.clamp(0.0, 1.0),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn face(l: f64, t: f64, r: f64, b: f64, score: f64) -> Region {
        Region::new(l, t, r, b).with_score(score)
    }

    #[test]
    fn overlapping_faces_merge_into_the_best_scored() {
        let a = face(0.1, 0.1, 0.3, 0.3, 5.0);
        let b = face(0.12, 0.12, 0.32, 0.32, 9.0); // IoU with a ~0.68
        let c = face(0.6, 0.6, 0.8, 0.8, 1.0); // apart
        assert!((iou(&a, &a) - 1.0).abs() < 1e-12);
        assert_eq!(iou(&a, &c), 0.0);
        let kept = suppress(vec![a.clone(), b.clone(), c.clone()], 0.2);
        assert_eq!(kept, vec![b.clone(), c.clone()]);
        // A threshold of 1 keeps every box.
        assert_eq!(suppress(vec![a, b, c], 1.0).len(), 3);
    }

    #[test]
    fn sizes_and_thresholds_are_clamped() {
        let d = FaceDetector::new(40, 2.0)
            .unwrap()
            .with_max_size(10)
            .with_iou_threshold(f64::NAN);
        assert_eq!((d.max_size, d.iou_threshold), (40, 0.2));
        assert_eq!(d.with_iou_threshold(7.0).iou_threshold, 1.0);
    }
}
