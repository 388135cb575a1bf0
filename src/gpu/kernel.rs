//! Building blocks shared by the kernel modules: pipeline creation (with `shaders/common.wgsl` prepended and
//! the raster conventions as override constants), bind groups from buffer lists, and large 1-D dispatches.

use super::context::{GpuContext, dispatch_dims};
use crate::config::RasterConfig;

/// The structs and conventions every kernel shares.
pub const COMMON_WGSL: &str = include_str!("../../shaders/common.wgsl");
/// Tile staging and per-pixel surfel evaluation, shared by the forward and backward rasterizers.
pub const SPLAT_BATCH_WGSL: &str = include_str!("../../shaders/splat_batch.wgsl");

/// A compute pipeline for `entry` of a kernel source, with an automatic bind-group layout.
pub fn pipeline(
    ctx: &GpuContext,
    label: &str,
    source: &str,
    entry: &str,
    config: &RasterConfig,
) -> wgpu::ComputePipeline {
    let module = ctx.device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(format!("{COMMON_WGSL}\n{source}").into()),
    });
    let constants = config.wgsl_constants();
    ctx.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants: &constants,
            // Every kernel initialises the workgroup memory it reads.
            zero_initialize_workgroup_memory: false,
        },
        cache: None,
    })
}

/// A bind group for group 0 of `pipeline` with the given (binding, buffer) pairs.
pub fn bind(ctx: &GpuContext, pipeline: &wgpu::ComputePipeline, entries: &[(u32, &wgpu::Buffer)]) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = entries
        .iter()
        .map(|(binding, buffer)| wgpu::BindGroupEntry { binding: *binding, resource: buffer.as_entire_binding() })
        .collect();
    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// Dispatches enough 256-wide workgroups to cover `items` threads.
pub fn dispatch_items(
    pass: &mut wgpu::ComputePass,
    pipeline: &wgpu::ComputePipeline,
    group: &wgpu::BindGroup,
    items: u32,
) {
    let (x, y) = dispatch_dims(items.div_ceil(256));
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, group, &[]);
    pass.dispatch_workgroups(x, y, 1);
}
