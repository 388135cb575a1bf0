//! The desktop app: live panel, keyframes and coverage, plots, the splat inspector and the controls. It only
//! reads the tracker's outputs (latest-value slots and channels drained each frame), so it never waits for
//! the tracker.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::{egui, egui_wgpu};
use egui::{Color32, Pos2, Rect, Stroke, Vec2};
use nalgebra::{Point3, Vector3};

use super::state::{
    ColorMode, OrbitCamera, Series, count_below, describe_splat, drop_reason, pick_splat, project, recolored,
    splat_colors,
};
use super::texture::{SplatTexture, ViewMode};
use super::viewer::{InspectorRequest, LiveRequest, Viewer};
use crate::config::Config;
use crate::frame::{Intrinsics, Pose, format_pose};
use crate::gpu::GpuContext;
use crate::splats::Splats;
use crate::splats::ply::write_ply;
use crate::tracker::TrackerEvent;
use crate::tracker::keyframes::{BIN_COUNT, KeyframeInfo, anchors, occupied};
use crate::tracker::session::{Control, Session, SessionOptions, TrackerSnapshot};

/// Size of the inspector's render (pixels).
const INSPECTOR_SIZE: [u32; 2] = [480, 360];
/// Seconds a pruning event stays visible in the inspector.
const FLASH_SECONDS: f32 = 1.5;

/// How the app was started.
pub struct AppOptions {
    pub source: String,
    pub open: crate::source::OpenOptions,
    pub config: Config,
    /// Stop tracking after this many frames, take a screenshot and exit (tests).
    pub exit_after_frames: Option<usize>,
    pub screenshot: Option<PathBuf>,
}

struct KeyframeEntry {
    info: KeyframeInfo,
    thumbnail: egui::TextureHandle,
    dropped: Option<String>,
}

/// Identifies what the inspector shows: the model snapshot, colour mode and pruning preview.
type InspectorKey = (usize, usize, ColorMode, Option<u32>);

/// The app's state.
pub struct App {
    opts: AppOptions,
    gpu: Arc<GpuContext>,
    viewer: Option<Viewer>,
    /// What the views were last asked to draw, so nothing is redrawn without a change.
    live_drawn: Option<usize>,
    inspector_drawn: Option<(InspectorKey, [u64; 6])>,
    session: Option<Session>,
    source_edit: String,
    snapshot: Option<Arc<TrackerSnapshot>>,
    camera_texture: Option<egui::TextureHandle>,
    shown_frame: Option<usize>,
    live_views: Vec<(ViewMode, Arc<SplatTexture>)>,
    inspector: Arc<SplatTexture>,
    /// The recoloured model the inspector shows (picking reads it).
    inspector_model: Option<(InspectorKey, Arc<Splats>)>,
    orbit: OrbitCamera,
    framed: bool,
    color_mode: ColorMode,
    prune_threshold: f32,
    prune_preview: bool,
    selected: Option<usize>,
    keyframes: Vec<KeyframeEntry>,
    flashes: Vec<(Instant, Vec<[f32; 3]>)>,
    loss: Series,
    splat_count: Series,
    /// Surfels tracking used, per frame (mapped plus freshly seeded).
    model_size: Series,
    added: Series,
    pruned: Series,
    fps: Series,
    frame_ms: Series,
    banner: Option<String>,
    help: bool,
    paused: bool,
    speed: f64,
    track: Vec<(String, Pose)>,
    status: String,
    /// CPU time of each UI update while tracking, and the wall time between UI frames.
    ui_frame_ms: Vec<f64>,
    ui_interval_ms: Vec<f64>,
    last_frame: Option<Instant>,
    screenshot_sent: bool,
    screenshots: (crossbeam_channel::Sender<Arc<egui::ColorImage>>, crossbeam_channel::Receiver<Arc<egui::ColorImage>>),
    render_state: Option<egui_wgpu::RenderState>,
}

impl App {
    /// Starts the app and its first session on the GUI's shared GPU device.
    pub fn new(cc: &eframe::CreationContext, opts: AppOptions) -> anyhow::Result<Self> {
        let rs = cc.wgpu_render_state.as_ref().ok_or_else(|| anyhow::anyhow!("the GUI needs the wgpu renderer"))?;
        let gpu = Arc::new(GpuContext::from_device(&rs.adapter, rs.device.clone(), rs.queue.clone()));
        let mut egui_renderer = rs.renderer.write();
        let inspector =
            Arc::new(SplatTexture::new(gpu.clone(), &mut egui_renderer, INSPECTOR_SIZE[0], INSPECTOR_SIZE[1]));
        drop(egui_renderer);
        let mut app = Self {
            viewer: None,
            live_drawn: None,
            inspector_drawn: None,

            source_edit: opts.source.clone(),
            opts,
            gpu,
            session: None,
            snapshot: None,
            camera_texture: None,
            shown_frame: None,
            live_views: Vec::new(),
            inspector,
            inspector_model: None,
            orbit: OrbitCamera::default(),
            framed: false,
            color_mode: ColorMode::Rgb,
            prune_threshold: 0.1,
            prune_preview: false,
            selected: None,
            keyframes: Vec::new(),
            flashes: Vec::new(),
            loss: Series::new(2000),
            splat_count: Series::new(2000),
            model_size: Series::new(2000),
            added: Series::new(2000),
            pruned: Series::new(2000),
            fps: Series::new(2000),
            frame_ms: Series::new(2000),
            banner: None,
            help: false,
            paused: false,
            speed: 1.0,
            track: Vec::new(),
            status: String::new(),
            ui_frame_ms: Vec::new(),
            ui_interval_ms: Vec::new(),
            last_frame: None,
            screenshot_sent: false,
            screenshots: crossbeam_channel::unbounded(),
            render_state: Some(rs.clone()),
        };
        app.start(&cc.egui_ctx);
        Ok(app)
    }

    /// (Re)starts tracking the source in `source_edit`, clearing everything shown.
    fn start(&mut self, ctx: &egui::Context) {
        if let Some(old) = self.session.take() {
            old.control(Control::Stop);
        }
        self.snapshot = None;
        self.shown_frame = None;
        self.live_views.clear();
        self.viewer = None;
        self.live_drawn = None;
        self.inspector_drawn = None;
        self.inspector_model = None;
        self.framed = false;
        self.selected = None;
        self.keyframes.clear();
        self.flashes.clear();
        for s in [
            &mut self.loss,
            &mut self.splat_count,
            &mut self.model_size,
            &mut self.added,
            &mut self.pruned,
            &mut self.fps,
            &mut self.frame_ms,
        ] {
            *s = Series::new(2000);
        }
        self.track.clear();
        self.banner = None;
        match crate::source::open_with(&self.source_edit, &self.opts.open) {
            Ok(source) => {
                let options = SessionOptions {
                    max_frames: self.opts.exit_after_frames,
                    paused: self.paused,
                    ..Default::default()
                };
                let session = Session::start(source, self.opts.config, self.gpu.clone(), options);
                session.control(Control::Pace(Some(self.speed)));
                self.start_viewer(session.intrinsics);
                self.session = Some(session);
            }
            Err(e) => self.banner = Some(format!("cannot open source: {e}")),
        }
        ctx.request_repaint();
    }

    /// Takes in everything the tracker published since the last UI frame.
    fn drain(&mut self, ctx: &egui::Context) {
        let Some(session) = &self.session else { return };
        for r in session.results.try_iter() {
            self.fps.push(r.index as f64, 1000.0 / r.times.total_ms.max(1e-3));
            self.frame_ms.push(r.index as f64, r.times.total_ms);
            self.track.push((r.id.clone(), r.pose));
        }
        // Mapping runs at its own pace: its steps are plotted at the frame tracking had reached.
        let frame_x = self.snapshot.as_ref().map(|s| s.result.index as f64).unwrap_or(0.0);
        for e in session.events.try_iter() {
            match e {
                TrackerEvent::KeyframeAccepted { info, replaced, thumbnail, .. } => {
                    if let Some(old) = replaced {
                        self.keyframes.retain(|k| k.info.seq != old);
                    }
                    let (w, h) = thumbnail.dimensions();
                    let image = egui::ColorImage::from_rgb([w as usize, h as usize], thumbnail.as_raw());
                    let texture = ctx.load_texture(format!("keyframe {}", info.seq), image, Default::default());
                    self.keyframes.push(KeyframeEntry { info, thumbnail: texture, dropped: None });
                }
                TrackerEvent::KeyframeDropped { seq, verdict } => {
                    let factor = self.opts.config.keyframes.mad_factor;
                    if let Some(k) = self.keyframes.iter_mut().find(|k| k.info.seq == seq) {
                        k.dropped = Some(drop_reason(seq, &verdict, factor));
                    }
                }
                TrackerEvent::Pruned { pruned, densified, .. } => {
                    self.pruned.push(frame_x, pruned.removed as f64);
                    self.added.push(frame_x, (densified.cloned + densified.split) as f64);
                    if !pruned.removed_positions.is_empty() {
                        self.flashes.push((Instant::now(), pruned.removed_positions));
                    }
                }
                TrackerEvent::MappingStep { splats, loss, .. } => {
                    self.loss.push(frame_x, loss.total() as f64);
                    self.splat_count.push(frame_x, splats as f64);
                }
                TrackerEvent::Error(message) => self.banner = Some(message),
            }
        }
        if let (_, Some(map)) = session.map.get() {
            for k in &mut self.keyframes {
                if let Some(now) = map.keyframes.iter().find(|m| m.seq == k.info.seq) {
                    k.info = now.clone();
                }
            }
        }
        if let (_, Some(s)) = session.latest.get() {
            if self.snapshot.as_ref().is_none_or(|old| old.result.index != s.result.index) {
                self.model_size.push(s.result.index as f64, s.model.len() as f64);
            }
            self.snapshot = Some(s);
        }
    }

    fn update_status(&mut self) {
        let Some(session) = &self.session else { return };
        let finished = session.is_finished();
        self.status = match &self.snapshot {
            Some(s) => format!(
                "frame {}/{}  {:.1} fps  {} splats  {} keyframes  inliers {:.0}%{}{}",
                s.result.index + 1,
                session.len.map(|n| n.to_string()).unwrap_or("?".into()),
                s.fps,
                s.model.len(),
                self.keyframes.iter().filter(|k| k.dropped.is_none()).count(),
                s.result.inlier_ratio * 100.0,
                if s.result.lost { "  TRACKING LOST" } else { "" },
                if finished { "  (finished)" } else { "" }
            ),
            None => format!("starting {}…", session.name),
        };
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let play = if self.paused { "play" } else { "pause" };
            if ui.button(play).on_hover_text("Space").clicked() {
                self.toggle_pause();
            }
            if ui.button("step").on_hover_text("→ or S").clicked() {
                self.step();
            }
            if ui.button("reset").on_hover_text("R").clicked() {
                self.start(ui.ctx());
            }
            ui.label("speed");
            let before = self.speed;
            ui.add(egui::Slider::new(&mut self.speed, 0.25..=8.0).logarithmic(true).suffix("×"));
            if (before - self.speed).abs() > 1e-9 {
                self.send(Control::Pace(Some(self.speed)));
            }
            if ui.button("max").on_hover_text("as fast as tracking goes").clicked() {
                self.send(Control::Pace(None));
            }
            ui.separator();
            ui.label("source");
            ui.add(egui::TextEdit::singleline(&mut self.source_edit).desired_width(220.0));
            if ui.button("open").clicked() {
                self.start(ui.ctx());
            }
            if ui.button("help").on_hover_text("F1 or H").clicked() {
                self.help = !self.help;
            }
            ui.separator();
            ui.label(&self.status);
        });
    }

    fn send(&self, c: Control) {
        if let Some(s) = &self.session {
            s.control(c);
        }
    }

    fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        self.send(if self.paused { Control::Pause } else { Control::Resume });
    }

    fn step(&mut self) {
        self.paused = true;
        self.send(Control::Pause);
        self.send(Control::Step);
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let keys = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::Space),
                i.key_pressed(egui::Key::ArrowRight) || i.key_pressed(egui::Key::S),
                i.key_pressed(egui::Key::R),
                i.key_pressed(egui::Key::F1) || i.key_pressed(egui::Key::H),
            )
        });
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        if keys.0 {
            self.toggle_pause();
        }
        if keys.1 {
            self.step();
        }
        if keys.2 {
            self.start(ctx);
        }
        if keys.3 {
            self.help = !self.help;
        }
    }

    /// The camera image with the mask, the pose axes and the model's bounding box; then the model rendered
    /// at that pose (colour, depth, residual).
    fn live_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Live");
        let Some(s) = self.snapshot.clone() else {
            ui.label("waiting for the first frame…");
            return;
        };
        if self.shown_frame != Some(s.result.index) {
            let (w, h) = s.frame.rgb.dimensions();
            let mut rgba = Vec::with_capacity((w * h * 4) as usize);
            for (c, m) in s.frame.rgb.pixels().zip(s.mask.pixels()) {
                let tint = if m[0] > 0 { [40u16, 200, 90] } else { [0, 0, 0] };
                let a = if m[0] > 0 { 0.35 } else { 0.0 };
                for ch in 0..3 {
                    rgba.push(((c[ch] as f32) * (1.0 - a) + tint[ch] as f32 * a) as u8);
                }
                rgba.push(255);
            }
            let image = egui::ColorImage::from_rgba_unmultiplied([w as usize, h as usize], &rgba);
            match &mut self.camera_texture {
                Some(t) => t.set(image, Default::default()),
                None => self.camera_texture = Some(ui.ctx().load_texture("camera", image, Default::default())),
            }
            self.shown_frame = Some(s.result.index);
        }
        let k = s.frame.intrinsics;
        let width = ui.available_width().min(560.0);
        let size = Vec2::new(width, width * k.height as f32 / k.width as f32);
        if let Some(t) = &self.camera_texture {
            let response = ui.image((t.id(), size));
            draw_pose_overlay(ui.painter(), response.rect, &k, &s.result.pose, &s.model);
        }
        if self.live_drawn != Some(s.result.index)
            && let Some(viewer) = &self.viewer
        {
            self.live_drawn = Some(s.result.index);
            viewer.live(LiveRequest { model: s.model.clone(), pose: s.result.pose, frame: s.frame.clone() });
        }
        ui.horizontal(|ui| {
            for (mode, tex) in &self.live_views {
                ui.vertical(|ui| {
                    ui.label(match mode {
                        ViewMode::Color => "model: colour",
                        ViewMode::Depth => "depth",
                        ViewMode::Residual => "residual (depth, 2 cm = red)",
                    });
                    ui.image((
                        tex.id,
                        Vec2::new(width / 3.0 - 6.0, (width / 3.0 - 6.0) * k.height as f32 / k.width as f32),
                    ));
                });
            }
        });
    }

    /// Live-view textures at half the source's size and the render worker drawing into them.
    fn start_viewer(&mut self, k: Intrinsics) {
        let Some(rs) = self.render_state.clone() else { return };
        let (w, h) = (k.width / 2, k.height / 2);
        let mut egui_renderer = rs.renderer.write();
        self.live_views = [ViewMode::Color, ViewMode::Depth, ViewMode::Residual]
            .into_iter()
            .map(|m| (m, Arc::new(SplatTexture::new(self.gpu.clone(), &mut egui_renderer, w, h))))
            .collect();
        drop(egui_renderer);
        self.viewer = Some(Viewer::start(
            self.gpu.clone(),
            self.opts.config.raster,
            self.opts.config.seed.max_depth_step_m,
            self.live_views.clone(),
            self.inspector.clone(),
        ));
    }

    fn keyframe_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Keyframes");
        egui::ScrollArea::horizontal().id_salt("kf strip").show(ui, |ui| {
            ui.horizontal(|ui| {
                for k in &self.keyframes {
                    ui.vertical(|ui| {
                        let tint = if k.dropped.is_some() { Color32::from_gray(90) } else { Color32::WHITE };
                        let r = ui.add(egui::Image::new((k.thumbnail.id(), Vec2::new(96.0, 72.0))).tint(tint));
                        if k.dropped.is_some() {
                            ui.painter().line_segment(
                                [r.rect.left_top(), r.rect.right_bottom()],
                                Stroke::new(2.0, Color32::RED),
                            );
                        }
                        ui.label(format!("#{} bin {}", k.info.seq, k.info.bin));
                    });
                }
            });
        });
        ui.label("view-direction coverage (32 bins; filled = keyframe, ring = current view)");
        let (rect, _) = ui.allocate_exact_size(Vec2::splat(180.0), egui::Sense::hover());
        let occupied = occupied(self.keyframes.iter().filter(|k| k.dropped.is_none()).map(|k| &k.info));
        let current = self.snapshot.as_ref().map(|s| crate::tracker::geometry::view_direction(&s.result.pose));
        draw_coverage(ui.painter(), rect, &occupied, current);
        for k in self.keyframes.iter().filter_map(|k| k.dropped.as_ref()) {
            ui.colored_label(Color32::LIGHT_RED, k);
        }
    }

    fn plots(&self, ui: &mut egui::Ui) {
        use egui_plot::{Legend, Line, Plot};
        let height = 130.0;
        ui.columns(3, |cols| {
            Plot::new("loss").height(height).legend(Legend::default()).show(&mut cols[0], |p| {
                p.line(Line::new("mapping loss (x: frame)", self.loss.to_vec()));
            });
            Plot::new("splats").height(height).legend(Legend::default()).show(&mut cols[1], |p| {
                p.line(Line::new("splats tracked (per frame)", self.model_size.to_vec()));
                p.line(Line::new("splats mapped (at each mapping step)", self.splat_count.to_vec()));
                p.line(Line::new("added (densify)", self.added.to_vec()));
                p.line(Line::new("pruned", self.pruned.to_vec()));
            });
            Plot::new("timing").height(height).legend(Legend::default()).show(&mut cols[2], |p| {
                p.line(Line::new("tracker ms/frame", self.frame_ms.to_vec()));
                p.line(Line::new("tracker fps", self.fps.to_vec()));
            });
        });
    }

    /// The orbiting 3D view of the splats with keyframe frustums, colour modes, picking, pruning preview
    /// and export.
    fn inspector_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Inspector");
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("colour").selected_text(self.color_mode.label()).show_ui(ui, |ui| {
                for m in ColorMode::ALL {
                    ui.selectable_value(&mut self.color_mode, m, m.label());
                }
            });
            ui.checkbox(&mut self.prune_preview, "preview pruning below");
            ui.add(egui::Slider::new(&mut self.prune_threshold, 0.0..=1.0));
            if let Some(s) = &self.snapshot {
                ui.label(format!("{} of {} would go", count_below(&s.model, self.prune_threshold), s.model.len()));
            }
        });
        ui.horizontal(|ui| {
            if ui.button("export PLY").clicked() {
                self.export_ply();
            }
            if ui.button("export pose track").clicked() {
                self.export_track();
            }
            if ui.button("frame model").clicked() {
                self.framed = false;
            }
        });
        let Some(s) = self.snapshot.clone() else { return };
        if s.model.is_empty() {
            return;
        }
        if !self.framed {
            self.orbit.frame(&s.model.means);
            self.framed = true;
        }
        let k = Intrinsics::from_fov(INSPECTOR_SIZE[0], INSPECTOR_SIZE[1], 50.0);
        let preview = self.prune_preview.then_some(self.prune_threshold);
        let key: InspectorKey =
            (Arc::as_ptr(&s.model) as usize, s.model.len(), self.color_mode, preview.map(f32::to_bits));
        if self.inspector_model.as_ref().is_none_or(|(k, _)| *k != key) {
            let colors = splat_colors(&s.model, &s.origin, self.color_mode, preview);
            self.inspector_model =
                Some((key, Arc::new(recolored(&s.model, &colors, self.color_mode != ColorMode::Rgb))));
        }
        let pose = self.orbit.pose();
        let o = &self.orbit;
        let camera = [o.yaw, o.pitch, o.distance, o.target.x, o.target.y, o.target.z].map(f64::to_bits);
        if let (Some((key, shown)), Some(viewer)) = (&self.inspector_model, &self.viewer)
            && self.inspector_drawn != Some((*key, camera))
        {
            self.inspector_drawn = Some((*key, camera));
            viewer.inspector(InspectorRequest { model: shown.clone(), pose, intrinsics: k });
        }
        let avail = ui.available_width().min(720.0);
        let size = Vec2::new(avail, avail * INSPECTOR_SIZE[1] as f32 / INSPECTOR_SIZE[0] as f32);
        let response = ui.add(egui::Image::new((self.inspector.id, size)).sense(egui::Sense::click_and_drag()));
        let rect = response.rect;
        let scale = rect.width() / INSPECTOR_SIZE[0] as f32;
        if response.dragged_by(egui::PointerButton::Primary) && !ui.input(|i| i.modifiers.shift) {
            let d = response.drag_delta();
            self.orbit.orbit(d.x as f64, d.y as f64);
        } else if response.dragged() {
            let d = response.drag_delta();
            self.orbit.pan(d.x as f64 / scale as f64, d.y as f64 / scale as f64);
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                self.orbit.zoom(scroll as f64);
            }
        }
        if response.clicked()
            && let (Some(pos), Some((_, shown))) = (response.interact_pointer_pos(), &self.inspector_model)
        {
            let click = ((pos.x - rect.left()) / scale, (pos.y - rect.top()) / scale);
            self.selected = pick_splat(shown, &pose, &k, (click.0 as f64, click.1 as f64), 6.0);
        }
        let painter = ui.painter_at(rect);
        let to_screen = |p: &Vector3<f64>| {
            project(&pose, &k, p).map(|(x, y, _)| rect.left_top() + Vec2::new(x as f32, y as f32) * scale)
        };
        for kf in self.keyframes.iter().filter(|k| k.dropped.is_none()) {
            draw_frustum(&painter, &kf.info.pose, &to_screen, Color32::from_rgb(250, 200, 60));
        }
        self.flashes.retain(|(t, _)| t.elapsed().as_secs_f32() < FLASH_SECONDS);
        for (t, points) in &self.flashes {
            let fade = 1.0 - t.elapsed().as_secs_f32() / FLASH_SECONDS;
            for p in points {
                if let Some(q) = to_screen(&Vector3::from(*p).cast()) {
                    painter.circle_stroke(
                        q,
                        4.0,
                        Stroke::new(1.5, Color32::from_rgba_unmultiplied(255, 40, 40, (255.0 * fade) as u8)),
                    );
                }
            }
        }
        if let (Some(i), Some((_, shown))) = (self.selected, &self.inspector_model)
            && i < shown.len()
            && i < s.model.len()
        {
            if let Some(q) = to_screen(&Vector3::from(shown.means[i]).cast()) {
                painter.circle_stroke(q, 7.0, Stroke::new(2.0, Color32::WHITE));
            }
            ui.monospace(describe_splat(&s.model, i));
        } else {
            ui.label("drag: orbit · shift-drag: pan · scroll: zoom · click: pick a splat");
        }
    }

    fn export_ply(&mut self) {
        let Some(s) = &self.snapshot else { return };
        let path = PathBuf::from("out/gui/model.ply");
        let result = std::fs::create_dir_all("out/gui")
            .map_err(anyhow::Error::from)
            .and_then(|_| Ok(write_ply(&path, &s.model)?));
        self.banner = Some(match result {
            Ok(()) => format!("exported {} splats to {}", s.model.len(), path.display()),
            Err(e) => format!("export failed: {e}"),
        });
    }

    fn export_track(&mut self) {
        let dir = PathBuf::from("out/gui/ob_in_cam");
        let result = std::fs::create_dir_all(&dir).map_err(anyhow::Error::from).and_then(|_| {
            for (id, pose) in &self.track {
                std::fs::write(dir.join(format!("{id}.txt")), format_pose(pose))?;
            }
            Ok(())
        });
        self.banner = Some(match result {
            Ok(()) => format!("exported {} poses to {}", self.track.len(), dir.display()),
            Err(e) => format!("export failed: {e}"),
        });
    }

    /// Test mode: once the wanted frames are tracked and shown, take a screenshot and exit.
    fn screenshot_and_exit(&mut self, ctx: &egui::Context) {
        let Some(n) = self.opts.exit_after_frames else { return };
        let done = self.snapshot.as_ref().is_some_and(|s| s.result.index + 1 >= n)
            || self.session.as_ref().is_some_and(|s| s.is_finished());
        let shown = self.shown_frame.is_some()
            && !self.keyframes.is_empty()
            && self.viewer.as_ref().is_some_and(Viewer::up_to_date);
        if done && shown && !self.screenshot_sent {
            self.screenshot_sent = true;
            let tx = self.screenshots.0.clone();
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                let _ = tx.send(image);
                repaint.request_repaint();
            });
        }
        if let Ok(image) = self.screenshots.1.try_recv() {
            if let Some(path) = &self.opts.screenshot {
                let [w, h] = image.size;
                let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
                match image::RgbaImage::from_raw(w as u32, h as u32, rgba).map(|img| img.save(path)) {
                    Some(Ok(())) => eprintln!("screenshot: {} ({w}x{h})", path.display()),
                    _ => eprintln!("screenshot: cannot write {}", path.display()),
                }
            }
            let (cpu_mean, cpu_p95) = mean_and_p95(&self.ui_frame_ms);
            let (gap_mean, gap_p95) = mean_and_p95(&self.ui_interval_ms);
            eprintln!(
                "UI while tracking ({} frames): update {cpu_mean:.1} ms mean, {cpu_p95:.1} ms p95; frame interval {gap_mean:.1} ms mean, {gap_p95:.1} ms p95",
                self.ui_frame_ms.len()
            );
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let start = Instant::now();
        let ctx = ui.ctx().clone();
        self.drain(&ctx);
        if let Some(e) = self.viewer.as_ref().and_then(|v| v.errors.try_iter().last()) {
            self.banner = Some(e);
        }
        self.shortcuts(&ctx);
        self.update_status();
        egui::Panel::top("controls").show(ui, |ui| {
            self.controls(ui);
            if let Some(message) = self.banner.clone() {
                ui.horizontal(|ui| {
                    ui.colored_label(Color32::from_rgb(255, 120, 100), format!("error: {message}"));
                    if ui.small_button("dismiss").clicked() {
                        self.banner = None;
                    }
                });
            }
        });
        egui::Panel::bottom("plots").resizable(true).show(ui, |ui| self.plots(ui));
        egui::Panel::left("live").resizable(true).default_size(560.0).show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("live scroll")
                .auto_shrink([false, false])
                .show(ui, |ui| self.live_panel(ui));
        });
        egui::Panel::right("keyframes").resizable(true).default_size(300.0).show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("kf scroll")
                .auto_shrink([false, false])
                .show(ui, |ui| self.keyframe_panel(ui));
        });
        egui::CentralPanel::default().show(ui, |ui| self.inspector_panel(ui));
        if self.help {
            egui::Window::new("Keyboard shortcuts").collapsible(false).show(&ctx, |ui| {
                egui::Grid::new("keys").show(ui, |ui| {
                    for (key, what) in [
                        ("Space", "play / pause"),
                        ("→ or S", "step one frame"),
                        ("R", "reset (restart the source)"),
                        ("F1 or H", "this help"),
                        ("drag / shift-drag / scroll", "orbit / pan / zoom the inspector"),
                        ("click", "pick a splat"),
                    ] {
                        ui.monospace(key);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        }
        self.screenshot_and_exit(&ctx);
        if self.session.as_ref().is_some_and(|s| !s.is_finished()) {
            self.ui_frame_ms.push(start.elapsed().as_secs_f64() * 1e3);
            if let Some(last) = self.last_frame {
                self.ui_interval_ms.push(start.duration_since(last).as_secs_f64() * 1e3);
            }
        }
        self.last_frame = Some(start);
        ctx.request_repaint_after(Duration::from_millis(15));
    }

    fn on_exit(&mut self) {
        if let Some(s) = self.session.take() {
            s.control(Control::Stop);
        }
    }
}

/// Mean and 95th percentile of a list of times.
fn mean_and_p95(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (values.iter().sum::<f64>() / values.len() as f64, sorted[((sorted.len() - 1) as f64 * 0.95).round() as usize])
}

/// Object axes (x red, y green, z blue, 5 cm) and the model's bounding box over the camera image.
fn draw_pose_overlay(painter: &egui::Painter, rect: Rect, k: &Intrinsics, pose: &Pose, model: &Splats) {
    let scale = rect.width() / k.width as f32;
    let to_screen =
        |p: &Vector3<f64>| project(pose, k, p).map(|(x, y, _)| rect.left_top() + Vec2::new(x as f32, y as f32) * scale);
    if !model.is_empty() {
        let (mut lo, mut hi) = (Vector3::repeat(f64::INFINITY), Vector3::repeat(f64::NEG_INFINITY));
        for m in &model.means {
            let p = Vector3::from(*m).cast::<f64>();
            lo = lo.inf(&p);
            hi = hi.sup(&p);
        }
        let corner = |i: usize| {
            Vector3::new(
                if i & 1 == 0 { lo.x } else { hi.x },
                if i & 2 == 0 { lo.y } else { hi.y },
                if i & 4 == 0 { lo.z } else { hi.z },
            )
        };
        for (a, b) in [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)] {
            if let (Some(p), Some(q)) = (to_screen(&corner(a)), to_screen(&corner(b))) {
                painter.line_segment([p, q], Stroke::new(1.5, Color32::from_rgb(255, 220, 0)));
            }
        }
    }
    let origin = Vector3::zeros();
    for (axis, color) in
        [(Vector3::x(), Color32::RED), (Vector3::y(), Color32::GREEN), (Vector3::z(), Color32::from_rgb(60, 120, 255))]
    {
        if let (Some(p), Some(q)) = (to_screen(&origin), to_screen(&(axis * 0.05))) {
            painter.line_segment([p, q], Stroke::new(2.5, color));
        }
    }
}

/// A keyframe camera as a small frustum in the inspector.
fn draw_frustum(
    painter: &egui::Painter,
    kf_pose: &Pose,
    to_screen: &dyn Fn(&Vector3<f64>) -> Option<Pos2>,
    color: Color32,
) {
    let to_object = kf_pose.inverse();
    let at = |x: f64, y: f64, z: f64| (to_object * Point3::new(x, y, z)).coords;
    let centre = at(0.0, 0.0, 0.0);
    let corners = [at(-0.02, -0.015, 0.03), at(0.02, -0.015, 0.03), at(0.02, 0.015, 0.03), at(-0.02, 0.015, 0.03)];
    let stroke = Stroke::new(1.0, color);
    for i in 0..4 {
        if let (Some(a), Some(b), Some(c)) =
            (to_screen(&centre), to_screen(&corners[i]), to_screen(&corners[(i + 1) % 4]))
        {
            painter.line_segment([a, b], stroke);
            painter.line_segment([b, c], stroke);
        }
    }
}

/// The 32 anchor directions seen from a fixed oblique viewpoint: front hemisphere bright, back dim; filled
/// where a keyframe holds the bin; a ring at the current view direction.
fn draw_coverage(painter: &egui::Painter, rect: Rect, occupied: &[bool; BIN_COUNT], current: Option<Vector3<f64>>) {
    let view = nalgebra::UnitQuaternion::from_euler_angles(0.5, 0.6, 0.0);
    let centre = rect.center();
    let radius = rect.width() * 0.42;
    painter.circle_stroke(centre, radius, Stroke::new(1.0, Color32::GRAY));
    let place = |d: &Vector3<f64>| {
        let v = view * d;
        (centre + Vec2::new(v.x as f32, -v.y as f32) * radius, v.z < 0.0)
    };
    for (bin, d) in anchors().iter().enumerate() {
        let (p, front) = place(d);
        let base = if front { 230 } else { 110 };
        if occupied[bin] {
            painter.circle_filled(p, 7.0, Color32::from_rgb(60, base, 120));
        } else {
            painter.circle_stroke(p, 6.0, Stroke::new(1.0, Color32::from_gray(base)));
        }
    }
    if let Some(d) = current {
        let (p, _) = place(&d);
        painter.circle_stroke(p, 10.0, Stroke::new(2.0, Color32::from_rgb(255, 220, 0)));
    }
}
