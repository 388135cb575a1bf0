//! The synthetic generator: deterministic, benchmark-like motion limits, plausible sensor output.

use splatrack::frame::RgbdFrame;
use splatrack::source::FrameSource;
use splatrack::source::synthetic::objects::{ObjectKind, build, read_obj};
use splatrack::source::synthetic::{MotionKind, Scene, SequenceSpec, SyntheticSource, sensor};

fn spec(object: ObjectKind, motion: MotionKind, frames: usize) -> SequenceSpec {
    SequenceSpec { object, motion, frames, width: 160, height: 120, seed: 9 }
}

#[test]
fn the_same_seed_gives_the_same_frames_and_another_seed_does_not() {
    let s = spec(ObjectKind::Bottle, MotionKind::Inhand, 3);
    let a: Vec<RgbdFrame> = std::iter::from_fn({
        let mut src = SyntheticSource::new(s);
        move || src.next_frame().unwrap()
    })
    .collect();
    let b = Scene::new(s).render(2);
    assert_eq!(a.len(), 3);
    assert_eq!(a[2].rgb, b.rgb);
    assert_eq!(a[2].depth_m, b.depth_m);
    let other = Scene::new(SequenceSpec { seed: 10, ..s }).render(2);
    assert_ne!(other.gt_pose.unwrap(), b.gt_pose.unwrap());
}

#[test]
fn every_object_and_motion_stays_in_view_under_90_degrees_per_second() {
    for object in [ObjectKind::Box, ObjectKind::Bottle, ObjectKind::Mug] {
        for motion in [MotionKind::Inhand, MotionKind::Robot] {
            let scene = Scene::new(spec(object, motion, 300));
            let mut fastest_deg = 0.0f64;
            for i in 1..300 {
                let (a, b) = (scene.object_pose(i - 1), scene.object_pose(i));
                fastest_deg = fastest_deg.max(a.rotation.angle_to(&b.rotation).to_degrees() * 30.0);
            }
            assert!(fastest_deg <= 90.5 && fastest_deg > 45.0, "{object:?} {motion:?}: {fastest_deg:.1}°/s");
            for i in [0, 77, 150, 299] {
                let frame = scene.render(i);
                let visible = frame.object_mask.as_ref().unwrap().pixels().filter(|p| p[0] > 0).count();
                assert!(visible > 300, "{object:?} {motion:?} frame {i}: only {visible} object pixels");
            }
        }
    }
}

#[test]
fn depth_is_noisy_quantised_and_has_holes_like_a_structured_light_camera() {
    let frame = Scene::new(spec(ObjectKind::Box, MotionKind::Robot, 1)).render(0);
    let mask = frame.object_mask.as_ref().unwrap();
    let object_depths: Vec<f32> =
        frame.depth_m.pixels().zip(mask.pixels()).filter(|(_, m)| m[0] > 0).map(|(d, _)| d[0]).collect();
    let holes = object_depths.iter().filter(|d| **d == 0.0).count();
    assert!(holes > 0 && holes < object_depths.len() / 3, "{holes} holes in {} object pixels", object_depths.len());
    for d in object_depths.iter().filter(|d| **d > 0.0) {
        assert!((d * 1000.0 - (d * 1000.0).round()).abs() < 1e-3, "depth is quantised to millimetres");
        assert!((0.3..1.0).contains(d), "object depth {d} out of range");
    }
    assert!(sensor::depth_sigma_m(1.5) > 2.0 * sensor::depth_sigma_m(0.5), "noise grows with distance");
    let occluded = frame.occluder_mask.as_ref().unwrap().pixels().filter(|p| p[0] > 0).count();
    assert!(occluded > 0, "the gripper is visible");
}

#[test]
fn meshes_export_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    for kind in [ObjectKind::Box, ObjectKind::Bottle, ObjectKind::Mug] {
        let mesh = build(kind);
        let path = dir.path().join(format!("{}.obj", kind.name()));
        mesh.write_obj(&path).unwrap();
        let back = read_obj(&path).unwrap();
        assert_eq!(back.triangles, mesh.triangles);
        assert!((back.area() - mesh.area()).abs() < 1e-4 * mesh.area());
        let extent = mesh.positions.iter().map(|p| p.norm()).fold(0.0f32, f32::max);
        assert!((0.05..0.2).contains(&extent), "{kind:?} is YCB-sized: {extent} m from its centre");
    }
    // A 16 × 21 × 7 cm box has 2·(0.16·0.21 + 0.16·0.07 + 0.21·0.07) m² of surface.
    assert!((build(ObjectKind::Box).area() - 0.1190).abs() < 1e-4);
}
