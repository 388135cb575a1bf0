//! Splat views for the GUI: our rasterizer renders on the GPU device the GUI shares, and
//! `shaders/to_texture.wgsl` turns the render into an RGBA8 texture that egui samples directly, with no
//! image copied through the CPU.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};
use eframe::{egui, egui_wgpu};

use crate::config::RasterConfig;
use crate::frame::{Intrinsics, Pose, RgbdFrame};
use crate::gpu::gpu_data::{MirrorLayout, mirror_layout};
use crate::gpu::kernel::pipeline;
use crate::gpu::{GpuContext, GpuSplats, RenderError, SplatRenderer};

/// What a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewMode {
    Color = 0,
    Depth = 1,
    /// Depth error against the observed frame (colour error where it has no depth).
    Residual = 2,
}

/// Mirror of `ViewParams` in `shaders/to_texture.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ViewParams {
    mode: u32,
    width: u32,
    height: u32,
    has_observed: u32,
    depth_near: f32,
    depth_far: f32,
    residual_full_scale_m: f32,
    _pad: f32,
}

/// The layout of [`ViewParams`], for the test that checks it against the shader.
pub fn view_params_layout() -> MirrorLayout {
    mirror_layout!(ViewParams { mode, width, height, has_observed, depth_near, depth_far, residual_full_scale_m, _pad })
}

/// Depth errors this large (metres) show at the top of the residual colour map.
const RESIDUAL_FULL_SCALE_M: f32 = 0.02;

/// One GPU texture showing a render, registered with egui.
pub struct SplatTexture {
    ctx: Arc<GpuContext>,
    pipeline: wgpu::ComputePipeline,
    texture_view: wgpu::TextureView,
    params: wgpu::Buffer,
    observed: wgpu::Buffer,
    pub id: egui::TextureId,
    pub size: [u32; 2],
}

impl SplatTexture {
    /// A `width`×`height` texture registered with the GUI's renderer.
    pub fn new(ctx: Arc<GpuContext>, egui_renderer: &mut egui_wgpu::Renderer, width: u32, height: u32) -> Self {
        let texture = ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("splat view"),
            size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        });
        let texture_view = texture.create_view(&Default::default());
        let id = egui_renderer.register_native_texture(&ctx.device, &texture_view, wgpu::FilterMode::Linear);
        let pipeline = pipeline(
            &ctx,
            "to texture",
            include_str!("../../shaders/to_texture.wgsl"),
            "main",
            &RasterConfig::default(),
        );
        let params = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("view params"),
            size: size_of::<ViewParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let observed = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("observed frame"),
            size: (width * height * 16) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self { ctx, pipeline, texture_view, params, observed, id, size: [width, height] }
    }

    /// Renders `splats` at `pose` through `k` (which must match the texture size) into the texture (called on
    /// the GUI's view thread: the render reads back its tile-pair count).
    /// `observed` (same size) is what the residual mode compares against; depth maps `near..far` metres.
    #[allow(clippy::too_many_arguments)]
    pub fn draw(
        &self,
        renderer: &mut SplatRenderer,
        splats: &GpuSplats,
        k: &Intrinsics,
        pose: &Pose,
        mode: ViewMode,
        observed: Option<&RgbdFrame>,
        depth_range: (f32, f32),
    ) -> Result<(), RenderError> {
        assert_eq!([k.width, k.height], self.size, "camera and texture sizes differ");
        renderer.render(splats, k, pose)?;
        if let Some(frame) = observed.filter(|f| f.rgb.dimensions() == (k.width, k.height)) {
            let packed: Vec<[f32; 4]> = frame
                .rgb
                .pixels()
                .zip(frame.depth_m.pixels())
                .map(|(c, d)| [c[0] as f32 / 255.0, c[1] as f32 / 255.0, c[2] as f32 / 255.0, d[0]])
                .collect();
            self.ctx.queue.write_buffer(&self.observed, 0, bytemuck::cast_slice(&packed));
        }
        let params = ViewParams {
            mode: mode as u32,
            width: k.width,
            height: k.height,
            has_observed: observed.is_some() as u32,
            depth_near: depth_range.0,
            depth_far: depth_range.1,
            residual_full_scale_m: RESIDUAL_FULL_SCALE_M,
            _pad: 0.0,
        };
        self.ctx.queue.write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let forward = renderer.forward_state().expect("just rendered");
        let group = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("to texture"),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: self.params.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: forward.out_f32.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: self.observed.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: wgpu::BindingResource::TextureView(&self.texture_view) },
            ],
        });
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(k.width.div_ceil(16), k.height.div_ceil(16), 1);
        }
        self.ctx.queue.submit([encoder.finish()]);
        Ok(())
    }
}
