//! The large planes of a still camera's scene (a table, a wall), found in the first frame's depth outside the
//! object. The object moves over them and uncovers parts the first frame never saw; a plane says what depth
//! those parts show before they are ever seen.

use nalgebra::{Matrix3, Vector3};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// Random triples tried per plane: where a plane holds 15 % of the points, a triple all on it comes up once
/// in 300 draws, so this misses it with odds of about one in a thousand; larger planes are never missed.
const RANSAC_TRIALS: usize = 2_000;

/// A plane in the camera frame: the points `p` with `normal · p + offset = 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    pub normal: Vector3<f64>,
    pub offset: f64,
}

impl Plane {
    /// Distance of `p` from the plane.
    pub fn distance(&self, p: &Vector3<f64>) -> f64 {
        (self.normal.dot(p) + self.offset).abs()
    }

    /// The plane through three points; None when they (nearly) lie on one line.
    fn through(a: &Vector3<f64>, b: &Vector3<f64>, c: &Vector3<f64>) -> Option<Self> {
        let n = (b - a).cross(&(c - a));
        let norm = n.norm();
        (norm > 1e-9).then(|| {
            let normal = n / norm;
            Self { normal, offset: -normal.dot(a) }
        })
    }

    /// The least-squares plane of `points` (at least three, not all on one line).
    fn fit(points: &[Vector3<f64>]) -> Option<Self> {
        if points.len() < 3 {
            return None;
        }
        let centre = points.iter().sum::<Vector3<f64>>() / points.len() as f64;
        let scatter: Matrix3<f64> = points.iter().map(|p| (p - centre) * (p - centre).transpose()).sum();
        let eigen = scatter.symmetric_eigen();
        let (smallest, _) = eigen.eigenvalues.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1))?;
        let normal = eigen.eigenvectors.column(smallest).into_owned();
        Some(Self { normal, offset: -normal.dot(&centre) })
    }
}

/// Up to `count` planes, largest first, each holding at least `min_share` of `points` within `tolerance`
/// (metres): RANSAC on random triples, each winner refitted to its inliers, whose points then leave the pool.
pub fn dominant_planes(points: &[Vector3<f64>], tolerance: f64, min_share: f64, count: usize) -> Vec<Plane> {
    let needed = (min_share * points.len() as f64).ceil().max(3.0) as usize;
    let mut pool: Vec<Vector3<f64>> = points.to_vec();
    let mut rng = Pcg64::seed_from_u64(points.len() as u64);
    let mut planes = Vec::new();
    while planes.len() < count && pool.len() >= needed {
        let inliers = |plane: &Plane| pool.iter().filter(|p| plane.distance(p) < tolerance).count();
        let best = (0..RANSAC_TRIALS)
            .filter_map(|_| {
                let [a, b, c] = [0; 3].map(|_| pool[rng.random_range(0..pool.len())]);
                Plane::through(&a, &b, &c)
            })
            .map(|plane| (inliers(&plane), plane))
            .max_by_key(|(n, _)| *n);
        let Some((n, plane)) = best.filter(|(n, _)| *n >= needed) else { break };
        let on: Vec<Vector3<f64>> = pool.iter().copied().filter(|p| plane.distance(p) < tolerance).collect();
        let refit = Plane::fit(&on).filter(|r| inliers(r) >= n).unwrap_or(plane);
        pool.retain(|p| refit.distance(p) >= tolerance);
        planes.push(refit);
    }
    planes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A floor (y = 0.2) and a wall (z = 1.0) on a 5 mm grid with ±1 mm of ripple, and a few stray points.
    fn scene() -> Vec<Vector3<f64>> {
        let ripple = |i: i32, j: i32| 0.001 * ((i * 7 + j * 13).rem_euclid(5) - 2) as f64 / 2.0;
        let mut points = Vec::new();
        for i in -60..60 {
            for j in 0..80 {
                points.push(Vector3::new(i as f64 * 0.005, 0.2 + ripple(i, j), 0.6 + j as f64 * 0.005));
            }
            for j in 0..40 {
                points.push(Vector3::new(i as f64 * 0.005, 0.2 - j as f64 * 0.005, 1.0 + ripple(j, i)));
            }
        }
        points.extend((0..50).map(|i| Vector3::new(0.01 * i as f64, -0.1 + 0.003 * i as f64, 0.7 + 0.002 * i as f64)));
        points
    }

    #[test]
    fn the_floor_and_the_wall_are_found_largest_first() {
        let planes = dominant_planes(&scene(), 0.004, 0.15, 3);
        assert_eq!(planes.len(), 2, "the stray points make no third plane: {planes:?}");
        let floor = planes[0];
        assert!(floor.normal.y.abs() > 0.999, "the floor first: {floor:?}");
        assert!(floor.distance(&Vector3::new(0.3, 0.2, 0.5)) < 0.001, "and extended beyond its points: {floor:?}");
        assert!(planes[1].normal.z.abs() > 0.999, "then the wall: {:?}", planes[1]);
        assert!(floor.distance(&Vector3::new(0.0, 0.15, 0.8)) > 0.04, "5 cm above the floor is not on it");
    }

    #[test]
    fn too_small_a_plane_is_not_a_plane() {
        let points = scene();
        assert!(dominant_planes(&points, 0.004, 0.7, 3).is_empty(), "neither holds 70 % of the points");
        assert!(dominant_planes(&[], 0.004, 0.1, 3).is_empty());
    }
}
