// Shared by every splat kernel: prepended to each kernel's source by gpu::kernel, so one definition of each
// struct and convention exists. The Pod mirrors live in src/gpu/gpu_data.rs (checked by tests/wgsl_mirrors.rs).

// Rasterizer conventions, set from config::RasterConfig at pipeline creation (defaults = gsplat 1.5).
override NEAR_PLANE: f32 = 0.01;
override ALPHA_MAX: f32 = 0.999;
override ALPHA_MIN: f32 = 0.003921569;
override TRANSMITTANCE_MIN: f32 = 0.0001;
override EXTENT_SIGMAS: f32 = 3.33;
override LOW_PASS_INV_SQUARE: f32 = 2.0;
override MEDIAN_TRANSMITTANCE: f32 = 0.5;

const TILE_SIZE: u32 = 16u;
const SH_C0: f32 = 0.2820948;

// One render: the object-to-camera pose, the camera, and the model size.
struct RenderParams {
    // Object-to-camera rotation, by columns (w unused).
    rot_c0: vec4<f32>,
    rot_c1: vec4<f32>,
    rot_c2: vec4<f32>,
    // Object-to-camera translation in metres (w unused).
    translation: vec4<f32>,
    // fx, fy in pixels.
    focal: vec2<f32>,
    // cx, cy in pixels.
    principal: vec2<f32>,
    image_size: vec2<u32>,
    tile_count: vec2<u32>,
    num_splats: u32,
    // SH coefficients per channel stored per surfel ((degree + 1)^2).
    sh_coeffs: u32,
    _pad0: u32,
    _pad1: u32,
}

// A surfel after projection: the rows of its ray transform T = K [t_u s_u, t_v s_v, p_c] and what the
// compositing needs. radius == (0, 0) and tile_count == 0 mark a culled surfel.
struct ProjectedSplat {
    ray_u: vec3<f32>,
    centre_x: f32,
    ray_v: vec3<f32>,
    centre_y: f32,
    ray_w: vec3<f32>,
    // Camera-space z of the centre: the sort key, and the composited depth where a pixel's ray meets the surfel's
    // plane outside its extent (see hit_depth).
    depth: f32,
    // Camera-space normal, flipped to face the camera.
    normal: vec3<f32>,
    opacity: f32,
    color: vec3<f32>,
    tile_count: u32,
    radius: vec2<u32>,
    _pad: vec2<u32>,
}

// Tiles [min, max) touched by a screen-space box around `centre`.
fn tile_rect(centre: vec2<f32>, radius: vec2<f32>, tiles: vec2<u32>) -> vec4<u32> {
    let tile_size = f32(TILE_SIZE);
    let tf = vec2<f32>(tiles);
    let lo = clamp(floor((centre - radius) / tile_size), vec2(0.0), tf);
    let hi = clamp(ceil((centre + radius) / tile_size), vec2(0.0), tf);
    return vec4<u32>(vec2<u32>(lo), vec2<u32>(hi));
}

// Rotation matrix (by columns) of a quaternion (w, x, y, z) stored as vec4 (x = w), normalised first.
fn quat_to_rotmat(q_raw: vec4<f32>) -> mat3x3<f32> {
    let q = normalize(q_raw);
    let w = q.x;
    let x = q.y;
    let y = q.z;
    let z = q.w;
    return mat3x3<f32>(
        vec3(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y)),
        vec3(2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x)),
        vec3(2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y)),
    );
}

// Linear workgroup index of a dispatch folded into 2-D by gpu::context::dispatch_dims.
fn linear_group(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wg.x + wg.y * nwg.x;
}

// One Adam update of a gradient `g` with moments (m, v): returns (m', v', step to subtract), bias-corrected.
fn adam_update(g: f32, m: f32, v: f32, lr: f32, beta1: f32, beta2: f32, bias1: f32, bias2: f32, epsilon: f32) -> vec3<f32> {
    let m_new = beta1 * m + (1.0 - beta1) * g;
    let v_new = beta2 * v + (1.0 - beta2) * g * g;
    return vec3(m_new, v_new, lr * (m_new / bias1) / (sqrt(v_new / bias2) + epsilon));
}
