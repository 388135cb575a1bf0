//! Where frames come from: recorded datasets (YCBInEOAT, HO3D), the synthetic generator, and live cameras.
//! Every source implements [`FrameSource`], which the replay thread, the GUI and the tracker use alike.

pub mod files;
pub mod ho3d;
pub mod numpy_pickle;
#[cfg(feature = "realsense")]
pub mod realsense;
pub mod synthetic;
pub mod ycbineoat;

use std::path::{Path, PathBuf};

use crate::frame::{Intrinsics, RgbdFrame};

/// A failure reading a frame source, naming the file (or sequence) and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: missing ({what})", path.display())]
    Missing { path: PathBuf, what: String },
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: unreadable image: {reason}", path.display())]
    UnreadableImage { path: PathBuf, reason: String },
    #[error("{}: {what} must be {expected}, found {found}", path.display())]
    WrongFormat { path: PathBuf, what: String, expected: String, found: String },
    #[error("{}: size {found_w}x{found_h} does not match the sequence's {expected_w}x{expected_h}", path.display())]
    SizeMismatch { path: PathBuf, expected_w: u32, expected_h: u32, found_w: u32, found_h: u32 },
    #[error("{}: {reason}", path.display())]
    BadContent { path: PathBuf, reason: String },
    #[error(
        "unknown source '{0}': use ycbineoat:DIR, ho3d:DIR/SEQ, synthetic[:object,motion,seed,frames,WxH], realsense[:SERIAL] or recording:FILE"
    )]
    UnknownSpec(String),
    #[error(
        "no RealSense camera{wanted} connected (found: {found}); plug one in, or replay a recording with --source recording:FILE"
    )]
    NoCamera { wanted: String, found: String },
    #[error("{what}: no frames for 2 s after {after_frames} frames: the camera was unplugged or stopped")]
    Disconnected { what: String, after_frames: usize },
    #[error("'{0}' needs a build with the RealSense SDK: cargo build --release --features realsense (see the README)")]
    NeedsFeature(String),
}

/// A stream of RGB-D frames. Replays block until the consumer takes a frame; live cameras drop stale ones.
pub trait FrameSource: Send {
    /// A short name for logs and reports (the sequence name).
    fn name(&self) -> &str;
    /// The camera of every frame.
    fn intrinsics(&self) -> Intrinsics;
    /// Number of frames, where known in advance.
    fn len(&self) -> Option<usize>;
    /// The next frame, `Ok(None)` at the end of the stream.
    fn next_frame(&mut self) -> Result<Option<RgbdFrame>, SourceError>;
    /// A live camera: a session keeps only its newest frame rather than queueing (replays: false).
    fn is_live(&self) -> bool {
        false
    }
}

/// Opens a source from its command-line spelling: `ycbineoat:DIR`, `ho3d:DIR/SEQ` or
/// `synthetic[:object,motion,seed,frames,WxH]`.
pub fn open(spec: &str) -> Result<Box<dyn FrameSource>, SourceError> {
    let (kind, arg) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "ycbineoat" => Ok(Box::new(ycbineoat::YcbineoatSource::open(arg.as_ref())?)),
        "ho3d" => Ok(Box::new(ho3d::Ho3dSource::open(arg.as_ref())?)),
        "synthetic" => {
            let spec = synthetic::SequenceSpec::parse(arg).map_err(|_| SourceError::UnknownSpec(spec.to_string()))?;
            Ok(Box::new(synthetic::SyntheticSource::new(spec)))
        }
        #[cfg(feature = "realsense")]
        "realsense" => Ok(Box::new(realsense::RealsenseSource::open_live(Some(arg).filter(|s| !s.is_empty()), None)?)),
        #[cfg(feature = "realsense")]
        "recording" => Ok(Box::new(realsense::RealsenseSource::open_recording(arg.as_ref())?)),
        #[cfg(not(feature = "realsense"))]
        "realsense" | "recording" => Err(SourceError::NeedsFeature(spec.to_string())),
        _ => Err(SourceError::UnknownSpec(spec.to_string())),
    }
}

/// How a source is opened beyond its spelling.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Record a live camera session to this file (librealsense writes it; SDK 2.59 wants a .db3 name).
    pub record: Option<PathBuf>,
    /// The object's mask in the first frame (PNG), for sources that have none (cameras, recordings).
    pub first_mask: Option<PathBuf>,
}

/// [`open`] with recording and a first-frame mask.
pub fn open_with(spec: &str, options: &OpenOptions) -> Result<Box<dyn FrameSource>, SourceError> {
    let source = match &options.record {
        None => open(spec)?,
        Some(file) => open_recorded(spec, file)?,
    };
    Ok(match &options.first_mask {
        None => source,
        Some(path) => {
            let mut mask = Some(files::read_mask(path, Some((source.intrinsics().width, source.intrinsics().height)))?);
            Box::new(EachFrame::new(source, move |f| {
                if let Some(m) = mask.take() {
                    f.object_mask = Some(m);
                }
            }))
        }
    })
}

#[cfg(feature = "realsense")]
fn open_recorded(spec: &str, file: &Path) -> Result<Box<dyn FrameSource>, SourceError> {
    match spec.split_once(':').unwrap_or((spec, "")) {
        ("realsense", serial) => {
            Ok(Box::new(realsense::RealsenseSource::open_live(Some(serial).filter(|s| !s.is_empty()), Some(file))?))
        }
        _ => Err(SourceError::BadContent {
            path: file.to_path_buf(),
            reason: format!("--record needs a live camera source (realsense[:SERIAL]), not '{spec}'"),
        }),
    }
}

#[cfg(not(feature = "realsense"))]
fn open_recorded(spec: &str, _file: &Path) -> Result<Box<dyn FrameSource>, SourceError> {
    Err(SourceError::NeedsFeature(format!("--record with {spec}")))
}

/// A source whose frames pass through `each` on their way out: for adapters that add to frames (a first-frame
/// mask) or look at them (scoring keeps their depth) without writing another source.
pub struct EachFrame<F: FnMut(&mut RgbdFrame) + Send> {
    inner: Box<dyn FrameSource>,
    each: F,
}

impl<F: FnMut(&mut RgbdFrame) + Send> EachFrame<F> {
    /// `inner`'s frames, each handed to `each` first.
    pub fn new(inner: Box<dyn FrameSource>, each: F) -> Self {
        Self { inner, each }
    }
}

impl<F: FnMut(&mut RgbdFrame) + Send> FrameSource for EachFrame<F> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn intrinsics(&self) -> Intrinsics {
        self.inner.intrinsics()
    }

    fn len(&self) -> Option<usize> {
        self.inner.len()
    }

    fn is_live(&self) -> bool {
        self.inner.is_live()
    }

    fn next_frame(&mut self) -> Result<Option<RgbdFrame>, SourceError> {
        let mut frame = self.inner.next_frame()?;
        if let Some(f) = frame.as_mut() {
            (self.each)(f);
        }
        Ok(frame)
    }
}
