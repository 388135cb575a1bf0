//! The HO3D layout (v2 and v3), read as published, and written by the synthetic generator.
//!
//! `<root>/<split>/<SEQ>/rgb/NNNN.png|jpg`, `depth/NNNN.png` (3-channel 8-bit: depth_m = (R + 256·G) ·
//! 0.00012498664727900177, B unused), `meta/NNNN.pkl` (pickle: `camMat` 3×3, `objRot` axis-angle, `objTrans`
//! metres — None on unannotated frames —, `objName`). Annotations use OpenGL camera axes and are converted to
//! OpenCV axes with diag(1, −1, −1). Masks come from `<root>/masks_XMem/<SEQ>/NNNNN.png` where present (the
//! masks BundleSDF evaluates with), else from `seg/NNNN.png|jpg` (object = green channel 255, resized to the
//! image size).

use std::path::{Path, PathBuf};

use nalgebra::{Matrix3, Translation3, UnitQuaternion, Vector3};

use super::files::{create_dir, list_files, read_mask, read_rgb, save, stem};
use super::numpy_pickle::{self, PickleValue};
use super::{FrameSource, SourceError};
use crate::frame::{DepthImage, Intrinsics, Mask, Pose, RgbdFrame};

/// Metres per unit of HO3D's 16-bit depth code.
pub const DEPTH_SCALE_M: f64 = 0.00012498664727900177;

/// OpenGL ↔ OpenCV camera axes (its own inverse).
fn gl_to_cv() -> Matrix3<f64> {
    Matrix3::from_diagonal(&Vector3::new(1.0, -1.0, -1.0))
}

/// What one `meta/NNNN.pkl` says.
#[derive(Debug, Clone)]
pub struct Ho3dMeta {
    pub cam: Matrix3<f64>,
    /// Object-to-camera in OpenCV axes; None on unannotated frames.
    pub pose: Option<Pose>,
    pub object_name: Option<String>,
}

/// Reads one HO3D meta pickle.
pub fn read_meta(path: &Path) -> Result<Ho3dMeta, SourceError> {
    let bad = |reason: String| SourceError::BadContent { path: path.to_path_buf(), reason };
    if !path.exists() {
        return Err(SourceError::Missing { path: path.to_path_buf(), what: "annotation meta pickle".into() });
    }
    let bytes = std::fs::read(path).map_err(|source| SourceError::Io { path: path.to_path_buf(), source })?;
    let value = numpy_pickle::parse(&bytes).map_err(bad)?;
    let field = |name: &str| numpy_pickle::dict_get(&value, name);
    let cam_value = field("camMat").ok_or_else(|| bad("no 'camMat'".into()))?;
    let cam = numpy_pickle::to_array(cam_value).map_err(|e| bad(format!("camMat: {e}")))?;
    if cam.data.len() != 9 {
        return Err(bad(format!("camMat has {} values, expected 9", cam.data.len())));
    }
    let cam = Matrix3::from_row_slice(&cam.data);
    let vector3 = |name: &str| -> Result<Option<Vector3<f64>>, SourceError> {
        match field(name) {
            None | Some(serde_pickle::Value::None) => Ok(None),
            Some(v) => {
                let a = numpy_pickle::to_array(v).map_err(|e| bad(format!("{name}: {e}")))?;
                if a.data.len() != 3 || !a.data.iter().all(|x| x.is_finite()) {
                    return Err(bad(format!("{name} must be 3 finite numbers, found {:?}", a.data)));
                }
                Ok(Some(Vector3::from_column_slice(&a.data)))
            }
        }
    };
    let pose = match (vector3("objRot")?, vector3("objTrans")?) {
        (Some(rot), Some(trans)) => {
            let r_gl = UnitQuaternion::from_scaled_axis(rot).to_rotation_matrix().into_inner();
            let r_cv = gl_to_cv() * r_gl;
            let t_cv = gl_to_cv() * trans;
            let rotation = UnitQuaternion::from_matrix(&r_cv);
            Some(Pose::from_parts(Translation3::from(t_cv), rotation))
        }
        _ => None,
    };
    let object_name = match field("objName") {
        Some(serde_pickle::Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(Ho3dMeta { cam, pose, object_name })
}

/// Decodes HO3D's colour-coded depth (R + 256·G) into metres.
pub fn read_depth(path: &Path, expected: (u32, u32)) -> Result<DepthImage, SourceError> {
    let rgb = read_rgb(path, Some(expected)).map_err(|e| match e {
        SourceError::WrongFormat { path, found, .. } => SourceError::WrongFormat {
            path,
            what: "HO3D depth".into(),
            expected: "3-channel 8-bit (R + 256·G)".into(),
            found,
        },
        other => other,
    })?;
    Ok(DepthImage::from_fn(rgb.width(), rgb.height(), |x, y| {
        let p = rgb.get_pixel(x, y);
        image::Luma([((p[0] as f64 + 256.0 * p[1] as f64) * DEPTH_SCALE_M) as f32])
    }))
}

/// An HO3D sequence on disk.
pub struct Ho3dSource {
    name: String,
    seq_dir: PathBuf,
    xmem_dir: Option<PathBuf>,
    intrinsics: Intrinsics,
    rgb_files: Vec<PathBuf>,
    next: usize,
}

impl Ho3dSource {
    /// Opens `<root>/<split>/<SEQ>`; the intrinsics come from the first frame's meta.
    pub fn open(seq_dir: &Path) -> Result<Self, SourceError> {
        let rgb_files = list_files(&seq_dir.join("rgb"), &["png", "jpg", "jpeg"])?;
        let Some(first) = rgb_files.first() else {
            return Err(SourceError::Missing {
                path: seq_dir.join("rgb"),
                what: "RGB images (rgb/NNNN.png|jpg)".into(),
            });
        };
        let (width, height) = image::image_dimensions(first)
            .map_err(|e| SourceError::UnreadableImage { path: first.clone(), reason: e.to_string() })?;
        let meta = read_meta(&seq_dir.join("meta").join(format!("{}.pkl", stem(first))))?;
        let intrinsics = Intrinsics {
            width,
            height,
            fx: meta.cam[(0, 0)],
            fy: meta.cam[(1, 1)],
            cx: meta.cam[(0, 2)],
            cy: meta.cam[(1, 2)],
        };
        let name = seq_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "ho3d".into());
        let xmem_dir = seq_dir
            .parent()
            .and_then(Path::parent)
            .map(|root| root.join("masks_XMem").join(&name))
            .filter(|d| d.is_dir());
        Ok(Self { name, seq_dir: seq_dir.to_path_buf(), xmem_dir, intrinsics, rgb_files, next: 0 })
    }

    fn mask(&self, id: &str) -> Result<Option<Mask>, SourceError> {
        let size = (self.intrinsics.width, self.intrinsics.height);
        if let Some(dir) = &self.xmem_dir {
            let frame_number: u64 = id.parse().unwrap_or(0);
            let path = dir.join(format!("{frame_number:05}.png"));
            if path.exists() {
                return read_mask(&path, Some(size)).map(Some);
            }
        }
        for ext in ["png", "jpg"] {
            let path = self.seq_dir.join("seg").join(format!("{id}.{ext}"));
            if path.exists() {
                let seg = read_rgb(&path, None)?;
                let seg = image::imageops::resize(&seg, size.0, size.1, image::imageops::FilterType::Nearest);
                return Ok(Some(Mask::from_fn(size.0, size.1, |x, y| {
                    image::Luma([if seg.get_pixel(x, y)[1] == 255 { 255 } else { 0 }])
                })));
            }
        }
        Ok(None)
    }

    fn load(&self, index: usize) -> Result<RgbdFrame, SourceError> {
        let rgb_path = &self.rgb_files[index];
        let id = stem(rgb_path);
        let size = (self.intrinsics.width, self.intrinsics.height);
        let rgb = read_rgb(rgb_path, Some(size))?;
        let depth_path = self.seq_dir.join("depth").join(format!("{id}.png"));
        if !depth_path.exists() {
            return Err(SourceError::Missing { path: depth_path, what: format!("depth frame for RGB frame {id}") });
        }
        let depth_m = read_depth(&depth_path, size)?;
        let meta = read_meta(&self.seq_dir.join("meta").join(format!("{id}.pkl")))?;
        Ok(RgbdFrame {
            timestamp_s: index as f64 / 30.0,
            intrinsics: self.intrinsics,
            rgb,
            depth_m,
            object_mask: self.mask(&id)?,
            occluder_mask: None,
            gt_pose: meta.pose,
            id,
        })
    }
}

impl FrameSource for Ho3dSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn intrinsics(&self) -> Intrinsics {
        self.intrinsics
    }

    fn len(&self) -> Option<usize> {
        Some(self.rgb_files.len())
    }

    fn next_frame(&mut self) -> Result<Option<RgbdFrame>, SourceError> {
        if self.next >= self.rgb_files.len() {
            return Ok(None);
        }
        let frame = self.load(self.next)?;
        self.next += 1;
        Ok(Some(frame))
    }
}

/// Writes sequences in the HO3D layout (`<root>/train/<SEQ>/…`).
pub struct Ho3dWriter {
    seq_dir: PathBuf,
    object_name: String,
}

impl Ho3dWriter {
    /// Creates `<root>/train/<seq>/{rgb,depth,meta,seg}`.
    pub fn create(root: &Path, seq: &str, object_name: &str) -> Result<Self, SourceError> {
        let seq_dir = root.join("train").join(seq);
        for folder in ["rgb", "depth", "meta", "seg"] {
            create_dir(&seq_dir.join(folder))?;
        }
        Ok(Self { seq_dir, object_name: object_name.to_string() })
    }

    /// The sequence folder (what `ho3d:` sources open).
    pub fn seq_dir(&self) -> &Path {
        &self.seq_dir
    }

    /// Writes frame `index` as NNNN: colour, colour-coded depth, meta pickle and a half-size seg image
    /// (object green, occluder blue, as HO3D's).
    pub fn write(&self, index: usize, frame: &RgbdFrame) -> Result<(), SourceError> {
        let id = format!("{index:04}");
        save(&frame.rgb, &self.seq_dir.join("rgb").join(format!("{id}.png")))?;
        let depth = image::RgbImage::from_fn(frame.depth_m.width(), frame.depth_m.height(), |x, y| {
            let code = (frame.depth_m.get_pixel(x, y)[0] as f64 / DEPTH_SCALE_M).round().clamp(0.0, 65535.0) as u32;
            image::Rgb([(code % 256) as u8, (code / 256) as u8, 0])
        });
        save(&depth, &self.seq_dir.join("depth").join(format!("{id}.png")))?;
        let k = frame.intrinsics;
        let cam = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0];
        let (rot, trans) = match &frame.gt_pose {
            Some(pose) => {
                let r_gl = gl_to_cv() * pose.rotation.to_rotation_matrix().into_inner();
                let axis_angle = UnitQuaternion::from_matrix(&r_gl).scaled_axis();
                let t_gl = gl_to_cv() * pose.translation.vector;
                (Some([axis_angle.x, axis_angle.y, axis_angle.z]), Some([t_gl.x, t_gl.y, t_gl.z]))
            }
            None => (None, None),
        };
        let (rot_data, trans_data) = (rot.map(|a| a.to_vec()), trans.map(|a| a.to_vec()));
        let meta = numpy_pickle::write_dict(&[
            ("camMat", PickleValue::Array(&[3, 3], &cam)),
            ("objRot", rot_data.as_deref().map_or(PickleValue::None, |d| PickleValue::Array(&[3, 1], d))),
            ("objTrans", trans_data.as_deref().map_or(PickleValue::None, |d| PickleValue::Array(&[3], d))),
            ("objName", PickleValue::Str(&self.object_name)),
        ]);
        let meta_path = self.seq_dir.join("meta").join(format!("{id}.pkl"));
        std::fs::write(&meta_path, meta).map_err(|source| SourceError::Io { path: meta_path, source })?;
        let (w, h) = (frame.rgb.width() / 2, frame.rgb.height() / 2);
        let seg = image::RgbImage::from_fn(w, h, |x, y| {
            let inside = |m: &Option<Mask>| m.as_ref().is_some_and(|m| m.get_pixel(2 * x, 2 * y)[0] > 0);
            image::Rgb([
                0,
                if inside(&frame.object_mask) { 255 } else { 0 },
                if inside(&frame.occluder_mask) { 255 } else { 0 },
            ])
        });
        save(&seg, &self.seq_dir.join("seg").join(format!("{id}.png")))
    }
}
