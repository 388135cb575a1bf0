//! CPU twins of `adam.wgsl` and `pose_step.wgsl`: one Adam update, and a pose moved by a twist on SE(3).

use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};

use crate::config::OptimConfig;
use crate::frame::Pose;

/// One Adam update at step `t` (from 1) of gradient `g` (clipped) with moments (m, v): returns
/// (m', v', the step to subtract), bias-corrected.
pub fn adam_update(g: f32, m: f32, v: f32, lr: f32, t: i32, cfg: &OptimConfig) -> (f32, f32, f32) {
    let g = g.clamp(-cfg.grad_clip, cfg.grad_clip);
    let m = cfg.beta1 * m + (1.0 - cfg.beta1) * g;
    let v = cfg.beta2 * v + (1.0 - cfg.beta2) * g * g;
    let (bias1, bias2) = (1.0 - cfg.beta1.powi(t), 1.0 - cfg.beta2.powi(t));
    (m, v, lr * (m / bias1) / ((v / bias2).sqrt() + cfg.epsilon))
}

/// T ← exp(ξ^)·T for ξ = (ρ, φ): the left perturbation whose gradient the backward pass computes.
pub fn apply_twist(pose: &Pose, xi: [f64; 6]) -> Pose {
    let rho = Vector3::new(xi[0], xi[1], xi[2]);
    let phi = Vector3::new(xi[3], xi[4], xi[5]);
    let theta = phi.norm();
    let k = phi.cross_matrix();
    let (b, c) = if theta > 1e-8 {
        ((1.0 - theta.cos()) / (theta * theta), (theta - theta.sin()) / (theta * theta * theta))
    } else {
        (0.5, 1.0 / 6.0)
    };
    let v = nalgebra::Matrix3::identity() + k * b + k * k * c;
    let exp = Isometry3::from_parts(Translation3::from(v * rho), UnitQuaternion::from_scaled_axis(phi));
    exp * pose
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_adam_step_is_the_learning_rate_against_the_gradient_sign() {
        let cfg = OptimConfig::default();
        for g in [3.0f32, -0.02, 1e4] {
            let (_, _, step) = adam_update(g, 0.0, 0.0, 0.01, 1, &cfg);
            assert!((step - 0.01 * g.signum()).abs() < 1e-6, "{g}: {step}");
        }
        // With a steady gradient the bias-corrected step stays at the learning rate.
        let (mut m, mut v) = (0.0, 0.0);
        for t in 1..50 {
            let (m2, v2, step) = adam_update(0.5, m, v, 0.1, t, &cfg);
            (m, v) = (m2, v2);
            assert!((step - 0.1).abs() < 1e-4);
        }
    }

    #[test]
    fn a_pure_rotation_twist_turns_about_the_camera_origin() {
        let pose = Pose::translation(0.0, 0.0, 1.0);
        let turned = apply_twist(&pose, [0.0, 0.0, 0.0, 0.0, std::f64::consts::FRAC_PI_2, 0.0]);
        assert!((turned.translation.vector - Vector3::new(1.0, 0.0, 0.0)).norm() < 1e-12);
        let moved = apply_twist(&pose, [0.1, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert!((moved.translation.vector - Vector3::new(0.1, 0.0, 1.0)).norm() < 1e-12);
    }
}
