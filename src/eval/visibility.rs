//! The part of an object's surface that a sequence's cameras saw: the ground truth of the chamfer score. The
//! protocol compares a reconstruction with the visible part of the model, since no tracker can rebuild a face
//! that no frame shows (a box held on a gripper never turns its bottom to the camera, a hand covers the same
//! band of a bottle all along).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nalgebra::{Isometry3, Point3, Vector3};

use crate::frame::{DepthImage, Intrinsics, Pose, RgbdFrame};
use crate::source::synthetic::objects::Mesh;
use crate::source::synthetic::raster::{Framebuffer, SurfaceId, draw};
use crate::source::{EachFrame, FrameSource};

/// A surface point counts as seen when it lies no further than this behind the object's own nearest surface
/// at its pixel (metres): less than the thinnest wall (a mug's is 4 mm), more than the mesh's own depth steps
/// across one pixel on a surface facing the camera.
const SEEN_DEPTH_MARGIN_M: f32 = 0.0015;

/// Observed depth this far in front of a surface point (metres) shows something else in front of it (a hand,
/// a gripper): well beyond the sensor's noise, less than a finger's thickness.
const OCCLUDER_MARGIN_M: f32 = 0.01;

/// At most this many views are drawn; a longer sequence is sampled evenly (neighbouring frames see the same).
const MAX_VIEWS: usize = 100;

/// Kept depth images are this many times smaller than the frames along each axis: fine enough to see between
/// fingers; at most [`MAX_VIEWS`] of them at 640×480 keep 31 MB.
const KEPT_DEPTH_FACTOR: u32 = 2;

/// One frame's view of the object: its camera, the object's ground-truth pose, and what the sensor measured.
pub struct View {
    pub intrinsics: Intrinsics,
    pub pose: Pose,
    /// The frame's depth at any size (sampled at each point's pixel, scaled): where it lies well in front of a
    /// surface point, something hid that point. None: only the object itself hides anything.
    pub depth: Option<Arc<DepthImage>>,
}

/// `samples` points spread evenly over the surface of `mesh` (object frame, deterministic for `seed`), less
/// those that no view saw. A point is seen when it projects inside the image, no other part of the object
/// hides it, and the view's depth, where it has one, shows nothing in front of it.
pub fn visible_surface(mesh: &Mesh, views: &[View], samples: usize, seed: u64) -> Vec<Vector3<f64>> {
    let points = mesh.sample_surface(samples, seed);
    let mut seen = vec![false; points.len()];
    let step = views.len().div_ceil(MAX_VIEWS).max(1);
    for view in views.iter().step_by(step) {
        let k = &view.intrinsics;
        let to_camera: Isometry3<f32> = nalgebra::convert(view.pose);
        let mut fb = Framebuffer::new(k.width, k.height);
        draw(&mut fb, k, mesh, &to_camera, SurfaceId::Object, &|_| ([0.0; 3], 0.0));
        for (point, seen) in points.iter().zip(seen.iter_mut()).filter(|(_, s)| !**s) {
            let p = (to_camera * Point3::from(*point)).coords;
            let Some((x, y)) = pixel_of(k, &p) else { continue };
            let unhidden = farthest_object_depth_around(&fb, x, y).is_some_and(|z| p.z <= z + SEEN_DEPTH_MARGIN_M);
            *seen = unhidden && view.depth.as_deref().is_none_or(|d| !occluded(d, k, x, y, p.z));
        }
    }
    points.iter().zip(&seen).filter(|(_, s)| **s).map(|(p, _)| p.cast()).collect()
}

/// The pixel that camera-frame point `p` projects into, if it lies in front of the camera and in the image.
fn pixel_of(k: &Intrinsics, p: &Vector3<f32>) -> Option<(u32, u32)> {
    let (x, y) = ((k.fx as f32 * p.x / p.z + k.cx as f32).floor(), (k.fy as f32 * p.y / p.z + k.cy as f32).floor());
    (p.z > 0.0 && x >= 0.0 && y >= 0.0 && x < k.width as f32 && y < k.height as f32).then_some((x as u32, y as u32))
}

/// The farthest object depth drawn in the 3×3 pixels around (x, y): the surface a point there must not lie
/// behind. The neighbourhood's farthest, not the pixel's own, so that a point on a surface sloping away,
/// between pixel centres, still counts; None where nothing of the object is drawn.
fn farthest_object_depth_around(fb: &Framebuffer, x: u32, y: u32) -> Option<f32> {
    let (x0, y0) = (x.saturating_sub(1), y.saturating_sub(1));
    let (x1, y1) = ((x + 1).min(fb.width - 1), (y + 1).min(fb.height - 1));
    (y0..=y1)
        .flat_map(|v| (x0..=x1).map(move |u| fb.depth[(v * fb.width + u) as usize]))
        .filter(|z| z.is_finite())
        .reduce(f32::max)
}

/// Whether `depth` (any size) shows something well in front of depth `z` at full-size pixel (x, y) or next to
/// it: a point glimpsed between two fingers, or along an occluder's edge, has not really been seen.
fn occluded(depth: &DepthImage, k: &Intrinsics, x: u32, y: u32, z: f32) -> bool {
    let (w, h) = depth.dimensions();
    let (u, v) = ((x as u64 * w as u64 / k.width as u64) as u32, (y as u64 * h as u64 / k.height as u64) as u32);
    let around = (v.saturating_sub(1)..=(v + 1).min(h - 1))
        .flat_map(|v| (u.saturating_sub(1)..=(u + 1).min(w - 1)).map(move |u| (u, v)));
    around.map(|(u, v)| depth.get_pixel(u, v)[0]).any(|observed| observed > 0.0 && observed < z - OCCLUDER_MARGIN_M)
}

/// Depth images kept by [`keep_depths`], by frame id; the source fills it, the scorer reads it.
pub type KeptDepths = Arc<Mutex<HashMap<String, Arc<DepthImage>>>>;

/// `inner`'s frames, passed on unchanged, while a small copy of the depth of frames with a ground-truth pose is
/// kept in the returned map, so that a replay can score its reconstruction against what the sequence really
/// saw: of every such frame in a sequence of up to [`MAX_VIEWS`] frames, of evenly spread ones in a longer one.
pub fn keep_depths(inner: Box<dyn FrameSource>) -> (impl FrameSource, KeptDepths) {
    let kept = KeptDepths::default();
    let stride = inner.len().map_or(1, |n| n.div_ceil(MAX_VIEWS).max(1));
    let mut annotated = 0usize;
    let map = kept.clone();
    let source = EachFrame::new(inner, move |frame: &mut RgbdFrame| {
        if frame.gt_pose.is_some() {
            if annotated.is_multiple_of(stride) {
                map.lock().unwrap_or_else(|e| e.into_inner()).insert(frame.id.clone(), Arc::new(small_depth(frame)));
            }
            annotated += 1;
        }
    });
    (source, kept)
}

/// `frame`'s depth at 1/[`KEPT_DEPTH_FACTOR`] of its size, nearest samples.
fn small_depth(frame: &RgbdFrame) -> DepthImage {
    let (w, h) = frame.depth_m.dimensions();
    let (sw, sh) = (w.div_ceil(KEPT_DEPTH_FACTOR), h.div_ceil(KEPT_DEPTH_FACTOR));
    DepthImage::from_fn(sw, sh, |u, v| *frame.depth_m.get_pixel((u * w / sw).min(w - 1), (v * h / sh).min(h - 1)))
}

#[cfg(test)]
mod tests {
    use nalgebra::{Translation3, UnitQuaternion, Vector3};

    use super::*;

    fn camera() -> Intrinsics {
        Intrinsics { width: 160, height: 120, fx: 150.0, fy: 150.0, cx: 80.0, cy: 60.0 }
    }

    fn view(pose: Pose, depth: Option<DepthImage>) -> View {
        View { intrinsics: camera(), pose, depth: depth.map(Arc::new) }
    }

    /// A 6 cm cube seen head-on from +z shows its front face only; from the front and the back, both.
    #[test]
    fn a_cube_seen_from_one_side_shows_that_face_only() {
        let mut cube = Mesh::default();
        cube.add_box(Vector3::zeros(), Vector3::new(0.03, 0.03, 0.03), [0; 6]);
        let front = Pose::from_parts(
            Translation3::new(0.0, 0.0, 0.3),
            UnitQuaternion::from_axis_angle(&Vector3::x_axis(), std::f64::consts::PI),
        );
        let seen = visible_surface(&cube, &[view(front, None)], 6000, 1);
        // The face towards the camera is z = +0.03 in the object frame (turned by 180° about x).
        let on_front = seen.iter().filter(|p| (p.z - 0.03).abs() < 1e-6).count();
        // Besides the face, a rim of the four side faces no deeper than the margin, 1.5 mm of 60: up to 100.
        assert!(
            on_front > 950 && seen.len() < 1150,
            "{} of 6000 points seen, {on_front} on the front face of 1000",
            seen.len()
        );

        let back = Pose::from_parts(Translation3::new(0.0, 0.0, 0.3), UnitQuaternion::identity());
        let both = visible_surface(&cube, &[view(front, None), view(back, None)], 6000, 1);
        assert!(both.len() > 1900 && both.len() < 2300, "{} of 6000 points seen, two faces are 2000", both.len());

        // A hand 5 cm in front of the right half of the image (depth 0.22 m; the face is at 0.27 m; depth
        // kept at half size) hides the right half of the front face, and a strip a kept pixel wide along its
        // edge: 2 of the face's 33 pixels. Depth missing there (0) hides nothing.
        let hand = DepthImage::from_fn(80, 60, |x, _| image::Luma([if x >= 40 { 0.22 } else { 0.5 }]));
        let half = visible_surface(&cube, &[view(front, Some(hand))], 6000, 1);
        assert!(
            half.len() > 380 && half.len() < 560,
            "{} of 6000 points seen, half a face less a strip is 440",
            half.len()
        );
        let holes = DepthImage::from_fn(80, 60, |_, _| image::Luma([0.0]));
        assert_eq!(visible_surface(&cube, &[view(front, Some(holes))], 6000, 1).len(), seen.len());
    }

    /// A 250-frame sequence keeps every third frame's depth, at half size, and passes every frame on.
    #[test]
    fn kept_depths_are_at_most_max_views_frames_at_half_size() {
        use crate::source::synthetic::{MotionKind, ObjectKind, SequenceSpec, SyntheticSource};
        let spec = SequenceSpec {
            object: ObjectKind::Mug,
            motion: MotionKind::Robot,
            frames: 250,
            width: 32,
            height: 24,
            seed: 0,
        };
        let (mut source, kept) = keep_depths(Box::new(SyntheticSource::new(spec)));
        let mut ids = Vec::new();
        while let Some(frame) = source.next_frame().unwrap() {
            ids.push(frame.id);
        }
        assert_eq!(ids.len(), 250);
        let kept = kept.lock().unwrap();
        assert_eq!(kept.len(), 84, "250 frames, every third kept");
        assert!(ids.iter().step_by(3).all(|id| kept.get(id).is_some_and(|d| d.dimensions() == (16, 12))));
    }
}
