//! The backward pass on the GPU: gradients of a loss, given per-pixel gradients of the rendered outputs,
//! with respect to every surfel parameter and each view's object pose.
//!
//! How it works: `raster_bwd.wgsl` replays the last render's tiles back to front and accumulates, per surfel,
//! the gradient of its projected quantities with atomics; `project_bwd.wgsl` chains those to the parameters
//! (adding into [`SplatGradBuffers::params`], so several views — one render each, each with its own pose —
//! accumulate) and reduces the pose-twist gradient per workgroup; `sum_twist` adds the partials into the
//! view's slot. The atomic flavour is chosen from the device: float atomics or a CAS loop, one atomic per
//! subgroup or per thread ([`GradOptions`]); tests run every flavour the device allows.

use super::context::{GpuContext, GpuError};
use super::gpu_data::TwistParams;
use super::kernel::{SPLAT_BATCH_WGSL, bind, dispatch_items, pipeline};
use crate::config::RasterConfig;
use crate::reference::backward::SplatGrads;

/// Floats per surfel in the projected-gradient buffer (as `PROJ_GRAD_STRIDE` in WGSL).
pub const PROJ_GRAD_STRIDE: u64 = 20;

/// Which accumulation path the backward kernels use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradOptions {
    /// `atomic<f32>` adds; else a compare-and-swap loop on `atomic<u32>`.
    pub float_atomics: bool,
    /// Sum a subgroup's contributions before one atomic; else one atomic per thread.
    pub subgroups: bool,
}

impl GradOptions {
    /// The fastest path the device supports.
    pub fn best(ctx: &GpuContext) -> Self {
        Self { float_atomics: ctx.caps.float_atomics, subgroups: ctx.caps.subgroups }
    }

    /// Every path the device supports (for tests).
    pub fn all_supported(ctx: &GpuContext) -> Vec<Self> {
        let mut out = Vec::new();
        for float_atomics in [false, true] {
            for subgroups in [false, true] {
                if (!float_atomics || ctx.caps.float_atomics) && (!subgroups || ctx.caps.subgroups) {
                    out.push(Self { float_atomics, subgroups });
                }
            }
        }
        out
    }
}

/// Gradient buffers for a model of `num_splats` surfels and up to `max_views` poses.
pub struct SplatGradBuffers {
    /// [means 3N | quats 4N | log_scales 2N | opacity_logits N | sh_dc 3N], accumulated over views.
    pub params: wgpu::Buffer,
    /// Six twist components per view.
    pub twists: wgpu::Buffer,
    projected: wgpu::Buffer,
    partials: wgpu::Buffer,
    pub num_splats: u32,
    pub max_views: u32,
}

/// Floats per surfel in [`SplatGradBuffers::params`].
pub const PARAM_GRADS_PER_SURFEL: u64 = 13;

impl SplatGradBuffers {
    /// Buffers for `num_splats` surfels and `max_views` poses.
    pub fn new(ctx: &GpuContext, num_splats: u32, max_views: u32) -> Result<Self, GpuError> {
        let n = num_splats.max(1) as u64;
        let none = wgpu::BufferUsages::empty();
        Ok(Self {
            params: ctx.storage_buffer("param grads", n * PARAM_GRADS_PER_SURFEL * 4, none)?,
            twists: ctx.storage_buffer("twist grads", max_views.max(1) as u64 * 6 * 4, none)?,
            projected: ctx.storage_buffer("projected grads", n * PROJ_GRAD_STRIDE * 4, none)?,
            partials: ctx.storage_buffer("twist partials", n.div_ceil(256) * 6 * 4, none)?,
            num_splats,
            max_views,
        })
    }

    /// Records zeroing of the accumulated parameter and twist gradients (start of an optimisation step).
    pub fn clear(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.clear_buffer(&self.params, 0, None);
        encoder.clear_buffer(&self.twists, 0, None);
    }

    /// Reads the gradients back (tests, diagnostics).
    pub fn read(&self, ctx: &GpuContext, view: u32) -> Result<SplatGrads, GpuError> {
        let n = self.num_splats as usize;
        let all: Vec<f32> = ctx.read_buffer(&self.params, n * PARAM_GRADS_PER_SURFEL as usize)?;
        let twist: Vec<f32> = ctx.read_buffer_at(&self.twists, view as u64 * 24, 6)?;
        let chunk = |offset: usize, width: usize| &all[offset * n..(offset + width) * n];
        Ok(SplatGrads {
            means: chunk(0, 3).chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
            quats: chunk(3, 4).chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect(),
            log_scales: chunk(7, 2).chunks_exact(2).map(|c| [c[0], c[1]]).collect(),
            opacity_logits: chunk(9, 1).to_vec(),
            sh_dc: chunk(10, 3).chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
            pose_twist: std::array::from_fn(|k| twist[k]),
        })
    }
}

/// What the backward pass needs from the forward render it differentiates.
pub struct ForwardState<'a> {
    pub params: &'a wgpu::Buffer,
    /// Tile grid of the render.
    pub tiles: [u32; 2],
    pub projected: &'a wgpu::Buffer,
    pub sorted_ids: &'a wgpu::Buffer,
    pub ranges: &'a wgpu::Buffer,
    pub out_f32: &'a wgpu::Buffer,
    pub out_u32: &'a wgpu::Buffer,
}

/// The backward pipelines of one accumulation flavour.
pub struct Backward {
    raster_bwd: wgpu::ComputePipeline,
    project_bwd: wgpu::ComputePipeline,
    sum_twist: wgpu::ComputePipeline,
    pub options: GradOptions,
}

impl Backward {
    /// Compiles the backward kernels for `options` (which the device must support).
    pub fn new(ctx: &GpuContext, config: &RasterConfig, options: GradOptions) -> Self {
        let atomics = if options.float_atomics {
            include_str!("../../shaders/grad_atomic_float.wgsl")
        } else {
            include_str!("../../shaders/grad_atomic_cas.wgsl")
        };
        let reduce = if options.subgroups {
            include_str!("../../shaders/grad_reduce_subgroup.wgsl")
        } else {
            include_str!("../../shaders/grad_reduce_thread.wgsl")
        };
        let raster_src =
            format!("{atomics}\n{reduce}\n{SPLAT_BATCH_WGSL}\n{}", include_str!("../../shaders/raster_bwd.wgsl"));
        let project_src = include_str!("../../shaders/project_bwd.wgsl");
        Self {
            raster_bwd: pipeline(ctx, "raster_bwd", &raster_src, "main", config),
            project_bwd: pipeline(ctx, "project_bwd", project_src, "main", config),
            sum_twist: pipeline(ctx, "sum_twist", project_src, "sum_twist", config),
            options,
        }
    }

    /// Records the backward of `forward` for `view`, with `upstream` holding d loss / d output planes.
    pub fn encode(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        splats: &super::GpuSplats,
        forward: &ForwardState,
        upstream: &wgpu::Buffer,
        grads: &SplatGradBuffers,
        view: u32,
    ) {
        let _span = tracing::trace_span!("backward", view).entered();
        assert!(view < grads.max_views && splats.len == grads.num_splats, "gradient buffers sized for another problem");
        encoder.clear_buffer(&grads.projected, 0, None);
        let raster_group = bind(
            ctx,
            &self.raster_bwd,
            &[
                (0, forward.params),
                (1, forward.projected),
                (2, forward.sorted_ids),
                (3, forward.ranges),
                (4, forward.out_f32),
                (5, forward.out_u32),
                (6, upstream),
                (7, &grads.projected),
            ],
        );
        let project_group = bind(
            ctx,
            &self.project_bwd,
            &[
                (0, forward.params),
                (1, &splats.means),
                (2, &splats.quats),
                (3, &splats.log_scales),
                (4, &splats.sh),
                (5, forward.projected),
                (6, &grads.projected),
                (7, &grads.params),
                (8, &grads.partials),
            ],
        );
        let num_partials = splats.len.div_ceil(256);
        let twist_params = ctx.uniform_buffer("twist params", &TwistParams { num_partials, view, _pad0: 0, _pad1: 0 });
        let sum_group = bind(ctx, &self.sum_twist, &[(8, &grads.partials), (9, &twist_params), (10, &grads.twists)]);
        let mut pass = encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("backward"), timestamp_writes: None });
        let [tiles_x, tiles_y] = forward.tiles;
        pass.set_pipeline(&self.raster_bwd);
        pass.set_bind_group(0, &raster_group, &[]);
        pass.dispatch_workgroups(tiles_x, tiles_y, 1);
        if splats.len > 0 {
            dispatch_items(&mut pass, &self.project_bwd, &project_group, splats.len);
            pass.set_pipeline(&self.sum_twist);
            pass.set_bind_group(0, &sum_group, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
    }
}
