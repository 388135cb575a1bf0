//! The photometric half of dense alignment: model surfels carry colours; projected into the current frame's
//! intensity pyramid they must match what the camera sees. Texture pins the sliding that geometry alone
//! leaves free (a box face, a bottle's axis).
//!
//! Grey levels are compared relative to their surroundings on the object: each surfel's minus the mean of its
//! neighbours', in the frame and on the model alike, after matching the frame's brightness to the model's. The
//! model's colours were seen under other light: plain grey levels carry that shading and the highlights of
//! glossy print, which stay with the light while the object turns, and the term then held the pose back
//! (a bottle turning about its axis lagged by up to 2° a frame; a box face turning away drifted by centimetres).
//!
//! The same comparison runs against the grey levels the previous frame showed at the model's points: a view a
//! few degrees away, under nearly the same light.

use nalgebra::Vector6;
use rayon::prelude::*;

use super::icp::{Observation, cauchy, facing_projection, image_jacobian};
use super::model_index::ModelIndex;
use super::normal_equations::NormalEquations;
use super::silhouette::MaskDistance;
use crate::config::TrackingConfig;
use crate::frame::{DepthImage, Intrinsics, Pose, RgbdFrame};

/// Grey levels (0–1) of a frame at 1, 1/2, 1/4 … resolution.
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
        let base = Level {
            width: w as usize,
            height: h as usize,
            values: frame.rgb.pixels().map(|p| (p[0] as f32 + p[1] as f32 + p[2] as f32) / 765.0).collect(),
        };
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
                    values.push(
                        0.25 * (up.at(2 * x, 2 * y)
                            + up.at(2 * x + 1, 2 * y)
                            + up.at(2 * x, 2 * y + 1)
                            + up.at(2 * x + 1, 2 * y + 1)),
                    );
                }
            }
            out.push(Level { width: w, height: h, values });
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
    pub(super) fn sample(&self, level: usize, u: f64, v: f64) -> Option<(f64, f64, f64)> {
        let l = level.min(self.levels.len() - 1);
        let s = (1u32 << l) as f64;
        let (i, gx, gy) = self.levels[l].sample((u + 0.5) / s - 0.5, (v + 0.5) / s - 0.5)?;
        Some((i, gx / s, gy / s))
    }
}

/// What the camera saw of the model in one frame: the frame's intensities, depth and mask, and the pose
/// tracked there (or tried).
struct View<'a> {
    pyramid: &'a IntensityPyramid,
    depth: &'a DepthImage,
    silhouette: &'a MaskDistance,
    pose: Pose,
}

/// The previous frame as the next one compares against it (see [`photometric_rows`]).
pub struct PreviousView {
    /// Its intensities, read at the same pyramid level as the current frame's.
    pub pyramid: IntensityPyramid,
    /// Its depth, which tells where it saw a model point and where something hid it.
    pub depth: DepthImage,
    /// Its object mask's distance transform: points outside the mask are not read.
    pub silhouette: MaskDistance,
    /// The pose tracked there, which places the model's points in it.
    pub pose: Pose,
}

impl PreviousView {
    fn view(&self) -> View<'_> {
        View { pyramid: &self.pyramid, depth: &self.depth, silhouette: &self.silhouette, pose: self.pose }
    }

    /// Per model point: its grey level in the previous frame, where that frame saw it (at `level`, with the
    /// depth window `occlusion_m`).
    pub fn greys(&self, model: &ModelIndex, level: usize, cfg: &TrackingConfig, occlusion_m: f64) -> Vec<Option<f64>> {
        seen_points(model, &self.view(), level, cfg, occlusion_m).into_iter().map(|s| s.map(|(grey, _)| grey)).collect()
    }
}

/// Per model point, where `view` sees it camera-facing and unoccluded (inside the mask, within `occlusion_m`
/// of the frame's depth, slanted less than `cfg.photometric_max_slant_deg`): the grey level there and how it
/// changes with the pose.
fn seen_points(
    model: &ModelIndex,
    view: &View,
    level: usize,
    cfg: &TrackingConfig,
    occlusion_m: f64,
) -> Vec<Option<(f64, Vector6<f64>)>> {
    let k = &view.pyramid.intrinsics;
    let min_facing_cos = (cfg.photometric_max_slant_deg as f64).to_radians().cos();
    let (w, hgt) = (k.width as f64, k.height as f64);
    (0..model.points.len())
        .into_par_iter()
        .map(|i| {
            let n = &model.normals[i];
            let (p, u, v) = facing_projection(&view.pose, k, &model.points[i], n)?;
            if u < 0.0 || v < 0.0 || u >= w - 1.0 || v >= hgt - 1.0 {
                return None;
            }
            if -(view.pose.rotation * n).dot(&p.normalize()) < min_facing_cos {
                return None;
            }
            // Seen by the camera here, not hidden by the object itself nor by a hand: fingers on a held box lie
            // within the coarse stages' depth window, and their skin read as print pulled the pose (box in hand,
            // seed 1, at a Cauchy scale of 0.5 throughout: ADD 22 with them, 89 without); the mask leaves them
            // out.
            let (x, y) = (u.round() as u32, v.round() as u32);
            let observed = view.depth.get_pixel(x, y)[0] as f64;
            let inside = view.silhouette.at(x as usize, y as usize) == 0.0;
            if !(inside && observed > 0.0 && (observed - p.z).abs() < occlusion_m) {
                return None;
            }
            let (grey, gx, gy) = view.pyramid.sample(level, u, v)?;
            Some((grey, image_jacobian(&p, k, (gx, gy))))
        })
        .collect()
}

/// The photometric residuals of every camera-facing, unoccluded model point, under a Cauchy weight of scale
/// `sigma` (compared as `contrast_rows` compares): against the model's colours, weighted by `cfg.photometric_weight_m`
/// (metres per grey level), and, where the previous frame saw the point too, against the grey level it showed
/// there (`previous`, from [`PreviousView::greys`]), weighted by `cfg.previous_frame_weight_m`. The model's
/// colours carry the shading of keyframes seen tens of degrees away, which holds a turn back; the previous
/// frame's, that of a view a few degrees away.
#[allow(clippy::too_many_arguments)]
pub fn photometric_rows(
    model: &ModelIndex,
    pose: &Pose,
    obs: &Observation,
    previous: Option<&[Option<f64>]>,
    level: usize,
    cfg: &TrackingConfig,
    occlusion_m: f64,
    sigma: f64,
) -> NormalEquations {
    let view = View { pyramid: obs.pyramid, depth: &obs.frame.depth_m, silhouette: obs.silhouette, pose: *pose };
    let seen = seen_points(model, &view, level, cfg, occlusion_m);
    let min_contrast = cfg.photometric_min_contrast as f64;
    let mut eq = NormalEquations::default();
    if cfg.photometric_weight_m > 0.0 {
        eq +=
            contrast_rows(model, &seen, |i| Some(model.greys[i]), cfg.photometric_weight_m as f64, sigma, min_contrast);
    }
    if let Some(previous) = previous {
        eq += contrast_rows(model, &seen, |i| previous[i], cfg.previous_frame_weight_m as f64, sigma, min_contrast);
    }
    eq
}

/// Residuals of the grey levels `seen` now against `reference` ones, each relative to the mean of its visible
/// neighbours (see [`ModelIndex::neighbours`]) that have both, after matching the frame's brightness to the
/// reference's; `weight` converts grey levels to metres. A point that stands out from those neighbours by less
/// than `min_contrast` both now and in the reference is left out (see `TrackingConfig::photometric_min_contrast`).
fn contrast_rows(
    model: &ModelIndex,
    seen: &[Option<(f64, Vector6<f64>)>],
    reference: impl Fn(usize) -> Option<f64> + Sync,
    weight: f64,
    sigma: f64,
    min_contrast: f64,
) -> NormalEquations {
    let both = |i: usize| Some((seen[i].as_ref()?, reference(i)?));
    let (mut reference_sum, mut observed_sum) = (0.0, 0.0);
    for i in 0..seen.len() {
        if let Some(((grey, _), reference_grey)) = both(i) {
            (reference_sum, observed_sum) = (reference_sum + reference_grey, observed_sum + grey);
        }
    }
    let gain = brightness_gain(reference_sum, observed_sum);
    NormalEquations::sum(seen.len(), |i, eq| {
        let Some(((grey, row), reference_grey)) = both(i) else { return };
        // Sums over the visible neighbours: observed grey, its Jacobian row, reference grey.
        let (mut count, mut observed_sum, mut row_sum, mut reference_sum) = (0usize, 0.0, Vector6::zeros(), 0.0);
        for &j in &model.neighbours[i] {
            if let Some(((o, r), g)) = both(j as usize) {
                (count, observed_sum, row_sum, reference_sum) =
                    (count + 1, observed_sum + o, row_sum + r, reference_sum + g);
            }
        }
        if count < MIN_NEIGHBOURS {
            return;
        }
        let share = 1.0 / count as f64;
        let (observed_mean, row_mean, reference_mean) = (observed_sum * share, row_sum * share, reference_sum * share);
        let (observed_contrast, reference_contrast) = (gain * (grey - observed_mean), reference_grey - reference_mean);
        if observed_contrast.abs().max(reference_contrast.abs()) < min_contrast {
            return;
        }
        let r = observed_contrast - reference_contrast;
        eq.add_row(&((row - row_mean) * (gain * weight)), r * weight, cauchy(r, sigma));
    })
}

/// Fewer visible neighbours than this give no steady local mean: the point is left out.
const MIN_NEIGHBOURS: usize = 4;

/// The factor that brings observed grey levels (summed over some points) to the model's over the same points:
/// the light dims and brightens between keyframes and now. Bounded, so that a few points cannot blow it up.
pub(super) fn brightness_gain(model: f64, observed: f64) -> f64 {
    if observed > 1e-6 { (model / observed).clamp(0.5, 2.0) } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::fixtures::plate;

    /// The residual rows `contrast_rows` counts where the plate's points show `observed(x)` now and
    /// `reference(x)` in the reference (x: the point's position across the plate, metres).
    fn rows_counted(observed: impl Fn(f64) -> f64, reference: impl Fn(f64) -> f64 + Sync, min_contrast: f64) -> usize {
        let model = plate(-1.0);
        let seen: Vec<_> =
            model.points.iter().map(|p| Some((observed(p.x), Vector6::new(1.0, 0.0, 0.0, 0.0, 0.0, 0.0)))).collect();
        contrast_rows(&model, &seen, |i| Some(reference(model.points[i].x)), 1.0, 0.3, min_contrast).used
    }

    #[test]
    fn a_faint_highlight_on_a_plain_face_does_not_count_and_print_does() {
        // A highlight 0.06 brighter than the face, a centimetre left of where the reference saw it.
        let bump = |centre: f64| move |x: f64| 0.5 + 0.06 * (-((x - centre) / 0.004).powi(2)).exp();
        assert!(rows_counted(bump(0.01), bump(-0.01), 0.0) > 100, "without the threshold it pulls");
        assert_eq!(rows_counted(bump(0.01), bump(-0.01), 0.1), 0);
        // A print edge (0.2 to 0.8) counts near the edge, on both sides.
        let print = |x: f64| if x < 0.0 { 0.2 } else { 0.8 };
        let counted = rows_counted(print, print, 0.1);
        assert!(counted > 100 && counted < 61 * 61 / 2, "{counted} rows: near the edge only");
    }
}
