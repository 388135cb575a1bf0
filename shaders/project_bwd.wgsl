// Backward of the projection: one thread per surfel chains the gradients of its projected quantities
// (accumulated by raster_bwd) to its parameters — centre, quaternion, log-scales, opacity logit, band-0
// colour — adding them into param_grads (so several views accumulate), and computes its share of the
// object-pose twist gradient (left perturbation: rho moves p_c; phi turns p_c, both tangent columns and the
// normal column). Shares are summed per workgroup in shared memory and written as one partial per workgroup;
// sum_twist adds the partials. The same math as reference::backward::project_backward.
//
// param_grads layout: [means 3N | quats 4N | log_scales 2N | opacity_logits N | sh_dc 3N].

struct TwistParams {
    num_partials: u32,
    view: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> means: array<f32>;
@group(0) @binding(2) var<storage, read> quats: array<f32>;
@group(0) @binding(3) var<storage, read> log_scales: array<f32>;
@group(0) @binding(4) var<storage, read> sh: array<f32>;
@group(0) @binding(5) var<storage, read> projected: array<ProjectedSplat>;
@group(0) @binding(6) var<storage, read> proj_grads: array<f32>;
@group(0) @binding(7) var<storage, read_write> param_grads: array<f32>;
@group(0) @binding(8) var<storage, read_write> twist_partials: array<f32>;
@group(0) @binding(9) var<uniform> twist: TwistParams;
@group(0) @binding(10) var<storage, read_write> twists: array<f32>;

const PROJ_GRAD_STRIDE: u32 = 20u;

var<workgroup> s_twist_a: array<vec3<f32>, 256>;
var<workgroup> s_twist_b: array<vec3<f32>, 256>;

// Sums (a, b) over the workgroup's 256 threads into s_twist_a[0], s_twist_b[0].
fn reduce_twist(li: u32, a: vec3<f32>, b: vec3<f32>) {
    s_twist_a[li] = a;
    s_twist_b[li] = b;
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if li < stride {
            s_twist_a[li] += s_twist_a[li + stride];
            s_twist_b[li] += s_twist_b[li + stride];
        }
    }
    workgroupBarrier();
}

// d loss / d q for an unnormalised quaternion (w, x, y, z), given d loss / d R (g[c][r] = column c, row r).
fn quat_backward(q_raw: vec4<f32>, g: mat3x3<f32>) -> vec4<f32> {
    let len = length(q_raw);
    let q = q_raw / len;
    let w = q.x;
    let x = q.y;
    let y = q.z;
    let z = q.w;
    // g[c][r] is d/dR(r, c).
    let gw = 2.0 * (-z * g[1][0] + y * g[2][0] + z * g[0][1] - x * g[2][1] - y * g[0][2] + x * g[1][2]);
    let gx = 2.0 * (y * g[1][0] + z * g[2][0] + y * g[0][1] - 2.0 * x * g[1][1] - w * g[2][1] + z * g[0][2] + w * g[1][2]
        - 2.0 * x * g[2][2]);
    let gy = 2.0 * (-2.0 * y * g[0][0] + x * g[1][0] + w * g[2][0] + x * g[0][1] + z * g[2][1] - w * g[0][2] + z * g[1][2]
        - 2.0 * y * g[2][2]);
    let gz = 2.0 * (-2.0 * z * g[0][0] - w * g[1][0] + x * g[2][0] + w * g[0][1] - 2.0 * z * g[1][1] + y * g[2][1]
        + x * g[0][2] + y * g[1][2]);
    let gh = vec4(gw, gx, gy, gz);
    return (gh - q * dot(q, gh)) / len;
}

fn surfel_backward(i: u32) -> array<vec3<f32>, 2> {
    var none: array<vec3<f32>, 2>;
    none[0] = vec3(0.0);
    none[1] = vec3(0.0);
    let p = projected[i];
    if p.tile_count == 0u {
        return none;
    }
    let b = i * PROJ_GRAD_STRIDE;
    var g_u = vec3(proj_grads[b], proj_grads[b + 1u], proj_grads[b + 2u]);
    var g_v = vec3(proj_grads[b + 3u], proj_grads[b + 4u], proj_grads[b + 5u]);
    var g_w = vec3(proj_grads[b + 6u], proj_grads[b + 7u], proj_grads[b + 8u]);
    let g_centre = vec2(proj_grads[b + 9u], proj_grads[b + 10u]);
    let g_depth = proj_grads[b + 11u];
    let g_normal = vec3(proj_grads[b + 12u], proj_grads[b + 13u], proj_grads[b + 14u]);
    let g_color = vec3(proj_grads[b + 15u], proj_grads[b + 16u], proj_grads[b + 17u]);
    let g_opacity = proj_grads[b + 18u];

    let r_co = mat3x3<f32>(params.rot_c0.xyz, params.rot_c1.xyz, params.rot_c2.xyz);
    let mean = vec3(means[3u * i], means[3u * i + 1u], means[3u * i + 2u]);
    let p_c = r_co * mean + params.translation.xyz;
    let q = vec4(quats[4u * i], quats[4u * i + 1u], quats[4u * i + 2u], quats[4u * i + 3u]);
    let r_c = r_co * quat_to_rotmat(q);
    let scale = exp(vec2(log_scales[2u * i], log_scales[2u * i + 1u]));
    let u = p.ray_u;
    let v = p.ray_v;
    let w = p.ray_w;

    let sgn = vec3(1.0, 1.0, -1.0);
    let dist = dot(sgn, w * w);
    g_u += sgn * w * (g_centre.x / dist);
    g_v += sgn * w * (g_centre.y / dist);
    g_w += sgn * (u - w * (2.0 * p.centre_x)) * (g_centre.x / dist);
    g_w += sgn * (v - w * (2.0 * p.centre_y)) * (g_centre.y / dist);

    let fx = params.focal.x;
    let fy = params.focal.y;
    let g_m2 = g_u * params.principal.x + g_v * params.principal.y + g_w;
    let g_a_u = vec3(fx * g_u.x, fy * g_v.x, g_m2.x);
    let g_a_v = vec3(fx * g_u.y, fy * g_v.y, g_m2.y);
    let g_p_c = vec3(fx * g_u.z, fy * g_v.z, g_m2.z + g_depth);
    var g_n = g_normal;
    if dot(-r_c[2], p_c) <= 0.0 {
        g_n = -g_normal;
    }
    let g_rc = mat3x3<f32>(g_a_u * scale.x, g_a_v * scale.y, g_n);
    let n = params.num_splats;
    param_grads[7u * n + 2u * i] += scale.x * dot(r_c[0], g_a_u);
    param_grads[7u * n + 2u * i + 1u] += scale.y * dot(r_c[1], g_a_v);
    let g_q = quat_backward(q, transpose(r_co) * g_rc);
    for (var k = 0u; k < 4u; k++) {
        param_grads[3u * n + 4u * i + k] += g_q[k];
    }
    let g_mean = transpose(r_co) * g_p_c;
    for (var k = 0u; k < 3u; k++) {
        param_grads[3u * i + k] += g_mean[k];
    }
    param_grads[9u * n + i] += g_opacity * p.opacity * (1.0 - p.opacity);
    let base = 3u * params.sh_coeffs * i;
    let dc = vec3(sh[base], sh[base + 1u], sh[base + 2u]);
    for (var k = 0u; k < 3u; k++) {
        if 0.5 + SH_C0 * dc[k] > 0.0 {
            param_grads[10u * n + 3u * i + k] += SH_C0 * g_color[k];
        }
    }
    let a_u = r_c[0] * scale.x;
    let a_v = r_c[1] * scale.y;
    var out: array<vec3<f32>, 2>;
    out[0] = g_p_c;
    out[1] = cross(p_c, g_p_c) + cross(a_u, g_a_u) + cross(a_v, g_a_v) + cross(r_c[2], g_n);
    return out;
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let group = linear_group(wg, nwg);
    let i = group * 256u + li;
    var share: array<vec3<f32>, 2>;
    share[0] = vec3(0.0);
    share[1] = vec3(0.0);
    if i < params.num_splats {
        share = surfel_backward(i);
    }
    reduce_twist(li, share[0], share[1]);
    if li == 0u {
        let a = s_twist_a[0];
        let b = s_twist_b[0];
        for (var k = 0u; k < 3u; k++) {
            twist_partials[6u * group + k] = a[k];
            twist_partials[6u * group + 3u + k] = b[k];
        }
    }
}

// One workgroup: sums the per-workgroup partials into twists[6 * view ..].
@compute @workgroup_size(256)
fn sum_twist(@builtin(local_invocation_index) li: u32) {
    var a = vec3(0.0);
    var b = vec3(0.0);
    for (var g = li; g < twist.num_partials; g += 256u) {
        a += vec3(twist_partials[6u * g], twist_partials[6u * g + 1u], twist_partials[6u * g + 2u]);
        b += vec3(twist_partials[6u * g + 3u], twist_partials[6u * g + 4u], twist_partials[6u * g + 5u]);
    }
    reduce_twist(li, a, b);
    if li == 0u {
        for (var k = 0u; k < 3u; k++) {
            twists[6u * twist.view + k] = s_twist_a[0][k];
            twists[6u * twist.view + 3u + k] = s_twist_b[0][k];
        }
    }
}
