//! A plain z-buffer triangle rasterizer on the CPU: exact depth, per-pixel ids and shading for the synthetic
//! sequences. Pixel centres at +0.5, perspective-correct interpolation, triangles crossing the near plane
//! skipped (scene geometry is kept in front of it).

use nalgebra::{Isometry3, Vector3};

use crate::frame::Intrinsics;

/// Which kind of surface a pixel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SurfaceId {
    Background = 0,
    Object = 1,
    Occluder = 2,
    Scene = 3,
}

/// What a shader gets at a pixel: material, texture coordinate, camera-space position and normal.
pub struct Fragment {
    pub material: u8,
    pub uv: [f32; 2],
    pub position: Vector3<f32>,
    pub normal: Vector3<f32>,
}

/// Colour buffer plus depth, surface ids and specular strength per pixel.
pub struct Framebuffer {
    pub width: u32,
    pub height: u32,
    pub depth: Vec<f32>,
    pub id: Vec<SurfaceId>,
    pub rgb: Vec<[f32; 3]>,
    /// Strength of the specular highlight (0..1): structured-light sensors lose depth where it is high.
    pub specular: Vec<f32>,
}

impl Framebuffer {
    /// An empty buffer: infinitely far, background.
    pub fn new(width: u32, height: u32) -> Self {
        let n = (width * height) as usize;
        Self {
            width,
            height,
            depth: vec![f32::INFINITY; n],
            id: vec![SurfaceId::Background; n],
            rgb: vec![[0.0; 3]; n],
            specular: vec![0.0; n],
        }
    }
}

/// Smallest camera z a vertex may have.
const NEAR_M: f32 = 0.05;

/// Draws a mesh placed by `to_camera`, shading visible pixels with `shade(fragment) -> (rgb, specular)`.
pub fn draw(
    fb: &mut Framebuffer,
    k: &Intrinsics,
    mesh: &super::objects::Mesh,
    to_camera: &Isometry3<f32>,
    id: SurfaceId,
    shade: &dyn Fn(&Fragment) -> ([f32; 3], f32),
) {
    let (fx, fy, cx, cy) = (k.fx as f32, k.fy as f32, k.cx as f32, k.cy as f32);
    let cam: Vec<Vector3<f32>> =
        mesh.positions.iter().map(|p| to_camera * nalgebra::Point3::from(*p)).map(|p| p.coords).collect();
    let normals: Vec<Vector3<f32>> = mesh.normals.iter().map(|n| to_camera.rotation * n).collect();
    for (t, tri) in mesh.triangles.iter().enumerate() {
        let [a, b, c] = tri.map(|i| i as usize);
        let p = [cam[a], cam[b], cam[c]];
        if p.iter().any(|v| v.z < NEAR_M) {
            continue;
        }
        let s = p.map(|v| [fx * v.x / v.z + cx, fy * v.y / v.z + cy]);
        let area = (s[1][0] - s[0][0]) * (s[2][1] - s[0][1]) - (s[2][0] - s[0][0]) * (s[1][1] - s[0][1]);
        if area.abs() < 1e-12 {
            continue;
        }
        let min_x = s.iter().map(|v| v[0]).fold(f32::MAX, f32::min).floor().max(0.0) as u32;
        let max_x = (s.iter().map(|v| v[0]).fold(f32::MIN, f32::max).ceil().max(0.0) as u32).min(fb.width);
        let min_y = s.iter().map(|v| v[1]).fold(f32::MAX, f32::min).floor().max(0.0) as u32;
        let max_y = (s.iter().map(|v| v[1]).fold(f32::MIN, f32::max).ceil().max(0.0) as u32).min(fb.height);
        for y in min_y..max_y {
            for x in min_x..max_x {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let edge =
                    |i: usize, j: usize| (s[j][0] - s[i][0]) * (py - s[i][1]) - (s[j][1] - s[i][1]) * (px - s[i][0]);
                let w = [edge(1, 2) / area, edge(2, 0) / area, edge(0, 1) / area];
                if w.iter().any(|v| *v < 0.0) {
                    continue;
                }
                // Perspective-correct weights.
                let inv_z = w[0] / p[0].z + w[1] / p[1].z + w[2] / p[2].z;
                let z = 1.0 / inv_z;
                let pix = (y * fb.width + x) as usize;
                if z >= fb.depth[pix] {
                    continue;
                }
                let pw = [w[0] / p[0].z * z, w[1] / p[1].z * z, w[2] / p[2].z * z];
                let lerp3 = |v: [Vector3<f32>; 3]| v[0] * pw[0] + v[1] * pw[1] + v[2] * pw[2];
                let uv = [a, b, c].map(|i| mesh.uvs[i]);
                let fragment = Fragment {
                    material: mesh.materials[t],
                    uv: [0, 1].map(|k| uv[0][k] * pw[0] + uv[1][k] * pw[1] + uv[2][k] * pw[2]),
                    position: lerp3(p),
                    normal: lerp3([normals[a], normals[b], normals[c]]).normalize(),
                };
                let (rgb, specular) = shade(&fragment);
                fb.depth[pix] = z;
                fb.id[pix] = id;
                fb.rgb[pix] = rgb;
                fb.specular[pix] = specular;
            }
        }
    }
}
