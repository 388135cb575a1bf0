//! `splatrack replay`: track a recorded or synthetic sequence headless and write the pose track, the model,
//! the keyframes and a report (timings, counts, and scores where the source has ground truth).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;

use crate::eval::report::{SequenceScore, score_sequence};
use crate::eval::visibility::{View, keep_depths};
use crate::eval::{model_chamfer, model_points, scored_surface};
use crate::frame::{DepthImage, Intrinsics, Pose, format_pose};
use crate::gpu::GpuContext;
use crate::source::synthetic::SequenceSpec;
use crate::source::synthetic::objects::{Mesh, build, read_obj};
use crate::splats::ply::write_ply;
use crate::tracker::TrackerEvent;
use crate::tracker::session::{Session, SessionOptions, SessionOutput};
use crate::tracker::tracking::{FrameResult, StageTimes};

/// Arguments of `splatrack replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub input: super::SourceArgs,
    /// Output folder: ob_in_cam/<frame_id>.txt, model.ply, keyframes.json, report.json.
    #[arg(long, default_value = "out/replay")]
    pub out: PathBuf,
    /// Stop after this many frames.
    #[arg(long)]
    pub frames: Option<usize>,
    /// Object mesh (OBJ, metres, the ground truth's object frame) for scores; defaults to the generator's
    /// object for synthetic sources and to `mesh.obj` in a dataset folder.
    #[arg(long)]
    pub mesh: Option<PathBuf>,
    /// No progress bar (logs only).
    #[arg(long)]
    pub quiet: bool,
}

/// Mean per-stage times over tracked frames.
#[derive(Debug, Default, Serialize)]
struct MeanTimes {
    mask_ms: f64,
    features_ms: f64,
    icp_ms: f64,
    relocalise_ms: f64,
    fine_ms: f64,
    keyframe_ms: f64,
    total_ms: f64,
}

impl MeanTimes {
    fn of(times: &[StageTimes]) -> Self {
        let n = times.len().max(1) as f64;
        let mean = |f: fn(&StageTimes) -> f64| times.iter().map(f).sum::<f64>() / n;
        Self {
            mask_ms: mean(|t| t.mask_ms),
            features_ms: mean(|t| t.features_ms),
            icp_ms: mean(|t| t.icp_ms),
            relocalise_ms: mean(|t| t.relocalise_ms),
            fine_ms: mean(|t| t.fine_ms),
            keyframe_ms: mean(|t| t.keyframe_ms),
            total_ms: mean(|t| t.total_ms),
        }
    }
}

/// `report.json`.
#[derive(Debug, Serialize)]
struct Report {
    source: String,
    adapter: String,
    width: u32,
    height: u32,
    frames: usize,
    wall_s: f64,
    fps: f64,
    tracker_ms_per_frame: MeanTimes,
    lost_frames: usize,
    recoveries: usize,
    mapping_steps: u64,
    mapping_step_ms_mean: f64,
    splats: usize,
    splats_seeded: usize,
    splats_pruned: usize,
    splats_densified: usize,
    pruning_events: usize,
    keyframes: usize,
    keyframes_dropped: usize,
    error: Option<String>,
    score: Option<SequenceScore>,
    /// Every frame's tracking diagnostics.
    per_frame: Vec<FrameResult>,
}

/// Runs `splatrack replay`.
pub fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let cfg = args.input.config()?;
    let (source, depths) = keep_depths(args.input.open()?);
    let ctx = Arc::new(GpuContext::new()?);
    let adapter = ctx.adapter_line();
    tracing::info!("GPU: {adapter}");
    let session =
        Session::start(Box::new(source), cfg, ctx, SessionOptions { max_frames: args.frames, ..Default::default() });
    let summary = record(session, &args.out, !args.quiet, &args.input.source)?;
    // The session has ended, and with it the source thread filling the map.
    let depths = std::mem::take(&mut *depths.lock().unwrap_or_else(|e| e.into_inner()));
    let mesh = object_mesh(&args.input.source, args.mesh.as_deref())?;
    write_outputs(&args.out, summary, mesh.as_ref().map(|m| (m, &depths)), adapter)
}

/// What a session left, with the per-frame results and events gathered while it ran.
pub struct Recorded {
    pub name: String,
    /// The source's camera.
    pub intrinsics: Intrinsics,
    pub results: Vec<FrameResult>,
    pub events: Vec<TrackerEvent>,
    pub output: SessionOutput,
}

/// Drains a session to its end, writing each pose as it arrives (so an error loses nothing).
pub fn record(session: Session, out: &Path, progress: bool, label: &str) -> anyhow::Result<Recorded> {
    let poses_dir = out.join("ob_in_cam");
    fs::create_dir_all(&poses_dir).with_context(|| format!("{}: cannot create", poses_dir.display()))?;
    let bar = if progress {
        indicatif::ProgressBar::new(session.len.unwrap_or(0) as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} frames {per_sec} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_prefix(label.to_string());
    let (name, intrinsics) = (session.name.clone(), session.intrinsics);
    let mut results = Vec::new();
    let mut events = Vec::new();
    let mut splats = 0;
    loop {
        crossbeam_channel::select! {
            recv(session.results) -> r => match r {
                Ok(r) => {
                    let path = poses_dir.join(format!("{}.txt", r.id));
                    fs::write(&path, format_pose(&r.pose)).with_context(|| format!("{}: cannot write", path.display()))?;
                    bar.inc(1);
                    bar.set_message(format!("{} splats{}", splats, if r.lost { ", LOST" } else { "" }));
                    results.push(r);
                }
                Err(_) => break,
            },
            recv(session.events) -> e => if let Ok(e) = e {
                if let TrackerEvent::MappingStep { splats: s, .. } = &e {
                    splats = *s;
                }
                events.push(e);
            },
        }
    }
    let late_events = session.events.clone();
    let output = session.join();
    // The final mapping step reports after the last frame's result.
    events.extend(late_events.try_iter());
    bar.finish_and_clear();
    Ok(Recorded { name, intrinsics, results, events, output })
}

/// The object mesh for scoring: `--mesh`, the generator's object, or `mesh.obj` in the dataset folder.
fn object_mesh(source: &str, mesh: Option<&Path>) -> anyhow::Result<Option<Mesh>> {
    if let Some(path) = mesh {
        return Ok(Some(read_obj(path).map_err(anyhow::Error::msg)?));
    }
    let (kind, arg) = source.split_once(':').unwrap_or((source, ""));
    Ok(match kind {
        "synthetic" => Some(build(SequenceSpec::parse(arg).map_err(anyhow::Error::msg)?.object)),
        "ycbineoat" | "ho3d" => {
            let path = Path::new(arg).join("mesh.obj");
            if path.exists() { Some(read_obj(&path).map_err(anyhow::Error::msg)?) } else { None }
        }
        _ => None,
    })
}

/// Writes model.ply, keyframes.json and report.json, with scores where `scoring` gives the object's mesh and
/// small copies of the depth of frames with ground truth, by frame id (what hid the object, for chamfer).
pub fn write_outputs(
    out: &Path,
    rec: Recorded,
    scoring: Option<(&Mesh, &HashMap<String, Arc<DepthImage>>)>,
    adapter: String,
) -> anyhow::Result<()> {
    let map = &rec.output.map;
    write_ply(&out.join("model.ply"), &map.model)?;
    let dropped: Vec<&TrackerEvent> =
        rec.events.iter().filter(|e| matches!(e, TrackerEvent::KeyframeDropped { .. })).collect();
    let keyframes = serde_json::json!({ "keyframes": map.keyframes, "dropped": dropped });
    write_json(&out.join("keyframes.json"), &keyframes)?;

    let score = scoring.and_then(|(mesh, depths)| score(&rec, mesh, depths));
    let times: Vec<StageTimes> = rec.results.iter().skip(1).map(|r| r.times).collect();
    let steps: Vec<f64> = rec
        .events
        .iter()
        .filter_map(|e| if let TrackerEvent::MappingStep { ms, .. } = e { Some(*ms) } else { None })
        .collect();
    let report = Report {
        source: rec.name.clone(),
        adapter,
        width: rec.intrinsics.width,
        height: rec.intrinsics.height,
        frames: rec.results.len(),
        wall_s: rec.output.wall_s,
        fps: rec.results.len() as f64 / rec.output.wall_s.max(1e-9),
        tracker_ms_per_frame: MeanTimes::of(&times),
        lost_frames: rec.results.iter().filter(|r| r.lost).count(),
        recoveries: rec.results.iter().filter(|r| r.recovered).count(),
        mapping_steps: map.step,
        mapping_step_ms_mean: steps.iter().sum::<f64>() / steps.len().max(1) as f64,
        splats: map.model.len(),
        splats_seeded: map.seeded_total,
        splats_pruned: map.pruned_total,
        splats_densified: map.densified_total,
        pruning_events: rec.events.iter().filter(|e| matches!(e, TrackerEvent::Pruned { .. })).count(),
        keyframes: map.keyframes.len(),
        keyframes_dropped: dropped.len(),
        error: rec.output.error.clone(),
        score,
        per_frame: rec.results.clone(),
    };
    write_json(&out.join("report.json"), &report)?;
    if let Some(s) = &report.score {
        println!(
            "{}: {} frames, ADD-S {:.2} ADD {:.2} chamfer {} cm, {:.1} fps, {} splats, {} keyframes, {} lost",
            rec.name,
            report.frames,
            s.adds_auc,
            s.add_auc,
            s.chamfer_cm.map(|c| format!("{c:.3}")).unwrap_or("-".into()),
            report.fps,
            report.splats,
            report.keyframes,
            report.lost_frames
        );
    } else {
        println!(
            "{}: {} frames, {:.1} fps, {} splats, {} keyframes, {} lost",
            rec.name, report.frames, report.fps, report.splats, report.keyframes, report.lost_frames
        );
    }
    if let Some(e) = &rec.output.error {
        anyhow::bail!("stopped early after {} frames (outputs written to {}): {e}", rec.results.len(), out.display());
    }
    Ok(())
}

/// ADD / ADD-S on the frames with ground truth, and the chamfer distance of the model.
fn score(rec: &Recorded, mesh: &Mesh, depths: &HashMap<String, Arc<DepthImage>>) -> Option<SequenceScore> {
    let annotated: Vec<(&FrameResult, Pose)> = rec.results.iter().filter_map(|r| r.gt_pose.map(|g| (r, g))).collect();
    if annotated.is_empty() {
        return None;
    }
    let ids: Vec<&str> = annotated.iter().map(|(r, _)| r.id.as_str()).collect();
    let pred: Vec<Pose> = annotated.iter().map(|(r, _)| r.pose).collect();
    let gt: Vec<Pose> = annotated.iter().map(|(_, g)| *g).collect();
    let mut s = score_sequence(&rec.name, &model_points(mesh), &ids, &pred, &gt);
    let model = &rec.output.map.model;
    let surface = scored_surface(model);
    if !surface.is_empty() {
        let views: Vec<View> = annotated
            .iter()
            .filter_map(|(r, g)| {
                depths.get(&r.id).map(|d| View { intrinsics: rec.intrinsics, pose: *g, depth: Some(d.clone()) })
            })
            .collect();
        s.set_chamfer(model_chamfer(&surface, &pred[0], &gt[0], mesh, &views));
    }
    Some(s)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, serde_json::to_string_pretty(value)?)
        .with_context(|| format!("{}: cannot write", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}
