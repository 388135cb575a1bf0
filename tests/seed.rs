//! Surfels seeded from a depth frame reproduce that frame when rendered at its pose.

mod common;

use splatrack::config::{RasterConfig, SeedConfig};
use splatrack::frame::{DepthImage, Intrinsics, Mask, RgbdFrame};
use splatrack::gpu::SplatRenderer;
use splatrack::rendered::{CH_ALPHA, CH_DEPTH_EXPECTED, CH_RGB};
use splatrack::splats::{scenes, seed::seed_from_frame};

#[test]
fn seeded_surfels_reproduce_the_frame_they_came_from() {
    let k = Intrinsics { width: 96, height: 72, fx: 100.0, fy: 101.0, cx: 48.3, cy: 35.6 };
    let mut renderer = SplatRenderer::new(common::gpu(), RasterConfig::default());
    let sphere = scenes::checker_sphere(3000, 0.08);
    let pose = common::pose_in_front(0.35, 0.6);
    let gpu = renderer.upload(&sphere).unwrap();
    let view = renderer.render_view(&gpu, &k, &pose).unwrap();
    let n = view.pixel_count();
    let alpha = view.plane(CH_ALPHA);
    let at = |x: u32, y: u32| (y * k.width + x) as usize;
    let frame = RgbdFrame {
        id: "0".into(),
        timestamp_s: 0.0,
        intrinsics: k,
        rgb: image::RgbImage::from_fn(k.width, k.height, |x, y| {
            image::Rgb(CH_RGB.map(|c| {
                (view.planes[c * n + at(x, y)] / alpha[at(x, y)].max(1e-6)).clamp(0.0, 1.0).mul_add(255.0, 0.5) as u8
            }))
        }),
        depth_m: DepthImage::from_fn(k.width, k.height, |x, y| {
            let p = at(x, y);
            image::Luma([if alpha[p] > 0.99 { view.plane(CH_DEPTH_EXPECTED)[p] / alpha[p] } else { 0.0 }])
        }),
        object_mask: Some(Mask::from_fn(k.width, k.height, |x, y| {
            image::Luma([if alpha[at(x, y)] > 0.99 { 255 } else { 0 }])
        })),
        occluder_mask: None,
        gt_pose: None,
    };
    let cfg = SeedConfig::default();
    let seeded = seed_from_frame(&frame, &pose, &cfg, None);
    let inside = frame.object_mask.as_ref().unwrap().pixels().filter(|m| m[0] > 0).count();
    // One surfel per stride × stride cell of the mask, less the pixels without depth, without a normal, or
    // where the sphere turns more than `max_slant_deg` from the camera: its rim.
    let min_facing = (cfg.max_slant_deg as f64).to_radians().cos();
    let trusted = (0..k.height)
        .flat_map(|y| (0..k.width).map(move |x| (x, y)))
        .filter(|&(x, y)| frame.object_mask.as_ref().unwrap().get_pixel(x, y)[0] > 0)
        .filter(|&(x, y)| {
            let view = frame.back_project(x, y).map(|p| -p.normalize());
            let normal = frame.depth_normal(x, y, cfg.normal_baseline_px, cfg.max_depth_step_m as f64);
            view.zip(normal).is_some_and(|(v, n)| n.dot(&v) >= min_facing)
        })
        .count();
    let per_cell = (cfg.stride_px * cfg.stride_px) as usize;
    assert!(trusted >= inside * 8 / 10, "only {trusted} of {inside} mask pixels face the camera");
    assert!(
        seeded.len() * per_cell >= trusted * 9 / 10 && seeded.len() * per_cell <= trusted + 100,
        "{} surfels for {trusted} pixels",
        seeded.len()
    );

    let again = renderer.render_view(&renderer.upload(&seeded).unwrap(), &k, &pose).unwrap();
    let (mut covered, mut depth_err, mut depth_bias, mut color_err, mut count) = (0, 0.0f64, 0.0f64, 0.0f64, 0);
    for (p, m) in frame.object_mask.as_ref().unwrap().pixels().enumerate() {
        if m[0] == 0 {
            continue;
        }
        let a = again.plane(CH_ALPHA)[p];
        if a > 0.5 {
            covered += 1;
            let error = (again.plane(CH_DEPTH_EXPECTED)[p] / a - frame.depth_m.as_raw()[p]) as f64;
            (depth_err, depth_bias) = (depth_err + error.abs(), depth_bias + error);
            let x = (p as u32 % k.width, p as u32 / k.width);
            for c in 0..3 {
                color_err += (again.planes[CH_RGB[c] * n + p] / a - frame.rgb.get_pixel(x.0, x.1)[c] as f32 / 255.0)
                    .abs() as f64;
            }
            count += 1;
        }
    }
    // The rim left unseeded above stays uncovered: the seeded part must be covered whole.
    assert!(covered as f64 >= 0.97 * trusted as f64, "{covered} mask pixels covered, {trusted} seeded");
    let (depth_mm, bias_mm, color) =
        (1e3 * depth_err / count as f64, 1e3 * depth_bias / count as f64, color_err / (3 * count) as f64);
    // Measured: 1.04 mm, −0.86 mm and 0.034. Depth is read where each pixel's ray meets a surfel's plane; with
    // centre depths (gsplat's convention) the nearest centre composites first wherever the sphere slopes away,
    // and this gave 1.56 mm and −1.47 mm. What remains: a convex surface's tangent planes lie outside it.
    assert!(depth_mm < 1.3 && bias_mm.abs() < 1.2, "mean depth error {depth_mm:.2} mm, bias {bias_mm:.2} mm");
    assert!(color < 0.08, "colour error {color:.3}");
}
