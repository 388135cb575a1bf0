//! `splatrack bench`: GPU kernels timed against their CPU references in the same run. Prints ratios;
//! asserts nothing about time.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::config::{LossConfig, OptimConfig, RasterConfig};
use crate::frame::{Intrinsics, Pose};
use crate::gpu::backward::GradOptions;
use crate::gpu::fit::{FitView, Fitter, FreeGroups, Stages};
use crate::gpu::{GpuContext, SplatRenderer};
use crate::reference;
use crate::splats::scenes::random_scene;
use crate::tracker::keyframes::median;

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Forward rasterizer: GPU time per frame (median) vs the CPU reference.
    Raster(RasterBenchArgs),
    /// Fitting iterations (forward + loss + backward + Adam) per second, and each stage's share.
    Grad(GradBenchArgs),
}

/// Arguments of `splatrack bench grad`.
#[derive(Debug, clap::Args)]
pub struct GradBenchArgs {
    /// Number of random surfels (in a 12 cm ball, 0.5 m in front of the camera).
    #[arg(long, default_value_t = 50_000)]
    splats: usize,
    /// Image size WIDTHxHEIGHT.
    #[arg(long, default_value = "640x480", value_parser = super::parse_size)]
    size: (u32, u32),
    /// Views (keyframes) per iteration, each with its own pose.
    #[arg(long, default_value_t = 1)]
    views: usize,
    /// Timed iterations per measurement.
    #[arg(long, default_value_t = 10)]
    iterations: u32,
    /// Measurements of each stage configuration, interleaved; the median counts.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct GradBenchReport {
    adapter: String,
    splats: usize,
    width: u32,
    height: u32,
    views: usize,
    gradient_path: String,
    iterations_per_second: f64,
    /// Milliseconds per iteration spent in each stage: differences of the median runs with later stages
    /// switched off.
    stage_ms: Vec<(&'static str, f64)>,
}

/// Arguments of `splatrack bench raster`.
#[derive(Debug, clap::Args)]
pub struct RasterBenchArgs {
    /// Number of random surfels (in a 12 cm ball, 0.5 m in front of the camera).
    #[arg(long, default_value_t = 100_000)]
    splats: usize,
    /// Image size WIDTHxHEIGHT.
    #[arg(long, default_value = "640x480", value_parser = super::parse_size)]
    size: (u32, u32),
    /// Timed GPU frames (after two warm-up frames); the median is reported.
    #[arg(long, default_value_t = 20)]
    frames: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct RasterBenchReport {
    adapter: String,
    splats: usize,
    width: u32,
    height: u32,
    intersections: u32,
    /// Wall clock from recording to completion of one render (includes the one count read-back), median.
    gpu_frame_ms_median: f64,
    gpu_frame_ms_min: f64,
    /// GPU time of each pass of one frame (timestamp queries), where the device has them.
    stages_ms: Vec<(&'static str, f64)>,
    cpu_reference_ms: f64,
    speedup: f64,
}

/// Runs a benchmark.
pub fn run(cmd: &BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Raster(args) => raster(args),
        BenchCommand::Grad(args) => grad(args),
    }
}

fn raster(args: &RasterBenchArgs) -> anyhow::Result<()> {
    let (width, height) = args.size;
    let intr = Intrinsics::from_fov(width, height, 60.0);
    let pose = nalgebra::Isometry3::translation(0.0, 0.0, 0.5);
    let splats = random_scene(args.splats, 0.12, 42);
    let ctx = Arc::new(GpuContext::new()?);
    let mut renderer = SplatRenderer::new(ctx.clone(), RasterConfig::default());
    let gpu_splats = renderer.upload(&splats)?;
    let mut intersections = 0;
    let mut times_ms = Vec::with_capacity(args.frames);
    // Timestamps would add a read-back per frame: measure frame times without them, then one timed frame.
    for frame in 0..args.frames.max(1) + 2 {
        let start = Instant::now();
        intersections = renderer.render(&gpu_splats, &intr, &pose)?.intersections;
        ctx.wait_idle()?;
        if frame >= 2 {
            times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times_ms.sort_by(f64::total_cmp);
    let mut stages_ms = Vec::new();
    if renderer.enable_stage_timing()? {
        renderer.render(&gpu_splats, &intr, &pose)?;
        stages_ms = renderer.read_stage_times()?;
    }
    let start = Instant::now();
    let _ = reference::render(&splats, &intr, &pose, &RasterConfig::default());
    let cpu_ms = start.elapsed().as_secs_f64() * 1e3;
    let median = times_ms[times_ms.len() / 2];
    let report = RasterBenchReport {
        adapter: ctx.adapter_line(),
        splats: args.splats,
        width,
        height,
        intersections,
        gpu_frame_ms_median: median,
        gpu_frame_ms_min: times_ms[0],
        stages_ms,
        cpu_reference_ms: cpu_ms,
        speedup: cpu_ms / median,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("adapter        {}", report.adapter);
        println!(
            "scene          {} surfels, {}x{}, {} tile intersections",
            report.splats, width, height, intersections
        );
        println!(
            "GPU frame      {:.2} ms median, {:.2} ms min over {} frames",
            median,
            report.gpu_frame_ms_min,
            times_ms.len()
        );
        let total: f64 = report.stages_ms.iter().map(|(_, ms)| ms).sum();
        for (name, ms) in &report.stages_ms {
            println!("  {name:<12} {ms:9.2} ms  {:5.1} %", 100.0 * ms / total);
        }
        println!("CPU reference  {:.1} ms (one frame, one thread)", cpu_ms);
        println!("ratio          GPU is {:.1}x the CPU reference", report.speedup);
    }
    Ok(())
}

fn grad(args: &GradBenchArgs) -> anyhow::Result<()> {
    let (width, height) = args.size;
    let intr = Intrinsics::from_fov(width, height, 60.0);
    let splats = random_scene(args.splats, 0.12, 42);
    let ctx = Arc::new(GpuContext::new()?);
    let optim = OptimConfig { loss_readback_interval: args.iterations.max(1), ..OptimConfig::default() };
    let mut fitter = Fitter::new(ctx.clone(), RasterConfig::default(), LossConfig::default(), optim);
    // Observations: the model itself seen from turned poses, starting from slightly wrong ones.
    let views: Vec<FitView> = (0..args.views.max(1))
        .map(|v| {
            let pose = Pose::from_parts(
                nalgebra::Translation3::new(0.0, 0.0, 0.5),
                nalgebra::UnitQuaternion::from_euler_angles(0.1 * v as f64, 0.7 * v as f64, 0.0),
            );
            let renderer = fitter.renderer();
            let gpu = renderer.upload(&splats)?;
            let view = renderer.render_view(&gpu, &intr, &pose)?;
            Ok(FitView {
                pose: pose * nalgebra::Translation3::new(0.003, 0.0, 0.0),
                ..FitView::from_render(&view, &intr, pose)
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let runs = [
        ("forward", Stages { loss: false, backward: false, step: false }),
        ("loss", Stages { loss: true, backward: false, step: false }),
        ("backward", Stages { loss: true, backward: true, step: false }),
        ("adam + pose", Stages::ALL),
    ];
    // Rounds interleave the four configurations so that a machine's drift (clocks, other load) spreads over
    // all of them; each configuration's median round counts. A stage cheaper than the remaining noise can
    // still read slightly below zero.
    let mut rounds = vec![Vec::new(); runs.len()];
    for _ in 0..args.rounds.max(1) {
        for (i, (_, stages)) in runs.iter().enumerate() {
            fitter.stages = *stages;
            let (mut model, mut fit_views) = (splats.clone(), views.clone());
            fitter.fit(&mut model, &mut fit_views, 2, FreeGroups::ALL)?; // warm-up: pipelines, buffers
            let (mut model, mut fit_views) = (splats.clone(), views.clone());
            let report = fitter.fit(&mut model, &mut fit_views, args.iterations.max(1), FreeGroups::ALL)?;
            rounds[i].push(1e3 * report.loop_seconds / args.iterations.max(1) as f64);
        }
    }
    let cumulative: Vec<f64> = rounds.iter().map(|ms| median(ms)).collect();
    let stage_ms: Vec<(&'static str, f64)> = runs
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (*name, cumulative[i] - if i == 0 { 0.0 } else { cumulative[i - 1] }))
        .collect();
    let report = GradBenchReport {
        adapter: ctx.adapter_line(),
        splats: args.splats,
        width,
        height,
        views: views.len(),
        gradient_path: format!("{:?}", GradOptions::best(&ctx)),
        iterations_per_second: 1e3 / cumulative[3],
        stage_ms,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("adapter        {}", report.adapter);
        println!(
            "problem        {} surfels, {}x{}, {} view(s); gradients via {}",
            report.splats, width, height, report.views, report.gradient_path
        );
        println!("iterations/s   {:.2} ({:.1} ms per iteration)", report.iterations_per_second, cumulative[3]);
        for (name, ms) in &report.stage_ms {
            println!("  {name:<12} {ms:9.2} ms  {:5.1} %", 100.0 * ms / cumulative[3]);
        }
    }
    Ok(())
}
