//! Fitting surfels and object poses to RGB-D views by gradient descent, entirely on the GPU: the loop the
//! tracker calls to refine a frame's pose (surfels frozen), grow the model (poses frozen), or both.
//!
//! How it works, per iteration and view: the view's render parameters (pose included) are copied into the
//! renderer's uniform block, the view is rendered with reserved key capacity (no read-back),
//! `loss.wgsl` compares it with the observation and writes the upstream gradient, and the backward pass
//! accumulates surfel gradients and the view's pose gradient. Then `adam.wgsl` steps each free surfel group
//! and `pose_step.wgsl` each free pose, writing the new pose straight into the view's render parameters.
//! One submission per iteration; the loss (and the key count) is read back every
//! `OptimConfig::loss_readback_interval` iterations only.

use std::sync::Arc;

use bytemuck::Zeroable;
use nalgebra::{Matrix3, Rotation3, Translation3, UnitQuaternion, Vector3};

use super::backward::{Backward, GradOptions, PARAM_GRADS_PER_SURFEL, SplatGradBuffers};
use super::context::GpuContext;
use super::gpu_data::{AdamParams, LossParams, PoseStepParams, RenderParams};
use super::kernel::{bind, dispatch_items, pipeline};
use super::renderer::{GpuSplats, RenderError, SplatRenderer, render_params};
use crate::config::{LossConfig, OptimConfig, RasterConfig, TILE_SIZE};
use crate::frame::{DepthImage, Intrinsics, Mask, Pose};
use crate::reference::loss::{LossTerms, TARGET_CHANNELS};
use crate::rendered::{CH_ALPHA, CH_DEPTH_EXPECTED, CH_RGB, F32_CHANNELS, RenderedView, U32_CHANNELS};
use crate::splats::{Splats, sh_coeffs};

/// Most views one fit can hold (the pose step keeps a bit per view).
pub const MAX_VIEWS: usize = 32;

/// One observation to fit: what the camera saw and the object's pose in it (the starting guess where
/// poses are free).
#[derive(Debug, Clone)]
pub struct FitView {
    pub intrinsics: Intrinsics,
    pub rgb: image::RgbImage,
    pub depth_m: DepthImage,
    pub mask: Mask,
    pub pose: Pose,
}

impl FitView {
    /// The observation a perfect camera would make of a render: colour as composited over black, the mask
    /// where alpha ≥ 0.5, and the mean depth there (benchmarks and tests fit to renders of a known model).
    pub fn from_render(view: &RenderedView, intrinsics: &Intrinsics, pose: Pose) -> Self {
        let (w, n) = (intrinsics.width, view.pixel_count());
        let alpha = view.plane(CH_ALPHA);
        let at = |x: u32, y: u32| (y * w + x) as usize;
        Self {
            intrinsics: *intrinsics,
            rgb: image::RgbImage::from_fn(intrinsics.width, intrinsics.height, |x, y| {
                image::Rgb(CH_RGB.map(|c| (view.planes[c * n + at(x, y)].clamp(0.0, 1.0) * 255.0).round() as u8))
            }),
            depth_m: DepthImage::from_fn(intrinsics.width, intrinsics.height, |x, y| {
                let p = at(x, y);
                image::Luma([if alpha[p] >= 0.5 { view.plane(CH_DEPTH_EXPECTED)[p] / alpha[p] } else { 0.0 }])
            }),
            mask: Mask::from_fn(intrinsics.width, intrinsics.height, |x, y| {
                image::Luma([if alpha[at(x, y)] >= 0.5 { 255 } else { 0 }])
            }),
            pose,
        }
    }
}

/// Which parameter groups a fit may change; the others stay frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeGroups {
    pub means: bool,
    pub quats: bool,
    pub scales: bool,
    pub opacities: bool,
    pub colors: bool,
    pub poses: bool,
}

impl FreeGroups {
    /// Every surfel parameter, poses frozen (mapping).
    pub const SURFELS: Self =
        Self { means: true, quats: true, scales: true, opacities: true, colors: true, poses: false };
    /// Poses only, surfels frozen (tracking).
    pub const POSES: Self =
        Self { means: false, quats: false, scales: false, opacities: false, colors: false, poses: true };
    /// Everything (joint refinement).
    pub const ALL: Self = Self { means: true, quats: true, scales: true, opacities: true, colors: true, poses: true };
}

/// Which stages an iteration runs; all of them for fitting. Benchmarks switch later stages off to time the
/// earlier ones alone (the results are then meaningless).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stages {
    pub loss: bool,
    pub backward: bool,
    pub step: bool,
}

impl Stages {
    /// Every stage (what fitting needs).
    pub const ALL: Self = Self { loss: true, backward: true, step: true };
}

/// What a fit did.
#[derive(Debug, Clone, Default)]
pub struct FitReport {
    /// Wall-clock seconds of the iterations, from the first submission until the GPU finished the last.
    pub loop_seconds: f64,
    /// (iteration, loss summed over views) at each read-back.
    pub losses: Vec<(u32, LossTerms)>,
    /// Times the reserved key capacity was found too small and grown.
    pub capacity_grows: u32,
    /// Each view's loss at the last read-back (the keyframe MAD rule judges these).
    pub view_losses: Vec<LossTerms>,
    /// Norm of each surfel's centre gradient in the last iteration, where centres were free (densification).
    pub mean_grad_norms: Vec<f32>,
}

/// Why a fit could not run.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("fit needs 1 to {MAX_VIEWS} views, got {0}")]
    ViewCount(usize),
    #[error("view {view}: {what}")]
    BadView { view: usize, what: String },
}

impl From<super::context::GpuError> for FitError {
    fn from(e: super::context::GpuError) -> Self {
        Self::Render(e.into())
    }
}

/// The fitting pipelines and settings.
pub struct Fitter {
    ctx: Arc<GpuContext>,
    renderer: SplatRenderer,
    backward: Backward,
    loss: wgpu::ComputePipeline,
    adam: wgpu::ComputePipeline,
    pose_step: wgpu::ComputePipeline,
    pub losses: LossConfig,
    pub optim: OptimConfig,
    pub stages: Stages,
    /// Views (bit per view) whose pose stays fixed even when poses are free: the keyframe that defines the
    /// object frame.
    pub pinned_views: u32,
}

/// A view's observation on the GPU (its target planes live on in the bind group).
struct GpuView {
    upstream: wgpu::Buffer,
    partials: wgpu::Buffer,
    loss_group: wgpu::BindGroup,
}

/// A view's observation as the loss kernel's target planes (red, green, blue, depth, mask).
pub fn target_planes(view: &FitView) -> Vec<f32> {
    let n = view.intrinsics.pixel_count();
    let mut planes = vec![0.0f32; TARGET_CHANNELS * n];
    for (p, px) in view.rgb.pixels().enumerate() {
        for c in 0..3 {
            planes[c * n + p] = px[c] as f32 / 255.0;
        }
    }
    for (p, d) in view.depth_m.pixels().enumerate() {
        planes[3 * n + p] = if d[0].is_finite() && d[0] > 0.0 { d[0] } else { 0.0 };
    }
    for (p, m) in view.mask.pixels().enumerate() {
        planes[4 * n + p] = if m[0] > 0 { 1.0 } else { 0.0 };
    }
    planes
}

fn pose_from_params(p: &RenderParams) -> Pose {
    let col = |c: [f32; 4]| Vector3::new(c[0] as f64, c[1] as f64, c[2] as f64);
    let m = Matrix3::from_columns(&[col(p.rot_c0), col(p.rot_c1), col(p.rot_c2)]);
    let rotation = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix(&m));
    Pose::from_parts(Translation3::from(col(p.translation)), rotation)
}

impl Fitter {
    /// Compiles the fitting kernels; the backward pass uses the device's fastest atomic path.
    pub fn new(ctx: Arc<GpuContext>, raster: RasterConfig, losses: LossConfig, optim: OptimConfig) -> Self {
        Self::with_grad_options(ctx.clone(), raster, losses, optim, GradOptions::best(&ctx))
    }

    /// As [`Fitter::new`] with a chosen gradient accumulation path.
    pub fn with_grad_options(
        ctx: Arc<GpuContext>,
        raster: RasterConfig,
        losses: LossConfig,
        optim: OptimConfig,
        grad: GradOptions,
    ) -> Self {
        Self {
            renderer: SplatRenderer::new(ctx.clone(), raster),
            backward: Backward::new(&ctx, &raster, grad),
            loss: pipeline(&ctx, "loss", include_str!("../../shaders/loss.wgsl"), "main", &raster),
            adam: pipeline(&ctx, "adam", include_str!("../../shaders/adam.wgsl"), "main", &raster),
            pose_step: pipeline(&ctx, "pose_step", include_str!("../../shaders/pose_step.wgsl"), "main", &raster),
            losses,
            optim,
            stages: Stages::ALL,
            pinned_views: 0,
            ctx,
        }
    }

    /// The renderer the fit uses (for rendering the result).
    pub fn renderer(&mut self) -> &mut SplatRenderer {
        &mut self.renderer
    }

    /// The loss of `splats` seen in `view` (at the view's pose) and its gradient planes, as the fitting loop
    /// computes them (diagnostics and tests).
    pub fn loss_of(&mut self, splats: &Splats, view: &FitView) -> Result<(LossTerms, RenderedView), FitError> {
        let ctx = self.ctx.clone();
        let k = view.intrinsics;
        let pixels = k.pixel_count();
        let gpu_splats = self.renderer.upload(splats)?;
        self.renderer.render(&gpu_splats, &k, &view.pose)?;
        let none = wgpu::BufferUsages::empty();
        let target = ctx.storage_buffer("fit target", (TARGET_CHANNELS * pixels * 4) as u64, none)?;
        ctx.queue.write_buffer(&target, 0, bytemuck::cast_slice(&target_planes(view)));
        let upstream = ctx.storage_buffer("upstream grads", (F32_CHANNELS * pixels * 4) as u64, none)?;
        let groups = (pixels as u32).div_ceil(256);
        let partials = ctx.storage_buffer("loss partials", groups as u64 * 8 * 4, none)?;
        let loss_params = ctx.uniform_buffer("loss params", &self.loss_params(pixels));
        let forward = self.renderer.forward_state().expect("just rendered");
        let group = bind(
            &ctx,
            &self.loss,
            &[
                (0, forward.params),
                (1, forward.out_f32),
                (2, &target),
                (3, &upstream),
                (4, &partials),
                (5, &loss_params),
            ],
        );
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            dispatch_items(&mut pass, &self.loss, &group, pixels as u32);
        }
        ctx.queue.submit([encoder.finish()]);
        let terms = sum_partials(&ctx.read_buffer(&partials, groups as usize * 8)?);
        let grads = RenderedView {
            width: k.width,
            height: k.height,
            planes: ctx.read_buffer(&upstream, F32_CHANNELS * pixels)?,
            counts: vec![0; U32_CHANNELS * pixels],
        };
        Ok((terms, grads))
    }

    fn loss_params(&self, pixels: usize) -> LossParams {
        LossParams {
            color_l1: self.losses.color_l1,
            depth_l1: self.losses.depth_l1,
            mask_l1: self.losses.mask_l1,
            normal: self.losses.normal,
            distortion: self.losses.distortion,
            occlusion_margin_m: self.losses.occlusion_margin_m,
            inv_pixels: 1.0 / pixels as f32,
            _pad: 0.0,
        }
    }

    /// Runs `iterations` steps on `splats` and the poses of `views`, changing only the `free` groups, and
    /// writes the results back into them.
    pub fn fit(
        &mut self,
        splats: &mut Splats,
        views: &mut [FitView],
        iterations: u32,
        free: FreeGroups,
    ) -> Result<FitReport, FitError> {
        let _span = tracing::debug_span!("fit", splats = splats.len(), views = views.len(), iterations).entered();
        if views.is_empty() || views.len() > MAX_VIEWS {
            return Err(FitError::ViewCount(views.len()));
        }
        let k0 = views[0].intrinsics;
        for (v, view) in views.iter().enumerate() {
            let size = (view.intrinsics.width, view.intrinsics.height);
            if size != (k0.width, k0.height)
                || view.rgb.dimensions() != size
                || view.depth_m.dimensions() != size
                || view.mask.dimensions() != size
            {
                return Err(FitError::BadView {
                    view: v,
                    what: format!("every view and image must be {}x{}", k0.width, k0.height),
                });
            }
        }
        let ctx = self.ctx.clone();
        let n = splats.len() as u32;
        let gpu_splats = self.renderer.upload(splats)?;
        let grads = SplatGradBuffers::new(&ctx, n, views.len() as u32)?;
        let none = wgpu::BufferUsages::empty();
        let moment1 = ctx.storage_buffer("adam m", n.max(1) as u64 * PARAM_GRADS_PER_SURFEL * 4, none)?;
        let moment2 = ctx.storage_buffer("adam v", n.max(1) as u64 * PARAM_GRADS_PER_SURFEL * 4, none)?;
        let pose_moments = ctx.storage_buffer("pose moments", views.len() as u64 * 12 * 4, none)?;
        let tiles = [k0.width.div_ceil(TILE_SIZE), k0.height.div_ceil(TILE_SIZE)];
        let all_params: Vec<RenderParams> =
            views.iter().map(|v| render_params(&gpu_splats, &v.intrinsics, &v.pose, tiles)).collect();
        let view_params =
            ctx.storage_buffer("view params", (all_params.len() * size_of::<RenderParams>()) as u64, none)?;
        ctx.queue.write_buffer(&view_params, 0, bytemuck::cast_slice(&all_params));

        // Size the key buffers from exact renders of every view, with headroom for the model to move.
        let mut most = 0;
        for view in views.iter() {
            most = most.max(self.renderer.render(&gpu_splats, &view.intrinsics, &view.pose)?.intersections);
        }
        let mut capacity = (most * 2).max(1024);
        self.renderer.reserve_keys(capacity)?;

        let pixels = k0.pixel_count();
        let loss_groups = (pixels as u32).div_ceil(256);
        let loss_params = ctx.uniform_buffer("loss params", &self.loss_params(pixels));
        let params_buffer = self.renderer.params_buffer().expect("rendered above").clone();
        let out_f32 = self.renderer.forward_state().expect("rendered above").out_f32.clone();
        let gpu_views: Vec<GpuView> = views
            .iter()
            .map(|view| -> Result<GpuView, FitError> {
                let target = ctx.storage_buffer("fit target", (TARGET_CHANNELS * pixels * 4) as u64, none)?;
                ctx.queue.write_buffer(&target, 0, bytemuck::cast_slice(&target_planes(view)));
                let upstream = ctx.storage_buffer("upstream grads", (F32_CHANNELS * pixels * 4) as u64, none)?;
                let partials = ctx.storage_buffer("loss partials", loss_groups as u64 * 8 * 4, none)?;
                let loss_group = bind(
                    &ctx,
                    &self.loss,
                    &[
                        (0, &params_buffer),
                        (1, &out_f32),
                        (2, &target),
                        (3, &upstream),
                        (4, &partials),
                        (5, &loss_params),
                    ],
                );
                Ok(GpuView { upstream, partials, loss_group })
            })
            .collect::<Result<_, _>>()?;

        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&moment1, 0, None);
        encoder.clear_buffer(&moment2, 0, None);
        encoder.clear_buffer(&pose_moments, 0, None);
        ctx.queue.submit([encoder.finish()]);

        let k = sh_coeffs(splats.sh_degree) as u32;
        let o = &self.optim;
        // (free, buffer, grad offset in surfels, width, stride, learning rate)
        let groups = [
            (free.means, &gpu_splats.means, 0, 3, 3, o.lr_means_m),
            (free.quats, &gpu_splats.quats, 3, 4, 4, o.lr_quats),
            (free.scales, &gpu_splats.log_scales, 7, 2, 2, o.lr_log_scales),
            (free.opacities, &gpu_splats.opacity_logits, 9, 1, 1, o.lr_opacity_logits),
            (free.colors, &gpu_splats.sh, 10, 3, 3 * k, o.lr_colors),
        ];
        let adam_uniforms: Vec<wgpu::Buffer> =
            groups.iter().map(|_| ctx.uniform_buffer("adam params", &AdamParams::zeroed())).collect();
        let adam_groups: Vec<wgpu::BindGroup> = groups
            .iter()
            .zip(&adam_uniforms)
            .map(|(g, u)| bind(&ctx, &self.adam, &[(0, u), (1, g.1), (2, &grads.params), (3, &moment1), (4, &moment2)]))
            .collect();
        let pose_uniform = ctx.uniform_buffer("pose step params", &PoseStepParams::zeroed());
        let pose_group = bind(
            &ctx,
            &self.pose_step,
            &[(0, &pose_uniform), (1, &view_params), (2, &grads.twists), (3, &pose_moments)],
        );
        let free_views = match (free.poses, views.len()) {
            (false, _) => 0,
            (true, MAX_VIEWS) => u32::MAX,
            (true, count) => (1u32 << count) - 1,
        } & !self.pinned_views;

        let mut report = FitReport::default();
        let param_size = size_of::<RenderParams>() as u64;
        let stages = self.stages;
        let loop_start = std::time::Instant::now();
        let mut in_flight: Option<wgpu::SubmissionIndex> = None;
        for it in 0..iterations {
            let t = (it + 1) as i32;
            let (bias1, bias2) = (1.0 - o.beta1.powi(t), 1.0 - o.beta2.powi(t));
            for ((free_group, _, offset, width, stride, lr), uniform) in groups.iter().zip(&adam_uniforms) {
                if *free_group {
                    let p = AdamParams {
                        grad_offset: offset * n,
                        count: width * n,
                        width: *width,
                        stride: *stride,
                        lr: *lr,
                        beta1: o.beta1,
                        beta2: o.beta2,
                        epsilon: o.epsilon,
                        bias1,
                        bias2,
                        clip: o.grad_clip,
                        _pad: 0.0,
                    };
                    ctx.queue.write_buffer(uniform, 0, bytemuck::bytes_of(&p));
                }
            }
            if free.poses {
                let p = PoseStepParams {
                    num_views: views.len() as u32,
                    free_views,
                    lr_rotation: o.lr_pose_rotation,
                    lr_translation: o.lr_pose_translation_m,
                    beta1: o.beta1,
                    beta2: o.beta2,
                    epsilon: o.epsilon,
                    bias1,
                    bias2,
                    clip: o.grad_clip,
                    _pad0: 0.0,
                    _pad1: 0.0,
                };
                ctx.queue.write_buffer(&pose_uniform, 0, bytemuck::bytes_of(&p));
            }
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            grads.clear(&mut encoder);
            for (v, gpu_view) in gpu_views.iter().enumerate() {
                encoder.copy_buffer_to_buffer(&view_params, v as u64 * param_size, &params_buffer, 0, Some(param_size));
                self.renderer.encode_render_reserved(&mut encoder, &gpu_splats, &k0)?;
                if stages.loss {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("loss"),
                        timestamp_writes: None,
                    });
                    dispatch_items(&mut pass, &self.loss, &gpu_view.loss_group, pixels as u32);
                }
                if stages.backward {
                    let forward = self.renderer.forward_state().expect("just rendered");
                    self.backward.encode(
                        &ctx,
                        &mut encoder,
                        &gpu_splats,
                        &forward,
                        &gpu_view.upstream,
                        &grads,
                        v as u32,
                    );
                }
            }
            if stages.step {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("optimizer"),
                    timestamp_writes: None,
                });
                for ((free_group, _, _, width, _, _), group) in groups.iter().zip(&adam_groups) {
                    if *free_group && n > 0 {
                        dispatch_items(&mut pass, &self.adam, group, width * n);
                    }
                }
                if free.poses {
                    pass.set_pipeline(&self.pose_step);
                    pass.set_bind_group(0, &pose_group, &[]);
                    pass.dispatch_workgroups(1, 1, 1);
                }
            }
            // At most one iteration in flight: a viewer sharing the device gets its frames in between
            // instead of queueing behind a whole fit.
            if let Some(previous) = in_flight.take() {
                let _ = ctx.device.poll(wgpu::PollType::Wait { submission_index: Some(previous), timeout: None });
            }
            in_flight = Some(ctx.queue.submit([encoder.finish()]));

            if (it + 1) % o.loss_readback_interval.max(1) == 0 || it + 1 == iterations {
                let mut terms = LossTerms::default();
                report.view_losses.clear();
                for gpu_view in &gpu_views {
                    let view_terms = sum_partials(&ctx.read_buffer(&gpu_view.partials, loss_groups as usize * 8)?);
                    report.view_losses.push(view_terms);
                    terms += view_terms;
                }
                report.losses.push((it + 1, terms));
                let needed = self.renderer.read_intersections(&gpu_splats)?;
                if needed > capacity {
                    tracing::warn!(needed, capacity, "reserved key capacity too small; growing it");
                    capacity = needed * 2;
                    self.renderer.reserve_keys(capacity)?;
                    report.capacity_grows += 1;
                }
            }
        }
        ctx.wait_idle()?;
        report.loop_seconds = loop_start.elapsed().as_secs_f64();
        drop(gpu_views);

        read_back_splats(&ctx, &gpu_splats, splats)?;
        if free.means && iterations > 0 {
            let g: Vec<f32> = ctx.read_buffer(&grads.params, 3 * n as usize)?;
            report.mean_grad_norms =
                g.chunks_exact(3).map(|c| (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt()).collect();
        }
        let fitted: Vec<RenderParams> = ctx.read_buffer(&view_params, views.len())?;
        for (view, p) in views.iter_mut().zip(&fitted) {
            view.pose = pose_from_params(p);
        }
        Ok(report)
    }
}

/// Adds up the loss kernel's per-workgroup partial sums (8 floats each).
fn sum_partials(partials: &[f32]) -> LossTerms {
    let mut terms = LossTerms::default();
    for chunk in partials.chunks_exact(8) {
        terms += LossTerms { color: chunk[0], depth: chunk[1], mask: chunk[2], normal: chunk[3], distortion: chunk[4] };
    }
    terms
}

fn read_back_splats(ctx: &GpuContext, gpu: &GpuSplats, splats: &mut Splats) -> Result<(), FitError> {
    let n = splats.len();
    let read = |b: &wgpu::Buffer, count: usize| ctx.read_buffer::<f32>(b, count);
    let means = read(&gpu.means, 3 * n)?;
    let quats = read(&gpu.quats, 4 * n)?;
    let scales = read(&gpu.log_scales, 2 * n)?;
    splats.opacity_logits = read(&gpu.opacity_logits, n)?;
    let sh = read(&gpu.sh, 3 * splats.sh.len())?;
    splats.means = means.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    splats.quats = quats.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
    splats.log_scales = scales.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
    splats.sh = sh.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    Ok(())
}
