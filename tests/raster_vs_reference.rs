//! The GPU rasterizer against its CPU reference, and the invariants a renderer must keep.

mod common;

use splatrack::config::RasterConfig;
use splatrack::gpu::SplatRenderer;
use splatrack::reference;
use splatrack::rendered::*;
use splatrack::splats::{Splats, scenes};

/// Per-output tolerances (absolute). The GPU evaluates the same f32 formulas, but lavapipe's `exp`, `sqrt`
/// and fused multiply-adds round differently from Rust's in the last bits; 2e-3 absolute on values of order 1
/// is about 8-bit quantisation (1/255 ≈ 3.9e-3), far below anything visible, and far above float noise.
const TOL_COLOR: f32 = 2e-3;
const TOL_ALPHA: f32 = 2e-3;
/// Depths are ~0.3–1 m; expected depth is a sum of such values weighted by alpha, so the same relative error.
const TOL_DEPTH_M: f32 = 2e-3;
const TOL_NORMAL: f32 = 2e-3;
/// Distortion sums products of depths and weights; its magnitude here stays under ~0.05.
const TOL_DISTORTION: f32 = 2e-3;
/// A last-bit difference can flip a surfel across the alpha ≥ 1/255 cut, the transmittance ≤ 1e-4 stop or the
/// median's T > 0.5 test, changing that pixel for good; such flips are allowed in at most this share of pixels.
const MAX_FLIP_SHARE: f64 = 0.005;

fn compare(gpu: &RenderedView, cpu: &RenderedView, what: &str) {
    let n = gpu.pixel_count();
    let allowed = (MAX_FLIP_SHARE * n as f64).ceil() as usize + 1;
    let mut bad_pixels = vec![false; n];
    let checks: Vec<(usize, f32)> = CH_RGB
        .iter()
        .map(|&c| (c, TOL_COLOR))
        .chain([(CH_ALPHA, TOL_ALPHA), (CH_FINAL_T, TOL_ALPHA), (CH_DEPTH_EXPECTED, TOL_DEPTH_M)])
        .chain([(CH_DEPTH_MEDIAN, TOL_DEPTH_M), (CH_DISTORTION, TOL_DISTORTION)])
        .chain(CH_NORMAL.iter().map(|&c| (c, TOL_NORMAL)))
        .collect();
    for (c, tol) in checks {
        for (p, (a, b)) in gpu.plane(c).iter().zip(cpu.plane(c)).enumerate() {
            assert!(a.is_finite(), "{what}: GPU channel {c} pixel {p} is {a} (unwritten or poisoned memory?)");
            if (a - b).abs() > tol {
                bad_pixels[p] = true;
            }
        }
    }
    for c in [CNT_LAST, CNT_MEDIAN] {
        for (p, (a, b)) in gpu.count_plane(c).iter().zip(cpu.count_plane(c)).enumerate() {
            if a != b {
                bad_pixels[p] = true;
            }
        }
    }
    let bad = bad_pixels.iter().filter(|b| **b).count();
    assert!(bad <= allowed, "{what}: {bad} of {n} pixels differ beyond tolerance (allowed {allowed})");
}

fn render_both(
    renderer: &mut SplatRenderer,
    splats: &Splats,
    w: u32,
    h: u32,
    angle: f64,
) -> (RenderedView, RenderedView) {
    let cam = common::camera(w, h);
    let pose = common::pose_in_front(0.45, angle);
    let gpu_splats = renderer.upload(splats).unwrap();
    let gpu = renderer.render_view(&gpu_splats, &cam, &pose).unwrap();
    let cpu = reference::render(splats, &cam, &pose, &RasterConfig::default());
    (gpu, cpu)
}

#[test]
fn gpu_matches_reference_on_random_scenes() {
    let mut renderer = SplatRenderer::new(common::gpu(), RasterConfig::default());
    let cases = [(1, 64, 48), (30, 64, 48), (300, 80, 60), (1000, 100, 75), (5000, 160, 120)];
    for (seed, &(n, w, h)) in cases.iter().enumerate() {
        let splats = scenes::random_scene(n, 0.12, seed as u64);
        let (gpu, cpu) = render_both(&mut renderer, &splats, w, h, seed as f64);
        let covered = cpu.plane(CH_ALPHA).iter().filter(|a| **a > 0.01).count();
        assert!(covered > 0, "scene {n} at {w}x{h} should cover some pixels");
        compare(&gpu, &cpu, &format!("{n} surfels at {w}x{h}"));
    }
}

#[test]
fn projection_matches_reference() {
    let mut renderer = SplatRenderer::new(common::gpu(), RasterConfig::default());
    let splats = scenes::random_scene(2000, 0.3, 7);
    let cam = common::camera(96, 64);
    let pose = common::pose_in_front(0.4, 0.5);
    let gpu_splats = renderer.upload(&splats).unwrap();
    renderer.render(&gpu_splats, &cam, &pose).unwrap();
    let gpu = renderer.read_projected().unwrap();
    let cpu = reference::project(&splats, &cam, &pose, &RasterConfig::default());
    let mut radius_flips = 0;
    let mut culled = 0;
    for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
        // Culling decisions are comparisons of nearly equal floats only at the image border: count them.
        if (g.tile_count == 0) != (c.tile_count == 0) || g.radius != c.radius {
            radius_flips += 1;
            continue;
        }
        if c.tile_count == 0 {
            culled += 1;
            continue;
        }
        // Centres are in pixels (up to ~100); 1e-3 px is far below any visible shift.
        assert!((g.centre_x - c.centre_x).abs() < 1e-3 && (g.centre_y - c.centre_y).abs() < 1e-3, "surfel {i} centre");
        // Depth is three products and sums; lavapipe may fuse them (FMA), so allow a few ulps.
        assert!((g.depth - c.depth).abs() <= 4.0 * f32::EPSILON * c.depth, "surfel {i} depth");
        for k in 0..3 {
            assert!((g.normal[k] - c.normal[k]).abs() < 1e-5, "surfel {i} normal");
            assert!((g.color[k] - c.color[k]).abs() < 1e-5, "surfel {i} colour");
            // Ray-transform rows are of order fx ≈ 80 times metres: relative 1e-5.
            let scale = 1.0 + c.ray_u[k].abs() + c.ray_v[k].abs();
            assert!((g.ray_u[k] - c.ray_u[k]).abs() < 1e-5 * scale && (g.ray_v[k] - c.ray_v[k]).abs() < 1e-5 * scale);
        }
        assert!((g.opacity - c.opacity).abs() < 1e-6, "surfel {i} opacity");
    }
    assert!(culled > 0, "the scene is wider than the view, so some surfels must be culled");
    assert!(radius_flips <= 20, "{radius_flips} of 2000 radii differ (a ceil() at an integer boundary may flip)");
}

#[test]
fn rendering_twice_is_bit_identical() {
    let mut renderer = SplatRenderer::new(common::gpu(), RasterConfig::default());
    let splats = scenes::random_scene(3000, 0.12, 11);
    let (first, _) = render_both(&mut renderer, &splats, 160, 120, 0.7);
    let (second, _) = render_both(&mut renderer, &splats, 160, 120, 0.7);
    assert!(first == second, "two renders of one scene differ");
}

#[test]
fn surfels_behind_the_camera_or_off_screen_change_nothing() {
    let mut renderer = SplatRenderer::new(common::gpu(), RasterConfig::default());
    let base = scenes::random_scene(800, 0.1, 3);
    let (before, _) = render_both(&mut renderer, &base, 80, 60, 0.2);
    let mut extra = base.clone();
    // Object frame ≈ camera frame shifted by 0.45 m in z: -1 m lies behind the camera, ±5 m far off-screen.
    let mut outside = Splats::default();
    for k in 0..50 {
        let s = 0.02 + 0.001 * k as f32;
        outside.push([0.0, 0.0, -1.0 - s], [1.0, 0.2, 0.1, 0.0], [0.5, 0.5], 0.9, [1.0, 0.0, 0.0]);
        outside.push([5.0 + s, 0.0, 0.0], [1.0, 0.0, 0.3, 0.0], [0.05, 0.05], 0.9, [0.0, 1.0, 0.0]);
        outside.push([0.0, -5.0 - s, 0.2], [1.0, 0.0, 0.0, 0.3], [0.05, 0.05], 0.9, [0.0, 0.0, 1.0]);
    }
    extra.extend(&outside);
    let (after, _) = render_both(&mut renderer, &extra, 80, 60, 0.2);
    assert!(before == after, "surfels outside the view changed the image");
}

#[test]
fn many_full_screen_surfels_cover_every_tile() {
    let mut renderer = SplatRenderer::new(common::gpu(), RasterConfig::default());
    let mut splats = Splats::default();
    // 3000 faint surfels, each wider than the whole view (0.6 m at 0.45 m with a 60° lens), facing the camera.
    for k in 0..3000 {
        let z = -0.1 + 0.0001 * k as f32;
        splats.push([0.0, 0.0, z], [1.0, 0.0, 0.0, 0.0], [0.6, 0.5], 0.01, [0.2, 0.6, 0.9]);
    }
    let (gpu, cpu) = render_both(&mut renderer, &splats, 100, 75, 0.0);
    let uncovered = gpu.plane(CH_ALPHA).iter().filter(|a| **a < 0.5).count();
    assert_eq!(uncovered, 0, "every pixel of every tile must be covered by the stacked surfels");
    compare(&gpu, &cpu, "3000 full-screen surfels");
}

#[test]
fn non_finite_parameters_are_refused_before_upload() {
    let renderer = SplatRenderer::new(common::gpu(), RasterConfig::default());
    let mut splats = scenes::random_scene(10, 0.1, 1);
    splats.log_scales[4][1] = f32::INFINITY;
    let err = renderer.upload(&splats).err().expect("an infinite scale must be refused");
    assert!(err.to_string().contains("surfel 4") && err.to_string().contains("scale"), "{err}");
}

#[test]
fn an_empty_model_renders_an_empty_image() {
    let mut renderer = SplatRenderer::new(common::gpu(), RasterConfig::default());
    let (gpu, cpu) = render_both(&mut renderer, &Splats::default(), 64, 48, 0.0);
    assert!(gpu == cpu && gpu == RenderedView::empty(64, 48));
}

#[test]
fn a_reserved_render_without_read_back_equals_the_exact_one() {
    let mut renderer = SplatRenderer::new(common::gpu(), RasterConfig::default());
    let splats = scenes::random_scene(1500, 0.12, 21);
    let cam = common::camera(96, 72);
    let pose = common::pose_in_front(0.45, 0.4);
    let gpu_splats = renderer.upload(&splats).unwrap();
    let exact = renderer.render_view(&gpu_splats, &cam, &pose).unwrap();
    let needed = renderer.read_intersections(&gpu_splats).unwrap();
    renderer.reserve_keys(needed * 2).unwrap();
    let ctx = renderer.context().clone();
    // Same pose written by hand, whole render in one submission.
    let params = splatrack::gpu::renderer::render_params(&gpu_splats, &cam, &pose, reference::tile_grid(&cam));
    ctx.queue.write_buffer(renderer.params_buffer().unwrap(), 0, bytemuck::bytes_of(&params));
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    renderer.encode_render_reserved(&mut encoder, &gpu_splats, &cam).unwrap();
    ctx.queue.submit([encoder.finish()]);
    let reserved = renderer.read_view().unwrap();
    assert!(reserved == exact, "the reserved render differs from the exact one");
    assert_eq!(renderer.read_intersections(&gpu_splats).unwrap(), needed);
}
