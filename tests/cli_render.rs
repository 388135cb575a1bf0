//! `splatrack render` end to end: the real binary, the bundled example, real PNG files.

use std::process::Command;

fn splatrack() -> Command {
    Command::new(env!("CARGO_BIN_EXE_splatrack"))
}

#[test]
fn renders_the_bundled_example_to_rgba_and_depth_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let (out, depth) = (dir.path().join("example.png"), dir.path().join("depth.png"));
    let root = env!("CARGO_MANIFEST_DIR");
    let status = splatrack()
        .args(["render", "--splats", &format!("{root}/assets/example_sphere.ply")])
        .args(["--camera", &format!("{root}/assets/example_camera.json")])
        .arg("--out")
        .arg(&out)
        .arg("--depth-out")
        .arg(&depth)
        .status()
        .unwrap();
    assert!(status.success());
    let rgba = image::open(&out).unwrap().into_rgba8();
    assert_eq!(rgba.dimensions(), (320, 240));
    let opaque = rgba.pixels().filter(|p| p[3] > 250).count();
    let empty = rgba.pixels().filter(|p| p[3] == 0).count();
    // A 10 cm sphere at 35 cm with f = 320 px spans ~190 px: about a third of the image is covered.
    assert!(opaque > 15_000 && empty > 20_000, "opaque {opaque}, empty {empty}");
    // Red cap, cream and blue checks are all visible from this camera.
    assert!(rgba.pixels().any(|p| p[3] > 250 && p[0] > 200 && p[1] < 80));
    assert!(rgba.pixels().any(|p| p[3] > 250 && p[2] > 150 && p[0] < 80));
    let depth = image::open(&depth).unwrap().into_luma16();
    let near = depth.pixels().filter(|p| p[0] > 0).map(|p| p[0]).min().unwrap();
    let far = depth.pixels().map(|p| p[0]).max().unwrap();
    // Sphere centre at 350 mm, radius 100 mm: visible surface between 250 and 350 mm.
    assert!((245..=265).contains(&near) && (300..=352).contains(&far), "depth range {near}..{far} mm");
}

#[test]
fn bad_inputs_fail_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let bad_camera = dir.path().join("camera.json");
    std::fs::write(
        &bad_camera,
        r#"{"width": 64, "height": 48, "fx": 50, "fy": 50, "cx": 32, "cy": 24,
        "world_to_camera": [[2,0,0,0],[0,1,0,0],[0,0,1,0.5],[0,0,0,1]]}"#,
    )
    .unwrap();
    let output = splatrack()
        .args(["render", "--splats", &format!("{root}/assets/example_sphere.ply"), "--camera"])
        .arg(&bad_camera)
        .args(["--out", "/dev/null"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("camera.json") && stderr.contains("not a rotation"), "{stderr}");

    let output = splatrack()
        .args(["render", "--splats"])
        .arg(dir.path().join("missing.ply"))
        .args(["--camera", &format!("{root}/assets/example_camera.json"), "--out", "/dev/null"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("missing.ply"), "{stderr}");
}

#[test]
fn gl_backend_without_optional_features_renders_like_vulkan() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let render = |backend: &str| {
        let out = dir.path().join(format!("{backend}.png"));
        let status = splatrack()
            .env("WGPU_BACKEND", backend)
            .args(["render", "--splats", &format!("{root}/assets/example_sphere.ply")])
            .args(["--camera", &format!("{root}/assets/example_camera.json"), "--out"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "render on {backend} failed (GL needs libegl1 libegl-mesa0 libgl1-mesa-dri)");
        image::open(&out).unwrap().into_rgba8()
    };
    let (vulkan, gl) = (render("vulkan"), render("gl"));
    // Same kernels, different shader compilers: allow one 8-bit level of rounding, and a few flipped pixels.
    let differing = vulkan.pixels().zip(gl.pixels()).filter(|(a, b)| (0..4).any(|c| a[c].abs_diff(b[c]) > 1)).count();
    assert!(differing <= 40, "{differing} pixels differ between Vulkan and GL");
}
