//! Region detectors: imagor's `Detector` interface.
//!
//! A [`Detector`] is handed a small sRGB (or sRGBA) copy of the image, the
//! *probe* (at most `detector_probe_size` pixels on its longer side), and
//! answers with [`Region`]s in fractions of that probe's size. The regions
//! then steer `smart` crop (instead of libvips' attention heuristic), the
//! `redact()`, `redact_oval()` and `draw_detections()` filters, and appear
//! in `/meta` as `detected_regions` when the path asks for detection.
//!
//! Any number of detectors can be added with
//! [`crate::Imagor::with_detector`]; their regions are merged, in order.
//! What they answer is checked ([`sanitize`]): coordinates are clamped to
//! `0..=1`, empty boxes are dropped, and non-finite numbers, inverted boxes
//! or more than [`MAX_REGIONS`] regions are refused with
//! [`crate::Error::Detector`], as is an error the detector itself returns.
//! (imagor ignores a failing detector and crops by attention instead; a
//! redaction that silently does nothing is worse than an error.)
//!
//! ```
//! use std::sync::Arc;
//! use imagor::detector::{FixedRegions, Region};
//!
//! let faces = FixedRegions::new(vec![Region::new(0.1, 0.1, 0.4, 0.6).with_name("face")]);
//! let imagor = imagor::Imagor::new(imagor::Options::default())?.with_detector(Arc::new(faces))?;
//! let png = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/gopher-front.png")).unwrap();
//! let meta = imagor.meta(&png, "filters:redact(black)")?;
//! assert_eq!(meta.detected_regions.len(), 1);
//! # Ok::<(), imagor::Error>(())
//! ```

mod cache;
#[cfg(feature = "face")]
pub mod face;
pub(crate) mod run;

use std::sync::Arc;

use crate::error::{Error, Result};

pub use cache::CachedDetector;

/// Most regions one detection may return, all detectors together.
pub const MAX_REGIONS: usize = 256;
/// Longest region name kept, in bytes (longer names are cut).
pub const MAX_NAME_LEN: usize = 256;

/// A box in fractions of the probe's width and height (`0.0..=1.0`), with
/// an optional confidence and class name, as imagor's `DetectorRegion`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Region {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Right edge.
    pub right: f64,
    /// Bottom edge.
    pub bottom: f64,
    /// Detection confidence; 0 means not given.
    pub score: f64,
    /// Class name (`"face"`); empty means not given.
    pub name: String,
}

impl Region {
    /// A box without score or name.
    pub fn new(left: f64, top: f64, right: f64, bottom: f64) -> Region {
        Region {
            left,
            top,
            right,
            bottom,
            ..Region::default()
        }
    }

    /// The same box with a confidence.
    pub fn with_score(mut self, score: f64) -> Region {
        self.score = score;
        self
    }

    /// The same box with a class name.
    pub fn with_name(mut self, name: impl Into<String>) -> Region {
        self.name = name.into();
        self
    }
}

/// The pixels a detector looks at: row-major, 8 bits per sample, `bands`
/// interleaved samples per pixel (3: sRGB, 4: sRGB + alpha).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Probe<'a> {
    /// `width * height * bands` bytes.
    pub pixels: &'a [u8],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Samples per pixel: 3 or 4.
    pub bands: u32,
    /// When the call's `process_timeout` ends (`None`: no limit). A
    /// detector runs outside libvips, where the deadline cannot stop it; one
    /// that waits on another thread (a binding's JavaScript detector) waits
    /// no longer than this, the call answers 408 then either way.
    pub deadline: Option<std::time::Instant>,
}

impl<'a> Probe<'a> {
    /// A probe of `pixels` (`width * height * bands` bytes) with no
    /// deadline: for tests and for detectors run outside a call.
    pub fn new(pixels: &'a [u8], width: u32, height: u32, bands: u32) -> Probe<'a> {
        Probe {
            pixels,
            width,
            height,
            bands,
            deadline: None,
        }
    }
}

/// Finds regions of interest (faces, objects, text, ...) in a probe.
///
/// `image_key` names the source image (the path's image, e.g.
/// `photos/a.jpg`) so that a detector may cache its answers; it is empty
/// when the caller opts out of caching (filters that run on an already
/// changed image, `process()` calls). Implementations must be thread-safe:
/// one detector serves every call of an [`crate::Imagor`] and its clones.
pub trait Detector: Send + Sync {
    /// Called once by [`crate::Imagor::with_detector`]; an error there is
    /// returned from it.
    fn startup(&self) -> Result<()> {
        Ok(())
    }

    /// The regions found in `probe`, in fractions of its size.
    fn detect(&self, image_key: &str, probe: &Probe<'_>) -> Result<Vec<Region>>;

    /// Whether the call keeps its processing slot (`process_slots`) while
    /// this detector runs: `true` for one that does its work on the
    /// calling thread (the built-in face detector). By default (`false`)
    /// the slot is given back meanwhile, since a detector may wait on
    /// other threads, a network or a host runtime, which may call back
    /// into the instance and need a slot of its own.
    fn keeps_slot(&self) -> bool {
        false
    }

    /// Called once when the last [`crate::Imagor`] using the detector is
    /// dropped; errors are ignored, as in imagor.
    fn shutdown(&self) -> Result<()> {
        Ok(())
    }
}

/// A detector that always answers the same regions (imagor's test stub):
/// for tests, and for images whose regions of interest are known up front.
#[derive(Debug, Clone, Default)]
pub struct FixedRegions(Vec<Region>);

impl FixedRegions {
    /// Answer `regions` for every image.
    pub fn new(regions: Vec<Region>) -> FixedRegions {
        FixedRegions(regions)
    }
}

impl Detector for FixedRegions {
    fn detect(&self, _image_key: &str, _probe: &Probe<'_>) -> Result<Vec<Region>> {
        Ok(self.0.clone())
    }

    fn keeps_slot(&self) -> bool {
        true
    }
}

/// A started detector; shut down when the last instance using it goes.
struct Started(Arc<dyn Detector>);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.shutdown();
    }
}

/// The detectors of an [`crate::Imagor`], in the order they were added.
#[derive(Clone, Default)]
pub(crate) struct Detectors(Vec<Arc<Started>>);

impl Detectors {
    /// Start `d` and add it after the others.
    pub(crate) fn with(&self, d: Arc<dyn Detector>) -> Result<Detectors> {
        d.startup().map_err(|e| match e {
            Error::Detector(_) => e,
            other => Error::Detector(format!("detector startup: {other}")),
        })?;
        let mut all = self.0.clone();
        all.push(Arc::new(Started(d)));
        Ok(Detectors(all))
    }

    /// No detector configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many detectors.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Ask every detector, merge and check their answers.
    pub(crate) fn detect(&self, image_key: &str, probe: &Probe<'_>) -> Result<Vec<Region>> {
        let mut all = Vec::new();
        for d in &self.0 {
            let detect = || d.0.detect(image_key, probe);
            let found = if d.0.keeps_slot() {
                detect()
            } else {
                crate::serve::slots::released_while(detect)
            };
            let found = found.map_err(|e| match e {
                Error::Detector(_) | Error::Timeout(_) | Error::Cancelled => e,
                other => Error::Detector(format!("detector failed: {other}")),
            })?;
            if found.len() > MAX_REGIONS || all.len() + found.len() > MAX_REGIONS {
                return Err(Error::Detector(format!(
                    "detectors returned more than {MAX_REGIONS} regions"
                )));
            }
            all.extend(sanitize(found)?);
        }
        Ok(all)
    }
}

/// Check a detector's answer: every number finite, boxes not inverted;
/// coordinates clamped to `0..=1`, boxes left empty by that dropped, names
/// cut to [`MAX_NAME_LEN`] bytes, and a negative score read as "not given".
pub fn sanitize(regions: Vec<Region>) -> Result<Vec<Region>> {
    if regions.len() > MAX_REGIONS {
        return Err(Error::Detector(format!(
            "detector returned {} regions, more than {MAX_REGIONS}",
            regions.len()
        )));
    }
    let mut out = Vec::with_capacity(regions.len());
    for mut r in regions {
        let coords = [r.left, r.top, r.right, r.bottom];
        if coords.iter().chain([&r.score]).any(|v| !v.is_finite()) {
            return Err(Error::Detector(format!(
                "detector returned a region with a non-finite value: {coords:?} score {}",
                r.score
            )));
        }
        if r.right < r.left || r.bottom < r.top {
            return Err(Error::Detector(format!(
                "detector returned an inverted region: left {} top {} right {} bottom {}",
                r.left, r.top, r.right, r.bottom
            )));
        }
        r.left = r.left.clamp(0.0, 1.0);
        r.top = r.top.clamp(0.0, 1.0);
        r.right = r.right.clamp(0.0, 1.0);
        r.bottom = r.bottom.clamp(0.0, 1.0);
        if r.right <= r.left || r.bottom <= r.top {
            continue;
        }
        if r.score < 0.0 {
            r.score = 0.0;
        }
        if r.name.len() > MAX_NAME_LEN {
            let mut cut = MAX_NAME_LEN;
            while !r.name.is_char_boundary(cut) {
                cut -= 1;
            }
            r.name.truncate(cut);
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_clamps_drops_and_refuses() {
        let ok = sanitize(vec![
            Region::new(-0.5, 0.2, 1.5, 0.8),
            Region::new(0.3, 0.3, 0.3, 0.9),
            Region::new(1.2, 0.1, 1.4, 0.2),
            Region::new(0.1, 0.1, 0.2, 0.2).with_score(-3.0),
        ])
        .unwrap();
        assert_eq!(
            ok,
            vec![
                Region::new(0.0, 0.2, 1.0, 0.8),
                Region::new(0.1, 0.1, 0.2, 0.2)
            ]
        );
        for bad in [
            Region::new(f64::NAN, 0.0, 1.0, 1.0),
            Region::new(0.0, 0.0, f64::INFINITY, 1.0),
            Region::new(0.0, 0.0, 1.0, 1.0).with_score(f64::NAN),
            Region::new(0.6, 0.0, 0.4, 1.0),
            Region::new(0.0, 0.9, 1.0, 0.1),
        ] {
            let e = sanitize(vec![bad.clone()]).unwrap_err();
            assert_eq!((e.code(), e.status()), ("detector", 500), "{bad:?}");
        }
        let many = vec![Region::new(0.1, 0.1, 0.2, 0.2); MAX_REGIONS + 1];
        assert_eq!(sanitize(many).unwrap_err().code(), "detector");
        let long = sanitize(vec![
            Region::new(0.0, 0.0, 1.0, 1.0).with_name("é".repeat(MAX_NAME_LEN))
        ])
        .unwrap();
        assert!(long[0].name.len() <= MAX_NAME_LEN);
    }
}
