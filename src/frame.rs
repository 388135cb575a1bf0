//! Types every stage shares: RGB-D frames, camera intrinsics and poses.

use nalgebra::{Isometry3, Matrix3, Matrix4, Rotation3, Translation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

/// A rigid transform, object-to-camera unless named otherwise; OpenCV camera axes (x right, y down, z forward),
/// metres. Double precision on the host so long tracks do not accumulate rounding; kernels get `f32`.
pub type Pose = Isometry3<f64>;

/// Pinhole intrinsics of an image, in pixels; the pixel (x, y) covers [x, x+1) × [y, y+1), centre at +0.5.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    pub width: u32,
    pub height: u32,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
}

impl Intrinsics {
    /// A pinhole camera of the given size with a horizontal field of view in degrees and centred principal point.
    pub fn from_fov(width: u32, height: u32, hfov_deg: f64) -> Self {
        let fx = 0.5 * width as f64 / (0.5 * hfov_deg.to_radians()).tan();
        Self { width, height, fx, fy: fx, cx: 0.5 * width as f64, cy: 0.5 * height as f64 }
    }

    /// Number of pixels.
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

/// Depth in metres, 0 where the sensor gave no reading.
pub type DepthImage = image::ImageBuffer<image::Luma<f32>, Vec<f32>>;

/// A binary mask: 255 inside, 0 outside.
pub type Mask = image::GrayImage;

/// One RGB-D frame with whatever the source knows about it.
#[derive(Debug, Clone)]
pub struct RgbdFrame {
    /// The source's name for the frame (file stem, e.g. a 19-digit nanosecond timestamp or `0042`).
    pub id: String,
    /// Seconds since the start of the sequence.
    pub timestamp_s: f64,
    pub intrinsics: Intrinsics,
    pub rgb: image::RgbImage,
    pub depth_m: DepthImage,
    /// The object's visible pixels, where the source has them.
    pub object_mask: Option<Mask>,
    /// Pixels of an occluder in front of the object (a hand, a gripper), where the source has them.
    pub occluder_mask: Option<Mask>,
    /// Ground-truth object-to-camera pose, where annotated.
    pub gt_pose: Option<Pose>,
}

impl RgbdFrame {
    /// The camera-frame point seen at pixel (x, y), None where depth is missing.
    pub fn back_project(&self, x: u32, y: u32) -> Option<Vector3<f64>> {
        let k = &self.intrinsics;
        let d = self.depth_m.get_pixel(x, y)[0] as f64;
        (d.is_finite() && d > 0.0)
            .then(|| Vector3::new((x as f64 + 0.5 - k.cx) / k.fx * d, (y as f64 + 0.5 - k.cy) / k.fy * d, d))
    }

    /// Camera-frame surface normal at (x, y) from depth differences `baseline` pixels either side, facing
    /// the camera; None near the border, where depth is missing, or across a silhouette (a neighbour's
    /// depth differs by more than `max_step_m` per pixel of baseline).
    pub fn depth_normal(&self, x: u32, y: u32, baseline: u32, max_step_m: f64) -> Option<Vector3<f64>> {
        let (w, h) = self.depth_m.dimensions();
        let b = baseline.max(1);
        if x < b || y < b || x + b >= w || y + b >= h {
            return None;
        }
        let c = self.back_project(x, y)?;
        let [l, r, u, d] = [(x - b, y), (x + b, y), (x, y - b), (x, y + b)].map(|(a, e)| self.back_project(a, e));
        let (l, r, u, d) = (l?, r?, u?, d?);
        if [l, r, u, d].iter().any(|p| (p.z - c.z).abs() > max_step_m * b as f64) {
            return None;
        }
        let n = (r - l).cross(&(d - u)).try_normalize(1e-12)?;
        Some(if n.dot(&c) > 0.0 { -n } else { n })
    }
}

/// Reads a 4×4 matrix from whitespace-separated text (16 numbers, row-major).
pub fn parse_matrix4(text: &str) -> Result<Matrix4<f64>, String> {
    let values = parse_numbers(text)?;
    if values.len() != 16 {
        return Err(format!("expected 16 numbers for a 4×4 matrix, found {}", values.len()));
    }
    Ok(Matrix4::from_row_slice(&values))
}

/// Reads a 3×3 matrix from whitespace-separated text (9 numbers, row-major).
pub fn parse_matrix3(text: &str) -> Result<Matrix3<f64>, String> {
    let values = parse_numbers(text)?;
    if values.len() != 9 {
        return Err(format!("expected 9 numbers for a 3×3 matrix, found {}", values.len()));
    }
    Ok(Matrix3::from_row_slice(&values))
}

fn parse_numbers(text: &str) -> Result<Vec<f64>, String> {
    text.split_whitespace()
        .map(|t| t.parse::<f64>().map_err(|_| format!("'{t}' is not a number")))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| if v.iter().all(|x| x.is_finite()) { Ok(v) } else { Err("a value is not finite".into()) })
}

/// Writes a pose as a 4×4 row-major matrix, one row per line (the YCBInEOAT `ob_in_cam` format).
pub fn format_pose(pose: &Pose) -> String {
    let m = pose.to_homogeneous();
    (0..4).map(|r| (0..4).map(|c| format!("{:.9e}", m[(r, c)])).collect::<Vec<_>>().join(" ") + "\n").collect()
}

/// Why a 4×4 matrix is not a usable rigid transform.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PoseError {
    #[error("the matrix has a non-finite entry")]
    NonFinite,
    #[error("the last row must be 0 0 0 1")]
    NotAffine,
    #[error("the 3×3 block is not a rotation (orthonormality error {0:.2e}, determinant must be +1)")]
    NotRotation(f64),
}

/// Reads a row-major 4×4 rigid transform, accepting the rounding of text files (up to 1e-4 off orthonormal)
/// and re-orthonormalising it.
pub fn pose_from_matrix(m: &Matrix4<f64>) -> Result<Pose, PoseError> {
    if m.iter().any(|v| !v.is_finite()) {
        return Err(PoseError::NonFinite);
    }
    let last = m.row(3);
    if (last[0].abs() + last[1].abs() + last[2].abs() + (last[3] - 1.0).abs()) > 1e-9 {
        return Err(PoseError::NotAffine);
    }
    let r: Matrix3<f64> = m.fixed_view::<3, 3>(0, 0).into();
    let err = (r.transpose() * r - Matrix3::identity()).abs().max();
    if err > 1e-4 || r.determinant() <= 0.0 {
        return Err(PoseError::NotRotation(err));
    }
    let rotation = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix(&r));
    let t = Vector3::new(m[(0, 3)], m[(1, 3)], m[(2, 3)]);
    Ok(Isometry3::from_parts(Translation3::from(t), rotation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pose_from_matrix_accepts_rigid_and_names_what_is_wrong() {
        let mut m = Matrix4::identity();
        m[(0, 3)] = 0.5;
        let pose = pose_from_matrix(&m).unwrap();
        assert_eq!(pose.translation.vector, Vector3::new(0.5, 0.0, 0.0));
        let mut scaled = m;
        scaled[(1, 1)] = 2.0;
        assert!(matches!(pose_from_matrix(&scaled), Err(PoseError::NotRotation(_))));
        let mut mirrored = m;
        mirrored[(2, 2)] = -1.0;
        assert!(matches!(pose_from_matrix(&mirrored), Err(PoseError::NotRotation(_))));
        let mut projective = m;
        projective[(3, 0)] = 0.1;
        assert_eq!(pose_from_matrix(&projective), Err(PoseError::NotAffine));
        let mut nan = m;
        nan[(0, 1)] = f64::NAN;
        assert_eq!(pose_from_matrix(&nan), Err(PoseError::NonFinite));
    }

    #[test]
    fn fov_gives_the_focal_length() {
        let k = Intrinsics::from_fov(640, 480, 90.0);
        assert!((k.fx - 320.0).abs() < 1e-9 && k.cx == 320.0 && k.cy == 240.0);
    }
}
