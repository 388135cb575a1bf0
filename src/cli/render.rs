//! `splatrack render`: a PLY model through a camera.json to PNGs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use nalgebra::Matrix4;
use serde::Deserialize;

use crate::config::RasterConfig;
use crate::frame::{Intrinsics, Pose, pose_from_matrix};
use crate::gpu::{GpuContext, SplatRenderer};
use crate::rendered::save_png;
use crate::splats::ply::read_ply;

/// Arguments of `splatrack render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// 2DGS PLY model (x y z … f_dc_* opacity scale_0 scale_1 rot_*).
    #[arg(long)]
    splats: PathBuf,
    /// JSON camera: width, height, fx, fy, cx, cy and world_to_camera (4×4 row-major, OpenCV axes).
    #[arg(long)]
    camera: PathBuf,
    /// RGBA PNG: RGB composited over black, A the accumulated alpha.
    #[arg(long)]
    out: PathBuf,
    /// Optional uint16 depth PNG in millimetres (median depth where alpha ≥ 0.5, else 0).
    #[arg(long)]
    depth_out: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Matrix4Json {
    Rows([[f64; 4]; 4]),
    Flat([f64; 16]),
}

/// The camera file of `splatrack render`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraJson {
    width: u32,
    height: u32,
    fx: f64,
    fy: f64,
    cx: f64,
    cy: f64,
    world_to_camera: Matrix4Json,
}

/// Reads a camera.json into intrinsics and the world(object)-to-camera pose.
pub fn read_camera(path: &Path) -> anyhow::Result<(Intrinsics, Pose)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading camera file {}", path.display()))?;
    let cam: CameraJson = serde_json::from_str(&text)
        .with_context(|| format!("camera file {} is not valid camera JSON", path.display()))?;
    let rows = match cam.world_to_camera {
        Matrix4Json::Rows(r) => r,
        Matrix4Json::Flat(f) => std::array::from_fn(|r| std::array::from_fn(|c| f[4 * r + c])),
    };
    let m = Matrix4::from_fn(|r, c| rows[r][c]);
    let pose = pose_from_matrix(&m).with_context(|| format!("camera file {}: world_to_camera", path.display()))?;
    let intr = Intrinsics { width: cam.width, height: cam.height, fx: cam.fx, fy: cam.fy, cx: cam.cx, cy: cam.cy };
    Ok((intr, pose))
}

/// Runs `splatrack render`.
pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    let splats = read_ply(&args.splats)?;
    let (intr, pose) = read_camera(&args.camera)?;
    let ctx = Arc::new(GpuContext::new()?);
    tracing::info!(adapter = %ctx.adapter_line(), "rendering {} surfels at {}x{}", splats.len(), intr.width, intr.height);
    let mut renderer = SplatRenderer::new(ctx, RasterConfig::default());
    let gpu_splats = renderer.upload(&splats).with_context(|| format!("model {}", args.splats.display()))?;
    let view = renderer.render_view(&gpu_splats, &intr, &pose)?;
    save_png(&view.to_rgba8(), &args.out)?;
    if let Some(depth_path) = &args.depth_out {
        save_png(&view.to_depth_mm(), depth_path)?;
    }
    println!("rendered {} surfels at {}x{} to {}", splats.len(), intr.width, intr.height, args.out.display());
    Ok(())
}
