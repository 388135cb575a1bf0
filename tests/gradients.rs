//! Every gradient against central finite differences of the CPU reference renderer.
//!
//! Hard cutoffs make finite differences disagree with any analytic gradient (a surfel crossing alpha ≥ 1/255,
//! the transmittance stop, the 3.33σ tile bound, the switch between the ray–splat kernel and the low-pass
//! filter). The tests therefore use the smooth variant of each cutoff (`smooth_config`: no alpha floor, no
//! early stop, a generous extent) and scenes that stay on one side of the kernel switch, rather than wider
//! tolerances.

mod common;

use nalgebra::{Translation3, UnitQuaternion, Vector3};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use splatrack::config::RasterConfig;
use splatrack::frame::{Intrinsics, Pose};
use splatrack::reference::{self, backward::backward};
use splatrack::rendered::{CH_DEPTH_EXPECTED, F32_CHANNELS, RenderedView};
use splatrack::splats::Splats;

fn smooth_config() -> RasterConfig {
    RasterConfig { alpha_min: 0.0, transmittance_min: 0.0, extent_sigmas: 12.0, ..RasterConfig::default() }
}

/// Random per-pixel weights on every differentiable output: the loss is Σ weight · output.
fn random_weights(w: u32, h: u32, seed: u64) -> RenderedView {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut view = RenderedView::empty(w, h);
    for v in view.planes.iter_mut() {
        *v = rng.random_range(-1.0..1.0);
    }
    // Median depth and final transmittance are not differentiated (median is piecewise constant; T is 1 − alpha).
    let n = view.pixel_count();
    view.planes[5 * n..6 * n].fill(0.0);
    view.planes[10 * n..11 * n].fill(0.0);
    assert_eq!(view.planes.len(), F32_CHANNELS * n);
    view
}

fn loss(s: &Splats, k: &Intrinsics, pose: &Pose, cfg: &RasterConfig, weights: &RenderedView) -> f64 {
    let out = reference::render(s, k, pose, cfg);
    out.planes.iter().zip(&weights.planes).map(|(o, w)| *o as f64 * *w as f64).sum()
}

/// `count` surfels facing the camera, a few centimetres apart, overlapping.
fn scene(count: usize, scale_m: f32, seed: u64) -> Splats {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut s = Splats::default();
    for _ in 0..count {
        let mean = [rng.random_range(-0.03..0.03), rng.random_range(-0.025..0.025), rng.random_range(-0.03..0.03)];
        let tilt = UnitQuaternion::from_euler_angles(
            rng.random_range(-0.7..0.7),
            rng.random_range(-0.7..0.7),
            rng.random_range(0.0..3.0),
        );
        let q = tilt.quaternion();
        let scales = [scale_m * rng.random_range(0.6..1.4), scale_m * rng.random_range(0.6..1.4)];
        let rgb = [rng.random_range(0.1..0.9), rng.random_range(0.1..0.9), rng.random_range(0.1..0.9)];
        s.push(mean, [q.w, q.i, q.j, q.k], scales, rng.random_range(0.3..0.8), rgb);
    }
    s
}

struct Check {
    name: String,
    analytic: f64,
    numeric: f64,
}

fn compare(checks: &[Check], what: &str) {
    let scale = checks.iter().map(|c| c.numeric.abs()).fold(0.0, f64::max);
    let mut worst = (0.0, "");
    for c in checks {
        // 2 % of the component plus 0.5 % of the largest component: f32 rendering noise in the differences.
        let err = (c.analytic - c.numeric).abs() / (0.02 * c.numeric.abs() + 0.005 * scale);
        if err > worst.0 {
            worst = (err, &c.name);
        }
        assert!(err <= 1.0, "{what}: {} analytic {} vs finite differences {}", c.name, c.analytic, c.numeric);
    }
    assert!(scale > 0.0, "{what}: every gradient is zero; the test sees nothing");
}

fn check_all_parameters(s: &Splats, k: &Intrinsics, pose: &Pose, what: &str) {
    check_parameters_under(s, k, pose, what, &random_weights(k.width, k.height, 17));
}

/// Every parameter's gradient of Σ `weights` · output.
fn check_parameters_under(s: &Splats, k: &Intrinsics, pose: &Pose, what: &str, weights: &RenderedView) {
    let cfg = smooth_config();
    let grads = backward(s, k, pose, &cfg, weights);
    let f = |s: &Splats, pose: &Pose| loss(s, k, pose, &cfg, weights);
    let mut checks = Vec::new();
    let mut numeric = |name: String, eps: f64, analytic: f64, set: &dyn Fn(&mut Splats, f32)| {
        let (mut plus, mut minus) = (s.clone(), s.clone());
        set(&mut plus, eps as f32);
        set(&mut minus, -eps as f32);
        checks.push(Check { name, analytic, numeric: (f(&plus, pose) - f(&minus, pose)) / (2.0 * eps) });
    };
    for i in 0..s.len() {
        for a in 0..3 {
            numeric(format!("mean[{i}][{a}]"), 2e-4, grads.means[i][a] as f64, &|s, e| s.means[i][a] += e);
            numeric(format!("sh_dc[{i}][{a}]"), 1e-2, grads.sh_dc[i][a] as f64, &|s, e| s.sh[i][a] += e);
        }
        for a in 0..4 {
            numeric(format!("quat[{i}][{a}]"), 2e-3, grads.quats[i][a] as f64, &|s, e| s.quats[i][a] += e);
        }
        for a in 0..2 {
            numeric(format!("log_scale[{i}][{a}]"), 2e-3, grads.log_scales[i][a] as f64, &|s, e| {
                s.log_scales[i][a] += e
            });
        }
        numeric(format!("opacity[{i}]"), 2e-3, grads.opacity_logits[i] as f64, &|s, e| s.opacity_logits[i] += e);
    }
    for a in 0..6 {
        let eps = if a < 3 { 2e-4 } else { 1e-3 };
        let mut twist = [0.0; 6];
        twist[a] = eps;
        let step = |sign: f64| {
            let xi: [f64; 6] = twist.map(|v| v * sign);
            let delta = Pose::from_parts(
                Translation3::new(xi[0], xi[1], xi[2]),
                UnitQuaternion::from_scaled_axis(Vector3::new(xi[3], xi[4], xi[5])),
            );
            delta * pose
        };
        // exp(ξ^) differs from (translation ∘ rotation) only at second order, which central differences cancel.
        checks.push(Check {
            name: format!("pose_twist[{a}]"),
            analytic: grads.pose_twist[a] as f64,
            numeric: (f(s, &step(1.0)) - f(s, &step(-1.0))) / (2.0 * eps),
        });
    }
    compare(&checks, what);
}

fn camera() -> Intrinsics {
    Intrinsics { width: 40, height: 32, fx: 70.0, fy: 72.0, cx: 20.3, cy: 15.8 }
}

#[test]
fn ray_splat_kernel_gradients_match_finite_differences() {
    // Surfels several pixels wide: the ray–splat kernel wins everywhere (½(u²+v²) < 2|d|² once σ > 1 px).
    let pose =
        Pose::from_parts(Translation3::new(0.004, -0.003, 0.25), UnitQuaternion::from_euler_angles(0.2, -0.3, 0.1));
    check_all_parameters(&scene(5, 0.012, 1), &camera(), &pose, "overlapping surfels");
}

#[test]
fn grazing_surfels_gradients_match_finite_differences() {
    // Surfels turned 69° from the camera: strongly anisotropic footprints. Much steeper, and the low-pass
    // filter takes over across wide bands of pixels, putting the kernel switch (a kink) inside the image.
    let mut s = scene(3, 0.015, 2);
    for q in &mut s.quats {
        let r = UnitQuaternion::from_euler_angles(1.2, 0.2, 0.4);
        let qq = r.quaternion();
        *q = [qq.w, qq.i, qq.j, qq.k];
    }
    let pose = Pose::from_parts(Translation3::new(0.0, 0.0, 0.22), UnitQuaternion::identity());
    check_all_parameters(&s, &camera(), &pose, "grazing surfels");
}

#[test]
fn low_pass_filter_gradients_match_finite_differences() {
    // Surfels far below a pixel: the screen-space low-pass filter wins everywhere, and its gradient reaches
    // the parameters through the projected centre.
    let pose = Pose::from_parts(Translation3::new(0.002, 0.001, 0.3), UnitQuaternion::from_euler_angles(0.1, 0.2, 0.0));
    check_all_parameters(&scene(6, 0.0004, 3), &camera(), &pose, "sub-pixel surfels");
}

#[test]
fn intersection_depth_gradients_match_finite_differences() {
    // Depth alone, on large surfels turned well away from the camera: the depth where a pixel's ray meets a
    // surfel moves by centimetres across it, a term the other checks' colour and alpha terms drown.
    let mut s = scene(3, 0.02, 4);
    for (i, q) in s.quats.iter_mut().enumerate() {
        let qq = UnitQuaternion::from_euler_angles(0.9, 0.3 * i as f64, 0.2).quaternion().cast::<f32>();
        *q = [qq.w, qq.i, qq.j, qq.k];
    }
    let k = camera();
    let mut weights = random_weights(k.width, k.height, 5);
    let n = weights.pixel_count();
    for (c, plane) in weights.planes.chunks_mut(n).enumerate() {
        if c != CH_DEPTH_EXPECTED {
            plane.fill(0.0);
        }
    }
    let pose = Pose::from_parts(Translation3::new(0.0, 0.0, 0.25), UnitQuaternion::identity());
    check_parameters_under(&s, &k, &pose, "depth of tilted surfels", &weights);
}
