//! The tracker: online 6D pose tracking of an unknown object with joint 2DGS reconstruction.
//!
//! Data flow: a source thread reads frames into a bounded channel (a replay blocks, a live camera drops
//! stale frames); the tracker thread ([`tracking`]) aligns each frame to the model and offers keyframe
//! candidates; the mapping worker ([`mapping`], its own thread on the same GPU device) grows and refines the
//! model. [`session::Session`] wires these together and publishes what the GUI and CLI show: per-frame
//! results and events on channels, and the newest snapshot in a [`slot::Latest`].

pub mod features;
#[cfg(test)]
mod fixtures;
pub mod geometry;
pub mod icp;
pub mod keyframes;
pub mod mapping;
pub mod mask;
pub mod model_index;
pub mod normal_equations;
pub mod photometric;
pub mod planes;
pub mod pruning;
pub mod session;
pub mod silhouette;
pub mod slot;
pub mod tracking;

use serde::Serialize;

use crate::reference::loss::LossTerms;
use keyframes::{KeyframeInfo, MadVerdict};
use pruning::{DensifyEvent, PruneEvent};

/// Something the tracker did that a viewer may want to show as it happens.
#[derive(Debug, Clone, Serialize)]
pub enum TrackerEvent {
    /// The mapping worker took a keyframe (replacing `replaced` in its bin) and seeded `seeded` surfels from it.
    KeyframeAccepted {
        info: KeyframeInfo,
        replaced: Option<u64>,
        seeded: usize,
        /// The keyframe's image at the mapping size, for a viewer's thumbnail strip.
        #[serde(skip)]
        thumbnail: std::sync::Arc<image::RgbImage>,
    },
    /// A keyframe whose loss broke the MAD rule was dropped.
    KeyframeDropped { seq: u64, verdict: MadVerdict },
    /// Pruning and densification at a mapping step.
    Pruned { step: u64, pruned: PruneEvent, densified: DensifyEvent },
    /// A mapping step finished.
    MappingStep { step: u64, splats: usize, keyframes: usize, loss: LossTerms, ms: f64 },
    /// The source or the tracker failed; the session stops, keeping what it has.
    Error(String),
}
