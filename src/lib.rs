//! splatrack: online 6D pose tracking of an unknown object with joint 2D Gaussian splatting reconstruction.
//!
//! Data flows frame sources → tracker → GPU splat engine → GUI/CLI; each stage is a module here.

pub mod cli;
pub mod config;
pub mod eval;
pub mod frame;
pub mod gpu;
pub mod gui;
pub mod reference;
pub mod rendered;
pub mod source;
pub mod splats;
pub mod tracker;
