//! Procedural surfel models for tests, benchmarks and the bundled example: deterministic for a seed.

use nalgebra::{UnitQuaternion, Vector3};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::Splats;

/// `n` surfels with random centres in a ball of `radius_m` around the origin, random orientations, sizes of
/// 2–15 % of the radius, opacities 0.2–0.99 and colours; the test and benchmark workload.
pub fn random_scene(n: usize, radius_m: f32, seed: u64) -> Splats {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut s = Splats::default();
    for _ in 0..n {
        let dir = loop {
            let v =
                Vector3::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0), rng.random_range(-1.0f32..1.0));
            if v.norm_squared() <= 1.0 {
                break v;
            }
        };
        let mean = dir * radius_m;
        let q: [f32; 4] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
        let scales = [rng.random_range(0.02..0.15) * radius_m, rng.random_range(0.02..0.15) * radius_m];
        let rgb = std::array::from_fn(|_| rng.random_range(0.0..1.0));
        s.push(mean.into(), q, scales, rng.random_range(0.2..0.99), rgb);
    }
    s
}

/// A sphere of radius `radius_m` tiled by `n` tangent surfels (a Fibonacci lattice), painted with a
/// latitude/longitude checkerboard and a red cap on +z: a scene whose renders are easy to judge by eye.
pub fn checker_sphere(n: usize, radius_m: f32) -> Splats {
    let mut s = Splats::default();
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    // Each surfel covers about 4πr²/n; a scale of 0.6 of that patch's side overlaps neighbours at ~1 sigma.
    let patch = (4.0 * std::f32::consts::PI / n as f32).sqrt() * radius_m;
    for i in 0..n {
        let z = 1.0 - 2.0 * (i as f32 + 0.5) / n as f32;
        let r = (1.0 - z * z).sqrt();
        let phi = golden * i as f32;
        let normal = Vector3::new(r * phi.cos(), r * phi.sin(), z);
        let rot = UnitQuaternion::rotation_between(&Vector3::z(), &normal).unwrap_or_else(UnitQuaternion::identity);
        let lat = z.asin().to_degrees();
        let lon = normal.y.atan2(normal.x).to_degrees();
        let check = ((lat / 30.0).floor() as i32 + (lon / 30.0).floor() as i32).rem_euclid(2) == 0;
        let rgb = if lat > 60.0 {
            [0.9, 0.15, 0.1]
        } else if check {
            [0.95, 0.9, 0.8]
        } else {
            [0.1, 0.3, 0.7]
        };
        let q = rot.quaternion();
        s.push((normal * radius_m).into(), [q.w, q.i, q.j, q.k], [0.6 * patch, 0.6 * patch], 0.95, rgb);
    }
    s
}
