//! The clean aperture (`clap`): a crop given as four fractions (width,
//! height, and the offsets of its centre from the image's). libheif 1.23
//! works them out in 32-bit fractions that it halves when they grow, and
//! rounds the edges in its own way (the left edge down, the others to
//! nearest); this module does the same arithmetic, so the crop lands on the
//! samples libheif's does.

/// A `clap` property as libheif holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clap {
    width: Fraction,
    height: Fraction,
    horizontal_offset: Fraction,
    vertical_offset: Fraction,
}

/// The samples a crop keeps: first and last column and row, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub left: usize,
    pub right: usize,
    pub top: usize,
    pub bottom: usize,
}

impl Rect {
    /// Width and height of what the crop keeps.
    pub fn size(&self) -> (usize, usize) {
        (self.right - self.left + 1, self.bottom - self.top + 1)
    }
}

/// libheif's bound on the parts of a fraction read from a file: larger
/// ones are halved until they fit.
const MAX_PART: i32 = 0x10000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fraction {
    num: i32,
    /// Always above 0 here: the file's denominators are checked, and
    /// arithmetic only multiplies them.
    den: i32,
}

impl Fraction {
    /// A fraction read from the file, its parts halved (toward zero) while
    /// the denominator, then the numerator, exceed [`MAX_PART`].
    fn read(mut num: i32, mut den: i32) -> Self {
        while !(-MAX_PART..=MAX_PART).contains(&den) {
            num /= 2;
            den /= 2;
        }
        while den > 1 && !(-MAX_PART..=MAX_PART).contains(&num) {
            num /= 2;
            den /= 2;
        }
        Fraction { num, den }
    }

    /// The result of arithmetic, its parts halved (rounding away from zero)
    /// until both fit in 32 bits.
    fn fitted(mut num: i64, mut den: i64) -> Self {
        let fits = |v: i64| i32::try_from(v).is_ok();
        while !fits(num) || !fits(den) {
            num = (num + if num >= 0 { 1 } else { -1 }) / 2;
            den = (den + if den >= 0 { 1 } else { -1 }) / 2;
        }
        Fraction {
            num: num as i32,
            den: den as i32,
        }
    }

    fn parts(self) -> (i64, i64) {
        (self.num.into(), self.den.into())
    }

    fn plus(self, b: Fraction) -> Self {
        let ((n, d), (bn, bd)) = (self.parts(), b.parts());
        match d == bd {
            true => Fraction::fitted(n + bn, d),
            false => Fraction::fitted(n * bd + bn * d, d * bd),
        }
    }

    fn minus(self, b: Fraction) -> Self {
        let ((n, d), (bn, bd)) = (self.parts(), b.parts());
        match d == bd {
            true => Fraction::fitted(n - bn, d),
            false => Fraction::fitted(n * bd - bn * d, d * bd),
        }
    }

    fn plus_int(self, v: i64) -> Self {
        let (n, d) = self.parts();
        Fraction::fitted(n + v * d, d)
    }

    fn halved(self) -> Self {
        let (n, d) = self.parts();
        Fraction::fitted(n, d * 2)
    }

    /// Toward zero. (Denominators stay at 1 or more: the file's are
    /// checked, arithmetic multiplies them, and halving rounds away from
    /// zero.)
    fn round_down(self) -> i64 {
        let (n, d) = self.parts();
        n / d.max(1)
    }

    /// Half up, then toward zero, as libheif's `round`.
    fn round(self) -> i64 {
        let (n, d) = self.parts();
        let d = d.max(1);
        (n + d / 2) / d
    }

    /// `(size - 1) / 2`, the centre of an image `size` samples across.
    fn centre(size: usize) -> Option<Self> {
        let last = i32::try_from(size.checked_sub(1)?).ok()?;
        Some(Fraction::read(last, 2))
    }
}

impl Clap {
    /// The property's body: eight 32-bit parts, the offsets' numerators
    /// signed. `None` where libheif refuses it (a part over `i32::MAX`, a
    /// zero denominator).
    pub fn read(body: &[u8]) -> Option<Clap> {
        let part = |i: usize| -> Option<u32> {
            Some(u32::from_be_bytes(
                body.get(i * 4..i * 4 + 4)?.try_into().ok()?,
            ))
        };
        let unsigned = |i: usize| i32::try_from(part(i)?).ok();
        let fraction = |num: Option<i32>, den: Option<i32>| match (num, den) {
            (Some(num), Some(den)) if den != 0 => Some(Fraction::read(num, den)),
            _ => None,
        };
        Some(Clap {
            width: fraction(unsigned(0), unsigned(1))?,
            height: fraction(unsigned(2), unsigned(3))?,
            horizontal_offset: fraction(part(4).map(|v| v as i32), unsigned(5))?,
            vertical_offset: fraction(part(6).map(|v| v as i32), unsigned(7))?,
        })
    }

    /// The size libheif declares for the cropped image (its handle's
    /// width and height); `None` if it is empty.
    pub fn declared_size(&self) -> Option<(usize, usize)> {
        let positive = |v: i64| usize::try_from(v).ok().filter(|&v| v > 0);
        Some((
            positive(self.width.round())?,
            positive(self.height.round())?,
        ))
    }

    /// The samples the crop keeps of an image of `(width, height)`, its
    /// edges clamped to the image as libheif clamps them; `None` where
    /// libheif refuses the crop (nothing left).
    pub fn rect(&self, (width, height): (usize, usize)) -> Option<Rect> {
        if width == 0 || height == 0 {
            return None;
        }
        let left = self.left(width)?;
        let right = self.width.plus_int(-1).plus_int(left).round();
        let top = self.top(height)?;
        let bottom = self.height.plus_int(-1).plus_int(top).round();
        // The near edges are raised to 0; a far edge past the image, or
        // before it (libheif compares it unsigned), becomes the last one.
        let near = |v: i64| usize::try_from(v.max(0)).ok();
        let far = |v: i64, size: usize| match usize::try_from(v) {
            Ok(v) if v < size => v,
            _ => size - 1,
        };
        let rect = Rect {
            left: near(left)?,
            right: far(right, width),
            top: near(top)?,
            bottom: far(bottom, height),
        };
        (rect.left <= rect.right && rect.top <= rect.bottom).then_some(rect)
    }

    /// The first column: the centre plus the offset, less half the width
    /// minus one, rounded down.
    fn left(&self, width: usize) -> Option<i64> {
        let centre = self.horizontal_offset.plus(Fraction::centre(width)?);
        Some(centre.minus(self.width.plus_int(-1).halved()).round_down())
    }

    /// The first row: as [`Clap::left`], rounded to nearest.
    fn top(&self, height: usize) -> Option<i64> {
        let centre = self.vertical_offset.plus(Fraction::centre(height)?);
        Some(centre.minus(self.height.plus_int(-1).halved()).round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clap(parts: [i64; 8]) -> Clap {
        let body: Vec<u8> = parts
            .iter()
            .flat_map(|&p| (p as u32).to_be_bytes())
            .collect();
        Clap::read(&body).unwrap()
    }

    #[test]
    fn a_centred_crop_keeps_the_middle() {
        // 200x120 of 257x171: left = 128 - 99.5 rounded down, top = 85 - 59.5
        // rounded to nearest.
        let c = clap([200, 1, 120, 1, 0, 1, 0, 1]);
        let r = c.rect((257, 171)).unwrap();
        assert_eq!((r.left, r.top), (28, 26));
        assert_eq!(r.size(), (200, 120));
        assert_eq!(c.declared_size(), Some((200, 120)));
    }

    #[test]
    fn fractions_and_negative_offsets_round_as_libheif() {
        // 301/2 x 255/3 of 257x171, offsets -7/3 and 9/4.
        let c = clap([301, 2, 255, 3, -7, 3, 9, 4]);
        assert_eq!(c.declared_size(), Some((151, 85)));
        let r = c.rect((257, 171)).unwrap();
        // left: 128 - 7/3 - 299/4 = 50.92 down to 50; right: 50 + 299/2
        // = 199.5, rounded half up to 200; top: 85 + 9/4 - 42 = 45.25 to
        // 45; bottom: 45 + 84 = 129.
        assert_eq!((r.left, r.right, r.top, r.bottom), (50, 200, 45, 129));
    }

    #[test]
    fn a_crop_larger_than_the_image_is_clamped() {
        let c = clap([300, 1, 120, 1, 0, 1, 0, 1]);
        let r = c.rect((257, 171)).unwrap();
        assert_eq!((r.left, r.right), (0, 256));
        // The declared size is not what the decode gives: libvips refuses.
        assert_ne!(c.declared_size(), Some(r.size()));
    }

    #[test]
    fn malformed_boxes_are_refused() {
        let body =
            |parts: [u32; 8]| -> Vec<u8> { parts.iter().flat_map(|p| p.to_be_bytes()).collect() };
        assert!(Clap::read(&body([1, 0, 1, 1, 0, 1, 0, 1])).is_none());
        assert!(Clap::read(&body([u32::MAX, 1, 1, 1, 0, 1, 0, 1])).is_none());
        assert!(Clap::read(&body([1, 1, 1, 1, 0, 1, 0, 0])).is_none());
        assert!(Clap::read(&[0; 31]).is_none());
        let empty = Clap::read(&body([0, 1, 5, 1, 0, 1, 0, 1])).unwrap();
        assert_eq!(empty.declared_size(), None);
    }
}
