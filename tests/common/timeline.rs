//! Animations whose golden was written by a GIF writer that merges frames:
//! cgif 0.3.1 and later drop a frame that quantises exactly like the one
//! before it and add its delay to that frame. An older cgif (Debian 12 has
//! 0.3.0) writes every frame, so the same animation comes out with more,
//! shorter frames. Such an output is compared with the golden along the
//! timeline: each of our frames against the golden frame shown at the same
//! moment.

use std::sync::OnceLock;

use imagor::{Imagor, Options};

use super::{load, testdata, Decoded};

/// The `requires` value of a manifest entry whose golden merged frames.
pub const GIF_WRITER_MERGES: &str = "gif_writer_merges_identical_frames";

/// Does the linked libvips' GIF writer merge identical consecutive frames?
/// Probed once: the eight frames of `dancing-banana.gif` made all black.
pub fn gif_writer_merges_identical_frames() -> bool {
    static MERGES: OnceLock<bool> = OnceLock::new();
    *MERGES.get_or_init(|| {
        let imagor = Imagor::new(Options {
            unsafe_: true,
            file_loader_base_dir: testdata().to_string_lossy().into_owned(),
            ..Options::default()
        })
        .expect("default options");
        let out = imagor
            .serve("unsafe/4x4/filters:fill(black):brightness(-100)/dancing-banana.gif")
            .expect("the frame-merge probe renders");
        let (img, _) = load(&out.data, true).expect("the probe's GIF decodes");
        img.frames() < 8
    })
}

/// The frame delays (ms) of an encoded animation; one frame of 0 ms for a
/// still image.
pub fn delays(bytes: &[u8]) -> Result<Vec<i32>, String> {
    let (img, _) = load(bytes, true)?;
    let n = img.frames().max(1) as usize;
    let d = img.get_array_int("delay").unwrap_or_default();
    if d.len() < n {
        return Err(format!("{} delays for {n} frames", d.len()));
    }
    Ok(d[..n].to_vec())
}

/// `want` with its frames repeated so that frame `j` is the one shown when
/// our frame `j` starts. Every golden frame must start where one of ours
/// does, and both animations must last as long.
pub fn along_timeline(
    want: &Decoded,
    want_delays: &[i32],
    ours_delays: &[i32],
) -> Result<Decoded, String> {
    let total = |d: &[i32]| d.iter().map(|&v| i64::from(v)).sum::<i64>();
    if total(want_delays) != total(ours_delays) {
        return Err(format!(
            "the animations last {} ms (ours) and {} ms (golden)",
            total(ours_delays),
            total(want_delays)
        ));
    }
    let starts = |d: &[i32]| {
        d.iter()
            .scan(0i64, |t, &v| {
                let s = *t;
                *t += i64::from(v);
                Some(s)
            })
            .collect::<Vec<_>>()
    };
    let (ours, golden) = (starts(ours_delays), starts(want_delays));
    if let Some(s) = golden.iter().find(|s| !ours.contains(s)) {
        return Err(format!(
            "a golden frame starts at {s} ms, between two of ours"
        ));
    }
    let mut out = want.clone();
    out.frames = ours
        .iter()
        .map(|t| {
            let k = golden.iter().rposition(|g| g <= t).unwrap_or(0);
            want.frames[k].clone()
        })
        .collect();
    out.pages = ours.len() as i32;
    Ok(out)
}
