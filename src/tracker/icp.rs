//! Dense frame-to-model alignment from a predicted pose, coarse to fine: point-to-plane ICP (correspondences
//! nearest by position), plus a photometric term (texture) and a silhouette term (the mask's outline), each
//! with a Cauchy robust weight. Gauss-Newton on a left twist of the object-to-camera pose.

use nalgebra::{Matrix6, Point3, Vector3, Vector6};
use rayon::prelude::*;

use super::features::{Anchor, ray_rows};
use super::geometry::{Cloud, ray_jacobians};
use super::model_index::ModelIndex;
use super::normal_equations::NormalEquations;
use super::photometric::{IntensityPyramid, PreviousView, brightness_gain, photometric_rows};
use super::silhouette::{MaskDistance, silhouette_rows};
use crate::config::TrackingConfig;
use crate::frame::Pose;
use crate::frame::RgbdFrame;
use crate::reference::optim::apply_twist;

/// How an alignment went.
#[derive(Debug, Clone, Copy)]
pub struct IcpResult {
    pub pose: Pose,
    /// Share of observed points whose plane residual is below `inlier_distance_m` at the final pose.
    pub inlier_ratio: f64,
    /// Root-mean-square plane residual of the inliers (metres).
    pub rms_m: f64,
    /// Observed points used.
    pub points: usize,
    /// Share of the model's surfels the camera should see at the final pose (facing it, not hidden behind
    /// something nearer) that the frame's depth confirms: within `inlier_distance_m` (more where the surfel is
    /// seen obliquely, see `agreement_slant_px`), inside the mask. Unlike `inlier_ratio`, a face the model lacks
    /// does not lower it.
    pub agreement: f64,
    /// Share of those visible surfels whose grey level matches the frame's (after gain matching): what tells
    /// a pose from a turned pose of a symmetric shape. Lighting changes lower it, so it only compares poses
    /// within one frame.
    pub photo_agreement: f64,
}

/// The cosine of the most oblique slant (about 87°) the agreement's depth tolerance grows to: edge-on it
/// would be unbounded.
const MIN_COS_SLANT: f64 = 0.05;

/// What a frame offers to alignment: its masked points (camera frame) and, for the photometric term, the
/// frame itself and its intensity pyramid.
pub struct Observation<'a> {
    pub cloud: &'a Cloud,
    pub frame: &'a RgbdFrame,
    pub pyramid: &'a IntensityPyramid,
    pub silhouette: &'a MaskDistance,
    /// Feature matches to keyframes that agree on one pose (see [`super::features`]); may be empty.
    pub anchors: &'a [Anchor],
    /// The frame before, where it was tracked well: its texture at the model's points.
    pub previous: Option<&'a PreviousView>,
}

/// Aligns the observation to `model` (object frame) starting from `init`: one stage per entry of
/// `icp_max_distance_m`, coarse to fine.
pub fn align(obs: &Observation, model: &ModelIndex, init: &Pose, cfg: &TrackingConfig) -> IcpResult {
    let cloud = obs.cloud;
    let mut pose = *init;
    // Model colours are block averages at the mapping resolution: compare them with that pyramid level.
    let level = obs.pyramid.len() - 1;
    let min_cos = (cfg.normal_agreement_deg as f64).to_radians().cos();
    // The previous frame's grey levels at the model's points, read once with the finest depth window.
    let previous = obs.previous.filter(|_| cfg.previous_frame_weight_m > 0.0).map(|p| {
        let occlusion_m = cfg.icp_max_distance_m.last().copied().unwrap_or_default() as f64;
        p.greys(model, level, cfg, occlusion_m)
    });
    for (&max_distance, &photometric_sigma) in cfg.icp_max_distance_m.iter().zip(&cfg.photometric_sigma) {
        let max_distance = max_distance as f64;
        let sigma = max_distance / 3.0;
        for _ in 0..cfg.icp_iterations {
            let to_object = pose.inverse();
            let mut eq = NormalEquations::sum(cloud.points.len(), |i, eq| {
                let p_c = &cloud.points[i];
                let q = (to_object * Point3::from(*p_c)).coords;
                let m = model.nearest(&q).index;
                let m_c = (pose * Point3::from(model.points[m])).coords;
                let n_c = pose.rotation * model.normals[m];
                let diff = p_c - m_c;
                if diff.norm() > max_distance || !normals_agree(&cloud.normals[i], &n_c, min_cos) {
                    return;
                }
                // The model point moves with the pose, so the residual falls as the twist moves it along n.
                let r = n_c.dot(&diff);
                eq.add_row(&plane_row(&n_c, &m_c), -r, cauchy(r, sigma));
            });
            if eq.used < 6 {
                break;
            }
            if cfg.photometric_weight_m > 0.0 || previous.is_some() {
                let sigma = photometric_sigma as f64;
                eq += photometric_rows(model, &pose, obs, previous.as_deref(), level, cfg, max_distance, sigma);
            }
            if cfg.silhouette_weight > 0.0 {
                eq += silhouette_rows(model, &pose, obs.frame, obs.silhouette, cfg);
            }
            if cfg.anchor_weight > 0.0 {
                eq += anchor_rows(obs.anchors, &pose, cfg.anchor_weight as f64, sigma);
            }
            // Damping keeps directions the observation barely constrains (about a bottle's axis, along a face
            // seen face-on) from wandering on noise.
            let damping = cfg.icp_damping as f64 * eq.h.trace().max(1e-12);
            let Some(step) = (eq.h + Matrix6::identity() * damping).cholesky().map(|c| c.solve(&eq.g)) else {
                break;
            };
            pose = apply_twist(&pose, [step[0], step[1], step[2], step[3], step[4], step[5]]);
            if step.norm() < cfg.icp_min_step as f64 {
                break;
            }
        }
    }
    // A diverged solve (few correspondences, a pull from one term alone) is clearly worse than where it
    // started; a hair fewer depth inliers is the price texture may ask for turning a shape depth cannot turn.
    let start = score(cloud, model, *init, cfg);
    let mut result = score(cloud, model, pose, cfg);
    if result.inlier_ratio < start.inlier_ratio - cfg.diverged_inlier_drop as f64 {
        result = start;
        pose = *init;
    }
    (result.agreement, result.photo_agreement) = agreement(obs, model, &pose, cfg);
    result
}

/// Whether an observed normal (zero: unknown, which agrees with anything) and a model normal, both in the
/// camera frame, differ by less than the angle whose cosine is `min_cos`.
fn normals_agree(observed: &Vector3<f64>, model: &Vector3<f64>, min_cos: f64) -> bool {
    *observed == Vector3::zeros() || observed.dot(model) >= min_cos
}

/// The Jacobian row [n, m × n] of a plane residual along direction `n` at model point `m` (camera frame).
fn plane_row(n: &Vector3<f64>, m: &Vector3<f64>) -> Vector6<f64> {
    let mxn = m.cross(n);
    Vector6::new(n.x, n.y, n.z, mxn.x, mxn.y, mxn.z)
}

/// The reprojection residuals of feature anchors: each model point seen at a corner must lie on the ray
/// through that corner, in x and in y (offsets on the image plane at the point's depth, in metres), `weight`
/// times as hard as one depth point. The pixel is what a corner pins well; its depth is left to the dense
/// terms.
fn anchor_rows(anchors: &[Anchor], pose: &Pose, weight: f64, sigma: f64) -> NormalEquations {
    let mut eq = NormalEquations::default();
    for a in anchors {
        let Some((_, [(jx, rx), (jy, ry)])) = ray_rows(a, pose) else { continue };
        let w = weight * cauchy(rx.hypot(ry), sigma);
        eq.add_row(&jx, rx, w);
        eq.add_row(&jy, ry, w);
    }
    eq
}

/// Inlier share and residual at `pose`, with correspondences by position alone (colour must not make a
/// wrong pose look good).
fn score(cloud: &Cloud, model: &ModelIndex, pose: Pose, cfg: &TrackingConfig) -> IcpResult {
    let to_object = pose.inverse();
    let inlier = cfg.inlier_distance_m as f64;
    let min_cos = (cfg.normal_agreement_deg as f64).to_radians().cos();
    // Per observed point: its plane residual where it is an inlier.
    let residuals: Vec<Option<f64>> = cloud
        .points
        .par_iter()
        .zip(&cloud.normals)
        .map(|(p_c, n_obs)| {
            let q = (to_object * Point3::from(*p_c)).coords;
            let m = model.nearest(&q).index;
            let diff = q - model.points[m];
            let r = model.normals[m].dot(&diff).abs();
            let agrees = normals_agree(n_obs, &(pose.rotation * model.normals[m]), min_cos);
            (r < inlier && diff.norm() < 3.0 * inlier && agrees).then_some(r)
        })
        .collect();
    let inliers = residuals.iter().flatten().count();
    let sum_sq: f64 = residuals.iter().flatten().map(|r| r * r).sum();
    IcpResult {
        pose,
        inlier_ratio: inliers as f64 / cloud.points.len().max(1) as f64,
        rms_m: (sum_sq / inliers.max(1) as f64).sqrt(),
        points: cloud.points.len(),
        agreement: 0.0,
        photo_agreement: 0.0,
    }
}

/// [`IcpResult::agreement`] and [`IcpResult::photo_agreement`] of `pose`.
pub fn agreement(obs: &Observation, model: &ModelIndex, pose: &Pose, cfg: &TrackingConfig) -> (f64, f64) {
    let k = &obs.frame.intrinsics;
    let (tolerance, occluder_m) = (cfg.inlier_distance_m as f64, cfg.silhouette_occluder_m as f64);
    let slant_px = cfg.agreement_slant_px as f64;
    let level = obs.pyramid.len() - 1;
    // (depth and mask agree, observed grey, model grey) per visible surfel
    let visible: Vec<(bool, f64, f64)> = (0..model.points.len())
        .into_par_iter()
        .filter_map(|i| {
            let (p, u, v) = facing_projection(pose, k, &model.points[i], &model.normals[i])?;
            if u < 0.0 || v < 0.0 || u > k.width as f64 - 1.0 || v > k.height as f64 - 1.0 {
                return None;
            }
            let (x, y) = (u.round() as u32, v.round() as u32);
            let observed = obs.frame.depth_m.get_pixel(x, y)[0] as f64;
            let inside = obs.silhouette.at(x as usize, y as usize) == 0.0;
            // Hidden, so neither for nor against the pose: behind the object's own nearer surface, or outside the
            // mask behind anything nearer than the surfel (fingers on a held box lie within a centimetre of its
            // face; counted as disagreement they lowered right poses' agreement: box in hand, seed 1, ADD 89.6
            // with them, 93.7 without).
            let occluder = if inside { 3.0 * tolerance } else { occluder_m };
            if observed <= 0.0 || observed < p.z - occluder {
                return None;
            }
            let (grey, _, _) = obs.pyramid.sample(level, u, v)?;
            let cos = (pose.rotation * model.normals[i]).dot(&p).abs() / p.norm();
            let tan = (1.0 - cos * cos).max(0.0).sqrt() / cos.max(MIN_COS_SLANT);
            let depth_tolerance = tolerance + slant_px * p.z / k.fx * tan;
            Some((inside && (observed - p.z).abs() < depth_tolerance, grey, model.greys[i]))
        })
        .collect();
    let observed: f64 = visible.iter().map(|v| v.1).sum();
    let gain = brightness_gain(visible.iter().map(|v| v.2).sum(), observed);
    let share = |count: usize| count as f64 / visible.len().max(1) as f64;
    let depth = visible.iter().filter(|v| v.0).count();
    let grey =
        visible.iter().filter(|(_, grey, model)| (gain * grey - model).abs() < cfg.agreement_grey as f64).count();
    (share(depth), share(grey))
}

/// A model point (object frame, with its normal) as the camera sees it at `pose`: camera-frame position and
/// pixel position with pixel centres on integers. None behind the camera or turned away from it.
pub(super) fn facing_projection(
    pose: &Pose,
    k: &crate::frame::Intrinsics,
    m: &Vector3<f64>,
    n: &Vector3<f64>,
) -> Option<(Vector3<f64>, f64, f64)> {
    let p = (pose * Point3::from(*m)).coords;
    if p.z < 0.05 || (pose.rotation * n).dot(&p) >= 0.0 {
        return None;
    }
    Some((p, k.fx * p.x / p.z + k.cx - 0.5, k.fy * p.y / p.z + k.cy - 0.5))
}

/// Adds an image residual `r` read at the projection of camera-frame point `p`, where the image changes by
/// (gx, gy) per pixel: the Jacobian goes through the projection; `weight` scales the row, `robust` the term.
pub(super) fn add_image_residual(
    eq: &mut NormalEquations,
    p: &Vector3<f64>,
    k: &crate::frame::Intrinsics,
    r: f64,
    gradient: (f64, f64),
    weight: f64,
    robust: f64,
) {
    eq.add_row(&(image_jacobian(p, k, gradient) * weight), r * weight, robust);
}

/// How an image value read at the projection of camera-frame point `p` changes with a left twist of the pose,
/// where the image changes by (gx, gy) per pixel.
pub(super) fn image_jacobian(p: &Vector3<f64>, k: &crate::frame::Intrinsics, (gx, gy): (f64, f64)) -> Vector6<f64> {
    let (jx, jy) = ray_jacobians(p);
    jx * (gx * k.fx) + jy * (gy * k.fy)
}

/// The Cauchy weight of a residual `r` at scale `sigma`.
pub(super) fn cauchy(r: f64, sigma: f64) -> f64 {
    1.0 / (1.0 + (r / sigma).powi(2))
}
