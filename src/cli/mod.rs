//! The command-line face: each subcommand is a thin layer over the library, so everything is scriptable.

mod bench;
mod eval;
mod render;
pub mod replay;
mod synth;

use clap::{Parser, Subcommand};

/// splatrack: track an object's 6D pose while reconstructing it with 2D Gaussian splats, on the GPU.
#[derive(Debug, Parser)]
#[command(name = "splatrack", version, about)]
pub struct Cli {
    /// Without a subcommand splatrack opens the app on the built-in synthetic demo.
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub gui: crate::gui::GuiArgs,
}

/// Everything splatrack does headless.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a 2DGS PLY model through a camera to an RGBA PNG (and optionally a uint16 mm depth PNG).
    Render(render::RenderArgs),
    /// Write a synthetic RGB-D sequence with exact ground truth (YCBInEOAT or HO3D layout).
    Synth(synth::SynthArgs),
    /// Score predicted pose tracks against ground truth (ADD, ADD-S, AUC, pose errors).
    Eval(eval::EvalArgs),
    /// Open the app on a source (the live tracking view, keyframes, plots and the splat inspector).
    Gui(crate::gui::GuiArgs),
    /// Track a sequence headless: writes ob_in_cam/, model.ply, keyframes.json and report.json.
    Replay(replay::ReplayArgs),
    /// Measure the GPU kernels against their CPU references (timings, never assertions).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Parses the command line and runs it.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let Some(command) = cli.command else { return crate::gui::run(&cli.gui) };
    match command {
        Command::Gui(args) => crate::gui::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Bench(cmd) => bench::run(&cmd),
        Command::Synth(args) => synth::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Replay(args) => replay::run(&args),
    }
}

/// Where frames come from and how to track them: shared by `replay`, `gui` and the bare command.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// ycbineoat:DIR | ho3d:DIR/SEQ | synthetic[:object,motion,seed,frames,WxH] | realsense[:SERIAL] | recording:FILE
    #[arg(long, default_value = "synthetic")]
    pub source: String,
    /// TOML file overriding settings (tables raster, loss, optim, seed, tracking, keyframes, mapping, pruning).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// The object's mask in the first frame (PNG, 0 outside), for sources without masks (cameras, recordings).
    #[arg(long)]
    pub first_mask: Option<std::path::PathBuf>,
    /// Record the live camera session to this file while tracking (`realsense` sources; .db3 with SDK 2.59).
    #[arg(long)]
    pub record: Option<std::path::PathBuf>,
}

impl SourceArgs {
    /// Opens the source as these arguments say.
    pub fn open(&self) -> Result<Box<dyn crate::source::FrameSource>, crate::source::SourceError> {
        crate::source::open_with(&self.source, &self.open_options())
    }

    /// Recording and first-mask options (the GUI reopens the source on reset).
    pub fn open_options(&self) -> crate::source::OpenOptions {
        crate::source::OpenOptions { record: self.record.clone(), first_mask: self.first_mask.clone() }
    }

    /// `--config` or the defaults.
    pub fn config(&self) -> anyhow::Result<crate::config::Config> {
        Ok(match &self.config {
            Some(p) => crate::config::Config::load(p)?,
            None => crate::config::Config::default(),
        })
    }
}

/// Parses `WxH` (e.g. `640x480`).
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT"))?;
    let parse =
        |v: &str| v.trim().parse::<u32>().ok().filter(|v| *v > 0).ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT"));
    Ok((parse(w)?, parse(h)?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_and_bad_ones_are_refused() {
        assert_eq!(super::parse_size("640x480"), Ok((640, 480)));
        assert_eq!(super::parse_size("64X48"), Ok((64, 48)));
        assert!(
            super::parse_size("640").is_err()
                && super::parse_size("0x10").is_err()
                && super::parse_size("ax3").is_err()
        );
    }
}
