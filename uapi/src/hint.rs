//! Hints to the CPU that change speed, never results.

/// Asks the CPU to start loading the cache line at the start of `bytes`, so a read of
/// it a little later does not wait for memory. No effect where there is no such
/// instruction.
#[inline(always)]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint that never faults; the address is the start of
        // a live slice besides. SSE, which the instruction needs, is part of every
        // x86_64 target.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}
