//! Dataset readers against files the generator wrote, hand-made fixtures of each real format, and every
//! class of bad input.

use std::path::Path;

use image::{GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use splatrack::frame::RgbdFrame;
use splatrack::source::synthetic::{Layout, MotionKind, ObjectKind, SequenceSpec, SyntheticSource, write_sequence};
use splatrack::source::{FrameSource, SourceError, ho3d, ycbineoat};

fn spec(object: ObjectKind, motion: MotionKind) -> SequenceSpec {
    SequenceSpec { object, motion, frames: 5, width: 96, height: 72, seed: 4 }
}

fn frames(source: &mut dyn FrameSource) -> Vec<RgbdFrame> {
    std::iter::from_fn(|| source.next_frame().unwrap()).collect()
}

fn assert_pose_eq(a: &splatrack::frame::Pose, b: &splatrack::frame::Pose) {
    let (r, t) = splatrack::eval::pose_errors(a, b);
    assert!(r < 1e-5 && t < 1e-5, "poses differ by {r}° and {t} mm");
}

#[test]
fn ycbineoat_reader_round_trips_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(ObjectKind::Box, MotionKind::Robot);
    let seq = write_sequence(spec, Layout::Ycbineoat, dir.path(), 2, &|_| {}).unwrap();
    let expected = frames(&mut SyntheticSource::new(spec));
    let mut reader = ycbineoat::YcbineoatSource::open(&seq).unwrap();
    assert_eq!(reader.len(), Some(5));
    let k = reader.intrinsics();
    let k0 = spec.intrinsics();
    assert!((k.fx - k0.fx).abs() < 1e-6 && (k.fy - k0.fy).abs() < 1e-6 && (k.cy - k0.cy).abs() < 1e-6 && k.fx != k.fy);
    let got = frames(&mut reader);
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.id, e.id);
        assert_eq!(g.id.len(), 19, "YCBInEOAT names are 19-digit nanosecond timestamps");
        assert_eq!(g.rgb, e.rgb);
        assert_eq!(g.object_mask, e.object_mask);
        assert_eq!(g.occluder_mask, e.occluder_mask);
        assert_pose_eq(&g.gt_pose.unwrap(), &e.gt_pose.unwrap());
        for (a, b) in g.depth_m.pixels().zip(e.depth_m.pixels()) {
            assert!((a[0] - b[0]).abs() < 1e-4, "depth must survive to the millimetre: {} vs {}", a[0], b[0]);
        }
        assert!((g.timestamp_s - e.timestamp_s).abs() < 1e-6);
    }
}

#[test]
fn ho3d_reader_round_trips_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(ObjectKind::Mug, MotionKind::Inhand);
    let seq = write_sequence(spec, Layout::Ho3d, dir.path(), 2, &|_| {}).unwrap();
    assert!(seq.ends_with("train/mug_inhand_s4"));
    let expected = frames(&mut SyntheticSource::new(spec));
    let mut reader = ho3d::Ho3dSource::open(&seq).unwrap();
    let got = frames(&mut reader);
    assert_eq!(got.len(), 5);
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.rgb, e.rgb);
        assert_pose_eq(&g.gt_pose.unwrap(), &e.gt_pose.unwrap());
        for (a, b) in g.depth_m.pixels().zip(e.depth_m.pixels()) {
            // HO3D's depth code has a step of 0.125 mm.
            assert!((a[0] - b[0]).abs() < 7e-5, "{} vs {}", a[0], b[0]);
        }
        // seg/ is stored at half size and resized back with nearest neighbours: edges may move a pixel.
        let (gm, em) = (g.object_mask.as_ref().unwrap(), e.object_mask.as_ref().unwrap());
        let same = gm.pixels().zip(em.pixels()).filter(|(a, b)| a == b).count();
        assert!(same as f64 > 0.97 * gm.len() as f64);
        assert!(em.pixels().any(|p| p[0] > 0), "the object must be visible");
    }
}

#[test]
fn real_numpy_pickles_are_read_and_converted_from_opengl_axes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let meta = ho3d::read_meta(&root.join("ho3d_meta_numpy.pkl")).unwrap();
    assert!((meta.cam[(0, 0)] - 614.627).abs() < 1e-3 && (meta.cam[(0, 2)] - 320.262).abs() < 1e-3);
    assert!((meta.cam[(1, 2)] - 238.469).abs() < 1e-3 && meta.cam[(1, 0)] == 0.0 && meta.cam[(2, 2)] == 1.0);
    assert_eq!(meta.object_name.as_deref(), Some("006_mustard_bottle"));
    let pose = meta.pose.unwrap();
    assert!((pose.translation.vector - nalgebra::Vector3::new(0.05, 0.02, 0.55)).norm() < 1e-9);
    let r_gl =
        nalgebra::Rotation3::from_scaled_axis(nalgebra::Vector3::new(0.3f32 as f64, -1.2f32 as f64, 0.5f32 as f64));
    let flip = nalgebra::Matrix3::from_diagonal(&nalgebra::Vector3::new(1.0, -1.0, -1.0));
    let expected = flip * r_gl.matrix();
    assert!((pose.rotation.to_rotation_matrix().matrix() - expected).abs().max() < 1e-6);
    let unannotated = ho3d::read_meta(&root.join("ho3d_meta_unannotated.pkl")).unwrap();
    assert!(unannotated.pose.is_none());
}

fn write_png<P: image::PixelWithColorType, C: std::ops::Deref<Target = [P::Subpixel]>>(
    img: &image::ImageBuffer<P, C>,
    path: &Path,
) where
    [P::Subpixel]: image::EncodableLayout,
{
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
}

fn depth16(w: u32, h: u32, mm: u16) -> image::ImageBuffer<Luma<u16>, Vec<u16>> {
    image::ImageBuffer::from_fn(w, h, |x, _| Luma([if x == 0 { 0 } else { mm }]))
}

/// A public-copy-like YCBInEOAT folder: RGBA colour, a 3-channel mask on frame 0 only, more depth files
/// than colour files, no annotated poses.
fn ycb_fixture(root: &Path) -> [String; 2] {
    let ids = ["1581120424100262102".to_string(), "1581120424148532296".to_string()];
    std::fs::write(root.join("cam_K.txt"), "319.582 0 320.215\n0 417.119 244.349\n0 0 1\n").unwrap();
    for id in &ids {
        write_png(&RgbaImage::from_pixel(8, 6, Rgba([10, 20, 30, 255])), &root.join(format!("rgb/{id}.png")));
        write_png(&depth16(8, 6, 1234), &root.join(format!("depth/{id}.png")));
    }
    write_png(&depth16(8, 6, 999), &root.join("depth/1581120424199999999.png"));
    let mask = RgbImage::from_fn(8, 6, |x, _| if x >= 4 { Rgb([0, 0, 255]) } else { Rgb([0, 0, 0]) });
    write_png(&mask, &root.join(format!("masks/{}.png", ids[0])));
    ids
}

#[test]
fn public_copies_of_ycbineoat_load() {
    let dir = tempfile::tempdir().unwrap();
    let ids = ycb_fixture(dir.path());
    let mut source = ycbineoat::YcbineoatSource::open(dir.path()).unwrap();
    let k = source.intrinsics();
    assert_eq!((k.width, k.height, k.fx, k.fy, k.cx, k.cy), (8, 6, 319.582, 417.119, 320.215, 244.349));
    let got = frames(&mut source);
    assert_eq!(got.iter().map(|f| f.id.clone()).collect::<Vec<_>>(), ids.to_vec(), "only frames with RGB are served");
    assert_eq!(got[0].rgb.get_pixel(3, 3), &Rgb([10, 20, 30]), "alpha dropped");
    assert_eq!(got[0].depth_m.get_pixel(3, 3)[0], 1.234);
    assert_eq!(got[0].depth_m.get_pixel(0, 3)[0], 0.0, "0 stays invalid");
    let mask = got[0].object_mask.as_ref().expect("frame 0 has a mask");
    assert_eq!((mask.get_pixel(5, 1)[0], mask.get_pixel(1, 1)[0]), (255, 0), "any non-zero channel counts");
    assert!(got[1].object_mask.is_none() && got.iter().all(|f| f.gt_pose.is_none()));
    assert!((got[1].timestamp_s - 0.048270194).abs() < 1e-9);
}

fn error_of(source: Result<Box<dyn FrameSource>, SourceError>) -> SourceError {
    let mut source = match source {
        Ok(s) => s,
        Err(e) => return e,
    };
    loop {
        match source.next_frame() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the bad input was not noticed"),
            Err(e) => return e,
        }
    }
}

fn open_ycb(root: &Path) -> Result<Box<dyn FrameSource>, SourceError> {
    splatrack::source::open(&format!("ycbineoat:{}", root.display()))
}

#[test]
fn each_bad_input_gets_its_typed_error_naming_the_file() {
    // Missing depth frame.
    let dir = tempfile::tempdir().unwrap();
    let ids = ycb_fixture(dir.path());
    std::fs::remove_file(dir.path().join(format!("depth/{}.png", ids[1]))).unwrap();
    let e = error_of(open_ycb(dir.path()));
    assert!(matches!(&e, SourceError::Missing { path, .. } if path.ends_with(format!("depth/{}.png", ids[1]))), "{e}");
    assert!(e.to_string().contains("depth frame"));

    // Size mismatch.
    let dir = tempfile::tempdir().unwrap();
    let ids = ycb_fixture(dir.path());
    write_png(&depth16(9, 6, 5), &dir.path().join(format!("depth/{}.png", ids[0])));
    let e = error_of(open_ycb(dir.path()));
    assert!(matches!(e, SourceError::SizeMismatch { found_w: 9, expected_w: 8, .. }), "{e}");

    // Corrupt PNG.
    let dir = tempfile::tempdir().unwrap();
    let ids = ycb_fixture(dir.path());
    std::fs::write(dir.path().join(format!("rgb/{}.png", ids[1])), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let e = error_of(open_ycb(dir.path()));
    assert!(
        matches!(&e, SourceError::UnreadableImage { path, .. } if path.ends_with(format!("rgb/{}.png", ids[1]))),
        "{e}"
    );

    // Depth of the wrong bit depth.
    let dir = tempfile::tempdir().unwrap();
    let ids = ycb_fixture(dir.path());
    write_png(&GrayImage::from_pixel(8, 6, Luma([7])), &dir.path().join(format!("depth/{}.png", ids[0])));
    let e = error_of(open_ycb(dir.path()));
    assert!(matches!(&e, SourceError::WrongFormat { found, .. } if found.contains("L8")), "{e}");
    assert!(e.to_string().contains("16-bit"));

    // Missing intrinsics, bad pose text, unknown source.
    let dir = tempfile::tempdir().unwrap();
    ycb_fixture(dir.path());
    std::fs::remove_file(dir.path().join("cam_K.txt")).unwrap();
    assert!(matches!(error_of(open_ycb(dir.path())), SourceError::Missing { path, .. } if path.ends_with("cam_K.txt")));
    let dir = tempfile::tempdir().unwrap();
    let ids = ycb_fixture(dir.path());
    std::fs::create_dir_all(dir.path().join("annotated_poses")).unwrap();
    for id in &ids {
        std::fs::write(dir.path().join(format!("annotated_poses/{id}.txt")), "1 0 0 0\n0 1 0 0\n0 0 1 nan\n0 0 0 1\n")
            .unwrap();
    }
    assert!(
        matches!(error_of(open_ycb(dir.path())), SourceError::BadContent { path, .. } if path.ends_with(format!("{}.txt", ids[0])))
    );
    assert!(matches!(error_of(splatrack::source::open("kinect:/dev/video0")), SourceError::UnknownSpec(_)));
}

#[test]
fn ho3d_masks_come_from_the_xmem_side_folder_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(ObjectKind::Bottle, MotionKind::Inhand);
    let seq = write_sequence(spec, Layout::Ho3d, dir.path(), 1, &|_| {}).unwrap();
    let xmem = dir.path().join("masks_XMem").join(seq.file_name().unwrap());
    let marker = GrayImage::from_fn(96, 72, |x, y| Luma([if x < 10 && y < 10 { 255 } else { 0 }]));
    write_png(&marker, &xmem.join("00002.png"));
    let got = frames(&mut ho3d::Ho3dSource::open(&seq).unwrap());
    assert_eq!(got[2].object_mask.as_ref().unwrap(), &marker, "frame 0002 reads masks_XMem/<SEQ>/00002.png");
    assert_ne!(got[1].object_mask.as_ref().unwrap(), &marker, "other frames fall back to seg/");
}
