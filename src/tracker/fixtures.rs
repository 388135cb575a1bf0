//! Small constructed models the tracker's unit tests share.

use super::model_index::ModelIndex;
use crate::config::TrackingConfig;
use crate::splats::Splats;

/// A 12 cm square of surfels 2 mm apart in the object's z = 0 plane, normals along `normal_z` (−1: towards
/// a camera looking along +z).
pub fn plate(normal_z: f32) -> ModelIndex {
    let mut splats = Splats::default();
    let quat = if normal_z < 0.0 { [0.0, 1.0, 0.0, 0.0] } else { [1.0, 0.0, 0.0, 0.0] };
    for i in -30..=30 {
        for j in -30..=30 {
            splats.push([i as f32 * 0.002, j as f32 * 0.002, 0.0], quat, [0.001; 2], 0.9, [0.5; 3]);
        }
    }
    ModelIndex::new(&splats, &TrackingConfig::default()).unwrap()
}
