//! Exclusive prefix sum of a `u32` buffer on the GPU, in place.
//!
//! How it works: `scan_blocks` scans blocks of 256 in workgroup memory and writes each block's total; the
//! totals are scanned by the next level the same way until one block remains; `add_block_offsets` then adds
//! each level's scanned totals back down. A [`ScanPlan`] holds the per-level buffers and bind groups for one
//! buffer and length.

use super::context::{GpuContext, GpuError};
use super::gpu_data::ScanParams;
use super::kernel::{bind, dispatch_items, pipeline};
use crate::config::RasterConfig;

const SOURCE: &str = include_str!("../../shaders/scan.wgsl");

/// The two scan pipelines.
pub struct Scan {
    blocks: wgpu::ComputePipeline,
    add: wgpu::ComputePipeline,
}

struct ScanLevel {
    len: u32,
    scan_group: wgpu::BindGroup,
    add_group: wgpu::BindGroup,
}

/// Everything needed to scan one buffer of one length; build once per (buffer, length).
pub struct ScanPlan {
    levels: Vec<ScanLevel>,
}

impl Scan {
    /// Compiles the scan kernels.
    pub fn new(ctx: &GpuContext) -> Self {
        let config = RasterConfig::default();
        Self {
            blocks: pipeline(ctx, "scan_blocks", SOURCE, "scan_blocks", &config),
            add: pipeline(ctx, "add_block_offsets", SOURCE, "add_block_offsets", &config),
        }
    }

    /// Plans an in-place exclusive scan of the first `len` elements of `data`.
    pub fn plan(&self, ctx: &GpuContext, data: &wgpu::Buffer, len: u32) -> Result<ScanPlan, GpuError> {
        let mut levels = Vec::new();
        let mut data = data.clone();
        let mut len = len.max(1);
        loop {
            let blocks = len.div_ceil(256);
            let sums = ctx.storage_buffer("scan block sums", blocks as u64 * 4, wgpu::BufferUsages::empty())?;
            let params = ctx.uniform_buffer("scan params", &ScanParams { len, _pad0: 0, _pad1: 0, _pad2: 0 });
            let entries = [(0, &params), (1, &data), (2, &sums)];
            levels.push(ScanLevel {
                len,
                scan_group: bind(ctx, &self.blocks, &entries),
                add_group: bind(ctx, &self.add, &entries),
            });
            if blocks == 1 {
                return Ok(ScanPlan { levels });
            }
            data = sums;
            len = blocks;
        }
    }

    /// Records the scan into `pass`.
    pub fn encode(&self, pass: &mut wgpu::ComputePass, plan: &ScanPlan) {
        let _span = tracing::trace_span!("scan", len = plan.levels[0].len).entered();
        for level in &plan.levels {
            dispatch_items(pass, &self.blocks, &level.scan_group, level.len);
        }
        for level in plan.levels.iter().rev().skip(1) {
            dispatch_items(pass, &self.add, &level.add_group, level.len);
        }
    }
}
