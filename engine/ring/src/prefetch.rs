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

/// Number of 64-byte cache lines that `size` bytes (`size > 0`) starting
/// `lead` bytes into a line span.
#[inline(always)]
const fn lines_spanned(lead: usize, size: usize) -> usize {
    (lead + size).div_ceil(64)
}

/// [`prefetch`] of every cache line `value` spans (for a struct larger
/// than one line). A value that does not start on a line boundary can span
/// one line more than its size in lines, and that last line holds its last
/// fields.
#[inline(always)]
pub fn prefetch_lines<T>(value: &T) {
    let size = core::mem::size_of::<T>();
    if size == 0 {
        return;
    }
    let base = (value as *const T).cast::<i8>();
    let lead = (base as usize) % 64;
    // The start of the line holding the first byte (`wrapping_sub`: the
    // pointer is only a hint, never read through).
    let start = base.wrapping_sub(lead);
    // The lines any placement spans (a constant count: the loop unrolls),
    // then the one more a misaligned value may reach.
    let always = size.div_ceil(64);
    for k in 0..always {
        prefetch_line(start.wrapping_add(64 * k));
    }
    if lines_spanned(lead, size) > always {
        prefetch_line(start.wrapping_add(64 * always));
    }
}

/// [`prefetch`] of the cache line starting at `line`, a line holding a
/// byte of a live value.
#[inline(always)]
fn prefetch_line(line: *const i8) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: as in `prefetch`: a hint that never faults and has no
        // effect on memory; the caller passes the start of a cache line
        // holding a byte of a live value.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = line;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefetch_lines_counts_every_line_a_value_spans() {
        for size in 1..300usize {
            for lead in 0..64usize {
                let mut lines: Vec<usize> = (lead..lead + size).map(|b| b / 64).collect();
                lines.dedup();
                assert_eq!(super::lines_spanned(lead, size), lines.len(), "size {size} lead {lead}");
            }
        }
        let v = [7u8; 300];
        super::prefetch_lines(&v);
        super::prefetch_lines(&());
        assert_eq!(v[299], 7);
    }

    #[test]
    fn prefetch_is_harmless() {
        let v = vec![1u64; 1024];
        for x in &v {
            super::prefetch(x);
        }
        assert_eq!(v.iter().sum::<u64>(), 1024);
    }
}
