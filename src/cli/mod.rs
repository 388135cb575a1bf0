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

/// Parses `WxH` (e.g. `640x480`).
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT"))?;
    let parse = |v: &str| v.trim().parse::<u32>().ok().filter(|v| *v > 0).ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT"));
    Ok((parse(w)?, parse(h)?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_and_bad_ones_are_refused() {
        assert_eq!(super::parse_size("640x480"), Ok((640, 480)));
        assert_eq!(super::parse_size("64X48"), Ok((64, 48)));
        assert!(super::parse_size("640").is_err() && super::parse_size("0x10").is_err() && super::parse_size("ax3").is_err());
    }
}
