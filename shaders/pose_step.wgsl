// Adam on each view's object pose, one thread per view: the twist gradient (rho, phi) of a left
// perturbation gives a step xi, applied as T <- exp(xi^) T on the SE(3) manifold (Rodrigues for the
// rotation, the V matrix for the translation), written straight into that view's render parameters so the
// next render uses it without the host. Rotations are re-orthonormalised every step.

struct PoseStepParams {
    num_views: u32,
    // Bit v set: view v's pose is optimised.
    free_views: u32,
    lr_rotation: f32,
    lr_translation: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    bias1: f32,
    bias2: f32,
    clip: f32,
    _pad0: f32,
    _pad1: f32,
}

@group(0) @binding(0) var<uniform> step: PoseStepParams;
@group(0) @binding(1) var<storage, read_write> view_params: array<RenderParams>;
@group(0) @binding(2) var<storage, read> twists: array<f32>;
@group(0) @binding(3) var<storage, read_write> moments: array<f32>;

fn skew(v: vec3<f32>) -> mat3x3<f32> {
    return mat3x3<f32>(vec3(0.0, v.z, -v.y), vec3(-v.z, 0.0, v.x), vec3(v.y, -v.x, 0.0));
}

@compute @workgroup_size(32)
fn main(@builtin(local_invocation_index) view: u32) {
    if view >= step.num_views || (step.free_views & (1u << view)) == 0u {
        return;
    }
    var xi: array<f32, 6>;
    for (var k = 0u; k < 6u; k++) {
        let g = clamp(twists[6u * view + k], -step.clip, step.clip);
        let lr = select(step.lr_rotation, step.lr_translation, k < 3u);
        let u = adam_update(g, moments[12u * view + k], moments[12u * view + 6u + k], lr, step.beta1, step.beta2, step.bias1, step.bias2, step.epsilon);
        moments[12u * view + k] = u.x;
        moments[12u * view + 6u + k] = u.y;
        xi[k] = -u.z;
    }
    let rho = vec3(xi[0], xi[1], xi[2]);
    let phi = vec3(xi[3], xi[4], xi[5]);
    let theta = length(phi);
    let k = skew(phi);
    let k2 = k * k;
    var a = 1.0;
    var b = 0.5;
    var c = 1.0 / 6.0;
    if theta > 1e-4 {
        a = sin(theta) / theta;
        b = (1.0 - cos(theta)) / (theta * theta);
        c = (theta - sin(theta)) / (theta * theta * theta);
    }
    let identity = mat3x3<f32>(vec3(1.0, 0.0, 0.0), vec3(0.0, 1.0, 0.0), vec3(0.0, 0.0, 1.0));
    let r_exp = identity + a * k + b * k2;
    let v_mat = identity + b * k + c * k2;
    var p = view_params[view];
    let r = r_exp * mat3x3<f32>(p.rot_c0.xyz, p.rot_c1.xyz, p.rot_c2.xyz);
    let t = r_exp * p.translation.xyz + v_mat * rho;
    // Gram-Schmidt keeps the rotation orthonormal as steps accumulate.
    let c0 = normalize(r[0]);
    let c1 = normalize(r[1] - dot(r[1], c0) * c0);
    let c2 = cross(c0, c1);
    p.rot_c0 = vec4(c0, 0.0);
    p.rot_c1 = vec4(c1, 0.0);
    p.rot_c2 = vec4(c2, 0.0);
    p.translation = vec4(t, 0.0);
    view_params[view] = p;
}
