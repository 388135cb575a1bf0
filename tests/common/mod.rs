//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use nalgebra::{Translation3, UnitQuaternion, Vector3};
use splatrack::frame::{Intrinsics, Pose};
use splatrack::gpu::GpuContext;

/// A GPU context with fresh buffers poisoned; fails with the adapter error if none exists (a CI setup bug).
pub fn gpu() -> Arc<GpuContext> {
    let ctx = GpuContext::new().unwrap_or_else(|e| panic!("GPU tests need an adapter (lavapipe in CI): {e}"));
    ctx.set_poison_fresh_buffers(true);
    Arc::new(ctx)
}

/// A camera of the given size with a 60° horizontal field of view.
pub fn camera(width: u32, height: u32) -> Intrinsics {
    Intrinsics::from_fov(width, height, 60.0)
}

/// An object pose placing the object origin `z` metres in front of the camera, turned a little.
pub fn pose_in_front(z: f64, seed_angle: f64) -> Pose {
    Pose::from_parts(
        Translation3::new(0.01, -0.02, z),
        UnitQuaternion::from_axis_angle(&Vector3::y_axis(), seed_angle)
            * UnitQuaternion::from_axis_angle(&Vector3::x_axis(), 0.3),
    )
}
