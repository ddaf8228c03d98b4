//! libvips' generic operation API: build an operation by name, set its
//! arguments as GObject properties, run it, read its outputs.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_int;
use std::ptr;
use std::sync::{Mutex, OnceLock};

use super::blob::Blob;
use super::image::Image;
use super::source::CustomSource;
use super::target::MemoryTarget;
use super::{cstring, error_from_vips, sys};
use crate::error::{Error, Result};

/// One argument value. The operation's own argument table decides how it is
/// converted (an `Int` becomes an enum value when the argument is an enum).
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// `gint` / `guint64` / enum / flags by number.
    Int(i64),
    /// `gdouble`.
    Double(f64),
    /// `gboolean`.
    Bool(bool),
    /// `gchararray`.
    Str(&'a str),
    /// An enum or flags value by its nickname (`"centre"`, `"attention"`).
    Nick(&'a str),
    /// A `VipsImage`.
    Image(&'a Image),
    /// A `VipsArrayImage`.
    Images(&'a [&'a Image]),
    /// A `VipsArrayDouble`.
    Doubles(&'a [f64]),
    /// A `VipsArrayInt`.
    Ints(&'a [i32]),
    /// A `VipsBlob`.
    Blob(&'a Blob),
    /// A `VipsSource`.
    Source(&'a CustomSource),
    /// A `VipsTarget`.
    Target(&'a MemoryTarget),
}

/// A pending call of one libvips operation.
pub struct Call<'a> {
    name: &'a str,
    args: Vec<(&'a str, Arg<'a>, bool)>,
}

impl<'a> Call<'a> {
    /// Start a call of the operation named `name` (`"thumbnail_image"`).
    pub fn new(name: &'a str) -> Self {
        Call {
            name,
            args: Vec::with_capacity(8),
        }
    }

    /// Set an argument the operation must have.
    pub fn arg(mut self, name: &'a str, value: Arg<'a>) -> Self {
        self.args.push((name, value, true));
        self
    }

    /// Set an argument only if this libvips version knows it (feature
    /// detection, e.g. `keep` on 8.15+ versus `strip` on 8.14).
    pub fn arg_if_supported(mut self, name: &'a str, value: Arg<'a>) -> Self {
        self.args.push((name, value, false));
        self
    }

    /// Run the operation.
    ///
    /// Every argument must be an input of the operation; its value is
    /// checked against the argument's `GParamSpec` (type and range) before
    /// it is set, so libvips never sees (or warns about) an out-of-range
    /// value: that is a 400 naming the operation and argument. Images passed
    /// to arguments the operation modifies in place (the `draw_*` family)
    /// are copied first, so a shared [`Image`] never changes; read the
    /// modified copy back with [`Outputs::image`]. A failure is reported
    /// from our own state (an entered deadline that fired is a timeout),
    /// never from libvips' process-global error text.
    pub fn run(self) -> Result<Outputs> {
        super::init()?;
        super::deadline::check()?;
        let cname = cstring(self.name)?;
        // SAFETY: vips_operation_new takes a NUL-terminated name and returns
        // a new reference or NULL.
        let op = unsafe { sys::vips_operation_new(cname.as_ptr()) };
        if op.is_null() {
            super::clear_error();
            return Err(Error::Internal(format!(
                "libvips has no operation {}",
                self.name
            )));
        }
        let mut guard = OpGuard { op };
        let mut copies = Vec::new();
        for (name, value, required) in &self.args {
            let cname = cstring(name)?;
            let Some((pspec, flags)) = find_arg(op, &cname) else {
                if *required {
                    return Err(Error::Internal(format!(
                        "libvips operation {} has no argument {name}",
                        self.name
                    )));
                }
                continue;
            };
            if flags & sys::VIPS_ARGUMENT_INPUT == 0 {
                return Err(Error::Internal(format!(
                    "{}.{name} is not an input argument",
                    self.name
                )));
            }
            let modified;
            let value = match value {
                // Drawn on in place: a buffer of its own, so that neither
                // the caller's image nor anything sharing its pixels changes.
                Arg::Image(img) if flags & sys::VIPS_ARGUMENT_MODIFY != 0 => {
                    modified = img.private_copy()?;
                    copies.push(modified.clone());
                    &Arg::Image(&modified)
                }
                other => other,
            };
            // SAFETY: pspec comes from the operation's own argument table
            // and lives as long as the operation's class.
            let value_type = unsafe { (*pspec).value_type };
            let mut gvalue = sys::GValue::zeroed();
            // SAFETY: a zeroed GValue may be initialised to any type.
            unsafe { sys::g_value_init(&mut gvalue, value_type) };
            let checked = set_gvalue(&mut gvalue, value_type, value)
                .map_err(|e| Error::Internal(format!("{}.{name}: {e}", self.name)))
                .and_then(|()| validate(&mut gvalue, pspec, self.name, name, value));
            if let Err(e) = checked {
                // SAFETY: gvalue was initialised above.
                unsafe { sys::g_value_unset(&mut gvalue) };
                return Err(e);
            }
            // SAFETY: op is a live VipsOperation; the GValue matches the
            // property's type and was validated against its pspec;
            // g_object_set_property copies the value.
            unsafe {
                sys::g_object_set_property(op.cast(), cname.as_ptr(), &gvalue);
                sys::g_value_unset(&mut gvalue);
            }
        }
        // SAFETY: buildp replaces guard.op with the cached/built operation
        // and keeps exactly one reference for us either way.
        let rc = unsafe { sys::vips_cache_operation_buildp(&mut guard.op) };
        if rc != 0 {
            return Err(error_from_vips(self.name));
        }
        Ok(Outputs {
            guard,
            _copies: copies,
        })
    }
}

/// Refuse a value its `GParamSpec` would have to change (out of range, not
/// finite): libvips would otherwise warn on stderr and ignore it.
fn validate(
    gvalue: &mut sys::GValue,
    pspec: *mut sys::GParamSpec,
    op: &str,
    name: &str,
    value: &Arg<'_>,
) -> Result<()> {
    if let Arg::Double(v) = value {
        if !v.is_finite() {
            return Err(Error::invalid_msg(format!(
                "{op}: {name} must be a finite number, not {v}"
            )));
        }
    }
    // SAFETY: the GValue is initialised to the pspec's value type; validate
    // only clamps it in place and reports whether it had to.
    let changed = unsafe { sys::g_param_value_validate(pspec, gvalue) } != 0;
    if changed {
        let shown = match value {
            Arg::Int(v) => v.to_string(),
            Arg::Double(v) => v.to_string(),
            Arg::Str(s) | Arg::Nick(s) => format!("{s:?}"),
            other => format!("{other:?}"),
        };
        return Err(Error::invalid_msg(format!(
            "{op}: {name} = {shown} is out of range"
        )));
    }
    Ok(())
}

/// Unrefs the operation (and, once built, its outputs) on every path.
struct OpGuard {
    op: *mut sys::VipsOperation,
}

impl Drop for OpGuard {
    fn drop(&mut self) {
        // SAFETY: we own one reference to op. Outputs are unreffed whether or
        // not the build succeeded, as libvips' own call helpers do.
        unsafe {
            sys::vips_object_unref_outputs(self.op.cast());
            sys::g_object_unref(self.op.cast());
        }
    }
}

/// The outputs of a finished operation.
pub struct Outputs {
    guard: OpGuard,
    /// Private copies made for arguments the operation modified.
    _copies: Vec<Image>,
}

impl Outputs {
    fn get(&self, name: &str, expect: sys::GType) -> Result<sys::GValue> {
        let cname = cstring(name)?;
        let (pspec, _) = find_arg(self.guard.op, &cname)
            .ok_or_else(|| Error::Internal(format!("no output {name}")))?;
        // SAFETY: pspec is from the live operation's class.
        let value_type = unsafe { (*pspec).value_type };
        // SAFETY: g_type_fundamental is a pure lookup.
        let fundamental = unsafe { sys::g_type_fundamental(value_type) };
        if expect != 0 && value_type != expect && fundamental != expect {
            return Err(Error::Internal(format!("output {name} has another type")));
        }
        let mut gvalue = sys::GValue::zeroed();
        // SAFETY: initialise to the property's type, then let GObject copy
        // the property value into it (adding a reference for objects/boxed).
        unsafe {
            sys::g_value_init(&mut gvalue, value_type);
            sys::g_object_get_property(self.guard.op.cast(), cname.as_ptr(), &mut gvalue);
        }
        Ok(gvalue)
    }

    /// Take the image output `name` (usually `"out"`).
    pub fn image(&self, name: &str) -> Result<Image> {
        // SAFETY: lookup of a registered type.
        let ty = unsafe { sys::vips_image_get_type() };
        let mut gvalue = self.get(name, ty)?;
        // SAFETY: the GValue holds an object reference; we add our own and
        // release the GValue's.
        unsafe {
            let obj = sys::g_value_get_object(&gvalue);
            if obj.is_null() {
                sys::g_value_unset(&mut gvalue);
                return Err(Error::Internal(format!("output {name} is empty")));
            }
            sys::g_object_ref(obj);
            sys::g_value_unset(&mut gvalue);
            Ok(Image::from_owned(obj.cast()))
        }
    }

    /// The `out` image.
    pub fn out(&self) -> Result<Image> {
        self.image("out")
    }

    /// An integer (or enum) output.
    pub fn int(&self, name: &str) -> Result<i32> {
        let mut gvalue = self.get(name, 0)?;
        // SAFETY: type checked by GObject; unset releases nothing for ints.
        unsafe {
            let fundamental = sys::g_type_fundamental(gvalue.g_type);
            let v = if fundamental == sys::G_TYPE_ENUM {
                sys::g_value_get_enum(&gvalue)
            } else if fundamental == sys::G_TYPE_INT {
                sys::g_value_get_int(&gvalue)
            } else {
                sys::g_value_unset(&mut gvalue);
                return Err(Error::Internal(format!("output {name} is not an int")));
            };
            sys::g_value_unset(&mut gvalue);
            Ok(v)
        }
    }

    /// A double output.
    pub fn double(&self, name: &str) -> Result<f64> {
        let mut gvalue = self.get(name, sys::G_TYPE_DOUBLE)?;
        // SAFETY: the value is a double.
        unsafe {
            let v = sys::g_value_get_double(&gvalue);
            sys::g_value_unset(&mut gvalue);
            Ok(v)
        }
    }

    /// A `VipsArrayDouble` output.
    pub fn doubles(&self, name: &str) -> Result<Vec<f64>> {
        // SAFETY: lookup of a registered type.
        let ty = unsafe { sys::vips_array_double_get_type() };
        let mut gvalue = self.get(name, ty)?;
        // SAFETY: the value holds a VipsArrayDouble; we copy it out before
        // unsetting the value.
        unsafe {
            let mut n: c_int = 0;
            let p = sys::vips_value_get_array_double(&gvalue, &mut n);
            let v = if p.is_null() || n <= 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(p, n as usize).to_vec()
            };
            sys::g_value_unset(&mut gvalue);
            Ok(v)
        }
    }

    /// A `VipsBlob` output, e.g. the `buffer` of a `*save_buffer` call.
    pub fn blob(&self, name: &str) -> Result<Blob> {
        // SAFETY: lookup of a registered type.
        let ty = unsafe { sys::vips_blob_get_type() };
        let mut gvalue = self.get(name, ty)?;
        // SAFETY: the value holds a boxed VipsBlob; g_value_dup_boxed adds a
        // reference for us, then the GValue's own reference is released.
        unsafe {
            let area = sys::g_value_dup_boxed(&gvalue) as *mut sys::VipsBlob;
            sys::g_value_unset(&mut gvalue);
            if area.is_null() {
                return Err(Error::Internal(format!("output {name} is empty")));
            }
            Ok(Blob::from_owned(area))
        }
    }
}

/// Find the `GParamSpec` and the flags of argument `name` on a live object.
fn find_arg(op: *mut sys::VipsOperation, name: &CStr) -> Option<(*mut sys::GParamSpec, u32)> {
    let mut pspec: *mut sys::GParamSpec = ptr::null_mut();
    let mut aclass: *mut sys::VipsArgumentClass = ptr::null_mut();
    let mut ainst: *mut sys::VipsArgumentInstance = ptr::null_mut();
    // SAFETY: op is live; the out-pointers are valid locals. A miss sets a
    // libvips error, which we clear.
    let rc = unsafe {
        sys::vips_object_get_argument(
            op.cast(),
            name.as_ptr(),
            &mut pspec,
            &mut aclass,
            &mut ainst,
        )
    };
    if rc != 0 || pspec.is_null() || aclass.is_null() {
        super::clear_error();
        None
    } else {
        // SAFETY: aclass points into the operation class's argument table.
        Some((pspec, unsafe { (*aclass).flags }))
    }
}

/// Fill an initialised GValue of type `ty` from `arg`.
fn set_gvalue(gvalue: &mut sys::GValue, ty: sys::GType, arg: &Arg<'_>) -> Result<(), String> {
    // SAFETY: pure type lookups.
    let (fundamental, image_t, blob_t, adouble_t, aint_t, aimage_t) = unsafe {
        (
            sys::g_type_fundamental(ty),
            sys::vips_image_get_type(),
            sys::vips_blob_get_type(),
            sys::vips_array_double_get_type(),
            sys::vips_array_int_get_type(),
            sys::vips_array_image_get_type(),
        )
    };
    // SAFETY (whole match): gvalue was initialised to `ty`; each setter is
    // the one GObject requires for that fundamental type; pointers passed
    // are valid for the duration of the call and the setters copy or ref.
    unsafe {
        match (fundamental, arg) {
            (sys::G_TYPE_INT, Arg::Int(v)) => {
                sys::g_value_set_int(gvalue, clamp_i32(*v));
            }
            (sys::G_TYPE_INT, Arg::Bool(b)) => sys::g_value_set_int(gvalue, *b as c_int),
            (sys::G_TYPE_UINT64, Arg::Int(v)) => {
                sys::g_value_set_uint64(gvalue, (*v).max(0) as u64)
            }
            (sys::G_TYPE_INT64, Arg::Int(v)) => sys::g_value_set_int64(gvalue, *v),
            (sys::G_TYPE_DOUBLE, Arg::Double(v)) => sys::g_value_set_double(gvalue, *v),
            (sys::G_TYPE_DOUBLE, Arg::Int(v)) => sys::g_value_set_double(gvalue, *v as f64),
            (sys::G_TYPE_BOOLEAN, Arg::Bool(b)) => sys::g_value_set_boolean(gvalue, *b as c_int),
            (sys::G_TYPE_STRING, Arg::Str(s)) => {
                let c = CString::new(*s).map_err(|_| "NUL in string".to_owned())?;
                sys::g_value_set_string(gvalue, c.as_ptr());
            }
            (sys::G_TYPE_ENUM, Arg::Int(v)) => sys::g_value_set_enum(gvalue, clamp_i32(*v)),
            (sys::G_TYPE_ENUM, Arg::Nick(nick)) => {
                let c = CString::new(*nick).map_err(|_| "NUL in nick".to_owned())?;
                let v = sys::vips_enum_from_nick(ptr::null(), ty, c.as_ptr());
                if v < 0 {
                    sys::vips_error_clear();
                    return Err(format!("unknown value {nick:?}"));
                }
                sys::g_value_set_enum(gvalue, v);
            }
            (sys::G_TYPE_FLAGS, Arg::Int(v)) => sys::g_value_set_flags(gvalue, (*v).max(0) as u32),
            (sys::G_TYPE_FLAGS, Arg::Nick(nick)) => {
                let c = CString::new(*nick).map_err(|_| "NUL in nick".to_owned())?;
                let v = sys::vips_flags_from_nick(ptr::null(), ty, c.as_ptr());
                if v < 0 {
                    sys::vips_error_clear();
                    return Err(format!("unknown flags {nick:?}"));
                }
                sys::g_value_set_flags(gvalue, v as u32);
            }
            (_, Arg::Image(img)) if ty == image_t => {
                sys::g_value_set_object(gvalue, img.as_ptr().cast());
            }
            (sys::G_TYPE_OBJECT, Arg::Source(source)) => {
                sys::g_value_set_object(gvalue, source.as_ptr());
            }
            (sys::G_TYPE_OBJECT, Arg::Target(target)) => {
                sys::g_value_set_object(gvalue, target.as_ptr());
            }
            (_, Arg::Blob(blob)) if ty == blob_t => {
                sys::g_value_set_boxed(gvalue, blob.as_ptr().cast());
            }
            (_, Arg::Doubles(v)) if ty == adouble_t => {
                sys::vips_value_set_array_double(gvalue, v.as_ptr(), v.len() as c_int);
            }
            (_, Arg::Ints(v)) if ty == aint_t => {
                sys::vips_value_set_array_int(gvalue, v.as_ptr(), v.len() as c_int);
            }
            (_, Arg::Doubles(v)) if ty == aint_t => {
                let ints: Vec<c_int> = v.iter().map(|d| *d as c_int).collect();
                sys::vips_value_set_array_int(gvalue, ints.as_ptr(), ints.len() as c_int);
            }
            (_, Arg::Images(images)) if ty == aimage_t => {
                sys::vips_value_set_array_image(gvalue, images.len() as c_int);
                let mut n: c_int = 0;
                let slots = sys::vips_value_get_array_image(gvalue, &mut n);
                for (i, img) in images.iter().enumerate().take(n.max(0) as usize) {
                    sys::g_object_ref(img.as_ptr().cast());
                    *slots.add(i) = img.as_ptr();
                }
            }
            (_, Arg::Image(img)) if ty == aimage_t => {
                sys::vips_value_set_array_image(gvalue, 1);
                let mut n: c_int = 0;
                let slots = sys::vips_value_get_array_image(gvalue, &mut n);
                sys::g_object_ref(img.as_ptr().cast());
                *slots = img.as_ptr();
            }
            (_, other) => {
                let tname = CStr::from_ptr(sys::g_type_name(ty)).to_string_lossy();
                return Err(format!("cannot set {tname} from {other:?}"));
            }
        }
    }
    Ok(())
}

fn clamp_i32(v: i64) -> c_int {
    v.clamp(c_int::MIN as i64, c_int::MAX as i64) as c_int
}

/// Does this libvips have the operation `name` (`"magickload_buffer"`)?
pub fn has_operation(name: &str) -> bool {
    if super::init().is_err() {
        return false;
    }
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: lookup by name; returns 0 when unknown.
    let ty = unsafe { sys::vips_type_find(c"VipsOperation".as_ptr(), c.as_ptr()) };
    ty != 0
}

/// Does operation `op` take an argument called `arg`? Cached per pair.
pub fn operation_has_arg(op: &str, arg: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<(String, String), bool>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (op.to_owned(), arg.to_owned());
    if let Some(v) = cache.lock().ok().and_then(|c| c.get(&key).copied()) {
        return v;
    }
    let found = (|| {
        super::init().ok()?;
        let cop = CString::new(op).ok()?;
        let carg = CString::new(arg).ok()?;
        // SAFETY: new operation reference or NULL; released below.
        let handle = unsafe { sys::vips_operation_new(cop.as_ptr()) };
        if handle.is_null() {
            super::clear_error();
            return Some(false);
        }
        let has = find_arg(handle, &carg).is_some();
        // SAFETY: release the unbuilt operation we created.
        unsafe { sys::g_object_unref(handle.cast()) };
        Some(has)
    })()
    .unwrap_or(false);
    if let Ok(mut c) = cache.lock() {
        c.insert(key, found);
    }
    found
}
