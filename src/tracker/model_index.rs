//! The model as the per-frame tracker sees it: surfel centres with their normals and grey levels, the centres
//! in a k-d tree for correspondences.
//!
//! Correspondences are nearest by position alone. Keys that appended the colour pulled a turning bottle back:
//! colours carry the shading of the light they were seen under, which stays with the camera while the object
//! turns, so look-alike points were those at the keyframe's turn (bottle, robot, seed 1: the pose lagged 2° a
//! frame and ended 60° behind, ADD 75; by position 97). Texture enters through the photometric term instead,
//! which compares each point with its neighbours.

use std::num::NonZero;

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use nalgebra::Vector3;
use rayon::prelude::*;

use crate::config::TrackingConfig;
use crate::splats::Splats;

/// Correspondence look-ups in the model (object frame).
pub struct ModelIndex {
    positions: ImmutableKdTree<f64, 3>,
    pub points: Vec<Vector3<f64>>,
    pub normals: Vec<Vector3<f64>>,
    /// Per surfel: the mean of its colour channels, what the photometric term and agreement compare.
    pub greys: Vec<f64>,
    /// Per surfel: the other surfels within the texture radius on the same face (normals within
    /// `texture_max_bend_deg`), nearest first (at most [`MAX_NEIGHBOURS`]). Texture is compared against their
    /// mean (see [`super::photometric`]).
    pub neighbours: Vec<Vec<u32>>,
}

/// Neighbours kept per surfel: enough for a steady local mean.
pub const MAX_NEIGHBOURS: usize = 16;

/// The model surfel nearest an observed point.
#[derive(Debug, Clone, Copy)]
pub struct Match {
    pub index: usize,
}

impl ModelIndex {
    /// Indexes the surfels of `splats` opaque enough to track against (`cfg.min_opacity`); None when there are
    /// none. `cfg.texture_radius_m` bounds each surfel's neighbourhood.
    pub fn new(splats: &Splats, cfg: &TrackingConfig) -> Option<Self> {
        let texture_radius_m = cfg.texture_radius_m as f64;
        let min_bend_cos = (cfg.texture_max_bend_deg as f64).to_radians().cos();
        let (mut points, mut normals, mut greys) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..splats.len() {
            if splats.opacity(i) < cfg.min_opacity {
                continue;
            }
            let m = splats.means[i];
            points.push(Vector3::new(m[0], m[1], m[2]).cast::<f64>());
            normals.push(splats.normal(i).cast::<f64>());
            greys.push(splats.base_color(i).iter().map(|&c| c as f64).sum::<f64>() / 3.0);
        }
        if points.is_empty() {
            return None;
        }
        let coords: Vec<[f64; 3]> = points.iter().map(|p| [p.x, p.y, p.z]).collect();
        let positions: ImmutableKdTree<f64, 3> = ImmutableKdTree::new_from_slice(&coords);
        // Twice the candidates kept: near an edge the same-face rule drops those on the other face.
        let limit = NonZero::new(2 * MAX_NEIGHBOURS + 1).expect("not zero");
        // Every surfel's query is independent, so they run in parallel: one after another they were the largest
        // share of a keyframe candidate's cost (box in hand, seed 4: the keyframe stage took 20 ms a frame, now 12).
        let neighbours = coords
            .par_iter()
            .enumerate()
            .map(|(i, c)| {
                let around =
                    positions.nearest_n_within::<SquaredEuclidean>(c, texture_radius_m * texture_radius_m, limit, true);
                let same_face = |j: usize| j != i && normals[i].dot(&normals[j]) >= min_bend_cos;
                around
                    .into_iter()
                    .map(|n| n.item as u32)
                    .filter(|&j| same_face(j as usize))
                    .take(MAX_NEIGHBOURS)
                    .collect()
            })
            .collect();
        Some(Self { positions, points, normals, greys, neighbours })
    }

    /// Nearest surfel to object-frame point `p`.
    pub fn nearest(&self, p: &Vector3<f64>) -> Match {
        Match { index: self.positions.nearest_one::<SquaredEuclidean>(&[p.x, p.y, p.z]).item as usize }
    }

    /// Whether some surfel lies within `distance` of object-frame point `p`: the model already covers it, so
    /// a new view need not seed there.
    pub fn covers(&self, p: &Vector3<f64>, distance: f64) -> bool {
        (p - self.points[self.nearest(p).index]).norm() < distance
    }

    /// Mean of the indexed points.
    pub fn centroid(&self) -> Vector3<f64> {
        self.points.iter().sum::<Vector3<f64>>() / self.points.len() as f64
    }
}
