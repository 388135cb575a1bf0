//! `splatrack eval`: ADD / ADD-S AUC and pose errors of predicted tracks against ground truth.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::eval::report::{SequenceScore, format_table, load_gt, load_predictions, score_sequence, seen_views};
use crate::eval::{model_chamfer, model_points, scored_surface};
use crate::frame::Pose;
use crate::source::synthetic::objects::read_obj;
use crate::splats::ply::read_ply;

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
    /// Reconstruction (a 2DGS PLY in the tracker's object frame, e.g. replay's model.ply) to score by chamfer
    /// distance against the part of the mesh that the sequence's frames saw; one per --gt.
    #[arg(long)]
    recon: Vec<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `splatrack eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    if args.pred.len() != args.gt.len() {
        bail!("give one --pred per --gt ({} --pred, {} --gt)", args.pred.len(), args.gt.len());
    }
    if !args.recon.is_empty() && args.recon.len() != args.gt.len() {
        bail!("give one --recon per --gt ({} --recon, {} --gt)", args.recon.len(), args.gt.len());
    }
    let mut scores: Vec<SequenceScore> = Vec::new();
    for (k, (pred_dir, gt_dir)) in args.pred.iter().zip(&args.gt).enumerate() {
        let gt = load_gt(gt_dir)?;
        let mesh_path = args.mesh.clone().or(gt.mesh.clone()).with_context(|| {
            format!("no mesh for {}: pass --mesh M.obj (the object's model, metres)", gt_dir.display())
        })?;
        let mesh = read_obj(&mesh_path).map_err(anyhow::Error::msg)?;
        let annotated: Vec<(&str, Pose)> = gt.frames.iter().filter_map(|(id, p)| p.map(|p| (id.as_str(), p))).collect();
        let ids: Vec<&str> = annotated.iter().map(|(id, _)| *id).collect();
        let pred = load_predictions(pred_dir, &ids)?;
        let gt_poses: Vec<Pose> = annotated.iter().map(|(_, p)| *p).collect();
        let mut score = score_sequence(&gt.name, &model_points(&mesh), &ids, &pred, &gt_poses);
        if let Some(recon_path) = args.recon.get(k) {
            let surface = scored_surface(&read_ply(recon_path)?);
            let views = seen_views(gt_dir, &gt)?;
            score.set_chamfer(model_chamfer(&surface, &pred[0], &gt_poses[0], &mesh, &views));
        }
        scores.push(score);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&scores)?);
    } else {
        print!("{}", format_table(&scores));
    }
    Ok(())
}
