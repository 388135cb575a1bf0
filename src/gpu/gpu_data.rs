//! `bytemuck::Pod` mirrors of the WGSL structs, byte for byte (explicit padding). `tests/wgsl_mirrors.rs`
//! compares each field's offset and each struct's size with naga's layout of the shader source.

use bytemuck::{Pod, Zeroable};

/// Mirror of `RenderParams` in `shaders/common.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct RenderParams {
    pub rot_c0: [f32; 4],
    pub rot_c1: [f32; 4],
    pub rot_c2: [f32; 4],
    pub translation: [f32; 4],
    pub focal: [f32; 2],
    pub principal: [f32; 2],
    pub image_size: [u32; 2],
    pub tile_count: [u32; 2],
    pub num_splats: u32,
    pub sh_coeffs: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Mirror of `ProjectedSplat` in `shaders/common.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct ProjectedSplat {
    pub ray_u: [f32; 3],
    pub centre_x: f32,
    pub ray_v: [f32; 3],
    pub centre_y: f32,
    pub ray_w: [f32; 3],
    pub depth: f32,
    pub normal: [f32; 3],
    pub opacity: f32,
    pub color: [f32; 3],
    pub tile_count: u32,
    pub radius: [u32; 2],
    pub _pad: [u32; 2],
}

/// Mirror of `ScanParams` in `shaders/scan.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct ScanParams {
    pub len: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

/// Mirror of `SortParams` in `shaders/sort.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct SortParams {
    pub num_keys: u32,
    pub shift: u32,
    pub num_blocks: u32,
    pub _pad: u32,
}

/// Mirror of `TileParams` in `shaders/tiles.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct TileParams {
    pub num_keys: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

/// Mirror of `TwistParams` in `shaders/project_bwd.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct TwistParams {
    pub num_partials: u32,
    pub view: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Mirror of `LossParams` in `shaders/loss.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct LossParams {
    pub color_l1: f32,
    pub depth_l1: f32,
    pub mask_l1: f32,
    pub normal: f32,
    pub distortion: f32,
    pub occlusion_margin_m: f32,
    pub inv_pixels: f32,
    pub _pad: f32,
}

/// Mirror of `AdamParams` in `shaders/adam.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AdamParams {
    pub grad_offset: u32,
    pub count: u32,
    pub width: u32,
    pub stride: u32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    pub bias1: f32,
    pub bias2: f32,
    pub clip: f32,
    pub _pad: f32,
}

/// Mirror of `PoseStepParams` in `shaders/pose_step.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct PoseStepParams {
    pub num_views: u32,
    pub free_views: u32,
    pub lr_rotation: f32,
    pub lr_translation: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    pub bias1: f32,
    pub bias2: f32,
    pub clip: f32,
    pub _pad0: f32,
    pub _pad1: f32,
}

/// A Rust mirror's name in WGSL, size and field offsets, for the layout test.
pub struct MirrorLayout {
    pub wgsl_name: &'static str,
    pub size: usize,
    pub fields: Vec<(&'static str, usize)>,
}

macro_rules! mirror_layout {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        MirrorLayout {
            wgsl_name: stringify!($ty),
            size: std::mem::size_of::<$ty>(),
            fields: vec![$((stringify!($field), std::mem::offset_of!($ty, $field))),*],
        }
    };
}
pub(crate) use mirror_layout;

/// Every mirror with the shader file that declares it.
pub fn mirror_layouts() -> Vec<(&'static str, MirrorLayout)> {
    vec![
        (
            "common.wgsl",
            mirror_layout!(RenderParams {
                rot_c0,
                rot_c1,
                rot_c2,
                translation,
                focal,
                principal,
                image_size,
                tile_count,
                num_splats,
                sh_coeffs,
                _pad0,
                _pad1
            }),
        ),
        (
            "common.wgsl",
            mirror_layout!(ProjectedSplat {
                ray_u,
                centre_x,
                ray_v,
                centre_y,
                ray_w,
                depth,
                normal,
                opacity,
                color,
                tile_count,
                radius,
                _pad
            }),
        ),
        ("scan.wgsl", mirror_layout!(ScanParams { len, _pad0, _pad1, _pad2 })),
        ("sort.wgsl", mirror_layout!(SortParams { num_keys, shift, num_blocks, _pad })),
        ("tiles.wgsl", mirror_layout!(TileParams { num_keys, _pad0, _pad1, _pad2 })),
        ("project_bwd.wgsl", mirror_layout!(TwistParams { num_partials, view, _pad0, _pad1 })),
        (
            "loss.wgsl",
            mirror_layout!(LossParams {
                color_l1,
                depth_l1,
                mask_l1,
                normal,
                distortion,
                occlusion_margin_m,
                inv_pixels,
                _pad
            }),
        ),
        (
            "adam.wgsl",
            mirror_layout!(AdamParams {
                grad_offset,
                count,
                width,
                stride,
                lr,
                beta1,
                beta2,
                epsilon,
                bias1,
                bias2,
                clip,
                _pad
            }),
        ),
        (
            "pose_step.wgsl",
            mirror_layout!(PoseStepParams {
                num_views,
                free_views,
                lr_rotation,
                lr_translation,
                beta1,
                beta2,
                epsilon,
                bias1,
                bias2,
                clip,
                _pad0,
                _pad1
            }),
        ),
    ]
}
