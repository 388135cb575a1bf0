//! The CPU twin of `shaders/loss.wgsl`: the fitting loss of one rendered view against an observed RGB-D
//! frame, and its gradient with respect to every rendered output.

use nalgebra::Vector3;

use crate::config::LossConfig;
use crate::frame::Intrinsics;
use crate::rendered::{CH_ALPHA, CH_DEPTH_EXPECTED, CH_DISTORTION, CH_NORMAL, CH_RGB, RenderedView};

/// Planes of an observation: red, green, blue (0..1), depth (m, 0 = invalid), mask (0 or 1).
pub const TARGET_CHANNELS: usize = 5;
/// Alpha above which a rendered pixel has a surface (mean depth defined).
pub const SURFACE_ALPHA: f32 = 0.5;

/// Loss terms of one view, each already weighted and divided by the pixel count.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct LossTerms {
    pub color: f32,
    pub depth: f32,
    pub mask: f32,
    pub normal: f32,
    pub distortion: f32,
}

impl std::ops::AddAssign for LossTerms {
    fn add_assign(&mut self, other: Self) {
        self.color += other.color;
        self.depth += other.depth;
        self.mask += other.mask;
        self.normal += other.normal;
        self.distortion += other.distortion;
    }
}

impl LossTerms {
    /// Sum of the terms.
    pub fn total(&self) -> f32 {
        self.color + self.depth + self.mask + self.normal + self.distortion
    }
}

fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Rendered mean depth (m) at pixel `p`, where the pixel has a surface.
fn mean_depth(view: &RenderedView, p: usize) -> Option<f32> {
    let alpha = view.plane(CH_ALPHA)[p];
    (alpha > SURFACE_ALPHA).then(|| view.plane(CH_DEPTH_EXPECTED)[p] / alpha)
}

/// Normal of the rendered depth map at (x, y): cross product of central differences of back-projected
/// mean depths, facing the camera; None at the border or where a neighbour has no surface.
pub fn depth_normal(view: &RenderedView, k: &Intrinsics, x: u32, y: u32) -> Option<Vector3<f32>> {
    if x == 0 || y == 0 || x + 1 >= view.width || y + 1 >= view.height {
        return None;
    }
    let w = view.width;
    let point = |px: u32, py: u32| -> Option<Vector3<f32>> {
        let d = mean_depth(view, (py * w + px) as usize)?;
        Some(
            Vector3::new(
                (px as f32 + 0.5 - k.cx as f32) / k.fx as f32,
                (py as f32 + 0.5 - k.cy as f32) / k.fy as f32,
                1.0,
            ) * d,
        )
    };
    let dx = point(x + 1, y)? - point(x - 1, y)?;
    let dy = point(x, y + 1)? - point(x, y - 1)?;
    let n = dx.cross(&dy);
    let len = n.norm();
    if len == 0.0 {
        return None;
    }
    let n = n / len;
    let centre = point(x, y)?;
    Some(if n.dot(&centre) > 0.0 { -n } else { n })
}

/// The loss of `view` against `target` and its gradient planes (laid out like the view).
pub fn loss_and_grads(
    view: &RenderedView,
    target: &[f32],
    k: &Intrinsics,
    cfg: &LossConfig,
) -> (LossTerms, RenderedView) {
    let n = view.pixel_count();
    assert_eq!(target.len(), TARGET_CHANNELS * n, "target planes do not match the view");
    let inv = 1.0 / n as f32;
    let mut terms = LossTerms::default();
    let mut grads = RenderedView::empty(view.width, view.height);
    grads.planes.fill(0.0);
    let t = |c: usize, p: usize| target[c * n + p];
    for y in 0..view.height {
        for x in 0..view.width {
            let p = (y * view.width + x) as usize;
            let alpha = view.plane(CH_ALPHA)[p];
            let (depth_obs, mask) = (t(3, p), t(4, p));
            let rendered_depth = mean_depth(view, p);
            let occluded = mask == 0.0
                && depth_obs > 0.0
                && rendered_depth.is_some_and(|d| depth_obs < d - cfg.occlusion_margin_m);
            if occluded {
                continue;
            }
            let g = &mut grads.planes;
            for c in 0..3 {
                let diff = view.plane(CH_RGB[c])[p] - mask * t(c, p);
                terms.color += cfg.color_l1 * diff.abs() * inv;
                g[CH_RGB[c] * n + p] = cfg.color_l1 * sign(diff) * inv;
            }
            let diff = alpha - mask;
            terms.mask += cfg.mask_l1 * diff.abs() * inv;
            g[CH_ALPHA * n + p] = cfg.mask_l1 * sign(diff) * inv;
            if let Some(d) = rendered_depth
                && mask > 0.0
                && depth_obs > 0.0
            {
                let diff = d - depth_obs;
                terms.depth += cfg.depth_l1 * diff.abs() * inv;
                let s = cfg.depth_l1 * sign(diff) * inv;
                g[CH_DEPTH_EXPECTED * n + p] = s / alpha;
                g[CH_ALPHA * n + p] -= s * d / alpha;
            }
            if let Some(surface) = depth_normal(view, k, x, y) {
                let rendered =
                    Vector3::new(view.plane(CH_NORMAL[0])[p], view.plane(CH_NORMAL[1])[p], view.plane(CH_NORMAL[2])[p]);
                terms.normal += cfg.normal * (alpha - rendered.dot(&surface)) * inv;
                for c in 0..3 {
                    g[CH_NORMAL[c] * n + p] = -cfg.normal * surface[c] * inv;
                }
            }
            terms.distortion += cfg.distortion * view.plane(CH_DISTORTION)[p] * inv;
            g[CH_DISTORTION * n + p] = cfg.distortion * inv;
        }
    }
    (terms, grads)
}
