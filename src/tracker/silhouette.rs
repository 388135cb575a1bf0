//! The silhouette half of dense alignment: model surfels facing the camera must project inside the observed
//! object mask. Outside it they are pulled in along the mask's distance transform. This pins the in-plane
//! sliding and turning that depth leaves free on flat, plain faces (the red bottom of a box).

use super::geometry::mask_box;
use super::icp::{add_image_residual, cauchy, facing_projection};
use super::model_index::ModelIndex;
use super::normal_equations::NormalEquations;
use crate::config::TrackingConfig;
use crate::frame::{Mask, Pose, RgbdFrame};

/// Distances (pixels) beyond this are clipped: far-off points are outliers, not guides.
const MAX_DISTANCE_PX: f32 = 40.0;

/// For every pixel, the distance to the nearest mask pixel (0 inside), by a two-pass 3-4 chamfer transform.
/// Computed only over the mask's bounding box grown by [`MAX_DISTANCE_PX`]: every pixel beyond lies at least
/// that far from the mask, so its distance is the clipped one anyway, and no shorter path runs through it.
pub struct MaskDistance {
    width: usize,
    height: usize,
    /// The computed box: its top-left pixel and size.
    x0: usize,
    y0: usize,
    box_width: usize,
    box_height: usize,
    values: Vec<f32>,
}

impl MaskDistance {
    /// The transform of `mask`.
    pub fn new(mask: &Mask) -> Self {
        let (width, height) = (mask.width() as usize, mask.height() as usize);
        // Beyond the clip distance, plus one pixel: there every distance is the clipped one.
        let (x0, y0, w, h) = match mask_box(mask, MAX_DISTANCE_PX as u32 + 1) {
            Some((x0, y0, x1, y1)) => (x0 as usize, y0 as usize, (x1 - x0 + 1) as usize, (y1 - y0 + 1) as usize),
            None => (0, 0, 0, 0),
        };
        let mut d: Vec<f32> = (0..w * h)
            .map(
                |i| if mask.get_pixel((x0 + i % w) as u32, (y0 + i / w) as u32)[0] > 0 { 0.0 } else { MAX_DISTANCE_PX },
            )
            .collect();
        let (a, b) = (1.0f32, 4.0f32 / 3.0);
        for y in 0..h {
            for x in 0..w {
                let mut v = d[y * w + x];
                if x > 0 {
                    v = v.min(d[y * w + x - 1] + a);
                }
                if y > 0 {
                    v = v.min(d[(y - 1) * w + x] + a);
                    if x > 0 {
                        v = v.min(d[(y - 1) * w + x - 1] + b);
                    }
                    if x + 1 < w {
                        v = v.min(d[(y - 1) * w + x + 1] + b);
                    }
                }
                d[y * w + x] = v;
            }
        }
        for y in (0..h).rev() {
            for x in (0..w).rev() {
                let mut v = d[y * w + x];
                if x + 1 < w {
                    v = v.min(d[y * w + x + 1] + a);
                }
                if y + 1 < h {
                    v = v.min(d[(y + 1) * w + x] + a);
                    if x + 1 < w {
                        v = v.min(d[(y + 1) * w + x + 1] + b);
                    }
                    if x > 0 {
                        v = v.min(d[(y + 1) * w + x - 1] + b);
                    }
                }
                d[y * w + x] = v;
            }
        }
        Self { width, height, x0, y0, box_width: w, box_height: h, values: d }
    }

    /// Distance at integer pixel (x, y).
    pub fn at(&self, x: usize, y: usize) -> f32 {
        let (bx, by) = (x.wrapping_sub(self.x0), y.wrapping_sub(self.y0));
        if bx < self.box_width && by < self.box_height {
            self.values[by * self.box_width + bx]
        } else {
            MAX_DISTANCE_PX
        }
    }

    /// Distance and its gradient at the nearest pixel to (u, v) (pixel-centre coordinates), None at the border.
    fn sample(&self, u: f64, v: f64) -> Option<(f64, f64, f64)> {
        let (x, y) = (u.round() as usize, v.round() as usize);
        if x < 1 || y < 1 || x + 1 >= self.width || y + 1 >= self.height {
            return None;
        }
        let d = self.at(x, y) as f64;
        let gx = 0.5 * (self.at(x + 1, y) - self.at(x - 1, y)) as f64;
        let gy = 0.5 * (self.at(x, y + 1) - self.at(x, y - 1)) as f64;
        Some((d, gx, gy))
    }
}

/// A residual (pixels converted to metres at the point's depth) for every camera-facing model point that
/// projects outside the mask and is not hidden behind something nearer (a hand).
pub fn silhouette_rows(
    model: &ModelIndex,
    pose: &Pose,
    frame: &RgbdFrame,
    distance: &MaskDistance,
    cfg: &TrackingConfig,
) -> NormalEquations {
    let k = &frame.intrinsics;
    let (weight, occlusion_m) = (cfg.silhouette_weight as f64, cfg.silhouette_occluder_m as f64);
    let sigma_px = cfg.silhouette_sigma_px as f64;
    NormalEquations::sum(model.points.len(), |i, eq| {
        let Some((p, u, v)) = facing_projection(pose, k, &model.points[i], &model.normals[i]) else { return };
        let Some((d, gx, gy)) = distance.sample(u, v) else { return };
        if d <= 0.0 {
            return;
        }
        let observed = frame.depth_m.get_pixel(u.round() as u32, v.round() as u32)[0] as f64;
        if observed > 0.0 && observed < p.z - occlusion_m {
            return;
        }
        let metres_per_px = p.z / k.fx;
        add_image_residual(
            eq,
            &p,
            k,
            d * metres_per_px,
            (gx * metres_per_px, gy * metres_per_px),
            weight,
            cauchy(d, sigma_px),
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distance_transform_is_zero_inside_and_grows_outside() {
        let mut mask = Mask::new(20, 10);
        for y in 3..7 {
            for x in 5..10 {
                mask.put_pixel(x, y, image::Luma([255]));
            }
        }
        let d = MaskDistance::new(&mask);
        assert_eq!(d.at(6, 4), 0.0);
        assert_eq!(d.at(12, 4), 3.0, "three pixels right of the mask");
        assert_eq!(d.at(7, 0), 3.0, "three pixels above");
        assert!((d.at(12, 0) - 4.0).abs() < 1e-5, "three diagonal steps of 4/3");
    }

    #[test]
    fn far_from_a_small_mask_the_distance_is_the_clipped_one() {
        let mut mask = Mask::new(300, 200);
        mask.put_pixel(20, 30, image::Luma([255]));
        let d = MaskDistance::new(&mask);
        assert_eq!(d.at(20, 30), 0.0);
        assert_eq!(d.at(50, 30), 30.0, "thirty pixels right, inside the computed box");
        assert_eq!(d.at(20, 69), 39.0);
        assert_eq!(d.at(250, 150), MAX_DISTANCE_PX, "far off: clipped");
        assert_eq!(MaskDistance::new(&Mask::new(30, 20)).at(5, 5), MAX_DISTANCE_PX, "no mask at all");
    }
}
