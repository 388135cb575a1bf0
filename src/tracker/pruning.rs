//! Opacity-statistics pruning (6DOPE-GS) and gradient-driven densification (3DGS's clone / split), run by the
//! mapping worker between fits. Percentiles rather than an absolute opacity threshold keep the surfel count
//! from swinging.

use nalgebra::Vector3;
use serde::Serialize;

use crate::config::PruneConfig;
use crate::splats::Splats;

/// One pruning event, as published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PruneEvent {
    pub rounds: u32,
    pub before: usize,
    pub removed: usize,
    /// Opacity percentile `high_percentile` before and after.
    pub high_before: f32,
    pub high_after: f32,
    /// Where the removed surfels were (object frame), for a viewer to flash.
    #[serde(skip)]
    pub removed_positions: Vec<[f32; 3]>,
    /// Per surfel before pruning: kept or not (to prune data kept alongside the model).
    #[serde(skip)]
    pub kept: Vec<bool>,
}

/// The `p`-th percentile (0–100, nearest rank) of `values`; 0 when empty.
pub fn percentile(values: &[f32], p: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let rank = ((p / 100.0) * (v.len() - 1) as f32).round() as usize;
    v[rank.min(v.len() - 1)]
}

/// Removes the surfels at or below the `low_percentile` of opacity, then again round after round until the
/// `high_percentile` exceeds `high_opacity` (or `max_rounds`, or a round removes nothing). The first round is
/// unconditional: seeds start opaque, so a model's high percentile is past the threshold from the start, and
/// pruning only while it is not never ran (no surfel pruned in any replay) while densification kept adding.
pub fn prune_by_opacity(splats: &mut Splats, cfg: &PruneConfig) -> PruneEvent {
    let opacities = |s: &Splats| (0..s.len()).map(|i| s.opacity(i)).collect::<Vec<f32>>();
    let before = splats.len();
    let high_before = percentile(&opacities(splats), cfg.high_percentile);
    let mut rounds = 0;
    // Original index of each surviving surfel.
    let mut survivors: Vec<usize> = (0..before).collect();
    let mut removed_positions = Vec::new();
    while rounds < cfg.max_rounds {
        let o = opacities(splats);
        if o.len() < 2 || (rounds > 0 && percentile(&o, cfg.high_percentile) > cfg.high_opacity) {
            break;
        }
        let cut = percentile(&o, cfg.low_percentile);
        let keep: Vec<bool> = o.iter().map(|&v| v > cut).collect();
        if keep.iter().all(|k| *k) || keep.iter().all(|k| !*k) {
            break;
        }
        removed_positions.extend(keep.iter().zip(&splats.means).filter(|(k, _)| !**k).map(|(_, m)| *m));
        let mut i = 0;
        survivors.retain(|_| (keep[i], i += 1).0);
        splats.retain(&keep);
        rounds += 1;
    }
    let mut kept = vec![false; before];
    survivors.iter().for_each(|&i| kept[i] = true);
    let high_after = percentile(&opacities(splats), cfg.high_percentile);
    PruneEvent { rounds, before, removed: before - splats.len(), high_before, high_after, removed_positions, kept }
}

/// What densification did.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DensifyEvent {
    pub cloned: usize,
    pub split: usize,
    /// For each appended surfel, in order, the surfel it was copied from.
    #[serde(skip)]
    pub sources: Vec<usize>,
}

/// Clones small surfels and splits large ones where the positional gradient norm exceeds `densify_grad`
/// (largest first, at most `max_densify_share` of the model). Clones are nudged half a scale along their
/// major axis; a split leaves two halves 1/1.6 the size, one scale apart along the major axis.
pub fn densify(splats: &mut Splats, mean_grad_norms: &[f32], cfg: &PruneConfig) -> DensifyEvent {
    let mut candidates: Vec<usize> =
        (0..splats.len().min(mean_grad_norms.len())).filter(|&i| mean_grad_norms[i] > cfg.densify_grad).collect();
    candidates.sort_by(|&a, &b| mean_grad_norms[b].total_cmp(&mean_grad_norms[a]));
    candidates.truncate((splats.len() as f32 * cfg.max_densify_share).ceil() as usize);
    let mut event = DensifyEvent::default();
    for i in candidates {
        let [su, sv] = splats.log_scales[i].map(f32::exp);
        let major = if su >= sv { 0 } else { 1 };
        let axis: Vector3<f32> = splats.rotation(i) * Vector3::ith(major, 1.0);
        let copy = splats.duplicate(i);
        event.sources.push(i);
        let offset = axis * su.max(sv) * 0.5;
        let m = Vector3::from(splats.means[i]);
        if su.max(sv) < cfg.split_scale_m {
            splats.means[copy] = (m + offset).into();
            event.cloned += 1;
        } else {
            let halved = splats.log_scales[i].map(|l| l - 1.6f32.ln());
            for (index, sign) in [(i, -1.0f32), (copy, 1.0)] {
                splats.means[index] = (m + offset * sign).into();
                splats.log_scales[index] = halved;
            }
            event.split += 1;
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(opacities: &[f32], scale: f32) -> Splats {
        let mut s = Splats::default();
        for (i, &o) in opacities.iter().enumerate() {
            s.push([i as f32 * 0.01, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [scale, scale * 0.5], o, [0.5; 3]);
        }
        s
    }

    #[test]
    fn pruning_removes_the_lowest_percentile_until_the_high_percentile_is_confident() {
        // 100 surfels: 80 confident (0.95), 20 faint (0.01 .. 0.2). One round removes those at or below the 5th
        // percentile (nearest rank: the sixth faintest, 0.06); then p95 = 0.95 > 0.9: done.
        let mut faint: Vec<f32> = (0..20).map(|i| 0.01 + 0.01 * i as f32).collect();
        let mut opacities = vec![0.95; 80];
        opacities.append(&mut faint);
        let cfg = PruneConfig::default();
        let mut s = model(&opacities, 0.002);
        let e = prune_by_opacity(&mut s, &cfg);
        assert_eq!((e.rounds, e.removed, s.len()), (1, 6, 94));
        assert!(e.kept[..80].iter().all(|k| *k) && !e.kept[80..86].iter().any(|k| *k), "the six faintest went");

        // A model still unsure of itself (p95 = 0.6): rounds remove the lowest 5 % each, the faintest first,
        // until the cap on rounds.
        let opacities: Vec<f32> = (0..100).map(|i| 0.01 + 0.006 * i as f32).collect();
        let mut s = model(&opacities, 0.002);
        let e = prune_by_opacity(&mut s, &cfg);
        assert_eq!(e.rounds, cfg.max_rounds);
        assert!(e.removed >= 4 * 4 && e.removed <= 4 * 6, "about 5 % per round, removed {}", e.removed);
        let lowest = (0..s.len()).map(|i| s.opacity(i)).fold(f32::INFINITY, f32::min);
        assert!(lowest > opacities[e.removed - 1] - 1e-6, "only the faintest surfels go");
        assert!(e.high_after >= e.high_before);
        assert_eq!(e.kept.iter().filter(|k| !**k).count(), e.removed);
        assert_eq!(e.removed_positions.len(), e.removed);
        assert!(!e.kept[0] && e.kept[99], "the faintest went, the brightest stayed");
    }

    #[test]
    fn densify_clones_small_and_splits_large_surfels_with_large_gradients() {
        let cfg = PruneConfig { max_densify_share: 1.0, ..PruneConfig::default() };
        let mut s = model(&[0.9, 0.9, 0.9], 0.002);
        s.log_scales[2] = [0.01f32.ln(), 0.005f32.ln()];
        let grads = [0.0, 1.0, 1.0];
        let e = densify(&mut s, &grads, &cfg);
        assert_eq!((e.cloned, e.split, s.len()), (1, 1, 5));
        assert_eq!(e.sources, vec![1, 2], "largest gradient first (a tie keeps index order)");
        // Surfel 1 (small) was cloned half a scale along x; surfel 2 (large) split into two smaller halves.
        assert!((s.means[3][0] - (0.01 + 0.001)).abs() < 1e-6);
        assert!(
            (s.log_scales[2][0].exp() - 0.01 / 1.6).abs() < 1e-6
                && (s.log_scales[4][0].exp() - 0.01 / 1.6).abs() < 1e-6
        );
        assert!((s.means[4][0] - s.means[2][0] - 0.01).abs() < 1e-6, "halves one scale apart");
    }
}
