//! Sparse texture features: FAST corners (imageproc) with oriented binary descriptors (BRIEF tests turned by
//! the patch's intensity-centroid angle, as ORB does), matched by Hamming distance against keyframes'
//! features, and a RANSAC rigid fit on their depth points.
//!
//! Dense alignment drifts along what geometry leaves free (a bottle's axis) and a moving light biases its
//! grey levels; the sign of a difference between two nearby pixels survives both. Matches tie the frame to
//! the keyframes, whose poses do not drift, and find the object again after a loss.

use std::sync::OnceLock;

use image::GrayImage;
use imageproc::corners::corners_fast9;
use imageproc::filter::box_filter;
use imageproc::suppress::local_maxima;
use nalgebra::{Point3, Vector3, Vector6};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::geometry::{mask_box, ray_jacobians, rigid_fit};
use super::normal_equations::NormalEquations;
use crate::config::FeatureConfig;
use crate::frame::{Mask, Pose, RgbdFrame};
use crate::reference::optim::apply_twist;

/// 256 binary tests.
pub type Descriptor = [u64; 4];

/// Radius (pixels) of the disc the tests and the orientation read.
const PATCH_RADIUS: i32 = 12;
/// Radius of the box filter applied before the tests (a 5×5 mean): single-pixel noise must not flip them.
const SMOOTH_RADIUS: u32 = 2;
/// How far (pixels) a corner without depth looks for a neighbour with depth.
const DEPTH_SEARCH_PX: u32 = 3;
/// Keypoints keep this far from the crop's border, so every test of a turned pattern lands inside.
const BORDER: u32 = PATCH_RADIUS as u32 + SMOOTH_RADIUS + 1;

/// A corner on the object with valid depth.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    /// Camera-frame point under the corner.
    pub point: Vector3<f64>,
    pub descriptor: Descriptor,
}

/// A feature matched to a keyframe's: where it lies on the object, and where the camera sees it now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    pub object: Vector3<f64>,
    pub camera: Vector3<f64>,
}

/// The pose the matches agree on and the matches that agree.
#[derive(Debug, Clone)]
pub struct FeaturePose {
    pub pose: Pose,
    pub inliers: Vec<Anchor>,
}

/// The test pattern: pairs of offsets inside the patch disc, drawn once from a fixed seed.
fn pattern() -> &'static [[(f32, f32); 2]; 256] {
    static PATTERN: OnceLock<[[(f32, f32); 2]; 256]> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut rng = Pcg64::seed_from_u64(0x0b5e_55ed);
        let r = PATCH_RADIUS as f32;
        let mut offset = || loop {
            let (x, y) = (rng.random_range(-r..=r), rng.random_range(-r..=r));
            if x * x + y * y <= r * r {
                return (x, y);
            }
        };
        std::array::from_fn(|_| [offset(), offset()])
    })
}

/// The grey image of `frame` inside the mask's bounding box grown by the patch border, and the box's corner.
fn grey_crop(frame: &RgbdFrame, mask: &Mask) -> Option<(GrayImage, u32, u32)> {
    let (x0, y0, x1, y1) = mask_box(mask, BORDER)?;
    let crop = GrayImage::from_fn(x1 - x0 + 1, y1 - y0 + 1, |x, y| {
        let p = frame.rgb.get_pixel(x0 + x, y0 + y);
        image::Luma([((p[0] as u32 + p[1] as u32 + p[2] as u32) / 3) as u8])
    });
    Some((crop, x0, y0))
}

/// The strongest corners inside `mask` that have depth, with their descriptors.
pub fn detect(frame: &RgbdFrame, mask: &Mask, cfg: &FeatureConfig) -> Vec<Feature> {
    let Some((grey, x0, y0)) = grey_crop(frame, mask) else { return Vec::new() };
    let (w, h) = grey.dimensions();
    if w <= 2 * BORDER || h <= 2 * BORDER {
        return Vec::new();
    }
    let inside = |x: u32, y: u32| x >= BORDER && y >= BORDER && x < w - BORDER && y < h - BORDER;
    let corners: Vec<_> = corners_fast9(&grey, cfg.fast_threshold)
        .into_iter()
        .filter(|c| inside(c.x, c.y) && well_inside(mask, x0 + c.x, y0 + c.y, cfg.mask_margin_px))
        .collect();
    let mut corners = local_maxima(&corners, cfg.nms_radius_px);
    corners.sort_by(|a, b| b.score.total_cmp(&a.score));
    let smooth = box_filter(&grey, SMOOTH_RADIUS, SMOOTH_RADIUS);
    let search = depth_search_offsets();
    let mut out = Vec::new();
    for c in corners {
        if out.len() >= cfg.max_features as usize {
            break;
        }
        let Some(point) = depth_near(frame, x0 + c.x, y0 + c.y, &search) else { continue };
        out.push(Feature { point, descriptor: describe(&grey, &smooth, c.x as i32, c.y as i32) });
    }
    out
}

/// Whether the mask holds (x, y) and the ring of eight pixels `margin` away from it. Corners on the outline
/// (object against background or hand) stay put while the object turns about its axis: matched, they hold
/// the pose back.
fn well_inside(mask: &Mask, x: u32, y: u32, margin: u32) -> bool {
    let (w, h) = (mask.width() as i64, mask.height() as i64);
    let r = margin as i64;
    let d = (margin as f64 * std::f64::consts::FRAC_1_SQRT_2).round() as i64;
    [(0, 0), (r, 0), (-r, 0), (0, r), (0, -r), (d, d), (d, -d), (-d, d), (-d, -d)].iter().all(|&(dx, dy)| {
        let (px, py) = (x as i64 + dx, y as i64 + dy);
        px >= 0 && py >= 0 && px < w && py < h && mask.get_pixel(px as u32, py as u32)[0] > 0
    })
}

/// Pixel offsets within `DEPTH_SEARCH_PX`, nearest first.
fn depth_search_offsets() -> Vec<(i64, i64)> {
    let r = DEPTH_SEARCH_PX as i64;
    let mut offsets: Vec<(i64, i64)> = (-r..=r).flat_map(|dy| (-r..=r).map(move |dx| (dx, dy))).collect();
    offsets.sort_by_key(|(dx, dy)| dx * dx + dy * dy);
    offsets
}

/// Depth sensors lose dark print, where corners sit: the camera point at (x, y), or else at the nearest pixel
/// (trying `offsets` in order) that has depth.
fn depth_near(frame: &RgbdFrame, x: u32, y: u32, offsets: &[(i64, i64)]) -> Option<Vector3<f64>> {
    let (w, h) = frame.depth_m.dimensions();
    offsets.iter().find_map(|&(dx, dy)| {
        let (px, py) = (x as i64 + dx, y as i64 + dy);
        if px < 0 || py < 0 || px >= w as i64 || py >= h as i64 {
            return None;
        }
        let p = frame.back_project(px as u32, py as u32)?;
        // The neighbour's depth along the corner's own ray: keeps the point under the corner.
        let k = &frame.intrinsics;
        Some(Vector3::new((x as f64 + 0.5 - k.cx) / k.fx * p.z, (y as f64 + 0.5 - k.cy) / k.fy * p.z, p.z))
    })
}

/// The oriented descriptor of the patch at (x, y): the angle from the patch's intensity centroid turns the
/// test pattern, so that the object turning in the image plane does not change the bits.
fn describe(grey: &GrayImage, smooth: &GrayImage, x: i32, y: i32) -> Descriptor {
    let (mut m10, mut m01) = (0.0f32, 0.0f32);
    for dy in -PATCH_RADIUS..=PATCH_RADIUS {
        for dx in -PATCH_RADIUS..=PATCH_RADIUS {
            if dx * dx + dy * dy <= PATCH_RADIUS * PATCH_RADIUS {
                let v = grey.get_pixel((x + dx) as u32, (y + dy) as u32)[0] as f32;
                m10 += dx as f32 * v;
                m01 += dy as f32 * v;
            }
        }
    }
    let (sin, cos) = m01.atan2(m10).sin_cos();
    let at = |(px, py): (f32, f32)| {
        let (u, v) = ((cos * px - sin * py).round() as i32, (sin * px + cos * py).round() as i32);
        smooth.get_pixel((x + u) as u32, (y + v) as u32)[0]
    };
    let mut d = [0u64; 4];
    for (i, [a, b]) in pattern().iter().enumerate() {
        if at(*a) < at(*b) {
            d[i / 64] |= 1 << (i % 64);
        }
    }
    d
}

/// Bits in which two descriptors differ.
pub fn hamming(a: &Descriptor, b: &Descriptor) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Pairs each feature of `current` with the reference feature of nearest descriptor (object-frame point,
/// descriptor), where that one is near enough and clearly nearer than the second nearest.
pub fn match_features(
    current: &[Feature],
    reference: &[(Vector3<f64>, Descriptor)],
    cfg: &FeatureConfig,
) -> Vec<Anchor> {
    let mut out = Vec::new();
    for f in current {
        let (mut best, mut second, mut best_point) = (u32::MAX, u32::MAX, None);
        for (point, d) in reference {
            let distance = hamming(&f.descriptor, d);
            if distance < best {
                (second, best, best_point) = (best, distance, Some(*point));
            } else if distance < second {
                second = distance;
            }
        }
        if let Some(object) = best_point
            && best <= cfg.max_hamming
            && (best as f32) < cfg.ratio * second as f32
        {
            out.push(Anchor { object, camera: f.point });
        }
    }
    out
}

/// Whether `pose` puts the anchor's object point on the ray through its corner (within `tolerance` metres
/// across the ray) at about its depth (within `DEPTH_TOLERANCE` times that along it): the corner's pixel is
/// sharper than its depth, which is noisy and, on dark print, borrowed from a neighbour.
pub fn agrees(anchor: &Anchor, pose: &Pose, tolerance: f64) -> bool {
    let diff = (pose * Point3::from(anchor.object)).coords - anchor.camera;
    let ray = anchor.camera.normalize();
    let along = diff.dot(&ray);
    along.abs() < DEPTH_TOLERANCE * tolerance && (diff - ray * along).norm() < tolerance
}

/// An anchor at `pose`: its object point in the camera frame, and its two reprojection rows, the offsets of
/// that point from the ray through its corner in x and in y (on the image plane at the point's depth, in
/// metres) with how each changes under a left twist of the pose. None when either lies behind the camera.
pub fn ray_rows(anchor: &Anchor, pose: &Pose) -> Option<(Vector3<f64>, [(Vector6<f64>, f64); 2])> {
    let (p, seen) = ((pose * Point3::from(anchor.object)).coords, anchor.camera);
    if p.z <= 0.0 || seen.z <= 0.0 {
        return None;
    }
    let (jx, jy) = ray_jacobians(&p);
    let (rx, ry) = ((p.x / p.z - seen.x / seen.z) * p.z, (p.y / p.z - seen.y / seen.z) * p.z);
    Some((p, [(jx * p.z, rx), (jy * p.z, ry)]))
}

/// Moves `pose` so that the anchors' object points project onto their corners (Gauss-Newton on
/// [`ray_rows`]): a fit to three-dimensional points inherits their noisy depth, a fit to rays does not.
/// Depth still enters, weakly, so that a few anchors cannot slide the object along the rays.
fn refine_on_rays(pose: Pose, anchors: &[Anchor]) -> Pose {
    let mut pose = pose;
    for _ in 0..REFINE_ITERATIONS {
        let mut eq = NormalEquations::default();
        for a in anchors {
            let Some((p, [x, y])) = ray_rows(a, &pose) else { continue };
            let depth = (Vector6::new(0.0, 0.0, 1.0, p.y, -p.x, 0.0) * DEPTH_WEIGHT, (p.z - a.camera.z) * DEPTH_WEIGHT);
            for (j, r) in [x, y, depth] {
                eq.add_row(&j, r, 1.0);
            }
        }
        let Some(step) = eq.h.cholesky().map(|c| c.solve(&eq.g)) else { break };
        pose = apply_twist(&pose, [step[0], step[1], step[2], step[3], step[4], step[5]]);
    }
    pose
}

/// Gauss-Newton steps of [`refine_on_rays`].
const REFINE_ITERATIONS: usize = 5;
/// Weight of an anchor's depth against its place across the ray in [`refine_on_rays`].
const DEPTH_WEIGHT: f64 = 0.1;

/// How much looser an anchor's depth is checked than its place across the ray.
const DEPTH_TOLERANCE: f64 = 4.0;

/// The pose most matches agree on (see [`agrees`]): rigid fits to random triples, the best refit to its
/// inliers. None with fewer than `min_inliers` agreeing.
pub fn ransac_pose(anchors: &[Anchor], cfg: &FeatureConfig) -> Option<FeaturePose> {
    let min = cfg.min_inliers.max(3) as usize;
    if anchors.len() < min {
        return None;
    }
    let tolerance = cfg.inlier_distance_m as f64;
    let inliers_of =
        |pose: &Pose| -> Vec<Anchor> { anchors.iter().filter(|a| agrees(a, pose, tolerance)).copied().collect() };
    let fit = |set: &[Anchor]| {
        let (object, camera): (Vec<_>, Vec<_>) = set.iter().map(|a| (a.object, a.camera)).unzip();
        rigid_fit(&object, &camera)
    };
    let mut rng = Pcg64::seed_from_u64(anchors.len() as u64);
    let mut best: Vec<Anchor> = Vec::new();
    for _ in 0..cfg.ransac_iterations {
        let picks = [0; 3].map(|_| anchors[rng.random_range(0..anchors.len())]);
        // A triple must span a triangle (and match distances) to fix a rotation.
        let spread = (picks[1].object - picks[0].object).cross(&(picks[2].object - picks[0].object)).norm();
        let consistent = (0..3).all(|i| {
            let (a, b) = (&picks[i], &picks[(i + 1) % 3]);
            ((a.object - b.object).norm() - (a.camera - b.camera).norm()).abs() < DEPTH_TOLERANCE * tolerance
        });
        if spread < 1e-4 || !consistent {
            continue;
        }
        let Some(pose) = fit(&picks) else { continue };
        let inliers = inliers_of(&pose);
        if inliers.len() > best.len() {
            best = inliers;
        }
    }
    if best.len() < min {
        return None;
    }
    // The winner's pose fitted to rays, then only the matches that land on their corners.
    let pose = refine_on_rays(fit(&best)?, &best);
    let tight = cfg.refined_inlier_distance_m as f64;
    let inliers: Vec<Anchor> = anchors.iter().filter(|a| agrees(a, &pose, tight)).copied().collect();
    (inliers.len() >= min).then(|| FeaturePose { pose: refine_on_rays(pose, &inliers), inliers })
}
