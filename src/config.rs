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
    /// L1 between rendered mean depth and observed depth (metres), where both exist inside the mask. At 300,
    /// 1 mm of depth error weighs as much as 0.3 of colour error. Colour cannot agree across keyframes (the
    /// object turns under the light, and surfel colour does not change with it), and at 10 colour pulled
    /// surfels mapped at the true poses 2.5 mm off the surface and the poses 1.2° and 5 mm off; at 300,
    /// 1.2 mm (seeded: 0.5) and 0.2° and 2.3 mm (`tests/mapping.rs`).
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
        Self { color_l1: 1.0, depth_l1: 300.0, mask_l1: 0.5, normal: 0.05, distortion: 10.0, occlusion_margin_m: 0.01 }
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
    /// Metres per step for surfel centres. Adam moves every coordinate by about this each step whatever the
    /// gradient's size, and L1 gradients flip sign on depth noise: at 3e-4 thirty joint iterations walked
    /// surfels seeded at the true poses from 1.4 to 3.1 mm off the surface; at 3e-5, 1.5 mm (box, five
    /// keyframes at 160×120). Seeds start within the depth noise, so small steps suffice.
    pub lr_means_m: f32,
    pub lr_quats: f32,
    pub lr_log_scales: f32,
    pub lr_opacity_logits: f32,
    /// SH units per step for surfel colours. Repainting faster than keyframe poses settle paints a pose error
    /// into the texture, which tracking then follows: at 2e-2 a bottle turning in a hand drifted about its
    /// axis from the fifth frame (100 frames, lockstep: ADD 73; at 2.5e-3, 92; without mapping, 97).
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
            lr_means_m: 3e-5,
            lr_quats: 2e-3,
            lr_log_scales: 1e-2,
            lr_opacity_logits: 5e-2,
            lr_colors: 2.5e-3,
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
    /// Normals come from depth differences this many pixels either side (1 px is noisy at mm depth noise).
    pub normal_baseline_px: u32,
    /// No surfel where the surface turns further than this from the camera (degrees): depth seen edge-on is
    /// unreliable. Not much lower: a box face that the keyframes only ever see at 76° was never seeded at 75°
    /// (36 synthetic runs: chamfer 0.254 cm at 75°, 0.229 cm at 82°).
    pub max_slant_deg: f32,
}

impl Default for SeedConfig {
    fn default() -> Self {
        Self {
            stride_px: 1,
            scale_of_spacing: 0.6,
            opacity: 0.8,
            max_depth_step_m: 0.01,
            normal_baseline_px: 2,
            max_slant_deg: 82.0,
        }
    }
}

/// Per-frame tracking: dense alignment to the model (point-to-plane ICP, photometric, silhouette and feature
/// terms), loss detection, re-localisation and keyframe candidates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackingConfig {
    /// Observed points are taken on a grid of this many pixels (full-resolution frame); ~2–4 k points per
    /// object at 640×480.
    pub point_stride_px: u32,
    /// A smaller mask gets a finer grid, down to 1 px, so that it still gives about this many points.
    pub min_points: u32,
    /// Half the pixel baseline of the depth differences giving observed normals; 1 px is too noisy at mm
    /// depth noise.
    pub normal_baseline_px: u32,
    /// Correspondence rejection distance per ICP stage (metres), coarse to fine; one stage per entry.
    pub icp_max_distance_m: [f32; 3],
    /// Gauss-Newton iterations per stage, at most. A bottle's turn about its axis, which only texture shows, is
    /// made up a little at each step: at 6, fits of a 3° spin from the previous frame's pose stayed up to 2.5°
    /// behind; at 14 replays of bottles did worse than at 10 (mean ADD 93.3 → 91.9).
    pub icp_iterations: u32,
    /// ... a stage ends at a step shorter than this (the twist's norm, metres and radians alike): a pose that
    /// has settled spends no more iterations, one still turning does.
    pub icp_min_step: f32,
    /// Levenberg-Marquardt damping of each Gauss-Newton step, as a share of the normal matrix's trace. At
    /// 1e-6 a bottle's turn about its axis, which depth barely constrains, walked off on noise each frame
    /// and the fit was thrown back to its start; 1e-2 holds the pose back.
    pub icp_damping: f32,
    /// An alignment whose inlier share ends this much below its start's has diverged: the start is kept.
    pub diverged_inlier_drop: f32,
    /// A correspondence counts only where the observed and model normals differ by less than this (degrees):
    /// points on a face the model does not have yet must not pull on the faces next to it.
    pub normal_agreement_deg: f32,
    /// Photometric residuals (grey levels 0–1 of model surfels against the frame) count as this many metres;
    /// 0 turns the term off.
    pub photometric_weight_m: f32,
    /// The same for grey levels against those the previous frame showed at the same model points (see
    /// `photometric::photometric_rows`); 0 turns that term off. All 48 synthetic sequences (seeds 0–7, 640×480,
    /// lockstep, mapping optimisation off): mean ADD 95.15 at 0, 95.57 at 0.02; on the 16 bottles 90.5 at 0,
    /// 91.4 at 0.02, 91.8 at 0.04, 88.9 at 0.08 (single bottles swing by ±14 points between these).
    pub previous_frame_weight_m: f32,
    /// Texture is compared as each surfel's grey level minus the mean of its neighbours within this radius
    /// (metres), on the model and in the frame alike: shading and highlights, which change smoothly across
    /// the surface and move with the light, cancel; print does not.
    pub texture_radius_m: f32,
    /// ... and whose normal differs from its own by less than this (degrees): across a box's edge the two faces
    /// are shaded differently in every view, and a mean over both carried that shading into the term.
    pub texture_max_bend_deg: f32,
    /// Surfels fainter than this are left out of tracking (floaters on their way to being pruned).
    pub min_opacity: f32,
    /// Scale of the Cauchy weight on grey-level residuals (0–1) per ICP stage, coarse to fine. Wider first:
    /// print a few pixels off leaves residuals of half its contrast, and a narrow weight drops the very pixels
    /// that say which way to turn (a bottle spinning 3° a frame made up a quarter of each turn at 0.1
    /// throughout, and lagged further every frame). Not too wide: at 0.5 a box face printed with bars slid by a
    /// bar (box on the robot, seed 2, frame 280). Narrow last: shading differs between keyframes and now.
    /// 36 synthetic sequences: mean ADD 93.8 as here, 93.9 at [0.5, 0.2, 0.1] but with a lost frame; 92.5 at
    /// 0.1 throughout, before texture was compared within faces and inside the mask.
    pub photometric_sigma: [f32; 3],
    /// A point counts in the photometric term only where its grey level stands out from its neighbours' by at
    /// least this (0–1), on the reference or in the frame; 0 counts every point. Print stands out by 0.2 and
    /// more; on a plain face only a highlight does, and a highlight stays with the light while the object
    /// turns: matched against the one a keyframe saw elsewhere on the face, it pulled a held box along its plain
    /// face (box in hand, seed 6, 80 frames: 15 mm off at 0, 12 mm at 0.1, 11 mm at 0.15; 8 mm with the model's
    /// colours left out, 6 mm with no photometric term). Off by default: over the 48 synthetic sequences (seeds
    /// 0–7, measured at a 60° `photometric_max_slant_deg`) 0.1 put every box and mug within the targets (boxes in
    /// hand, mean ADD 95.2 → 95.8) but cost the 16 bottles a point (93.3 → 92.5; 92.0 with the threshold on the
    /// model's colours only); mean ADD 96.1 → 96.0.
    pub photometric_min_contrast: f32,
    /// Surfels seen more obliquely than this (degrees between normal and line of sight) are left out of the
    /// photometric term: near the outline the frame's pixels mix in the background, and the outline stays put
    /// while the object turns about an axis of symmetry. Not much less: where a bottle's label shows its plain
    /// band face-on, the print that says how far it turned lies towards the outline, and at 60° the turn walked
    /// off on noise (bottle in hand, seed 0: 72° off by frame 78, 9° at 70°). The 48 synthetic sequences (seeds
    /// 0–7): mean ADD 96.13 at 60°, 96.65 at 70°; within every target 41 and 43 (bottles in hand 94.1 → 96.8).
    pub photometric_max_slant_deg: f32,
    /// Weight of the silhouette residual (model points outside the observed mask, in metres at their depth)
    /// next to the depth residuals; 0 turns it off.
    pub silhouette_weight: f32,
    /// Scale of the Cauchy weight on silhouette residuals (pixels outside the mask).
    pub silhouette_sigma_px: f32,
    /// A model point outside the mask is hidden, not misplaced, where the frame's depth lies this much in front
    /// of it (metres). Fingers lie a few millimetres above a held box's face, so this is about the depth
    /// noise, not the correspondence window of the ICP stage: at the coarse stage's 3 cm the fingers counted as
    /// background and the silhouette pulled the box 5 mm out from under them (box in hand, seed 2, frame 4);
    /// at 5 mm, 2 mm; at 1 mm, 0.1 mm. Background lies far behind, so a small margin costs nothing. The model
    /// agreement (`lost_agreement`, `keyframe_min_agreement`) leaves such hidden points out the same way.
    pub silhouette_occluder_m: f32,
    /// Each feature match to a keyframe that agrees with the others (see `FeatureConfig`) counts in dense
    /// alignment as this many depth points, per axis; 0 turns the term off.
    pub anchor_weight: f32,
    /// A correspondence is an inlier when its plane residual is below this (metres).
    pub inlier_distance_m: f32,
    /// A frame's fit is poor when the frame confirms less than this share of the model's visible surfels
    /// (depth within `inlier_distance_m` plus the slant allowance, inside the mask); re-localisation that cannot
    /// do better means lost.
    pub lost_agreement: f32,
    /// ... and when less than this share of the observed points are inliers: both must fall.
    pub lost_inlier_ratio: f32,
    /// Where a surfel lands on the image is this uncertain (pixels: rounding to a pixel, seeding at the mapping
    /// resolution). On a surface seen at slant θ that spans this many pixel footprints times tan θ in depth,
    /// which the agreement's depth tolerance adds: grazing surfels (the inner wall of a mug looked into) are
    /// not disagreement at the right pose.
    pub agreement_slant_px: f32,
    /// Grey levels (0–1) of a surfel and the frame within this of each other, after gain matching, agree
    /// (`photo_agreement`).
    pub agreement_grey: f32,
    /// Re-localisation runs after this many consecutive poor fits (at once after a loss).
    pub relocalise_after_frames: u32,
    /// Only frames whose model agreement reaches this become keyframe candidates and seed the model.
    pub keyframe_min_agreement: f32,
    /// A re-localised pose far from the last one (see `relocalise_near_deg`) must have a depth plus
    /// grey-level agreement larger by this much than the best near it.
    pub relocalise_margin: f32,
    /// Re-localised poses within this of the last pose (degrees) compete on score alone; farther ones must
    /// beat the best of them by `relocalise_margin`.
    pub relocalise_near_deg: f32,
    /// A far re-localised pose must also agree with the feature matches, unless the object was hidden or this
    /// many fits in a row have been poor.
    pub unsupported_jump_after_frames: u32,
    /// Tracking is lost when the object mask has fewer pixels than this share of its first-frame area.
    pub lost_mask_ratio: f32,
    /// Each frame's pose starts from the constant-velocity prediction: the previous translation, damped by
    /// this...
    pub velocity_damping: f32,
    /// ... and the previous rotation (about the object's own origin), damped by this; 0: not extrapolated.
    /// Extrapolated from the last frame's turn alone, 0.5 lost frames (8 bottles: in hand, seeds 0, 3, 5, 7;
    /// on the robot, seeds 0, 1, 6, 7; at a 60° `photometric_max_slant_deg`: mean ADD 88.8 at 0, 73.2 at 0.5
    /// with 28 lost frames): one frame's turn carries its noise.
    pub angular_velocity_damping: f32,
    /// ... the rotation being the mean turn per frame over up to this many frames, those tracked since the last poor
    /// fit, loss or jump. A bottle spinning about its axis while its plain band faces the camera shows nothing that
    /// says how far it turned: the pose stopped and fell behind by the spin (bottle in hand, seed 5: 2.8° a frame over
    /// frames 98–125; by frame 130 10° behind at 0, 117° with `photometric_min_contrast` at 0.1, within 2.5° at 0.5
    /// over 5 frames). All 48 synthetic sequences (seeds 0–7): mean ADD 96.65 with no extrapolation, 96.87 at 0.5 over
    /// 5 frames, within every target 43 and 44 (bottles in hand 96.8 → 98.0, on the robot 92.4 → 91.8); on the 8
    /// bottles above at 70°, 1.0 over 8 frames did worse (mean ADD 88.1 against 92.0 at 0.5 over 5, 91.6 with none).
    pub angular_velocity_frames: u32,
    /// Fine-pose iterations of the differentiable renderer on the current frame (surfels frozen); 0 skips.
    pub fine_iterations: u32,
    /// Pixels whose depth lies within this of the model (metres) make the propagated mask, where the source
    /// has no mask for a frame.
    pub mask_distance_m: f32,
    /// ... and lies at most this far (metres) outside the nearest surfel, along its normal: a finger held a
    /// few millimetres off a face is left out, sides coming into view (turning inwards) are not.
    pub mask_outside_m: f32,
    /// Surfaces seen within this of the model (metres) that are not the object are remembered (in the object's
    /// frame) and keep the propagated mask off themselves: what touches the object, like fingers.
    pub non_object_reach_m: f32,
    /// In the first frame, the depth further than this (pixels) outside the given mask is not the object:
    /// nearer, the mask's edge may be a pixel or two off.
    pub non_object_border_px: f32,
    /// Later, a surface this far (metres) in front of the model, along the pixel's ray, hides the object and
    /// is not the object: more than depth noise and pose error, less than a finger's thickness.
    pub occluder_front_m: f32,
    /// Remembered non-object surfaces keep one point in each cube of this side (metres).
    pub non_object_cell_m: f32,
    /// A pixel whose depth is within this (metres) of the first frame's, outside its mask, shows the static
    /// scene: over twice the depth noise of two readings at 0.6 m.
    pub static_scene_tolerance_m: f32,
    /// ... and so does a pixel whose depth lies within that tolerance of one of the first frame's large planes
    /// (the table, a wall), found in its depth outside the mask: at most this many planes, ...
    pub static_planes: u32,
    /// ... each holding at least this share of that depth. Where the object uncovers the table it stood over
    /// in the first frame, the table lies within the mask distance of the object's near edge, was never seen,
    /// and was taken in, then seeded into the model, which then held more of it (box in hand, seed 0, first
    /// mask only: 1 263 table pixels in the mask at frame 21, the pose 5 cm off by frame 45).
    pub static_plane_min_share: f32,
    /// Where fewer than this share of the first frame's static pixels show their first depth again, the camera
    /// has moved (a hand-held camera), and the static scene and its planes are forgotten: they would now mark
    /// arbitrary surfaces, the object's among them.
    pub static_scene_min_share: f32,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        Self {
            point_stride_px: 4,
            min_points: 1500,
            normal_baseline_px: 8,
            icp_max_distance_m: [0.03, 0.012, 0.006],
            icp_iterations: 10,
            icp_min_step: 1e-4,
            icp_damping: 1e-4,
            diverged_inlier_drop: 0.02,
            normal_agreement_deg: 45.0,
            photometric_weight_m: 0.04,
            previous_frame_weight_m: 0.02,
            texture_radius_m: 0.012,
            texture_max_bend_deg: 30.0,
            min_opacity: 0.3,
            photometric_sigma: [0.3, 0.2, 0.1],
            photometric_min_contrast: 0.0,
            photometric_max_slant_deg: 70.0,
            silhouette_weight: 1.0,
            silhouette_sigma_px: 6.0,
            silhouette_occluder_m: 0.001,
            anchor_weight: 10.0,
            inlier_distance_m: 0.005,
            lost_agreement: 0.5,
            lost_inlier_ratio: 0.7,
            agreement_slant_px: 1.0,
            agreement_grey: 0.12,
            relocalise_after_frames: 3,
            keyframe_min_agreement: 0.7,
            relocalise_margin: 0.2,
            relocalise_near_deg: 30.0,
            unsupported_jump_after_frames: 10,
            lost_mask_ratio: 0.03,
            velocity_damping: 0.8,
            angular_velocity_damping: 0.5,
            angular_velocity_frames: 5,
            fine_iterations: 0,
            mask_distance_m: 0.01,
            mask_outside_m: 0.003,
            non_object_reach_m: 0.03,
            non_object_border_px: 3.0,
            occluder_front_m: 0.006,
            non_object_cell_m: 0.002,
            static_scene_tolerance_m: 0.005,
            static_planes: 3,
            static_plane_min_share: 0.15,
            static_scene_min_share: 0.5,
        }
    }
}

/// Sparse texture features (FAST corners, oriented binary descriptors) matched against keyframes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureConfig {
    /// FAST-9 threshold (grey levels of 255): a corner's arc must be this much brighter or darker.
    pub fast_threshold: u8,
    /// Corners weaker than another within this many pixels are dropped.
    pub nms_radius_px: u32,
    /// At most this many corners per frame, strongest first.
    pub max_features: u32,
    /// Corners nearer the mask's edge than this (pixels) are left out: their patches straddle the outline.
    pub mask_margin_px: u32,
    /// A match's descriptors differ in at most this many of 256 bits.
    pub max_hamming: u32,
    /// ... and the best match is nearer than this share of the second best (Lowe's ratio test).
    pub ratio: f32,
    /// Tracking matches against this many keyframes, those whose view is nearest the prediction;
    /// re-localisation against all.
    pub match_keyframes: u32,
    /// Random triples tried by RANSAC.
    pub ransac_iterations: u32,
    /// A match agrees with a pose when the posed object point lies within this (metres) of the ray through
    /// its corner, and within four times this of the corner's depth (see `features::agrees`).
    pub inlier_distance_m: f32,
    /// ... and, once the best pose is fitted to the rays through the corners, within this across the ray:
    /// the matches kept (a neighbouring block of repeated print lands a few pixels off).
    pub refined_inlier_distance_m: f32,
    /// Fewer agreeing matches than this give no feature pose.
    pub min_inliers: u32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            fast_threshold: 12,
            nms_radius_px: 2,
            mask_margin_px: 8,
            max_features: 400,
            max_hamming: 80,
            ratio: 0.9,
            match_keyframes: 4,
            ransac_iterations: 200,
            inlier_distance_m: 0.003,
            refined_inlier_distance_m: 0.0015,
            min_inliers: 12,
        }
    }
}

/// Dynamic keyframe selection over view-direction bins.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyframeConfig {
    /// A new candidate is offered at most every this many degrees of rotation since the last one (the
    /// 6DOPE-GS front end uses 5°).
    pub min_rotation_deg: f32,
    /// A candidate replaces its bin's keyframe when its mask is this many times larger.
    pub replace_mask_ratio: f32,
    /// Keyframes whose loss lies more than this many MADs above the median are dropped.
    pub mad_factor: f32,
}

impl Default for KeyframeConfig {
    fn default() -> Self {
        Self { min_rotation_deg: 5.0, replace_mask_ratio: 1.15, mad_factor: 3.0 }
    }
}

/// The mapping worker: joint optimisation of keyframe poses and surfels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MappingConfig {
    /// Keyframes are seeded and fitted at the frame size divided by this (the GPU cost scales with pixels ×
    /// views), and the photometric term compares the model's colours at that size. At 4 (160×120 from
    /// 640×480) a print's strokes blur into the label, so a bottle's turn about its axis went unseen, and a
    /// face seen at more than about 70° steps more than `SeedConfig::max_depth_step_m` per pixel and was never
    /// seeded. Six synthetic sequences × seeds 0–5 (300 frames, lockstep, joint and pose iterations 0): at 2,
    /// mean ADD 92.1, chamfer 0.252 cm, 1 lost frame, 24 of 36 runs on target; at 4, 87.6, 0.304 cm, 17, 21.
    /// The price: 4.5 times the surfels, tracking 124 ms a frame instead of 76 (lavapipe).
    pub downsample: u32,
    /// Joint (surfels + keyframe poses) iterations after each new keyframe.
    pub joint_iterations: u32,
    /// Pose-only iterations per keyframe after the joint step (model frozen).
    pub pose_iterations: u32,
    /// Surfels are seeded where the model's rendered alpha is below this...
    pub seed_alpha_below: f32,
    /// ... or where the surface that alpha comes from (its median depth) lies farther than this from the
    /// observed depth, in front or behind (metres). Surfels are seen from both sides: a box's back face, seeded
    /// first, covered its front face in alpha, and the front face was never seeded (box in hand, seed 0:
    /// chamfer 0.44 cm, completeness 0.71 cm). At 1 cm: chamfer 0.23 cm; at 5 mm: 0.29 cm with 1.8 times the
    /// surfels, as a small pose error already reads as a missing surface.
    pub seed_depth_margin_m: f32,
    /// Tracking waits for the mapping worker to take in and optimise each keyframe candidate before the next
    /// frame, so that a replay gives the same result every run, up to the last bits that the GPU's atomic
    /// gradient sums leave to chance (it does not otherwise: what the tracker sees depends on how far mapping
    /// got). Slower; for evaluation and debugging, not live cameras.
    pub lockstep: bool,
}

impl Default for MappingConfig {
    fn default() -> Self {
        Self {
            downsample: 2,
            joint_iterations: 30,
            pose_iterations: 10,
            seed_alpha_below: 0.5,
            seed_depth_margin_m: 0.01,
            lockstep: false,
        }
    }
}

/// Opacity-statistics pruning and densification.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PruneConfig {
    /// Pruning runs after every this many mapping steps.
    pub interval_steps: u32,
    /// Each round removes the surfels at or below this opacity percentile...
    pub low_percentile: f32,
    /// ...and rounds repeat until this percentile of opacity...
    pub high_percentile: f32,
    /// ...exceeds this opacity.
    pub high_opacity: f32,
    /// At most this many rounds per pruning event.
    pub max_rounds: u32,
    /// Surfels whose positional gradient norm (last joint iteration) exceeds this are densified: cloned
    /// when small, split in two when large.
    pub densify_grad: f32,
    /// The scale (metres) separating "small" (clone) from "large" (split) surfels.
    pub split_scale_m: f32,
    /// Densification adds at most this share of the model per event.
    pub max_densify_share: f32,
}

impl Default for PruneConfig {
    fn default() -> Self {
        Self {
            interval_steps: 3,
            low_percentile: 5.0,
            high_percentile: 95.0,
            high_opacity: 0.9,
            max_rounds: 4,
            densify_grad: 2e-4,
            split_scale_m: 0.004,
            max_densify_share: 0.05,
        }
    }
}

/// Every setting of a run, as `--config file.toml` overrides it (each table and key optional).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub raster: RasterConfig,
    pub loss: LossConfig,
    pub optim: OptimConfig,
    pub seed: SeedConfig,
    pub tracking: TrackingConfig,
    pub features: FeatureConfig,
    pub keyframes: KeyframeConfig,
    pub mapping: MappingConfig,
    pub pruning: PruneConfig,
}

/// A config file that cannot be used, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The reason is part of the message, not a chained source, so that it is printed once.
    #[error("{path}: cannot read: {reason}")]
    Io { path: String, reason: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

impl Config {
    /// Defaults overridden by the TOML file at `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Io { path: name.clone(), reason })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse { path: name, message: e.to_string() })
    }
}
