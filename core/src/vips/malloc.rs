//! glibc's allocator under libvips in a long-running server.
//!
//! libvips allocates its tiles and buffers with `malloc` from many worker
//! threads, and glibc gives each thread that contends an arena of its own
//! (up to eight per core), keeping what is freed in each for reuse. Over a
//! day of mixed images a server's resident memory then grows far past
//! what its calls hold: a 2-core server replaying 1 500 fuzzed URLs ended
//! at 515 MB (3.1 GB idle after a concurrent flood), 285 MB with two
//! arenas, 176 MB once trimmed. imagor's Docker image sets
//! `MALLOC_ARENA_MAX=2` and preloads jemalloc for the same reason.

/// Limit glibc to one arena per core (at least two) unless the operator
/// chose with `MALLOC_ARENA_MAX`. Call before the worker threads start.
#[cfg(feature = "server")]
pub(crate) fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = cores.clamp(2, 64) as libc::c_int;
        // SAFETY: mallopt only sets a tuning parameter; arenas made
        // before keep working.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    }
}

/// Give the memory freed in every arena back to the system (glibc's
/// `malloc_trim`): for a server gone idle, and after a call that charged
/// much memory.
pub(crate) fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim walks glibc's own arenas under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
