//! `splatrack eval`: ADD / ADD-S AUC and pose errors of predicted tracks against ground truth.

use std::path::PathBuf;

use anyhow::{Context, bail};
use nalgebra::Vector3;

use crate::eval::report::{SequenceScore, format_table, load_gt, load_predictions, score_sequence};
use crate::frame::Pose;
use crate::source::synthetic::objects::read_obj;

/// Model points sampled on the mesh surface for ADD / ADD-S (deterministic).
const MODEL_POINTS: usize = 4000;

/// Arguments of `splatrack eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Predictions: a folder holding `ob_in_cam/<frame_id>.txt` (4×4 object-in-camera). Repeat, paired with --gt.
    #[arg(long, required = true)]
    pred: Vec<PathBuf>,
    /// Ground-truth sequence folder (YCBInEOAT with annotated_poses/, or HO3D train/<SEQ> with meta/). Repeat.
    #[arg(long, required = true)]
    gt: Vec<PathBuf>,
    /// Object mesh (OBJ) for the model points; defaults to `mesh.obj` in each ground-truth folder.
    #[arg(long)]
    mesh: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `splatrack eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    if args.pred.len() != args.gt.len() {
        bail!("give one --pred per --gt ({} --pred, {} --gt)", args.pred.len(), args.gt.len());
    }
    let mut scores: Vec<SequenceScore> = Vec::new();
    for (pred_dir, gt_dir) in args.pred.iter().zip(&args.gt) {
        let gt = load_gt(gt_dir)?;
        let mesh_path = args.mesh.clone().or(gt.mesh.clone()).with_context(|| {
            format!("no mesh for {}: pass --mesh M.obj (the object's model, metres)", gt_dir.display())
        })?;
        let mesh = read_obj(&mesh_path).map_err(anyhow::Error::msg)?;
        let points: Vec<Vector3<f64>> = mesh.sample_surface(MODEL_POINTS, 0).iter().map(|p| p.cast()).collect();
        let annotated: Vec<(&str, Pose)> = gt.frames.iter().filter_map(|(id, p)| p.map(|p| (id.as_str(), p))).collect();
        let ids: Vec<&str> = annotated.iter().map(|(id, _)| *id).collect();
        let pred = load_predictions(pred_dir, &ids)?;
        let gt_poses: Vec<Pose> = annotated.iter().map(|(_, p)| *p).collect();
        scores.push(score_sequence(&gt.name, &points, &pred, &gt_poses));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&scores)?);
    } else {
        print!("{}", format_table(&scores));
    }
    Ok(())
}
