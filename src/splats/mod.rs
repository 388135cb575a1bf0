//! The 2D Gaussian surfel model on the host: parameters, PLY import/export, example scenes.
//!
//! Struct-of-arrays so each parameter group uploads as one flat GPU buffer and the optimiser can treat every
//! group alike. Parameters are stored as the optimiser sees them (log-scales, opacity logits, raw quaternions,
//! spherical-harmonic coefficients); the activated values come from the accessor methods.

pub mod ply;
pub mod scenes;
pub mod seed;

use nalgebra::{UnitQuaternion, Vector3};

/// SH band-0 constant: colour = 0.5 + SH_C0 · f_dc (the 3DGS/2DGS convention).
pub const SH_C0: f32 = 0.282_094_8;

/// Number of SH coefficients per colour channel for a degree.
pub const fn sh_coeffs(degree: u32) -> usize {
    ((degree + 1) * (degree + 1)) as usize
}

/// N surfels in the object frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Splats {
    /// Centres in metres.
    pub means: Vec<[f32; 3]>,
    /// Rotations as quaternions (w, x, y, z), not necessarily normalised (the renderer normalises).
    pub quats: Vec<[f32; 4]>,
    /// Natural logarithms of the two tangent-plane scales (metres).
    pub log_scales: Vec<[f32; 2]>,
    /// Opacity before the sigmoid.
    pub opacity_logits: Vec<f32>,
    /// Highest SH degree stored (0 = view-independent colour).
    pub sh_degree: u32,
    /// SH coefficients, `sh_coeffs(sh_degree)` RGB triplets per surfel, band 0 first.
    pub sh: Vec<[f32; 3]>,
}

/// Which parameter of which surfel is not finite (or, for a rotation, is the zero quaternion).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("surfel {index}: {field} is not finite")]
pub struct NonFiniteSplat {
    pub index: usize,
    pub field: &'static str,
}

impl Splats {
    /// Number of surfels.
    pub fn len(&self) -> usize {
        self.means.len()
    }

    /// True when there are no surfels.
    pub fn is_empty(&self) -> bool {
        self.means.is_empty()
    }

    /// Appends one surfel with view-independent colour `rgb` (0..1) and activated `opacity` (0..1).
    pub fn push(&mut self, mean: [f32; 3], quat: [f32; 4], scales: [f32; 2], opacity: f32, rgb: [f32; 3]) {
        assert_eq!(self.sh_degree, 0, "push() builds degree-0 models");
        self.means.push(mean);
        self.quats.push(quat);
        self.log_scales.push([scales[0].ln(), scales[1].ln()]);
        let o = opacity.clamp(1e-6, 1.0 - 1e-6);
        self.opacity_logits.push((o / (1.0 - o)).ln());
        self.sh.push(rgb.map(|c| (c - 0.5) / SH_C0));
    }

    /// Activated opacity of surfel `i`.
    pub fn opacity(&self, i: usize) -> f32 {
        1.0 / (1.0 + (-self.opacity_logits[i]).exp())
    }

    /// View-independent colour of surfel `i` (band 0 only), clamped at 0 like gsplat.
    pub fn base_color(&self, i: usize) -> [f32; 3] {
        let dc = self.sh[i * sh_coeffs(self.sh_degree)];
        dc.map(|c| (0.5 + SH_C0 * c).max(0.0))
    }

    /// Normalised rotation of surfel `i`.
    pub fn rotation(&self, i: usize) -> UnitQuaternion<f32> {
        let [w, x, y, z] = self.quats[i];
        UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(w, x, y, z))
    }

    /// The surfel's normal in the object frame (third column of its rotation).
    pub fn normal(&self, i: usize) -> Vector3<f32> {
        self.rotation(i) * Vector3::z()
    }

    /// Checks every parameter is finite and the arrays agree in length.
    pub fn validate(&self) -> Result<(), NonFiniteSplat> {
        let n = self.len();
        assert!(
            self.quats.len() == n
                && self.log_scales.len() == n
                && self.opacity_logits.len() == n
                && self.sh.len() == n * sh_coeffs(self.sh_degree),
            "Splats arrays out of step: a bug in whoever built them"
        );
        let bad = |index, field| Err(NonFiniteSplat { index, field });
        for i in 0..n {
            if !self.means[i].iter().all(|v| v.is_finite()) {
                return bad(i, "centre");
            }
            if !self.quats[i].iter().all(|v| v.is_finite()) {
                return bad(i, "rotation");
            }
            if self.quats[i].iter().all(|v| *v == 0.0) {
                return bad(i, "rotation (zero quaternion)");
            }
            if !self.log_scales[i].iter().all(|v| v.is_finite()) {
                return bad(i, "scale");
            }
            if !self.opacity_logits[i].is_finite() {
                return bad(i, "opacity");
            }
            let k = sh_coeffs(self.sh_degree);
            if !self.sh[i * k..(i + 1) * k].iter().flatten().all(|v| v.is_finite()) {
                return bad(i, "colour");
            }
        }
        Ok(())
    }

    /// Appends all surfels of `other` (same SH degree).
    pub fn extend(&mut self, other: &Splats) {
        assert_eq!(self.sh_degree, other.sh_degree, "cannot merge models of different SH degree");
        self.means.extend_from_slice(&other.means);
        self.quats.extend_from_slice(&other.quats);
        self.log_scales.extend_from_slice(&other.log_scales);
        self.opacity_logits.extend_from_slice(&other.opacity_logits);
        self.sh.extend_from_slice(&other.sh);
    }

    /// Keeps the surfels where `keep` is true, in order (pruning).
    pub fn retain(&mut self, keep: &[bool]) {
        assert_eq!(keep.len(), self.len(), "one flag per surfel");
        let k = sh_coeffs(self.sh_degree);
        let mut i = 0;
        self.means.retain(|_| (keep[i], i += 1).0);
        i = 0;
        self.quats.retain(|_| (keep[i], i += 1).0);
        i = 0;
        self.log_scales.retain(|_| (keep[i], i += 1).0);
        i = 0;
        self.opacity_logits.retain(|_| (keep[i], i += 1).0);
        i = 0;
        self.sh.retain(|_| (keep[i / k], i += 1).0);
    }

    /// Appends a copy of surfel `i` (densification), returning the copy's index.
    pub fn duplicate(&mut self, i: usize) -> usize {
        let k = sh_coeffs(self.sh_degree);
        self.means.push(self.means[i]);
        self.quats.push(self.quats[i]);
        self.log_scales.push(self.log_scales[i]);
        self.opacity_logits.push(self.opacity_logits[i]);
        self.sh.extend_from_within(i * k..(i + 1) * k);
        self.len() - 1
    }
}
