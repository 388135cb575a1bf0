//! Object masks for frames whose source has none: the pixels whose depth lies on the model at the predicted
//! pose. A hand or gripper in front of the object is off the model's surface and so left out.

use nalgebra::Point3;

use super::model_index::ModelIndex;
use crate::frame::{Mask, Pose, RgbdFrame};

/// Pixels are searched in the model's projected bounding box grown by this margin (pixels).
const BOX_MARGIN_PX: f64 = 12.0;

/// The mask of pixels within `max_distance_m` of the model posed at `pose`.
pub fn propagate_mask(frame: &RgbdFrame, model: &ModelIndex, pose: &Pose, max_distance_m: f64) -> Mask {
    let k = &frame.intrinsics;
    let (w, h) = (k.width, k.height);
    let mut mask = Mask::new(w, h);
    let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in &model.points {
        let c = pose * Point3::from(*p);
        if c.z <= 1e-3 {
            continue;
        }
        let (u, v) = (k.fx * c.x / c.z + k.cx, k.fy * c.y / c.z + k.cy);
        (x0, y0, x1, y1) = (x0.min(u), y0.min(v), x1.max(u), y1.max(v));
    }
    if !x0.is_finite() {
        return mask;
    }
    let clamp = |v: f64, hi: u32| v.clamp(0.0, hi as f64) as u32;
    let (xa, ya, xb, yb) = (
        clamp(x0 - BOX_MARGIN_PX, w),
        clamp(y0 - BOX_MARGIN_PX, h),
        clamp(x1 + BOX_MARGIN_PX, w),
        clamp(y1 + BOX_MARGIN_PX, h),
    );
    let to_object = pose.inverse();
    for y in ya..yb {
        for x in xa..xb {
            let Some(p) = frame.back_project(x, y) else { continue };
            let q = (to_object * Point3::from(p)).coords;
            let m = model.nearest(&q).index;
            if (q - model.points[m]).norm() < max_distance_m {
                mask.put_pixel(x, y, image::Luma([255]));
            }
        }
    }
    mask
}
