//! A counting global allocator: counts allocations and tracks live and
//! peak heap bytes, so benchmarks can report heap growth and tests can prove
//! a steady state allocates nothing.
//!
//! Install it in a binary or test crate:
//! `#[global_allocator] static A: optix_bench::alloc::CountingAlloc = optix_bench::alloc::CountingAlloc;`
//! The counters are process-wide relaxed atomics (one uncontended
//! `fetch_add` per allocation); read them with [`snapshot`].
#![allow(unsafe_code, reason = "implementing GlobalAlloc is unsafe by definition")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The allocator: forwards to the system allocator and counts.
pub struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[inline]
fn grew(size: usize) {
    // Relaxed: plain statistics; no other memory is published through them.
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    // Relaxed: a monotone maximum of the statistic above.
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Relaxed: statistics counter.
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // Relaxed: statistics counter.
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Relaxed: statistics counter.
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by this allocator (hence `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Relaxed: statistics counter.
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // Relaxed: statistics counter.
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        grew(new_size);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract for `ptr` and `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Counter values at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Allocations (and reallocations) so far.
    pub allocs: u64,
    /// Heap bytes live now.
    pub live_bytes: usize,
    /// Highest `live_bytes` since the last [`reset_peak`].
    pub peak_bytes: usize,
}

/// Reads the counters (all zero unless [`CountingAlloc`] is the global allocator).
pub fn snapshot() -> AllocStats {
    AllocStats {
        // Relaxed: statistics; callers read them between phases on one thread.
        allocs: ALLOCS.load(Ordering::Relaxed),
        // Relaxed: as above.
        live_bytes: LIVE.load(Ordering::Relaxed),
        // Relaxed: as above.
        peak_bytes: PEAK.load(Ordering::Relaxed),
    }
}

/// Sets the peak to the current live bytes.
pub fn reset_peak() {
    // Relaxed: statistics, as above.
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// Whether the counting allocator is installed (it has counted something).
pub fn installed() -> bool {
    let before = snapshot().allocs;
    let v = std::hint::black_box(vec![0u8; 16]);
    drop(v);
    snapshot().allocs > before
}
