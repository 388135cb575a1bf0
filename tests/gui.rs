//! The real app in a real window: Xvfb, lavapipe, the bare `splatrack` command on the synthetic demo. It
//! tracks a few frames, saves egui's own screenshot and exits; the screenshot must show the panels.
//! `scripts/test.sh` installs xvfb and xauth.

use std::process::Command;

/// Mean and standard deviation of the grey levels in a rectangle of the screenshot.
fn region_stats(img: &image::RgbaImage, x0: f32, y0: f32, x1: f32, y1: f32) -> (f64, f64) {
    let (w, h) = img.dimensions();
    let (xa, ya, xb, yb) =
        ((x0 * w as f32) as u32, (y0 * h as f32) as u32, (x1 * w as f32) as u32, (y1 * h as f32) as u32);
    let values: Vec<f64> = (ya..yb)
        .flat_map(|y| (xa..xb).map(move |x| (x, y)))
        .map(|(x, y)| img.get_pixel(x, y).0[..3].iter().map(|&c| c as f64).sum::<f64>() / 3.0)
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    (mean, var.sqrt())
}

#[test]
fn the_app_tracks_the_demo_and_its_screenshot_shows_every_panel() {
    assert!(
        Command::new("xvfb-run").arg("--help").output().is_ok(),
        "xvfb-run is missing: run scripts/install-deps.sh (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x1000x24"])
        .arg(env!("CARGO_BIN_EXE_splatrack"))
        .args(["--exit-after-frames", "10", "--screenshot"])
        .arg(&shot)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("UI while tracking"), "the app reports its frame times: {stderr}");
    let img = image::open(&shot).unwrap_or_else(|e| panic!("{}: {e}\n{stderr}", shot.display())).to_rgba8();
    assert!(img.width() >= 1200 && img.height() >= 800, "window size {:?}", img.dimensions());

    // The live panel (left): the camera image is textured, not a flat colour.
    let (_, live_std) = region_stats(&img, 0.01, 0.07, 0.35, 0.4);
    assert!(live_std > 20.0, "live image region is nearly uniform (std {live_std:.1})");
    // The inspector (centre) shows splats: its view is dark background with a bright object.
    let (inspector_mean, inspector_std) = region_stats(&img, 0.4, 0.15, 0.75, 0.55);
    assert!(
        inspector_std > 15.0 && inspector_mean > 25.0,
        "inspector shows no splats (mean {inspector_mean:.1}, std {inspector_std:.1})"
    );
    // The keyframe strip (right) holds the first keyframe's thumbnail.
    let (_, strip_std) = region_stats(&img, 0.81, 0.05, 0.87, 0.12);
    assert!(strip_std > 10.0, "no keyframe thumbnail (std {strip_std:.1})");
    // The three model views under the camera image are drawn (not the empty panel background).
    let (_, views_std) = region_stats(&img, 0.01, 0.5, 0.35, 0.64);
    assert!(views_std > 8.0, "model views are blank (std {views_std:.1})");
}

#[test]
fn without_a_display_the_bare_command_says_so_and_replays_headless() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_splatrack"))
        .args(["--exit-after-frames", "3"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no display"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path().join("out/replay/ob_in_cam")).unwrap().count(), 3);
    assert!(dir.path().join("out/replay/report.json").exists());
}
