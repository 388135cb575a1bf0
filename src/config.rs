//! Every tunable number of splatrack, in one place, with the reason for its value.
//!
//! The GPU kernels receive these as WGSL pipeline-overridable constants and the CPU reference reads the same
//! struct, so the two can never disagree about a threshold.

use serde::{Deserialize, Serialize};

/// Rasterizer conventions. The defaults are those of gsplat 1.5's `rasterization_2dgs`, which splatrack's renders
/// are compared against; change them only knowingly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RasterConfig {
    /// Surfels whose centre is nearer than this (metres, camera z) are culled; gsplat's `near_plane`.
    pub near_plane_m: f32,
    /// Per-surfel opacity after the Gaussian falloff is capped here so transmittance never reaches exactly 0.
    pub alpha_max: f32,
    /// Contributions below this alpha are skipped (they are invisible in 8-bit output).
    pub alpha_min: f32,
    /// Compositing stops before a surfel that would bring transmittance to or below this.
    pub transmittance_min: f32,
    /// Screen-space extent of a surfel in standard deviations (the 3-sigma bound, slightly padded).
    pub extent_sigmas: f32,
    /// Inverse squared radius of the screen-space low-pass filter, in pixels⁻² (gsplat's `FILTER_INV_SQUARE`):
    /// keeps surfels seen edge-on at least about a pixel wide.
    pub low_pass_inv_square_px: f32,
    /// Transmittance above which a surfel still counts towards the median depth.
    pub median_transmittance: f32,
}

impl Default for RasterConfig {
    fn default() -> Self {
        Self {
            near_plane_m: 0.01,
            alpha_max: 0.999,
            alpha_min: 1.0 / 255.0,
            transmittance_min: 1e-4,
            extent_sigmas: 3.33,
            low_pass_inv_square_px: 2.0,
            median_transmittance: 0.5,
        }
    }
}

impl RasterConfig {
    /// The values as WGSL `override` constants, by the names the shaders declare.
    pub fn wgsl_constants(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("NEAR_PLANE", self.near_plane_m as f64),
            ("ALPHA_MAX", self.alpha_max as f64),
            ("ALPHA_MIN", self.alpha_min as f64),
            ("TRANSMITTANCE_MIN", self.transmittance_min as f64),
            ("EXTENT_SIGMAS", self.extent_sigmas as f64),
            ("LOW_PASS_INV_SQUARE", self.low_pass_inv_square_px as f64),
            ("MEDIAN_TRANSMITTANCE", self.median_transmittance as f64),
        ]
    }
}

/// Side of the square screen tiles the rasterizer bins surfels into (pixels). Fixed: the raster kernel's
/// workgroup is one tile, and WGSL workgroup sizes must be literal.
pub const TILE_SIZE: u32 = 16;

/// Weights of the fitting losses. Each term is a mean over the image's pixels, so weights do not depend on
/// image size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LossConfig {
    /// L1 between rendered colour (over black) and the observed colour inside the object mask.
    pub color_l1: f32,
    /// L1 between rendered mean depth and observed depth (metres), where both exist inside the mask.
    pub depth_l1: f32,
    /// L1 between rendered alpha and the object mask: learns the silhouette, keeps the background empty.
    pub mask_l1: f32,
    /// 2DGS normal consistency: rendered normals against normals of the rendered depth (held fixed).
    pub normal: f32,
    /// 2DGS depth distortion (metres²-scaled); pulls the surfels along each ray together.
    pub distortion: f32,
    /// A pixel outside the mask whose observed depth lies this far in front of the rendered surface shows
    /// an occluder (a hand): it is left out of every term rather than pushed to empty.
    pub occlusion_margin_m: f32,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self { color_l1: 1.0, depth_l1: 10.0, mask_l1: 0.5, normal: 0.05, distortion: 10.0, occlusion_margin_m: 0.01 }
    }
}

/// Adam settings and learning rates per parameter group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    /// Gradients are clipped element-wise to ±this before Adam.
    pub grad_clip: f32,
    /// Metres per step for surfel centres (objects are ~10 cm: a few tenths of a millimetre).
    pub lr_means_m: f32,
    pub lr_quats: f32,
    pub lr_log_scales: f32,
    pub lr_opacity_logits: f32,
    pub lr_colors: f32,
    /// Radians per step for pose rotations.
    pub lr_pose_rotation: f32,
    /// Metres per step for pose translations.
    pub lr_pose_translation_m: f32,
    /// Iterations between loss read-backs in a fitting loop (the only read-back of the loop).
    pub loss_readback_interval: u32,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-15,
            grad_clip: 1e3,
            lr_means_m: 3e-4,
            lr_quats: 2e-3,
            lr_log_scales: 1e-2,
            lr_opacity_logits: 5e-2,
            lr_colors: 2e-2,
            lr_pose_rotation: 2e-3,
            lr_pose_translation_m: 5e-4,
            loss_readback_interval: 25,
        }
    }
}

/// How new surfels are seeded from a depth frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedConfig {
    /// One surfel per this many pixels along each image axis.
    pub stride_px: u32,
    /// Surfel scale as a share of the pixel grid spacing at its depth: 0.6 makes neighbours overlap at
    /// about one standard deviation, so the seeded surface has no holes.
    pub scale_of_spacing: f32,
    /// Starting opacity.
    pub opacity: f32,
    /// Depth differences larger than this between neighbours mark a silhouette edge: no normal there (m).
    pub max_depth_step_m: f32,
}

impl Default for SeedConfig {
    fn default() -> Self {
        Self { stride_px: 2, scale_of_spacing: 0.6, opacity: 0.8, max_depth_step_m: 0.01 }
    }
}
