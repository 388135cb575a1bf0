//! Per-pass GPU timings from timestamp queries, where the device offers them (benchmarks only).
//!
//! How it works: each compute pass that asks gets a begin and an end timestamp slot in one query set;
//! after the last pass the slots are resolved into a buffer and read back as milliseconds per named pass.

use super::context::{GpuContext, GpuError};

/// Names and timestamp slots of the passes of one piece of GPU work.
pub struct StageTimer {
    query_set: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    names: Vec<&'static str>,
    capacity: u32,
    period_ns: f64,
}

impl StageTimer {
    /// A timer for up to `max_passes` passes; `None` when the device has no timestamp queries.
    pub fn new(ctx: &GpuContext, max_passes: u32) -> Result<Option<Self>, GpuError> {
        if !ctx.caps.timestamps {
            return Ok(None);
        }
        let count = 2 * max_passes;
        Ok(Some(Self {
            query_set: ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("stage timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count,
            }),
            resolved: ctx.storage_buffer("resolved timestamps", count as u64 * 8, wgpu::BufferUsages::QUERY_RESOLVE)?,
            names: Vec::new(),
            capacity: max_passes,
            period_ns: ctx.queue.get_timestamp_period() as f64,
        }))
    }

    /// Forgets the previous run's passes.
    pub fn reset(&mut self) {
        self.names.clear();
    }

    /// Timestamp slots for the next pass, named `name` (none once the capacity is used up).
    pub fn pass(&mut self, name: &'static str) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        let index = self.names.len() as u32;
        if index >= self.capacity {
            return None;
        }
        self.names.push(name);
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &self.query_set,
            beginning_of_pass_write_index: Some(2 * index),
            end_of_pass_write_index: Some(2 * index + 1),
        })
    }

    /// Records the copy of every timestamp written so far; call after the last timed pass.
    pub fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        if !self.names.is_empty() {
            encoder.resolve_query_set(&self.query_set, 0..2 * self.names.len() as u32, &self.resolved, 0);
        }
    }

    /// Milliseconds per named pass, in pass order (after the resolving work has been submitted).
    pub fn read_ms(&self, ctx: &GpuContext) -> Result<Vec<(&'static str, f64)>, GpuError> {
        let ticks: Vec<u64> = ctx.read_buffer(&self.resolved, 2 * self.names.len())?;
        Ok(self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * self.period_ns * 1e-6))
            .collect())
    }
}
