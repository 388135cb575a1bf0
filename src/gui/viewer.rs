//! A render worker for the GUI's splat views. The UI thread only asks for renders (the newest request
//! wins); this thread uploads models, renders and writes the textures, so a slow GPU (lavapipe) never
//! stalls the UI.

use std::sync::Arc;

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
    Live(LiveRequest),
    Inspector(InspectorRequest),
}

/// The UI's handle on the worker.
pub struct Viewer {
    requests: Sender<Request>,
    /// Render failures, for the UI's banner.
    pub errors: Receiver<String>,
}

impl Viewer {
    /// Starts the worker drawing into `live` (colour, depth, residual) and `inspector`.
    pub fn start(gpu: Arc<GpuContext>, raster: RasterConfig, live: Vec<(ViewMode, Arc<SplatTexture>)>, inspector: Arc<SplatTexture>) -> Self {
        let (requests, rx) = unbounded();
        let (error_tx, errors) = unbounded();
        std::thread::Builder::new()
            .name("gui views".into())
            .spawn(move || {
                let mut worker = Worker { live_renderer: SplatRenderer::new(gpu.clone(), raster), inspector_renderer: SplatRenderer::new(gpu, raster), live_model: None, inspector_model: None };
                while let Ok(first) = rx.recv() {
                    // Only the newest request of each kind matters.
                    let (mut newest_live, mut newest_inspector) = (None, None);
                    for r in std::iter::once(first).chain(rx.try_iter()) {
                        match r {
                            Request::Live(l) => newest_live = Some(l),
                            Request::Inspector(i) => newest_inspector = Some(i),
                        }
                    }
                    if let Some(l) = newest_live
                        && let Err(e) = worker.live(&l, &live)
                    {
                        let _ = error_tx.send(format!("model view: {e}"));
                    }
                    if let Some(i) = newest_inspector
                        && let Err(e) = worker.inspector(&i, &inspector)
                    {
                        let _ = error_tx.send(format!("inspector: {e}"));
                    }
                }
            })
            .expect("spawning the GUI view thread");
        Self { requests, errors }
    }

    /// Asks for the live views to show `r`.
    pub fn live(&self, r: LiveRequest) {
        let _ = self.requests.send(Request::Live(r));
    }

    /// Asks for the inspector to show `r`.
    pub fn inspector(&self, r: InspectorRequest) {
        let _ = self.requests.send(Request::Inspector(r));
    }
}

struct Worker {
    live_renderer: SplatRenderer,
    inspector_renderer: SplatRenderer,
    live_model: Option<(usize, GpuSplats)>,
    inspector_model: Option<(usize, GpuSplats)>,
}

/// The model on the GPU, uploaded again only when the `Arc` changes.
fn uploaded<'a>(cache: &'a mut Option<(usize, GpuSplats)>, renderer: &SplatRenderer, model: &Arc<Splats>) -> anyhow::Result<&'a GpuSplats> {
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
        let small = downsample(&r.frame, 2);
        let k = small.intrinsics;
        let splats = uploaded(&mut self.live_model, &self.live_renderer, &r.model)?;
        let z = r.pose.translation.vector.z as f32;
        for (mode, texture) in textures {
            if texture.size == [k.width, k.height] {
                texture.draw(&mut self.live_renderer, splats, &k, &r.pose, *mode, Some(&small), (z - 0.15, z + 0.15))?;
            }
        }
        Ok(())
    }

    fn inspector(&mut self, r: &InspectorRequest, texture: &SplatTexture) -> anyhow::Result<()> {
        if r.model.is_empty() {
            return Ok(());
        }
        let splats = uploaded(&mut self.inspector_model, &self.inspector_renderer, &r.model)?;
        texture.draw(&mut self.inspector_renderer, splats, &r.intrinsics, &r.pose, ViewMode::Color, None, (0.0, 1.0))?;
        Ok(())
    }
}
