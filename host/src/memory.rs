//! The host process's memory for CPU tensors: libtorch's allocator, with freed blocks of
//! 1 MiB or more kept for reuse up to a budget (`host/csrc/allocator.cpp`).

use crate::hardware;

extern "C" {
    fn trh_cache_cpu_blocks(budget: usize);
    fn trh_empty_cpu_cache();
    fn trh_cpu_cache_bytes() -> usize;
}

/// Makes libtorch keep up to `budget` bytes of freed CPU blocks for reuse (0: none). The
/// host binary calls it once, before it allocates any tensor.
pub fn cache_cpu_blocks(budget: u64) {
    // SAFETY: plain values; the allocator lives for the process.
    unsafe { trh_cache_cpu_blocks(usize::try_from(budget).unwrap_or(usize::MAX)) }
}

/// Frees the kept blocks, as `torch.cuda.empty_cache` frees CUDA's.
pub fn empty_cpu_cache() {
    // SAFETY: no arguments; the cache locks itself.
    unsafe { trh_empty_cpu_cache() }
}

/// Bytes of freed CPU blocks kept now.
pub fn cpu_cache_bytes() -> u64 {
    // SAFETY: as above.
    unsafe { trh_cpu_cache_bytes() as u64 }
}

/// The budget when none is given: an eighth of the machine's RAM.
pub fn default_cpu_cache_budget() -> u64 {
    hardware::total_ram() / 8
}
