//! The CPU twin of the backward pass: analytic gradients of a loss, given its gradients with respect to the
//! rendered outputs, with respect to every surfel parameter and the object pose (a left-perturbation twist).
//!
//! Same order as the GPU: per pixel, walk the composited surfels back to front (as `raster_bwd.wgsl`),
//! collecting gradients of each surfel's projected quantities; then chain those through the projection
//! (as `project_bwd.wgsl`). Written for clarity; the finite-difference tests check it.

use nalgebra::{Matrix3, Vector2, Vector3};

use super::{composite_list, project, quat_to_rotmat, tile_grid, tile_lists};
use crate::config::{RasterConfig, TILE_SIZE};
use crate::frame::{Intrinsics, Pose};
use crate::gpu::gpu_data::ProjectedSplat;
use crate::rendered::{CH_ALPHA, CH_DEPTH_EXPECTED, CH_DISTORTION, CH_NORMAL, CH_RGB, RenderedView};
use crate::splats::{SH_C0, Splats, sh_coeffs};

/// Gradients of a scalar loss with respect to the model's parameters and the object pose.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SplatGrads {
    pub means: Vec<[f32; 3]>,
    pub quats: Vec<[f32; 4]>,
    pub log_scales: Vec<[f32; 2]>,
    pub opacity_logits: Vec<f32>,
    /// Band-0 colour coefficients only (the renderer evaluates band 0).
    pub sh_dc: Vec<[f32; 3]>,
    /// d loss / d ξ for T_co ← exp(ξ^) · T_co, ξ = (ρ, φ): translation part first.
    pub pose_twist: [f32; 6],
}

/// Gradients of the loss with respect to one surfel's projected quantities (what the raster backward
/// accumulates; the mirror of `ProjectedGrads` in WGSL).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProjectedGrads {
    pub ray_u: Vector3<f32>,
    pub ray_v: Vector3<f32>,
    pub ray_w: Vector3<f32>,
    pub centre: Vector2<f32>,
    pub depth: f32,
    pub normal: Vector3<f32>,
    pub color: Vector3<f32>,
    pub opacity: f32,
}

/// Gradients of one pixel's outputs (what the loss hands the backward pass).
#[derive(Debug, Clone, Copy, Default)]
pub struct PixelGrads {
    pub rgb: Vector3<f32>,
    pub alpha: f32,
    pub depth: f32,
    pub normal: Vector3<f32>,
    pub distortion: f32,
}

impl PixelGrads {
    /// Reads pixel `p` of a view whose planes hold d loss / d output.
    pub fn from_view(upstream: &RenderedView, p: usize) -> Self {
        let at = |c: usize| upstream.plane(c)[p];
        Self {
            rgb: Vector3::new(at(CH_RGB[0]), at(CH_RGB[1]), at(CH_RGB[2])),
            alpha: at(CH_ALPHA),
            depth: at(CH_DEPTH_EXPECTED),
            normal: Vector3::new(at(CH_NORMAL[0]), at(CH_NORMAL[1]), at(CH_NORMAL[2])),
            distortion: at(CH_DISTORTION),
        }
    }
}

/// Back-to-front pass over one pixel's composited surfels, adding into `grads` (indexed by surfel).
pub fn pixel_backward(
    projected: &[ProjectedSplat],
    list: &[u32],
    pix: [f32; 2],
    cfg: &RasterConfig,
    g: &PixelGrads,
    grads: &mut [ProjectedGrads],
) {
    let steps = composite_list(projected, list, pix, cfg);
    let Some(last) = steps.last() else { return };
    let t_final = last.t_before * (1.0 - last.alpha);
    let expected_depth: f32 = steps.iter().map(|s| s.alpha * s.t_before * s.depth).sum();
    // Sums over the surfels behind the current one: Σ g_vis·vis, Σ vis·z, Σ vis.
    let (mut behind_gvis, mut behind_vis_z, mut behind_vis) = (0.0f32, 0.0f32, 0.0f32);
    for s in steps.iter().rev() {
        let sp = &projected[s.id as usize];
        let (alpha, t) = (s.alpha, s.t_before);
        let vis = alpha * t;
        let (z, color, normal) = (s.depth, Vector3::from(sp.color), Vector3::from(sp.normal));
        // Sums over the surfels in front: Σ vis = 1 − T, Σ vis·z.
        let front_vis = 1.0 - t;
        let front_vis_z = expected_depth - vis * z - behind_vis_z;
        let d_dist_d_vis = 2.0 * (z * front_vis - front_vis_z) + 2.0 * (behind_vis_z - z * behind_vis);
        let g_vis = g.rgb.dot(&color) + g.depth * z + g.normal.dot(&normal) + g.distortion * d_dist_d_vis;

        let out = &mut grads[s.id as usize];
        out.color += g.rgb * vis;
        out.normal += g.normal * vis;
        let g_z = g.depth * vis + g.distortion * 2.0 * vis * (front_vis - behind_vis);
        let g_alpha = g_vis * t - behind_gvis / (1.0 - alpha) + g.alpha * t_final / (1.0 - alpha);
        behind_gvis += g_vis * vis;
        behind_vis_z += vis * z;
        behind_vis += vis;

        let (ru, rv, rw) = (Vector3::from(sp.ray_u), Vector3::from(sp.ray_v), Vector3::from(sp.ray_w));
        let h_u = rw * pix[0] - ru;
        let h_v = rw * pix[1] - rv;
        let zeta = h_u.cross(&h_v);
        let uv = Vector2::new(zeta.x / zeta.z, zeta.y / zeta.z);
        // z = ray_w · (u, v, 1) on the surfel's plane, the centre's depth outside its extent.
        let mut g_uv = Vector2::zeros();
        if s.on_plane {
            out.ray_w += Vector3::new(uv.x, uv.y, 1.0) * g_z;
            g_uv += Vector2::new(rw.x, rw.y) * g_z;
        } else {
            out.depth += g_z;
        }
        if !s.clamped {
            // α = o·e^(−σ)
            let gauss = alpha / sp.opacity;
            out.opacity += g_alpha * gauss;
            let g_sigma = -g_alpha * alpha;
            if s.ray_kernel {
                // σ = ½|uv|²
                g_uv += uv * g_sigma;
            } else {
                // σ = ½·F·|centre − pixel|²
                let d = Vector2::new(sp.centre_x - pix[0], sp.centre_y - pix[1]);
                out.centre += d * (g_sigma * cfg.low_pass_inv_square_px);
            }
        }
        if s.on_plane || s.ray_kernel {
            let g_zeta = Vector3::new(
                g_uv.x / zeta.z,
                g_uv.y / zeta.z,
                -(g_uv.x * zeta.x + g_uv.y * zeta.y) / (zeta.z * zeta.z),
            );
            let g_hu = h_v.cross(&g_zeta);
            let g_hv = g_zeta.cross(&h_u);
            out.ray_u -= g_hu;
            out.ray_v -= g_hv;
            out.ray_w += g_hu * pix[0] + g_hv * pix[1];
        }
    }
}

/// Chains one surfel's projected gradients to its parameters; returns its share of the pose twist gradient.
#[allow(clippy::too_many_arguments)]
pub fn project_backward(
    s: &Splats,
    i: usize,
    intr: &Intrinsics,
    pose: &Pose,
    p: &ProjectedSplat,
    g: &ProjectedGrads,
    out: &mut SplatGrads,
) -> [f32; 6] {
    if p.tile_count == 0 {
        return [0.0; 6];
    }
    let r_co: Matrix3<f32> = pose.rotation.to_rotation_matrix().matrix().cast();
    let t_co: Vector3<f32> = pose.translation.vector.cast();
    let p_c = r_co * Vector3::from(s.means[i]) + t_co;
    let q = s.quats[i];
    let r = quat_to_rotmat(q);
    let r_c = r_co * r;
    let [su, sv] = s.log_scales[i].map(f32::exp);
    let (fx, fy, cx, cy) = (intr.fx as f32, intr.fy as f32, intr.cx as f32, intr.cy as f32);
    let (u, v, w) = (Vector3::from(p.ray_u), Vector3::from(p.ray_v), Vector3::from(p.ray_w));

    // Centre = (Σ sgn·u·w, Σ sgn·v·w) / Σ sgn·w².
    let sgn = Vector3::new(1.0f32, 1.0, -1.0);
    let dist = sgn.dot(&w.component_mul(&w));
    let (mut g_u, mut g_v, mut g_w) = (g.ray_u, g.ray_v, g.ray_w);
    g_u += sgn.component_mul(&w) * (g.centre.x / dist);
    g_v += sgn.component_mul(&w) * (g.centre.y / dist);
    g_w += sgn.component_mul(&(u - w * (2.0 * p.centre_x))) * (g.centre.x / dist);
    g_w += sgn.component_mul(&(v - w * (2.0 * p.centre_y))) * (g.centre.y / dist);

    // u = fx·(a_u.x, a_v.x, p.x) + cx·(a_u.z, a_v.z, p.z); v likewise with y; w = (a_u.z, a_v.z, p.z).
    let g_m2 = g_u * cx + g_v * cy + g_w;
    let g_a_u = Vector3::new(fx * g_u.x, fy * g_v.x, g_m2.x);
    let g_a_v = Vector3::new(fx * g_u.y, fy * g_v.y, g_m2.y);
    let g_p_c = Vector3::new(fx * g_u.z, fy * g_v.z, g_m2.z + g.depth);
    let normal_sign = if (-r_c.column(2)).dot(&p_c) <= 0.0 { -1.0 } else { 1.0 };
    let g_n = g.normal * normal_sign;

    let mut g_rc = Matrix3::zeros();
    g_rc.set_column(0, &(g_a_u * su));
    g_rc.set_column(1, &(g_a_v * sv));
    g_rc.set_column(2, &g_n);
    out.log_scales[i][0] += su * r_c.column(0).dot(&g_a_u);
    out.log_scales[i][1] += sv * r_c.column(1).dot(&g_a_v);
    let g_r = r_co.transpose() * g_rc;
    let g_q = quat_backward(q, &g_r);
    for k in 0..4 {
        out.quats[i][k] += g_q[k];
    }
    let g_mean = r_co.transpose() * g_p_c;
    for k in 0..3 {
        out.means[i][k] += g_mean[k];
    }
    let o = p.opacity;
    out.opacity_logits[i] += g.opacity * o * (1.0 - o);
    let dc = s.sh[i * sh_coeffs(s.sh_degree)];
    for k in 0..3 {
        if 0.5 + SH_C0 * dc[k] > 0.0 {
            out.sh_dc[i][k] += SH_C0 * g.color[k];
        }
    }
    // Left twist: p_c, the tangent columns and the normal column all turn with φ; p_c also moves with ρ.
    let a_u = r_c.column(0) * su;
    let a_v = r_c.column(1) * sv;
    let n_col: Vector3<f32> = r_c.column(2).into();
    let g_phi = p_c.cross(&g_p_c) + a_u.cross(&g_a_u) + a_v.cross(&g_a_v) + n_col.cross(&g_n);
    [g_p_c.x, g_p_c.y, g_p_c.z, g_phi.x, g_phi.y, g_phi.z]
}

/// d loss / d (w, x, y, z) of an unnormalised quaternion, given d loss / d R.
pub fn quat_backward(q: [f32; 4], g: &Matrix3<f32>) -> [f32; 4] {
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let [w, x, y, z] = q.map(|v| v / n);
    let gw = 2.0 * (-z * g[(0, 1)] + y * g[(0, 2)] + z * g[(1, 0)] - x * g[(1, 2)] - y * g[(2, 0)] + x * g[(2, 1)]);
    let gx = 2.0
        * (y * g[(0, 1)] + z * g[(0, 2)] + y * g[(1, 0)] - 2.0 * x * g[(1, 1)] - w * g[(1, 2)]
            + z * g[(2, 0)]
            + w * g[(2, 1)]
            - 2.0 * x * g[(2, 2)]);
    let gy = 2.0
        * (-2.0 * y * g[(0, 0)] + x * g[(0, 1)] + w * g[(0, 2)] + x * g[(1, 0)] + z * g[(1, 2)] - w * g[(2, 0)]
            + z * g[(2, 1)]
            - 2.0 * y * g[(2, 2)]);
    let gz = 2.0
        * (-2.0 * z * g[(0, 0)] - w * g[(0, 1)] + x * g[(0, 2)] + w * g[(1, 0)] - 2.0 * z * g[(1, 1)]
            + y * g[(1, 2)]
            + x * g[(2, 0)]
            + y * g[(2, 1)]);
    // Through the normalisation q̂ = q / |q|.
    let gh = [gw, gx, gy, gz];
    let dot = w * gw + x * gx + y * gy + z * gz;
    let qh = [w, x, y, z];
    std::array::from_fn(|k| (gh[k] - qh[k] * dot) / n)
}

/// Gradients of the loss whose per-pixel output gradients are the planes of `upstream`.
pub fn backward(s: &Splats, intr: &Intrinsics, pose: &Pose, cfg: &RasterConfig, upstream: &RenderedView) -> SplatGrads {
    let projected = project(s, intr, pose, cfg);
    let lists = tile_lists(&projected, intr);
    let tiles = tile_grid(intr);
    let mut projected_grads = vec![ProjectedGrads::default(); s.len()];
    for y in 0..intr.height {
        for x in 0..intr.width {
            let list = &lists[((y / TILE_SIZE) * tiles[0] + x / TILE_SIZE) as usize];
            let g = PixelGrads::from_view(upstream, (y * intr.width + x) as usize);
            pixel_backward(&projected, list, [x as f32 + 0.5, y as f32 + 0.5], cfg, &g, &mut projected_grads);
        }
    }
    let n = s.len();
    let mut out = SplatGrads {
        means: vec![[0.0; 3]; n],
        quats: vec![[0.0; 4]; n],
        log_scales: vec![[0.0; 2]; n],
        opacity_logits: vec![0.0; n],
        sh_dc: vec![[0.0; 3]; n],
        pose_twist: [0.0; 6],
    };
    for i in 0..n {
        let twist = project_backward(s, i, intr, pose, &projected[i], &projected_grads[i], &mut out);
        for k in 0..6 {
            out.pose_twist[k] += twist[k];
        }
    }
    out
}
