//! Scores, as the BundleSDF protocol defines them: first-frame alignment of model-free tracks, ADD, ADD-S,
//! their AUC over 0–10 cm, per-frame rotation and translation errors, and chamfer distance of a
//! reconstruction against the ground-truth surface.

pub mod report;
pub mod visibility;

use std::collections::HashMap;

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use nalgebra::{Point3, Vector3};

use crate::frame::Pose;
use crate::source::synthetic::objects::Mesh;
use crate::splats::Splats;

/// Upper end of the AUC integration (metres).
pub const AUC_MAX_M: f64 = 0.1;
/// Voxel size used to even out point densities before chamfer scoring (metres).
pub const CHAMFER_VOXEL_M: f64 = 0.005;

/// Aligns a model-free track to ground truth by its first frame: pred_i ← pred_i · pred_0⁻¹ · gt_0.
/// (The tracker's object frame is its own; this expresses its poses in the ground truth's object frame.)
pub fn align_first_frame(pred: &[Pose], gt0: &Pose) -> Vec<Pose> {
    let Some(first) = pred.first() else { return Vec::new() };
    let correction = first.inverse() * gt0;
    pred.iter().map(|p| p * correction).collect()
}

/// Mean distance between corresponding model points under the two poses (metres).
pub fn add(points: &[Vector3<f64>], pred: &Pose, gt: &Pose) -> f64 {
    let sum: f64 = points.iter().map(|x| ((pred * Point3::from(*x)) - (gt * Point3::from(*x))).norm()).sum();
    sum / points.len().max(1) as f64
}

/// Nearest-neighbour look-ups in a fixed point set.
pub struct PointIndex {
    tree: ImmutableKdTree<f64, 3>,
}

impl PointIndex {
    /// Indexes `points` (at least one).
    pub fn new(points: &[Vector3<f64>]) -> Self {
        let coords: Vec<[f64; 3]> = points.iter().map(|p| [p.x, p.y, p.z]).collect();
        Self { tree: ImmutableKdTree::new_from_slice(&coords) }
    }

    /// Distance from `p` to the nearest indexed point.
    pub fn nearest_distance(&self, p: &Vector3<f64>) -> f64 {
        self.tree.nearest_one::<SquaredEuclidean>(&[p.x, p.y, p.z]).distance.sqrt()
    }

    /// Mean nearest-neighbour distance of `queries` to the indexed points.
    pub fn mean_distance(&self, queries: &[Vector3<f64>]) -> f64 {
        queries.iter().map(|q| self.nearest_distance(q)).sum::<f64>() / queries.len().max(1) as f64
    }
}

/// Mean distance from each ground-truth-posed model point to the nearest prediction-posed model point
/// (metres): ADD for symmetric objects, blind to poses that look the same.
pub fn add_s(points: &[Vector3<f64>], pred: &Pose, gt: &Pose) -> f64 {
    let posed =
        |pose: &Pose| -> Vec<Vector3<f64>> { points.iter().map(|x| (pose * Point3::from(*x)).coords).collect() };
    PointIndex::new(&posed(pred)).mean_distance(&posed(gt))
}

/// Area under the accuracy–threshold curve for thresholds 0..`max_m`, in percent (VOC style, as the
/// PoseCNN/BundleSDF `VOCap`): errors sorted, precision k/n at the k-th, only errors below `max_m` kept,
/// recall points [0, e…, max], precision [0, p…, p_last] made monotone by a running max, and the area of
/// the right-continuous step function divided by `max_m`. No error below `max_m` gives 0.
pub fn auc(errors_m: &[f64], max_m: f64) -> f64 {
    let n = errors_m.len();
    let mut sorted: Vec<f64> = errors_m.to_vec();
    sorted.sort_by(f64::total_cmp);
    let kept: Vec<(f64, f64)> =
        sorted.iter().enumerate().filter(|(_, e)| **e < max_m).map(|(k, e)| (*e, (k + 1) as f64 / n as f64)).collect();
    let Some(&(_, last_precision)) = kept.last() else { return 0.0 };
    let mut recall = vec![0.0];
    let mut precision = vec![0.0];
    for (e, p) in &kept {
        recall.push(*e);
        precision.push(*p);
    }
    recall.push(max_m);
    precision.push(last_precision);
    for i in 1..precision.len() {
        precision[i] = precision[i].max(precision[i - 1]);
    }
    let area: f64 = (1..recall.len())
        .filter(|&i| recall[i] != recall[i - 1])
        .map(|i| (recall[i] - recall[i - 1]) * precision[i])
        .sum();
    area / max_m * 100.0
}

/// Rotation error in degrees and translation error in millimetres between two poses.
pub fn pose_errors(pred: &Pose, gt: &Pose) -> (f64, f64) {
    let rotation_deg = pred.rotation.angle_to(&gt.rotation).to_degrees();
    let translation_mm = (pred.translation.vector - gt.translation.vector).norm() * 1e3;
    (rotation_deg, translation_mm)
}

/// Replaces the points in each `voxel_m` cube by their mean (as Open3D's voxel_down_sample).
pub fn voxel_downsample(points: &[Vector3<f64>], voxel_m: f64) -> Vec<Vector3<f64>> {
    let mut cells: HashMap<[i64; 3], (Vector3<f64>, usize)> = HashMap::new();
    for p in points {
        let key = [p.x, p.y, p.z].map(|v| (v / voxel_m).floor() as i64);
        let cell = cells.entry(key).or_insert((Vector3::zeros(), 0));
        cell.0 += p;
        cell.1 += 1;
    }
    let mut out: Vec<(&[i64; 3], Vector3<f64>)> = cells.iter().map(|(k, (sum, n))| (k, sum / *n as f64)).collect();
    out.sort_by_key(|(k, _)| **k);
    out.into_iter().map(|(_, p)| p).collect()
}

/// Chamfer distance's two directions (cm), kept apart because they fail for different reasons: a model
/// off the surface (a drifted track seeding a second skin) raises accuracy, a face it never grew raises
/// completeness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chamfer {
    /// Mean distance from the reconstruction to the ground truth.
    pub accuracy_cm: f64,
    /// Mean distance from the ground truth to the reconstruction.
    pub completeness_cm: f64,
}

impl Chamfer {
    /// The chamfer distance the protocol reports: the mean of the two directions.
    pub fn cm(&self) -> f64 {
        0.5 * (self.accuracy_cm + self.completeness_cm)
    }
}

/// Chamfer distance's two directions: both clouds voxel-downsampled at 5 mm, then the mean nearest-neighbour
/// distance each way (cm); [`Chamfer::cm`] is their mean.
pub fn chamfer(reconstruction: &[Vector3<f64>], ground_truth: &[Vector3<f64>]) -> Chamfer {
    let recon = voxel_downsample(reconstruction, CHAMFER_VOXEL_M);
    let gt = voxel_downsample(ground_truth, CHAMFER_VOXEL_M);
    if recon.is_empty() || gt.is_empty() {
        return Chamfer { accuracy_cm: f64::INFINITY, completeness_cm: f64::INFINITY };
    }
    Chamfer {
        accuracy_cm: PointIndex::new(&gt).mean_distance(&recon) * 100.0,
        completeness_cm: PointIndex::new(&recon).mean_distance(&gt) * 100.0,
    }
}

/// Points sampled on the mesh surface for ADD / ADD-S (deterministic).
pub const MODEL_POINTS: usize = 4000;

/// The model points of `mesh` for ADD / ADD-S.
pub fn model_points(mesh: &Mesh) -> Vec<Vector3<f64>> {
    mesh.sample_surface(MODEL_POINTS, 0).iter().map(|p| p.cast()).collect()
}

/// Surfels below this opacity are left out of the reconstruction that chamfer scores: they are on their way
/// out (pruning removes them) and hardly show in a render.
pub const MIN_SCORED_OPACITY: f32 = 0.5;

/// The centres of a model's surfels that chamfer scores (see [`MIN_SCORED_OPACITY`]).
pub fn scored_centres(model: &Splats) -> Vec<Vector3<f64>> {
    scored(model).map(|i| Vector3::from(model.means[i]).cast()).collect()
}

/// Indices of the surfels chamfer scores (see [`MIN_SCORED_OPACITY`]).
fn scored(model: &Splats) -> impl Iterator<Item = usize> + '_ {
    (0..model.len()).filter(|&i| model.opacity(i) >= MIN_SCORED_OPACITY)
}

/// Spacing (metres) of the grid sampled on each scored surfel's disc: well under chamfer's voxel, so that
/// every voxel a disc crosses gets a point.
pub const SURFACE_SAMPLE_M: f64 = 0.0015;

/// Points on the surface a model reconstructs, for chamfer: each scored surfel's disc sampled on a grid,
/// out to where the surfel on its own is half opaque (opacity o · exp(−ρ²/2) = ½, so ρ = √(2 ln 2o) standard
/// deviations along each tangent axis); the centre is always kept. The protocol samples the reconstruction's
/// surface, and centres alone leave out the gaps between neighbours that their discs cover (on a face
/// seeded at 3–5 mm spacing, a mean 2–4 mm from a surface point to the nearest centre).
pub fn scored_surface(model: &Splats) -> Vec<Vector3<f64>> {
    let mut points = Vec::new();
    for i in scored(model) {
        let opacity = model.opacity(i);
        let centre = Vector3::from(model.means[i]).cast::<f64>();
        let rotation = model.rotation(i).cast::<f64>();
        let reach = (2.0 * (2.0 * opacity as f64).ln()).max(0.0).sqrt();
        let [a, b] = model.log_scales[i].map(|l| (l as f64).exp() * reach);
        let (steps_u, steps_v) = ((a / SURFACE_SAMPLE_M) as i64, (b / SURFACE_SAMPLE_M) as i64);
        for j in -steps_u..=steps_u {
            for k in -steps_v..=steps_v {
                let (u, v) = (j as f64 * SURFACE_SAMPLE_M, k as f64 * SURFACE_SAMPLE_M);
                if (u / a).powi(2) + (v / b).powi(2) <= 1.0 || (j, k) == (0, 0) {
                    points.push(centre + rotation * Vector3::new(u, v, 0.0));
                }
            }
        }
    }
    points
}

/// Chamfer distance of points on a reconstruction (tracker's object frame, first predicted pose `pred0`)
/// against the part of `mesh` (ground truth's object frame, first pose `gt0`) that `views` saw.
pub fn model_chamfer(
    surface: &[Vector3<f64>],
    pred0: &Pose,
    gt0: &Pose,
    mesh: &Mesh,
    views: &[visibility::View],
) -> Chamfer {
    let in_gt_frame = reconstruction_to_gt_frame(surface, pred0, gt0);
    // Dense enough that 5 mm voxels are all filled: about one sample per 2 mm × 2 mm.
    let samples = ((mesh.area() as f64 / 4e-6) as usize).max(MODEL_POINTS);
    chamfer(&in_gt_frame, &visibility::visible_surface(mesh, views, samples, 1))
}

/// Moves a reconstruction from the tracker's object frame into the ground truth's: by pred_0, then gt_0⁻¹.
pub fn reconstruction_to_gt_frame(points: &[Vector3<f64>], pred0: &Pose, gt0: &Pose) -> Vec<Vector3<f64>> {
    let t = gt0.inverse() * pred0;
    points.iter().map(|p| (t * Point3::from(*p)).coords).collect()
}

#[cfg(test)]
mod tests {
    use nalgebra::{Translation3, UnitQuaternion};

    use super::*;

    fn cube_points() -> Vec<Vector3<f64>> {
        [-1.0, 1.0]
            .iter()
            .flat_map(|&x| {
                [-1.0, 1.0].into_iter().flat_map(move |y| [-1.0, 1.0].map(move |z| Vector3::new(x, y, z) * 0.05))
            })
            .collect()
    }

    #[test]
    fn add_and_add_s_of_hand_computed_cases() {
        let pts = vec![Vector3::new(0.0, 0.0, 0.0), Vector3::new(0.1, 0.0, 0.0)];
        let gt = Pose::identity();
        let shifted = Pose::from_parts(Translation3::new(0.0, 0.03, 0.04), UnitQuaternion::identity());
        assert!((add(&pts, &shifted, &gt) - 0.05).abs() < 1e-12);
        assert!((add_s(&pts, &shifted, &gt) - 0.05).abs() < 1e-12);
        // Swapping the two points (a half turn about their midpoint) costs ADD 0.1 but ADD-S 0.
        let flip = Pose::from_parts(
            Translation3::new(0.1, 0.0, 0.0),
            UnitQuaternion::from_axis_angle(&Vector3::z_axis(), std::f64::consts::PI),
        );
        assert!((add(&pts, &flip, &gt) - 0.1).abs() < 1e-12);
        assert!(add_s(&pts, &flip, &gt) < 1e-12);
    }

    #[test]
    fn add_s_never_exceeds_add() {
        let pts = cube_points();
        for k in 0..20 {
            let a = k as f64 * 0.37;
            let pred = Pose::from_parts(
                Translation3::new(0.01 * a.sin(), 0.02 * a.cos(), 0.005 * k as f64),
                UnitQuaternion::from_euler_angles(a, 0.5 * a, -a),
            );
            assert!(add_s(&pts, &pred, &Pose::identity()) <= add(&pts, &pred, &Pose::identity()) + 1e-12);
        }
    }

    #[test]
    fn auc_matches_hand_computation() {
        assert!((auc(&[0.0; 5], AUC_MAX_M) - 100.0).abs() < 1e-9);
        // errors 0.02 and 0.05: area 0.02·0.5 + 0.03·1 + 0.05·1 = 0.09 of 0.1.
        assert!((auc(&[0.05, 0.02], AUC_MAX_M) - 90.0).abs() < 1e-9);
        // A failed frame (0.5 m) halves the reachable precision: 0.04·0.5 + 0.06·0.5 = 0.05 of 0.1.
        assert!((auc(&[0.04, 0.5], AUC_MAX_M) - 50.0).abs() < 1e-9);
        assert_eq!(auc(&[0.1, 0.3], AUC_MAX_M), 0.0);
        assert_eq!(auc(&[], AUC_MAX_M), 0.0);
    }

    #[test]
    fn symmetric_object_turned_about_its_axis() {
        // Points on a circle around z: a turn about z by one point spacing maps the set onto itself.
        let pts: Vec<Vector3<f64>> = (0..36)
            .map(|k| {
                let a = k as f64 * 10f64.to_radians();
                Vector3::new(0.05 * a.cos(), 0.05 * a.sin(), 0.0)
            })
            .collect();
        let turned = Pose::from_parts(
            Translation3::identity(),
            UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 30f64.to_radians()),
        );
        assert!(add_s(&pts, &turned, &Pose::identity()) < 1e-9);
        assert!(add(&pts, &turned, &Pose::identity()) > 0.02);
    }

    #[test]
    fn first_frame_alignment_removes_a_constant_frame_change() {
        let gt: Vec<Pose> = (0..5)
            .map(|k| {
                Pose::from_parts(
                    Translation3::new(0.0, 0.01 * k as f64, 0.5),
                    UnitQuaternion::from_euler_angles(0.1 * k as f64, 0.0, 0.2),
                )
            })
            .collect();
        // A tracker whose object frame is offset and turned relative to the ground truth's.
        let frame_change =
            Pose::from_parts(Translation3::new(0.03, -0.02, 0.01), UnitQuaternion::from_euler_angles(0.4, -0.3, 1.0));
        let pred: Vec<Pose> = gt.iter().map(|g| g * frame_change).collect();
        for (a, g) in align_first_frame(&pred, &gt[0]).iter().zip(&gt) {
            let (r, t) = pose_errors(a, g);
            assert!(r < 1e-6 && t < 1e-6);
        }
    }

    #[test]
    fn chamfer_of_a_surface_against_itself_and_an_offset_copy() {
        let plane = plane();
        assert!(chamfer(&plane, &plane).cm() < 1e-9);
        let lifted: Vec<Vector3<f64>> = plane.iter().map(|p| p + Vector3::new(0.0, 0.0, 0.01)).collect();
        assert!((chamfer(&lifted, &plane).cm() - 1.0).abs() < 1e-6);
        // Half the plane, in place: every reconstructed point is on the surface, half the surface is missing.
        let half: Vec<Vector3<f64>> = plane.iter().filter(|p| p.x < 0.1).copied().collect();
        let c = chamfer(&half, &plane);
        assert!(c.accuracy_cm < 1e-9 && c.completeness_cm > 0.5, "{c:?}");
    }

    /// A plane z = 0, 20 cm × 20 cm, sampled every millimetre.
    fn plane() -> Vec<Vector3<f64>> {
        (0..200).flat_map(|i| (0..200).map(move |j| Vector3::new(i as f64 * 1e-3, j as f64 * 1e-3, 0.0))).collect()
    }

    /// Surfels in the plane z = 0 every `spacing` metres, facing +z, of scale `scale` and opacity `opacity`.
    fn surfel_grid(spacing: f64, scale: f32, opacity: f32) -> Splats {
        let mut splats = Splats::default();
        let n = (0.2 / spacing) as usize;
        for i in 0..n {
            for j in 0..n {
                let centre = [(i as f64 + 0.5) * spacing, (j as f64 + 0.5) * spacing, 0.0].map(|v| v as f32);
                splats.push(centre, [1.0, 0.0, 0.0, 0.0], [scale, scale], opacity, [0.5; 3]);
            }
        }
        splats
    }

    #[test]
    fn a_surfels_disc_is_sampled_out_to_half_opacity() {
        let mut one = Splats::default();
        // Opacity 0.8: half opaque at ρ = √(2 ln 1.6) ≈ 0.97 standard deviations; scales 6 and 3 mm, turned
        // 90° about z so that the long axis lies along y.
        let turn = nalgebra::UnitQuaternion::from_scaled_axis(Vector3::z() * std::f64::consts::FRAC_PI_2);
        let q = turn.quaternion().coords;
        one.push([0.1, 0.2, 0.3], [q.w, q.x, q.y, q.z].map(|v| v as f32), [0.006, 0.003], 0.8, [0.5; 3]);
        let points = scored_surface(&one);
        let reach = (2.0f64 * 1.6f64.ln()).sqrt();
        let (a, b) = (0.006 * reach, 0.003 * reach);
        let centre = Vector3::new(0.1, 0.2, 0.3);
        assert!(points.iter().any(|p| (p - centre).norm() < 1e-6), "the centre is kept");
        for p in &points {
            let d = p - centre;
            assert!(d.z.abs() < 1e-6, "off the surfel's plane: {d:?}");
            assert!((d.y / a).powi(2) + (d.x / b).powi(2) <= 1.0 + 1e-6, "outside the half-opaque ellipse: {d:?}");
        }
        // The grid fills the ellipse: about its area over the grid cell's.
        let expected = std::f64::consts::PI * a * b / (SURFACE_SAMPLE_M * SURFACE_SAMPLE_M);
        let n = points.len() as f64;
        assert!((n - expected).abs() < 0.25 * expected, "{n} points, expected about {expected:.0}");
        // Surfels chamfer does not score give nothing; a half-opaque one its centre alone.
        assert!(scored_surface(&surfel_grid(0.01, 0.004, 0.3)).is_empty());
        assert_eq!(scored_surface(&surfel_grid(0.05, 0.004, 0.5)).len(), 16);
    }

    #[test]
    fn chamfer_of_discs_covering_a_plane_counts_the_gaps_between_centres_as_covered() {
        // Surfels 8 mm apart whose discs (scale 6 mm) overlap: the surface is whole, the centres are not.
        let grid = surfel_grid(0.008, 0.006, 0.9);
        let centres = scored_centres(&grid);
        let by_centres = chamfer(&centres, &plane()).cm();
        let by_surface = chamfer(&scored_surface(&grid), &plane()).cm();
        assert!(by_surface < 0.1, "the discs cover the plane: {by_surface} cm");
        assert!(by_centres > 1.5 * by_surface, "centres alone: {by_centres} cm, discs {by_surface} cm");
    }
}
