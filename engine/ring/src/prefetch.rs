//! A safe cache prefetch hint for the matcher's hot path.
//!
//! `prefetch(&x)` asks the CPU to start loading the cache line holding `x`
//! so that a later access finds it in cache. The engine issues it for the
//! id-map bucket an order will be inserted into, at the start of the
//! command, so the miss overlaps the matching work instead of stalling the
//! insert (measured with `optix bench engine --workload liquibook`). On
//! targets without a prefetch instruction it does nothing.

/// Hints that the cache line holding `value` will be read soon.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: `_mm_prefetch` is a hint: it never faults and has no
        // effect on memory, and SSE is part of the x86_64 baseline. The
        // pointer comes from a live reference anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = value;
    }
}

/// [`prefetch`] of every cache line `value` spans (for a struct larger
/// than one line).
#[inline(always)]
pub fn prefetch_lines<T>(value: &T) {
    let base = (value as *const T).cast::<i8>();
    let mut off = 0;
    while off < core::mem::size_of::<T>() {
        #[cfg(target_arch = "x86_64")]
        {
            use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: as in `prefetch`: a hint that never faults; the
            // address lies inside `value` (off < its size), so
            // `wrapping_add` stays in the same object.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(off)) };
        }
        off += 64;
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = base;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefetch_is_harmless() {
        let v = vec![1u64; 1024];
        for x in &v {
            super::prefetch(x);
        }
        assert_eq!(v.iter().sum::<u64>(), 1024);
    }
}
