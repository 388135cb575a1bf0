//! Intel RealSense input through librealsense: live cameras (`realsense[:SERIAL]`), optionally recording the
//! session, and librealsense recordings (`recording:FILE`: .bag, or the .db3 files SDK 2.59 records).
//!
//! Cameras are listed with `realsense-rust`; streaming uses the C API underneath it (`realsense-sys`), because
//! playback speed and recording need the raw device handle `realsense-rust` keeps private. Colour is RGB8,
//! depth Z16 scaled by the device's depth unit and aligned to colour here (deproject, move by the
//! extrinsics, project, nearest surface wins); intrinsics come from the colour stream.
//!
//! Why recordings are read sensor by sensor rather than through a pipeline: in non-real-time playback the
//! player waits for the frame callback before reading on, but a pipeline's callback only drops the frame
//! into a small queue that discards the oldest frame when full, and frames held in queues also exhaust the
//! sensor's frame pool. Either way frames pushed faster than they are consumed are lost (the "2 of 10
//! frames" effect). Our callback copies each frame, releases it at once and hands the copy over a bounded
//! channel that blocks, so the player waits for the tracker and no frame is skipped. The recording ends when
//! the player reports it stopped, not after a quiet moment (a busy machine once lost the last frames so).

use std::collections::HashSet;
use std::ffi::{CStr, CString, c_void};
use std::path::{Path, PathBuf};
use std::ptr::{NonNull, null_mut};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use nalgebra::{Matrix3, Vector3};
use realsense_sys as sys;

use super::{FrameSource, SourceError};
use crate::frame::{DepthImage, Intrinsics, RgbdFrame};

/// What a live camera is asked for.
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 480;
pub const FPS: u32 = 30;

/// How long to wait for a live frame before calling the camera gone (ms).
const LIVE_TIMEOUT_MS: u32 = 2000;
/// How often a waiting recording source checks whether the player has stopped.
const PLAYBACK_POLL: Duration = Duration::from_millis(100);
/// A player that neither delivers nor stops for this long has stalled (a truncated file).
const PLAYBACK_STALL: Duration = Duration::from_secs(30);
/// Colour and depth frames further apart than this (s) are not a pair.
const PAIR_TOLERANCE_S: f64 = 0.017;

/// A librealsense error as text, the failing function and the SDK's own message.
fn take_error(err: *mut sys::rs2_error) -> Option<String> {
    if err.is_null() {
        return None;
    }
    // SAFETY: `err` came from an rs2_* call and is freed exactly once here.
    unsafe {
        let message = CStr::from_ptr(sys::rs2_get_error_message(err)).to_string_lossy().into_owned();
        let function = CStr::from_ptr(sys::rs2_get_failed_function(err)).to_string_lossy().into_owned();
        sys::rs2_free_error(err);
        Some(format!("{function}: {message}"))
    }
}

/// Runs one rs2_* call with an error out-parameter, turning a failure into `Err(message)`.
fn call<T>(f: impl FnOnce(*mut *mut sys::rs2_error) -> T) -> Result<T, String> {
    let mut err = null_mut();
    let value = f(&mut err);
    take_error(err).map_or(Ok(value), Err)
}

fn non_null<T>(p: *mut T, what: &str) -> Result<NonNull<T>, String> {
    NonNull::new(p).ok_or_else(|| format!("librealsense returned no {what}"))
}

/// Serial numbers and names of the connected cameras, through realsense-rust.
pub fn connected_cameras() -> Result<Vec<(String, String)>, String> {
    use realsense_rust::kind::Rs2CameraInfo;
    let context = realsense_rust::context::Context::new().map_err(|e| e.to_string())?;
    let info =
        |d: &realsense_rust::device::Device, i| d.info(i).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(context
        .query_devices(HashSet::new())
        .iter()
        .map(|d| (info(d, Rs2CameraInfo::SerialNumber), info(d, Rs2CameraInfo::Name)))
        .collect())
}

/// One colour or depth frame copied out of the SDK.
struct Raw {
    timestamp_s: f64,
    intrinsics: Intrinsics,
    /// The stream profile (owned by its sensor, which outlives the source), for the extrinsics.
    profile: *const sys::rs2_stream_profile,
    image: RawImage,
}

enum RawImage {
    Color(image::RgbImage),
    /// Z16 values; 0 is no reading.
    Depth(image::ImageBuffer<image::Luma<u16>, Vec<u16>>),
}

// SAFETY: `profile` is only used for rs2_get_extrinsics, which is thread-safe, while its sensor lives.
unsafe impl Send for Raw {}

/// Copies a colour (RGB8) or depth (Z16) frame; None for other streams.
unsafe fn copy_frame(frame: *mut sys::rs2_frame) -> Result<Option<Raw>, String> {
    unsafe {
        let profile = call(|e| sys::rs2_get_frame_stream_profile(frame, e))?;
        let (mut stream, mut format, mut index, mut uid, mut rate) = (0, 0, 0, 0, 0);
        call(|e| {
            sys::rs2_get_stream_profile_data(profile, &mut stream, &mut format, &mut index, &mut uid, &mut rate, e)
        })?;
        let is_color = stream == sys::rs2_stream_RS2_STREAM_COLOR && format == sys::rs2_format_RS2_FORMAT_RGB8;
        let is_depth = stream == sys::rs2_stream_RS2_STREAM_DEPTH && format == sys::rs2_format_RS2_FORMAT_Z16;
        if !is_color && !is_depth {
            return Ok(None);
        }
        let w = call(|e| sys::rs2_get_frame_width(frame, e))? as u32;
        let h = call(|e| sys::rs2_get_frame_height(frame, e))? as u32;
        let stride = call(|e| sys::rs2_get_frame_stride_in_bytes(frame, e))? as usize;
        let data = call(|e| sys::rs2_get_frame_data(frame, e))? as *const u8;
        let bytes = std::slice::from_raw_parts(data, stride * h as usize);
        let mut k = sys::rs2_intrinsics {
            width: 0,
            height: 0,
            ppx: 0.0,
            ppy: 0.0,
            fx: 0.0,
            fy: 0.0,
            model: 0,
            coeffs: [0.0; 5],
        };
        call(|e| sys::rs2_get_video_stream_intrinsics(profile, &mut k, e))?;
        // librealsense puts pixel centres on integers, splatrack at +0.5.
        let intrinsics = Intrinsics {
            width: w,
            height: h,
            fx: k.fx as f64,
            fy: k.fy as f64,
            cx: k.ppx as f64 + 0.5,
            cy: k.ppy as f64 + 0.5,
        };
        let timestamp_s = call(|e| sys::rs2_get_frame_timestamp(frame, e))? / 1000.0;
        let image = if is_color {
            RawImage::Color(image::RgbImage::from_fn(w, h, |x, y| {
                let p = y as usize * stride + 3 * x as usize;
                image::Rgb([bytes[p], bytes[p + 1], bytes[p + 2]])
            }))
        } else {
            RawImage::Depth(image::ImageBuffer::from_fn(w, h, |x, y| {
                let p = y as usize * stride + 2 * x as usize;
                image::Luma([u16::from_le_bytes([bytes[p], bytes[p + 1]])])
            }))
        };
        Ok(Some(Raw { timestamp_s, intrinsics, profile, image }))
    }
}

/// Depth (Z16 × `scale` metres) re-sampled onto the colour camera's pixels: each depth pixel is
/// back-projected, moved by the depth-to-colour extrinsics and projected; the nearest surface wins.
pub fn align_depth(
    depth: &image::ImageBuffer<image::Luma<u16>, Vec<u16>>,
    depth_k: &Intrinsics,
    rotation: &Matrix3<f64>,
    translation: &Vector3<f64>,
    color_k: &Intrinsics,
    scale: f32,
) -> DepthImage {
    let mut out = DepthImage::new(color_k.width, color_k.height);
    let identity = *rotation == Matrix3::identity() && *translation == Vector3::zeros();
    if identity && depth_k == color_k {
        for (o, d) in out.pixels_mut().zip(depth.pixels()) {
            o[0] = d[0] as f32 * scale;
        }
        return out;
    }
    for (x, y, d) in depth.enumerate_pixels() {
        if d[0] == 0 {
            continue;
        }
        let z = d[0] as f64 * scale as f64;
        let p = Vector3::new(
            (x as f64 + 0.5 - depth_k.cx) / depth_k.fx * z,
            (y as f64 + 0.5 - depth_k.cy) / depth_k.fy * z,
            z,
        );
        let q = rotation * p + translation;
        if q.z <= 0.0 {
            continue;
        }
        let (u, v) = (color_k.fx * q.x / q.z + color_k.cx, color_k.fy * q.y / q.z + color_k.cy);
        if u < 0.0 || v < 0.0 || u >= color_k.width as f64 || v >= color_k.height as f64 {
            continue;
        }
        let px = out.get_pixel_mut(u as u32, v as u32);
        if px[0] == 0.0 || (q.z as f32) < px[0] {
            px[0] = q.z as f32;
        }
    }
    out
}

/// Pairs colour and depth frames by timestamp (the streams may arrive interleaved in any order) and aligns
/// the depth.
struct Pairing {
    color: std::collections::VecDeque<Raw>,
    depth: std::collections::VecDeque<Raw>,
    depth_scale: f32,
    /// Depth-to-colour rotation and translation, read once.
    extrinsics: Option<(Matrix3<f64>, Vector3<f64>)>,
}

impl Pairing {
    fn new(depth_scale: f32) -> Self {
        Self { color: Default::default(), depth: Default::default(), depth_scale, extrinsics: None }
    }

    /// Takes one frame; returns a colour frame with aligned depth once both halves of a pair are in.
    fn push(&mut self, raw: Raw) -> Result<Option<(image::RgbImage, DepthImage, Intrinsics, f64)>, String> {
        match raw.image {
            RawImage::Color(_) => self.color.push_back(raw),
            RawImage::Depth(_) => self.depth.push_back(raw),
        }
        loop {
            let (Some(c), Some(d)) = (self.color.front(), self.depth.front()) else { return Ok(None) };
            if (c.timestamp_s - d.timestamp_s).abs() <= PAIR_TOLERANCE_S {
                break;
            }
            // The older one has no partner: it was dropped by the camera or the recorder.
            if c.timestamp_s < d.timestamp_s {
                self.color.pop_front();
            } else {
                self.depth.pop_front();
            }
        }
        let (c, d) = (self.color.pop_front().expect("checked"), self.depth.pop_front().expect("checked"));
        if self.extrinsics.is_none() {
            let mut x = sys::rs2_extrinsics { rotation: [0.0; 9], translation: [0.0; 3] };
            // SAFETY: both profiles belong to sensors that outlive the source.
            call(|e| unsafe { sys::rs2_get_extrinsics(d.profile, c.profile, &mut x, e) })?;
            let r = Matrix3::from_column_slice(&x.rotation.map(|v| v as f64));
            self.extrinsics = Some((r, Vector3::from(x.translation.map(|v| v as f64))));
        }
        let (rotation, translation) = self.extrinsics.expect("just read");
        let (RawImage::Color(rgb), RawImage::Depth(z16)) = (c.image, d.image) else {
            unreachable!("sorted by kind above")
        };
        let depth = align_depth(&z16, &d.intrinsics, &rotation, &translation, &c.intrinsics, self.depth_scale);
        Ok(Some((rgb, depth, c.intrinsics, c.timestamp_s)))
    }
}

/// A live camera through a pipeline (which drops stale frames, as live input should).
struct LivePipeline {
    context: NonNull<sys::rs2_context>,
    pipeline: NonNull<sys::rs2_pipeline>,
    profile: NonNull<sys::rs2_pipeline_profile>,
    pairing: Pairing,
}

/// A recording read through its playback device's sensors, not in real time.
struct Player {
    context: NonNull<sys::rs2_context>,
    device: NonNull<sys::rs2_device>,
    sensors: Vec<(NonNull<sys::rs2_sensor>, NonNull<sys::rs2_stream_profile_list>)>,
    /// Boxed so its address, handed to the SDK's callback, stays put.
    sender: *mut Sender<Raw>,
    frames: Receiver<Raw>,
    pairing: Pairing,
}

// SAFETY: librealsense objects may be used from any thread; each source moves to its thread once.
unsafe impl Send for LivePipeline {}
unsafe impl Send for Player {}

impl Drop for LivePipeline {
    fn drop(&mut self) {
        // SAFETY: created by the matching rs2_create_*, deleted once. Stopping flushes a recording to disk.
        unsafe {
            let mut err = null_mut();
            sys::rs2_pipeline_stop(self.pipeline.as_ptr(), &mut err);
            let _ = take_error(err);
            sys::rs2_delete_pipeline_profile(self.profile.as_ptr());
            sys::rs2_delete_pipeline(self.pipeline.as_ptr());
            sys::rs2_delete_context(self.context.as_ptr());
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        // SAFETY: the receiver goes first so a blocked callback returns; then the sensors stop (no more
        // callbacks), and only then is the sender the callback used freed.
        unsafe {
            let (_, unblock) = bounded(0);
            drop(std::mem::replace(&mut self.frames, unblock));
            for (sensor, profiles) in &self.sensors {
                let mut err = null_mut();
                sys::rs2_stop(sensor.as_ptr(), &mut err);
                let _ = take_error(err);
                sys::rs2_close(sensor.as_ptr(), &mut err);
                let _ = take_error(err);
                sys::rs2_delete_stream_profiles_list(profiles.as_ptr());
                sys::rs2_delete_sensor(sensor.as_ptr());
            }
            drop(Box::from_raw(self.sender));
            sys::rs2_delete_device(self.device.as_ptr());
            sys::rs2_delete_context(self.context.as_ptr());
        }
    }
}

/// The SDK's frame callback for playback: copy, release, hand over (blocking while the tracker is behind).
unsafe extern "C" fn on_playback_frame(frame: *mut sys::rs2_frame, user: *mut c_void) {
    // SAFETY: `user` is the boxed sender, alive until every sensor has stopped; the frame is ours to release.
    unsafe {
        let sender = &*(user as *const Sender<Raw>);
        if let Ok(Some(raw)) = copy_frame(frame) {
            let _ = sender.send(raw);
        }
        sys::rs2_release_frame(frame);
    }
}

/// The depth unit (metres per Z16 step) of a device's depth sensor.
unsafe fn depth_scale(device: *mut sys::rs2_device) -> Option<f32> {
    unsafe {
        let sensors = call(|e| sys::rs2_query_sensors(device, e)).ok()?;
        let count = call(|e| sys::rs2_get_sensors_count(sensors, e)).unwrap_or(0);
        let mut scale = None;
        for i in 0..count {
            let Ok(sensor) = call(|e| sys::rs2_create_sensor(sensors, i, e)) else { continue };
            if call(|e| sys::rs2_is_sensor_extendable_to(sensor, sys::rs2_extension_RS2_EXTENSION_DEPTH_SENSOR, e))
                .unwrap_or(0)
                != 0
            {
                scale = call(|e| sys::rs2_get_depth_scale(sensor, e)).ok();
            }
            sys::rs2_delete_sensor(sensor);
        }
        sys::rs2_delete_sensor_list(sensors);
        scale
    }
}

fn new_context() -> Result<NonNull<sys::rs2_context>, String> {
    // SAFETY: plain constructor call.
    non_null(call(|e| unsafe { sys::rs2_create_context(sys::RS2_API_VERSION as i32, e) })?, "context")
}

impl LivePipeline {
    fn start(serial: Option<&str>, record: Option<&Path>) -> Result<Self, String> {
        // SAFETY: C API calls as documented; every object is deleted on every path (Drop or below).
        unsafe {
            let context = new_context()?;
            let pipeline =
                match call(|e| sys::rs2_create_pipeline(context.as_ptr(), e)).and_then(|p| non_null(p, "pipeline")) {
                    Ok(p) => p,
                    Err(e) => {
                        sys::rs2_delete_context(context.as_ptr());
                        return Err(e);
                    }
                };
            let cleanup = |message: String| {
                sys::rs2_delete_pipeline(pipeline.as_ptr());
                sys::rs2_delete_context(context.as_ptr());
                message
            };
            let config = non_null(call(|e| sys::rs2_create_config(e)).map_err(cleanup)?, "config").map_err(cleanup)?;
            let configured = (|| -> Result<(), String> {
                if let Some(serial) = serial {
                    let s = CString::new(serial).map_err(|e| e.to_string())?;
                    call(|e| sys::rs2_config_enable_device(config.as_ptr(), s.as_ptr(), e))?;
                }
                if let Some(record) = record {
                    let file = CString::new(record.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
                    call(|e| sys::rs2_config_enable_record_to_file(config.as_ptr(), file.as_ptr(), e))?;
                }
                let (w, h, fps) = (WIDTH as i32, HEIGHT as i32, FPS as i32);
                call(|e| {
                    sys::rs2_config_enable_stream(
                        config.as_ptr(),
                        sys::rs2_stream_RS2_STREAM_COLOR,
                        -1,
                        w,
                        h,
                        sys::rs2_format_RS2_FORMAT_RGB8,
                        fps,
                        e,
                    )
                })?;
                call(|e| {
                    sys::rs2_config_enable_stream(
                        config.as_ptr(),
                        sys::rs2_stream_RS2_STREAM_DEPTH,
                        -1,
                        w,
                        h,
                        sys::rs2_format_RS2_FORMAT_Z16,
                        fps,
                        e,
                    )
                })?;
                Ok(())
            })();
            let profile = configured
                .and_then(|_| call(|e| sys::rs2_pipeline_start_with_config(pipeline.as_ptr(), config.as_ptr(), e)));
            sys::rs2_delete_config(config.as_ptr());
            let profile = profile.and_then(|p| non_null(p, "pipeline profile")).map_err(cleanup)?;
            let device = call(|e| sys::rs2_pipeline_profile_get_device(profile.as_ptr(), e));
            let scale = device.as_ref().ok().and_then(|d| depth_scale(*d)).unwrap_or(0.001);
            if let Ok(d) = device {
                sys::rs2_delete_device(d);
            }
            Ok(Self { context, pipeline, profile, pairing: Pairing::new(scale) })
        }
    }

    fn next(&mut self) -> Result<Option<(image::RgbImage, DepthImage, Intrinsics, f64)>, String> {
        // SAFETY: the frameset and its extracted frames are released once each.
        unsafe {
            let mut set = null_mut();
            if call(|e| sys::rs2_pipeline_try_wait_for_frames(self.pipeline.as_ptr(), &mut set, LIVE_TIMEOUT_MS, e))?
                == 0
                || set.is_null()
            {
                return Ok(None);
            }
            let count = call(|e| sys::rs2_embedded_frames_count(set, e));
            let mut out = Ok(None);
            for i in 0..count.clone().unwrap_or(0) {
                let Ok(frame) = call(|e| sys::rs2_extract_frame(set, i, e)) else { continue };
                let raw = copy_frame(frame);
                sys::rs2_release_frame(frame);
                match raw {
                    Ok(Some(raw)) => match self.pairing.push(raw) {
                        Ok(Some(pair)) => out = Ok(Some(pair)),
                        Ok(None) => {}
                        Err(e) => out = Err(e),
                    },
                    Ok(None) => {}
                    Err(e) => out = Err(e),
                }
            }
            sys::rs2_release_frame(set);
            count?;
            out
        }
    }
}

impl Player {
    fn open(path: &Path) -> Result<Self, String> {
        let file = CString::new(path.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: C API calls as documented; the Drop of the returned value (or the cleanup below) deletes
        // every object, sensors stopped before the sender they call is freed.
        unsafe {
            let context = new_context()?;
            let device = match call(|e| sys::rs2_context_add_device(context.as_ptr(), file.as_ptr(), e))
                .and_then(|d| non_null(d, "playback device"))
            {
                Ok(d) => d,
                Err(e) => {
                    sys::rs2_delete_context(context.as_ptr());
                    return Err(e);
                }
            };
            let (sender, frames) = bounded::<Raw>(2);
            let mut me = Self {
                context,
                device,
                sensors: Vec::new(),
                sender: Box::into_raw(Box::new(sender)),
                frames,
                pairing: Pairing::new(0.001),
            };
            // Not real time: the player waits for each callback, so nothing is dropped.
            call(|e| sys::rs2_playback_device_set_real_time(device.as_ptr(), 0, e))?;
            me.pairing.depth_scale = depth_scale(device.as_ptr()).unwrap_or(0.001);
            let list = call(|e| sys::rs2_query_sensors(device.as_ptr(), e))?;
            let count = call(|e| sys::rs2_get_sensors_count(list, e)).unwrap_or(0);
            let mut opened = Ok(());
            for i in 0..count {
                let sensor = match call(|e| sys::rs2_create_sensor(list, i, e)).and_then(|s| non_null(s, "sensor")) {
                    Ok(s) => s,
                    Err(e) => {
                        opened = Err(e);
                        break;
                    }
                };
                let profiles = match call(|e| sys::rs2_get_stream_profiles(sensor.as_ptr(), e))
                    .and_then(|p| non_null(p, "profiles"))
                {
                    Ok(p) => p,
                    Err(e) => {
                        sys::rs2_delete_sensor(sensor.as_ptr());
                        opened = Err(e);
                        break;
                    }
                };
                me.sensors.push((sensor, profiles));
                let n = call(|e| sys::rs2_get_stream_profiles_count(profiles.as_ptr(), e)).unwrap_or(0);
                // Open the recorded colour or depth stream of this sensor, if it has one.
                for j in 0..n {
                    let Ok(p) = call(|e| sys::rs2_get_stream_profile(profiles.as_ptr(), j, e)) else { continue };
                    let (mut stream, mut format, mut index, mut uid, mut rate) = (0, 0, 0, 0, 0);
                    if call(|e| {
                        sys::rs2_get_stream_profile_data(
                            p,
                            &mut stream,
                            &mut format,
                            &mut index,
                            &mut uid,
                            &mut rate,
                            e,
                        )
                    })
                    .is_err()
                    {
                        continue;
                    }
                    let wanted = (stream == sys::rs2_stream_RS2_STREAM_COLOR
                        && format == sys::rs2_format_RS2_FORMAT_RGB8)
                        || (stream == sys::rs2_stream_RS2_STREAM_DEPTH && format == sys::rs2_format_RS2_FORMAT_Z16);
                    if wanted {
                        opened = call(|e| sys::rs2_open(sensor.as_ptr(), p, e)).and_then(|_| {
                            call(|e| sys::rs2_start(sensor.as_ptr(), Some(on_playback_frame), me.sender.cast(), e))
                        });
                        break;
                    }
                }
                if opened.is_err() {
                    break;
                }
            }
            sys::rs2_delete_sensor_list(list);
            opened?;
            Ok(me)
        }
    }

    fn next(&mut self) -> Result<Option<(image::RgbImage, DepthImage, Intrinsics, f64)>, String> {
        let mut silent = Duration::ZERO;
        loop {
            match self.frames.recv_timeout(PLAYBACK_POLL) {
                Ok(raw) => {
                    silent = Duration::ZERO;
                    if let Some(pair) = self.pairing.push(raw)? {
                        return Ok(Some(pair));
                    }
                }
                // The end is when the player says it stopped and nothing is left in flight, not a quiet
                // moment on a busy machine.
                Err(_) if self.stopped() && self.frames.is_empty() => return Ok(None),
                Err(_) => {
                    silent += PLAYBACK_POLL;
                    if silent >= PLAYBACK_STALL {
                        return Err(format!("playback stalled: no frame for {} s", PLAYBACK_STALL.as_secs()));
                    }
                }
            }
        }
    }

    fn stopped(&self) -> bool {
        // SAFETY: the device lives as long as self.
        call(|e| unsafe { sys::rs2_playback_device_get_current_status(self.device.as_ptr(), e) })
            .map_or(true, |status| status == sys::rs2_playback_status_RS2_PLAYBACK_STATUS_STOPPED)
    }
}

enum Backend {
    Live(LivePipeline),
    Recording(Player),
}

/// A live camera or a recording, as a [`FrameSource`].
pub struct RealsenseSource {
    name: String,
    backend: Backend,
    intrinsics: Intrinsics,
    pending: Option<RgbdFrame>,
    next_index: usize,
    first_timestamp: f64,
    path: PathBuf,
}

impl RealsenseSource {
    /// The camera with `serial` (or the first one), recording the session to `record` if given.
    pub fn open_live(serial: Option<&str>, record: Option<&Path>) -> Result<Self, SourceError> {
        let spec = PathBuf::from(format!("realsense:{}", serial.unwrap_or("")));
        let cameras = connected_cameras().map_err(|reason| SourceError::BadContent { path: spec.clone(), reason })?;
        if cameras.is_empty() || serial.is_some_and(|s| !cameras.iter().any(|(c, _)| c == s)) {
            let found = if cameras.is_empty() {
                "none".to_string()
            } else {
                cameras.iter().map(|(s, n)| format!("{n} (serial {s})")).collect::<Vec<_>>().join(", ")
            };
            return Err(SourceError::NoCamera {
                wanted: serial.map(|s| format!(" with serial {s}")).unwrap_or_default(),
                found,
            });
        }
        let pipeline = LivePipeline::start(serial, record).map_err(|reason| SourceError::BadContent {
            path: spec.clone(),
            reason: format!("cannot stream {WIDTH}x{HEIGHT} RGB8 + Z16 at {FPS} Hz: {reason}"),
        })?;
        Self::first_frame(Backend::Live(pipeline), spec)
    }

    /// A librealsense recording, played back without skipping frames.
    pub fn open_recording(path: &Path) -> Result<Self, SourceError> {
        if !path.is_file() {
            return Err(SourceError::Missing { path: path.to_path_buf(), what: "RealSense recording".into() });
        }
        let player = Player::open(path).map_err(|reason| SourceError::BadContent {
            path: path.to_path_buf(),
            reason: format!("not a readable RealSense recording: {reason}"),
        })?;
        Self::first_frame(Backend::Recording(player), path.to_path_buf())
    }

    /// Reads the first frame (for the intrinsics) and keeps it for `next_frame`.
    fn first_frame(backend: Backend, path: PathBuf) -> Result<Self, SourceError> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "realsense".into());
        let mut me = Self {
            name,
            backend,
            intrinsics: Intrinsics::from_fov(1, 1, 60.0),
            pending: None,
            next_index: 0,
            first_timestamp: 0.0,
            path,
        };
        let first = me.read()?.ok_or_else(|| SourceError::BadContent {
            path: me.path.clone(),
            reason: "no colour + depth frame in it".into(),
        })?;
        me.intrinsics = first.intrinsics;
        me.pending = Some(first);
        Ok(me)
    }

    fn read(&mut self) -> Result<Option<RgbdFrame>, SourceError> {
        let next = match &mut self.backend {
            Backend::Live(p) => p.next(),
            Backend::Recording(p) => p.next(),
        };
        let live = self.is_live();
        match next {
            Ok(Some((rgb, depth_m, intrinsics, t))) => {
                if self.next_index == 0 {
                    self.first_timestamp = t;
                }
                let frame = RgbdFrame {
                    id: format!("{:06}", self.next_index),
                    timestamp_s: t - self.first_timestamp,
                    intrinsics,
                    rgb,
                    depth_m,
                    object_mask: None,
                    occluder_mask: None,
                    gt_pose: None,
                };
                self.next_index += 1;
                Ok(Some(frame))
            }
            // A recording that goes quiet has ended; a camera that goes quiet was unplugged.
            Ok(None) if !live => Ok(None),
            Ok(None) => {
                Err(SourceError::Disconnected { what: self.path.display().to_string(), after_frames: self.next_index })
            }
            Err(reason) => Err(SourceError::BadContent { path: self.path.clone(), reason }),
        }
    }
}

impl FrameSource for RealsenseSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn intrinsics(&self) -> Intrinsics {
        self.intrinsics
    }

    fn len(&self) -> Option<usize> {
        None
    }

    fn is_live(&self) -> bool {
        matches!(self.backend, Backend::Live(_))
    }

    fn next_frame(&mut self) -> Result<Option<RgbdFrame>, SourceError> {
        match self.pending.take() {
            Some(f) => Ok(Some(f)),
            None => self.read(),
        }
    }
}
