//! The GPU splat engine: the shared wgpu context and one module per kernel family (`shaders/<name>.wgsl`).

pub mod backward;
pub mod context;
pub mod fit;
pub mod gpu_data;
pub mod kernel;
pub mod renderer;
pub mod scan;
pub mod sort;
pub mod timing;

pub use context::{GpuCaps, GpuContext, GpuError};
pub use renderer::{GpuSplats, RenderError, RenderStats, SplatRenderer};
