//! PLY import/export: round trips, both encodings, and every class of bad file.

use std::path::Path;

use splatrack::splats::ply::{read_ply, write_ply};
use splatrack::splats::{Splats, scenes};

const HEADER: &str = "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\n\
property float nx\nproperty float ny\nproperty float nz\nproperty float f_dc_0\nproperty float f_dc_1\n\
property float f_dc_2\nproperty float opacity\nproperty float scale_0\nproperty float scale_1\nproperty float rot_0\n\
property float rot_1\nproperty float rot_2\nproperty float rot_3\nend_header\n";
const ROW_A: &str = "0.1 0.2 0.3 0 0 1 1.0 -1.0 0.5 2.0 -4.0 -5.0 1 0 0 0\n";
const ROW_B: &str = "-0.1 0 0.05 0 0 1 0 0 0 -1.5 -3.0 -3.5 0.7 0.7 0 0\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn error_of(path: &Path) -> String {
    let err = read_ply(path).expect_err("this file must be rejected").to_string();
    assert!(err.contains(&path.display().to_string()), "the error must name the file: {err}");
    err
}

#[test]
fn binary_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let splats = scenes::random_scene(500, 0.1, 4);
    let path = dir.path().join("model.ply");
    write_ply(&path, &splats).unwrap();
    assert_eq!(read_ply(&path).unwrap(), splats);
    assert!(!dir.path().join("model.ply.partial").exists(), "the temporary file must be renamed away");
}

#[test]
fn higher_sh_degree_round_trips_with_channel_major_f_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut splats = scenes::random_scene(3, 0.1, 4);
    splats.sh_degree = 1;
    splats.sh = (0..3 * 4).map(|k| [k as f32, 100.0 + k as f32, 200.0 + k as f32]).collect();
    let path = dir.path().join("sh1.ply");
    write_ply(&path, &splats).unwrap();
    assert_eq!(read_ply(&path).unwrap(), splats);
}

#[test]
fn ascii_file_reads_with_the_2dgs_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ascii.ply", format!("{HEADER}{ROW_A}{ROW_B}").as_bytes());
    let s: Splats = read_ply(&path).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s.means[0], [0.1, 0.2, 0.3]);
    assert_eq!(s.log_scales[1], [-3.0, -3.5]);
    assert_eq!(s.quats[1], [0.7, 0.7, 0.0, 0.0]);
    // colour = 0.5 + 0.28209479 · f_dc; opacity = sigmoid(logit)
    let c = s.base_color(0);
    assert!(
        (c[0] - (0.5 + 0.282_094_8)).abs() < 1e-6 && c[1] == 0.5 - 0.282_094_8 && (c[2] - 0.641_047_4).abs() < 1e-6
    );
    assert!((s.opacity(0) - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-7);
}

#[test]
fn missing_property_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let header = HEADER.replace("property float scale_1\n", "");
    let row = "0.1 0.2 0.3 0 0 1 1.0 -1.0 0.5 2.0 -4.0 1 0 0 0\n";
    let path = write(dir.path(), "no_scale1.ply", format!("{header}{row}{row}").as_bytes());
    assert!(error_of(&path).contains("missing vertex property 'scale_1'"));
}

#[test]
fn wrong_counts_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let short = write(dir.path(), "short.ply", format!("{HEADER}{ROW_A}").as_bytes());
    assert!(error_of(&short).contains("declares 2 vertices but the data holds only 1"));
    let long = write(dir.path(), "long.ply", format!("{HEADER}{ROW_A}{ROW_B}{ROW_B}").as_bytes());
    assert!(error_of(&long).contains("data continues after them"));
    let ragged = write(dir.path(), "ragged.ply", format!("{HEADER}{ROW_A}0.1 0.2\n").as_bytes());
    assert!(error_of(&ragged).contains("vertex 1"));

    let splats = scenes::random_scene(10, 0.1, 1);
    let good = dir.path().join("good.ply");
    write_ply(&good, &splats).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cut = write(dir.path(), "cut.ply", &bytes[..bytes.len() - 30]);
    assert!(error_of(&cut).contains("declares 10 vertices but the data holds only 9"));
    let mut extra = bytes.clone();
    extra.extend_from_slice(&[0u8; 64]);
    let extra = write(dir.path(), "extra.ply", &extra);
    assert!(error_of(&extra).contains("data continues after them"));
}

#[test]
fn non_finite_values_are_rejected_not_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let nan_row = ROW_B.replace("-1.5", "nan");
    let path = write(dir.path(), "nan.ply", format!("{HEADER}{ROW_A}{nan_row}").as_bytes());
    let err = error_of(&path);
    assert!(err.contains("vertex 1") && err.contains("'opacity'") && err.contains("not finite"), "{err}");

    let mut splats = scenes::random_scene(5, 0.1, 2);
    splats.means[3][2] = f32::INFINITY;
    let bin = dir.path().join("inf.ply");
    write_ply(&bin, &splats).unwrap();
    let err = error_of(&bin);
    assert!(err.contains("vertex 3") && err.contains("'z'"), "{err}");
}

#[test]
fn garbage_and_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let png = write(dir.path(), "image.ply", b"\x89PNG\r\n\x1a\n....");
    assert!(error_of(&png).contains("not a PLY file"));
    let big_endian = write(dir.path(), "be.ply", HEADER.replace("ascii", "binary_big_endian").as_bytes());
    assert!(error_of(&big_endian).contains("binary_big_endian"));
    let cut_at = HEADER.find("property float nx").unwrap();
    let no_header_end = write(dir.path(), "cut_header.ply", &HEADER.as_bytes()[..cut_at]);
    assert!(error_of(&no_header_end).contains("end_header"));
    let missing = dir.path().join("nope.ply");
    assert!(error_of(&missing).contains("No such file"));
}

#[test]
fn bundled_example_is_the_checker_sphere() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/example_sphere.ply");
    assert_eq!(read_ply(&path).unwrap(), scenes::checker_sphere(4000, 0.1), "regenerate assets/example_sphere.ply");
}
