//! The YCBInEOAT layout, read exactly as the dataset is published, and written by the synthetic generator.
//!
//! `<seq>/rgb/*.png` (8-bit RGB or RGBA), `<seq>/depth/*.png` (uint16 mm, 0 invalid), `<seq>/masks/*.png`
//! (0/255, grey or 3-channel; the first frame only in some public copies), optional `gt_mask/`, `masks_hand/`,
//! `annotated_poses/*.txt` (4×4 object-in-camera) and `cam_K.txt` (3×3). Names are 19-digit nanosecond
//! timestamps; images pair by name, poses by sorted order. Only frames with an RGB image are served.

use std::path::{Path, PathBuf};

use super::files::{
    create_dir, depth_to_mm, list_files, read_depth_mm, read_mask, read_rgb, read_text, save, stem, write_text,
};
use super::{FrameSource, SourceError};
use crate::frame::{Intrinsics, Pose, RgbdFrame, format_pose, parse_matrix3, parse_matrix4, pose_from_matrix};

/// A YCBInEOAT sequence on disk.
pub struct YcbineoatSource {
    name: String,
    root: PathBuf,
    intrinsics: Intrinsics,
    ids: Vec<String>,
    poses: Vec<Option<Pose>>,
    next: usize,
}

/// Reads `cam_K.txt` (3×3, whitespace-separated) into intrinsics for an image of the given size.
pub fn read_cam_k(path: &Path, width: u32, height: u32) -> Result<Intrinsics, SourceError> {
    let k = parse_matrix3(&read_text(path, "camera intrinsics cam_K.txt")?)
        .map_err(|reason| SourceError::BadContent { path: path.to_path_buf(), reason })?;
    if k[(0, 0)] <= 0.0 || k[(1, 1)] <= 0.0 {
        return Err(SourceError::BadContent {
            path: path.to_path_buf(),
            reason: "focal lengths must be positive".into(),
        });
    }
    Ok(Intrinsics { width, height, fx: k[(0, 0)], fy: k[(1, 1)], cx: k[(0, 2)], cy: k[(1, 2)] })
}

/// Reads a 4×4 pose text file.
pub fn read_pose_txt(path: &Path) -> Result<Pose, SourceError> {
    let bad = |reason: String| SourceError::BadContent { path: path.to_path_buf(), reason };
    let m = parse_matrix4(&read_text(path, "pose file")?).map_err(bad)?;
    pose_from_matrix(&m).map_err(|e| bad(e.to_string()))
}

impl YcbineoatSource {
    /// Opens a sequence directory; reads the intrinsics and all poses, checks the layout.
    pub fn open(root: &Path) -> Result<Self, SourceError> {
        let rgb_files = list_files(&root.join("rgb"), &["png"])?;
        let Some(first) = rgb_files.first() else {
            return Err(SourceError::Missing { path: root.join("rgb"), what: "RGB images (rgb/*.png)".into() });
        };
        let (width, height) = image::image_dimensions(first)
            .map_err(|e| SourceError::UnreadableImage { path: first.clone(), reason: e.to_string() })?;
        let intrinsics = read_cam_k(&root.join("cam_K.txt"), width, height)?;
        let ids: Vec<String> = rgb_files.iter().map(|p| stem(p)).collect();
        let pose_files = list_files(&root.join("annotated_poses"), &["txt"])?;
        if !pose_files.is_empty() && pose_files.len() != ids.len() {
            tracing::warn!(
                sequence = %root.display(), poses = pose_files.len(), frames = ids.len(),
                "pose count differs from frame count; pairing by sorted order"
            );
        }
        let mut poses: Vec<Option<Pose>> =
            pose_files.iter().take(ids.len()).map(|p| read_pose_txt(p).map(Some)).collect::<Result<_, _>>()?;
        poses.resize(ids.len(), None);
        let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "ycbineoat".into());
        Ok(Self { name, root: root.to_path_buf(), intrinsics, ids, poses, next: 0 })
    }

    /// Frame ids (file stems) in order.
    pub fn frame_ids(&self) -> &[String] {
        &self.ids
    }

    /// Ground-truth poses in frame order (None where not annotated).
    pub fn gt_poses(&self) -> &[Option<Pose>] {
        &self.poses
    }

    fn optional_mask(&self, folder: &str, id: &str) -> Result<Option<crate::frame::Mask>, SourceError> {
        let path = self.root.join(folder).join(format!("{id}.png"));
        let size = Some((self.intrinsics.width, self.intrinsics.height));
        if path.exists() { read_mask(&path, size).map(Some) } else { Ok(None) }
    }

    fn load(&self, index: usize) -> Result<RgbdFrame, SourceError> {
        let id = &self.ids[index];
        let size = Some((self.intrinsics.width, self.intrinsics.height));
        let rgb = read_rgb(&self.root.join("rgb").join(format!("{id}.png")), size)?;
        let depth_path = self.root.join("depth").join(format!("{id}.png"));
        if !depth_path.exists() {
            return Err(SourceError::Missing { path: depth_path, what: format!("depth frame for RGB frame {id}") });
        }
        let depth_m = read_depth_mm(&depth_path, size)?;
        let object_mask = match self.optional_mask("masks", id)? {
            Some(mask) => Some(mask),
            None => self.optional_mask("gt_mask", id)?,
        };
        Ok(RgbdFrame {
            id: id.clone(),
            timestamp_s: timestamp_s(&self.ids[0], id, index),
            intrinsics: self.intrinsics,
            rgb,
            depth_m,
            object_mask,
            occluder_mask: self.optional_mask("masks_hand", id)?,
            gt_pose: self.poses[index],
        })
    }
}

/// Seconds since the first frame from 19-digit nanosecond names; 30 Hz frame numbers otherwise.
fn timestamp_s(first: &str, id: &str, index: usize) -> f64 {
    match (first.parse::<u64>(), id.parse::<u64>()) {
        (Ok(a), Ok(b)) if first.len() >= 16 => b.saturating_sub(a) as f64 * 1e-9,
        _ => index as f64 / 30.0,
    }
}

impl FrameSource for YcbineoatSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn intrinsics(&self) -> Intrinsics {
        self.intrinsics
    }

    fn len(&self) -> Option<usize> {
        Some(self.ids.len())
    }

    fn next_frame(&mut self) -> Result<Option<RgbdFrame>, SourceError> {
        if self.next >= self.ids.len() {
            return Ok(None);
        }
        let frame = self.load(self.next)?;
        self.next += 1;
        Ok(Some(frame))
    }
}

/// Writes sequences in the YCBInEOAT layout.
pub struct YcbineoatWriter {
    root: PathBuf,
}

impl YcbineoatWriter {
    /// Creates the folders and writes `cam_K.txt`.
    pub fn create(root: &Path, intrinsics: &Intrinsics) -> Result<Self, SourceError> {
        for folder in ["rgb", "depth", "masks", "masks_hand", "annotated_poses"] {
            create_dir(&root.join(folder))?;
        }
        let k = format!(
            "{:.6} 0 {:.6}\n0 {:.6} {:.6}\n0 0 1\n",
            intrinsics.fx, intrinsics.cx, intrinsics.fy, intrinsics.cy
        );
        write_text(&root.join("cam_K.txt"), &k)?;
        Ok(Self { root: root.to_path_buf() })
    }

    /// Writes one frame under its id (which should be a 19-digit nanosecond timestamp).
    pub fn write(&self, frame: &RgbdFrame) -> Result<(), SourceError> {
        let file = |folder: &str, ext: &str| self.root.join(folder).join(format!("{}.{ext}", frame.id));
        save(&frame.rgb, &file("rgb", "png"))?;
        save(&depth_to_mm(&frame.depth_m), &file("depth", "png"))?;
        if let Some(mask) = &frame.object_mask {
            save(mask, &file("masks", "png"))?;
        }
        if let Some(mask) = &frame.occluder_mask {
            save(mask, &file("masks_hand", "png"))?;
        }
        if let Some(pose) = &frame.gt_pose {
            write_text(&file("annotated_poses", "txt"), &format_pose(pose))?;
        }
        Ok(())
    }
}
