//! Dynamic keyframe selection (6DOPE-GS): views are binned by direction to 32 anchors (the 12 vertices and
//! 20 face centres of an icosahedron); each bin keeps the keyframe that saw the most of the object; keyframes
//! whose fitting loss is an outlier (more than k MADs above the median) are dropped.

use nalgebra::Vector3;
use serde::Serialize;

use crate::config::KeyframeConfig;
use crate::frame::Pose;

/// Number of view-direction bins.
pub const BIN_COUNT: usize = 32;

/// The 32 anchor directions: icosahedron vertices first (bins 0–11), then face centres (12–31).
pub fn anchors() -> [Vector3<f64>; BIN_COUNT] {
    let phi = (1.0 + 5f64.sqrt()) / 2.0;
    let mut vertices = Vec::with_capacity(12);
    for a in [-1.0, 1.0] {
        for b in [-phi, phi] {
            vertices.extend([Vector3::new(0.0, a, b), Vector3::new(a, b, 0.0), Vector3::new(b, 0.0, a)]);
        }
    }
    let mut out = [Vector3::zeros(); BIN_COUNT];
    for (o, v) in out.iter_mut().zip(&vertices) {
        *o = v.normalize();
    }
    // Faces are the vertex triples that are pairwise one edge (length 2) apart.
    let edge = |i: usize, j: usize| ((vertices[i] - vertices[j]).norm() - 2.0).abs() < 1e-9;
    let mut next = 12;
    for i in 0..12 {
        for j in i + 1..12 {
            for k in j + 1..12 {
                if edge(i, j) && edge(j, k) && edge(i, k) {
                    out[next] = (vertices[i] + vertices[j] + vertices[k]).normalize();
                    next += 1;
                }
            }
        }
    }
    debug_assert_eq!(next, BIN_COUNT);
    out
}

/// The bin of a unit view direction: the nearest anchor.
pub fn bin_of(direction: &Vector3<f64>, anchors: &[Vector3<f64>; BIN_COUNT]) -> usize {
    (0..BIN_COUNT).max_by(|&a, &b| anchors[a].dot(direction).total_cmp(&anchors[b].dot(direction))).unwrap_or(0)
}

/// What the selection knows of a keyframe.
#[derive(Debug, Clone, Serialize)]
pub struct KeyframeInfo {
    /// The order in which candidates were offered (unique per run).
    pub seq: u64,
    /// Index of the frame in the stream and the source's id for it.
    pub frame_index: usize,
    pub frame_id: String,
    pub bin: usize,
    /// Object pixels in the keyframe's mask (full resolution).
    pub mask_area: usize,
    /// Object-to-camera pose, refined by mapping.
    #[serde(serialize_with = "serialize_pose")]
    pub pose: Pose,
}

fn serialize_pose<S: serde::Serializer>(pose: &Pose, s: S) -> Result<S::Ok, S::Error> {
    let m = pose.to_homogeneous();
    let rows: Vec<[f64; 4]> = (0..4).map(|r| [m[(r, 0)], m[(r, 1)], m[(r, 2)], m[(r, 3)]]).collect();
    rows.serialize(s)
}

/// What happened to an offered candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// It filled an empty bin.
    NewBin,
    /// It replaced the bin's keyframe (seq given), having a larger mask.
    Replaced(u64),
    /// Its bin holds a keyframe that saw as much (or the first keyframe, which is never replaced).
    Rejected,
}

/// The current keyframes, at most one per bin. The first keyframe defines the object frame and is pinned.
#[derive(Debug, Clone)]
pub struct KeyframeSet {
    cfg: KeyframeConfig,
    anchors: [Vector3<f64>; BIN_COUNT],
    /// Keyframes in the order they were accepted.
    pub keyframes: Vec<KeyframeInfo>,
}

impl KeyframeSet {
    /// An empty set.
    pub fn new(cfg: KeyframeConfig) -> Self {
        Self { cfg, anchors: anchors(), keyframes: Vec::new() }
    }

    /// The bin a pose's view direction falls in.
    pub fn bin_of_pose(&self, pose: &Pose) -> usize {
        bin_of(&super::geometry::view_direction(pose), &self.anchors)
    }

    /// Offers a candidate (its `bin` is set here from its pose).
    pub fn offer(&mut self, mut candidate: KeyframeInfo) -> Offer {
        candidate.bin = self.bin_of_pose(&candidate.pose);
        let Some(slot) = self.keyframes.iter().position(|k| k.bin == candidate.bin) else {
            self.keyframes.push(candidate);
            return Offer::NewBin;
        };
        let current = &self.keyframes[slot];
        let pinned = slot == 0 && current.seq == self.first_seq();
        if pinned || (candidate.mask_area as f32) < current.mask_area as f32 * self.cfg.replace_mask_ratio {
            return Offer::Rejected;
        }
        let old = current.seq;
        self.keyframes[slot] = candidate;
        Offer::Replaced(old)
    }

    fn first_seq(&self) -> u64 {
        self.keyframes.first().map(|k| k.seq).unwrap_or(0)
    }

    /// Removes keyframes by seq (never the first).
    pub fn remove(&mut self, seqs: &[u64]) {
        let first = self.first_seq();
        self.keyframes.retain(|k| k.seq == first || !seqs.contains(&k.seq));
    }

    /// Bins holding a keyframe.
    pub fn occupied_bins(&self) -> [bool; BIN_COUNT] {
        occupied(self.keyframes.iter())
    }
}

/// Which bins the given keyframes occupy.
pub fn occupied<'a>(keyframes: impl Iterator<Item = &'a KeyframeInfo>) -> [bool; BIN_COUNT] {
    let mut bins = [false; BIN_COUNT];
    keyframes.for_each(|k| bins[k.bin] = true);
    bins
}

/// Median of a non-empty list.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

/// Why the MAD rule dropped a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MadVerdict {
    pub index: usize,
    pub loss: f64,
    pub median: f64,
    pub mad: f64,
}

/// Indices whose loss exceeds the median by more than `factor` median absolute deviations. Needs at least 4
/// losses (fewer give no meaningful spread); a zero MAD drops nothing.
pub fn mad_outliers(losses: &[f64], factor: f64) -> Vec<MadVerdict> {
    if losses.len() < 4 {
        return Vec::new();
    }
    let med = median(losses);
    let deviations: Vec<f64> = losses.iter().map(|l| (l - med).abs()).collect();
    let mad = median(&deviations);
    if mad <= 0.0 {
        return Vec::new();
    }
    losses
        .iter()
        .enumerate()
        .filter(|(_, l)| **l - med > factor * mad)
        .map(|(index, &loss)| MadVerdict { index, loss, median: med, mad })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Translation3, UnitQuaternion};

    fn info(seq: u64, area: usize, pose: Pose) -> KeyframeInfo {
        KeyframeInfo { seq, frame_index: seq as usize, frame_id: seq.to_string(), bin: 0, mask_area: area, pose }
    }

    fn looking_from(axis: Vector3<f64>, angle: f64) -> Pose {
        Pose::from_parts(Translation3::new(0.0, 0.0, 0.6), UnitQuaternion::from_scaled_axis(axis * angle))
    }

    #[test]
    fn anchors_are_32_distinct_unit_directions_covering_the_sphere() {
        let a = anchors();
        for (i, d) in a.iter().enumerate() {
            assert!((d.norm() - 1.0).abs() < 1e-12);
            for e in &a[i + 1..] {
                assert!(d.dot(e) < 0.95, "anchors {d:?} and {e:?} nearly coincide");
            }
        }
        // Every direction is within the covering radius (~37.4°) of some anchor.
        for k in 0..500 {
            let t = k as f64 * 2.399963;
            let z = 1.0 - 2.0 * (k as f64 + 0.5) / 500.0;
            let d = Vector3::new((1.0 - z * z).sqrt() * t.cos(), (1.0 - z * z).sqrt() * t.sin(), z);
            assert!(a[bin_of(&d, &a)].dot(&d) > 37.5f64.to_radians().cos());
        }
    }

    #[test]
    fn a_bin_keeps_the_largest_mask_and_the_first_keyframe_is_pinned() {
        let cfg = KeyframeConfig::default();
        let mut set = KeyframeSet::new(cfg);
        assert_eq!(set.offer(info(0, 1000, looking_from(Vector3::y(), 0.3))), Offer::NewBin);
        // Same bin as the first keyframe, much larger mask: the pinned first keyframe stays.
        assert_eq!(set.offer(info(1, 5000, looking_from(Vector3::y(), 0.35))), Offer::Rejected);
        // A view from the side: new bin.
        assert_eq!(set.offer(info(2, 800, looking_from(Vector3::y(), 1.2))), Offer::NewBin);
        // Same side bin: a slightly larger mask is not enough, a clearly larger one replaces it.
        assert_eq!(set.offer(info(3, 850, looking_from(Vector3::y(), 1.21))), Offer::Rejected);
        assert_eq!(set.offer(info(4, 1200, looking_from(Vector3::y(), 1.19))), Offer::Replaced(2));
        assert_eq!(set.keyframes.iter().map(|k| k.seq).collect::<Vec<_>>(), vec![0, 4]);
        assert_eq!(set.occupied_bins().iter().filter(|b| **b).count(), 2);
        set.remove(&[0, 4]);
        assert_eq!(
            set.keyframes.iter().map(|k| k.seq).collect::<Vec<_>>(),
            vec![0],
            "the first keyframe is never removed"
        );
    }

    #[test]
    fn the_mad_rule_drops_only_clear_outliers() {
        let losses = [1.0, 1.1, 0.9, 1.05, 0.95, 3.0];
        let out = mad_outliers(&losses, 3.0);
        assert_eq!(out.iter().map(|v| v.index).collect::<Vec<_>>(), vec![5]);
        assert!((out[0].median - 1.025).abs() < 1e-12 && (out[0].mad - 0.075).abs() < 1e-12);
        // 1.25 is 3.0 MADs above the median of these: kept (strictly more than 3 MADs drops).
        assert!(mad_outliers(&[1.0, 1.1, 0.9, 1.05, 0.95, 1.25], 3.0).is_empty());
        assert!(mad_outliers(&[1.0, 1.0, 1.0, 5.0], 3.0).is_empty(), "zero MAD: no spread to judge by");
        assert!(mad_outliers(&[1.0, 9.0, 1.0], 3.0).is_empty(), "too few keyframes");
        // Low losses are not outliers.
        assert!(mad_outliers(&[1.0, 1.1, 0.9, 1.05, 0.95, 0.0], 3.0).is_empty());
    }
}
