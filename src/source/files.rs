//! Reading and writing the image files of the dataset layouts, with errors that name the file.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageReader};

use super::SourceError;
use crate::frame::{DepthImage, Mask};

fn open_image(path: &Path) -> Result<DynamicImage, SourceError> {
    if !path.exists() {
        return Err(SourceError::Missing { path: path.to_path_buf(), what: "image file".into() });
    }
    let reader = ImageReader::open(path)
        .map_err(|source| SourceError::Io { path: path.to_path_buf(), source })?
        .with_guessed_format()
        .map_err(|source| SourceError::Io { path: path.to_path_buf(), source })?;
    reader.decode().map_err(|e| SourceError::UnreadableImage { path: path.to_path_buf(), reason: e.to_string() })
}

fn check_size(path: &Path, image: &DynamicImage, expected: Option<(u32, u32)>) -> Result<(), SourceError> {
    if let Some((w, h)) = expected
        && (image.width(), image.height()) != (w, h)
    {
        return Err(SourceError::SizeMismatch {
            path: path.to_path_buf(),
            expected_w: w,
            expected_h: h,
            found_w: image.width(),
            found_h: image.height(),
        });
    }
    Ok(())
}

fn color_name(image: &DynamicImage) -> String {
    format!("{:?}", image.color())
}

/// An 8-bit RGB or RGBA colour image (alpha dropped).
pub fn read_rgb(path: &Path, expected: Option<(u32, u32)>) -> Result<image::RgbImage, SourceError> {
    let image = open_image(path)?;
    check_size(path, &image, expected)?;
    match image {
        DynamicImage::ImageRgb8(rgb) => Ok(rgb),
        DynamicImage::ImageRgba8(_) | DynamicImage::ImageLuma8(_) => Ok(image.to_rgb8()),
        other => Err(SourceError::WrongFormat {
            path: path.to_path_buf(),
            what: "colour image".into(),
            expected: "8-bit RGB or RGBA".into(),
            found: color_name(&other),
        }),
    }
}

/// A single-channel 16-bit depth image in millimetres (0 = invalid), as metres.
pub fn read_depth_mm(path: &Path, expected: Option<(u32, u32)>) -> Result<DepthImage, SourceError> {
    let image = open_image(path)?;
    check_size(path, &image, expected)?;
    let DynamicImage::ImageLuma16(mm) = image else {
        return Err(SourceError::WrongFormat {
            path: path.to_path_buf(),
            what: "depth image".into(),
            expected: "16-bit single-channel millimetres".into(),
            found: color_name(&image),
        });
    };
    Ok(DepthImage::from_fn(mm.width(), mm.height(), |x, y| image::Luma([mm.get_pixel(x, y)[0] as f32 / 1000.0])))
}

/// A mask from an 8-bit image: any non-zero channel counts as inside (grey, RGB and RGBA masks alike;
/// the alpha channel is ignored).
pub fn read_mask(path: &Path, expected: Option<(u32, u32)>) -> Result<Mask, SourceError> {
    let image = open_image(path)?;
    check_size(path, &image, expected)?;
    match &image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => {
            let rgb = image.to_rgb8();
            Ok(Mask::from_fn(rgb.width(), rgb.height(), |x, y| {
                let p = rgb.get_pixel(x, y);
                image::Luma([if p.0.iter().any(|c| *c > 0) { 255 } else { 0 }])
            }))
        }
        other => Err(SourceError::WrongFormat {
            path: path.to_path_buf(),
            what: "mask".into(),
            expected: "8-bit grey, RGB or RGBA".into(),
            found: color_name(other),
        }),
    }
}

/// Reads a whole text file.
pub fn read_text(path: &Path, what: &str) -> Result<String, SourceError> {
    if !path.exists() {
        return Err(SourceError::Missing { path: path.to_path_buf(), what: what.into() });
    }
    std::fs::read_to_string(path).map_err(|source| SourceError::Io { path: path.to_path_buf(), source })
}

/// The files of `dir` with one of `extensions`, sorted by name; empty when `dir` does not exist.
pub fn list_files(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, SourceError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| SourceError::Io { path: dir.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The file stem as a string.
pub fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Metres to uint16 millimetres (rounded; 0 stays invalid, beyond 65.535 m clamps).
pub fn depth_to_mm(depth: &DepthImage) -> image::ImageBuffer<image::Luma<u16>, Vec<u16>> {
    image::ImageBuffer::from_fn(depth.width(), depth.height(), |x, y| {
        image::Luma([(depth.get_pixel(x, y)[0] * 1000.0).round().clamp(0.0, 65535.0) as u16])
    })
}

/// Saves a PNG, naming the file on failure.
pub fn save<P, C>(image: &image::ImageBuffer<P, C>, path: &Path) -> Result<(), SourceError>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    crate::rendered::save_png(image, path)
        .map_err(|e| SourceError::BadContent { path: path.to_path_buf(), reason: e.to_string() })
}

/// Writes a text file, naming it on failure.
pub fn write_text(path: &Path, text: &str) -> Result<(), SourceError> {
    std::fs::write(path, text).map_err(|source| SourceError::Io { path: path.to_path_buf(), source })
}

/// Creates a directory and its parents, naming it on failure.
pub fn create_dir(path: &Path) -> Result<(), SourceError> {
    std::fs::create_dir_all(path).map_err(|source| SourceError::Io { path: path.to_path_buf(), source })
}
