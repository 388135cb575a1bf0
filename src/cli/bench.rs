//! `splatrack bench`: GPU kernels timed against their CPU references in the same run. Prints ratios;
//! asserts nothing about time.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::config::RasterConfig;
use crate::frame::Intrinsics;
use crate::gpu::{GpuContext, SplatRenderer};
use crate::reference;
use crate::splats::scenes::random_scene;

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Forward rasterizer: GPU time per frame (median) vs the CPU reference.
    Raster(RasterBenchArgs),
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
        println!("scene          {} surfels, {}x{}, {} tile intersections", report.splats, width, height, intersections);
        println!("GPU frame      {:.2} ms median, {:.2} ms min over {} frames", median, report.gpu_frame_ms_min, times_ms.len());
        let total: f64 = report.stages_ms.iter().map(|(_, ms)| ms).sum();
        for (name, ms) in &report.stages_ms {
            println!("  {name:<12} {ms:9.2} ms  {:5.1} %", 100.0 * ms / total);
        }
        println!("CPU reference  {:.1} ms (one frame, one thread)", cpu_ms);
        println!("ratio          GPU is {:.1}x the CPU reference", report.speedup);
    }
    Ok(())
}
