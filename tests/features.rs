//! Sparse features: the rigid fit, and frame-to-keyframe matching with RANSAC on the synthetic generator's
//! rendered frames, where the ground-truth poses say where every match must land.

use nalgebra::{Point3, Translation3, UnitQuaternion, Vector3};
use splatrack::config::FeatureConfig;
use splatrack::eval::pose_errors;
use splatrack::frame::Pose;
use splatrack::source::synthetic::{MotionKind, ObjectKind, Scene, SequenceSpec};
use splatrack::tracker::features::{Anchor, Descriptor, detect, hamming, match_features, ransac_pose};
use splatrack::tracker::geometry::rigid_fit;

fn turned(axis: Vector3<f64>, degrees: f64, t: Vector3<f64>) -> Pose {
    Pose::from_parts(Translation3::from(t), UnitQuaternion::from_scaled_axis(axis.normalize() * degrees.to_radians()))
}

#[test]
fn rigid_fit_recovers_a_known_pose_and_refuses_too_few_points() {
    let pose = turned(Vector3::new(0.3, -1.0, 0.4), 70.0, Vector3::new(0.05, -0.02, 0.6));
    let object: Vec<Vector3<f64>> =
        (0..10).map(|i| Vector3::new((i as f64 * 0.7).sin(), (i as f64 * 1.3).cos(), i as f64 * 0.01) * 0.1).collect();
    let camera: Vec<Vector3<f64>> = object.iter().map(|o| (pose * Point3::from(*o)).coords).collect();
    let fit = rigid_fit(&object, &camera).expect("ten points in general position");
    let (rot, trans) = pose_errors(&fit, &pose);
    assert!(rot < 1e-6 && trans < 1e-6, "{rot}° {trans} mm");
    assert!(rigid_fit(&object[..2], &camera[..2]).is_none());
}

#[test]
fn ransac_keeps_the_pose_most_matches_agree_on_despite_outliers() {
    let pose = turned(Vector3::new(1.0, 0.2, 0.0), 40.0, Vector3::new(0.0, 0.0, 0.5));
    let cfg = FeatureConfig::default();
    let mut anchors: Vec<Anchor> = (0..30)
        .map(|i| {
            let object = Vector3::new((i as f64 * 0.9).sin(), (i as f64 * 0.4).cos(), (i as f64 * 2.1).sin()) * 0.05;
            Anchor { object, camera: (pose * Point3::from(object)).coords }
        })
        .collect();
    // A third of the matches are wrong: their camera points belong elsewhere.
    for (i, a) in anchors.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
        a.camera += Vector3::new(0.03, -0.02 * (i as f64).cos(), 0.04);
    }
    let found = ransac_pose(&anchors, &cfg).expect("20 of 30 agree");
    let (rot, trans) = pose_errors(&found.pose, &pose);
    assert!(rot < 0.01 && trans < 0.01, "{rot}° {trans} mm");
    assert_eq!(found.inliers.len(), 20);
    assert!(ransac_pose(&anchors[..cfg.min_inliers as usize - 1], &cfg).is_none(), "too few matches give no pose");
}

/// Features of frame `later` matched against frame `first`'s (object points through the true pose) are kept
/// only where they are right, and give the pose of `later` within `max_deg`, though the object turned and the
/// light changed between them. Corners on a slim bottle span a few centimetres: the turn they give alone is
/// loose (dense alignment pins it), the pixels they land on are not.
fn assert_features_find_pose(
    object: ObjectKind,
    motion: MotionKind,
    seed: u64,
    first: usize,
    later: usize,
    max_deg: f64,
) {
    let scene = Scene::new(SequenceSpec { object, motion, frames: later + 1, width: 640, height: 480, seed });
    let cfg = FeatureConfig::default();
    let (a, b) = (scene.render(first), scene.render(later));
    let (pose_a, pose_b) = (a.gt_pose.unwrap(), b.gt_pose.unwrap());
    let features_a = detect(&a, a.object_mask.as_ref().unwrap(), &cfg);
    let features_b = detect(&b, b.object_mask.as_ref().unwrap(), &cfg);
    assert!(
        features_a.len() > 20 && features_b.len() > 20,
        "{} and {} corners on a textured object",
        features_a.len(),
        features_b.len()
    );
    let to_object = pose_a.inverse();
    let reference: Vec<(Vector3<f64>, Descriptor)> =
        features_a.iter().map(|f| ((to_object * Point3::from(f.point)).coords, f.descriptor)).collect();
    let matches = match_features(&features_b, &reference, &cfg);
    let found =
        ransac_pose(&matches, &cfg).unwrap_or_else(|| panic!("{object:?}: no pose from {} matches", matches.len()));
    // What dense alignment takes from the matches kept: each lands on its corner at the true pose, give or
    // take the corner's and the depth's error (a wrong match, to a neighbouring block of repeated print,
    // lands 10 px or more away).
    let k = b.intrinsics;
    let pixels_off = |a: &Anchor| {
        let p = pose_b * Point3::from(a.object);
        (k.fx * (p.x / p.z - a.camera.x / a.camera.z)).hypot(k.fy * (p.y / p.z - a.camera.y / a.camera.z))
    };
    let worst = found.inliers.iter().map(pixels_off).fold(0.0, f64::max);
    assert!(worst < 5.0, "{object:?} frames {first}→{later}: a kept match lands {worst:.1} px off");
    let (rot, trans) = pose_errors(&found.pose, &pose_b);
    assert!(
        rot < max_deg && trans < 6.0,
        "{object:?} frames {first}→{later}: {rot:.2}° {trans:.1} mm from {} of {} matches",
        found.inliers.len(),
        matches.len()
    );
}

#[test]
fn features_find_the_pose_of_a_turned_box_and_bottle() {
    // 12 frames turn the box 12°; the bottle's print is sparser and repeats, so it gets 6 frames (3°): about
    // the spacing of keyframe candidates. Corners on the outline do not count, so the bottle is the one held
    // up close in a hand.
    assert_features_find_pose(ObjectKind::Box, MotionKind::Robot, 0, 0, 12, 3.0);
    assert_features_find_pose(ObjectKind::Bottle, MotionKind::Inhand, 1, 0, 6, 6.0);
}

#[test]
fn descriptors_of_one_corner_agree_and_of_different_ones_do_not() {
    let scene = Scene::new(SequenceSpec {
        object: ObjectKind::Box,
        motion: MotionKind::Robot,
        frames: 1,
        width: 320,
        height: 240,
        seed: 0,
    });
    let frame = scene.render(0);
    let features = detect(&frame, frame.object_mask.as_ref().unwrap(), &FeatureConfig::default());
    assert!(features.len() > 20);
    let same = detect(&frame, frame.object_mask.as_ref().unwrap(), &FeatureConfig::default());
    assert_eq!(hamming(&features[0].descriptor, &same[0].descriptor), 0, "detection is deterministic");
    let mean_other = features[1..].iter().map(|f| hamming(&features[0].descriptor, &f.descriptor)).sum::<u32>() as f64
        / (features.len() - 1) as f64;
    assert!(mean_other > 60.0, "other corners differ in {mean_other:.0} of 256 bits on average");
}
