//! How objects, hands and grippers move, and how the light changes. Angular speeds reach 90°/s at most,
//! the fastest motions of the HO3D and YCBInEOAT benchmarks.

use nalgebra::{UnitQuaternion, Vector3};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::objects::Mesh;
use super::pose;
use crate::frame::Pose;

/// The two benchmark-like motions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MotionKind {
    /// HO3D-like: the object turns in a hand about a wandering axis, fingers in front of it.
    Inhand,
    /// YCBInEOAT-like: a gripper holds the object and reorients it in smooth moves.
    Robot,
}

impl MotionKind {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inhand => "inhand",
            Self::Robot => "robot",
        }
    }
}

/// Fastest rotation of any motion (rad/s).
pub const MAX_ANGULAR_SPEED: f64 = std::f64::consts::FRAC_PI_2;
/// Seconds per robot move between two keyframes.
const ROBOT_MOVE_S: f64 = 2.0;

/// A deterministic object trajectory.
pub struct Trajectory {
    kind: MotionKind,
    start: UnitQuaternion<f64>,
    phases: [f64; 8],
    keyframes: Vec<Pose>,
}

fn smoothstep(u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0);
    u * u * (3.0 - 2.0 * u)
}

impl Trajectory {
    /// The trajectory of `kind` for `seed`.
    pub fn new(kind: MotionKind, seed: u64) -> Self {
        let mut rng = Pcg64::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x7a11);
        let random_axis = |rng: &mut Pcg64| {
            let v = Vector3::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
            nalgebra::Unit::new_normalize(v + Vector3::new(1e-3, 0.0, 0.0))
        };
        let start =
            UnitQuaternion::from_axis_angle(&random_axis(&mut rng), rng.random_range(0.0..std::f64::consts::TAU));
        let phases = std::array::from_fn(|_| rng.random_range(0.0..std::f64::consts::TAU));
        // Robot keyframes: each move turns 60–120° about a random axis and shifts the object a little;
        // a smoothstep move peaks at 1.5× its mean speed, so 120° in 2 s peaks at 90°/s.
        let mut keyframes = vec![pose(start, Vector3::new(0.0, 0.0, 0.6))];
        for _ in 0..64 {
            let last = keyframes.last().unwrap();
            let max_angle = MAX_ANGULAR_SPEED * ROBOT_MOVE_S / 1.5;
            let turn =
                UnitQuaternion::from_axis_angle(&random_axis(&mut rng), rng.random_range(max_angle / 2.0..max_angle));
            let t =
                Vector3::new(rng.random_range(-0.08..0.08), rng.random_range(-0.06..0.02), rng.random_range(0.5..0.68));
            keyframes.push(pose(turn * last.rotation, t));
        }
        Self { kind, start, phases, keyframes }
    }

    fn inhand_axis_speed(&self, t: f64) -> (Vector3<f64>, f64) {
        let p = &self.phases;
        let axis =
            Vector3::new((0.31 * t + p[0]).sin(), (0.23 * t + p[1]).cos(), 0.6 * (0.17 * t + p[2]).sin()).normalize();
        (axis, MAX_ANGULAR_SPEED * (0.5 + 0.5 * (0.8 * t + p[3]).sin()))
    }

    /// Object-to-camera pose at time `t` (seconds).
    pub fn pose(&self, t: f64) -> Pose {
        match self.kind {
            MotionKind::Inhand => {
                // Integrate the angular velocity (camera frame, about the object centre).
                let steps = (t * 240.0).ceil() as usize;
                let dt = if steps > 0 { t / steps as f64 } else { 0.0 };
                let mut r = self.start;
                for k in 0..steps {
                    let (axis, speed) = self.inhand_axis_speed((k as f64 + 0.5) * dt);
                    r = UnitQuaternion::from_scaled_axis(axis * speed * dt) * r;
                }
                let p = &self.phases;
                let c = Vector3::new(
                    0.03 * (0.4 * t + p[4]).sin(),
                    -0.01 + 0.02 * (0.55 * t + p[5]).sin(),
                    0.52 + 0.05 * (0.3 * t + p[6]).sin(),
                );
                pose(r, c)
            }
            MotionKind::Robot => {
                let k = ((t / ROBOT_MOVE_S) as usize).min(self.keyframes.len() - 2);
                let s = smoothstep(t / ROBOT_MOVE_S - k as f64);
                let (a, b) = (&self.keyframes[k], &self.keyframes[k + 1]);
                let rotation = a.rotation.slerp(&b.rotation, s);
                pose(rotation, a.translation.vector.lerp(&b.translation.vector, s))
            }
        }
    }

    /// Pose of the hand (in-hand) or the gripper (robot) at time `t`, given the object's pose.
    pub fn occluder_pose(&self, t: f64, object: &Pose) -> Pose {
        match self.kind {
            MotionKind::Inhand => {
                // The hand follows the object's centre from below and in front, wobbling, without turning with it.
                let p = &self.phases;
                let offset = Vector3::new(0.02 * (0.5 * t + p[7]).sin(), 0.085, -0.055 - 0.01 * (0.7 * t).sin());
                let tilt =
                    UnitQuaternion::from_euler_angles(0.25 * (0.4 * t).sin(), 0.3 * (0.33 * t + p[0]).sin(), 0.0);
                pose(tilt, object.translation.vector + offset)
            }
            // The gripper holds the object rigidly.
            MotionKind::Robot => *object,
        }
    }
}

/// A hand: palm below, four fingers rising in front of the object (hand frame = near the object centre).
pub fn hand_mesh() -> Mesh {
    let mut m = Mesh::default();
    m.add_box(Vector3::new(0.0, 0.02, 0.03), Vector3::new(0.045, 0.012, 0.05), [0; 6]);
    for (k, x) in [-0.033f32, -0.011, 0.011, 0.033].iter().enumerate() {
        let length = [0.02, 0.026, 0.028, 0.022][k];
        m.add_box(Vector3::new(*x, 0.005 - length, -0.01), Vector3::new(0.0095, length, 0.0095), [0; 6]);
    }
    // Thumb along the side.
    m.add_box(Vector3::new(0.058, -0.015, 0.02), Vector3::new(0.01, 0.03, 0.01), [0; 6]);
    m
}

/// A parallel gripper holding an object about 8 cm deep: two fingers on ±z, a bridge and a wrist above (−y).
pub fn gripper_mesh() -> Mesh {
    let mut m = Mesh::default();
    for z in [-0.052f32, 0.052] {
        m.add_box(Vector3::new(0.0, -0.02, z), Vector3::new(0.012, 0.045, 0.008), [0; 6]);
    }
    m.add_box(Vector3::new(0.0, -0.072, 0.0), Vector3::new(0.015, 0.008, 0.06), [0; 6]);
    m.add_box(Vector3::new(0.0, -0.11, 0.0), Vector3::new(0.025, 0.03, 0.025), [0; 6]);
    m
}

/// A directional light in camera coordinates.
pub struct Light {
    /// Unit vector towards the light.
    pub direction: Vector3<f32>,
    pub intensity: f32,
    pub ambient: f32,
}

/// The light at time `t`: it swings slowly and dims and brightens by about ±25 %.
pub fn light(t: f64, seed: u64) -> Light {
    let phase = (seed % 97) as f64 * 0.37;
    let direction = Vector3::new((0.3 * t + phase).sin() * 0.5, -0.7, -0.6 + 0.2 * (0.2 * t).cos()).normalize();
    Light {
        direction: nalgebra::convert(direction),
        intensity: (0.75 + 0.2 * (0.15 * t + phase).sin()) as f32,
        ambient: 0.35,
    }
}
