//! The Y'CbCr to RGB coefficients of an H.273 matrix as libheif 1.23
//! works them out (in `f32`, from Kr and Kb), chromaticity-derived ones
//! from the colour primaries included.

/// Y'CbCr to RGB coefficients (`R = Y + r_cr Cr`, and so on), and the
/// form of the conversion libheif's general op applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Matrix {
    pub(super) r_cr: f32,
    pub(super) g_cb: f32,
    pub(super) g_cr: f32,
    pub(super) b_cb: f32,
    pub(super) form: Form,
}

/// How libheif's general (`f32`) op converts a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// With the coefficients.
    Linear,
    /// Matrix 0: `R = Cr`, `G = Y`, `B = Cb` (lossless AVIFs' GBR planes).
    Identity,
    /// Matrix 8 (YCgCo): integer sums, clipped to 0..=255 at any depth and
    /// at either range, as libheif 1.23 clips them.
    YCgCo,
    /// Matrix 16 (YCgCo-Re): the lifting steps, times 4, clipped to the
    /// depth. libheif's fixed-point 4:2:0 op takes it for a linear matrix
    /// with BT.601's constants.
    YCgCoRe,
}

impl Matrix {
    /// libheif's defaults, for matrices without Kr and Kb of their own.
    const BT601_CONSTANTS: Matrix = Matrix {
        r_cr: 1.402,
        g_cb: -0.344136,
        g_cr: -0.714136,
        b_cb: 1.772,
        form: Form::Linear,
    };

    /// The coefficients of H.273 matrix `mc`, as libheif computes them
    /// (in `f32` from Kr and Kb), or `None` for a matrix it converts some
    /// other way. Unspecified and reserved matrices get BT.601's literal
    /// constants, as in libheif.
    pub(crate) fn of(mc: u16) -> Option<Matrix> {
        let (kr, kb): (f32, f32) = match mc {
            0 => {
                return Some(Matrix {
                    r_cr: 0.0,
                    g_cb: 0.0,
                    g_cr: 0.0,
                    b_cb: 0.0,
                    form: Form::Identity,
                })
            }
            8 | 16 => {
                let form = if mc == 8 { Form::YCgCo } else { Form::YCgCoRe };
                return Some(Matrix {
                    form,
                    ..Matrix::BT601_CONSTANTS
                });
            }
            1 => (0.2126, 0.0722),
            4 => (0.30, 0.11),
            5 | 6 => (0.299, 0.114),
            7 => (0.212, 0.087),
            9 | 10 => (0.2627, 0.0593),
            2 | 3 => return Some(Matrix::BT601_CONSTANTS),
            _ => return None,
        };
        Some(Matrix::from_kr_kb(kr, kb))
    }

    /// As [`Matrix::of`], and the chromaticity-derived matrices (12 and
    /// 13), whose Kr and Kb libheif works out in `f32` from the colour
    /// `primaries` (BT.601's constants for primaries it does not know).
    pub(crate) fn with_primaries(mc: u16, primaries: u16) -> Option<Matrix> {
        if !matches!(mc, 12 | 13) {
            return Matrix::of(mc);
        }
        let Some((kr, kb)) = chromaticity_kr_kb(primaries) else {
            return Some(Matrix::BT601_CONSTANTS);
        };
        Some(Matrix::from_kr_kb(kr, kb))
    }

    /// The coefficients for `kr` and `kb`, as libheif derives them.
    fn from_kr_kb(kr: f32, kb: f32) -> Matrix {
        Matrix {
            r_cr: 2.0 * (-kr + 1.0),
            g_cb: 2.0 * kb * (-kb + 1.0) / (kb + kr - 1.0),
            g_cr: 2.0 * kr * (-kr + 1.0) / (kb + kr - 1.0),
            b_cb: 2.0 * (-kb + 1.0),
            form: Form::Linear,
        }
    }

    /// Whether libheif's fixed-point 4:2:0 op takes this matrix (it
    /// refuses the identity and YCgCo).
    pub(super) fn fixed_point(&self) -> bool {
        matches!(self.form, Form::Linear | Form::YCgCoRe)
    }

    /// Fixed-point versions: `round(256 * c)`, halves away from zero.
    pub(super) fn fixed(&self) -> [i32; 4] {
        [self.r_cr, self.g_cb, self.g_cr, self.b_cb].map(|c| (256.0 * c).round() as i32)
    }
}

/// `(x, y)` chromaticities of red, green, blue and white for the H.273
/// colour primaries libheif knows, with its `f32` values.
fn chromaticities(primaries: u16) -> Option<[(f32, f32); 4]> {
    Some(match primaries {
        1 => [
            (0.640, 0.330),
            (0.300, 0.600),
            (0.150, 0.060),
            (0.3127, 0.3290),
        ],
        4 => [(0.67, 0.33), (0.21, 0.71), (0.14, 0.08), (0.310, 0.316)],
        5 => [(0.64, 0.33), (0.29, 0.60), (0.15, 0.06), (0.3127, 0.3290)],
        6 | 7 => [
            (0.630, 0.340),
            (0.310, 0.595),
            (0.155, 0.070),
            (0.3127, 0.3290),
        ],
        8 => [
            (0.681, 0.319),
            (0.243, 0.692),
            (0.145, 0.049),
            (0.310, 0.316),
        ],
        9 => [
            (0.708, 0.292),
            (0.170, 0.797),
            (0.131, 0.046),
            (0.3127, 0.3290),
        ],
        10 => [(1.0, 0.0), (0.0, 1.0), (0.0, 0.0), (0.333333, 0.33333)],
        11 => [
            (0.680, 0.320),
            (0.265, 0.690),
            (0.150, 0.060),
            (0.314, 0.351),
        ],
        12 => [
            (0.680, 0.320),
            (0.265, 0.690),
            (0.150, 0.060),
            (0.3127, 0.3290),
        ],
        22 => [
            (0.630, 0.340),
            (0.295, 0.605),
            (0.155, 0.077),
            (0.3127, 0.3290),
        ],
        _ => return None,
    })
}

/// Kr and Kb of the chromaticity-derived matrices (H.273 12 and 13) for
/// `primaries`, by libheif's `f32` formula, term for term; `None` where it
/// falls back to BT.601 (unknown primaries, a zero determinant, or Kr
/// and Kb both zero).
fn chromaticity_kr_kb(primaries: u16) -> Option<(f32, f32)> {
    let [(rx, ry), (gx, gy), (bx, by), (wx, wy)] = chromaticities(primaries)?;
    let (zr, zg, zb, zw) = (
        1.0 - (rx + ry),
        1.0 - (gx + gy),
        1.0 - (bx + by),
        1.0 - (wx + wy),
    );
    let denom =
        wy * (rx * (gy * zb - by * zg) + gx * (by * zr - ry * zb) + bx * (ry * zg - gy * zr));
    if denom == 0.0 {
        return None;
    }
    let kr = (ry
        * (wx * (gy * zb - by * zg) + wy * (bx * zg - gx * zb) + zw * (gx * by - bx * gy)))
        / denom;
    let kb = (by
        * (wx * (ry * zg - gy * zr) + wy * (gx * zr - rx * zg) + zw * (rx * gy - gx * ry)))
        / denom;
    // libheif takes both zero (XYZ primaries give that) as undefined.
    (kr != 0.0 || kb != 0.0).then_some((kr, kb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_coefficients_are_libheifs() {
        // libheif's values for BT.601 (and unspecified) and BT.709.
        assert_eq!(Matrix::of(6).unwrap().fixed(), [359, -88, -183, 454]);
        assert_eq!(Matrix::of(2).unwrap().fixed(), [359, -88, -183, 454]);
        assert_eq!(Matrix::of(1).unwrap().fixed(), [403, -48, -120, 475]);
        for special in [11, 12, 13, 14, 15, 17] {
            assert_eq!(Matrix::of(special), None, "matrix {special}");
        }
        assert_eq!(Matrix::of(0).unwrap().form, Form::Identity);
    }

    #[test]
    fn chromaticity_derived_matrices_follow_the_primaries() {
        // BT.709 primaries derive BT.709's Kr and Kb (to f32 rounding).
        let (kr, kb) = chromaticity_kr_kb(1).unwrap();
        assert!(
            (kr - 0.2126).abs() < 1e-4 && (kb - 0.0722).abs() < 1e-4,
            "{kr} {kb}"
        );
        let derived = Matrix::with_primaries(12, 1).unwrap();
        assert_eq!(derived.fixed(), Matrix::of(1).unwrap().fixed());
        assert_eq!(Matrix::with_primaries(13, 9), Matrix::with_primaries(12, 9));
        assert_ne!(Matrix::with_primaries(12, 9), Matrix::with_primaries(12, 1));
        // Unknown primaries, and XYZ's (Kr = Kb = 0): BT.601's constants.
        for primaries in [2, 10, 13] {
            assert_eq!(Matrix::with_primaries(12, primaries), Matrix::of(2));
        }
        // Other matrices ignore the primaries.
        assert_eq!(Matrix::with_primaries(1, 9), Matrix::of(1));
        assert_eq!(Matrix::with_primaries(14, 1), None);
    }
}
