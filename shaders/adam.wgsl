// Adam on one parameter group: one thread per gradient element. Gradients are clipped element-wise, the
// moments live beside the gradients (same offsets), and element e of a group `width` wide updates parameter
// (e / width) * stride + e % width (the colour group steps only band 0 of each surfel's SH coefficients).

struct AdamParams {
    grad_offset: u32,
    count: u32,
    width: u32,
    stride: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    // 1 - beta^t for the bias corrections.
    bias1: f32,
    bias2: f32,
    clip: f32,
    _pad: f32,
}

@group(0) @binding(0) var<uniform> adam: AdamParams;
@group(0) @binding(1) var<storage, read_write> values: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> moment1: array<f32>;
@group(0) @binding(4) var<storage, read_write> moment2: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let e = linear_group(wg, nwg) * 256u + li;
    if e >= adam.count {
        return;
    }
    let k = adam.grad_offset + e;
    let g = clamp(grads[k], -adam.clip, adam.clip);
    let u = adam_update(g, moment1[k], moment2[k], adam.lr, adam.beta1, adam.beta2, adam.bias1, adam.bias2, adam.epsilon);
    moment1[k] = u.x;
    moment2[k] = u.y;
    let i = (e / adam.width) * adam.stride + e % adam.width;
    values[i] -= u.z;
}
