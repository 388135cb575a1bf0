//! A render worker for the GUI's splat views. The UI thread only asks for renders (the newest request
//! wins); this thread uploads models, renders and writes the textures, so a slow GPU (lavapipe) never
//! stalls the UI.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::texture::{SplatTexture, ViewMode};
use crate::config::RasterConfig;
use crate::frame::{Intrinsics, Pose, RgbdFrame};
use crate::gpu::{GpuContext, GpuSplats, SplatRenderer};
use crate::splats::Splats;
use crate::tracker::geometry::downsample;

/// The model rendered at the tracked pose next to the camera image (half the frame's size).
pub struct LiveRequest {
    pub model: Arc<Splats>,
    pub pose: Pose,
    pub frame: Arc<RgbdFrame>,
}

/// The inspector's model (already recoloured) seen by the orbit camera.
pub struct InspectorRequest {
    pub model: Arc<Splats>,
    pub pose: Pose,
    pub intrinsics: Intrinsics,
}

enum Request {
    Live(u64, LiveRequest),
    Inspector(u64, InspectorRequest),
}

/// Numbers of the last request of each kind (live, inspector) sent and drawn: the views are up to date
/// when they agree.
#[derive(Default)]
struct Progress {
    sent: [AtomicU64; 2],
    drawn: [AtomicU64; 2],
}

/// The UI's handle on the worker.
pub struct Viewer {
    requests: Sender<Request>,
    /// Render failures, for the UI's banner.
    pub errors: Receiver<String>,
    progress: Arc<Progress>,
}

impl Viewer {
    /// Starts the worker drawing into `live` (colour, depth, residual) and `inspector`; the residual view
    /// halves the frame as fitting does, breaking depth at steps over `max_depth_step_m` (the session's
    /// `SeedConfig`).
    pub fn start(
        gpu: Arc<GpuContext>,
        raster: RasterConfig,
        max_depth_step_m: f32,
        live: Vec<(ViewMode, Arc<SplatTexture>)>,
        inspector: Arc<SplatTexture>,
    ) -> Self {
        let (requests, rx) = unbounded();
        let (error_tx, errors) = unbounded();
        let progress = Arc::new(Progress::default());
        let done = progress.clone();
        std::thread::Builder::new()
            .name("gui views".into())
            .spawn(move || {
                let mut worker = Worker {
                    live_renderer: SplatRenderer::new(gpu.clone(), raster),
                    inspector_renderer: SplatRenderer::new(gpu, raster),
                    live_model: None,
                    inspector_model: None,
                    max_depth_step_m,
                };
                while let Ok(first) = rx.recv() {
                    // Only the newest request of each kind matters.
                    let (mut newest_live, mut newest_inspector) = (None, None);
                    for r in std::iter::once(first).chain(rx.try_iter()) {
                        match r {
                            Request::Live(n, l) => newest_live = Some((n, l)),
                            Request::Inspector(n, i) => newest_inspector = Some((n, i)),
                        }
                    }
                    if let Some((n, l)) = newest_live {
                        if let Err(e) = worker.live(&l, &live) {
                            let _ = error_tx.send(format!("model view: {e}"));
                        }
                        done.drawn[0].store(n, Ordering::Release);
                    }
                    if let Some((n, i)) = newest_inspector {
                        if let Err(e) = worker.inspector(&i, &inspector) {
                            let _ = error_tx.send(format!("inspector: {e}"));
                        }
                        done.drawn[1].store(n, Ordering::Release);
                    }
                }
            })
            .expect("spawning the GUI view thread");
        Self { requests, errors, progress }
    }

    /// Asks for the live views to show `r`.
    pub fn live(&self, r: LiveRequest) {
        let n = self.progress.sent[0].fetch_add(1, Ordering::AcqRel) + 1;
        let _ = self.requests.send(Request::Live(n, r));
    }

    /// Asks for the inspector to show `r`.
    pub fn inspector(&self, r: InspectorRequest) {
        let n = self.progress.sent[1].fetch_add(1, Ordering::AcqRel) + 1;
        let _ = self.requests.send(Request::Inspector(n, r));
    }

    /// True once both views have drawn something and every request sent so far (a screenshot then shows
    /// what the UI asked for).
    pub fn up_to_date(&self) -> bool {
        (0..2).all(|k| {
            let (sent, drawn) =
                (self.progress.sent[k].load(Ordering::Acquire), self.progress.drawn[k].load(Ordering::Acquire));
            sent > 0 && drawn == sent
        })
    }
}

struct Worker {
    live_renderer: SplatRenderer,
    inspector_renderer: SplatRenderer,
    live_model: Option<(usize, GpuSplats)>,
    inspector_model: Option<(usize, GpuSplats)>,
    max_depth_step_m: f32,
}

/// The model on the GPU, uploaded again only when the `Arc` changes.
fn uploaded<'a>(
    cache: &'a mut Option<(usize, GpuSplats)>,
    renderer: &SplatRenderer,
    model: &Arc<Splats>,
) -> anyhow::Result<&'a GpuSplats> {
    let key = Arc::as_ptr(model) as usize;
    if cache.as_ref().is_none_or(|(k, _)| *k != key) {
        *cache = Some((key, renderer.upload(model)?));
    }
    Ok(&cache.as_ref().expect("just uploaded").1)
}

impl Worker {
    fn live(&mut self, r: &LiveRequest, textures: &[(ViewMode, Arc<SplatTexture>)]) -> anyhow::Result<()> {
        if r.model.is_empty() {
            return Ok(());
        }
        // The residual view compares against the frame as fitting sees it.
        let small = downsample(&r.frame, 2, self.max_depth_step_m);
        let k = small.intrinsics;
        let splats = uploaded(&mut self.live_model, &self.live_renderer, &r.model)?;
        let z = r.pose.translation.vector.z as f32;
        for (mode, texture) in textures {
            if texture.size == [k.width, k.height] {
                texture.draw(
                    &mut self.live_renderer,
                    splats,
                    &k,
                    &r.pose,
                    *mode,
                    Some(&small),
                    (z - 0.15, z + 0.15),
                )?;
            }
        }
        Ok(())
    }

    fn inspector(&mut self, r: &InspectorRequest, texture: &SplatTexture) -> anyhow::Result<()> {
        if r.model.is_empty() {
            return Ok(());
        }
        let splats = uploaded(&mut self.inspector_model, &self.inspector_renderer, &r.model)?;
        texture.draw(
            &mut self.inspector_renderer,
            splats,
            &r.intrinsics,
            &r.pose,
            ViewMode::Color,
            None,
            (0.0, 1.0),
        )?;
        Ok(())
    }
}
