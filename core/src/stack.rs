//! How much of the calling thread's stack is left, for the two places where
//! a call can nest without a fixed bound on the stack it takes: an
//! `image()` overlay runs a whole pipeline one level deeper on the same
//! thread, and a binding's callback (a Python loader or detector) may call
//! back into imagor on the thread of the call that asked it.
//!
//! Each is bounded by a count (`max_overlay_depth` up to
//! [`crate::MAX_OVERLAY_DEPTH`]; 32 nested Python calls), but the counts
//! multiply and the stack they need depends on the build and on the
//! thread: measured in a debug build, a level of overlay takes about
//! 8.5 KB and a nested Python call about 30 KB besides its overlays, so 32
//! Python calls each nesting 32 overlays needed 9.5 MB, and ended the
//! interpreter with SIGSEGV on its 8 MB main thread. The thread is the
//! host's (Python's main thread, a `threading` thread of any
//! `threading.stack_size()`, an executor's), so no count fits all of
//! them. Instead a step that nests starts only with [`RESERVE`] of the
//! thread's stack still free, and fails with a typed error otherwise.

use crate::error::{Error, Result};

/// The stack a nesting step must find free before it starts: enough for
/// one more overlay level (about 10 KB measured) and, at the deepest
/// point, the leaf work (decoding, encoding, a callback into the host
/// language: about 80 KB measured for a small PNG) with a wide margin.
/// Small enough that a 1 MB thread still runs a call with 32 overlays.
pub const RESERVE: usize = 256 << 10;

/// Bytes of the calling thread's stack still free, or `None` where the
/// platform does not tell, or where the call runs on a stack other than
/// the thread's own (a coroutine's or a signal stack's: then nothing is
/// refused on this ground).
pub fn remaining() -> Option<usize> {
    let marker = 0u8;
    let here = std::ptr::addr_of!(marker) as usize;
    let (low, high) = BOUNDS.with(|bounds| match bounds.get() {
        Some(b) => Some(b),
        None => {
            let b = stack_bounds()?;
            bounds.set(Some(b));
            Some(b)
        }
    })?;
    (low..high).contains(&here).then(|| here - low)
}

/// `Ok` when at least [`RESERVE`] of the stack is free; otherwise the
/// error for `what` (the step that would nest), which names
/// `max_overlay_depth`, the option that bounds the nesting.
pub(crate) fn check_room(what: &str) -> Result<()> {
    match remaining() {
        Some(left) if left < RESERVE => Err(Error::limit(
            "max_overlay_depth",
            format!(
                "{what}: not enough stack left on this thread to nest deeper ({} KB left, {} KB \
                 needed); lower max_overlay_depth or nest fewer calls",
                left >> 10,
                RESERVE >> 10
            ),
        )),
        _ => Ok(()),
    }
}

thread_local! {
    /// The lowest usable and the end address of this thread's stack, once
    /// known.
    static BOUNDS: std::cell::Cell<Option<(usize, usize)>> = const { std::cell::Cell::new(None) };
}

/// The lowest usable and the end address of the calling thread's stack.
/// Not for musl's main thread, whose reported size is only what is mapped
/// so far (it grows on demand up to `RLIMIT_STACK`): unknown there.
#[cfg(target_os = "linux")]
fn stack_bounds() -> Option<(usize, usize)> {
    // SAFETY: getpid and gettid only read the calling thread's ids.
    if cfg!(target_env = "musl") && unsafe { libc::getpid() == libc::gettid() } {
        return None;
    }
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read
    // and destroyed once; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let got = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        let low = addr as usize;
        (got == 0 && !addr.is_null()).then_some((low, low.checked_add(size)?))
    }
}

/// The lowest usable and the end address of the calling thread's stack.
#[cfg(target_os = "macos")]
fn stack_bounds() -> Option<(usize, usize)> {
    // SAFETY: both take the calling thread's handle and only read it.
    unsafe {
        let thread = libc::pthread_self();
        let top = libc::pthread_get_stackaddr_np(thread) as usize;
        let size = libc::pthread_get_stacksize_np(thread);
        Some((top.checked_sub(size)?, top))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn stack_bounds() -> Option<(usize, usize)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_the_stack_of_the_thread_it_runs_on() {
        #[inline(never)]
        fn deeper() -> usize {
            let pad = std::hint::black_box([1u8; 64 << 10]);
            remaining().expect("known on this platform") + usize::from(pad[7] == 0)
        }
        let (left, then) = std::thread::Builder::new()
            .stack_size(4 << 20)
            .spawn(|| (remaining().expect("known on this platform"), deeper()))
            .expect("a thread")
            .join()
            .expect("no panic");
        // At least what was asked for (glibc may reuse a larger cached
        // stack), and it shrinks as the stack is used.
        assert!(left > (3 << 20), "{left}");
        assert!(then + (64 << 10) <= left, "{then} vs {left}");
    }

    #[test]
    fn refuses_to_nest_with_less_than_the_reserve_left() {
        fn eat(depth: usize) -> Result<usize> {
            let pad = std::hint::black_box([0u8; 4096]);
            check_room("test")?;
            Ok(eat(depth + 1)? + usize::from(pad[depth % 4096]))
        }
        let err = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| eat(0).unwrap_err())
            .expect("a thread")
            .join()
            .expect("no stack overflow");
        assert_eq!(err.status(), 422);
        assert!(err.to_string().contains("not enough stack left"), "{err}");
    }
}
