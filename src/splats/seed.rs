//! Seeding surfels from an RGB-D frame: one surfel per grid cell of the masked, valid depth, lying in the
//! surface's tangent plane (normals from depth differences), sized by the pixel footprint, coloured by the
//! image, expressed in the object frame. How the tracker grows its model where the model does not yet cover
//! a new keyframe (`skip` marks pixels already covered).

use nalgebra::{Matrix3, Point3, Rotation3, UnitQuaternion, Vector3};

use super::Splats;
use crate::config::SeedConfig;
use crate::frame::{Pose, RgbdFrame};

/// Surfels for the masked pixels of `frame` (object-to-camera `pose`) not marked in `skip`, where the surface
/// faces the camera closely enough to be trusted.
pub fn seed_from_frame(
    frame: &RgbdFrame,
    pose: &Pose,
    cfg: &SeedConfig,
    skip: Option<&dyn Fn(u32, u32) -> bool>,
) -> Splats {
    let mut out = Splats::default();
    let (w, h) = frame.depth_m.dimensions();
    let step = cfg.stride_px.max(1);
    let to_object = pose.inverse();
    let min_facing = (cfg.max_slant_deg as f64).to_radians().cos();
    for y in (step / 2..h).step_by(step as usize) {
        for x in (step / 2..w).step_by(step as usize) {
            if frame.object_mask.as_ref().is_some_and(|m| m.get_pixel(x, y)[0] == 0) || skip.is_some_and(|s| s(x, y)) {
                continue;
            }
            let Some(p_c) = frame.back_project(x, y) else { continue };
            let view = -p_c.normalize();
            // No surfel where the surface's orientation is unknown or seen edge-on: its depth is unreliable
            // there, and a wrongly turned surfel would keep a later, better view from seeding the place.
            let Some(normal) = frame.depth_normal(x, y, cfg.normal_baseline_px, cfg.max_depth_step_m as f64) else {
                continue;
            };
            if normal.dot(&view) < min_facing {
                continue;
            }
            // Tangent u along the direction the surface recedes from the camera, where the pixel grid
            // spacing on the surface is stretched by 1 / cos(slant); v across it.
            let receding = view - normal * view.dot(&normal);
            let t_u = receding
                .try_normalize(1e-9)
                .unwrap_or_else(|| normal.cross(&Vector3::x()).try_normalize(1e-9).unwrap_or(Vector3::y()));
            let t_v = normal.cross(&t_u);
            let rot_c =
                UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(Matrix3::from_columns(&[
                    t_u, t_v, normal,
                ])));
            let spacing = step as f64 * p_c.z / frame.intrinsics.fx;
            let slant = normal.dot(&view).abs().max(0.3);
            let scale = (cfg.scale_of_spacing as f64 * spacing) as f32;
            let rot_o = to_object.rotation * rot_c;
            let q = rot_o.quaternion();
            let mean = (to_object * Point3::from(p_c)).coords;
            let rgb = frame.rgb.get_pixel(x, y).0.map(|c| c as f32 / 255.0);
            out.push(
                [mean.x as f32, mean.y as f32, mean.z as f32],
                [q.w as f32, q.i as f32, q.j as f32, q.k as f32],
                [scale / slant as f32, scale],
                cfg.opacity,
                rgb,
            );
        }
    }
    out
}
