//! The RealSense path against the real SDK, without a camera: a software device (librealsense's own) is fed
//! synthetic RGB-D frames, the SDK's recorder writes them to a .db3 file, and `recording:FILE` plays them
//! back through the SDK. Every frame must come back, and tracking the played-back frames must give the
//! poses tracking the same frames directly gives. Built with `--features realsense` (scripts/test.sh does,
//! after scripts/realsense-sdk.sh).
#![cfg(feature = "realsense")]

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::Path;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};

use realsense_sys as sys;
use splatrack::config::Config;
use splatrack::frame::RgbdFrame;
use splatrack::source::FrameSource;
use splatrack::source::realsense::RealsenseSource;
use splatrack::source::synthetic::{MotionKind, ObjectKind, SequenceSpec, SyntheticSource};
use splatrack::tracker::tracking::FrameTracker;

// The software-device part of librealsense's C API (rs_internal.h), which realsense-sys does not bind; the
// library exports these functions.
#[repr(C)]
#[derive(Clone, Copy)]
struct VideoStream {
    kind: sys::rs2_stream,
    index: c_int,
    uid: c_int,
    width: c_int,
    height: c_int,
    fps: c_int,
    bpp: c_int,
    format: sys::rs2_format,
    intrinsics: sys::rs2_intrinsics,
}

#[repr(C)]
struct SoftwareVideoFrame {
    pixels: *mut c_void,
    deleter: extern "C" fn(*mut c_void),
    stride: c_int,
    bpp: c_int,
    timestamp: sys::rs2_time_t,
    domain: sys::rs2_timestamp_domain,
    frame_number: c_int,
    profile: *const sys::rs2_stream_profile,
    depth_units: f32,
}

unsafe extern "C" {
    fn rs2_create_software_device(error: *mut *mut sys::rs2_error) -> *mut sys::rs2_device;
    fn rs2_software_device_add_sensor(
        dev: *mut sys::rs2_device,
        name: *const c_char,
        error: *mut *mut sys::rs2_error,
    ) -> *mut sys::rs2_sensor;
    fn rs2_software_sensor_add_video_stream_ex(
        sensor: *mut sys::rs2_sensor,
        stream: VideoStream,
        is_default: c_int,
        error: *mut *mut sys::rs2_error,
    ) -> *mut sys::rs2_stream_profile;
    fn rs2_software_sensor_on_video_frame(
        sensor: *mut sys::rs2_sensor,
        frame: SoftwareVideoFrame,
        error: *mut *mut sys::rs2_error,
    );
    fn rs2_software_sensor_add_read_only_option(
        sensor: *mut sys::rs2_sensor,
        option: sys::rs2_option,
        value: f32,
        error: *mut *mut sys::rs2_error,
    );
}

/// Frames the SDK has let go of (it calls the deleter when a frame is destroyed: after the recorder wrote it).
/// The pixel buffers themselves stay owned by the test until the recorder is gone.
static RELEASED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn released(_: *mut c_void) {
    RELEASED.fetch_add(1, Ordering::SeqCst);
}

/// Frames in flight the injection allows. A sensor's frames come from a pool (16 per stream by default) and
/// the recorder holds each frame until its writer thread has stored it, so frames pushed faster than the
/// writer drains them can find the pool empty and be dropped by the SDK. Waiting for releases rules that out.
const MAX_IN_FLIGHT: usize = 8;

fn check(err: *mut sys::rs2_error, what: &str) {
    if !err.is_null() {
        // SAFETY: an error from the call just made, freed once.
        let message =
            unsafe { std::ffi::CStr::from_ptr(sys::rs2_get_error_message(err)).to_string_lossy().into_owned() };
        unsafe { sys::rs2_free_error(err) };
        panic!("{what}: {message}");
    }
}

/// Records `frames` through a software device and the SDK's recorder into `file`.
fn record(frames: &[RgbdFrame], file: &Path) {
    let k = frames[0].intrinsics;
    let (w, h) = (k.width as c_int, k.height as c_int);
    let intrinsics = sys::rs2_intrinsics {
        width: w,
        height: h,
        ppx: (k.cx - 0.5) as f32,
        ppy: (k.cy - 0.5) as f32,
        fx: k.fx as f32,
        fy: k.fy as f32,
        model: sys::rs2_distortion_RS2_DISTORTION_NONE,
        coeffs: [0.0; 5],
    };
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    let mut e = null_mut();
    // SAFETY: the C API used as documented; every object lives until the end of this function, the pixel
    // buffers until after the recorder has been deleted.
    unsafe {
        let device = rs2_create_software_device(&mut e);
        check(e, "create software device");
        let depth_sensor = rs2_software_device_add_sensor(device, c"Stereo Module".as_ptr(), &mut e);
        check(e, "add depth sensor");
        let color_sensor = rs2_software_device_add_sensor(device, c"RGB Camera".as_ptr(), &mut e);
        check(e, "add colour sensor");
        rs2_software_sensor_add_read_only_option(depth_sensor, sys::rs2_option_RS2_OPTION_DEPTH_UNITS, 0.001, &mut e);
        check(e, "depth units");
        let stream = |kind, uid, bpp, format| VideoStream {
            kind,
            index: 0,
            uid,
            width: w,
            height: h,
            fps: 30,
            bpp,
            format,
            intrinsics,
        };
        let depth_profile = rs2_software_sensor_add_video_stream_ex(
            depth_sensor,
            stream(sys::rs2_stream_RS2_STREAM_DEPTH, 1, 2, sys::rs2_format_RS2_FORMAT_Z16),
            1,
            &mut e,
        );
        check(e, "depth stream");
        let color_profile = rs2_software_sensor_add_video_stream_ex(
            color_sensor,
            stream(sys::rs2_stream_RS2_STREAM_COLOR, 2, 3, sys::rs2_format_RS2_FORMAT_RGB8),
            1,
            &mut e,
        );
        check(e, "colour stream");
        let identity =
            sys::rs2_extrinsics { rotation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], translation: [0.0; 3] };
        sys::rs2_register_extrinsics(depth_profile, color_profile, identity, &mut e);
        check(e, "extrinsics");

        let name = CString::new(file.to_str().unwrap()).unwrap();
        let recorder = sys::rs2_create_record_device_ex(device, name.as_ptr(), 0, &mut e);
        check(e, "create recorder");
        // Stream every sensor of the recorder into a queue we drain, so frames flow through it.
        let sensors = sys::rs2_query_sensors(recorder, &mut e);
        check(e, "recorder sensors");
        let count = sys::rs2_get_sensors_count(sensors, &mut e);
        let queue = sys::rs2_create_frame_queue(64, &mut e);
        let mut opened = Vec::new();
        for i in 0..count {
            let sensor = sys::rs2_create_sensor(sensors, i, &mut e);
            check(e, "recorder sensor");
            let profiles = sys::rs2_get_stream_profiles(sensor, &mut e);
            let profile = sys::rs2_get_stream_profile(profiles, 0, &mut e);
            sys::rs2_open(sensor, profile, &mut e);
            check(e, "open recorder sensor");
            sys::rs2_start_queue(sensor, queue, &mut e);
            check(e, "start recorder sensor");
            opened.push((sensor, profiles));
        }
        let drain = || {
            let mut f = null_mut();
            let mut err = null_mut();
            while sys::rs2_poll_for_frame(queue, &mut f, &mut err) != 0 {
                sys::rs2_release_frame(f);
            }
        };
        let start = RELEASED.load(Ordering::SeqCst);
        for (i, frame) in frames.iter().enumerate() {
            let waiting = std::time::Instant::now();
            while 2 * i - (RELEASED.load(Ordering::SeqCst) - start) > MAX_IN_FLIGHT {
                drain();
                assert!(waiting.elapsed().as_secs() < 20, "the recorder stopped releasing frames");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let depth: Vec<u8> =
                frame.depth_m.pixels().flat_map(|d| ((d[0] * 1000.0).round() as u16).to_le_bytes()).collect();
            let color: Vec<u8> = frame.rgb.as_raw().clone();
            buffers.push(depth);
            buffers.push(color);
            let n = buffers.len();
            let t = 1000.0 * frame.timestamp_s;
            let video = |pixels: *mut u8, stride, bpp, profile| SoftwareVideoFrame {
                pixels: pixels.cast(),
                deleter: released,
                stride,
                bpp,
                timestamp: t,
                domain: sys::rs2_timestamp_domain_RS2_TIMESTAMP_DOMAIN_SYSTEM_TIME,
                frame_number: i as c_int,
                profile,
                depth_units: 0.001,
            };
            rs2_software_sensor_on_video_frame(
                depth_sensor,
                video(buffers[n - 2].as_mut_ptr(), w * 2, 2, depth_profile),
                &mut e,
            );
            check(e, "inject depth");
            rs2_software_sensor_on_video_frame(
                color_sensor,
                video(buffers[n - 1].as_mut_ptr(), w * 3, 3, color_profile),
                &mut e,
            );
            check(e, "inject colour");
            drain();
        }
        // Every injected frame must have gone through the recorder (the SDK releases it then) before the
        // sensors stop; on a loaded machine the recorder's thread lags well behind.
        let waiting = std::time::Instant::now();
        while RELEASED.load(Ordering::SeqCst) - start < 2 * frames.len() {
            drain();
            assert!(waiting.elapsed().as_secs() < 20, "the recorder stopped releasing frames");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        for (sensor, profiles) in opened {
            sys::rs2_stop(sensor, &mut e);
            check(e, "stop");
            sys::rs2_close(sensor, &mut e);
            check(e, "close");
            sys::rs2_delete_stream_profiles_list(profiles);
            sys::rs2_delete_sensor(sensor);
        }
        sys::rs2_delete_sensor_list(sensors);
        // Deleting the recorder writes the file out.
        sys::rs2_delete_device(recorder);
        sys::rs2_delete_frame_queue(queue);
        sys::rs2_delete_sensor(depth_sensor);
        sys::rs2_delete_sensor(color_sensor);
        sys::rs2_delete_device(device);
    }
    drop(buffers);
}

/// The synthetic frames as a camera sees them: depth in whole millimetres, no masks but the first.
fn camera_frames(n: usize) -> Vec<RgbdFrame> {
    let spec = SequenceSpec {
        object: ObjectKind::Box,
        motion: MotionKind::Robot,
        frames: n,
        width: 320,
        height: 240,
        seed: 4,
    };
    let mut source = SyntheticSource::new(spec);
    let mut frames = Vec::new();
    while let Some(mut f) = source.next_frame().unwrap() {
        f.depth_m.pixels_mut().for_each(|d| d[0] = ((d[0] * 1000.0).round() as u16) as f32 * 0.001);
        // A camera's intrinsics are f32, its principal point on integer pixel centres.
        let k = &mut f.intrinsics;
        (k.fx, k.fy) = (k.fx as f32 as f64, k.fy as f32 as f64);
        (k.cx, k.cy) = (((k.cx - 0.5) as f32) as f64 + 0.5, ((k.cy - 0.5) as f32) as f64 + 0.5);
        if !frames.is_empty() {
            f.object_mask = None;
        }
        f.occluder_mask = None;
        f.gt_pose = None;
        frames.push(f);
    }
    frames
}

#[test]
fn a_recording_made_by_the_sdk_plays_back_every_frame_and_tracks_like_the_original() {
    let frames = camera_frames(12);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.db3");
    record(&frames, &file);
    assert!(file.metadata().map(|m| m.len() > 0).unwrap_or(false), "the recorder wrote nothing");

    let mut source = RealsenseSource::open_recording(&file).unwrap();
    let k = source.intrinsics();
    assert_eq!((k.width, k.height), (320, 240));
    assert!((k.fx - frames[0].intrinsics.fx).abs() < 1e-3 && (k.cx - frames[0].intrinsics.cx).abs() < 1e-3, "{k:?}");
    let mut played = Vec::new();
    while let Some(f) = source.next_frame().unwrap() {
        played.push(f);
    }
    assert_eq!(played.len(), frames.len(), "every recorded frame comes back");
    for (a, b) in played.iter().zip(&frames) {
        assert_eq!(a.rgb, b.rgb, "colour is recorded losslessly");
        let worst = a.depth_m.pixels().zip(b.depth_m.pixels()).map(|(x, y)| (x[0] - y[0]).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "depth differs by {worst} m");
    }

    // Tracking the played-back frames (first mask given, as a user would) matches tracking the originals.
    let mut direct = FrameTracker::new(Config::default(), None);
    let mut replayed = FrameTracker::new(Config::default(), None);
    for (i, (original, back)) in frames.iter().zip(played.iter_mut()).enumerate() {
        if i == 0 {
            back.object_mask = original.object_mask.clone();
        }
        let a = direct.track(original).unwrap().0.pose;
        let b = replayed.track(back).unwrap().0.pose;
        let (rot, trans) = splatrack::eval::pose_errors(&a, &b);
        assert!(rot < 1e-9 && trans < 1e-9, "frame {i}: {rot}° {trans} mm apart");
    }
}

#[test]
fn missing_and_foreign_recordings_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = RealsenseSource::open_recording(&dir.path().join("nope.db3")).err().unwrap().to_string();
    assert!(missing.contains("nope.db3") && missing.contains("missing"), "{missing}");
    let foreign = dir.path().join("notes.db3");
    std::fs::write(&foreign, "not a recording").unwrap();
    let err = RealsenseSource::open_recording(&foreign).err().unwrap().to_string();
    assert!(err.contains("notes.db3") && err.contains("not a readable RealSense recording"), "{err}");
}

#[test]
fn without_a_camera_the_live_source_says_so() {
    let err = RealsenseSource::open_live(None, None).err().expect("no camera on this machine").to_string();
    assert!(err.contains("no RealSense camera connected") && err.contains("found: none"), "{err}");
}
