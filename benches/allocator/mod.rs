//! The bench process's allocator, chosen by `REAGENTIC_BENCH_ALLOCATOR`:
//! the system's `malloc` (glibc here; the default, what a Rust application
//! gets unless it picks one) or `mimalloc`.
//!
//! The pipeline allocates span data on the application's thread and frees it
//! on the extraction thread, and the entries the other way round; glibc's
//! `malloc` pays for memory freed on another thread with arena locks and bin
//! sweeps, about half of the extraction thread's time in `perf`. Running the
//! same scenarios under an allocator built for that shows how much of each
//! figure is the allocator's.
//!
//! The choice is made once, at the process's first allocation (before
//! `main`, on its only thread), and holds for its whole life: every block is
//! freed by the allocator that made it. The bench's child processes inherit
//! the variable.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::CStr;
use std::sync::atomic::{AtomicU8, Ordering};

const UNDECIDED: u8 = 0;
const SYSTEM: u8 = 1;
const MIMALLOC: u8 = 2;

/// The variable that picks the allocator.
pub const VARIABLE: &CStr = c"REAGENTIC_BENCH_ALLOCATOR";

static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// Dispatches every call to the allocator chosen at the first one.
pub struct BenchAllocator;

fn choice() -> u8 {
    match CHOICE.load(Ordering::Relaxed) {
        UNDECIDED => {
            // SAFETY: `getenv` reads the environment without allocating; the
            // name is a NUL-terminated literal. Nothing writes the environment
            // before the first allocation.
            let value = unsafe { libc::getenv(VARIABLE.as_ptr()) };
            // SAFETY: a non-null result of `getenv` is a NUL-terminated string.
            let mimalloc =
                !value.is_null() && unsafe { CStr::from_ptr(value) }.to_bytes() == b"mimalloc";
            let chosen = if mimalloc { MIMALLOC } else { SYSTEM };
            CHOICE.store(chosen, Ordering::Relaxed);
            chosen
        }
        chosen => chosen,
    }
}

/// The allocator this process uses, by name.
pub fn name() -> &'static str {
    if choice() == MIMALLOC {
        "mimalloc"
    } else {
        "system"
    }
}

// SAFETY: each call goes to one allocator, the same for the process's whole
// life (see `choice`), which upholds `GlobalAlloc`'s contract itself.
unsafe impl GlobalAlloc for BenchAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if choice() == MIMALLOC {
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if choice() == MIMALLOC {
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if choice() == MIMALLOC {
            unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if choice() == MIMALLOC {
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
        } else {
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}
