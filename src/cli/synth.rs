//! `splatrack synth`: writes a synthetic sequence with exact ground truth in a benchmark's layout.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::source::synthetic::{Layout, MotionKind, ObjectKind, SequenceSpec, write_sequence};

/// Arguments of `splatrack synth`.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    #[arg(long, value_enum, default_value = "box")]
    object: ObjectKind,
    #[arg(long, value_enum, default_value = "robot")]
    motion: MotionKind,
    #[arg(long, default_value_t = 300)]
    frames: usize,
    /// Image size WIDTHxHEIGHT.
    #[arg(long, default_value = "640x480", value_parser = super::parse_size)]
    size: (u32, u32),
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// On-disk layout.
    #[arg(long, value_enum, default_value = "ycbineoat")]
    format: Layout,
    /// Output folder (the sequence folder for YCBInEOAT, the dataset root for HO3D).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `splatrack synth`.
pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let spec = SequenceSpec {
        object: args.object,
        motion: args.motion,
        frames: args.frames,
        width: args.size.0,
        height: args.size.1,
        seed: args.seed,
    };
    let bar = indicatif::ProgressBar::new(args.frames as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} frames, {per_sec}, eta {eta}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    bar.set_message(spec.name());
    let start = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let seq_dir = write_sequence(spec, args.format, &args.out, threads, &|done| bar.set_position(done as u64))
        .with_context(|| format!("writing {} to {}", spec.name(), args.out.display()))?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "wrote {} frames of {} ({}x{}) to {} in {:.1} s ({:.1} ms/frame); ground-truth mesh {}",
        args.frames,
        spec.name(),
        spec.width,
        spec.height,
        seq_dir.display(),
        seconds,
        1e3 * seconds / args.frames.max(1) as f64,
        seq_dir.join("mesh.obj").display()
    );
    Ok(())
}
