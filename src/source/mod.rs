//! Where frames come from: recorded datasets (YCBInEOAT, HO3D), the synthetic generator, and live cameras.
//! Every source implements [`FrameSource`], which the replay thread, the GUI and the tracker use alike.

pub mod files;
pub mod ho3d;
pub mod numpy_pickle;
pub mod synthetic;
pub mod ycbineoat;

use std::path::PathBuf;

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
    #[error("unknown source '{0}': use ycbineoat:DIR, ho3d:DIR/SEQ or synthetic[:object,motion,seed,frames,WxH]")]
    UnknownSpec(String),
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
        _ => Err(SourceError::UnknownSpec(spec.to_string())),
    }
}
