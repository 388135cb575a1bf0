//! Synthetic RGB-D sequences with exact ground truth, deterministic for a seed: a procedural YCB-like object
//! moving in a hand (HO3D-like: in-hand rotation, fingers in front) or in a robot gripper (YCBInEOAT-like:
//! pick and reorient), over a table with clutter, under changing light, seen by a simulated structured-light
//! RGB-D camera (axial noise growing with z², millimetre quantisation, holes at silhouette edges and on dark
//! or specular spots). Frames are served in memory ([`SyntheticSource`]) or written in the YCBInEOAT and
//! HO3D layouts ([`write_sequence`]).

pub mod motion;
pub mod objects;
pub mod raster;
pub mod sensor;

use std::path::{Path, PathBuf};

use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::ho3d::Ho3dWriter;
use super::ycbineoat::YcbineoatWriter;
use super::{FrameSource, SourceError};
use crate::frame::{Intrinsics, Mask, Pose, RgbdFrame};
pub use motion::MotionKind;
use objects::Mesh;
pub use objects::ObjectKind;
use raster::{Framebuffer, SurfaceId};

/// Frame rate of every synthetic sequence (Hz), as both benchmarks.
pub const FPS: f64 = 30.0;
/// Nanosecond timestamp of frame 0 (19 digits, like YCBInEOAT's names).
const FIRST_NS: u64 = 1_600_000_000_000_000_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequenceSpec {
    pub object: ObjectKind,
    pub motion: MotionKind,
    pub frames: usize,
    pub width: u32,
    pub height: u32,
    pub seed: u64,
}

impl Default for SequenceSpec {
    fn default() -> Self {
        Self { object: ObjectKind::Box, motion: MotionKind::Robot, frames: 120, width: 640, height: 480, seed: 0 }
    }
}

impl SequenceSpec {
    /// Parses `object,motion,seed,frames,WxH` (each part optional, e.g. `mug,inhand,3`, `bottle` or
    /// `box,robot,0,300,640x480`).
    pub fn parse(text: &str) -> Result<Self, String> {
        use clap::ValueEnum;
        let mut spec = Self::default();
        let parts: Vec<&str> = text.split(',').filter(|p| !p.is_empty()).collect();
        if let Some(o) = parts.first() {
            spec.object = ObjectKind::from_str(o, true)?;
        }
        if let Some(m) = parts.get(1) {
            spec.motion = MotionKind::from_str(m, true)?;
        }
        if let Some(s) = parts.get(2) {
            spec.seed = s.parse().map_err(|_| format!("seed '{s}' is not a number"))?;
        }
        if let Some(f) = parts.get(3) {
            spec.frames = f
                .parse()
                .ok()
                .filter(|f| *f > 0)
                .ok_or_else(|| format!("frame count '{f}' is not a positive number"))?;
        }
        if let Some(size) = parts.get(4) {
            (spec.width, spec.height) = crate::cli::parse_size(size)?;
        }
        if parts.len() > 5 {
            return Err(format!("'{text}' has more than object,motion,seed,frames,WxH"));
        }
        Ok(spec)
    }

    /// A name like `box_robot_s0`.
    pub fn name(&self) -> String {
        format!("{}_{}_s{}", self.object.name(), self.motion.name(), self.seed)
    }

    /// The simulated camera: a RealSense-like 60° lens with slightly different focal lengths, scaled to size.
    pub fn intrinsics(&self) -> Intrinsics {
        let scale = self.width as f64 / 640.0;
        Intrinsics {
            width: self.width,
            height: self.height,
            fx: 612.4 * scale,
            fy: 611.1 * scale,
            cx: 0.5 * self.width as f64 + 1.3 * scale,
            cy: 0.5 * self.height as f64 - 2.1 * scale,
        }
    }
}

/// A static piece of scenery with its albedo function.
struct Prop {
    mesh: Mesh,
    pose: Isometry3<f32>,
    color: [f32; 3],
    pattern: u8,
}

/// Everything needed to render any frame of a sequence.
pub struct Scene {
    pub spec: SequenceSpec,
    pub object: Mesh,
    trajectory: motion::Trajectory,
    props: Vec<Prop>,
    occluder: Mesh,
}

fn table_height(z: f32) -> f32 {
    // The table plane in camera coordinates: 18 cm below the optical axis at 30 cm, rising with distance
    // (the camera looks down at about 19°).
    0.18 - 0.35 * (z - 0.3)
}

impl Scene {
    /// Builds the scene of `spec` (deterministic for its seed).
    pub fn new(spec: SequenceSpec) -> Self {
        let mut rng = Pcg64::seed_from_u64(spec.seed ^ 0x5eed);
        let object = objects::build(spec.object);
        let trajectory = motion::Trajectory::new(spec.motion, spec.seed);
        let mut props = Vec::new();
        // Table: a 20×20 grid quad in camera coordinates, wood-like.
        let mut table = Mesh::default();
        table.add_table_grid();
        props.push(Prop { mesh: table, pose: Isometry3::identity(), color: [0.55, 0.38, 0.22], pattern: 1 });
        // Back wall.
        let mut wall = Mesh::default();
        wall.add_box(Vector3::new(0.0, -0.3, 1.9), Vector3::new(1.6, 1.2, 0.01), [4; 6]);
        props.push(Prop { mesh: wall, pose: Isometry3::identity(), color: [0.75, 0.77, 0.8], pattern: 2 });
        // Clutter: boxes standing on the table, away from the object's path.
        for k in 0..5 {
            let x = [-0.42, -0.28, 0.3, 0.45, 0.05][k] + rng.random_range(-0.04..0.04);
            let z = [0.95, 1.25, 1.0, 1.3, 1.5][k] + rng.random_range(-0.05..0.05);
            let h =
                Vector3::new(rng.random_range(0.03..0.07), rng.random_range(0.04..0.1), rng.random_range(0.03..0.07));
            let mut m = Mesh::default();
            m.add_box(Vector3::new(x, table_height(z) - h.y, z), h, [5; 6]);
            let color = [rng.random_range(0.1..0.9), rng.random_range(0.1..0.9), rng.random_range(0.1..0.9)];
            props.push(Prop { mesh: m, pose: Isometry3::identity(), color, pattern: 3 });
        }
        let occluder = match spec.motion {
            MotionKind::Inhand => motion::hand_mesh(),
            MotionKind::Robot => motion::gripper_mesh(),
        };
        Self { spec, object, trajectory, props, occluder }
    }

    /// Ground-truth object-to-camera pose at frame `index`.
    pub fn object_pose(&self, index: usize) -> Pose {
        self.trajectory.pose(index as f64 / FPS)
    }

    /// Renders frame `index` with sensor noise.
    pub fn render(&self, index: usize) -> RgbdFrame {
        let spec = &self.spec;
        let k = spec.intrinsics();
        let t = index as f64 / FPS;
        let pose = self.object_pose(index);
        let object_to_camera: Isometry3<f32> = nalgebra::convert(pose);
        let light = motion::light(t, spec.seed);
        let mut fb = Framebuffer::new(spec.width, spec.height);
        for prop in &self.props {
            let shade = |f: &raster::Fragment| {
                let albedo = prop_albedo(prop, f.position);
                sensor::shade(albedo, 0.05, f, &light)
            };
            raster::draw(&mut fb, &k, &prop.mesh, &prop.pose, SurfaceId::Scene, &shade);
        }
        let kind = spec.object;
        let shade_object = |f: &raster::Fragment| {
            let (albedo, gloss) = objects::albedo(kind, f.material, f.uv);
            sensor::shade(albedo, gloss, f, &light)
        };
        raster::draw(&mut fb, &k, &self.object, &object_to_camera, SurfaceId::Object, &shade_object);
        let occluder_pose: Isometry3<f32> = nalgebra::convert(self.trajectory.occluder_pose(t, &pose));
        let skin = match spec.motion {
            MotionKind::Inhand => [0.86, 0.62, 0.5],
            MotionKind::Robot => [0.3, 0.32, 0.35],
        };
        let shade_occluder = |f: &raster::Fragment| sensor::shade(skin, 0.15, f, &light);
        raster::draw(&mut fb, &k, &self.occluder, &occluder_pose, SurfaceId::Occluder, &shade_occluder);

        let mut rng = Pcg64::seed_from_u64(spec.seed.wrapping_mul(1_000_003).wrapping_add(index as u64));
        let (rgb, depth_m) = sensor::capture(&fb, &mut rng);
        let mask_of = |id: SurfaceId| {
            Mask::from_fn(spec.width, spec.height, |x, y| {
                image::Luma([if fb.id[(y * spec.width + x) as usize] == id { 255 } else { 0 }])
            })
        };
        RgbdFrame {
            id: format!("{:019}", FIRST_NS + (index as f64 * 1e9 / FPS).round() as u64),
            timestamp_s: t,
            intrinsics: k,
            rgb,
            depth_m,
            object_mask: Some(mask_of(SurfaceId::Object)),
            occluder_mask: Some(mask_of(SurfaceId::Occluder)),
            gt_pose: Some(pose),
        }
    }
}

fn prop_albedo(prop: &Prop, p: Vector3<f32>) -> [f32; 3] {
    let c = prop.color;
    let f = match prop.pattern {
        // Wood grain along x with slow variation.
        1 => 0.85 + 0.15 * ((p.x * 60.0 + (p.z * 7.0).sin() * 3.0).sin()),
        // A faint poster grid on the wall.
        2 => {
            if ((p.x * 8.0).fract().abs() < 0.04) || ((p.y * 8.0).fract().abs() < 0.04) {
                0.8
            } else {
                1.0
            }
        }
        _ => 1.0,
    };
    c.map(|v| v * f)
}

impl Mesh {
    /// The table: a tilted 1.6 × 1.5 m grid in front of the camera.
    fn add_table_grid(&mut self) {
        let n = Vector3::new(0.0, -1.0, -0.35).normalize();
        for j in 0..15 {
            for i in 0..16 {
                let (x0, z0) = (-0.8 + 0.1 * i as f32, 0.3 + 0.1 * j as f32);
                let c = Vector3::new(x0 + 0.05, table_height(z0 + 0.05), z0 + 0.05);
                let base = self.positions.len() as u32;
                for (dx, dz) in [(-0.05, -0.05), (0.05, -0.05), (0.05, 0.05), (-0.05, 0.05)] {
                    self.positions.push(Vector3::new(c.x + dx, table_height(c.z + dz), c.z + dz));
                    self.normals.push(n);
                    self.uvs.push([c.x + dx, c.z + dz]);
                }
                self.triangles.push([base, base + 1, base + 2]);
                self.triangles.push([base, base + 2, base + 3]);
                self.materials.extend([0, 0]);
            }
        }
    }
}

/// Frames of a synthetic sequence, rendered on demand (the embedded demo and the tests).
pub struct SyntheticSource {
    scene: Scene,
    name: String,
    next: usize,
}

impl SyntheticSource {
    /// A source for `spec`.
    pub fn new(spec: SequenceSpec) -> Self {
        Self { name: spec.name(), scene: Scene::new(spec), next: 0 }
    }
}

impl FrameSource for SyntheticSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn intrinsics(&self) -> Intrinsics {
        self.scene.spec.intrinsics()
    }

    fn len(&self) -> Option<usize> {
        Some(self.scene.spec.frames)
    }

    fn next_frame(&mut self) -> Result<Option<RgbdFrame>, SourceError> {
        if self.next >= self.scene.spec.frames {
            return Ok(None);
        }
        let frame = self.scene.render(self.next);
        self.next += 1;
        Ok(Some(frame))
    }
}

/// On-disk layouts the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    Ycbineoat,
    Ho3d,
}

/// Writes a whole sequence to `out` in `layout`, rendering frames on `threads` threads; returns the
/// directory a source opens (the YCBInEOAT sequence folder, or HO3D's `train/<SEQ>`). The object mesh goes
/// to `mesh.obj` in that folder, the ground truth for chamfer scoring.
pub fn write_sequence(
    spec: SequenceSpec,
    layout: Layout,
    out: &Path,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<PathBuf, SourceError> {
    let scene = Scene::new(spec);
    let k = spec.intrinsics();
    enum Writer {
        Ycb(YcbineoatWriter),
        Ho3d(Ho3dWriter),
    }
    let (writer, seq_dir) = match layout {
        Layout::Ycbineoat => (Writer::Ycb(YcbineoatWriter::create(out, &k)?), out.to_path_buf()),
        Layout::Ho3d => {
            let w = Ho3dWriter::create(out, &spec.name(), spec.object.ycb_name())?;
            let dir = w.seq_dir().to_path_buf();
            (Writer::Ho3d(w), dir)
        }
    };
    let mesh_path = seq_dir.join("mesh.obj");
    scene.object.write_obj(&mesh_path).map_err(|source| SourceError::Io { path: mesh_path, source })?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| -> Result<(), SourceError> {
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if index >= spec.frames {
                            return Ok(());
                        }
                        let frame = scene.render(index);
                        match &writer {
                            Writer::Ycb(w) => w.write(&frame)?,
                            Writer::Ho3d(w) => w.write(index, &frame)?,
                        }
                        progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("a frame writer panicked"))
    })?;
    Ok(seq_dir)
}

/// Object pose helper for motion code: a pose from a rotation and a translation in metres.
fn pose(rotation: UnitQuaternion<f64>, t: Vector3<f64>) -> Pose {
    Pose::from_parts(Translation3::from(t), rotation)
}
