//! The photometric half of dense alignment: model surfels carry colours; projected into the current frame's
//! intensity pyramid they must match what the camera sees. Texture pins the sliding that geometry alone
//! leaves free (a box face, a bottle's axis).
//!
//! Both sides are compared as *detail*: grey level divided by its local mean, minus one. Shading (the light,
//! the surface turning towards or away from it) multiplies the albedo by a slowly varying factor, which the
//! ratio cancels; comparing raw grey levels instead lets a moving highlight drag the pose along.

use nalgebra::{Matrix6, Vector6};

use super::icp::{add_image_residual, cauchy, facing_projection};

use super::model_index::ModelIndex;
use crate::frame::{Intrinsics, Pose, RgbdFrame};

/// Detail images (grey over local mean, minus one) of a frame at 1, 1/2, 1/4 … resolution.
pub struct IntensityPyramid {
    levels: Vec<Level>,
    intrinsics: Intrinsics,
}

struct Level {
    width: usize,
    height: usize,
    values: Vec<f32>,
}

impl Level {
    fn at(&self, x: usize, y: usize) -> f32 {
        self.values[y * self.width + x]
    }

    /// Bilinear value and central-difference gradient at (x, y) in this level's pixel centres.
    fn sample(&self, x: f64, y: f64) -> Option<(f64, f64, f64)> {
        if x < 1.0 || y < 1.0 || x >= (self.width - 2) as f64 || y >= (self.height - 2) as f64 {
            return None;
        }
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let bilinear = |dx: isize, dy: isize| {
            let (xa, ya) = ((x0 as isize + dx) as usize, (y0 as isize + dy) as usize);
            let top = self.at(xa, ya) * (1.0 - fx) + self.at(xa + 1, ya) * fx;
            let bottom = self.at(xa, ya + 1) * (1.0 - fx) + self.at(xa + 1, ya + 1) * fx;
            top * (1.0 - fy) + bottom * fy
        };
        let v = bilinear(0, 0);
        let gx = 0.5 * (bilinear(1, 0) - bilinear(-1, 0));
        let gy = 0.5 * (bilinear(0, 1) - bilinear(0, -1));
        Some((v as f64, gx as f64, gy as f64))
    }
}

impl IntensityPyramid {
    /// `levels` levels, each the 2×2 average of the one above.
    pub fn new(frame: &RgbdFrame, levels: usize) -> Self {
        let (w, h) = frame.rgb.dimensions();
        let base = Level { width: w as usize, height: h as usize, values: frame.rgb.pixels().map(|p| (p[0] as f32 + p[1] as f32 + p[2] as f32) / 765.0).collect() };
        let mut out = vec![base];
        for _ in 1..levels.max(1) {
            let up = out.last().expect("one level at least");
            let (w, h) = (up.width / 2, up.height / 2);
            if w < 8 || h < 8 {
                break;
            }
            let mut values = Vec::with_capacity(w * h);
            for y in 0..h {
                for x in 0..w {
                    values.push(0.25 * (up.at(2 * x, 2 * y) + up.at(2 * x + 1, 2 * y) + up.at(2 * x, 2 * y + 1) + up.at(2 * x + 1, 2 * y + 1)));
                }
            }
            out.push(Level { width: w, height: h, values });
        }
        for level in &mut out {
            level.values = detail(&level.values, level.width, level.height);
        }
        Self { levels: out, intrinsics: frame.intrinsics }
    }

    /// Number of levels built.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// True when there are no levels (never: `new` builds at least one).
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Intensity and its gradient (per full-resolution pixel) at full-resolution pixel position (u, v), read
    /// from `level`.
    fn sample(&self, level: usize, u: f64, v: f64) -> Option<(f64, f64, f64)> {
        let l = level.min(self.levels.len() - 1);
        let s = (1u32 << l) as f64;
        let (i, gx, gy) = self.levels[l].sample((u + 0.5) / s - 0.5, (v + 0.5) / s - 0.5)?;
        Some((i, gx / s, gy / s))
    }
}

/// Half-width of the box whose mean a pixel's grey level is divided by (pixels of its pyramid level).
const DETAIL_RADIUS_PX: usize = 3;
/// Keeps the ratio finite on black.
const DETAIL_EPSILON: f32 = 0.02;

/// Grey over the local box mean, minus one (summed-area table).
fn detail(values: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut integral = vec![0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0.0;
        for x in 0..w {
            row += values[y * w + x] as f64;
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
        }
    }
    let r = DETAIL_RADIUS_PX;
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| {
            let (x0, y0, x1, y1) = (x.saturating_sub(r), y.saturating_sub(r), (x + r + 1).min(w), (y + r + 1).min(h));
            let sum = integral[y1 * (w + 1) + x1] - integral[y0 * (w + 1) + x1] - integral[y1 * (w + 1) + x0] + integral[y0 * (w + 1) + x0];
            let mean = (sum / ((x1 - x0) * (y1 - y0)) as f64) as f32;
            values[y * w + x] / (mean + DETAIL_EPSILON) - 1.0
        })
        .collect()
}

/// The same detail measure for a model surfel: its grey level over the mean of its neighbours.
pub fn surfel_detail(grey: f64, neighbourhood_mean: f64) -> f64 {
    grey / (neighbourhood_mean + DETAIL_EPSILON as f64) - 1.0
}

/// Adds the photometric residuals of every camera-facing, unoccluded model point to the normal equations;
/// `weight` converts detail units to metres. Returns the number of points used.
#[allow(clippy::too_many_arguments)]
pub fn accumulate_photometric(
    h: &mut Matrix6<f64>,
    g: &mut Vector6<f64>,
    model: &ModelIndex,
    pose: &Pose,
    frame: &RgbdFrame,
    pyramid: &IntensityPyramid,
    level: usize,
    weight: f64,
    occlusion_m: f64,
) -> usize {
    let k = &pyramid.intrinsics;
    let (w, hgt) = (k.width as f64, k.height as f64);
    let mut used = 0;
    for ((m, n), c) in model.points.iter().zip(&model.normals).zip(&model.detail) {
        let Some((p, u, v)) = facing_projection(pose, k, m, n) else { continue };
        if u < 0.0 || v < 0.0 || u >= w - 1.0 || v >= hgt - 1.0 {
            continue;
        }
        // Seen by the camera here, not hidden behind a hand or by the object itself.
        let observed = frame.depth_m.get_pixel(u.round() as u32, v.round() as u32)[0] as f64;
        if !(observed > 0.0 && (observed - p.z).abs() < occlusion_m) {
            continue;
        }
        let Some((i, gx, gy)) = pyramid.sample(level, u, v) else { continue };
        let r = i - c;
        add_image_residual(h, g, &p, k, r, (gx, gy), weight, cauchy(r, PHOTOMETRIC_SIGMA));
        used += 1;
    }
    used
}

/// Scale of the Cauchy weight on detail residuals: what shading the ratio leaves, and noise.
const PHOTOMETRIC_SIGMA: f64 = 0.1;
