//! Per-frame tracking: mask, constant-velocity prediction, frame-to-model ICP, loss detection and
//! re-localisation, optional fine pose by the differentiable renderer, and keyframe candidates.
//!
//! The tracker tracks against the mapping worker's latest model plus the surfels it seeded itself from
//! candidates the worker has not taken in yet, so the model covers every side the camera has seen even when
//! mapping lags behind (lavapipe).

use std::sync::Arc;
use std::time::Instant;

use nalgebra::{Point3, Translation3, UnitQuaternion, Vector3};
use serde::Serialize;

use super::features::{Descriptor, Feature, FeaturePose, detect, match_features, ransac_pose};
use super::geometry::{downsample, first_frame_pose, mask_area, observed_cloud, rotation_between_deg};
use super::icp::{IcpResult, Observation, align};
use super::keyframes::KeyframeInfo;
use super::mapping::MapSnapshot;
use super::mask::{NonObject, propagate_mask};
use super::model_index::ModelIndex;
use super::photometric::{IntensityPyramid, PreviousView};
use super::silhouette::MaskDistance;
use crate::config::Config;
use crate::frame::{Mask, Pose, RgbdFrame};
use crate::gpu::fit::{FitView, Fitter, FreeGroups};
use crate::splats::Splats;
use crate::splats::seed::seed_from_frame;

/// A frame offered to the mapping worker as a keyframe: its selection record and the downsampled observation.
#[derive(Debug, Clone)]
pub struct KeyframeCandidate {
    pub info: KeyframeInfo,
    /// The frame at the mapping size, `object_mask` set to the mask tracking used.
    pub view: RgbdFrame,
}

/// A keyframe candidate's features (camera frame) and the candidate's object-to-camera pose.
struct KeyframeFeatures {
    seq: u64,
    pose: Pose,
    features: Vec<Feature>,
}

/// Milliseconds each stage of one frame took.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageTimes {
    pub mask_ms: f64,
    /// Feature detection, matching to keyframes and RANSAC.
    pub features_ms: f64,
    pub icp_ms: f64,
    pub relocalise_ms: f64,
    pub fine_ms: f64,
    pub keyframe_ms: f64,
    pub total_ms: f64,
}

/// What tracking made of one frame.
#[derive(Debug, Clone, Serialize)]
pub struct FrameResult {
    pub index: usize,
    pub id: String,
    #[serde(skip)]
    pub pose: Pose,
    /// The source's ground truth for the frame, where it has one.
    #[serde(skip)]
    pub gt_pose: Option<Pose>,
    /// Tracking is lost at this frame (the pose is the best guess).
    pub lost: bool,
    /// Tracking was lost before and re-localisation found the object again here.
    pub recovered: bool,
    pub inlier_ratio: f64,
    /// Share of the model's visible surfels the frame's depth confirms (see [`IcpResult::agreement`]).
    pub agreement: f64,
    /// Share of them whose grey level matches (see [`IcpResult::photo_agreement`]).
    pub photo_agreement: f64,
    pub rms_mm: f64,
    /// Feature matches to keyframes that agreed on one pose (0: too few to trust, not used).
    pub anchors: usize,
    pub mask_area: usize,
    /// Seq of the keyframe candidate this frame produced, if any.
    pub candidate: Option<u64>,
    pub times: StageTimes,
}

/// Why a frame could not be tracked at all.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error("frame {0}: the first frame needs an object mask (the object to track)")]
    NoFirstMask(String),
    #[error("frame {0}: the first frame's mask covers no valid depth")]
    EmptyFirstMask(String),
    #[error("frame {frame}: mask is {mask_w}x{mask_h}, the image {w}x{h}")]
    MaskSize { frame: String, mask_w: u32, mask_h: u32, w: u32, h: u32 },
    #[error(transparent)]
    Fit(#[from] crate::gpu::fit::FitError),
}

/// The per-frame tracking state.
pub struct FrameTracker {
    cfg: Config,
    index: usize,
    previous: Vec<Pose>,
    first_mask_area: usize,
    mapped: Arc<Splats>,
    mapped_origin: Arc<Vec<u64>>,
    /// Surfels seeded here from candidates the mapping worker has not taken in yet: (seq, surfels).
    local_seeds: Vec<(u64, Splats)>,
    /// The mapped model plus local seeds, and the seeding keyframe of each surfel: rebuilt when either
    /// changes, shared with viewers as is.
    combined: Arc<Splats>,
    combined_origin: Arc<Vec<u64>>,
    model: Option<ModelIndex>,
    keyframe_poses: Vec<Pose>,
    last_candidate: Option<Pose>,
    next_seq: u64,
    lost: bool,
    /// The object was hidden (too small a mask) since tracking last held: where it comes back, any pose may be.
    hidden: bool,
    /// Consecutive frames whose fit fell below the lost threshold.
    weak_streak: u32,
    /// The last frame was re-localised or recovered: its pose may be a jump, not motion.
    jumped: bool,
    /// How many frames in a row, up to the last, were tracked without a poor fit, loss or jump: the turn between
    /// them is motion.
    steady: usize,
    /// Every candidate's features, with its pose refined as mapping publishes poses.
    keyframe_features: Vec<KeyframeFeatures>,
    /// The last frame, where it was tracked and not re-localised: the next frame's texture is compared with it.
    previous_view: Option<PreviousView>,
    /// Surfaces seen near the object that are not the object, which propagated masks keep out.
    non_object: NonObject,
    fitter: Option<Fitter>,
}

impl FrameTracker {
    /// A tracker with `fitter` for the fine-pose stage (None: ICP only).
    pub fn new(cfg: Config, fitter: Option<Fitter>) -> Self {
        Self {
            cfg,
            index: 0,
            previous: Vec::new(),
            first_mask_area: 0,
            mapped: Arc::new(Splats::default()),
            mapped_origin: Arc::new(Vec::new()),
            local_seeds: Vec::new(),
            combined: Arc::new(Splats::default()),
            combined_origin: Arc::new(Vec::new()),
            model: None,
            keyframe_poses: Vec::new(),
            last_candidate: None,
            next_seq: 0,
            lost: false,
            hidden: false,
            weak_streak: 0,
            jumped: false,
            steady: 0,
            keyframe_features: Vec::new(),
            previous_view: None,
            non_object: NonObject::default(),
            fitter,
        }
    }

    /// The model tracking uses now: the mapped one plus local seeds.
    pub fn model(&self) -> Arc<Splats> {
        self.combined.clone()
    }

    /// Per surfel of [`FrameTracker::model`]: the keyframe seq that seeded it.
    pub fn origin(&self) -> Arc<Vec<u64>> {
        self.combined_origin.clone()
    }

    /// Takes in a new model and keyframe poses from the mapping worker.
    pub fn update_map(&mut self, map: &MapSnapshot) {
        self.mapped = map.model.clone();
        self.mapped_origin = map.origin.clone();
        self.local_seeds.retain(|(seq, _)| *seq > map.incorporated_seq);
        self.keyframe_poses = map.keyframes.iter().map(|k| k.pose).collect();
        for k in &map.keyframes {
            if let Some(entry) = self.keyframe_features.iter_mut().find(|f| f.seq == k.seq) {
                entry.pose = k.pose;
            }
        }
        self.rebuild_index();
    }

    fn rebuild_index(&mut self) {
        let mut all = (*self.mapped).clone();
        let mut origin = (*self.mapped_origin).clone();
        for (seq, seeds) in &self.local_seeds {
            all.extend(seeds);
            origin.extend(std::iter::repeat_n(*seq, seeds.len()));
        }
        self.model = ModelIndex::new(&all, &self.cfg.tracking);
        (self.combined, self.combined_origin) = (Arc::new(all), Arc::new(origin));
    }

    /// Tracks one frame; the candidate, if any, is for the mapping worker.
    pub fn track(&mut self, frame: &RgbdFrame) -> Result<(FrameResult, Mask, Option<KeyframeCandidate>), TrackError> {
        let start = Instant::now();
        let mut times = StageTimes::default();
        let index = self.index;
        self.index += 1;
        if let Some(m) = &frame.object_mask
            && m.dimensions() != frame.rgb.dimensions()
        {
            let (w, h) = frame.rgb.dimensions();
            return Err(TrackError::MaskSize { frame: frame.id.clone(), mask_w: m.width(), mask_h: m.height(), w, h });
        }
        let t = &self.cfg.tracking;
        let Some(model) = self.model.as_ref().filter(|_| index > 0) else {
            return self.start(frame, start);
        };

        let predicted = self.predict();
        let mask = match &frame.object_mask {
            Some(m) => m.clone(),
            // Generous around the prediction; tightened at the tracked pose below.
            None => {
                self.non_object.forget_scene_if_camera_moved(frame, t.static_scene_min_share as f64);
                let outside = 2.0 * t.mask_outside_m as f64;
                propagate_mask(frame, model, &self.non_object, &predicted, 2.0 * t.mask_distance_m as f64, outside)
            }
        };
        times.mask_ms = ms(start);
        let area = mask_area(&mask);
        let cloud = observed_cloud(frame, &mask, point_stride(area, t), 2, t.normal_baseline_px);
        let t_features = Instant::now();
        let features = detect(frame, &mask, &self.cfg.features);
        let anchors = self.feature_pose(&features, Some(&predicted)).map(|f| f.inliers).unwrap_or_default();
        times.features_ms = ms(t_features);
        let t_icp = Instant::now();
        let pyramid = IntensityPyramid::new(frame, self.cfg.mapping.downsample.max(1).ilog2() as usize + 1);
        let silhouette = MaskDistance::new(&mask);
        let previous = self.previous_view.as_ref();
        let obs = Observation {
            cloud: &cloud,
            frame,
            pyramid: &pyramid,
            silhouette: &silhouette,
            anchors: &anchors,
            previous,
        };
        let mut best = align(&obs, model, &predicted, t);
        times.icp_ms = ms(t_icp);
        let occluded = (area as f32) < t.lost_mask_ratio * self.first_mask_area as f32 || cloud.points.len() < 30;
        let weak = poor_fit(&best, t);
        self.weak_streak = if weak { self.weak_streak + 1 } else { 0 };
        // A single poor fit (fast motion, a face coming into view) keeps its pose: jumping to another pose of
        // a near-symmetric shape would be worse. Re-localise after a loss, or after a run of poor fits.
        let mut lost = occluded || (weak && (self.lost || self.weak_streak >= t.relocalise_after_frames));
        if lost && !occluded {
            let t_re = Instant::now();
            best = self.relocalise(&obs, &features, best);
            times.relocalise_ms = ms(t_re);
            lost = poor_fit(&best, t);
        }
        let trusted = !lost && best.agreement >= t.keyframe_min_agreement as f64;
        let recovered = !lost && self.lost;
        let mut pose = if occluded { predicted } else { best.pose };
        let mask = if frame.object_mask.is_none() && !lost {
            let t_mask = Instant::now();
            // What has come in front of the model is learnt first, so that a keyframe never seeds it.
            if trusted {
                self.non_object.add_occluders(frame, model, &pose, t);
            }
            let (distance, outside) = (t.mask_distance_m as f64, t.mask_outside_m as f64);
            let tight = propagate_mask(frame, model, &self.non_object, &pose, distance, outside);
            times.mask_ms += ms(t_mask);
            tight
        } else {
            mask
        };

        if !lost && t.fine_iterations > 0 {
            let t_fine = Instant::now();
            pose = self.fine_pose(frame, &mask, pose)?;
            times.fine_ms = ms(t_fine);
        }
        if lost != self.lost {
            tracing::info!(frame = %frame.id, inlier_ratio = best.inlier_ratio, "{}", if lost { "tracking lost" } else { "tracking recovered" });
        }
        self.lost = lost;
        self.jumped = recovered || times.relocalise_ms > 0.0;
        self.steady = if lost || self.jumped || self.weak_streak > 0 { 0 } else { self.steady + 1 };
        self.hidden = lost && (occluded || self.hidden);
        self.previous.push(pose);
        self.previous_view = (!lost && !occluded && !self.jumped && self.cfg.tracking.previous_frame_weight_m > 0.0)
            .then(|| PreviousView { pyramid, depth: frame.depth_m.clone(), silhouette, pose });

        let t_kf = Instant::now();
        let candidate =
            (trusted && self.wants_keyframe(&pose)).then(|| self.candidate(frame, &mask, index, pose, area));
        times.keyframe_ms = ms(t_kf);
        times.total_ms = ms(start);
        let result = FrameResult {
            index,
            id: frame.id.clone(),
            pose,
            gt_pose: frame.gt_pose,
            lost,
            recovered,
            inlier_ratio: best.inlier_ratio,
            agreement: best.agreement,
            photo_agreement: best.photo_agreement,
            rms_mm: best.rms_m * 1e3,
            anchors: anchors.len(),
            mask_area: area,
            candidate: candidate.as_ref().map(|c| c.info.seq),
            times,
        };
        Ok((result, mask, candidate))
    }

    /// The first frame: defines the object frame and the first keyframe.
    fn start(
        &mut self,
        frame: &RgbdFrame,
        start: Instant,
    ) -> Result<(FrameResult, Mask, Option<KeyframeCandidate>), TrackError> {
        let mask = frame.object_mask.clone().ok_or_else(|| TrackError::NoFirstMask(frame.id.clone()))?;
        let pose = first_frame_pose(frame, &mask).ok_or_else(|| TrackError::EmptyFirstMask(frame.id.clone()))?;
        self.first_mask_area = mask_area(&mask);
        self.previous.push(pose);
        let candidate = self.candidate(frame, &mask, 0, pose, self.first_mask_area);
        if let Some(model) = &self.model {
            self.non_object = NonObject::beside_first_mask(frame, &mask, &pose, model, &self.cfg.tracking);
        }
        let result = FrameResult {
            index: 0,
            id: frame.id.clone(),
            pose,
            gt_pose: frame.gt_pose,
            lost: false,
            recovered: false,
            inlier_ratio: 1.0,
            agreement: 1.0,
            photo_agreement: 1.0,
            rms_mm: 0.0,
            anchors: 0,
            mask_area: self.first_mask_area,
            candidate: Some(candidate.info.seq),
            times: StageTimes { total_ms: ms(start), ..Default::default() },
        };
        Ok((result, mask, Some(candidate)))
    }

    /// Constant-velocity prediction, damped: the shift of the last two poses, the mean turn of the last steady few
    /// (see `TrackingConfig::angular_velocity_frames`).
    fn predict(&self) -> Pose {
        let n = self.previous.len();
        let last = self.previous[n - 1];
        // After a poor fit or a re-localisation the last motion is not to be trusted: extrapolating it would
        // run away.
        if n < 2 || self.lost || self.weak_streak > 0 || self.jumped {
            return last;
        }
        let before = self.previous[n - 2];
        let t = &self.cfg.tracking;
        // The object's origin moves in a straight line and the object turns about it: composing the whole
        // relative motion instead would turn it about the camera, and damping only that motion's rotation
        // would leave the translation that turn implies (after a sudden turn, a jump of tens of centimetres).
        // The turn is the mean over the last few steadily tracked frames: one frame's turn carries that frame's
        // noise, and extrapolated it runs away.
        let frames = (t.angular_velocity_frames.max(1) as usize).min(self.steady).min(n - 1).max(1);
        let since = self.previous[n - 1 - frames];
        let turn = UnitQuaternion::identity()
            .slerp(&(last.rotation * since.rotation.inverse()), t.angular_velocity_damping as f64 / frames as f64);
        let shift = (last.translation.vector - before.translation.vector) * t.velocity_damping as f64;
        Pose::from_parts(Translation3::from(last.translation.vector + shift), turn * last.rotation)
    }

    /// The pose feature matches to keyframes agree on, and the matches that agree: against the
    /// `match_keyframes` keyframes whose view is nearest `near`, or all of them; None when too few agree.
    fn feature_pose(&self, features: &[Feature], near: Option<&Pose>) -> Option<FeaturePose> {
        let cfg = &self.cfg.features;
        let mut keyframes: Vec<&KeyframeFeatures> = self.keyframe_features.iter().collect();
        if let Some(near) = near {
            keyframes
                .sort_by(|a, b| rotation_between_deg(&a.pose, near).total_cmp(&rotation_between_deg(&b.pose, near)));
            keyframes.truncate(cfg.match_keyframes as usize);
        }
        let reference: Vec<(Vector3<f64>, Descriptor)> = keyframes
            .iter()
            .flat_map(|k| {
                let to_object = k.pose.inverse();
                k.features.iter().map(move |f| ((to_object * Point3::from(f.point)).coords, f.descriptor))
            })
            .collect();
        ransac_pose(&match_features(features, &reference, cfg), cfg)
    }

    /// Re-localisation after a loss: ICP from the pose feature matches against every keyframe agree on, from
    /// every keyframe pose, and from the last pose and its rotations about each axis; the best wins, and one far
    /// from the last pose only by a margin.
    fn relocalise(&self, obs: &Observation, features: &[Feature], current: IcpResult) -> IcpResult {
        let Some(model) = &self.model else { return current };
        let last = *self.previous.last().expect("tracking has started");
        let found = self.feature_pose(features, None);
        let anchors = found.as_ref().map(|f| f.inliers.clone()).unwrap_or_default();
        // Where tracking was lost, the previous frame's pose is no reference for texture.
        let obs = Observation { anchors: &anchors, previous: None, ..*obs };
        let mut guesses: Vec<Pose> = self.keyframe_poses.iter().copied().chain([last]).collect();
        for axis in [Vector3::x(), Vector3::y(), Vector3::z()] {
            for angle in [-90f64, -45.0, -15.0, 15.0, 45.0, 90.0, 180.0] {
                let turn = UnitQuaternion::from_scaled_axis(axis * angle.to_radians());
                guesses.push(Pose::from_parts(last.translation, turn * last.rotation));
            }
        }
        // Each guessed rotation is moved so that the model's camera-facing part lands on the observed points.
        let target = obs.cloud.centroid();
        let moved = |start: Pose| {
            let facing: Vec<Vector3<f64>> = model
                .points
                .iter()
                .zip(&model.normals)
                .map(|(p, n)| ((start * Point3::from(*p)).coords, start.rotation * n))
                .filter(|(p, n)| n.dot(p) < 0.0)
                .map(|(p, _)| p)
                .collect();
            let centre = facing.iter().sum::<Vector3<f64>>() / facing.len().max(1) as f64;
            (!facing.is_empty()).then(|| {
                Pose::from_parts(Translation3::from(start.translation.vector + target - centre), start.rotation)
            })
        };
        let feature_pose = found.map(|f| f.pose);
        let starts = feature_pose.into_iter().chain(guesses.into_iter().filter_map(moved));
        let trials: Vec<IcpResult> = starts.map(|start| align(&obs, model, &start, &self.cfg.tracking)).collect();
        let t = &self.cfg.tracking;
        let score = |r: &IcpResult| r.agreement + r.photo_agreement;
        let near = |r: &IcpResult| rotation_between_deg(&r.pose, &last) < t.relocalise_near_deg as f64;
        // Near the last pose, the best fit wins.
        let mut best =
            trials.iter().filter(|r| near(r)).fold(current, |best, r| if score(r) > score(&best) { *r } else { best });
        // A turned pose of a symmetric shape can fit nearly as well as the right one, or better where the model
        // lacks the face coming into view and has its twin: a box's opposite sides carry the same print. So a
        // jump must win clearly over the best fit near the last pose, explain the observed points at least as
        // well, and agree with the feature matches, unless the object was hidden or the fit has been poor for
        // long (then any pose may be).
        let (near_score, near_inliers) = (score(&best) + t.relocalise_margin as f64, best.inlier_ratio);
        let free = self.hidden || self.weak_streak >= t.unsupported_jump_after_frames;
        let supported = |r: &IcpResult| {
            free || feature_pose.is_some_and(|f| rotation_between_deg(&f, &r.pose) < t.relocalise_near_deg as f64)
        };
        for r in trials.iter().filter(|r| !near(r) && supported(r)) {
            if score(r) > near_score.max(score(&best)) && r.inlier_ratio >= near_inliers {
                best = *r;
            }
        }
        best
    }

    /// A few differentiable-rendering iterations on this frame with the surfels frozen.
    fn fine_pose(&mut self, frame: &RgbdFrame, mask: &Mask, pose: Pose) -> Result<Pose, TrackError> {
        let mut model = (*self.combined).clone();
        let Some(fitter) = self.fitter.as_mut() else { return Ok(pose) };
        let small = downsample(
            &RgbdFrame { object_mask: Some(mask.clone()), ..frame.clone() },
            self.cfg.mapping.downsample,
            self.cfg.seed.max_depth_step_m,
        );
        let mut views = [fit_view(&small, pose)];
        fitter.fit(&mut model, &mut views, self.cfg.tracking.fine_iterations, FreeGroups::POSES)?;
        Ok(views[0].pose)
    }

    fn wants_keyframe(&self, pose: &Pose) -> bool {
        self.last_candidate
            .is_none_or(|last| rotation_between_deg(&last, pose) >= self.cfg.keyframes.min_rotation_deg as f64)
    }

    /// Builds a candidate and seeds its uncovered pixels into the local model at once.
    fn candidate(
        &mut self,
        frame: &RgbdFrame,
        mask: &Mask,
        index: usize,
        pose: Pose,
        area: usize,
    ) -> KeyframeCandidate {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.last_candidate = Some(pose);
        let view = downsample(
            &RgbdFrame { object_mask: Some(mask.clone()), ..frame.clone() },
            self.cfg.mapping.downsample,
            self.cfg.seed.max_depth_step_m,
        );
        let cover = self.cfg.tracking.mask_distance_m as f64 * 0.5;
        let to_object = pose.inverse();
        let model = self.model.as_ref();
        let covered = |x: u32, y: u32| {
            model
                .zip(view.back_project(x, y))
                .is_some_and(|(m, p)| m.covers(&(to_object * Point3::from(p)).coords, cover))
        };
        let seeds = seed_from_frame(&view, &pose, &self.cfg.seed, Some(&covered));
        // Detected again inside the final mask: the frame's own features came from the generous predicted one.
        self.keyframe_features.push(KeyframeFeatures { seq, pose, features: detect(frame, mask, &self.cfg.features) });
        self.local_seeds.push((seq, seeds));
        self.rebuild_index();
        let info = KeyframeInfo { seq, frame_index: index, frame_id: frame.id.clone(), bin: 0, mask_area: area, pose };
        KeyframeCandidate { info, view }
    }
}

/// A fit is poor when the frame confirms too little of the model and the model explains too little of the
/// frame. Either alone happens at the right pose: a face coming into view lowers the inlier share, model
/// surfels seeded slightly off the surface lower the agreement.
fn poor_fit(fit: &IcpResult, t: &crate::config::TrackingConfig) -> bool {
    fit.agreement < t.lost_agreement as f64 && fit.inlier_ratio < t.lost_inlier_ratio as f64
}

/// The pixel stride of the observed points for a mask of `area` pixels: the configured one, finer for a small
/// mask so that an object seen end-on still gives enough points.
fn point_stride(area: usize, t: &crate::config::TrackingConfig) -> u32 {
    let fitting = ((area as f64 / t.min_points.max(1) as f64).sqrt().floor() as u32).max(1);
    fitting.min(t.point_stride_px.max(1))
}

/// The fitting view of a (downsampled) frame whose `object_mask` is set.
pub fn fit_view(frame: &RgbdFrame, pose: Pose) -> FitView {
    FitView {
        intrinsics: frame.intrinsics,
        rgb: frame.rgb.clone(),
        depth_m: frame.depth_m.clone(),
        mask: frame.object_mask.clone().unwrap_or_else(|| Mask::new(frame.intrinsics.width, frame.intrinsics.height)),
        pose,
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker_after(poses: &[Pose]) -> FrameTracker {
        let mut tracker = FrameTracker::new(Config::default(), None);
        tracker.previous = poses.to_vec();
        tracker.steady = poses.len().saturating_sub(1);
        tracker
    }

    #[test]
    fn a_turn_in_place_is_not_predicted_as_a_shift() {
        // The object half a metre away turns 3° about its own origin between the last two frames.
        let before = Pose::from_parts(Translation3::new(0.05, -0.02, 0.5), UnitQuaternion::identity());
        let turn = UnitQuaternion::from_scaled_axis(Vector3::y() * 3f64.to_radians());
        let last = Pose::from_parts(before.translation, turn * before.rotation);
        let predicted = tracker_after(&[before, last]).predict();
        let shift = (predicted.translation.vector - last.translation.vector).norm();
        assert!(shift < 1e-9, "a turn about the object's own origin moved the prediction by {shift} m");
        let damping = Config::default().tracking.angular_velocity_damping as f64;
        let expected = 3.0 * damping;
        assert!(
            (rotation_between_deg(&predicted, &last) - expected).abs() < 1e-6,
            "the turn goes on, damped to {expected}°"
        );
    }

    #[test]
    fn a_spin_is_extrapolated_at_its_mean_turn_over_the_steady_frames() {
        // Spinning 2.2° a frame about y on average, the single turns alternating 3° and 1°.
        let poses: Vec<Pose> = [0.0f64, 3.0, 4.0, 7.0, 8.0, 11.0]
            .iter()
            .map(|deg| {
                let spin = UnitQuaternion::from_scaled_axis(Vector3::y() * deg.to_radians());
                Pose::from_parts(Translation3::new(0.0, 0.0, 0.5), spin)
            })
            .collect();
        let mut tracker = tracker_after(&poses);
        tracker.cfg.tracking.angular_velocity_damping = 0.5;
        tracker.cfg.tracking.angular_velocity_frames = 5;
        let turn = |tracker: &FrameTracker| rotation_between_deg(&tracker.predict(), &poses[5]);
        assert!((turn(&tracker) - 0.5 * 2.2).abs() < 1e-9, "mean of the last five turns, damped: {}", turn(&tracker));
        // Only the frames since the last jump count: the last two turns, 4° in all.
        tracker.steady = 2;
        assert!((turn(&tracker) - 0.5 * 2.0).abs() < 1e-9, "{}", turn(&tracker));
        tracker.cfg.tracking.angular_velocity_frames = 1;
        tracker.steady = 5;
        assert!((turn(&tracker) - 0.5 * 3.0).abs() < 1e-9, "the last turn alone: {}", turn(&tracker));
    }

    #[test]
    fn a_steady_shift_is_extrapolated_damped() {
        let before = Pose::from_parts(Translation3::new(0.0, 0.0, 0.5), UnitQuaternion::identity());
        let last =
            Pose::from_parts(Translation3::new(0.01, 0.0, 0.5), UnitQuaternion::from_scaled_axis(Vector3::x() * 0.1));
        let predicted = tracker_after(&[before, last]).predict();
        let expected = 0.01 + 0.01 * Config::default().tracking.velocity_damping as f64;
        assert!((predicted.translation.vector.x - expected).abs() < 1e-12, "{:?}", predicted.translation);
    }
}
