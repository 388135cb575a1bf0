//! The slow, obvious CPU twin of the forward rasterizer, used by tests and as the benchmark's baseline.
//!
//! Same math as `shaders/project.wgsl` and `shaders/raster.wgsl`, in `f32`, one surfel and one pixel at a
//! time: each pixel composites, in (depth, index) order, the surfels whose tile rectangle contains its tile,
//! exactly the set and order the GPU's sorted tile ranges give.

pub mod backward;
pub mod loss;
pub mod optim;

use nalgebra::{Matrix3, Vector2, Vector3};

use crate::config::{RasterConfig, TILE_SIZE};
use crate::frame::{Intrinsics, Pose};
use crate::gpu::gpu_data::ProjectedSplat;
use crate::rendered::{
    CH_ALPHA, CH_DEPTH_EXPECTED, CH_DEPTH_MEDIAN, CH_DISTORTION, CH_FINAL_T, CH_NORMAL, CH_RGB, CNT_LAST, CNT_MEDIAN,
    RenderedView,
};
use crate::splats::{SH_C0, Splats, sh_coeffs};

fn culled() -> ProjectedSplat {
    bytemuck::Zeroable::zeroed()
}

fn quat_to_rotmat(q: [f32; 4]) -> Matrix3<f32> {
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let [w, x, y, z] = q.map(|v| v / n);
    Matrix3::from_columns(&[
        Vector3::new(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y)),
        Vector3::new(2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x)),
        Vector3::new(2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y)),
    ])
}

/// Tiles [min, max) touched by a box of half-size `radius` around `centre` (as `tile_rect` in WGSL).
pub fn tile_rect(centre: [f32; 2], radius: [f32; 2], tiles: [u32; 2]) -> [u32; 4] {
    let ts = TILE_SIZE as f32;
    let lo = |i: usize| ((centre[i] - radius[i]) / ts).floor().clamp(0.0, tiles[i] as f32) as u32;
    let hi = |i: usize| ((centre[i] + radius[i]) / ts).ceil().clamp(0.0, tiles[i] as f32) as u32;
    [lo(0), lo(1), hi(0), hi(1)]
}

/// Tile grid of an image.
pub fn tile_grid(intr: &Intrinsics) -> [u32; 2] {
    [intr.width.div_ceil(TILE_SIZE), intr.height.div_ceil(TILE_SIZE)]
}

/// Projects one surfel; a zeroed result (tile_count 0) means culled.
pub fn project_one(s: &Splats, i: usize, intr: &Intrinsics, pose: &Pose, cfg: &RasterConfig) -> ProjectedSplat {
    let r_co: Matrix3<f32> = pose.rotation.to_rotation_matrix().matrix().cast();
    let t_co: Vector3<f32> = pose.translation.vector.cast();
    let p_c = r_co * Vector3::from(s.means[i]) + t_co;
    if !(p_c.z >= cfg.near_plane_m) {
        return culled();
    }
    let r_c = r_co * quat_to_rotmat(s.quats[i]);
    let [su, sv] = s.log_scales[i].map(f32::exp);
    let a_u = r_c.column(0) * su;
    let a_v = r_c.column(1) * sv;
    let (fx, fy, cx, cy) = (intr.fx as f32, intr.fy as f32, intr.cx as f32, intr.cy as f32);
    let k_z = Vector3::new(a_u.z, a_v.z, p_c.z);
    let ray_u = Vector3::new(a_u.x, a_v.x, p_c.x) * fx + k_z * cx;
    let ray_v = Vector3::new(a_u.y, a_v.y, p_c.y) * fy + k_z * cy;
    let ray_w = k_z;
    let sgn = Vector3::new(1.0f32, 1.0, -1.0);
    let dist = sgn.dot(&ray_w.component_mul(&ray_w));
    if dist == 0.0 {
        return culled();
    }
    let f = sgn * (1.0 / dist);
    let centre = [f.dot(&ray_u.component_mul(&ray_w)), f.dot(&ray_v.component_mul(&ray_w))];
    let second = [f.dot(&ray_u.component_mul(&ray_u)), f.dot(&ray_v.component_mul(&ray_v))];
    let radius = [0, 1].map(|k| (cfg.extent_sigmas * (centre[k] * centre[k] - second[k]).max(1e-4).sqrt()).ceil());
    let (w, h) = (intr.width as f32, intr.height as f32);
    if centre[0] + radius[0] <= 0.0
        || centre[0] - radius[0] >= w
        || centre[1] + radius[1] <= 0.0
        || centre[1] - radius[1] >= h
    {
        return culled();
    }
    let mut normal: Vector3<f32> = r_c.column(2).into();
    if (-normal).dot(&p_c) <= 0.0 {
        normal = -normal;
    }
    let dc = s.sh[i * sh_coeffs(s.sh_degree)];
    let rect = tile_rect(centre, radius, tile_grid(intr));
    ProjectedSplat {
        ray_u: ray_u.into(),
        centre_x: centre[0],
        ray_v: ray_v.into(),
        centre_y: centre[1],
        ray_w: ray_w.into(),
        depth: p_c.z,
        normal: normal.into(),
        opacity: 1.0 / (1.0 + (-s.opacity_logits[i]).exp()),
        color: dc.map(|c| (0.5 + SH_C0 * c).max(0.0)),
        tile_count: (rect[2] - rect[0]) * (rect[3] - rect[1]),
        radius: radius.map(|r| r as u32),
        _pad: [0; 2],
    }
}

/// Projects every surfel.
pub fn project(s: &Splats, intr: &Intrinsics, pose: &Pose, cfg: &RasterConfig) -> Vec<ProjectedSplat> {
    (0..s.len()).map(|i| project_one(s, i, intr, pose, cfg)).collect()
}

/// Per tile, the indices of the surfels touching it in (depth, index) order: the GPU's sorted tile ranges.
pub fn tile_lists(projected: &[ProjectedSplat], intr: &Intrinsics) -> Vec<Vec<u32>> {
    let tiles = tile_grid(intr);
    let mut lists: Vec<Vec<(u32, u32)>> = vec![Vec::new(); (tiles[0] * tiles[1]) as usize];
    for (i, p) in projected.iter().enumerate() {
        if p.tile_count == 0 {
            continue;
        }
        let r = tile_rect([p.centre_x, p.centre_y], p.radius.map(|v| v as f32), tiles);
        for ty in r[1]..r[3] {
            for tx in r[0]..r[2] {
                lists[(ty * tiles[0] + tx) as usize].push((p.depth.to_bits(), i as u32));
            }
        }
    }
    lists
        .into_iter()
        .map(|mut l| {
            l.sort_unstable();
            l.into_iter().map(|(_, i)| i).collect()
        })
        .collect()
}

/// Renders like the GPU rasterizer, one pixel at a time.
pub fn render(s: &Splats, intr: &Intrinsics, pose: &Pose, cfg: &RasterConfig) -> RenderedView {
    let projected = project(s, intr, pose, cfg);
    let lists = tile_lists(&projected, intr);
    let tiles = tile_grid(intr);
    let mut view = RenderedView::empty(intr.width, intr.height);
    let n = view.pixel_count();
    for y in 0..intr.height {
        for x in 0..intr.width {
            let list = &lists[((y / TILE_SIZE) * tiles[0] + x / TILE_SIZE) as usize];
            let px = composite_pixel(&projected, list, [x as f32 + 0.5, y as f32 + 0.5], cfg);
            let p = (y * intr.width + x) as usize;
            let out = &mut view.planes;
            for c in 0..3 {
                out[CH_RGB[c] * n + p] = px.rgb[c];
                out[CH_NORMAL[c] * n + p] = px.normal[c];
            }
            out[CH_ALPHA * n + p] = 1.0 - px.t;
            out[CH_DEPTH_EXPECTED * n + p] = px.depth;
            out[CH_DEPTH_MEDIAN * n + p] = px.median_depth;
            out[CH_DISTORTION * n + p] = px.distortion;
            out[CH_FINAL_T * n + p] = px.t;
            view.counts[CNT_LAST * n + p] = px.last_count;
            view.counts[CNT_MEDIAN * n + p] = px.median_count;
        }
    }
    view
}

/// One pixel's composited outputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct PixelOut {
    pub rgb: [f32; 3],
    pub t: f32,
    pub depth: f32,
    pub median_depth: f32,
    pub normal: [f32; 3],
    pub distortion: f32,
    pub last_count: u32,
    pub median_count: u32,
}

/// One surfel composited into a pixel: what the backward pass needs to replay it.
#[derive(Debug, Clone, Copy)]
pub struct CompositeStep {
    /// Surfel index.
    pub id: u32,
    /// Position in the tile's list, counted from 1 (the GPU's "walked" count).
    pub walked: u32,
    pub alpha: f32,
    /// Transmittance before this surfel.
    pub t_before: f32,
    /// Alpha was capped at `alpha_max` (so it does not depend on opacity or position).
    pub clamped: bool,
    /// The ray–splat kernel won over the screen-space low-pass filter.
    pub ray_kernel: bool,
    /// The ray meets the surfel's plane within its drawn extent (`extent_sigmas`): the depth is read there.
    pub on_plane: bool,
    /// The depth the pixel sees on the surfel (see [`hit_depth`]).
    pub depth: f32,
}

/// The depth a pixel sees on a surfel: where its ray meets the surfel's plane, at (u, v) in the surfel's scaled
/// frame (the 2DGS paper's choice), also where the low-pass filter gives the surfel its weight (surfels about
/// a pixel wide, as seeded); the centre's depth where that point lies outside the surfel's drawn extent (a
/// surfel seen edge-on). Compositing centre depths (gsplat's choice) makes a slanted surface of overlapping
/// surfels render in front of itself, since the nearest centre composites first: a sphere seeded from its own
/// render came back 1.5 mm nearer than it was seeded (0.9 mm with plane depths: a convex surface's tangent
/// planes lie outside it), and fitting moved surfels behind the observed surface to make up for it.
pub fn hit_depth(g: &ProjectedSplat, uv: Option<Vector2<f32>>) -> f32 {
    uv.map_or(g.depth, |uv| g.ray_w[0] * uv.x + g.ray_w[1] * uv.y + g.ray_w[2])
}

/// The surfels of `list` (front first) that composite into the pixel centred at `pix`, in order.
pub fn composite_list(
    projected: &[ProjectedSplat],
    list: &[u32],
    pix: [f32; 2],
    cfg: &RasterConfig,
) -> Vec<CompositeStep> {
    let mut steps = Vec::new();
    let mut t = 1.0f32;
    for (k, &id) in list.iter().enumerate() {
        let g = &projected[id as usize];
        let (ru, rv, rw) = (Vector3::from(g.ray_u), Vector3::from(g.ray_v), Vector3::from(g.ray_w));
        let h_u = rw * pix[0] - ru;
        let h_v = rw * pix[1] - rv;
        let zeta = h_u.cross(&h_v);
        if zeta.z == 0.0 {
            continue;
        }
        let uv = Vector2::new(zeta.x / zeta.z, zeta.y / zeta.z);
        let d = Vector2::new(g.centre_x - pix[0], g.centre_y - pix[1]);
        let (ray, filter) = (uv.dot(&uv), cfg.low_pass_inv_square_px * d.dot(&d));
        let sigma = 0.5 * ray.min(filter);
        let unclamped = g.opacity * (-sigma).exp();
        let alpha = cfg.alpha_max.min(unclamped);
        if sigma < 0.0 || alpha < cfg.alpha_min {
            continue;
        }
        let next_t = t * (1.0 - alpha);
        if next_t <= cfg.transmittance_min {
            break;
        }
        let on_plane = ray <= cfg.extent_sigmas * cfg.extent_sigmas;
        steps.push(CompositeStep {
            id,
            walked: k as u32 + 1,
            alpha,
            t_before: t,
            clamped: unclamped > cfg.alpha_max,
            ray_kernel: ray <= filter,
            on_plane,
            depth: hit_depth(g, on_plane.then_some(uv)),
        });
        t = next_t;
    }
    steps
}

/// Front-to-back compositing of `list` (indices into `projected`, front first) at pixel centre `pix`.
pub fn composite_pixel(projected: &[ProjectedSplat], list: &[u32], pix: [f32; 2], cfg: &RasterConfig) -> PixelOut {
    let mut o = PixelOut { t: 1.0, ..Default::default() };
    let mut vis_depth_sum = 0.0f32;
    for step in composite_list(projected, list, pix, cfg) {
        let g = &projected[step.id as usize];
        let vis = step.alpha * o.t;
        for c in 0..3 {
            o.rgb[c] += g.color[c] * vis;
            o.normal[c] += g.normal[c] * vis;
        }
        o.depth += step.depth * vis;
        o.distortion += 2.0 * (vis * step.depth * (1.0 - o.t) - vis * vis_depth_sum);
        vis_depth_sum += vis * step.depth;
        if o.t > cfg.median_transmittance {
            o.median_depth = step.depth;
            o.median_count = step.walked;
        }
        o.last_count = step.walked;
        o.t *= 1.0 - step.alpha;
    }
    o
}
