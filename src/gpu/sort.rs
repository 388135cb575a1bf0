//! Stable GPU radix sort of 64-bit keys (two `u32` words) carrying a `u32` value: the (tile, depth) sort.
//!
//! How it works: least-significant digit first, 8 bits a pass, over the low word and then as many bytes of
//! the high word as `hi_bits` needs. Each pass counts digits per 256-key block, scans the digit-major counts
//! with [`Scan`], and scatters every key to its slot, ranked among equal digits of its block so the order of
//! equal keys is kept. Keys ping-pong between two sets of buffers; [`SortedKeys::result`] says which holds
//! the answer.

use super::context::{GpuContext, GpuError};
use super::gpu_data::SortParams;
use super::kernel::{bind, dispatch_items, pipeline};
use super::scan::Scan;
use crate::config::RasterConfig;

const SOURCE: &str = include_str!("../../shaders/sort.wgsl");

/// Two sets of (key_hi, key_lo, value) buffers of one capacity.
pub struct KeyBuffers {
    pub hi: [wgpu::Buffer; 2],
    pub lo: [wgpu::Buffer; 2],
    pub values: [wgpu::Buffer; 2],
    pub capacity: u32,
}

impl KeyBuffers {
    /// Buffers for `capacity` keys (at least one).
    pub fn new(ctx: &GpuContext, capacity: u32) -> Result<Self, GpuError> {
        let capacity = capacity.max(1);
        let make = |label: &str| ctx.storage_buffer(label, capacity as u64 * 4, wgpu::BufferUsages::empty());
        Ok(Self {
            hi: [make("keys_hi a")?, make("keys_hi b")?],
            lo: [make("keys_lo a")?, make("keys_lo b")?],
            values: [make("values a")?, make("values b")?],
            capacity,
        })
    }
}

/// A recorded sort of `num_keys` keys: which buffer set holds the result once it runs.
pub struct SortedKeys {
    pub result: usize,
    pub num_keys: u32,
}

/// The radix-sort pipelines.
pub struct RadixSort {
    histogram: wgpu::ComputePipeline,
    scatter: wgpu::ComputePipeline,
    scan: Scan,
}

impl RadixSort {
    /// Compiles the sort kernels.
    pub fn new(ctx: &GpuContext) -> Self {
        let config = RasterConfig::default();
        Self {
            histogram: pipeline(ctx, "radix histogram", SOURCE, "histogram", &config),
            scatter: pipeline(ctx, "radix scatter", SOURCE, "scatter", &config),
            scan: Scan::new(ctx),
        }
    }

    /// Records a sort of the first `num_keys` keys of set 0 of `keys`, by the low word and the lowest
    /// `hi_bits` bits of the high word (higher bits must be zero).
    pub fn encode(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        keys: &KeyBuffers,
        num_keys: u32,
        hi_bits: u32,
    ) -> Result<SortedKeys, GpuError> {
        let _span = tracing::trace_span!("radix_sort", num_keys, hi_bits).entered();
        if num_keys <= 1 {
            return Ok(SortedKeys { result: 0, num_keys });
        }
        let num_blocks = num_keys.div_ceil(256);
        let offsets = ctx.storage_buffer("radix digit offsets", 256 * num_blocks as u64 * 4, wgpu::BufferUsages::empty())?;
        let scan_plan = self.scan.plan(ctx, &offsets, 256 * num_blocks)?;
        let passes: Vec<(u32, u32)> = (0..4).map(|b| (0, 8 * b)).chain((0..hi_bits.div_ceil(8)).map(|b| (1, 8 * b))).collect();
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("radix sort"), timestamp_writes: None });
        for (p, &(word, shift)) in passes.iter().enumerate() {
            let (src, dst) = (p % 2, 1 - p % 2);
            let params = ctx.uniform_buffer("sort params", &SortParams { num_keys, shift, num_blocks, word });
            let hist_group =
                bind(ctx, &self.histogram, &[(0, &params), (1, &keys.hi[src]), (2, &keys.lo[src]), (7, &offsets)]);
            let scatter_group = bind(
                ctx,
                &self.scatter,
                &[
                    (0, &params),
                    (1, &keys.hi[src]),
                    (2, &keys.lo[src]),
                    (3, &keys.values[src]),
                    (4, &keys.hi[dst]),
                    (5, &keys.lo[dst]),
                    (6, &keys.values[dst]),
                    (7, &offsets),
                ],
            );
            dispatch_items(&mut pass, &self.histogram, &hist_group, num_keys);
            self.scan.encode(&mut pass, &scan_plan);
            dispatch_items(&mut pass, &self.scatter, &scatter_group, num_keys);
        }
        Ok(SortedKeys { result: passes.len() % 2, num_keys })
    }
}

/// Bits needed to hold every value below `n` (0 for n ≤ 1).
pub fn bits_for(n: u32) -> u32 {
    if n <= 1 { 0 } else { 32 - (n - 1).leading_zeros() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bits_for_counts_the_bits_of_the_largest_value() {
        assert_eq!([0, 1, 2, 3, 256, 257, 1200].map(super::bits_for), [0, 0, 1, 2, 8, 9, 11]);
    }
}
