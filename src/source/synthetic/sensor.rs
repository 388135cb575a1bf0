//! The simulated RGB-D camera: shading, image noise, and a structured-light depth model.
//!
//! Depth: axial noise σ(z) = 1.2 mm + 1.9 mm·(z − 0.4 m)² (the Kinect-class model of Nguyen et al. 2012),
//! quantised to 1 mm; holes where the projected pattern is lost: silhouette edges (depth jumps > 2 cm, 60 %
//! of such pixels), dark surfaces (luminance < 0.04), specular highlights, beyond 3 m, and 0.3 % dropouts.

use nalgebra::Vector3;
use rand::Rng;
use rand_pcg::Pcg64;

use super::motion::Light;
use super::raster::{Fragment, Framebuffer};
use crate::frame::DepthImage;

/// Blinn-Phong shading; returns the colour and the specular strength.
pub fn shade(albedo: [f32; 3], gloss: f32, f: &Fragment, light: &Light) -> ([f32; 3], f32) {
    let view: Vector3<f32> = -f.position.normalize();
    let n = if f.normal.dot(&view) < 0.0 { -f.normal } else { f.normal };
    let diffuse = n.dot(&light.direction).max(0.0);
    let half = (light.direction + view).normalize();
    let specular = gloss * n.dot(&half).max(0.0).powi(60);
    let rgb = albedo.map(|a| a * (light.ambient + light.intensity * diffuse) + 0.8 * light.intensity * specular);
    (rgb, specular)
}

fn gaussian(rng: &mut Pcg64) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Axial depth noise (m) at depth `z_m`.
pub fn depth_sigma_m(z_m: f32) -> f32 {
    0.0012 + 0.0019 * (z_m - 0.4).powi(2)
}

/// Turns a rendered framebuffer into what the camera delivers: 8-bit colour with noise, and noisy,
/// quantised depth with holes.
pub fn capture(fb: &Framebuffer, rng: &mut Pcg64) -> (image::RgbImage, DepthImage) {
    let (w, h) = (fb.width, fb.height);
    let mut rgb = image::RgbImage::new(w, h);
    let mut depth = DepthImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let p = (y * w + x) as usize;
            let c = fb.rgb[p];
            let noisy = c.map(|v| ((v + 0.008 * gaussian(rng)).clamp(0.0, 1.0) * 255.0).round() as u8);
            rgb.put_pixel(x, y, image::Rgb(noisy));
            let z = fb.depth[p];
            let luminance = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
            let at_edge = [(-1i32, 0i32), (1, 0), (0, -1), (0, 1)].iter().any(|(dx, dy)| {
                let (nx, ny) = (x as i32 + dx, y as i32 + dy);
                nx >= 0
                    && ny >= 0
                    && nx < w as i32
                    && ny < h as i32
                    && (fb.depth[(ny as u32 * w + nx as u32) as usize] - z).abs() > 0.02
            });
            let lost = !z.is_finite()
                || z > 3.0
                || luminance < 0.04
                || fb.specular[p] > 0.5
                || (at_edge && rng.random::<f32>() < 0.6)
                || rng.random::<f32>() < 0.003;
            let value = if lost { 0.0 } else { ((z + depth_sigma_m(z) * gaussian(rng)) * 1000.0).round() / 1000.0 };
            depth.put_pixel(x, y, image::Luma([value.max(0.0)]));
        }
    }
    (rgb, depth)
}
