//! The desktop face: an eframe (egui + winit) app on the wgpu device the tracker shares. Without a display
//! it says so and replays headless instead.

pub mod app;
pub mod state;
pub mod texture;
pub mod viewer;

use std::path::PathBuf;
use std::sync::Arc;

use eframe::{egui, egui_wgpu};

use crate::cli::replay::ReplayArgs;
use crate::gpu::GpuContext;
use app::{App, AppOptions};

/// Arguments the app takes (the bare command and `splatrack gui`).
#[derive(Debug, Clone, clap::Args)]
pub struct GuiArgs {
    #[command(flatten)]
    pub input: crate::cli::SourceArgs,
    /// Track this many frames, then (with --screenshot) save a screenshot and exit.
    #[arg(long)]
    pub exit_after_frames: Option<usize>,
    /// Where the screenshot goes (PNG).
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
}

/// True when a window can be opened.
fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Opens the app; without a display, prints why and runs the headless replay of the same source.
pub fn run(args: &GuiArgs) -> anyhow::Result<()> {
    if !display_available() {
        eprintln!(
            "splatrack: no display (DISPLAY and WAYLAND_DISPLAY are unset), so no window: replaying {} headless instead; outputs in out/replay",
            args.input.source
        );
        return headless(args);
    }
    let config = args.input.config()?;
    // eframe opens the device with what the tracker needs, then both share it.
    let setup = egui_wgpu::WgpuSetupCreateNew {
        device_descriptor: Arc::new(|adapter: &wgpu::Adapter| GpuContext::device_descriptor(adapter)),
        ..egui_wgpu::WgpuSetupCreateNew::without_display_handle()
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1500.0, 950.0]).with_title("splatrack"),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: egui_wgpu::WgpuConfiguration {
            wgpu_setup: egui_wgpu::WgpuSetup::CreateNew(setup),
            ..Default::default()
        },
        ..Default::default()
    };
    let opts = AppOptions {
        source: args.input.source.clone(),
        open: args.input.open_options(),
        config,
        exit_after_frames: args.exit_after_frames,
        screenshot: args.screenshot.clone(),
    };
    let result = eframe::run_native("splatrack", options, Box::new(move |cc| Ok(Box::new(App::new(cc, opts)?))));
    if let Err(e) = result {
        eprintln!(
            "splatrack: cannot open a window ({e}): replaying {} headless instead; outputs in out/replay",
            args.input.source
        );
        return headless(args);
    }
    Ok(())
}

fn headless(args: &GuiArgs) -> anyhow::Result<()> {
    crate::cli::replay::run(&ReplayArgs {
        input: args.input.clone(),
        out: PathBuf::from("out/replay"),
        frames: args.exit_after_frames,
        mesh: None,
        quiet: false,
    })
}
