//! `splatrack synth` and `splatrack eval` end to end through the real binary and real files.

use std::path::Path;
use std::process::Command;

use nalgebra::Translation3;
use splatrack::frame::format_pose;
use splatrack::source::ycbineoat::read_pose_txt;

fn splatrack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_splatrack")).args(args).output().unwrap()
}

fn synth(out: &Path, format: &str) {
    let out = out.to_str().unwrap();
    let o = splatrack(&[
        "synth", "--object", "mug", "--motion", "robot", "--frames", "10", "--size", "80x60", "--seed", "2",
        "--format", format, "--out", out,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn ground_truth_scores_100_and_a_perturbed_copy_scores_as_computed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let seq = dir.path().join("seq");
    synth(&seq, "ycbineoat");
    let gt_dir = seq.join("annotated_poses");
    let mut names: Vec<_> = std::fs::read_dir(&gt_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names.len(), 10);

    let exact = dir.path().join("exact/ob_in_cam");
    let shifted = dir.path().join("shifted/ob_in_cam");
    std::fs::create_dir_all(&exact).unwrap();
    std::fs::create_dir_all(&shifted).unwrap();
    for (i, name) in names.iter().enumerate() {
        let pose = read_pose_txt(&gt_dir.join(name)).unwrap();
        std::fs::write(exact.join(name), format_pose(&pose)).unwrap();
        // Frames after the first move 2 cm along the camera's x axis: ADD is exactly 2 cm there.
        let offset = if i == 0 { 0.0 } else { 0.02 };
        let moved = Translation3::new(offset, 0.0, 0.0) * pose;
        std::fs::write(shifted.join(name), format_pose(&moved)).unwrap();
    }
    let score = |pred: &Path| -> serde_json::Value {
        let o = splatrack(&["eval", "--pred", pred.to_str().unwrap(), "--gt", seq.to_str().unwrap(), "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0].clone()
    };
    let exact_score = score(exact.parent().unwrap());
    assert!((exact_score["add_auc"].as_f64().unwrap() - 100.0).abs() < 1e-6);
    assert!((exact_score["adds_auc"].as_f64().unwrap() - 100.0).abs() < 1e-6);
    let shifted_score = score(shifted.parent().unwrap());
    // Sorted errors: one 0, nine 0.02 m. Area = 0.02·(2/10) + 0.08·1 = 0.084 of 0.1.
    assert!((shifted_score["add_auc"].as_f64().unwrap() - 84.0).abs() < 1e-6, "{shifted_score}");
    assert!(shifted_score["adds_auc"].as_f64().unwrap() >= shifted_score["add_auc"].as_f64().unwrap());
    assert!((shifted_score["translation_error_mm"]["max"].as_f64().unwrap() - 20.0).abs() < 1e-6);

    assert_eq!(shifted_score["per_frame"].as_array().unwrap().len(), 10);

    // A "reconstruction" of surfels sampled on the part of the true surface that the ten frames saw, in the
    // tracker's frame (= the first prediction's), scores near the protocol's floor: after 5 mm voxel
    // averaging, centroids of two random samplings of one surface sit about a millimetre apart (and the mug's
    // 4 mm wall merges in some voxels). The whole surface scores worse: the protocol's ground truth is the
    // seen part only, and the rest is off it. Moved by 1 cm along z the seen part scores between: surfaces
    // facing ±z move 1 cm away, but the mug's sides slide along themselves (the plane case in eval's unit
    // tests checks the exact 1 cm).
    let mesh = splatrack::source::synthetic::objects::read_obj(&seq.join("mesh.obj")).unwrap();
    let gt = splatrack::eval::report::load_gt(&seq).unwrap();
    let views = splatrack::eval::report::seen_views(&seq, &gt).unwrap();
    assert!(views.len() == 10 && views.iter().all(|v| v.depth.is_some()), "every frame a view, with its depth");
    let recon = dir.path().join("recon.ply");
    let chamfer_of = |points: &[nalgebra::Vector3<f64>]| -> f64 {
        let mut splats = splatrack::splats::Splats::default();
        for p in points {
            // Discs smaller than the surface sampling grid: each surfel scores as its centre alone.
            splats.push(p.cast::<f32>().into(), [1.0, 0.0, 0.0, 0.0], [0.0005, 0.0005], 0.9, [0.5; 3]);
        }
        splatrack::splats::ply::write_ply(&recon, &splats).unwrap();
        let args = ["eval", "--pred", exact.parent().unwrap().to_str().unwrap(), "--gt", seq.to_str().unwrap()];
        let o = Command::new(env!("CARGO_BIN_EXE_splatrack"))
            .args(args)
            .args(["--recon", recon.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0]["chamfer_cm"].as_f64().unwrap()
    };
    let seen = splatrack::eval::visibility::visible_surface(&mesh, &views, 20_000, 5);
    let whole: Vec<_> = mesh.sample_surface(20_000, 5).iter().map(|p| p.cast::<f64>()).collect();
    assert!(
        seen.len() < whole.len() * 9 / 10,
        "{} of {} points seen in ten frames of one side",
        seen.len(),
        whole.len()
    );
    let same = chamfer_of(&seen);
    assert!(same < 0.15, "the seen surface scored {same} cm");
    let all = chamfer_of(&whole);
    assert!(all > same + 0.1, "the whole surface scored {all} cm, the seen part {same} cm");
    let lifted: Vec<_> = seen.iter().map(|p| p + nalgebra::Vector3::new(0.0, 0.0, 0.01)).collect();
    let moved = chamfer_of(&lifted);
    assert!((0.3..1.0).contains(&moved) && moved > 3.0 * same, "1 cm offset scored {moved} cm");

    let table =
        splatrack(&["eval", "--pred", exact.parent().unwrap().to_str().unwrap(), "--gt", seq.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("ADD-S") && text.contains("seq") && text.contains("100.00"), "{text}");
}

#[test]
fn synth_writes_the_ho3d_layout_and_eval_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), "ho3d");
    let seq = dir.path().join("train/mug_robot_s2");
    for folder in ["rgb", "depth", "meta", "seg"] {
        assert_eq!(std::fs::read_dir(seq.join(folder)).unwrap().count(), 10, "{folder}");
    }
    // Predictions named by HO3D frame ids, from the meta pickles themselves.
    let pred = dir.path().join("pred/ob_in_cam");
    std::fs::create_dir_all(&pred).unwrap();
    for i in 0..10 {
        let meta = splatrack::source::ho3d::read_meta(&seq.join(format!("meta/{i:04}.pkl"))).unwrap();
        std::fs::write(pred.join(format!("{i:04}.txt")), format_pose(&meta.pose.unwrap())).unwrap();
    }
    let o = splatrack(&[
        "eval",
        "--pred",
        pred.parent().unwrap().to_str().unwrap(),
        "--gt",
        seq.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((v[0]["adds_auc"].as_f64().unwrap() - 100.0).abs() < 1e-6);

    let missing = splatrack(&["eval", "--pred", dir.path().to_str().unwrap(), "--gt", seq.to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("predicted pose for annotated frame 0000"));
}
