//! Text rendering without Pango 1.50's font-map race.
//!
//! Pango 1.50 (Debian 12's) starts two threads for every new font pattern
//! (`FcFontSetMatch` and `FcFontSetSort`); each holds a reference to the
//! pattern set and, when it drops the last one, removes it from its font
//! map's `patterns_hash` with no lock. `pango_cairo_font_map_set_resolution`
//! with a new dpi clears the font map's caches, which drops the main
//! thread's references and destroys and recreates that hash. So a thread
//! still sorting fonts from an earlier dpi may touch the hash while the
//! caller rebuilds it: SIGFPE or SIGABRT in `g_hash_table_lookup`. libvips
//! changes the dpi on every `text` call that sets one and ten or so times in
//! one call with `height` (its autofit search), so `label()` crashed a test
//! process about one run in three.
//!
//! Two rules keep the shared hash out of reach of those threads:
//! - A font map never sees a second dpi. libvips 8.14 renders with the
//!   calling thread's default font map, which [`fresh_default_font_map`]
//!   replaces before every call; the old one lives on only in its own
//!   threads, and the last of them frees it alone.
//! - Autofit is not left to libvips: [`autofit_dpi`] runs libvips' search
//!   (same layout, same ink extents, same steps) with a new font map per
//!   probe, and `text` is then called once with the dpi found.
//!
//! The Pango functions are looked up in libvips' own dependency tree, so they
//! are the ones libvips renders with. A libvips that carries its own Pango
//! without exporting it (npm's bundled 8.18, with Pango 1.58 whose single
//! fontconfig thread drops its reference right after handing over a match)
//! has none: there [`autofit_dpi`] answers `None` and libvips autofits as
//! before.

use std::ffi::{c_char, c_double, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

use super::sys;

/// `PANGO_SCALE`: Pango units per pixel.
const PANGO_SCALE: c_int = 1024;

/// `PangoRectangle`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Rect {
    x: c_int,
    y: c_int,
    width: c_int,
    height: c_int,
}

/// Ink extents of a layout in pixels, as libvips' `vips_text_get_extents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extents {
    /// Ink width.
    pub(crate) width: i32,
    /// Ink height.
    pub(crate) height: i32,
}

/// What lays text out: the layout arguments of libvips' `text`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout<'a> {
    /// Pango markup.
    pub(crate) text: &'a str,
    /// Pango font description.
    pub(crate) font: &'a str,
    /// Wrap width in pixels (0: none).
    pub(crate) width: i32,
    /// Extra line spacing in pixels.
    pub(crate) spacing: i32,
    /// `"low"`, `"centre"` or `"high"` (empty: low).
    pub(crate) align: &'a str,
    /// `"word"`, `"char"`, `"word-char"` or `"none"` (empty: word).
    pub(crate) wrap: &'a str,
    /// Justify lines.
    pub(crate) justify: bool,
}

type NewFontMap = unsafe extern "C" fn() -> *mut c_void;
type SetResolution = unsafe extern "C" fn(*mut c_void, c_double);
type SetDefault = unsafe extern "C" fn(*mut c_void);
type CreateContext = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type LayoutNew = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type SetMarkup = unsafe extern "C" fn(*mut c_void, *const c_char, c_int);
type DescFromString = unsafe extern "C" fn(*const c_char) -> *mut c_void;
type SetFontDesc = unsafe extern "C" fn(*mut c_void, *const c_void);
type DescFree = unsafe extern "C" fn(*mut c_void);
type SetInt = unsafe extern "C" fn(*mut c_void, c_int);
type GetExtents = unsafe extern "C" fn(*mut c_void, *mut Rect, *mut Rect);

/// The Pango entry points libvips renders with.
struct Api {
    new_font_map: NewFontMap,
    set_resolution: SetResolution,
    set_default: SetDefault,
    create_context: CreateContext,
    layout_new: LayoutNew,
    set_markup: SetMarkup,
    desc_from_string: DescFromString,
    set_font_desc: SetFontDesc,
    desc_free: DescFree,
    set_justify: SetInt,
    set_spacing: SetInt,
    set_alignment: SetInt,
    set_wrap: SetInt,
    set_width: SetInt,
    get_extents: GetExtents,
}

/// Look the Pango functions up once, in the library that holds libvips and
/// the libraries it was linked with.
fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        let handle = super::libvips_handle()?;
        let sym = |name: &CStr| {
            // SAFETY: a lookup in a live handle; NULL when absent.
            let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        macro_rules! get {
            ($name:literal as $ty:ty) => {
                // SAFETY: the symbol is the Pango function of that name,
                // whose C signature the target type spells out.
                unsafe { std::mem::transmute::<*mut c_void, $ty>(sym($name)?) }
            };
        }
        Some(Api {
            new_font_map: get!(c"pango_cairo_font_map_new" as NewFontMap),
            set_resolution: get!(c"pango_cairo_font_map_set_resolution" as SetResolution),
            set_default: get!(c"pango_cairo_font_map_set_default" as SetDefault),
            create_context: get!(c"pango_font_map_create_context" as CreateContext),
            layout_new: get!(c"pango_layout_new" as LayoutNew),
            set_markup: get!(c"pango_layout_set_markup" as SetMarkup),
            desc_from_string: get!(c"pango_font_description_from_string" as DescFromString),
            set_font_desc: get!(c"pango_layout_set_font_description" as SetFontDesc),
            desc_free: get!(c"pango_font_description_free" as DescFree),
            set_justify: get!(c"pango_layout_set_justify" as SetInt),
            set_spacing: get!(c"pango_layout_set_spacing" as SetInt),
            set_alignment: get!(c"pango_layout_set_alignment" as SetInt),
            set_wrap: get!(c"pango_layout_set_wrap" as SetInt),
            set_width: get!(c"pango_layout_set_width" as SetInt),
            get_extents: get!(c"pango_layout_get_pixel_extents" as GetExtents),
        })
    })
    .as_ref()
}

/// Give the calling thread a new default Pango font map, so that the next
/// libvips 8.14 `text` call on it sets its dpi on a font map no earlier call
/// used. (libvips 8.15 and later render with a font map of their own; this
/// is then harmless.)
pub(crate) fn fresh_default_font_map() {
    if let Some(api) = api() {
        // SAFETY: NULL asks Pango to drop this thread's default; the next
        // pango_cairo_font_map_get_default makes a new one.
        unsafe { (api.set_default)(std::ptr::null_mut()) };
    }
}

/// Ink extents of `layout` at `dpi`, laid out as libvips' `text` does, on a
/// font map of its own. `None` without the Pango entry points, or when the
/// strings hold a NUL.
pub(crate) fn ink_extents(layout: &Layout<'_>, dpi: i32) -> Option<Extents> {
    let api = api()?;
    let text = CString::new(layout.text).ok()?;
    let font = CString::new(layout.font).ok()?;
    let align = match layout.align {
        "centre" => 1,
        "high" => 2,
        _ => 0,
    };
    // PangoWrapMode: WORD 0, CHAR 1, WORD_CHAR 2; "none" lays out unbounded.
    let (wrap, bounded) = match layout.wrap {
        "none" => (2, false),
        "char" => (1, true),
        "word-char" => (2, true),
        _ => (0, true),
    };
    let mut ink = Rect::default();
    let mut logical = Rect::default();
    // SAFETY: every object made here is released here; the font map's own
    // threads hold their own references and free it with the last one.
    unsafe {
        let map = (api.new_font_map)();
        if map.is_null() {
            return None;
        }
        let context = (api.create_context)(map);
        (api.set_resolution)(map, f64::from(dpi));
        let l = (api.layout_new)(context);
        (api.set_markup)(l, text.as_ptr(), -1);
        let desc = (api.desc_from_string)(font.as_ptr());
        (api.set_font_desc)(l, desc);
        (api.desc_free)(desc);
        (api.set_justify)(l, c_int::from(layout.justify));
        if layout.spacing > 0 {
            (api.set_spacing)(l, layout.spacing.saturating_mul(PANGO_SCALE));
        }
        (api.set_alignment)(l, align);
        (api.set_wrap)(l, wrap);
        if bounded && layout.width > 0 {
            (api.set_width)(l, layout.width.saturating_mul(PANGO_SCALE));
        }
        (api.get_extents)(l, &mut ink, &mut logical);
        sys::g_object_unref(l);
        sys::g_object_unref(context);
        sys::g_object_unref(map);
    }
    Some(Extents {
        width: ink.width,
        height: ink.height,
    })
}

/// The dpi libvips' `text` autofit picks for a box `width` x `height`
/// (libvips 8.14-8.18 `vips_text_autofit`): from 72, double or halve until
/// the ink extents cross the box, then bisect. `None` when Pango can't be
/// reached directly (then libvips must autofit itself).
pub(crate) fn autofit_dpi(layout: &Layout<'_>, height: i32) -> Option<i32> {
    search_dpi(|dpi| {
        let e = ink_extents(layout, dpi)?;
        Some(e.width <= layout.width && e.height <= height)
    })
}

/// libvips' autofit search over `fits(dpi)`.
fn search_dpi(mut fits: impl FnMut(i32) -> Option<bool>) -> Option<i32> {
    // Double or halve from 72 until the answer changes, or out of range.
    let mut dpi = 72;
    let first = fits(dpi)?;
    let mut fit = first;
    let mut previous = dpi;
    while fit == first {
        previous = dpi;
        dpi = if fit { dpi * 2 } else { dpi / 2 };
        if !(2..=10000).contains(&dpi) {
            break;
        }
        fit = fits(dpi)?;
    }
    // Then bisect; the last dpi that fitted wins.
    let (mut lower, mut upper) = if fit {
        (dpi, previous)
    } else {
        (previous, dpi)
    };
    while upper - lower > 1 {
        let mid = (upper + lower) / 2;
        if fits(mid)? {
            lower = mid;
        } else {
            upper = mid;
        }
    }
    Some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search_with_threshold(largest_fitting: i32) -> (i32, Vec<i32>) {
        let mut tried = Vec::new();
        let dpi = search_dpi(|dpi| {
            tried.push(dpi);
            Some(dpi <= largest_fitting)
        });
        (dpi.unwrap(), tried)
    }

    #[test]
    fn the_search_finds_the_largest_dpi_that_fits_as_libvips_does() {
        assert_eq!(search_with_threshold(100).0, 100);
        assert_eq!(search_with_threshold(72).0, 72);
        assert_eq!(search_with_threshold(50).0, 50);
        assert_eq!(search_with_threshold(5000).0, 5000);
        let (dpi, tried) = search_with_threshold(100);
        assert_eq!(dpi, 100);
        assert_eq!(&tried[..3], &[72, 144, 108]);
        // libvips' edges: nothing fits down to 2 -> 2; everything fits up to
        // 9216 -> the next doubling, 18432, untried.
        assert_eq!(search_with_threshold(0), (2, vec![72, 36, 18, 9, 4, 2]));
        let (dpi, tried) = search_with_threshold(i32::MAX);
        assert_eq!(dpi, 18432);
        assert_eq!(tried.last(), Some(&9216));
        // A probe that fails stops the search (libvips then autofits).
        assert_eq!(search_dpi(|d| (d < 100).then_some(true)), None);
    }

    #[test]
    fn ink_extents_grow_with_the_dpi() {
        crate::vips::init().unwrap();
        let layout = Layout {
            text: "IMAGOR",
            font: "sans",
            width: 9999,
            spacing: 0,
            align: "",
            wrap: "",
            justify: false,
        };
        // libvips linked from the system exports Pango; the bundled one
        // does not (and then autofits itself).
        let small = ink_extents(&layout, 72);
        if env!("IMAGOR_VIPS_FLAVOUR") == "system" {
            assert!(small.is_some(), "Pango not found in the system libvips");
        }
        if let Some(small) = small {
            let large = ink_extents(&layout, 144).unwrap();
            assert!(small.width > 20 && small.height > 5, "{small:?}");
            assert!(large.width > small.width * 3 / 2, "{small:?} {large:?}");
            let dpi = autofit_dpi(&layout, 30).unwrap();
            assert!(ink_extents(&layout, dpi).unwrap().height <= 30);
            assert!(ink_extents(&layout, dpi + 1).unwrap().height > 30);
        }
    }
}
