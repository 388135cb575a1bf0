//! Procedural YCB-like objects: triangle meshes in their own frame (metres, centred on their bounding box)
//! with procedural textures that mix rich print (text rows, logos, checks) and weak, uniform regions.

use std::io::Write;
use std::path::Path;

use nalgebra::Vector3;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// The objects the generator can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A printed cereal box, 16 × 21 × 7 cm (like YCB 003_cracker_box).
    Box,
    /// A bottle of revolution with a label band and a cap, 19 cm tall (like YCB 006_mustard_bottle).
    Bottle,
    /// A mug with a handle and a printed band, 9 cm tall (like YCB 025_mug): irregular, open on top.
    Mug,
}

impl ObjectKind {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Box => "box",
            Self::Bottle => "bottle",
            Self::Mug => "mug",
        }
    }

    /// The YCB object it imitates (written as HO3D's objName).
    pub fn ycb_name(self) -> &'static str {
        match self {
            Self::Box => "003_cracker_box",
            Self::Bottle => "006_mustard_bottle",
            Self::Mug => "025_mug",
        }
    }
}

/// A triangle mesh with per-vertex normals and texture coordinates and a material per triangle.
#[derive(Debug, Clone, Default)]
pub struct Mesh {
    pub positions: Vec<Vector3<f32>>,
    pub normals: Vec<Vector3<f32>>,
    /// Texture coordinates in metres along the surface (so print density is physical).
    pub uvs: Vec<[f32; 2]>,
    pub triangles: Vec<[u32; 3]>,
    pub materials: Vec<u8>,
}

impl Mesh {
    fn vertex(&mut self, p: Vector3<f32>, n: Vector3<f32>, uv: [f32; 2]) -> u32 {
        self.positions.push(p);
        self.normals.push(n.normalize());
        self.uvs.push(uv);
        self.positions.len() as u32 - 1
    }

    /// A grid of `nu × nv` quads over the parametric surface `f(u, v) -> (position, normal, uv)`, u, v ∈ [0, 1].
    fn grid(
        &mut self,
        nu: usize,
        nv: usize,
        material: u8,
        f: impl Fn(f32, f32) -> (Vector3<f32>, Vector3<f32>, [f32; 2]),
    ) {
        let base = self.positions.len() as u32;
        for j in 0..=nv {
            for i in 0..=nu {
                let (p, n, uv) = f(i as f32 / nu as f32, j as f32 / nv as f32);
                self.vertex(p, n, uv);
            }
        }
        let row = nu as u32 + 1;
        for j in 0..nv as u32 {
            for i in 0..nu as u32 {
                let a = base + j * row + i;
                self.triangles.push([a, a + 1, a + row + 1]);
                self.triangles.push([a, a + row + 1, a + row]);
                self.materials.extend([material, material]);
            }
        }
    }

    /// An axis-aligned box of half sizes `h` centred at `c`, with per-face materials (+x, −x, +y, −y, +z, −z).
    pub fn add_box(&mut self, c: Vector3<f32>, h: Vector3<f32>, materials: [u8; 6]) {
        for (face, &material) in materials.iter().enumerate() {
            let axis = face / 2;
            let sign = if face % 2 == 0 { 1.0 } else { -1.0 };
            let (a, b) = ((axis + 1) % 3, (axis + 2) % 3);
            let mut n = Vector3::zeros();
            n[axis] = sign;
            self.grid(1, 1, material, |u, v| {
                let mut p = c;
                p[axis] += sign * h[axis];
                // Orient the two in-plane axes so the winding faces outwards.
                let (su, sv) = if sign > 0.0 { (2.0 * u - 1.0, 2.0 * v - 1.0) } else { (2.0 * v - 1.0, 2.0 * u - 1.0) };
                p[a] += su * h[a];
                p[b] += sv * h[b];
                (p, n, [(su + 1.0) * h[a], (sv + 1.0) * h[b]])
            });
        }
    }

    /// A surface of revolution around +y: `profile(t) -> (radius, height)` for t ∈ [0, 1].
    fn revolve(
        &mut self,
        segments: usize,
        rings: usize,
        material: u8,
        inward: bool,
        profile: impl Fn(f32) -> (f32, f32),
    ) {
        let flip = if inward { -1.0 } else { 1.0 };
        self.grid(segments, rings, material, |u, t| {
            let phi = u * std::f32::consts::TAU * flip;
            let (r, y) = profile(t);
            let dt = 1e-3;
            let (r2, y2) = profile((t + dt).min(1.0));
            let (r1, y1) = profile((t - dt).max(0.0));
            let (dr, dy) = (r2 - r1, y2 - y1);
            let radial = Vector3::new(phi.cos(), 0.0, phi.sin());
            // Normal of the profile curve (dy, -dr) turned around the axis.
            let n = (radial * dy - Vector3::y() * dr) * flip;
            let n = if n.norm() < 1e-9 { Vector3::y() * -dr.signum() } else { n };
            (radial * r + Vector3::y() * y, n, [u * std::f32::consts::TAU * r.max(0.01), y])
        });
    }

    /// Moves the mesh so its bounding-box centre is the origin.
    fn centre(&mut self) {
        let lo = self.positions.iter().fold(Vector3::repeat(f32::MAX), |a, p| a.inf(p));
        let hi = self.positions.iter().fold(Vector3::repeat(f32::MIN), |a, p| a.sup(p));
        let c = (lo + hi) / 2.0;
        for p in &mut self.positions {
            *p -= c;
        }
    }

    /// Total surface area (m²).
    pub fn area(&self) -> f32 {
        self.triangles.iter().map(|t| self.triangle_area(t)).sum()
    }

    fn triangle_area(&self, t: &[u32; 3]) -> f32 {
        let [a, b, c] = t.map(|i| self.positions[i as usize]);
        0.5 * (b - a).cross(&(c - a)).norm()
    }

    /// `n` points uniformly distributed over the surface (area-weighted), deterministic for `seed`.
    pub fn sample_surface(&self, n: usize, seed: u64) -> Vec<Vector3<f32>> {
        let mut cumulative = Vec::with_capacity(self.triangles.len());
        let mut total = 0.0;
        for t in &self.triangles {
            total += self.triangle_area(t);
            cumulative.push(total);
        }
        let mut rng = Pcg64::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let pick = rng.random_range(0.0..total);
                let k = cumulative.partition_point(|c| *c < pick).min(self.triangles.len() - 1);
                let [a, b, c] = self.triangles[k].map(|i| self.positions[i as usize]);
                let (mut u, mut v): (f32, f32) = (rng.random(), rng.random());
                if u + v > 1.0 {
                    (u, v) = (1.0 - u, 1.0 - v);
                }
                a + (b - a) * u + (c - a) * v
            })
            .collect()
    }

    /// Writes a Wavefront OBJ (positions and faces).
    pub fn write_obj(&self, path: &Path) -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(w, "# splatrack synthetic object, metres, object frame")?;
        for p in &self.positions {
            writeln!(w, "v {:.6} {:.6} {:.6}", p.x, p.y, p.z)?;
        }
        for t in &self.triangles {
            writeln!(w, "f {} {} {}", t[0] + 1, t[1] + 1, t[2] + 1)?;
        }
        w.flush()
    }
}

/// Reads the vertices and triangles of a Wavefront OBJ (other records are ignored; polygons are fanned).
pub fn read_obj(path: &Path) -> Result<Mesh, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut mesh = Mesh::default();
    for (line_no, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let bad = || format!("{}: line {}: cannot parse '{line}'", path.display(), line_no + 1);
        match words.next() {
            Some("v") => {
                let v: Vec<f32> = words.take(3).map(|w| w.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
                if v.len() != 3 || !v.iter().all(|x| x.is_finite()) {
                    return Err(bad());
                }
                mesh.vertex(Vector3::new(v[0], v[1], v[2]), Vector3::z(), [0.0, 0.0]);
            }
            Some("f") => {
                let idx: Vec<u32> = words
                    .map(|w| w.split('/').next().unwrap_or("").parse::<i64>().map_err(|_| bad()))
                    .map(|r| {
                        r.and_then(|i| {
                            let n = mesh.positions.len() as i64;
                            let i = if i < 0 { n + i } else { i - 1 };
                            if (0..n).contains(&i) { Ok(i as u32) } else { Err(bad()) }
                        })
                    })
                    .collect::<Result<_, _>>()?;
                for k in 1..idx.len().saturating_sub(1) {
                    mesh.triangles.push([idx[0], idx[k], idx[k + 1]]);
                    mesh.materials.push(0);
                }
            }
            _ => {}
        }
    }
    if mesh.triangles.is_empty() {
        return Err(format!("{}: no faces", path.display()));
    }
    Ok(mesh)
}

/// Builds an object's mesh.
pub fn build(kind: ObjectKind) -> Mesh {
    let mut m = Mesh::default();
    match kind {
        ObjectKind::Box => m.add_box(Vector3::zeros(), Vector3::new(0.08, 0.105, 0.035), [2, 2, 3, 3, 0, 1]),
        ObjectKind::Bottle => {
            m.revolve(48, 40, 0, false, |t| {
                let y = t * 0.165;
                let r = if y < 0.13 {
                    0.032 + 0.004 * (1.0 - ((y - 0.065) / 0.065).powi(2))
                } else {
                    let s = ((y - 0.13) / 0.035).min(1.0);
                    0.032 - 0.02 * (s * std::f32::consts::FRAC_PI_2).sin()
                };
                (r, y)
            });
            // Cap (side and top) and the bottom disc.
            m.revolve(48, 3, 2, false, |t| (0.0125, 0.163 + 0.027 * t));
            m.revolve(48, 2, 2, false, |t| (0.0125 * (1.0 - t), 0.19));
            m.revolve(48, 2, 0, true, |t| (0.032 * (1.0 - t), 0.0));
        }
        ObjectKind::Mug => {
            m.revolve(48, 12, 0, false, |t| (0.04, 0.09 * t));
            m.revolve(48, 12, 1, true, |t| (0.036, 0.006 + 0.084 * t));
            m.revolve(48, 2, 1, false, |t| (0.036 + 0.004 * t, 0.09));
            m.revolve(48, 2, 0, true, |t| (0.04 * (1.0 - t), 0.0));
            m.revolve(48, 2, 1, false, |t| (0.036 * (1.0 - t), 0.006));
            // Handle: a half torus on +x.
            m.grid(16, 10, 2, |u, v| {
                let a = (u - 0.5) * std::f32::consts::PI * 1.1;
                let b = v * std::f32::consts::TAU;
                let centre = Vector3::new(0.04 + 0.022 * a.cos(), 0.045 + 0.028 * a.sin(), 0.0);
                let radial = Vector3::new(a.cos(), a.sin(), 0.0);
                let n = radial * b.cos() + Vector3::z() * b.sin();
                (centre + n * 0.007, n, [u * 0.1, v * 0.044])
            });
        }
    }
    m.centre();
    m
}

fn hash(a: i32, b: i32, salt: u32) -> u32 {
    let mut h =
        (a as u32).wrapping_mul(0x9E37_79B1) ^ (b as u32).wrapping_mul(0x85EB_CA77) ^ salt.wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^ (h >> 13)
}

/// Rows of dark "text" blocks over `region` (u0, v0, u1, v1): rich, high-frequency texture.
fn text_rows(u: f32, v: f32, region: [f32; 4], salt: u32) -> bool {
    if u < region[0] || u > region[2] || v < region[1] || v > region[3] {
        return false;
    }
    let row = ((v - region[1]) / 0.009) as i32;
    let in_row = ((v - region[1]) / 0.009).fract() < 0.6;
    let col = ((u - region[0]) / 0.005) as i32;
    in_row && hash(col / 2, row, salt) % 5 != 0 && hash(row, 7, salt) % 4 != 0
}

/// Albedo and glossiness of a surface point.
pub fn albedo(kind: ObjectKind, material: u8, uv: [f32; 2]) -> ([f32; 3], f32) {
    let [u, v] = uv;
    let dist = |cu: f32, cv: f32| ((u - cu).powi(2) + (v - cv).powi(2)).sqrt();
    match (kind, material) {
        (ObjectKind::Box, 0) => {
            // Front: a red box with a yellow logo, a blue checked picture and rows of text; top third plain.
            if dist(0.08, 0.15) < 0.035 {
                ([0.95, 0.8, 0.1], 0.1)
            } else if (0.02..0.14).contains(&u) && (0.02..0.08).contains(&v) {
                let check = ((u / 0.012) as i32 + (v / 0.012) as i32) % 2 == 0;
                (if check { [0.9, 0.9, 0.95] } else { [0.1, 0.25, 0.7] }, 0.1)
            } else if text_rows(u, v, [0.015, 0.085, 0.145, 0.11], 1) {
                ([0.05, 0.05, 0.05], 0.05)
            } else {
                ([0.78, 0.12, 0.1], 0.1)
            }
        }
        (ObjectKind::Box, 1) => {
            if text_rows(u, v, [0.01, 0.02, 0.15, 0.12], 2) {
                ([0.1, 0.1, 0.12], 0.05)
            } else {
                ([0.92, 0.9, 0.85], 0.1)
            }
        }
        (ObjectKind::Box, 2) => {
            let stripe = ((u + v) / 0.02).fract() < 0.3 && v > 0.08 && v < 0.13;
            (if stripe { [0.7, 0.1, 0.1] } else { [0.95, 0.85, 0.2] }, 0.1)
        }
        (ObjectKind::Box, _) => ([0.85, 0.2, 0.12], 0.1),
        (ObjectKind::Bottle, 2) => ([0.8, 0.1, 0.08], 0.6),
        (ObjectKind::Bottle, _) => {
            // Label band between 4 and 12 cm: white with red stripes, text and a logo; the rest plain yellow.
            if (0.04..0.12).contains(&v) {
                let circumference = u;
                if dist(0.05, 0.085) < 0.018 {
                    ([0.15, 0.45, 0.15], 0.4)
                } else if (v - 0.045) < 0.006 || (0.115 - v) < 0.006 {
                    ([0.75, 0.1, 0.1], 0.4)
                } else if text_rows(circumference, v, [0.08, 0.055, 0.19, 0.105], 3) {
                    ([0.05, 0.05, 0.08], 0.3)
                } else {
                    ([0.95, 0.95, 0.9], 0.4)
                }
            } else {
                ([0.95, 0.78, 0.05], 0.6)
            }
        }
        (ObjectKind::Mug, 0) => {
            // A blue printed band with waves and dots around the middle; plain glazed white elsewhere.
            if (0.03..0.065).contains(&v) {
                let wave = (v - 0.0475 - 0.008 * (u / 0.02).sin()).abs() < 0.003;
                let dot = ((u / 0.015).fract() - 0.5).abs() < 0.2 && ((v / 0.01).fract() - 0.5).abs() < 0.25 && !wave;
                if wave || dot { ([0.1, 0.2, 0.65], 0.7) } else { ([0.85, 0.9, 0.97], 0.7) }
            } else {
                ([0.93, 0.93, 0.9], 0.7)
            }
        }
        (ObjectKind::Mug, _) => ([0.9, 0.9, 0.88], 0.7),
    }
}
