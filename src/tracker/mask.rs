//! Object masks for frames whose source has none: the pixels whose depth lies on the model at the predicted
//! pose and nearer the model than any surface known not to be the object. A hand or gripper in front of the
//! object is off the model's surface and so left out; one touching it is left out by what is known of it.

use std::collections::HashSet;

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use nalgebra::{Point3, Vector3};
use rayon::prelude::*;

use super::model_index::ModelIndex;
use super::planes::{Plane, dominant_planes};
use super::silhouette::MaskDistance;
use crate::config::TrackingConfig;
use crate::frame::{DepthImage, Intrinsics, Mask, Pose, RgbdFrame};

/// Pixels are searched in the model's projected bounding box grown by this margin (pixels) at least.
const BOX_MARGIN_PX: f64 = 12.0;

/// Side (pixels) of the cells of the coarse depth image the model is drawn into to find occluders: a few
/// surfel spacings, so that the drawn points leave no gaps on the model's surfaces.
const DEPTH_CELL_PX: u32 = 4;

/// Model surfels count as facing the camera where the cosine of their normal with the view ray exceeds this.
const FACING_COS: f64 = 0.2;

/// Object-frame points seen on surfaces that are not the object. The object is rigid, so where another
/// surface was once seen (in the object's frame) the object's surface never is: a hand or gripper beside the
/// object in the first frame, outside the mask the user gave, and whatever was later seen in front of the
/// model. Without these, the propagated mask takes in the fingers where they touch the object, keyframes seed
/// them into the model, and the model then holds them in the mask (mug held by the robot, seed 0, first mask
/// only: by frame 35 half of the mask's pixels were the gripper's).
///
/// Besides, the first frame's depth outside the mask: where a camera stands still (the datasets), a pixel
/// showing that depth again shows the same static surface, such as the table a held box is lowered towards;
/// and so does one on that depth's large planes, such as the table the object uncovers as it moves.
#[derive(Default)]
pub struct NonObject {
    /// The occupied cells of a grid of `non_object_cell_m`: one point is kept in each.
    cells: HashSet<[i32; 3]>,
    points: Vec<[f64; 3]>,
    tree: Option<ImmutableKdTree<f64, 3>>,
    /// The first frame's depth outside its mask (0 inside it and near its edge, and where depth is missing).
    first_depth: Option<DepthImage>,
    /// The large planes of `first_depth` (camera frame).
    planes: Vec<Plane>,
    /// The pixels of `first_depth` the planes were sought among, which tell whether the camera has moved.
    static_samples: Vec<(u32, u32)>,
    /// Depths within this of `first_depth` or of a plane are the static scene (metres).
    static_tolerance_m: f64,
}

/// The first frame's static depth is sampled for planes every this many pixels in x and y.
const PLANE_SAMPLE_PX: usize = 8;

impl NonObject {
    /// The surfaces beside the object in the first frame: depth outside `mask` (further than
    /// `non_object_border_px` from it, since a mask's edge is uncertain) within `non_object_reach_m` of the
    /// model seeded from it. All of that depth, and its large planes, make the static scene.
    pub fn beside_first_mask(
        frame: &RgbdFrame,
        mask: &Mask,
        pose: &Pose,
        model: &ModelIndex,
        t: &TrackingConfig,
    ) -> Self {
        let outside = MaskDistance::new(mask);
        let border = t.non_object_border_px;
        let beside = |x: u32, y: u32| outside.at(x as usize, y as usize) > border;
        let first_depth = DepthImage::from_fn(frame.intrinsics.width, frame.intrinsics.height, |x, y| {
            image::Luma([if beside(x, y) { frame.depth_m.get_pixel(x, y)[0] } else { 0.0 }])
        });
        let static_tolerance_m = t.static_scene_tolerance_m as f64;
        let k = frame.intrinsics;
        let static_samples: Vec<(u32, u32)> = (0..k.height)
            .step_by(PLANE_SAMPLE_PX)
            .flat_map(|y| (0..k.width).step_by(PLANE_SAMPLE_PX).map(move |x| (x, y)))
            .filter(|&(x, y)| beside(x, y) && frame.depth_m.get_pixel(x, y)[0] > 0.0)
            .collect();
        let static_points: Vec<Vector3<f64>> =
            static_samples.iter().filter_map(|&(x, y)| frame.back_project(x, y)).collect();
        let planes = dominant_planes(
            &static_points,
            static_tolerance_m,
            t.static_plane_min_share as f64,
            t.static_planes as usize,
        );
        let first_depth = Some(first_depth);
        let mut found = Self { first_depth, planes, static_samples, static_tolerance_m, ..Self::default() };
        found.add(surfaces_near_model(frame, model, pose, t, beside), t);
        found
    }

    /// Adds the surfaces seen more than `occluder_front_m` in front of the model posed at `pose` (and within
    /// `non_object_reach_m` of it): they hide the object, so they are not the object. Only where the model
    /// faces the camera: behind a surface facing away it may lack the side in front (not yet seen). Nor does it
    /// find what covered the object in the first frame, where the model has no surface behind it.
    pub fn add_occluders(&mut self, frame: &RgbdFrame, model: &ModelIndex, pose: &Pose, t: &TrackingConfig) {
        let k = &frame.intrinsics;
        let (cw, ch) = (k.width.div_ceil(DEPTH_CELL_PX), k.height.div_ceil(DEPTH_CELL_PX));
        // Per cell: the depth of the nearest surfel, and whether it faces the camera. Behind a surfel facing
        // away the model may lack the surface in front (a side not yet seen), so nothing there is an occluder.
        let mut nearest = vec![(f64::INFINITY, false); (cw * ch) as usize];
        for (p, n) in model.points.iter().zip(&model.normals) {
            let c = pose * Point3::from(*p);
            let Some((u, v)) = project(k, &c) else { continue };
            if u >= 0.0 && v >= 0.0 && u < k.width as f64 && v < k.height as f64 {
                let cell = &mut nearest[(v as u32 / DEPTH_CELL_PX * cw + u as u32 / DEPTH_CELL_PX) as usize];
                if c.z < cell.0 {
                    *cell = (c.z, (pose.rotation * n).dot(&c.coords) < -FACING_COS * c.coords.norm());
                }
            }
        }
        let front = t.occluder_front_m as f64;
        let in_front = |x: u32, y: u32| {
            let (model_depth, facing) = nearest[(y / DEPTH_CELL_PX * cw + x / DEPTH_CELL_PX) as usize];
            facing && (frame.depth_m.get_pixel(x, y)[0] as f64) < model_depth - front
        };
        let points = surfaces_near_model(frame, model, pose, t, in_front);
        self.add(points, t);
    }

    fn add(&mut self, points: Vec<Vector3<f64>>, t: &TrackingConfig) {
        let cell = t.non_object_cell_m as f64;
        let before = self.points.len();
        for p in points {
            if self.cells.insert([
                (p.x / cell).floor() as i32,
                (p.y / cell).floor() as i32,
                (p.z / cell).floor() as i32,
            ]) {
                self.points.push([p.x, p.y, p.z]);
            }
        }
        if self.points.len() > before {
            self.tree = Some(ImmutableKdTree::new_from_slice(&self.points));
        }
    }

    /// Forgets the first frame's static scene once fewer than `min_share` of its sampled pixels (with depth
    /// now) show its depth again: the camera has moved, and what was static no longer is where it was.
    pub fn forget_scene_if_camera_moved(&mut self, frame: &RgbdFrame, min_share: f64) {
        let Some(first) = &self.first_depth else { return };
        let (mut seen, mut same) = (0usize, 0usize);
        for &(x, y) in &self.static_samples {
            let now = frame.depth_m.get_pixel(x, y)[0] as f64;
            if now > 0.0 {
                seen += 1;
                same += ((now - first.get_pixel(x, y)[0] as f64).abs() < self.static_tolerance_m) as usize;
            }
        }
        if seen > 0 && (same as f64) < min_share * seen as f64 {
            tracing::info!(frame = %frame.id, "the camera has moved: the first frame's static scene is forgotten");
            (self.first_depth, self.planes, self.static_samples) = (None, Vec::new(), Vec::new());
        }
    }

    /// Whether camera-frame point `p`, seen at pixel (x, y), shows the static scene: the depth the first frame
    /// saw there outside the object, or one of its large planes.
    fn is_static_scene(&self, x: u32, y: u32, p: &Vector3<f64>) -> bool {
        let tolerance = self.static_tolerance_m;
        let seen_before = self.first_depth.as_ref().is_some_and(|first| {
            let seen = first.get_pixel(x, y)[0] as f64;
            seen > 0.0 && (p.z - seen).abs() < tolerance
        });
        seen_before || self.planes.iter().any(|plane| plane.distance(p) < tolerance)
    }

    /// Distance from object-frame point `p` to the nearest known non-object surface (infinite when none is).
    fn distance(&self, p: &Vector3<f64>) -> f64 {
        self.tree
            .as_ref()
            .map_or(f64::INFINITY, |tree| tree.nearest_one::<SquaredEuclidean>(&[p.x, p.y, p.z]).distance.sqrt())
    }
}

/// The object-frame points of every second pixel in the model's grown bounding box where `pick` holds and
/// the depth lies within `non_object_reach_m` of the model: only near the model can a surface be mistaken
/// for the object's.
fn surfaces_near_model(
    frame: &RgbdFrame,
    model: &ModelIndex,
    pose: &Pose,
    t: &TrackingConfig,
    pick: impl Fn(u32, u32) -> bool,
) -> Vec<Vector3<f64>> {
    let reach = t.non_object_reach_m as f64;
    let Some((xa, ya, xb, yb)) = model_box(frame, model, pose, reach) else { return Vec::new() };
    let to_object = pose.inverse();
    let mut points = Vec::new();
    for y in (ya..yb).step_by(2) {
        for x in (xa..xb).step_by(2) {
            if !pick(x, y) {
                continue;
            }
            let Some(p) = frame.back_project(x, y) else { continue };
            let q = (to_object * Point3::from(p)).coords;
            if model.covers(&q, reach) {
                points.push(q);
            }
        }
    }
    points
}

/// Pixel coordinates of camera-frame point `c`, None behind (or at) the camera.
fn project(k: &Intrinsics, c: &Point3<f64>) -> Option<(f64, f64)> {
    (c.z > 1e-3).then(|| (k.fx * c.x / c.z + k.cx, k.fy * c.y / c.z + k.cy))
}

/// The model's projected bounding box at `pose`, grown by what `grow_m` spans at the model's nearest depth
/// (at least [`BOX_MARGIN_PX`]) and clipped to the image: first column and row, and one past the last. None
/// when the model is behind the camera.
fn model_box(frame: &RgbdFrame, model: &ModelIndex, pose: &Pose, grow_m: f64) -> Option<(u32, u32, u32, u32)> {
    let k = &frame.intrinsics;
    let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut near = f64::INFINITY;
    for p in &model.points {
        let c = pose * Point3::from(*p);
        let Some((u, v)) = project(k, &c) else { continue };
        (x0, y0, x1, y1) = (x0.min(u), y0.min(v), x1.max(u), y1.max(v));
        near = near.min(c.z);
    }
    let margin = (grow_m * k.fx.max(k.fy) / near).max(BOX_MARGIN_PX);
    let clamp = |v: f64, hi: u32| v.clamp(0.0, hi as f64) as u32;
    x0.is_finite().then(|| {
        (
            clamp(x0 - margin, k.width),
            clamp(y0 - margin, k.height),
            clamp(x1 + margin, k.width),
            clamp(y1 + margin, k.height),
        )
    })
}

/// The mask of pixels within `max_distance_m` of the model posed at `pose`, at most `max_outside_m` outside
/// the nearest surfel (along its normal), nearer the model than any point of `non_object` and not showing the
/// first frame's static scene. Sides not yet seen turn away from the seen ones, inwards, where the object is
/// convex; a finger hovering over a face is outside it.
pub fn propagate_mask(
    frame: &RgbdFrame,
    model: &ModelIndex,
    non_object: &NonObject,
    pose: &Pose,
    max_distance_m: f64,
    max_outside_m: f64,
) -> Mask {
    let k = &frame.intrinsics;
    let mut mask = Mask::new(k.width, k.height);
    let Some((xa, ya, xb, yb)) = model_box(frame, model, pose, max_distance_m) else { return mask };
    let to_object = pose.inverse();
    let rows = mask.par_chunks_mut(k.width as usize).enumerate().skip(ya as usize).take((yb - ya) as usize);
    rows.for_each(|(y, row)| {
        for x in xa..xb {
            let Some(p) = frame.back_project(x, y as u32) else { continue };
            if non_object.is_static_scene(x, y as u32, &p) {
                continue;
            }
            let q = (to_object * Point3::from(p)).coords;
            let m = model.nearest(&q).index;
            let offset = q - model.points[m];
            let on_model = offset.norm();
            let outside = offset.dot(&model.normals[m]);
            if on_model < max_distance_m && outside < max_outside_m && on_model < non_object.distance(&q) {
                row[x as usize] = 255;
            }
        }
    });
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::fixtures::plate;
    use crate::tracker::geometry::mask_area;

    /// A 160×120 frame of the plate 0.5 m ahead, with a finger 2 cm in front of it over columns 60..70, and a
    /// wall 20 cm behind.
    fn frame(finger: bool) -> RgbdFrame {
        frame_of(finger, 0.0, 0.7)
    }

    /// The plate moved `plate_x_m` sideways, before a wall at depth `wall_m`.
    fn frame_of(finger: bool, plate_x_m: f64, wall_m: f32) -> RgbdFrame {
        let k = Intrinsics::from_fov(160, 120, 60.0);
        let half_plate_px = 0.06 * k.fx / 0.5;
        let plate_cx = k.cx + plate_x_m * k.fx / 0.5;
        let depth = DepthImage::from_fn(k.width, k.height, |x, y| {
            let on_plate =
                ((x as f64 + 0.5 - plate_cx).abs() < half_plate_px) && ((y as f64 + 0.5 - k.cy).abs() < half_plate_px);
            let z = if finger && (60..70).contains(&x) {
                0.48
            } else if on_plate {
                0.5
            } else {
                wall_m
            };
            image::Luma([z])
        });
        RgbdFrame {
            id: "test".into(),
            timestamp_s: 0.0,
            intrinsics: k,
            rgb: image::RgbImage::new(k.width, k.height),
            depth_m: depth,
            object_mask: None,
            occluder_mask: None,
            gt_pose: None,
        }
    }

    fn ahead() -> Pose {
        Pose::translation(0.0, 0.0, 0.5)
    }

    fn count(mask: &Mask, columns: std::ops::Range<u32>) -> usize {
        mask.enumerate_pixels().filter(|(x, _, p)| p[0] > 0 && columns.contains(x)).count()
    }

    #[test]
    fn a_finger_in_front_of_the_model_is_remembered_and_kept_out_of_the_mask() {
        let (model, t, view) = (plate(-1.0), TrackingConfig::default(), frame(true));
        let open = propagate_mask(&view, &model, &NonObject::default(), &ahead(), 0.04, 0.04);
        assert!(count(&open, 60..70) > 0, "within 4 cm of the plate, the finger passes the distance test alone");
        let mut non_object = NonObject::default();
        non_object.add_occluders(&view, &model, &ahead(), &t);
        assert!(!non_object.points.is_empty(), "the finger is 2 cm in front of surfels facing the camera");
        assert!(non_object.points.iter().all(|p| p[2] < -0.015), "only the finger: {:?}", non_object.points[0]);
        let mask = propagate_mask(&view, &model, &non_object, &ahead(), 0.04, 0.04);
        assert_eq!(count(&mask, 60..70), 0, "the finger is nearer what is known of it than the plate");
        assert_eq!(count(&mask, 0..60), count(&open, 0..60), "the plate beside it stays");
    }

    #[test]
    fn nothing_in_front_of_surfels_facing_away_counts_as_an_occluder() {
        // The model holds only the far side of something: what is seen in front may be its unseen near side.
        let mut non_object = NonObject::default();
        non_object.add_occluders(&frame(true), &plate(1.0), &ahead(), &TrackingConfig::default());
        assert!(non_object.points.is_empty());
    }

    #[test]
    fn the_first_frame_remembers_what_lies_beside_its_mask_but_not_at_the_mask_edge() {
        let (model, t, view) = (plate(-1.0), TrackingConfig::default(), frame(false));
        // The mask leaves out the plate's right edge (columns 90 on), as if a gripper lay there at its depth.
        let mut mask = propagate_mask(&view, &model, &NonObject::default(), &ahead(), 0.01, 0.01);
        mask.enumerate_pixels_mut().filter(|(x, _, _)| *x >= 90).for_each(|(_, _, p)| p[0] = 0);
        let beside = NonObject::beside_first_mask(&view, &mask, &ahead(), &model, &t);
        let first_x = beside.points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        let edge_x = (90.0 - view.intrinsics.cx) / view.intrinsics.fx * 0.5;
        let border_m = t.non_object_border_px as f64 / view.intrinsics.fx * 0.5;
        assert!(first_x > edge_x + border_m, "nothing within the border: first at {first_x}, edge {edge_x}");
        assert!(first_x < edge_x + 2.0 * border_m, "but just beyond it: first at {first_x}, edge {edge_x}");
        let again = propagate_mask(&view, &model, &beside, &ahead(), 0.01, 0.01);
        assert_eq!(count(&again, 0..88), count(&mask, 0..88), "the mask's own pixels stay");
        assert_eq!(count(&again, 94..160), 0, "beyond the border, the same depth again is the static scene");
        let k = view.intrinsics;
        let at = |x: u32, z: f64| Vector3::new((x as f64 + 0.5 - k.cx) / k.fx * z, (60.5 - k.cy) / k.fy * z, z);
        assert!(beside.is_static_scene(95, 60, &at(95, 0.503)) && !beside.is_static_scene(95, 60, &at(95, 0.49)));
        assert!(!beside.is_static_scene(70, 60, &at(70, 0.5)), "inside the first mask nothing is known of it");
        assert!(beside.is_static_scene(70, 60, &at(70, 0.7)), "but the wall's plane runs on behind the plate");
    }

    #[test]
    fn the_wall_a_moving_object_uncovers_is_static_scene() {
        // The wall is 8 mm behind the plate, so beyond the plate's edge it lies within the mask distance of it.
        let (model, t) = (plate(-1.0), TrackingConfig::default());
        let first = frame_of(false, 0.0, 0.508);
        let mask = propagate_mask(&first, &model, &NonObject::default(), &ahead(), 0.01, 0.003);
        let beside = NonObject::beside_first_mask(&first, &mask, &ahead(), &model, &t);
        assert_eq!(beside.planes.len(), 1, "the wall: {:?}", beside.planes);
        let mut without_planes = NonObject::beside_first_mask(&first, &mask, &ahead(), &model, &t);
        without_planes.planes.clear();
        // The plate moves 3 cm to the left and uncovers the wall where the first mask lay.
        let moved = Pose::translation(-0.03, 0.0, 0.5);
        let later = frame_of(false, -0.03, 0.508);
        let wall = |m: &Mask| {
            m.enumerate_pixels().filter(|&(x, y, p)| p[0] > 0 && later.depth_m.get_pixel(x, y)[0] > 0.505).count()
        };
        let plate = |m: &Mask| mask_area(m) - wall(m);
        let open = propagate_mask(&later, &model, &without_planes, &moved, 0.01, 0.003);
        assert!(wall(&open) > 20, "without the plane the uncovered wall joins the mask: {}", wall(&open));
        let closed = propagate_mask(&later, &model, &beside, &moved, 0.01, 0.003);
        assert_eq!(wall(&closed), 0, "the wall's plane keeps it out");
        assert_eq!(plate(&closed), plate(&open), "and only it");
    }

    #[test]
    fn a_camera_that_moves_forgets_the_static_scene() {
        let (model, t) = (plate(-1.0), TrackingConfig::default());
        let first = frame_of(false, 0.0, 0.7);
        let mask = propagate_mask(&first, &model, &NonObject::default(), &ahead(), 0.01, 0.003);
        let mut beside = NonObject::beside_first_mask(&first, &mask, &ahead(), &model, &t);
        let wall = Vector3::new(0.0, 0.0, 0.7);
        let min_share = t.static_scene_min_share as f64;
        beside.forget_scene_if_camera_moved(&frame_of(false, -0.03, 0.7), min_share);
        assert!(beside.is_static_scene(80, 60, &wall), "the object moved, the camera did not");
        // The camera backs off 3 cm: the wall is now at 0.73 m.
        beside.forget_scene_if_camera_moved(&frame_of(false, -0.03, 0.73), min_share);
        assert!(!beside.is_static_scene(80, 60, &wall) && !beside.is_static_scene(0, 0, &wall), "forgotten");
    }
}
