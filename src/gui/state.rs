//! The GUI's logic, kept out of the drawing code so it can be unit-tested: splat colour modes, the orbit
//! camera, picking a splat under the cursor, the pruning preview, plot series and the wording of keyframe
//! drops.

use nalgebra::{Point3, Translation3, UnitQuaternion, Vector3};

use crate::frame::{Intrinsics, Pose};
use crate::splats::{SH_C0, Splats};
use crate::tracker::keyframes::MadVerdict;

/// What the inspector colours splats by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    Rgb,
    Opacity,
    Normal,
    /// Older surfels (seeded earlier) blue, newer red.
    Age,
    /// The keyframe that seeded each surfel, one colour per keyframe.
    Keyframe,
}

impl ColorMode {
    /// Every mode, in menu order.
    pub const ALL: [ColorMode; 5] =
        [ColorMode::Rgb, ColorMode::Opacity, ColorMode::Normal, ColorMode::Age, ColorMode::Keyframe];

    /// Menu label.
    pub fn label(self) -> &'static str {
        match self {
            ColorMode::Rgb => "RGB",
            ColorMode::Opacity => "opacity",
            ColorMode::Normal => "normal",
            ColorMode::Age => "age",
            ColorMode::Keyframe => "keyframe",
        }
    }
}

/// Blue (0) through green to red (1), as the GPU views use.
pub fn heat(t: f32) -> [f32; 3] {
    let x = t.clamp(0.0, 1.0);
    [1.5 - (4.0 * x - 3.0).abs(), 1.5 - (4.0 * x - 2.0).abs(), 1.5 - (4.0 * x - 1.0).abs()].map(|c| c.clamp(0.0, 1.0))
}

/// A distinct colour per keyframe seq (golden-angle hues).
pub fn keyframe_color(seq: u64) -> [f32; 3] {
    let hue = (seq as f32 * 0.618_034).fract() * 6.0;
    let x = 1.0 - (hue % 2.0 - 1.0).abs();
    let (r, g, b) = match hue as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    [0.2 + 0.8 * r, 0.2 + 0.8 * g, 0.2 + 0.8 * b]
}

/// Colour used for surfels the pruning preview would remove.
pub const PRUNE_PREVIEW: [f32; 3] = [1.0, 0.0, 1.0];

/// Per-surfel display colours for `mode`; surfels with opacity below `prune_below` (if set) in magenta.
pub fn splat_colors(model: &Splats, origin: &[u64], mode: ColorMode, prune_below: Option<f32>) -> Vec<[f32; 3]> {
    let n = model.len();
    (0..n)
        .map(|i| {
            if prune_below.is_some_and(|t| model.opacity(i) < t) {
                return PRUNE_PREVIEW;
            }
            match mode {
                ColorMode::Rgb => model.base_color(i).map(|c| c.min(1.0)),
                ColorMode::Opacity => heat(model.opacity(i)),
                ColorMode::Normal => model.normal(i).map(|c| 0.5 + 0.5 * c).into(),
                ColorMode::Age => heat(i as f32 / n.saturating_sub(1).max(1) as f32),
                ColorMode::Keyframe => origin.get(i).map(|&s| keyframe_color(s)).unwrap_or([0.5; 3]),
            }
        })
        .collect()
}

/// A degree-0 copy of `model` showing `colors` (opacity raised so faint surfels stay visible in the
/// diagnostic modes).
pub fn recolored(model: &Splats, colors: &[[f32; 3]], lift_opacity: bool) -> Splats {
    let mut out = Splats {
        means: model.means.clone(),
        quats: model.quats.clone(),
        log_scales: model.log_scales.clone(),
        opacity_logits: model.opacity_logits.clone(),
        sh_degree: 0,
        sh: colors.iter().map(|c| c.map(|v| (v - 0.5) / SH_C0)).collect(),
    };
    if lift_opacity {
        out.opacity_logits.iter_mut().for_each(|l| *l = l.max(1.0));
    }
    out
}

/// Number of surfels below an opacity threshold (what pruning at it would remove).
pub fn count_below(model: &Splats, threshold: f32) -> usize {
    (0..model.len()).filter(|&i| model.opacity(i) < threshold).count()
}

/// An orbit camera around a target point of the object frame: drag to orbit, pan, scroll to zoom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrbitCamera {
    pub yaw: f64,
    pub pitch: f64,
    pub distance: f64,
    pub target: Vector3<f64>,
}

impl Default for OrbitCamera {
    fn default() -> Self {
        Self { yaw: 0.0, pitch: 0.3, distance: 0.5, target: Vector3::zeros() }
    }
}

impl OrbitCamera {
    /// Object-to-camera pose (OpenCV axes: the camera looks along +z, y down).
    pub fn pose(&self) -> Pose {
        let rotation = UnitQuaternion::from_euler_angles(self.pitch, 0.0, 0.0)
            * UnitQuaternion::from_euler_angles(0.0, self.yaw, 0.0);
        let t = Vector3::new(0.0, 0.0, self.distance) - rotation * self.target;
        Pose::from_parts(Translation3::from(t), rotation)
    }

    /// Orbits by a mouse drag of (dx, dy) pixels.
    pub fn orbit(&mut self, dx: f64, dy: f64) {
        self.yaw -= dx * 0.01;
        self.pitch = (self.pitch - dy * 0.01).clamp(-1.5, 1.5);
    }

    /// Moves the target across the view by a drag of (dx, dy) pixels.
    pub fn pan(&mut self, dx: f64, dy: f64) {
        let r = self.pose().rotation.inverse();
        let scale = self.distance * 0.002;
        self.target -= r * Vector3::new(dx * scale, dy * scale, 0.0);
    }

    /// Zooms by a scroll of `amount` (positive: closer).
    pub fn zoom(&mut self, amount: f64) {
        self.distance = (self.distance * (-amount * 0.002).exp()).clamp(0.02, 10.0);
    }

    /// Frames `points` (object frame): target at their centre, distance to see them all.
    pub fn frame(&mut self, points: &[[f32; 3]]) {
        if points.is_empty() {
            return;
        }
        let centre = points.iter().map(|p| Vector3::from(*p).cast::<f64>()).sum::<Vector3<f64>>() / points.len() as f64;
        let radius = points.iter().map(|p| (Vector3::from(*p).cast::<f64>() - centre).norm()).fold(0.0, f64::max);
        self.target = centre;
        self.distance = (radius * 3.0).max(0.05);
    }
}

/// Pixel position (x, y, with pixel centres at +0.5) and depth of an object-frame point, None behind the camera.
pub fn project(pose: &Pose, k: &Intrinsics, p: &Vector3<f64>) -> Option<(f64, f64, f64)> {
    let c = pose * Point3::from(*p);
    (c.z > 1e-3).then(|| (k.fx * c.x / c.z + k.cx, k.fy * c.y / c.z + k.cy, c.z))
}

/// The surfel whose centre projects within `radius_px` of `click`, the nearest to the camera among those.
pub fn pick_splat(model: &Splats, pose: &Pose, k: &Intrinsics, click: (f64, f64), radius_px: f64) -> Option<usize> {
    (0..model.len())
        .filter_map(|i| {
            let (x, y, z) = project(pose, k, &Vector3::from(model.means[i]).cast())?;
            let d = ((x - click.0).powi(2) + (y - click.1).powi(2)).sqrt();
            (d <= radius_px).then_some((i, z))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// One line per parameter of surfel `i`, for the inspector's info box.
pub fn describe_splat(model: &Splats, i: usize) -> String {
    let m = model.means[i];
    let s = model.log_scales[i].map(f32::exp);
    let n = model.normal(i);
    let c = model.base_color(i);
    format!(
        "surfel {i}\ncentre  {:.4} {:.4} {:.4} m\nscales  {:.2} × {:.2} mm\nnormal  {:.2} {:.2} {:.2}\nopacity {:.3}\ncolour  {:.2} {:.2} {:.2}",
        m[0],
        m[1],
        m[2],
        s[0] * 1e3,
        s[1] * 1e3,
        n.x,
        n.y,
        n.z,
        model.opacity(i),
        c[0],
        c[1],
        c[2]
    )
}

/// Why the MAD rule dropped a keyframe, in words.
pub fn drop_reason(seq: u64, v: &MadVerdict, factor: f32) -> String {
    format!(
        "keyframe {seq} dropped: loss {:.4} is {:.1} MADs above the median {:.4} (MAD {:.4}; the rule drops beyond {factor})",
        v.loss,
        (v.loss - v.median) / v.mad.max(1e-12),
        v.median,
        v.mad
    )
}

/// A plot line that keeps its last `capacity` points.
#[derive(Debug, Clone)]
pub struct Series {
    pub points: std::collections::VecDeque<[f64; 2]>,
    capacity: usize,
}

impl Series {
    /// An empty series.
    pub fn new(capacity: usize) -> Self {
        Self { points: Default::default(), capacity }
    }

    /// Appends (x, y), dropping the oldest point when full.
    pub fn push(&mut self, x: f64, y: f64) {
        if self.points.len() == self.capacity {
            self.points.pop_front();
        }
        self.points.push_back([x, y]);
    }

    /// The points as a vector (for the plot).
    pub fn to_vec(&self) -> Vec<[f64; 2]> {
        self.points.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::keyframes::{BIN_COUNT, anchors};

    fn model() -> Splats {
        let mut s = Splats::default();
        s.push([0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.01, 0.01], 0.9, [0.2, 0.4, 0.6]);
        s.push([0.05, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.01, 0.01], 0.1, [1.0, 0.0, 0.0]);
        s.push([0.0, 0.0, -0.05], [1.0, 0.0, 0.0, 0.0], [0.01, 0.01], 0.5, [0.0, 1.0, 0.0]);
        s
    }

    #[test]
    fn colour_modes_and_the_pruning_preview() {
        let m = model();
        let rgb = splat_colors(&m, &[], ColorMode::Rgb, None);
        assert!((rgb[0][1] - 0.4).abs() < 1e-5);
        let opacity = splat_colors(&m, &[], ColorMode::Opacity, None);
        assert!(opacity[0][0] > opacity[1][0] && opacity[1][2] > opacity[0][2], "opaque red, faint blue");
        let normal = splat_colors(&m, &[], ColorMode::Normal, None);
        assert_eq!(normal[0], [0.5, 0.5, 1.0], "+z normal");
        let age = splat_colors(&m, &[], ColorMode::Age, None);
        assert_eq!((age[0], age[2]), (heat(0.0), heat(1.0)));
        let by_kf = splat_colors(&m, &[3, 3, 7], ColorMode::Keyframe, None);
        assert!(by_kf[0] == by_kf[1] && by_kf[0] != by_kf[2]);
        let preview = splat_colors(&m, &[], ColorMode::Rgb, Some(0.3));
        assert_eq!(preview[1], PRUNE_PREVIEW);
        assert_ne!(preview[0], PRUNE_PREVIEW);
        assert_eq!(count_below(&m, 0.3), 1);
        assert_eq!(count_below(&m, 0.95), 3);
        let shown = recolored(&m, &rgb, true);
        assert!((shown.base_color(2)[1] - 0.4).abs() > 0.0 && (shown.base_color(0)[2] - 0.6).abs() < 1e-5);
        assert!(shown.opacity(1) > 0.7, "faint surfels are lifted for display");
    }

    #[test]
    fn orbit_camera_looks_at_its_target_and_picking_finds_the_nearest_surfel() {
        let k = Intrinsics::from_fov(200, 150, 60.0);
        let mut cam = OrbitCamera { yaw: 0.7, pitch: -0.4, distance: 0.3, target: Vector3::new(0.01, 0.02, 0.03) };
        let (x, y, z) = project(&cam.pose(), &k, &cam.target).unwrap();
        assert!((x - k.cx).abs() < 1e-9 && (y - k.cy).abs() < 1e-9 && (z - 0.3).abs() < 1e-9);
        cam.zoom(100.0);
        assert!(cam.distance < 0.3);
        cam.frame(&model().means);
        assert!((cam.target - Vector3::new(0.05 / 3.0, 0.0, -0.05 / 3.0)).norm() < 1e-6);

        let m = model();
        let front = OrbitCamera { yaw: 0.0, pitch: 0.0, distance: 0.3, target: Vector3::zeros() };
        // Surfels 0 and 2 lie on the optical axis; 0 is nearer (z = 0 in front of z = -0.05... the camera looks
        // along +z from z = -0.3, so surfel 2 at z = -0.05 is nearer).
        let hit = pick_splat(&m, &front.pose(), &k, (k.cx, k.cy), 3.0);
        assert_eq!(hit, Some(2));
        let (x1, y1, _) = project(&front.pose(), &k, &Vector3::new(0.05, 0.0, 0.0)).unwrap();
        assert_eq!(pick_splat(&m, &front.pose(), &k, (x1 + 1.0, y1), 3.0), Some(1));
        assert_eq!(pick_splat(&m, &front.pose(), &k, (5.0, 5.0), 3.0), None);
        assert!(describe_splat(&m, 1).contains("opacity 0.100"));
    }

    #[test]
    fn series_keep_their_last_points_and_drop_reasons_name_the_numbers() {
        let mut s = Series::new(3);
        (0..5).for_each(|i| s.push(i as f64, 2.0 * i as f64));
        assert_eq!(s.to_vec(), vec![[2.0, 4.0], [3.0, 6.0], [4.0, 8.0]]);
        let v = MadVerdict { index: 4, loss: 3.0, median: 1.0, mad: 0.5 };
        let text = drop_reason(9, &v, 3.0);
        assert!(text.contains("keyframe 9") && text.contains("4.0 MADs") && text.contains("beyond 3"), "{text}");
        assert_eq!(anchors().len(), BIN_COUNT);
        assert_eq!(keyframe_color(5), keyframe_color(5));
    }
}
