//! The Gauss-Newton normal equations of a pose's twist, summed over thousands of residuals on every core.
//!
//! Dense alignment spends almost all of a frame's time here (a nearest-neighbour search or a projection per
//! residual, 18 times a frame). Residuals are summed in fixed blocks, the blocks in parallel, and the block
//! sums are added in order: the sum does not depend on the number of cores, so a replay gives the same poses
//! on a 2-core laptop as on a 16-core workstation.

use std::ops::AddAssign;

use nalgebra::{Matrix6, Vector6};
use rayon::prelude::*;

/// Residuals per block: enough that a block outweighs the cost of scheduling it, few enough that a few thousand
/// residuals still spread over 16 cores.
const BLOCK: usize = 128;

/// JᵀWJ and −JᵀWr of some residuals, and how many there were.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormalEquations {
    pub h: Matrix6<f64>,
    pub g: Vector6<f64>,
    pub used: usize,
}

impl Default for NormalEquations {
    fn default() -> Self {
        Self { h: Matrix6::zeros(), g: Vector6::zeros(), used: 0 }
    }
}

impl NormalEquations {
    /// Adds residual `r` with Jacobian row `a` (both already weighted), scaled by the robust weight.
    pub fn add_row(&mut self, a: &Vector6<f64>, r: f64, robust: f64) {
        self.h += a * a.transpose() * robust;
        self.g -= a * (r * robust);
        self.used += 1;
    }

    /// The sum of `residuals(i, ..)` over `i` in `0..count`, in parallel and independent of the core count.
    pub fn sum(count: usize, residuals: impl Fn(usize, &mut NormalEquations) + Sync) -> Self {
        let blocks: Vec<NormalEquations> = (0..count.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let mut block = NormalEquations::default();
                for i in b * BLOCK..((b + 1) * BLOCK).min(count) {
                    residuals(i, &mut block);
                }
                block
            })
            .collect();
        let mut total = NormalEquations::default();
        for block in &blocks {
            total += *block;
        }
        total
    }
}

impl AddAssign for NormalEquations {
    fn add_assign(&mut self, other: Self) {
        self.h += other.h;
        self.g += other.g;
        self.used += other.used;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequential sum of the same rows, for comparison.
    fn sequential(count: usize, row: impl Fn(usize) -> (Vector6<f64>, f64)) -> NormalEquations {
        let mut eq = NormalEquations::default();
        for i in 0..count {
            let (a, r) = row(i);
            eq.add_row(&a, r, 1.0);
        }
        eq
    }

    #[test]
    fn the_parallel_sum_matches_a_sequential_one_and_repeats_exactly() {
        let row = |i: usize| {
            let x = i as f64;
            (Vector6::new(x.sin(), x.cos(), 1.0, 0.1 * x, (0.3 * x).sin(), -1.0), (0.7 * x).cos())
        };
        let count = 5 * BLOCK + 17;
        let parallel = || {
            NormalEquations::sum(count, |i, eq| {
                let (a, r) = row(i);
                eq.add_row(&a, r, 1.0);
            })
        };
        let (sum, reference) = (parallel(), sequential(count, row));
        assert_eq!(sum.used, count);
        assert!((sum.h - reference.h).norm() < 1e-9 * reference.h.norm());
        assert!((sum.g - reference.g).norm() < 1e-9 * reference.g.norm());
        assert_eq!(parallel(), sum, "block sums are added in a fixed order");
    }

    #[test]
    fn no_residuals_sum_to_zero() {
        assert_eq!(NormalEquations::sum(0, |_, _| unreachable!()), NormalEquations::default());
    }
}
