//! The desktop face: an eframe (egui + winit) app on the wgpu device the tracker shares. Without a display
//! it says so and replays headless instead.

pub mod app;
pub mod state;
pub mod texture;
pub mod viewer;

use eframe::egui;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui_wgpu;

use crate::cli::replay::{ReplayArgs, load_config};
use crate::gpu::GpuContext;
use app::{App, AppOptions};

/// Arguments the app takes (the bare command and `splatrack gui`).
#[derive(Debug, Clone, clap::Args)]
pub struct GuiArgs {
    /// Frame source: ycbineoat:DIR | ho3d:DIR/SEQ | synthetic[:object,motion,seed,frames,WxH]
    #[arg(long, default_value = "synthetic")]
    pub source: String,
    /// TOML file overriding settings.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Track this many frames, then (with --screenshot) save a screenshot and exit.
    #[arg(long)]
    pub exit_after_frames: Option<usize>,
    /// Where the screenshot goes (PNG).
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// The object's mask in the first frame (PNG), for sources without masks (cameras, recordings).
    #[arg(long)]
    pub first_mask: Option<PathBuf>,
    /// Record the live camera session to this file while tracking (`realsense` sources).
    #[arg(long)]
    pub record: Option<PathBuf>,
}

/// True when a window can be opened.
fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Opens the app; without a display, prints why and runs the headless replay of the same source.
pub fn run(args: &GuiArgs) -> anyhow::Result<()> {
    if !display_available() {
        eprintln!("splatrack: no display (DISPLAY and WAYLAND_DISPLAY are unset), so no window: replaying {} headless instead; outputs in out/replay", args.source);
        return headless(args);
    }
    let config = load_config(args.config.as_deref())?;
    // eframe opens the device with what the tracker needs, then both share it.
    let setup = egui_wgpu::WgpuSetupCreateNew {
        device_descriptor: Arc::new(|adapter: &wgpu::Adapter| GpuContext::device_descriptor(adapter)),
        ..egui_wgpu::WgpuSetupCreateNew::without_display_handle()
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1500.0, 950.0]).with_title("splatrack"),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: egui_wgpu::WgpuConfiguration { wgpu_setup: egui_wgpu::WgpuSetup::CreateNew(setup), ..Default::default() },
        ..Default::default()
    };
    let opts = AppOptions {
        source: args.source.clone(),
        open: crate::source::OpenOptions { record: args.record.clone(), first_mask: args.first_mask.clone() },
        config,
        exit_after_frames: args.exit_after_frames,
        screenshot: args.screenshot.clone(),
    };
    let result = eframe::run_native("splatrack", options, Box::new(move |cc| Ok(Box::new(App::new(cc, opts)?))));
    if let Err(e) = result {
        eprintln!("splatrack: cannot open a window ({e}): replaying {} headless instead; outputs in out/replay", args.source);
        return headless(args);
    }
    Ok(())
}

fn headless(args: &GuiArgs) -> anyhow::Result<()> {
    crate::cli::replay::run(&ReplayArgs {
        source: args.source.clone(),
        out: PathBuf::from("out/replay"),
        config: args.config.clone(),
        frames: args.exit_after_frames,
        mesh: None,
        quiet: false,
        first_mask: args.first_mask.clone(),
        record: args.record.clone(),
    })
}
