//! [`CachedDetector`]: remembers a detector's answers per image key, as
//! imagorface's detection cache does.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Detector, Probe, Region};
use crate::error::Result;

/// Wraps a detector and keeps up to `capacity` answers, the oldest dropped
/// first, each for at most `ttl` (zero: no expiry). Only calls with a
/// non-empty image key are cached; the key also covers the probe's size
/// and a hash of its pixels, so the same source seen at another stage
/// (cropped, resized, redacted) is never answered with stale boxes.
pub struct CachedDetector<D> {
    inner: D,
    capacity: usize,
    ttl: Duration,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<(String, u64), (Instant, Vec<Region>)>,
    order: VecDeque<(String, u64)>,
}

impl<D: Detector> CachedDetector<D> {
    /// Cache `inner`'s answers.
    pub fn new(inner: D, capacity: usize, ttl: Duration) -> CachedDetector<D> {
        CachedDetector {
            inner,
            capacity,
            ttl,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Answers held now.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.map.len()).unwrap_or(0)
    }

    /// Nothing cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn probe_hash(p: &Probe<'_>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (p.width, p.height, p.bands).hash(&mut h);
    p.pixels.hash(&mut h);
    h.finish()
}

impl<D: Detector> Detector for CachedDetector<D> {
    fn startup(&self) -> Result<()> {
        self.inner.startup()
    }

    fn keeps_slot(&self) -> bool {
        self.inner.keeps_slot()
    }

    fn detect(&self, image_key: &str, probe: &Probe<'_>) -> Result<Vec<Region>> {
        if image_key.is_empty() || self.capacity == 0 {
            return self.inner.detect(image_key, probe);
        }
        let key = (image_key.to_owned(), probe_hash(probe));
        if let Ok(entries) = self.entries.lock() {
            if let Some((at, regions)) = entries.map.get(&key) {
                if self.ttl.is_zero() || at.elapsed() < self.ttl {
                    return Ok(regions.clone());
                }
            }
        }
        let regions = self.inner.detect(image_key, probe)?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries
                .map
                .insert(key.clone(), (Instant::now(), regions.clone()))
                .is_none()
            {
                entries.order.push_back(key);
            }
            while entries.map.len() > self.capacity {
                match entries.order.pop_front() {
                    Some(old) => {
                        entries.map.remove(&old);
                    }
                    None => break,
                }
            }
        }
        Ok(regions)
    }

    fn shutdown(&self) -> Result<()> {
        self.inner.shutdown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);
    impl Detector for Counting {
        fn detect(&self, _: &str, _: &Probe<'_>) -> Result<Vec<Region>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(vec![Region::new(0.1, 0.1, 0.2, 0.2)])
        }
    }

    #[test]
    fn caches_per_key_and_pixels_and_evicts() {
        let c = CachedDetector::new(Counting(AtomicUsize::new(0)), 2, Duration::ZERO);
        let a = [1u8; 12];
        let b = [2u8; 12];
        let probe = |px: &'static [u8]| Probe::new(px, 2, 2, 3);
        let a: &'static [u8] = Box::leak(Box::new(a));
        let b: &'static [u8] = Box::leak(Box::new(b));
        let calls = || c.inner.0.load(Ordering::SeqCst);
        c.detect("x.jpg", &probe(a)).unwrap();
        c.detect("x.jpg", &probe(a)).unwrap();
        assert_eq!(calls(), 1);
        c.detect("x.jpg", &probe(b)).unwrap();
        assert_eq!(calls(), 2, "other pixels, same key: not the same answer");
        c.detect("", &probe(a)).unwrap();
        assert_eq!(calls(), 3, "an empty key is never cached");
        c.detect("y.jpg", &probe(a)).unwrap();
        assert_eq!(c.len(), 2);
        c.detect("x.jpg", &probe(a)).unwrap();
        assert_eq!(calls(), 5, "the oldest entry was evicted");
    }
}
