// The fitting loss of one rendered view against an observed RGB-D frame: one thread per pixel writes the
// gradient of the loss with respect to every rendered output (the backward pass's upstream, channel-planar
// like the render) and its weighted loss terms, summed per workgroup into `partials` (read back only now
// and then). The same math as reference::loss::loss_and_grads.
//
// target planes: red, green, blue, depth (m, 0 = invalid), mask (0/1).

struct LossParams {
    color_l1: f32,
    depth_l1: f32,
    mask_l1: f32,
    normal: f32,
    distortion: f32,
    occlusion_margin_m: f32,
    inv_pixels: f32,
    _pad: f32,
}

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> out_f32: array<f32>;
@group(0) @binding(2) var<storage, read> target_planes: array<f32>;
@group(0) @binding(3) var<storage, read_write> upstream: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<uniform> loss: LossParams;

const SURFACE_ALPHA: f32 = 0.5;
const F32_CHANNELS: u32 = 11u;

var<workgroup> s_terms_a: array<vec3<f32>, 256>;
var<workgroup> s_terms_b: array<vec2<f32>, 256>;

fn pixel_count() -> u32 {
    return params.image_size.x * params.image_size.y;
}

// Rendered mean depth at pixel p, or 0 where the pixel has no surface.
fn mean_depth(p: u32) -> f32 {
    let n = pixel_count();
    let alpha = out_f32[3u * n + p];
    if alpha > SURFACE_ALPHA {
        return out_f32[4u * n + p] / alpha;
    }
    return 0.0;
}

fn back_project(x: u32, y: u32) -> vec4<f32> {
    let d = mean_depth(y * params.image_size.x + x);
    let ray = vec3((f32(x) + 0.5 - params.principal.x) / params.focal.x, (f32(y) + 0.5 - params.principal.y) / params.focal.y, 1.0);
    return vec4(ray * d, d);
}

// Normal of the rendered depth map (central differences), facing the camera; w = 0 where undefined.
fn depth_normal(x: u32, y: u32) -> vec4<f32> {
    if x == 0u || y == 0u || x + 1u >= params.image_size.x || y + 1u >= params.image_size.y {
        return vec4(0.0);
    }
    let r = back_project(x + 1u, y);
    let l = back_project(x - 1u, y);
    let d = back_project(x, y + 1u);
    let u = back_project(x, y - 1u);
    let c = back_project(x, y);
    if r.w == 0.0 || l.w == 0.0 || d.w == 0.0 || u.w == 0.0 || c.w == 0.0 {
        return vec4(0.0);
    }
    let nrm = cross(r.xyz - l.xyz, d.xyz - u.xyz);
    let len = length(nrm);
    if len == 0.0 {
        return vec4(0.0);
    }
    var unit = nrm / len;
    if dot(unit, c.xyz) > 0.0 {
        unit = -unit;
    }
    return vec4(unit, 1.0);
}

fn sign_of(x: f32) -> f32 {
    return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let group = linear_group(wg, nwg);
    let p = group * 256u + li;
    let n = pixel_count();
    var terms_a = vec3(0.0);
    var terms_b = vec2(0.0);
    if p < n {
        var g: array<f32, 11>;
        for (var c = 0u; c < F32_CHANNELS; c++) {
            g[c] = 0.0;
        }
        let x = p % params.image_size.x;
        let y = p / params.image_size.x;
        let alpha = out_f32[3u * n + p];
        let depth_obs = target_planes[3u * n + p];
        let mask = target_planes[4u * n + p];
        let rendered_depth = mean_depth(p);
        let occluded = mask == 0.0 && depth_obs > 0.0 && rendered_depth > 0.0
            && depth_obs < rendered_depth - loss.occlusion_margin_m;
        if !occluded {
            let inv = loss.inv_pixels;
            for (var c = 0u; c < 3u; c++) {
                let diff = out_f32[c * n + p] - mask * target_planes[c * n + p];
                terms_a.x += loss.color_l1 * abs(diff) * inv;
                g[c] = loss.color_l1 * sign_of(diff) * inv;
            }
            let mask_diff = alpha - mask;
            terms_a.z += loss.mask_l1 * abs(mask_diff) * inv;
            g[3] = loss.mask_l1 * sign_of(mask_diff) * inv;
            if rendered_depth > 0.0 && mask > 0.0 && depth_obs > 0.0 {
                let diff = rendered_depth - depth_obs;
                terms_a.y += loss.depth_l1 * abs(diff) * inv;
                let s = loss.depth_l1 * sign_of(diff) * inv;
                g[4] = s / alpha;
                g[3] -= s * rendered_depth / alpha;
            }
            let surface = depth_normal(x, y);
            if surface.w > 0.0 {
                let rendered = vec3(out_f32[6u * n + p], out_f32[7u * n + p], out_f32[8u * n + p]);
                terms_b.x += loss.normal * (alpha - dot(rendered, surface.xyz)) * inv;
                g[6] = -loss.normal * surface.x * inv;
                g[7] = -loss.normal * surface.y * inv;
                g[8] = -loss.normal * surface.z * inv;
            }
            terms_b.y += loss.distortion * out_f32[9u * n + p] * inv;
            g[9] = loss.distortion * inv;
        }
        for (var c = 0u; c < F32_CHANNELS; c++) {
            upstream[c * n + p] = g[c];
        }
    }
    s_terms_a[li] = terms_a;
    s_terms_b[li] = terms_b;
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if li < stride {
            s_terms_a[li] += s_terms_a[li + stride];
            s_terms_b[li] += s_terms_b[li + stride];
        }
    }
    if li == 0u {
        let a = s_terms_a[0];
        let b = s_terms_b[0];
        partials[8u * group] = a.x;
        partials[8u * group + 1u] = a.y;
        partials[8u * group + 2u] = a.z;
        partials[8u * group + 3u] = b.x;
        partials[8u * group + 4u] = b.y;
        partials[8u * group + 5u] = 0.0;
        partials[8u * group + 6u] = 0.0;
        partials[8u * group + 7u] = 0.0;
    }
}
