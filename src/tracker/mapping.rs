//! The mapping worker: its own thread, sharing the GPU device. It takes keyframe candidates, keeps the best
//! one per view bin, seeds surfels where the model's rendered alpha is low, optimises surfels and keyframe
//! poses jointly, drops keyframes by the MAD rule, prunes and densifies, then refines each keyframe pose with
//! the model frozen. Every change is published as a [`MapSnapshot`] and events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::TrackerEvent;
use super::keyframes::{KeyframeInfo, KeyframeSet, Offer, mad_outliers};
use super::pruning::{densify, prune_by_opacity};
use super::slot::Latest;
use super::tracking::{KeyframeCandidate, fit_view};
use crate::config::Config;
use crate::frame::RgbdFrame;
use crate::gpu::fit::{FitError, Fitter, FreeGroups};
use crate::reference::loss::LossTerms;
use crate::rendered::{CH_ALPHA, CH_DEPTH_MEDIAN};
use crate::splats::Splats;
use crate::splats::seed::seed_from_frame;

/// The model and keyframes as of one mapping step.
#[derive(Debug, Clone, Default)]
pub struct MapSnapshot {
    pub model: Arc<Splats>,
    pub keyframes: Vec<KeyframeInfo>,
    /// Every candidate up to this seq has been considered (and seeded, if accepted).
    pub incorporated_seq: u64,
    /// Optimisation steps so far.
    pub step: u64,
    /// Loss of the last joint optimisation, summed over keyframes.
    pub loss: LossTerms,
    /// Milliseconds of the last step (seeding, joint fit, pruning, pose refinement).
    pub step_ms: f64,
    /// Totals over the run.
    pub pruned_total: usize,
    pub densified_total: usize,
    pub seeded_total: usize,
    /// Per surfel of `model`: the seq of the keyframe that seeded it.
    pub origin: Arc<Vec<u64>>,
    /// The worker has nothing left to do with the candidates it has received (taken in and optimised).
    pub settled: bool,
}

/// The worker's state.
pub struct Mapper {
    cfg: Config,
    fitter: Fitter,
    keyframes: KeyframeSet,
    views: HashMap<u64, RgbdFrame>,
    model: Splats,
    /// Per surfel: the keyframe seq that seeded it.
    origin: Vec<u64>,
    snapshot: MapSnapshot,
    events: Sender<TrackerEvent>,
}

impl Mapper {
    /// A worker with an empty model.
    pub fn new(cfg: Config, mut fitter: Fitter, events: Sender<TrackerEvent>) -> Self {
        fitter.pinned_views = 1;
        Self {
            keyframes: KeyframeSet::new(cfg.keyframes),
            cfg,
            fitter,
            views: HashMap::new(),
            model: Splats::default(),
            origin: Vec::new(),
            snapshot: MapSnapshot::default(),
            events,
        }
    }

    /// Runs until `candidates` closes, then does a last joint refinement; publishes into `latest` as it goes
    /// and returns the final state.
    pub fn run(
        mut self,
        candidates: Receiver<KeyframeCandidate>,
        latest: Arc<Latest<MapSnapshot>>,
    ) -> Result<MapSnapshot, FitError> {
        let mut dirty = false;
        loop {
            let mut pending = Vec::new();
            let mut closed = false;
            if !dirty {
                match candidates.recv() {
                    Ok(c) => pending.push(c),
                    Err(_) => closed = true,
                }
            }
            loop {
                match candidates.try_recv() {
                    Ok(c) => pending.push(c),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            if !pending.is_empty() {
                dirty |= self.take_candidates(pending)?;
                self.snapshot.settled = !dirty;
                latest.publish(self.snapshot());
            }
            if dirty || closed {
                self.optimise(closed)?;
                self.snapshot.settled = true;
                latest.publish(self.snapshot());
                dirty = false;
            }
            if closed {
                return Ok(self.snapshot());
            }
        }
    }

    fn snapshot(&mut self) -> MapSnapshot {
        self.snapshot.model = Arc::new(self.model.clone());
        self.snapshot.keyframes = self.keyframes.keyframes.clone();
        self.snapshot.origin = Arc::new(self.origin.clone());
        self.snapshot.clone()
    }

    /// Offers candidates to the selection and seeds the accepted ones; true when any was accepted.
    fn take_candidates(&mut self, pending: Vec<KeyframeCandidate>) -> Result<bool, FitError> {
        let mut accepted = false;
        for c in pending {
            let seq = c.info.seq;
            self.snapshot.incorporated_seq = self.snapshot.incorporated_seq.max(seq);
            let offer = self.keyframes.offer(c.info.clone());
            let replaced = match offer {
                // Not a keyframe, but what it sees that the model lacks still belongs in the model: the
                // tracker drops its own copy of these surfels once the map has taken this candidate in.
                Offer::Rejected => {
                    self.snapshot.seeded_total += self.seed(&c.view, &c.info)?;
                    continue;
                }
                Offer::NewBin => None,
                Offer::Replaced(old) => {
                    self.views.remove(&old);
                    Some(old)
                }
            };
            let seeded = self.seed(&c.view, &c.info)?;
            self.snapshot.seeded_total += seeded;
            let thumbnail = Arc::new(c.view.rgb.clone());
            self.views.insert(seq, c.view);
            let info = self.keyframes.keyframes.iter().find(|k| k.seq == seq).cloned().expect("just accepted");
            let _ = self.events.send(TrackerEvent::KeyframeAccepted { info, replaced, seeded, thumbnail });
            accepted = true;
        }
        Ok(accepted)
    }

    /// Seeds surfels from `view` where the model renders with low alpha, or with its surface at another depth
    /// than the observed one.
    fn seed(&mut self, view: &RgbdFrame, info: &KeyframeInfo) -> Result<usize, FitError> {
        let k = view.intrinsics;
        let (alpha, depth) = if self.model.is_empty() {
            (vec![0.0; k.pixel_count()], vec![0.0; k.pixel_count()])
        } else {
            let gpu = self.fitter.renderer().upload(&self.model)?;
            let rendered = self.fitter.renderer().render_view(&gpu, &k, &info.pose)?;
            (rendered.plane(CH_ALPHA).to_vec(), rendered.plane(CH_DEPTH_MEDIAN).to_vec())
        };
        let (below, margin) = (self.cfg.mapping.seed_alpha_below, self.cfg.mapping.seed_depth_margin_m);
        let covered = |x: u32, y: u32| {
            let i = (y * k.width + x) as usize;
            alpha[i] >= below && (view.depth_m.get_pixel(x, y)[0] - depth[i]).abs() <= margin
        };
        let seeds = seed_from_frame(view, &info.pose, &self.cfg.seed, Some(&covered));
        self.model.extend(&seeds);
        self.origin.extend(std::iter::repeat_n(info.seq, seeds.len()));
        Ok(seeds.len())
    }

    /// One optimisation step over the keyframes (a longer one at the end of the stream).
    fn optimise(&mut self, last: bool) -> Result<(), FitError> {
        if self.model.is_empty() || self.keyframes.keyframes.is_empty() {
            return Ok(());
        }
        let start = Instant::now();
        let m = self.cfg.mapping;
        let scale = if last { 3 } else { 1 };
        let mut views: Vec<_> =
            self.keyframes.keyframes.iter().map(|k| fit_view(&self.views[&k.seq], k.pose)).collect();
        let joint = self.fitter.fit(&mut self.model, &mut views, m.joint_iterations * scale, FreeGroups::ALL)?;
        self.snapshot.loss = joint.losses.last().map(|l| l.1).unwrap_or_default();
        self.snapshot.step += 1;
        for (k, v) in self.keyframes.keyframes.iter_mut().zip(&views) {
            k.pose = v.pose;
        }

        // The MAD rule on per-keyframe losses.
        let losses: Vec<f64> = joint.view_losses.iter().map(|l| l.total() as f64).collect();
        let verdicts = mad_outliers(&losses, self.cfg.keyframes.mad_factor as f64);
        let first = self.keyframes.keyframes[0].seq;
        let mut dropped = Vec::new();
        for v in verdicts {
            let seq = self.keyframes.keyframes[v.index].seq;
            if seq != first {
                let _ = self.events.send(TrackerEvent::KeyframeDropped { seq, verdict: v });
                self.views.remove(&seq);
                dropped.push(seq);
            }
        }
        self.keyframes.remove(&dropped);

        if self.snapshot.step.is_multiple_of(self.cfg.pruning.interval_steps.max(1) as u64) || last {
            let added = densify(&mut self.model, &joint.mean_grad_norms, &self.cfg.pruning);
            self.snapshot.densified_total += added.cloned + added.split;
            for &source in &added.sources {
                self.origin.push(self.origin[source]);
            }
            let pruned = prune_by_opacity(&mut self.model, &self.cfg.pruning);
            self.snapshot.pruned_total += pruned.removed;
            let mut i = 0;
            self.origin.retain(|_| (pruned.kept[i], i += 1).0);
            let _ = self.events.send(TrackerEvent::Pruned { step: self.snapshot.step, pruned, densified: added });
        }

        // Model frozen: refine each keyframe pose alone (the first stays pinned).
        let mut views: Vec<_> =
            self.keyframes.keyframes.iter().map(|k| fit_view(&self.views[&k.seq], k.pose)).collect();
        self.fitter.fit(&mut self.model, &mut views, m.pose_iterations * scale, FreeGroups::POSES)?;
        for (k, v) in self.keyframes.keyframes.iter_mut().zip(&views) {
            k.pose = v.pose;
        }
        self.snapshot.step_ms = start.elapsed().as_secs_f64() * 1e3;
        let _ = self.events.send(TrackerEvent::MappingStep {
            step: self.snapshot.step,
            splats: self.model.len(),
            keyframes: self.keyframes.keyframes.len(),
            loss: self.snapshot.loss,
            ms: self.snapshot.step_ms,
        });
        Ok(())
    }
}
