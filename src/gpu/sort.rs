//! Stable GPU radix sort of `u32` keys carrying `u32` values: the depth sort of the surfels and the tile
//! sort of their (tile, surfel) pairs.
//!
//! How it works: least-significant digit first, 4 bits a pass, over the lowest `key_bits` bits. Each pass
//! counts digits per 256-key block, scans the digit-major counts with [`Scan`], and scatters every key to its
//! slot, ranked among equal digits of its block so the order of equal keys is kept. Keys ping-pong between two
//! sets of buffers; [`Sorted::result`] says which holds the answer.

use super::context::{GpuContext, GpuError};
use super::gpu_data::SortParams;
use super::kernel::{bind, dispatch_items, pipeline};
use super::scan::Scan;
use crate::config::RasterConfig;

const SOURCE: &str = include_str!("../../shaders/sort.wgsl");
/// Bits sorted per pass (as `RADIX` in the shader).
const DIGIT_BITS: u32 = 4;
const RADIX: u32 = 1 << DIGIT_BITS;

/// Two sets of (key, value) buffers of one capacity; the input goes in set 0.
pub struct KeyBuffers {
    pub keys: [wgpu::Buffer; 2],
    pub values: [wgpu::Buffer; 2],
    pub capacity: u32,
}

impl KeyBuffers {
    /// Buffers for `capacity` keys (at least one).
    pub fn new(ctx: &GpuContext, label: &str, capacity: u32) -> Result<Self, GpuError> {
        let capacity = capacity.max(1);
        let make = |what: &str| {
            ctx.storage_buffer(&format!("{label} {what}"), capacity as u64 * 4, wgpu::BufferUsages::empty())
        };
        Ok(Self { keys: [make("keys a")?, make("keys b")?], values: [make("values a")?, make("values b")?], capacity })
    }
}

/// A recorded sort: which buffer set holds the result once it runs.
pub struct Sorted {
    pub result: usize,
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

    /// Records a sort of the first `num_keys` keys of set 0 of `keys` by their lowest `key_bits` bits
    /// (higher bits are ignored).
    pub fn encode(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        keys: &KeyBuffers,
        num_keys: u32,
        key_bits: u32,
        timestamp_writes: Option<wgpu::ComputePassTimestampWrites>,
    ) -> Result<Sorted, GpuError> {
        let _span = tracing::trace_span!("radix_sort", num_keys, key_bits).entered();
        let shifts: Vec<u32> = (0..key_bits.div_ceil(DIGIT_BITS)).map(|d| d * DIGIT_BITS).collect();
        if num_keys <= 1 || shifts.is_empty() {
            return Ok(Sorted { result: 0 });
        }
        let num_blocks = num_keys.div_ceil(256);
        let offsets = ctx.storage_buffer(
            "radix digit offsets",
            RADIX as u64 * num_blocks as u64 * 4,
            wgpu::BufferUsages::empty(),
        )?;
        let scan_plan = self.scan.plan(ctx, &offsets, RADIX * num_blocks)?;
        let mut pass =
            encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("radix sort"), timestamp_writes });
        for (p, &shift) in shifts.iter().enumerate() {
            let (src, dst) = (p % 2, 1 - p % 2);
            let params = ctx.uniform_buffer("sort params", &SortParams { num_keys, shift, num_blocks, _pad: 0 });
            let hist_group = bind(ctx, &self.histogram, &[(0, &params), (1, &keys.keys[src]), (5, &offsets)]);
            let scatter_group = bind(
                ctx,
                &self.scatter,
                &[
                    (0, &params),
                    (1, &keys.keys[src]),
                    (2, &keys.values[src]),
                    (3, &keys.keys[dst]),
                    (4, &keys.values[dst]),
                    (5, &offsets),
                ],
            );
            dispatch_items(&mut pass, &self.histogram, &hist_group, num_keys);
            self.scan.encode(&mut pass, &scan_plan);
            dispatch_items(&mut pass, &self.scatter, &scatter_group, num_keys);
        }
        Ok(Sorted { result: shifts.len() % 2 })
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
