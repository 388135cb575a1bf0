//! The model as the per-frame tracker sees it: surfel centres with their normals and colours in a k-d tree
//! whose keys append the colour (scaled to metres), so correspondences prefer points that look alike.

use std::num::NonZero;

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use nalgebra::Vector3;

use crate::config::TrackingConfig;
use crate::splats::Splats;

/// Correspondence look-ups in the model (object frame).
pub struct ModelIndex {
    tree: ImmutableKdTree<f64, 6>,
    positions: ImmutableKdTree<f64, 3>,
    pub points: Vec<Vector3<f64>>,
    pub normals: Vec<Vector3<f64>>,
    pub colors: Vec<Vector3<f64>>,
    /// Per surfel: the mean of its colour channels, what the photometric term and agreement compare.
    pub greys: Vec<f64>,
    /// Per surfel: the other surfels within the texture radius on the same face (normals within
    /// `texture_max_bend_deg`), nearest first (at most [`MAX_NEIGHBOURS`]). Texture is compared against their
    /// mean (see [`super::photometric`]).
    pub neighbours: Vec<Vec<u32>>,
    color_weight_m: f64,
}

/// Neighbours kept per surfel: enough for a steady local mean.
pub const MAX_NEIGHBOURS: usize = 16;

/// The model surfel nearest an observed point in position and colour.
#[derive(Debug, Clone, Copy)]
pub struct Match {
    pub index: usize,
}

impl ModelIndex {
    /// Indexes the surfels of `splats` opaque enough to track against (`cfg.min_opacity`); None when there are
    /// none. `cfg.color_weight_m` is how many metres a colour difference of 1 counts as;
    /// `cfg.texture_radius_m` bounds each surfel's neighbourhood.
    pub fn new(splats: &Splats, cfg: &TrackingConfig) -> Option<Self> {
        let (color_weight_m, texture_radius_m) = (cfg.color_weight_m as f64, cfg.texture_radius_m as f64);
        let min_bend_cos = (cfg.texture_max_bend_deg as f64).to_radians().cos();
        let (mut points, mut normals, mut colors) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..splats.len() {
            if splats.opacity(i) < cfg.min_opacity {
                continue;
            }
            let m = splats.means[i];
            points.push(Vector3::new(m[0], m[1], m[2]).cast::<f64>());
            normals.push(splats.normal(i).cast::<f64>());
            colors.push(Vector3::from(splats.base_color(i)).cast::<f64>());
        }
        if points.is_empty() {
            return None;
        }
        let keys: Vec<[f64; 6]> = points.iter().zip(&colors).map(|(p, c)| key(p, c, color_weight_m)).collect();
        let coords: Vec<[f64; 3]> = points.iter().map(|p| [p.x, p.y, p.z]).collect();
        let positions: ImmutableKdTree<f64, 3> = ImmutableKdTree::new_from_slice(&coords);
        let greys = colors.iter().map(|c| c.sum() / 3.0).collect();
        // Twice the candidates kept: near an edge the same-face rule drops those on the other face.
        let limit = NonZero::new(2 * MAX_NEIGHBOURS + 1).expect("not zero");
        let neighbours = coords
            .iter()
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
        Some(Self {
            tree: ImmutableKdTree::new_from_slice(&keys),
            positions,
            points,
            normals,
            colors,
            greys,
            neighbours,
            color_weight_m,
        })
    }

    /// Nearest surfel to object-frame point `p` of colour `c`.
    pub fn nearest(&self, p: &Vector3<f64>, c: &Vector3<f64>) -> Match {
        let nn = self.tree.nearest_one::<SquaredEuclidean>(&key(p, c, self.color_weight_m));
        Match { index: nn.item as usize }
    }

    /// Nearest surfel to object-frame point `p` by position alone.
    pub fn nearest_position(&self, p: &Vector3<f64>) -> Match {
        Match { index: self.positions.nearest_one::<SquaredEuclidean>(&[p.x, p.y, p.z]).item as usize }
    }

    /// Whether some surfel lies within `distance` of object-frame point `p`: the model already covers it, so
    /// a new view need not seed there.
    pub fn covers(&self, p: &Vector3<f64>, distance: f64) -> bool {
        (p - self.points[self.nearest_position(p).index]).norm() < distance
    }

    /// Mean of the indexed points.
    pub fn centroid(&self) -> Vector3<f64> {
        self.points.iter().sum::<Vector3<f64>>() / self.points.len() as f64
    }

    /// Mean colour brightness of the indexed points.
    pub fn mean_brightness(&self) -> f64 {
        self.greys.iter().sum::<f64>() / self.greys.len() as f64
    }
}

fn key(p: &Vector3<f64>, c: &Vector3<f64>, w: f64) -> [f64; 6] {
    [p.x, p.y, p.z, c.x * w, c.y * w, c.z * w]
}
