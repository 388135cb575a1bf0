//! Scoring whole sequences: loading ground-truth and predicted tracks from disk, per-sequence scores,
//! and the table `splatrack eval` prints.

use std::path::{Path, PathBuf};

use nalgebra::Vector3;
use serde::Serialize;

use super::visibility::{View, keep_depths};
use super::{AUC_MAX_M, Chamfer, add, add_s, align_first_frame, auc, pose_errors};
use crate::frame::{Intrinsics, Pose};
use crate::source::files::{list_files, stem};
use crate::source::{FrameSource, SourceError, ho3d, ycbineoat};

/// Ground truth of one sequence: frame ids in order with their poses (None where not annotated).
pub struct GtTrack {
    pub name: String,
    pub frames: Vec<(String, Option<Pose>)>,
    /// `mesh.obj` in the sequence folder, where the generator left one.
    pub mesh: Option<PathBuf>,
    /// The camera, which tells the chamfer score what part of the object the sequence saw.
    pub intrinsics: Intrinsics,
}

/// Reads the ground truth of a YCBInEOAT sequence (`annotated_poses/`) or an HO3D one (`meta/*.pkl`).
pub fn load_gt(dir: &Path) -> Result<GtTrack, SourceError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (frames, intrinsics) = if dir.join("meta").is_dir() {
        let frames = list_files(&dir.join("meta"), &["pkl"])?
            .iter()
            .map(|p| Ok((stem(p), ho3d::read_meta(p)?.pose)))
            .collect::<Result<Vec<_>, SourceError>>()?;
        (frames, ho3d::Ho3dSource::open(dir)?.intrinsics())
    } else {
        let seq = ycbineoat::YcbineoatSource::open(dir)?;
        (seq.frame_ids().iter().cloned().zip(seq.gt_poses().iter().copied()).collect(), seq.intrinsics())
    };
    if frames.iter().all(|(_, p)| p.is_none()) {
        return Err(SourceError::Missing {
            path: dir.to_path_buf(),
            what: "ground-truth poses (annotated_poses/ or meta/)".into(),
        });
    }
    let mesh = Some(dir.join("mesh.obj")).filter(|p| p.exists());
    Ok(GtTrack { name, frames, mesh, intrinsics })
}

/// The annotated frames of the sequence in `dir` that [`keep_depths`] keeps, as views for the chamfer score's
/// visibility (reads the whole sequence).
pub fn seen_views(dir: &Path, gt: &GtTrack) -> Result<Vec<View>, SourceError> {
    let source: Box<dyn FrameSource> = if dir.join("meta").is_dir() {
        Box::new(ho3d::Ho3dSource::open(dir)?)
    } else {
        Box::new(ycbineoat::YcbineoatSource::open(dir)?)
    };
    let (mut source, depths) = keep_depths(source);
    while source.next_frame()?.is_some() {}
    let depths = depths.lock().unwrap_or_else(|e| e.into_inner());
    Ok(gt
        .frames
        .iter()
        .filter_map(|(id, p)| {
            Some(View { intrinsics: gt.intrinsics, pose: (*p)?, depth: Some(depths.get(id)?.clone()) })
        })
        .collect())
}

/// Reads predicted poses `<dir>/ob_in_cam/<id>.txt` (or `<dir>/<id>.txt`) for the given frame ids.
pub fn load_predictions(dir: &Path, ids: &[&str]) -> Result<Vec<Pose>, SourceError> {
    let folder = if dir.join("ob_in_cam").is_dir() { dir.join("ob_in_cam") } else { dir.to_path_buf() };
    ids.iter()
        .map(|id| {
            let path = folder.join(format!("{id}.txt"));
            if !path.exists() {
                return Err(SourceError::Missing { path, what: format!("predicted pose for annotated frame {id}") });
            }
            ycbineoat::read_pose_txt(&path)
        })
        .collect()
}

/// Median, 90th percentile and maximum of a list.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(values: &[f64]) -> Self {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v.get(((v.len().saturating_sub(1)) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN);
        Self { median: at(0.5), p90: at(0.9), max: at(1.0) }
    }
}

/// The scores of one sequence.
#[derive(Debug, Clone, Serialize)]
pub struct SequenceScore {
    pub sequence: String,
    /// Frames with ground truth (the ones scored).
    pub frames: usize,
    pub add_auc: f64,
    pub adds_auc: f64,
    pub add_mean_mm: f64,
    pub adds_mean_mm: f64,
    pub rotation_error_deg: Percentiles,
    pub translation_error_mm: Percentiles,
    /// Chamfer distance of the reconstruction to the ground-truth surface (cm), where one was given.
    pub chamfer_cm: Option<f64>,
    /// Its accuracy half: reconstruction to ground truth (see [`Chamfer`]).
    pub chamfer_accuracy_cm: Option<f64>,
    /// Its completeness half: ground truth to reconstruction.
    pub chamfer_completeness_cm: Option<f64>,
    /// Per annotated frame, in order: (frame id, rotation error °, translation error mm) after alignment.
    pub per_frame: Vec<(String, f64, f64)>,
}

/// Scores a predicted track against ground truth on the frames that have it (`ids`, `pred` and `gt` in step);
/// the prediction is aligned by the first such frame. `model_points` are in the ground truth's object frame.
pub fn score_sequence(
    name: &str,
    model_points: &[Vector3<f64>],
    ids: &[&str],
    pred: &[Pose],
    gt: &[Pose],
) -> SequenceScore {
    assert!(pred.len() == gt.len() && ids.len() == gt.len(), "one prediction per annotated frame");
    let aligned = match gt.first() {
        Some(gt0) => align_first_frame(pred, gt0),
        None => Vec::new(),
    };
    let adds: Vec<f64> = aligned.iter().zip(gt).map(|(p, g)| add(model_points, p, g)).collect();
    let add_ss: Vec<f64> = aligned.iter().zip(gt).map(|(p, g)| add_s(model_points, p, g)).collect();
    let (rot, trans): (Vec<f64>, Vec<f64>) = aligned.iter().zip(gt).map(|(p, g)| pose_errors(p, g)).unzip();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64 * 1e3;
    SequenceScore {
        sequence: name.to_string(),
        frames: gt.len(),
        add_auc: auc(&adds, AUC_MAX_M),
        adds_auc: auc(&add_ss, AUC_MAX_M),
        add_mean_mm: mean(&adds),
        adds_mean_mm: mean(&add_ss),
        rotation_error_deg: Percentiles::of(&rot),
        translation_error_mm: Percentiles::of(&trans),
        chamfer_cm: None,
        chamfer_accuracy_cm: None,
        chamfer_completeness_cm: None,
        per_frame: ids.iter().zip(rot.iter().zip(&trans)).map(|(id, (r, t))| (id.to_string(), *r, *t)).collect(),
    }
}

impl SequenceScore {
    /// Records the reconstruction's chamfer score.
    pub fn set_chamfer(&mut self, chamfer: Chamfer) {
        self.chamfer_cm = Some(chamfer.cm());
        self.chamfer_accuracy_cm = Some(chamfer.accuracy_cm);
        self.chamfer_completeness_cm = Some(chamfer.completeness_cm);
    }
}

/// The printed table: one row per sequence and the mean over sequences.
pub fn format_table(scores: &[SequenceScore]) -> String {
    let mut out = format!(
        "{:<28} {:>6} {:>8} {:>8} {:>9} {:>9} {:>17} {:>17} {:>8} {:>13}\n",
        "sequence",
        "frames",
        "ADD-S",
        "ADD",
        "ADD-S mm",
        "ADD mm",
        "rot° med/p90/max",
        "trans mm med/p90/max",
        "CD cm",
        "acc/comp cm"
    );
    for s in scores {
        out += &format!(
            "{:<28} {:>6} {:>8.2} {:>8.2} {:>9.2} {:>9.2} {:>5.2}/{:>5.2}/{:>5.1} {:>5.1}/{:>5.1}/{:>5.1} {:>8} {:>13}\n",
            s.sequence,
            s.frames,
            s.adds_auc,
            s.add_auc,
            s.adds_mean_mm,
            s.add_mean_mm,
            s.rotation_error_deg.median,
            s.rotation_error_deg.p90,
            s.rotation_error_deg.max,
            s.translation_error_mm.median,
            s.translation_error_mm.p90,
            s.translation_error_mm.max,
            s.chamfer_cm.map_or("-".to_string(), |c| format!("{c:.3}")),
            s.chamfer_accuracy_cm
                .zip(s.chamfer_completeness_cm)
                .map_or("-".to_string(), |(a, c)| format!("{a:.3}/{c:.3}"))
        );
    }
    if scores.len() > 1 {
        let mean = |f: fn(&SequenceScore) -> f64| scores.iter().map(f).sum::<f64>() / scores.len() as f64;
        out += &format!(
            "{:<28} {:>6} {:>8.2} {:>8.2} {:>9.2} {:>9.2}\n",
            "mean over sequences",
            scores.iter().map(|s| s.frames).sum::<usize>(),
            mean(|s| s.adds_auc),
            mean(|s| s.add_auc),
            mean(|s| s.adds_mean_mm),
            mean(|s| s.add_mean_mm)
        );
    }
    out
}
