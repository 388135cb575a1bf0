//! A tracking session: the source, tracker and mapping threads, wired by crossbeam channels, with the controls
//! (pause, step, stop) and outputs (results, events, snapshots) the CLI and the GUI share.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use super::TrackerEvent;
use super::keyframes::KeyframeInfo;
use super::mapping::{MapSnapshot, Mapper};
use super::slot::Latest;
use super::tracking::{FrameResult, FrameTracker, KeyframeCandidate};
use crate::config::Config;
use crate::frame::{Intrinsics, Mask, RgbdFrame};
use crate::gpu::context::GpuContext;
use crate::gpu::fit::Fitter;
use crate::source::{FrameSource, SourceError};
use crate::splats::Splats;

/// What a viewer shows of the newest tracked frame.
pub struct TrackerSnapshot {
    pub frame: Arc<RgbdFrame>,
    pub mask: Arc<Mask>,
    pub result: FrameResult,
    /// The model tracking used for this frame, in the object frame.
    pub model: Arc<Splats>,
    /// Per surfel of `model`: the keyframe seq that seeded it.
    pub origin: Arc<Vec<u64>>,
    pub keyframes: Vec<KeyframeInfo>,
    /// Frames per second over the session so far (wall clock).
    pub fps: f64,
}

/// Controls a viewer sends to the tracker thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    Pause,
    Resume,
    /// Track one more frame, then pause.
    Step,
    /// Stop after the current frame, keeping everything so far.
    Stop,
    /// Replay at this multiple of the recording's real time; None as fast as tracking goes.
    Pace(Option<f64>),
}

/// How a session reads its source.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionOptions {
    /// Stop after this many frames.
    pub max_frames: Option<usize>,
    /// Start paused (a viewer's step mode).
    pub paused: bool,
}

/// What a finished session leaves.
pub struct SessionOutput {
    pub map: MapSnapshot,
    pub frames: usize,
    pub wall_s: f64,
    /// Why it stopped early, if it did (the outputs up to then are kept).
    pub error: Option<String>,
}

/// A running session.
pub struct Session {
    /// Every frame's result, in order.
    pub results: Receiver<FrameResult>,
    pub events: Receiver<TrackerEvent>,
    pub latest: Arc<Latest<TrackerSnapshot>>,
    pub map: Arc<Latest<MapSnapshot>>,
    pub name: String,
    pub intrinsics: Intrinsics,
    pub len: Option<usize>,
    control: Sender<Control>,
    tracker: JoinHandle<SessionOutput>,
}

impl Session {
    /// Starts the threads on `source`.
    pub fn start(source: Box<dyn FrameSource>, cfg: Config, ctx: Arc<GpuContext>, options: SessionOptions) -> Self {
        let (name, intrinsics, len, live) =
            (source.name().to_string(), source.intrinsics(), source.len(), source.is_live());
        // A live camera drops the frame the tracker has not taken yet for the newer one; a replay queues.
        let (frame_tx, frame_rx) = bounded::<Result<RgbdFrame, SourceError>>(if live { 1 } else { 2 });
        let stale = frame_rx.clone();
        std::thread::Builder::new()
            .name("source".into())
            .spawn(move || read_source(source, frame_tx, stale, options.max_frames))
            .expect("spawning the source thread");
        let (result_tx, results) = unbounded();
        let (event_tx, events) = unbounded();
        let (control, control_rx) = unbounded();
        let latest = Arc::new(Latest::default());
        let map = Arc::new(Latest::default());
        let (latest2, map2) = (latest.clone(), map.clone());
        let tracker = std::thread::Builder::new()
            .name("tracker".into())
            .spawn(move || run_tracker(frame_rx, control_rx, result_tx, event_tx, latest2, map2, cfg, ctx, options))
            .expect("spawning the tracker thread");
        Self { results, events, latest, map, name, intrinsics, len, control, tracker }
    }

    /// Sends a control to the tracker thread.
    pub fn control(&self, c: Control) {
        let _ = self.control.send(c);
    }

    /// True once the tracker thread has finished.
    pub fn is_finished(&self) -> bool {
        self.tracker.is_finished()
    }

    /// Waits for the session to end.
    pub fn join(self) -> SessionOutput {
        self.tracker.join().unwrap_or_else(|_| SessionOutput {
            map: MapSnapshot::default(),
            frames: 0,
            wall_s: 0.0,
            error: Some("the tracker thread panicked".into()),
        })
    }
}

fn read_source(
    mut source: Box<dyn FrameSource>,
    tx: Sender<Result<RgbdFrame, SourceError>>,
    stale: Receiver<Result<RgbdFrame, SourceError>>,
    max_frames: Option<usize>,
) {
    let live = source.is_live();
    let mut count = 0;
    loop {
        if max_frames.is_some_and(|m| count >= m) {
            return;
        }
        let item = match source.next_frame() {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => return,
            Err(e) => Err(e),
        };
        let failed = item.is_err();
        count += 1;
        if live && tx.is_full() {
            // The tracker is behind: drop the frame it has not taken for the newer one.
            let _ = stale.try_recv();
        }
        if tx.send(item).is_err() || failed {
            return;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_tracker(
    frames: Receiver<Result<RgbdFrame, SourceError>>,
    control: Receiver<Control>,
    results: Sender<FrameResult>,
    events: Sender<TrackerEvent>,
    latest: Arc<Latest<TrackerSnapshot>>,
    map: Arc<Latest<MapSnapshot>>,
    cfg: Config,
    ctx: Arc<GpuContext>,
    options: SessionOptions,
) -> SessionOutput {
    let start = Instant::now();
    let fitter = || Fitter::new(ctx.clone(), cfg.raster, cfg.loss, cfg.optim);
    let (candidate_tx, candidate_rx) = unbounded::<KeyframeCandidate>();
    let mapper = Mapper::new(cfg, fitter(), events.clone());
    let map2 = map.clone();
    let mapping = std::thread::Builder::new()
        .name("mapping".into())
        .spawn(move || mapper.run(candidate_rx, map2))
        .expect("spawning the mapping thread");
    let mut tracker = FrameTracker::new(cfg, (cfg.tracking.fine_iterations > 0).then(fitter));
    let mut seen_map = 0;
    let mut frames_done = 0;
    let mut error = None;
    let mut paused = options.paused;
    let mut step_once = false;
    let mut pace: Option<f64> = None;
    // Wall-clock and stream time at which the current pacing started.
    let mut pace_origin: Option<(Instant, f64)> = None;
    'frames: loop {
        // Controls: drain them; while paused, wait for one.
        loop {
            let next = if paused && !step_once { control.recv().ok() } else { control.try_recv().ok() };
            match next {
                Some(Control::Pause) => paused = true,
                Some(Control::Resume) => paused = false,
                Some(Control::Step) => step_once = true,
                Some(Control::Stop) => break 'frames,
                Some(Control::Pace(p)) => {
                    pace = p.filter(|x| *x > 0.0);
                    pace_origin = None;
                }
                None if paused && !step_once => break 'frames,
                None => break,
            }
        }
        step_once = false;
        let frame = match frames.recv() {
            Ok(Ok(frame)) => frame,
            Ok(Err(e)) => {
                error = Some(e.to_string());
                break;
            }
            Err(_) => break,
        };
        if let Some(speed) = pace {
            let (wall0, stream0) = *pace_origin.get_or_insert((Instant::now(), frame.timestamp_s));
            let due = wall0 + std::time::Duration::from_secs_f64(((frame.timestamp_s - stream0) / speed).max(0.0));
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        if let Some(m) = map.newer_than(&mut seen_map) {
            tracker.update_map(&m);
        }
        match tracker.track(&frame) {
            Ok((result, mask, candidate)) => {
                if let Some(c) = candidate {
                    let seq = c.info.seq;
                    let _ = candidate_tx.send(c);
                    if cfg.mapping.lockstep {
                        wait_until_settled(&map, seq, &mapping);
                    }
                }
                frames_done += 1;
                latest.publish(TrackerSnapshot {
                    frame: Arc::new(frame),
                    mask: Arc::new(mask),
                    result: result.clone(),
                    model: tracker.model(),
                    origin: tracker.origin(),
                    keyframes: map.get().1.map(|m| m.keyframes.clone()).unwrap_or_default(),
                    fps: frames_done as f64 / start.elapsed().as_secs_f64(),
                });
                let _ = results.send(result);
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(e) = &error {
        tracing::error!("{e}");
        let _ = events.send(TrackerEvent::Error(e.clone()));
    }
    drop(candidate_tx);
    let final_map = match mapping.join() {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            let message = format!("mapping failed: {e}");
            let _ = events.send(TrackerEvent::Error(message.clone()));
            error.get_or_insert(message);
            map.get().1.map(|m| (*m).clone()).unwrap_or_default()
        }
        Err(_) => {
            error.get_or_insert("the mapping thread panicked".into());
            MapSnapshot::default()
        }
    };
    map.publish(final_map.clone());
    SessionOutput { map: final_map, frames: frames_done, wall_s: start.elapsed().as_secs_f64(), error }
}

/// Blocks until the mapping worker has taken in candidate `seq` and has nothing pending, or has stopped.
fn wait_until_settled(
    map: &Latest<MapSnapshot>,
    seq: u64,
    worker: &std::thread::JoinHandle<Result<MapSnapshot, crate::gpu::fit::FitError>>,
) {
    // The timeout only lets a worker that stopped on an error be noticed.
    while !worker.is_finished()
        && !map.wait_for(std::time::Duration::from_millis(100), |m| m.incorporated_seq >= seq && m.settled)
    {}
}
