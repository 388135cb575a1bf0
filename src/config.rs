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
