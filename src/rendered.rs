//! A rendered view read back to the host, and its PNG exports.

use std::path::{Path, PathBuf};

/// Per-pixel outputs of the rasterizer, channel-planar (the GPU layout): see the `CH_*` channel indices.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedView {
    pub width: u32,
    pub height: u32,
    /// `F32_CHANNELS` planes of width × height floats.
    pub planes: Vec<f32>,
    /// `U32_CHANNELS` planes of width × height counts.
    pub counts: Vec<u32>,
}

/// Red, green, blue: colour composited over black (not divided by alpha).
pub const CH_RGB: [usize; 3] = [0, 1, 2];
/// Accumulated alpha, 1 − final transmittance.
pub const CH_ALPHA: usize = 3;
/// Alpha-weighted sum of the depths where each pixel's ray meets the surfels (metres; divide by alpha for a mean
/// depth; see [`crate::reference::hit_depth`]).
pub const CH_DEPTH_EXPECTED: usize = 4;
/// Depth (as [`CH_DEPTH_EXPECTED`] sees it) on the last surfel composited while transmittance was above one half
/// (metres).
pub const CH_DEPTH_MEDIAN: usize = 5;
/// Alpha-weighted sum of camera-facing normals, camera frame.
pub const CH_NORMAL: [usize; 3] = [6, 7, 8];
/// The 2DGS depth-distortion term.
pub const CH_DISTORTION: usize = 9;
/// Transmittance left after compositing.
pub const CH_FINAL_T: usize = 10;
/// Number of float planes.
pub const F32_CHANNELS: usize = 11;
/// Range entries walked up to the last composited surfel.
pub const CNT_LAST: usize = 0;
/// Range entries walked up to the median-depth surfel.
pub const CNT_MEDIAN: usize = 1;
/// Number of count planes.
pub const U32_CHANNELS: usize = 2;

/// A PNG that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {source}", path.display())]
pub struct PngWriteError {
    pub path: PathBuf,
    #[source]
    pub source: image::ImageError,
}

impl RenderedView {
    /// An all-zero view (what an empty scene renders, but for transmittance, which is set to 1).
    pub fn empty(width: u32, height: u32) -> Self {
        let n = width as usize * height as usize;
        let mut view = Self { width, height, planes: vec![0.0; F32_CHANNELS * n], counts: vec![0; U32_CHANNELS * n] };
        view.plane_mut(CH_FINAL_T).fill(1.0);
        view
    }

    /// Pixels per plane.
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// One float plane.
    pub fn plane(&self, channel: usize) -> &[f32] {
        let n = self.pixel_count();
        &self.planes[channel * n..(channel + 1) * n]
    }

    /// One float plane, mutable.
    pub fn plane_mut(&mut self, channel: usize) -> &mut [f32] {
        let n = self.pixel_count();
        &mut self.planes[channel * n..(channel + 1) * n]
    }

    /// One count plane.
    pub fn count_plane(&self, channel: usize) -> &[u32] {
        let n = self.pixel_count();
        &self.counts[channel * n..(channel + 1) * n]
    }

    /// 8-bit RGBA: RGB as composited over black, A the accumulated alpha.
    pub fn to_rgba8(&self) -> image::RgbaImage {
        let to8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let planes = [CH_RGB[0], CH_RGB[1], CH_RGB[2], CH_ALPHA].map(|c| self.plane(c));
        image::RgbaImage::from_fn(self.width, self.height, |x, y| {
            let p = (y * self.width + x) as usize;
            image::Rgba(planes.map(|plane| to8(plane[p])))
        })
    }

    /// Depth in uint16 millimetres (the YCBInEOAT convention): the median depth where alpha ≥ 0.5, else 0.
    pub fn to_depth_mm(&self) -> image::ImageBuffer<image::Luma<u16>, Vec<u16>> {
        let (depth, alpha) = (self.plane(CH_DEPTH_MEDIAN), self.plane(CH_ALPHA));
        image::ImageBuffer::from_fn(self.width, self.height, |x, y| {
            let p = (y * self.width + x) as usize;
            let mm = if alpha[p] >= 0.5 { (depth[p] * 1000.0).round().clamp(0.0, 65535.0) as u16 } else { 0 };
            image::Luma([mm])
        })
    }
}

/// Saves an image as PNG through a temporary file, so a failed write never leaves a truncated file.
pub fn save_png<P, C>(image: &image::ImageBuffer<P, C>, path: &Path) -> Result<(), PngWriteError>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    let tmp = path.with_extension("png.partial");
    let wrap = |source| PngWriteError { path: path.to_path_buf(), source };
    image.save_with_format(&tmp, image::ImageFormat::Png).map_err(wrap)?;
    std::fs::rename(&tmp, path).map_err(|e| wrap(image::ImageError::IoError(e)))
}
