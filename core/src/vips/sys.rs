//! Hand-written declarations of the libvips, GObject and GLib C functions we
//! call. Only what the generic operation API needs, plus image metadata.
//!
//! Everything here is `unsafe` to call; the safe wrappers live next door.
//! Which library provides these symbols is `build.rs`'s choice (the system
//! libvips through pkg-config, or a prebuilt one from `IMAGOR_VIPS_LIB_DIR`),
//! so no `#[link]` attribute names a library here.
#![allow(non_camel_case_types, missing_docs, dead_code)]

use std::os::raw::{c_char, c_double, c_int, c_uint, c_void};

/// GLib's `GType` is a `gsize`.
pub type GType = usize;
pub type gboolean = c_int;

/// Opaque libvips objects; we only ever hold pointers to them.
#[repr(C)]
pub struct VipsImage {
    _private: [u8; 0],
}
#[repr(C)]
pub struct VipsOperation {
    _private: [u8; 0],
}
#[repr(C)]
pub struct VipsObject {
    _private: [u8; 0],
}
#[repr(C)]
pub struct VipsBlob {
    _private: [u8; 0],
}
/// `VipsArgumentClass` (vips/object.h): the argument's pspec, owning class
/// and flags. Read only.
#[repr(C)]
pub struct VipsArgumentClass {
    pub pspec: *mut GParamSpec,
    pub object_class: *mut c_void,
    pub flags: c_uint,
    pub priority: c_int,
    pub offset: c_uint,
}

// `VipsArgumentFlags` bits we look at.
pub const VIPS_ARGUMENT_INPUT: c_uint = 16;
pub const VIPS_ARGUMENT_OUTPUT: c_uint = 32;
pub const VIPS_ARGUMENT_DEPRECATED: c_uint = 64;
pub const VIPS_ARGUMENT_MODIFY: c_uint = 128;

// `VipsOperationFlags` bits we look at.
pub const VIPS_OPERATION_UNTRUSTED: c_uint = 16;
pub const VIPS_OPERATION_BLOCKED: c_uint = 32;
#[repr(C)]
pub struct VipsArgumentInstance {
    _private: [u8; 0],
}

/// The public head of `GParamSpec` (gobject/gparam.h); we read `value_type`.
#[repr(C)]
pub struct GParamSpec {
    pub g_type_instance: *mut c_void,
    pub name: *const c_char,
    pub flags: c_uint,
    pub value_type: GType,
    pub owner_type: GType,
}

/// `GValue`: a type tag and two 64-bit data words (gobject/gvalue.h).
#[repr(C)]
pub struct GValue {
    pub g_type: GType,
    pub data: [u64; 2],
}

impl GValue {
    /// An all-zero value, as `G_VALUE_INIT`.
    pub const fn zeroed() -> Self {
        GValue {
            g_type: 0,
            data: [0, 0],
        }
    }
}

/// `VipsArea` head (vips/type.h): the blob's data pointer and length.
#[repr(C)]
pub struct VipsArea {
    pub data: *mut c_void,
    pub length: usize,
    pub n: c_int,
    // further private fields follow; never constructed from Rust
}

// Fundamental GTypes: G_TYPE_MAKE_FUNDAMENTAL(x) = x << 2.
pub const G_TYPE_BOOLEAN: GType = 5 << 2;
pub const G_TYPE_INT: GType = 6 << 2;
pub const G_TYPE_UINT64: GType = 11 << 2;
pub const G_TYPE_INT64: GType = 10 << 2;
pub const G_TYPE_ENUM: GType = 12 << 2;
pub const G_TYPE_FLAGS: GType = 13 << 2;
pub const G_TYPE_DOUBLE: GType = 15 << 2;
pub const G_TYPE_STRING: GType = 16 << 2;
pub const G_TYPE_BOXED: GType = 18 << 2;
pub const G_TYPE_OBJECT: GType = 20 << 2;

/// `GCallback`-shaped handler for the image `eval` signal.
pub type EvalHandler =
    unsafe extern "C" fn(image: *mut VipsImage, progress: *mut c_void, data: *mut c_void);
/// Handler for a `VipsSourceCustom`'s `read` signal: fill `buffer` with
/// up to `length` bytes; the count, 0 at the end, -1 on error.
pub type SourceReadHandler = unsafe extern "C" fn(
    source: *mut c_void,
    buffer: *mut c_void,
    length: i64,
    data: *mut c_void,
) -> i64;
/// Handler for a `VipsSourceCustom`'s `seek` signal: move to `offset`
/// from `whence` (`SEEK_SET`, `SEEK_CUR`, `SEEK_END`); the new position,
/// -1 on error.
pub type SourceSeekHandler =
    unsafe extern "C" fn(source: *mut c_void, offset: i64, whence: c_int, data: *mut c_void) -> i64;
/// Handler for a `VipsTargetCustom`'s `write` signal: take `length`
/// bytes; the count taken, -1 on error.
pub type TargetWriteHandler = unsafe extern "C" fn(
    target: *mut c_void,
    buffer: *const c_void,
    length: i64,
    data: *mut c_void,
) -> i64;
/// `GWeakNotify`: called while an object is disposed, before its memory
/// is freed.
pub type WeakNotify = unsafe extern "C" fn(data: *mut c_void, object: *mut c_void);

/// `GClosureNotify`: releases signal handler data.
pub type ClosureNotify = Option<unsafe extern "C" fn(data: *mut c_void, closure: *mut c_void)>;
/// `VipsSListMap2Fn`, used to visit every live object.
pub type SListMap2Fn =
    Option<unsafe extern "C" fn(item: *mut c_void, a: *mut c_void, b: *mut c_void) -> *mut c_void>;

pub type VipsCallbackFn = Option<unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int>;

extern "C" {
    pub fn vips_init(argv0: *const c_char) -> c_int;
    pub fn vips_version(flag: c_int) -> c_int;
    pub fn vips_error_buffer() -> *const c_char;
    pub fn vips_error_buffer_copy() -> *mut c_char;
    pub fn vips_error_clear();
    pub fn vips_cache_set_max(max: c_int);
    pub fn vips_cache_set_max_mem(max_mem: usize);
    pub fn vips_cache_set_max_files(max_files: c_int);
    pub fn vips_vector_set_enabled(enabled: c_int);
    pub fn vips_concurrency_set(concurrency: c_int);
    pub fn vips_concurrency_get() -> c_int;
    pub fn vips_tracked_get_mem() -> usize;
    pub fn vips_tracked_get_mem_highwater() -> usize;
    pub fn vips_tracked_get_allocs() -> c_int;
    pub fn vips_tracked_get_files() -> c_int;
    pub fn vips_block_untrusted_set(state: gboolean);
    pub fn vips_operation_block_set(name: *const c_char, state: gboolean);
    pub fn vips_thread_shutdown();

    pub fn vips_operation_new(name: *const c_char) -> *mut VipsOperation;
    pub fn vips_cache_operation_buildp(operation: *mut *mut VipsOperation) -> c_int;
    pub fn vips_object_unref_outputs(object: *mut VipsObject);
    pub fn vips_object_get_argument(
        object: *mut VipsObject,
        name: *const c_char,
        pspec: *mut *mut GParamSpec,
        argument_class: *mut *mut VipsArgumentClass,
        argument_instance: *mut *mut VipsArgumentInstance,
    ) -> c_int;
    pub fn vips_operation_get_flags(operation: *mut VipsOperation) -> c_uint;
    pub fn vips_object_map(func: SListMap2Fn, a: *mut c_void, b: *mut c_void) -> *mut c_void;
    pub fn vips_image_set_progress(image: *mut VipsImage, progress: gboolean);
    pub fn vips_image_set_kill(image: *mut VipsImage, kill: gboolean);
    pub fn vips_nickname_find(type_: GType) -> *const c_char;
    pub fn vips_type_find(basename: *const c_char, nickname: *const c_char) -> GType;
    pub fn vips_enum_from_nick(domain: *const c_char, type_: GType, str_: *const c_char) -> c_int;
    pub fn vips_flags_from_nick(domain: *const c_char, type_: GType, nick: *const c_char) -> c_int;

    pub fn vips_image_get_type() -> GType;
    pub fn vips_blob_get_type() -> GType;
    pub fn vips_array_double_get_type() -> GType;
    pub fn vips_array_int_get_type() -> GType;
    pub fn vips_array_image_get_type() -> GType;
    pub fn vips_ref_string_get_type() -> GType;

    pub fn vips_source_custom_new() -> *mut c_void;
    pub fn vips_target_custom_new() -> *mut c_void;
    pub fn vips_blob_copy(data: *const c_void, length: usize) -> *mut VipsBlob;
    pub fn vips_blob_new(
        free_fn: VipsCallbackFn,
        data: *const c_void,
        length: usize,
    ) -> *mut VipsBlob;
    pub fn vips_blob_get(blob: *mut VipsBlob, length: *mut usize) -> *const c_void;
    pub fn vips_area_unref(area: *mut VipsBlob);
    pub fn vips_area_copy(area: *mut VipsBlob) -> *mut VipsBlob;

    pub fn vips_value_set_array_double(value: *mut GValue, array: *const c_double, n: c_int);
    pub fn vips_value_set_array_int(value: *mut GValue, array: *const c_int, n: c_int);
    pub fn vips_value_set_array_image(value: *mut GValue, n: c_int);
    pub fn vips_value_get_array_image(value: *const GValue, n: *mut c_int) -> *mut *mut VipsImage;
    pub fn vips_value_get_array_double(value: *const GValue, n: *mut c_int) -> *mut c_double;
    pub fn vips_value_get_array_int(value: *const GValue, n: *mut c_int) -> *mut c_int;
    pub fn vips_value_get_blob(value: *const GValue, length: *mut usize) -> *mut c_void;

    pub fn vips_foreign_find_load_buffer(data: *const c_void, size: usize) -> *const c_char;
    pub fn vips_foreign_find_save_buffer(suffix: *const c_char) -> *const c_char;

    pub fn vips_image_new_from_memory(
        data: *const c_void,
        size: usize,
        width: c_int,
        height: c_int,
        bands: c_int,
        format: c_int,
    ) -> *mut VipsImage;
    pub fn vips_image_pipeline_array(
        image: *mut VipsImage,
        hint: c_int,
        inputs: *mut *mut VipsImage,
    ) -> c_int;
    pub fn vips_image_new_from_memory_copy(
        data: *const c_void,
        size: usize,
        width: c_int,
        height: c_int,
        bands: c_int,
        format: c_int,
    ) -> *mut VipsImage;
    pub fn vips_image_write_to_memory(image: *mut VipsImage, size: *mut usize) -> *mut c_void;
    pub fn vips_image_copy_memory(image: *mut VipsImage) -> *mut VipsImage;
    pub fn vips_image_get_data(image: *mut VipsImage) -> *const c_void;
    pub fn vips_image_ispartial(image: *mut VipsImage) -> gboolean;
    pub fn vips_image_isfile(image: *mut VipsImage) -> gboolean;

    pub fn vips_image_get_width(image: *const VipsImage) -> c_int;
    pub fn vips_image_get_height(image: *const VipsImage) -> c_int;
    pub fn vips_image_get_bands(image: *const VipsImage) -> c_int;
    pub fn vips_image_get_format(image: *const VipsImage) -> c_int;
    pub fn vips_image_get_interpretation(image: *const VipsImage) -> c_int;
    pub fn vips_image_guess_interpretation(image: *const VipsImage) -> c_int;
    pub fn vips_image_get_coding(image: *const VipsImage) -> c_int;
    pub fn vips_image_get_page_height(image: *mut VipsImage) -> c_int;
    pub fn vips_image_get_n_pages(image: *mut VipsImage) -> c_int;
    pub fn vips_image_hasalpha(image: *mut VipsImage) -> gboolean;
    pub fn vips_image_get_typeof(image: *const VipsImage, name: *const c_char) -> GType;
    pub fn vips_image_get_int(
        image: *const VipsImage,
        name: *const c_char,
        out: *mut c_int,
    ) -> c_int;
    pub fn vips_image_get_double(
        image: *const VipsImage,
        name: *const c_char,
        out: *mut c_double,
    ) -> c_int;
    pub fn vips_image_get_string(
        image: *const VipsImage,
        name: *const c_char,
        out: *mut *const c_char,
    ) -> c_int;
    pub fn vips_image_get_as_string(
        image: *const VipsImage,
        name: *const c_char,
        out: *mut *mut c_char,
    ) -> c_int;
    pub fn vips_image_get_blob(
        image: *const VipsImage,
        name: *const c_char,
        data: *mut *const c_void,
        length: *mut usize,
    ) -> c_int;
    pub fn vips_image_get_array_int(
        image: *mut VipsImage,
        name: *const c_char,
        out: *mut *mut c_int,
        n: *mut c_int,
    ) -> c_int;
    pub fn vips_image_get_fields(image: *mut VipsImage) -> *mut *mut c_char;
    pub fn vips_image_get(image: *const VipsImage, name: *const c_char, out: *mut GValue) -> c_int;
    pub fn vips_image_set(image: *mut VipsImage, name: *const c_char, value: *mut GValue);
    pub fn vips_image_set_int(image: *mut VipsImage, name: *const c_char, i: c_int);
    pub fn vips_image_set_double(image: *mut VipsImage, name: *const c_char, d: c_double);
    pub fn vips_image_set_string(image: *mut VipsImage, name: *const c_char, s: *const c_char);
    pub fn vips_image_set_array_int(
        image: *mut VipsImage,
        name: *const c_char,
        array: *const c_int,
        n: c_int,
    );
    pub fn vips_image_remove(image: *mut VipsImage, name: *const c_char) -> gboolean;
}

extern "C" {
    pub fn g_object_ref(object: *mut c_void) -> *mut c_void;
    pub fn g_object_unref(object: *mut c_void);
    pub fn g_object_set_property(object: *mut c_void, name: *const c_char, value: *const GValue);
    pub fn g_object_get_property(object: *mut c_void, name: *const c_char, value: *mut GValue);
    pub fn g_signal_connect_data(
        instance: *mut c_void,
        detailed_signal: *const c_char,
        handler: *const c_void,
        data: *mut c_void,
        destroy_data: ClosureNotify,
        connect_flags: c_uint,
    ) -> std::os::raw::c_ulong;
    pub fn g_object_get_qdata(object: *mut c_void, quark: u32) -> *mut c_void;
    pub fn g_object_weak_ref(object: *mut c_void, notify: WeakNotify, data: *mut c_void);
    pub fn g_object_set_qdata(object: *mut c_void, quark: u32, data: *mut c_void);
    pub fn g_param_value_validate(pspec: *const GParamSpec, value: *mut GValue) -> gboolean;
    pub fn g_value_type_compatible(src_type: GType, dest_type: GType) -> gboolean;
    pub fn g_strdup_value_contents(value: *const GValue) -> *mut c_char;
    pub fn g_type_fundamental(type_id: GType) -> GType;
    pub fn g_type_name(type_id: GType) -> *const c_char;
    pub fn g_type_from_name(name: *const c_char) -> GType;
    pub fn g_value_init(value: *mut GValue, g_type: GType) -> *mut GValue;
    pub fn g_value_unset(value: *mut GValue);
    pub fn g_value_set_boolean(value: *mut GValue, v: gboolean);
    pub fn g_value_set_int(value: *mut GValue, v: c_int);
    pub fn g_value_set_uint64(value: *mut GValue, v: u64);
    pub fn g_value_set_int64(value: *mut GValue, v: i64);
    pub fn g_value_set_double(value: *mut GValue, v: c_double);
    pub fn g_value_set_string(value: *mut GValue, v: *const c_char);
    pub fn g_value_set_enum(value: *mut GValue, v: c_int);
    pub fn g_value_set_flags(value: *mut GValue, v: c_uint);
    pub fn g_value_set_object(value: *mut GValue, v: *mut c_void);
    pub fn g_value_set_boxed(value: *mut GValue, v: *const c_void);
    pub fn g_value_get_boolean(value: *const GValue) -> gboolean;
    pub fn g_value_get_int(value: *const GValue) -> c_int;
    pub fn g_value_get_double(value: *const GValue) -> c_double;
    pub fn g_value_get_enum(value: *const GValue) -> c_int;
    pub fn g_value_get_object(value: *const GValue) -> *mut c_void;
    pub fn g_value_dup_boxed(value: *const GValue) -> *mut c_void;
}

pub type GLogFunc = Option<
    unsafe extern "C" fn(
        domain: *const c_char,
        level: c_int,
        message: *const c_char,
        data: *mut c_void,
    ),
>;
pub const G_LOG_LEVEL_CRITICAL: c_int = 1 << 3;
pub const G_LOG_LEVEL_WARNING: c_int = 1 << 4;
pub const G_LOG_LEVEL_MESSAGE: c_int = 1 << 5;
pub const G_LOG_LEVEL_INFO: c_int = 1 << 6;
pub const G_LOG_LEVEL_DEBUG: c_int = 1 << 7;

extern "C" {
    pub fn g_log_set_handler(
        domain: *const c_char,
        levels: c_int,
        func: GLogFunc,
        data: *mut c_void,
    ) -> c_uint;
    pub fn g_free(mem: *mut c_void);
    pub fn g_quark_from_static_string(string: *const c_char) -> u32;
    pub fn g_strfreev(str_array: *mut *mut c_char);
}
