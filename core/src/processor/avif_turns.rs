//! Rotations, mirrors and crops (`irot`, `imir`, `clap`) applied to decoded
//! Y'CbCr planes as libheif 1.23 applies them, in the file's order, before
//! the conversion to RGB: each plane is turned or cropped at its own size,
//! and where a step would misplace subsampled chroma (4:2:0 of an odd size
//! turned, 4:2:2 turned sideways, a crop from an odd column, ...) the
//! chroma is first upsampled to 4:4:4 with libheif's bilinear filter, edge
//! rules included. The RGB conversion then sees exactly the planes
//! libheif's does.

use super::avif_items::{Rect, Transform};
use super::avif_planes::{scaled, shifts};
use super::yuv::{Layout, Planes};
use crate::error::Result;

/// A stored sample: 8 bits, or 10 and 12 bits in 16.
pub(super) trait Sample: Copy + Default {
    /// The sample as a wider integer, for the filter's sums.
    fn widen(self) -> u32;
    /// A filtered value back in the sample's type (always in range).
    fn narrow(v: u32) -> Self;
}

impl Sample for u8 {
    fn widen(self) -> u32 {
        self.into()
    }
    fn narrow(v: u32) -> Self {
        v as u8
    }
}

impl Sample for u16 {
    fn widen(self) -> u32 {
        self.into()
    }
    fn narrow(v: u32) -> Self {
        v as u16
    }
}

/// Planes we own, rows packed: the result of [`turn`].
pub(super) struct Turned<T> {
    width: usize,
    height: usize,
    layout: Layout,
    /// Y, Cb, Cr; the chroma planes are empty for `Mono`.
    planes: [Plane<T>; 3],
}

/// One plane, rows packed.
#[derive(Clone, Default)]
struct Plane<T> {
    width: usize,
    height: usize,
    samples: Vec<T>,
}

impl<T: Sample> Plane<T> {
    fn copied(src: &[T], stride: usize, (width, height): (usize, usize)) -> Self {
        let mut samples = Vec::with_capacity(width * height);
        for row in 0..height {
            samples.extend_from_slice(&src[row * stride..][..width]);
        }
        Plane {
            width,
            height,
            samples,
        }
    }

    fn at(&self, x: usize, y: usize) -> u32 {
        self.samples[y * self.width + x].widen()
    }

    /// A plane of `width` x `height` whose sample `(x, y)` is `f(x, y)`.
    fn from_fn(width: usize, height: usize, f: impl Fn(usize, usize) -> T) -> Self {
        let mut samples = Vec::with_capacity(width * height);
        for y in 0..height {
            samples.extend((0..width).map(|x| f(x, y)));
        }
        Plane {
            width,
            height,
            samples,
        }
    }

    /// Rows become columns: sample (x, y) moves to (y, x).
    fn transposed(&self) -> Self {
        let mut samples = vec![T::default(); self.samples.len()];
        transpose::transpose(&self.samples, &mut samples, self.width, self.height);
        Plane {
            width: self.height,
            height: self.width,
            samples,
        }
    }

    /// Upside down: the last row first.
    fn rows_reversed(&self) -> Self {
        let mut samples = Vec::with_capacity(self.samples.len());
        for row in self.samples.chunks_exact(self.width).rev() {
            samples.extend_from_slice(row);
        }
        Plane { samples, ..*self }
    }

    /// Left to right: each row reversed in place.
    fn each_row_reversed(mut self) -> Self {
        for row in self.samples.chunks_exact_mut(self.width) {
            row.reverse();
        }
        self
    }

    /// This plane (subsampled by `(sx, sy)`) after `step`, as libheif
    /// turns or crops a plane.
    fn stepped(&self, step: Step, (sx, sy): (u32, u32)) -> Self {
        match step {
            // Quarter turns counter-clockwise: 90, 180, 270 degrees.
            // Output (x, y) is source (w - 1 - y, x): the transpose, its
            // rows in reverse order.
            Step::Rotate90 => self.transposed().rows_reversed(),
            // Output (x, y) is source (y, h - 1 - x): the transpose, each
            // row reversed.
            Step::Rotate270 => self.transposed().each_row_reversed(),
            Step::Rotate180 => self.rows_reversed().each_row_reversed(),
            Step::Mirror { left_right: true } => self.clone().each_row_reversed(),
            Step::Mirror { left_right: false } => self.rows_reversed(),
            Step::Crop(r) => {
                // Chroma from the halved near edges to the halved far ones,
                // rounded down.
                let (left, top) = (r.left >> sx, r.top >> sy);
                let (width, height) = ((r.right >> sx) - left + 1, (r.bottom >> sy) - top + 1);
                Plane::copied(
                    &self.samples[top * self.width + left..],
                    self.width,
                    (width, height),
                )
            }
        }
    }
}

/// One transform, worked out at the size it applies to.
#[derive(Debug, Clone, Copy)]
enum Step {
    Rotate90,
    Rotate180,
    Rotate270,
    /// `left_right`: axis 1; else top to bottom.
    Mirror {
        left_right: bool,
    },
    /// A `clap`'s samples.
    Crop(Rect),
}

impl Step {
    /// `t` applied to an image of `size`; `None` where libheif refuses it
    /// (a crop that keeps nothing).
    fn of(t: Transform, size: (usize, usize)) -> Option<Step> {
        Some(match t {
            Transform::Rotate(1) => Step::Rotate90,
            Transform::Rotate(2) => Step::Rotate180,
            Transform::Rotate(_) => Step::Rotate270,
            Transform::Mirror { left_right } => Step::Mirror { left_right },
            Transform::Crop(clap) => Step::Crop(clap.rect(size)?),
        })
    }

    /// The size of the image after this step.
    fn size_after(self, (w, h): (usize, usize)) -> (usize, usize) {
        match self {
            Step::Rotate90 | Step::Rotate270 => (h, w),
            Step::Rotate180 | Step::Mirror { .. } => (w, h),
            Step::Crop(r) => r.size(),
        }
    }
}

/// What libheif's steps do to planes: the size they end at, and whether
/// the chroma is upsampled to 4:4:4 on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    /// Width and height after every step.
    pub size: (usize, usize),
    /// Whether some step upsamples the chroma.
    pub upsamples: bool,
}

impl<T: Sample> Turned<T> {
    /// The planes, borrowed for the conversion.
    pub(super) fn planes(&self) -> Planes<'_, T> {
        fn plane<T>(p: &Plane<T>) -> (&[T], usize) {
            (&p.samples[..], p.width)
        }
        Planes {
            width: self.width,
            height: self.height,
            layout: self.layout,
            planes: [
                plane(&self.planes[0]),
                plane(&self.planes[1]),
                plane(&self.planes[2]),
            ],
        }
    }
}

/// What `transforms` do to `layout` planes of `size`; `None` where libheif
/// refuses one of them.
pub(super) fn plan(layout: Layout, size: (usize, usize), transforms: &[Transform]) -> Option<Plan> {
    let (mut layout, mut size, mut upsamples) = (layout, size, false);
    for &t in transforms {
        let step = Step::of(t, size)?;
        if needs_444(layout, size, step) {
            (layout, upsamples) = (Layout::I444, true);
        }
        size = step.size_after(size);
    }
    Some(Plan { size, upsamples })
}

/// The size libheif declares for an image of `ispe` after `transforms`
/// (its handle's size, which libvips' header gives and the decoded image
/// must match): a crop's own rounded size, whatever it keeps.
pub(super) fn declared_size(
    ispe: (usize, usize),
    transforms: &[Transform],
) -> Option<(usize, usize)> {
    transforms.iter().try_fold(ispe, |(w, h), t| match t {
        Transform::Crop(clap) => clap.declared_size(),
        Transform::Rotate(1 | 3) => Some((h, w)),
        _ => Some((w, h)),
    })
}

/// `p` turned and cropped by each of `transforms` in order (none: a copy),
/// as libheif does it to its planes; `None` where it refuses a step, `Err`
/// once the call's deadline has passed (checked before each step: a file
/// may repeat a property many times).
pub(super) fn turn<T: Sample>(
    p: &Planes<'_, T>,
    transforms: &[Transform],
) -> Result<Option<Turned<T>>> {
    let budget = crate::budget::current();
    let planes = std::array::from_fn(|i| {
        if i > 0 && p.layout == Layout::Mono {
            return Plane::default();
        }
        let (src, stride) = p.planes[i];
        let (sx, sy) = shifts(p.layout, i);
        Plane::copied(src, stride, (scaled(p.width, sx), scaled(p.height, sy)))
    });
    let mut out = Turned {
        width: p.width,
        height: p.height,
        layout: p.layout,
        planes,
    };
    for &t in transforms {
        budget.check()?;
        let size = (out.width, out.height);
        let Some(step) = Step::of(t, size) else {
            return Ok(None);
        };
        if needs_444(out.layout, size, step) {
            out = upsampled(out);
        }
        for (i, plane) in out.planes.iter_mut().enumerate() {
            if !plane.samples.is_empty() {
                *plane = plane.stepped(step, shifts(out.layout, i));
            }
        }
        (out.width, out.height) = step.size_after(size);
    }
    Ok(Some(out))
}

/// libheif's rule for converting to 4:4:4 before a step.
fn needs_444(layout: Layout, (w, h): (usize, usize), step: Step) -> bool {
    let (odd_w, odd_h) = (w % 2 == 1, h % 2 == 1);
    match (layout, step) {
        (Layout::I444 | Layout::Mono, _) => false,
        (Layout::I422, Step::Rotate90 | Step::Rotate270) => true,
        (Layout::I422, Step::Rotate180) => odd_h,
        (Layout::I422, Step::Mirror { left_right }) => left_right && odd_w,
        (Layout::I422, Step::Crop(r)) => r.left % 2 == 1,
        (Layout::I420, Step::Rotate90) => odd_w,
        (Layout::I420, Step::Rotate270) => odd_h,
        (Layout::I420, Step::Rotate180 | Step::Mirror { .. }) => odd_w || odd_h,
        (Layout::I420, Step::Crop(r)) => r.left % 2 == 1 || r.top % 2 == 1,
    }
}

/// `img`'s chroma upsampled to 4:4:4 with libheif's bilinear filters.
fn upsampled<T: Sample>(img: Turned<T>) -> Turned<T> {
    let [y, cb, cr] = img.planes;
    let size = (img.width, img.height);
    let up = |c: &Plane<T>| match img.layout {
        Layout::I420 => bilinear_420(c, size),
        _ => bilinear_422(c, size),
    };
    let (cb, cr) = (up(&cb), up(&cr));
    Turned {
        width: img.width,
        height: img.height,
        layout: Layout::I444,
        planes: [y, cb, cr],
    }
}

/// `(3a + b + 2) / 4`: a sample a quarter of the way from `a` to `b`.
fn near<T: Sample>(a: u32, b: u32) -> T {
    T::narrow((3 * a + b + 2) / 4)
}

/// libheif 1.23's 4:2:0 to 4:4:4 filter for an image of `w` x `h`: chroma
/// sits at the centre of each 2x2 block; inner samples weigh their four
/// neighbours 9:3:3:1 (over 16, rounded); the first and last rows and
/// columns are filled from one or two samples of the edge, indexing the
/// chroma along the edge at half the step libheif's code uses there
/// (reproduced as it is).
fn bilinear_420<T: Sample>(c: &Plane<T>, (w, h): (usize, usize)) -> Plane<T> {
    let mut out = Plane {
        width: w,
        height: h,
        samples: vec![T::default(); w * h],
    };
    let mut put = |x: usize, y: usize, v: T| out.samples[y * w + x] = v;
    let (lx, ly) = (w.div_ceil(2) - 1, h.div_ceil(2) - 1);
    put(0, 0, T::narrow(c.at(0, 0)));
    // The first row, and the last when the height is even.
    let mut edge_row = |y: usize, cy: usize| {
        for i in 0..(w - 1) / 2 {
            let (a, b) = (c.at(i / 2, cy), c.at(i / 2 + 1, cy));
            put(2 * i + 1, y, near(a, b));
            put(2 * i + 2, y, near(b, a));
        }
    };
    edge_row(0, 0);
    if h % 2 == 0 {
        edge_row(h - 1, ly);
    }
    // The first column, and the last when the width is even.
    let mut edge_column = |x: usize, cx: usize| {
        for j in 0..(h - 1) / 2 {
            let (a, b) = (c.at(cx, j / 2), c.at(cx, j / 2 + 1));
            put(x, 2 * j + 1, near(a, b));
            put(x, 2 * j + 2, near(b, a));
        }
    };
    edge_column(0, 0);
    if w % 2 == 0 {
        edge_column(w - 1, lx);
    }
    if w % 2 == 0 {
        put(w - 1, 0, T::narrow(c.at(lx, 0)));
    }
    if h % 2 == 0 {
        put(0, h - 1, T::narrow(c.at(0, ly)));
    }
    if w % 2 == 0 && h % 2 == 0 {
        put(w - 1, h - 1, T::narrow(c.at(lx, ly)));
    }
    let weigh = |k: [u32; 4], s: [u32; 4]| {
        T::narrow((k[0] * s[0] + k[1] * s[1] + k[2] * s[2] + k[3] * s[3] + 8) / 16)
    };
    // Inner 2x2 squares: rows y and y + 1 (odd y), columns x and x + 1
    // (odd x), between chroma (x / 2, y / 2) and its right and lower
    // neighbours.
    let pairs = w.saturating_sub(1) / 2;
    let cw = c.width;
    for y in (1..h.saturating_sub(1)).step_by(2) {
        let cy = y / 2;
        let (upper, lower) = (
            &c.samples[cy * cw..][..cw],
            &c.samples[(cy + 1) * cw..][..cw],
        );
        let (first, second) = out.samples[y * w..(y + 2) * w].split_at_mut(w);
        let cells = first[1..1 + 2 * pairs]
            .chunks_exact_mut(2)
            .zip(second[1..1 + 2 * pairs].chunks_exact_mut(2))
            .zip(upper.windows(2).zip(lower.windows(2)));
        for ((a, b), (u, l)) in cells {
            let s = [u[0].widen(), u[1].widen(), l[0].widen(), l[1].widen()];
            a[0] = weigh([9, 3, 3, 1], s);
            a[1] = weigh([3, 9, 1, 3], s);
            b[0] = weigh([3, 1, 9, 3], s);
            b[1] = weigh([1, 3, 3, 9], s);
        }
    }
    out
}

/// libheif 1.23's 4:2:2 to 4:4:4 filter: chroma at the centre of each pair
/// of samples; the first column copied, the last (even widths) copied from
/// the last chroma sample, the others 3:1 from their two neighbours.
fn bilinear_422<T: Sample>(c: &Plane<T>, (w, h): (usize, usize)) -> Plane<T> {
    Plane::from_fn(w, h, |x, y| {
        if x == 0 {
            T::narrow(c.at(0, y))
        } else if x == w - 1 && w % 2 == 0 {
            T::narrow(c.at(w / 2 - 1, y))
        } else {
            // Pairs (x, x + 1) for odd x share chroma x / 2 and x / 2 + 1.
            let cx = (x - 1) / 2;
            let (a, b) = (c.at(cx, y), c.at(cx + 1, y));
            if x % 2 == 1 {
                near(a, b)
            } else {
                near(b, a)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Luma-only planes of `width` x `height` over `y`.
    fn luma(y: &[u8], width: usize, height: usize) -> Planes<'_> {
        Planes {
            width,
            height,
            layout: Layout::Mono,
            planes: [(y, width), (&[][..], 0), (&[][..], 0)],
        }
    }

    fn plane(width: usize, height: usize, samples: Vec<u8>) -> Plane<u8> {
        Plane {
            width,
            height,
            samples,
        }
    }

    #[test]
    fn the_conversion_rule_is_libheifs() {
        let r = |k| Step::of(Transform::Rotate(k), (0, 0)).unwrap();
        let lr = Step::Mirror { left_right: true };
        let tb = Step::Mirror { left_right: false };
        // 4:2:0: a quarter turn needs an even width, three an even height.
        assert!(!needs_444(Layout::I420, (4, 3), r(1)));
        assert!(needs_444(Layout::I420, (3, 4), r(1)));
        assert!(needs_444(Layout::I420, (4, 3), r(3)));
        assert!(needs_444(Layout::I420, (4, 3), r(2)));
        assert!(needs_444(Layout::I420, (4, 3), tb));
        assert!(!needs_444(Layout::I420, (4, 4), lr));
        // 4:2:2: sideways always; half a turn with an odd height; a
        // left-right mirror with an odd width.
        assert!(needs_444(Layout::I422, (4, 4), r(1)));
        assert!(!needs_444(Layout::I422, (3, 4), r(2)));
        assert!(needs_444(Layout::I422, (4, 3), r(2)));
        assert!(needs_444(Layout::I422, (3, 4), lr));
        assert!(!needs_444(Layout::I422, (3, 3), tb));
        assert!(!needs_444(Layout::I444, (3, 3), r(1)));
        // The rule is checked at each step's size.
        let quarter = Transform::Rotate(1);
        let once = plan(Layout::I420, (4, 3), &[quarter]).unwrap();
        assert_eq!((once.size, once.upsamples), ((3, 4), false));
        assert!(
            plan(Layout::I420, (4, 3), &[quarter, quarter])
                .unwrap()
                .upsamples
        );
        // A crop from an odd column or row upsamples 4:2:0.
        let at = |left, top| {
            Step::Crop(Rect {
                left,
                right: 9,
                top,
                bottom: 9,
            })
        };
        assert!(!needs_444(Layout::I420, (10, 10), at(2, 4)));
        assert!(needs_444(Layout::I420, (10, 10), at(2, 3)));
        assert!(needs_444(Layout::I422, (10, 10), at(1, 4)));
        assert!(!needs_444(Layout::I422, (10, 10), at(2, 3)));
    }

    #[test]
    fn the_420_filter_weighs_inner_samples_9_3_3_1() {
        // 4x4 image, 2x2 chroma.
        let c = plane(2, 2, vec![0, 160, 32, 64]);
        let out = bilinear_420(&c, (4, 4));
        // (1,1): (9*0 + 3*160 + 3*32 + 64 + 8) / 16 = 40.
        assert_eq!(out.samples[4 + 1], 40);
        // (2,2): (0 + 3*160 + 3*32 + 9*64 + 8) / 16 = 72.
        assert_eq!(out.samples[2 * 4 + 2], 72);
        // Corners copy their chroma sample.
        assert_eq!(
            [
                out.samples[0],
                out.samples[3],
                out.samples[12],
                out.samples[15]
            ],
            [0, 160, 32, 64]
        );
        // The first row: (3*0 + 160 + 2) / 4 = 40, then (0 + 480 + 2) / 4.
        assert_eq!(&out.samples[1..3], &[40, 120]);
    }

    #[test]
    fn the_420_filter_indexes_the_first_row_as_libheif_does() {
        // 8 wide: the first row's pairs i = 0, 1, 2 read chroma
        // (i / 2, i / 2 + 1), so i = 1 repeats i = 0's neighbours; the
        // last sample copies the last chroma sample.
        let c = plane(4, 1, vec![0, 100, 200, 40]);
        let out = bilinear_420(&c, (8, 1));
        assert_eq!(&out.samples[..], &[0, 25, 75, 25, 75, 125, 175, 40]);
    }

    #[test]
    fn the_422_filter_copies_the_edges_and_mixes_3_1() {
        let c = plane(2, 1, vec![0, 100]);
        let out = bilinear_422(&c, (4, 1));
        assert_eq!(&out.samples[..], &[0, 25, 75, 100]);
        let odd = bilinear_422(&plane(2, 1, vec![0, 100]), (3, 1));
        assert_eq!(&odd.samples[..], &[0, 25, 75]);
    }

    #[test]
    fn every_step_checks_the_calls_deadline() {
        // A file may associate one property with its image hundreds of
        // times: each step is a pass over the planes.
        let opts = crate::options::Options {
            process_timeout: std::time::Duration::from_nanos(1),
            ..Default::default()
        };
        let budget = crate::budget::Budget::new(&opts);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let _scope = budget.enter();
        let y = [0u8; 4];
        let p = luma(&y, 2, 2);
        let err = turn(&p, &[Transform::Rotate(1)]).err().unwrap();
        assert_eq!(err.code(), "timeout");
        assert!(turn(&p, &[]).unwrap().is_some());
    }

    #[test]
    fn planes_turn_at_their_own_size() {
        // 3x2 4:4:4 mono-like luma, turned a quarter counter-clockwise.
        let y = [1u8, 2, 3, 4, 5, 6];
        let p = luma(&y, 3, 2);
        let t = turn(&p, &[Transform::Rotate(1)]).unwrap().unwrap();
        let out = t.planes();
        assert_eq!((out.width, out.height), (2, 3));
        assert_eq!(out.planes[0].0, &[3, 6, 2, 5, 1, 4]);
        let m = turn(&p, &[Transform::Mirror { left_right: true }])
            .unwrap()
            .unwrap();
        assert_eq!(m.planes().planes[0].0, &[3, 2, 1, 6, 5, 4]);
    }
}
