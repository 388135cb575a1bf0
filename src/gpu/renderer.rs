//! The forward 2DGS rasterizer: surfels + intrinsics + object pose in, per-pixel outputs on the GPU.
//!
//! How it works, per render: (1) `project.wgsl` projects every surfel under the object-to-camera pose and
//! counts its tiles; `sort.wgsl` sorts the surfels by depth; `tiles.wgsl` gathers their tile counts in that
//! order and `scan.wgsl` turns them into offsets, whose last entry is the number of (tile, surfel) pairs:
//! that one number is read back to size the key buffers (the only round trip). (2) `tiles.wgsl` emits one
//! key per (tile, surfel) pair in depth order, `sort.wgsl` sorts them stably by tile alone (a dozen bits, not
//! 64), `tiles.wgsl` finds each tile's range, and `raster.wgsl` composites each 16×16 tile front to back.
//! Outputs stay on the GPU until [`SplatRenderer::read_view`] is called.

use std::sync::Arc;

use bytemuck::Zeroable;

use super::backward::ForwardState;
use super::context::{GpuContext, GpuError};
use super::gpu_data::{ProjectedSplat, RenderParams, TileParams};
use super::kernel::{SPLAT_BATCH_WGSL, bind, dispatch_items, pipeline};
use super::scan::{Scan, ScanPlan};
use super::sort::{KeyBuffers, RadixSort, bits_for};
use super::timing::StageTimer;
use crate::config::{RasterConfig, TILE_SIZE};
use crate::frame::{Intrinsics, Pose};
use crate::rendered::{F32_CHANNELS, RenderedView, U32_CHANNELS};
use crate::splats::{NonFiniteSplat, Splats, sh_coeffs};

/// Why a render could not run.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("cannot upload the model: {0}")]
    NonFinite(#[from] NonFiniteSplat),
    #[error("invalid camera: {0}")]
    Camera(String),
}

/// A surfel model uploaded to the GPU: one flat `f32` buffer per parameter group, in `Splats` layout.
pub struct GpuSplats {
    pub means: wgpu::Buffer,
    pub quats: wgpu::Buffer,
    pub log_scales: wgpu::Buffer,
    pub opacity_logits: wgpu::Buffer,
    pub sh: wgpu::Buffer,
    pub len: u32,
    pub sh_coeffs: u32,
}

/// What one render produced besides its images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderStats {
    /// Number of (tile, surfel) pairs sorted.
    pub intersections: u32,
}

/// Buffers sized for one (model size, image size).
struct FrameBuffers {
    num_splats: u32,
    width: u32,
    height: u32,
    params: wgpu::Buffer,
    projected: wgpu::Buffer,
    depth_sort: KeyBuffers,
    /// Tile counts in depth order, then their exclusive scan (num_splats + 1 entries).
    offsets: wgpu::Buffer,
    offsets_scan: ScanPlan,
    ranges: wgpu::Buffer,
    out_f32: wgpu::Buffer,
    out_u32: wgpu::Buffer,
}

/// The forward rasterizer; owns its pipelines and reuses its buffers across renders.
pub struct SplatRenderer {
    ctx: Arc<GpuContext>,
    project: wgpu::ComputePipeline,
    gather_counts: wgpu::ComputePipeline,
    fill_sentinel: wgpu::ComputePipeline,
    emit_keys: wgpu::ComputePipeline,
    tile_ranges: wgpu::ComputePipeline,
    raster: wgpu::ComputePipeline,
    scan: Scan,
    sort: RadixSort,
    frame: Option<FrameBuffers>,
    keys: Option<KeyBuffers>,
    /// Which tile-sort buffer set holds the last render's sorted surfel ids.
    sorted_set: usize,
    /// Which depth-sort buffer set holds the last render's depth order.
    depth_set: usize,
    /// Tile grid of the last render.
    tiles: [u32; 2],
    timer: Option<StageTimer>,
}

fn begin_pass<'e>(
    encoder: &'e mut wgpu::CommandEncoder,
    label: &'static str,
    timer: &mut Option<StageTimer>,
) -> wgpu::ComputePass<'e> {
    let timestamp_writes = timer.as_mut().and_then(|t| t.pass(label));
    encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(label), timestamp_writes })
}

fn upload_f32(ctx: &GpuContext, label: &str, data: &[f32]) -> Result<wgpu::Buffer, GpuError> {
    let buffer = ctx.storage_buffer(label, (data.len() * 4) as u64, wgpu::BufferUsages::empty())?;
    if !data.is_empty() {
        ctx.queue.write_buffer(&buffer, 0, bytemuck::cast_slice(data));
    }
    Ok(buffer)
}

impl SplatRenderer {
    /// Compiles the forward kernels with the given conventions.
    pub fn new(ctx: Arc<GpuContext>, config: RasterConfig) -> Self {
        let _span = tracing::debug_span!("compile forward kernels").entered();
        let project_src = include_str!("../../shaders/project.wgsl");
        let tiles_src = include_str!("../../shaders/tiles.wgsl");
        let raster_src = format!("{SPLAT_BATCH_WGSL}\n{}", include_str!("../../shaders/raster.wgsl"));
        Self {
            project: pipeline(&ctx, "project", project_src, "main", &config),
            gather_counts: pipeline(&ctx, "gather_counts", tiles_src, "gather_counts", &config),
            fill_sentinel: pipeline(&ctx, "fill_sentinel", tiles_src, "fill_sentinel", &config),
            emit_keys: pipeline(&ctx, "emit_keys", tiles_src, "emit_keys", &config),
            tile_ranges: pipeline(&ctx, "tile_ranges", tiles_src, "tile_ranges", &config),
            raster: pipeline(&ctx, "raster", &raster_src, "main", &config),
            scan: Scan::new(&ctx),
            sort: RadixSort::new(&ctx),
            frame: None,
            keys: None,
            sorted_set: 0,
            depth_set: 0,
            tiles: [0, 0],
            timer: None,
            ctx,
        }
    }

    /// The device this renderer runs on.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// Checks and uploads a model; non-finite parameters are refused here, before they reach a kernel.
    pub fn upload(&self, splats: &Splats) -> Result<GpuSplats, RenderError> {
        splats.validate()?;
        let ctx = &self.ctx;
        Ok(GpuSplats {
            means: upload_f32(ctx, "means", splats.means.as_flattened())?,
            quats: upload_f32(ctx, "quats", splats.quats.as_flattened())?,
            log_scales: upload_f32(ctx, "log_scales", splats.log_scales.as_flattened())?,
            opacity_logits: upload_f32(ctx, "opacity_logits", &splats.opacity_logits)?,
            sh: upload_f32(ctx, "sh", splats.sh.as_flattened())?,
            len: splats.len() as u32,
            sh_coeffs: sh_coeffs(splats.sh_degree) as u32,
        })
    }

    fn frame_buffers(&mut self, splats: &GpuSplats, intr: &Intrinsics) -> Result<(), GpuError> {
        if let Some(f) = &self.frame
            && f.num_splats == splats.len
            && f.width == intr.width
            && f.height == intr.height
        {
            return Ok(());
        }
        let ctx = &self.ctx;
        let n = splats.len as u64;
        let pixels = intr.pixel_count() as u64;
        let tiles = (intr.width.div_ceil(TILE_SIZE) * intr.height.div_ceil(TILE_SIZE)) as u64;
        let none = wgpu::BufferUsages::empty();
        let offsets = ctx.storage_buffer("tile offsets", (n + 1) * 4, none)?;
        self.frame = Some(FrameBuffers {
            num_splats: splats.len,
            width: intr.width,
            height: intr.height,
            params: ctx.uniform_buffer("render params", &RenderParams::zeroed()),
            projected: ctx.storage_buffer("projected", n.max(1) * size_of::<ProjectedSplat>() as u64, none)?,
            depth_sort: KeyBuffers::new(ctx, "depth sort", splats.len)?,
            offsets_scan: self.scan.plan(ctx, &offsets, splats.len + 1)?,
            offsets,
            ranges: ctx.storage_buffer("tile ranges", tiles * 8, none)?,
            out_f32: ctx.storage_buffer("raster out f32", pixels * 4 * F32_CHANNELS as u64, none)?,
            out_u32: ctx.storage_buffer("raster out u32", pixels * 4 * U32_CHANNELS as u64, none)?,
        });
        Ok(())
    }

    /// Renders `splats` seen through `intr` with the object-to-camera `pose`; results stay on the GPU. The
    /// number of (tile, surfel) pairs is read back between the two halves (one round trip) so the key
    /// buffers fit exactly; loops that must not wait use [`SplatRenderer::encode_render_reserved`].
    pub fn render(&mut self, splats: &GpuSplats, intr: &Intrinsics, pose: &Pose) -> Result<RenderStats, RenderError> {
        let _span = tracing::debug_span!("render", splats = splats.len, w = intr.width, h = intr.height).entered();
        self.prepare(splats, intr, Some(pose))?;
        let ctx = self.ctx.clone();
        if let Some(timer) = &mut self.timer {
            timer.reset();
        }
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        self.encode_counts(&mut encoder, splats)?;
        ctx.queue.submit([encoder.finish()]);
        let intersections = self.read_intersections(splats)?;
        if self.keys.as_ref().is_none_or(|k| k.capacity < intersections) {
            self.keys = Some(KeyBuffers::new(&ctx, "tile sort", intersections + intersections / 2)?);
        }
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        self.encode_keys_and_raster(&mut encoder, splats, intersections, false)?;
        if let Some(timer) = &self.timer {
            timer.resolve(&mut encoder);
        }
        ctx.queue.submit([encoder.finish()]);
        Ok(RenderStats { intersections })
    }

    /// Makes sure key buffers hold at least `capacity` (tile, surfel) pairs, for reserved renders.
    pub fn reserve_keys(&mut self, capacity: u32) -> Result<(), RenderError> {
        if self.keys.as_ref().is_none_or(|k| k.capacity < capacity) {
            self.keys = Some(KeyBuffers::new(&self.ctx, "tile sort", capacity)?);
        }
        Ok(())
    }

    /// Records a whole render into `encoder` with no read-back: every key slot of the reserved capacity is
    /// sorted (unused ones hold a sentinel that sorts last), so nothing waits for the count. The render
    /// parameters must already be in [`SplatRenderer::params_buffer`] (written by the caller or copied there
    /// by a GPU pose update). If the scene needs more pairs than reserved, the surplus is dropped;
    /// [`SplatRenderer::read_intersections`] tells afterwards.
    pub fn encode_render_reserved(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        splats: &GpuSplats,
        intr: &Intrinsics,
    ) -> Result<(), RenderError> {
        self.prepare(splats, intr, None)?;
        let capacity = self
            .keys
            .as_ref()
            .map(|k| k.capacity)
            .ok_or_else(|| RenderError::Camera("reserve_keys before a reserved render".into()))?;
        self.encode_counts(encoder, splats)?;
        self.encode_keys_and_raster(encoder, splats, capacity, true)
    }

    /// The uniform block every kernel of the next render reads (`gpu_data::RenderParams`).
    pub fn params_buffer(&self) -> Option<&wgpu::Buffer> {
        self.frame.as_ref().map(|f| &f.params)
    }

    /// Number of (tile, surfel) pairs the last render produced (a read-back: call occasionally).
    pub fn read_intersections(&self, splats: &GpuSplats) -> Result<u32, RenderError> {
        let frame =
            self.frame.as_ref().ok_or_else(|| RenderError::Camera("read_intersections before any render".into()))?;
        Ok(self.ctx.read_buffer_at::<u32>(&frame.offsets, splats.len as u64 * 4, 1)?[0])
    }

    /// Checks the camera, sizes the buffers and (with a pose) writes the render parameters.
    fn prepare(&mut self, splats: &GpuSplats, intr: &Intrinsics, pose: Option<&Pose>) -> Result<(), RenderError> {
        check_camera(intr)?;
        self.ctx.check_alive()?;
        self.frame_buffers(splats, intr)?;
        let frame = self.frame.as_ref().expect("frame buffers were just made");
        let tiles = [intr.width.div_ceil(TILE_SIZE), intr.height.div_ceil(TILE_SIZE)];
        if let Some(pose) = pose {
            let params = render_params(splats, intr, pose, tiles);
            self.ctx.queue.write_buffer(&frame.params, 0, bytemuck::bytes_of(&params));
        }
        self.tiles = tiles;
        Ok(())
    }

    /// Stage 1: project, sort by depth, count tiles in depth order and scan them to offsets.
    fn encode_counts(&mut self, encoder: &mut wgpu::CommandEncoder, splats: &GpuSplats) -> Result<(), RenderError> {
        let ctx = self.ctx.clone();
        let frame = self.frame.as_ref().expect("prepare() made the frame buffers");
        let depth = &frame.depth_sort;
        let project_group = bind(
            &ctx,
            &self.project,
            &[
                (0, &frame.params),
                (1, &splats.means),
                (2, &splats.quats),
                (3, &splats.log_scales),
                (4, &splats.opacity_logits),
                (5, &splats.sh),
                (6, &frame.projected),
                (7, &depth.keys[0]),
                (8, &depth.values[0]),
            ],
        );
        {
            let mut pass = begin_pass(encoder, "project", &mut self.timer);
            dispatch_items(&mut pass, &self.project, &project_group, splats.len);
        }
        let depth_writes = self.timer.as_mut().and_then(|t| t.pass("depth sort"));
        let depth_sorted = self.sort.encode(&ctx, encoder, depth, splats.len, 32, depth_writes)?;
        self.depth_set = depth_sorted.result;
        let gather_group = bind(
            &ctx,
            &self.gather_counts,
            &[(0, &frame.params), (1, &frame.projected), (2, &depth.values[self.depth_set]), (3, &frame.offsets)],
        );
        let mut pass = begin_pass(encoder, "scan counts", &mut self.timer);
        dispatch_items(&mut pass, &self.gather_counts, &gather_group, splats.len + 1);
        self.scan.encode(&mut pass, &frame.offsets_scan);
        Ok(())
    }

    /// Stage 2: one key per (tile, surfel) in depth order, stable sort by tile, ranges, raster. With
    /// `reserved`, all `num_keys` slots are first filled with the sentinel and emission stops at the capacity.
    fn encode_keys_and_raster(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        splats: &GpuSplats,
        num_keys: u32,
        reserved: bool,
    ) -> Result<(), RenderError> {
        let ctx = self.ctx.clone();
        let frame = self.frame.as_ref().expect("prepare() made the frame buffers");
        let keys = self.keys.as_ref().expect("key buffers exist before stage 2");
        let [tiles_x, tiles_y] = self.tiles;
        let depth_order = &frame.depth_sort.values[self.depth_set];
        let tile_params = ctx.uniform_buffer("tile params", &TileParams { num_keys, _pad0: 0, _pad1: 0, _pad2: 0 });
        encoder.clear_buffer(&frame.ranges, 0, None);
        if num_keys > 0 {
            let emit_group = bind(
                &ctx,
                &self.emit_keys,
                &[
                    (0, &frame.params),
                    (1, &frame.projected),
                    (2, depth_order),
                    (3, &frame.offsets),
                    (4, &keys.keys[0]),
                    (5, &keys.values[0]),
                    (6, &tile_params),
                ],
            );
            let mut pass = begin_pass(encoder, "emit keys", &mut self.timer);
            if reserved {
                let fill_group = bind(&ctx, &self.fill_sentinel, &[(4, &keys.keys[0]), (6, &tile_params)]);
                dispatch_items(&mut pass, &self.fill_sentinel, &fill_group, num_keys);
            }
            dispatch_items(&mut pass, &self.emit_keys, &emit_group, splats.len);
        }
        let sort_writes = self.timer.as_mut().and_then(|t| t.pass("tile sort"));
        // One more value than there are tiles, so the sentinel (all ones in these bits) sorts last.
        let sorted = self.sort.encode(&ctx, encoder, keys, num_keys, bits_for(tiles_x * tiles_y + 1), sort_writes)?;
        if num_keys > 0 {
            let ranges_group = bind(
                &ctx,
                &self.tile_ranges,
                &[(0, &frame.params), (4, &keys.keys[sorted.result]), (6, &tile_params), (7, &frame.ranges)],
            );
            let mut pass = begin_pass(encoder, "tile ranges", &mut self.timer);
            dispatch_items(&mut pass, &self.tile_ranges, &ranges_group, num_keys);
        }
        let raster_group = bind(
            &ctx,
            &self.raster,
            &[
                (0, &frame.params),
                (1, &frame.projected),
                (2, &keys.values[sorted.result]),
                (3, &frame.ranges),
                (4, &frame.out_f32),
                (5, &frame.out_u32),
            ],
        );
        {
            let mut pass = begin_pass(encoder, "rasterize", &mut self.timer);
            pass.set_pipeline(&self.raster);
            pass.set_bind_group(0, &raster_group, &[]);
            pass.dispatch_workgroups(tiles_x, tiles_y, 1);
        }
        self.sorted_set = sorted.result;
        Ok(())
    }

    /// Times every pass of later renders with timestamp queries; false where the device has none.
    pub fn enable_stage_timing(&mut self) -> Result<bool, RenderError> {
        self.timer = StageTimer::new(&self.ctx, 8)?;
        Ok(self.timer.is_some())
    }

    /// GPU milliseconds per pass of the last render (empty unless stage timing is on).
    pub fn read_stage_times(&self) -> Result<Vec<(&'static str, f64)>, RenderError> {
        match &self.timer {
            Some(timer) => Ok(timer.read_ms(&self.ctx)?),
            None => Ok(Vec::new()),
        }
    }

    /// Reads the last render's per-pixel outputs back to the host.
    pub fn read_view(&self) -> Result<RenderedView, RenderError> {
        let frame = self.frame.as_ref().ok_or_else(|| RenderError::Camera("read_view before any render".into()))?;
        let n = frame.width as usize * frame.height as usize;
        Ok(RenderedView {
            width: frame.width,
            height: frame.height,
            planes: self.ctx.read_buffer(&frame.out_f32, n * F32_CHANNELS)?,
            counts: self.ctx.read_buffer(&frame.out_u32, n * U32_CHANNELS)?,
        })
    }

    /// The last render's buffers, for the backward pass that differentiates it.
    pub fn forward_state(&self) -> Option<ForwardState<'_>> {
        let (frame, keys) = (self.frame.as_ref()?, self.keys.as_ref()?);
        Some(ForwardState {
            params: &frame.params,
            tiles: self.tiles,
            projected: &frame.projected,
            sorted_ids: &keys.values[self.sorted_set],
            ranges: &frame.ranges,
            out_f32: &frame.out_f32,
            out_u32: &frame.out_u32,
        })
    }

    /// Reads the last render's projected surfels (tests compare them with the CPU reference).
    pub fn read_projected(&self) -> Result<Vec<ProjectedSplat>, RenderError> {
        let frame =
            self.frame.as_ref().ok_or_else(|| RenderError::Camera("read_projected before any render".into()))?;
        Ok(self.ctx.read_buffer(&frame.projected, frame.num_splats as usize)?)
    }

    /// Convenience for one-off renders: render and read back.
    pub fn render_view(
        &mut self,
        splats: &GpuSplats,
        intr: &Intrinsics,
        pose: &Pose,
    ) -> Result<RenderedView, RenderError> {
        self.render(splats, intr, pose)?;
        self.read_view()
    }
}

fn check_camera(intr: &Intrinsics) -> Result<(), RenderError> {
    let finite = [intr.fx, intr.fy, intr.cx, intr.cy].iter().all(|v| v.is_finite());
    if intr.width == 0 || intr.height == 0 || !finite || intr.fx <= 0.0 || intr.fy <= 0.0 {
        return Err(RenderError::Camera(format!(
            "need a non-empty image and positive finite focal lengths, got {}x{} fx={} fy={} cx={} cy={}",
            intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy
        )));
    }
    Ok(())
}

/// The uniform block of one render.
pub fn render_params(splats: &GpuSplats, intr: &Intrinsics, pose: &Pose, tiles: [u32; 2]) -> RenderParams {
    let r = pose.rotation.to_rotation_matrix();
    let m = r.matrix();
    let col = |c: usize| [m[(0, c)] as f32, m[(1, c)] as f32, m[(2, c)] as f32, 0.0];
    let t = pose.translation.vector;
    RenderParams {
        rot_c0: col(0),
        rot_c1: col(1),
        rot_c2: col(2),
        translation: [t.x as f32, t.y as f32, t.z as f32, 0.0],
        focal: [intr.fx as f32, intr.fy as f32],
        principal: [intr.cx as f32, intr.cy as f32],
        image_size: [intr.width, intr.height],
        tile_count: tiles,
        num_splats: splats.len,
        sh_coeffs: splats.sh_coeffs,
        _pad0: 0,
        _pad1: 0,
    }
}
