//! One orc code allocation or release at a time.
//!
//! libvips 8.14 compiles SIMD kernels at run time with liborc (`reducev`,
//! `convi`, `morph`: every resize, sharpen and integer blur builds one) and
//! frees them when the operation goes. liborc up to at least 0.4.33 (Debian
//! 12) takes its lock when it carves code memory out of its chunk list but
//! not when it gives a chunk back: a kernel freed on one thread while
//! another compiles corrupts that list, and the process dies in
//! `orc_code_allocate_codemem` (SIGSEGV, or glibc's `double free`). Eight
//! threads of small resizes crash plain libvips in 2 of 3 runs.
//!
//! The only callers of those two paths are libvips' `orc_program_compile`
//! and `orc_program_free`; their entries in libvips' table of imported
//! functions (its PLT/GOT) are pointed at wrappers that run the original
//! under one process-wide lock. Compiling a kernel takes microseconds and
//! happens once per operation, so nothing measurable is serialised; the
//! kernels still run in parallel. A libvips without orc (8.15 and later use
//! Highway; the bundled 8.18 has no orc) imports neither and is left alone.
//! Turning libvips' vector paths off instead (`VIPS_NOVECTOR`) avoids the
//! race too, but made a JPEG resize 1.7x as expensive.

use std::ffi::{c_int, c_void, CStr};
use std::sync::{Mutex, OnceLock};

type Compile = unsafe extern "C" fn(*mut c_void) -> c_int;
type Free = unsafe extern "C" fn(*mut c_void);

/// liborc's own functions, looked up before the table entries change.
struct Originals {
    compile: Compile,
    free: Free,
}

static ORIGINALS: OnceLock<Originals> = OnceLock::new();
static ORC: Mutex<()> = Mutex::new(());

unsafe extern "C" fn guarded_compile(program: *mut c_void) -> c_int {
    let _one = ORC.lock().unwrap_or_else(|e| e.into_inner());
    match ORIGINALS.get() {
        // SAFETY: liborc's function, with libvips' own argument.
        Some(o) => unsafe { (o.compile)(program) },
        // Unreachable: the entries change only once the originals are set.
        // ORC_COMPILE_RESULT_UNKNOWN_COMPILE: libvips then runs its C path.
        None => 0x100,
    }
}

unsafe extern "C" fn guarded_free(program: *mut c_void) {
    let _one = ORC.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(o) = ORIGINALS.get() {
        // SAFETY: liborc's function, with libvips' own argument.
        unsafe { (o.free)(program) }
    }
}

/// Route libvips' orc compiles and frees through the lock. Called once,
/// right after `vips_init` and before any other libvips call. Returns
/// whether libvips uses orc (and so is now guarded), or why it could not
/// be guarded (then libvips may race in liborc).
pub(super) fn install(libvips: *mut c_void) -> Result<bool, String> {
    let lookup = |name: &CStr| {
        // SAFETY: a lookup in a live handle (libvips and the libraries it
        // was linked with, liborc among them); NULL when absent.
        let p = unsafe { libc::dlsym(libvips, name.as_ptr()) };
        (!p.is_null()).then_some(p)
    };
    let (Some(compile), Some(free)) = (lookup(c"orc_program_compile"), lookup(c"orc_program_free"))
    else {
        // No liborc among libvips' libraries: nothing to guard.
        return Ok(false);
    };
    // SAFETY: `libvips` is a live dlopen handle of the loaded libvips,
    // kept for the life of the process.
    let object = unsafe { plthook::ObjectFile::open_by_handle(libvips) }
        .map_err(|e| format!("libvips' import table: {e}"))?;
    let imports = |name: &str| object.symbols().any(|s| s.name.to_str() == Ok(name));
    if !imports("orc_program_compile") && !imports("orc_program_free") {
        // liborc is loaded but libvips does not call it.
        return Ok(false);
    }
    // SAFETY: liborc's functions of those names, whose C signatures
    // (`OrcCompileResult orc_program_compile (OrcProgram *)`, `void
    // orc_program_free (OrcProgram *)`) the types spell out.
    let originals = unsafe {
        Originals {
            compile: std::mem::transmute::<*mut c_void, Compile>(compile),
            free: std::mem::transmute::<*mut c_void, Free>(free),
        }
    };
    if ORIGINALS.set(originals).is_err() {
        return Ok(true);
    }
    for (name, wrapper) in [
        (
            "orc_program_compile",
            guarded_compile as Compile as *const c_void,
        ),
        ("orc_program_free", guarded_free as Free as *const c_void),
    ] {
        // SAFETY: the wrappers have the signatures of the functions they
        // stand for; no other thread calls into libvips yet (install runs
        // inside init's once). The replacement stays for the process.
        let mut replaced =
            unsafe { object.replace(name, wrapper) }.map_err(|e| format!("{name}: {e}"))?;
        replaced.discard();
    }
    Ok(true)
}
