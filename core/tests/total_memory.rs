//! `max_total_memory`: the memory estimates of all calls in the process
//! add up against one cap, so a flood of calls, each within `max_memory`,
//! cannot exhaust the machine. One test, since the pool is process-wide.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use imagor::{Error, Imagor, Options};

const PATH: &str = "300x300/filters:blur(2):sharpen(1)";

fn imagor(cap: u64) -> Imagor {
    Imagor::new(Options {
        max_total_memory: cap,
        process_timeout: Duration::from_secs(60),
        ..Options::default()
    })
    .unwrap()
}

/// Run `calls` calls from each of `threads` threads at once; the results,
/// and the most memory the process held meanwhile.
fn flood(
    imagor: &Imagor,
    data: &[u8],
    threads: usize,
    calls: usize,
) -> (Vec<Result<(), Error>>, u64) {
    let done = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        let sampler = {
            let (done, most, imagor) = (done.clone(), most.clone(), imagor.clone());
            s.spawn(move || {
                while !done.load(Ordering::Acquire) {
                    most.fetch_max(imagor.stats().memory_reserved, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_micros(200));
                }
            })
        };
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..calls)
                        .map(|_| imagor.process(data, PATH).map(|_| ()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let results = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        done.store(true, Ordering::Release);
        sampler.join().unwrap();
        (results, most.load(Ordering::Relaxed))
    })
}

#[test]
fn calls_together_stay_within_max_total_memory() {
    let data = std::fs::read("../testdata/Canon_40D.jpg").unwrap();
    assert!(Options::default().max_total_memory > 0, "on by default");

    // The least total one call needs, found by bisection: below it a call
    // is refused, with a 422 naming the option when one charge alone is
    // too big, with a 429 when its charges together are.
    let (mut lo, mut hi) = (1u64, 64 << 20);
    let e = imagor(lo).process(&data, PATH).unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    assert!(e.to_string().contains("max_total_memory"), "{e}");
    assert!(imagor(hi).process(&data, PATH).is_ok());
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        match imagor(mid).process(&data, PATH) {
            Ok(_) => hi = mid,
            Err(e) => {
                assert!(matches!(e.status(), 422 | 429), "{e}");
                lo = mid;
            }
        }
    }
    let need = hi;
    assert_eq!(
        imagor(0).stats().memory_reserved,
        0,
        "every call gave its memory back"
    );

    // Room for one call at a time: 32 calls from 8 threads never hold more
    // together; each either waits for room and succeeds or, holding memory
    // already when the others took the rest, is refused with 429.
    let imagor_ = imagor(need);
    let refused_before = imagor_.stats().memory_refused;
    let (results, most) = flood(&imagor_, &data, 8, 4);
    assert!(most <= need, "held {most} together, more than {need}");
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(Error::TooManyRequests)))
        .count();
    assert_eq!(ok + refused, results.len(), "{results:?}");
    assert!(ok >= 1, "{results:?}");
    let stats = imagor_.stats();
    assert_eq!(stats.memory_reserved, 0);
    assert_eq!(stats.memory_refused - refused_before, refused as u64);

    // Room for all: no call waits or fails.
    let (results, most) = flood(&imagor(need * 64), &data, 8, 4);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert!(most > need, "the calls overlapped ({most})");
}
