// Projection: one thread per surfel. Applies the object pose, builds the 2DGS ray transform, finds the
// screen-space centre and 3.33-sigma extent, culls (near plane, off-screen, degenerate), evaluates the colour
// and counts the tiles the surfel touches. It also writes the depth sort's input: the centre depth's bits
// (positive floats order like their bits) and the surfel index.

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> means: array<f32>;
@group(0) @binding(2) var<storage, read> quats: array<f32>;
@group(0) @binding(3) var<storage, read> log_scales: array<f32>;
@group(0) @binding(4) var<storage, read> opacity_logits: array<f32>;
@group(0) @binding(5) var<storage, read> sh: array<f32>;
@group(0) @binding(6) var<storage, read_write> projected: array<ProjectedSplat>;
@group(0) @binding(7) var<storage, read_write> depth_keys: array<u32>;
@group(0) @binding(8) var<storage, read_write> depth_order: array<u32>;

fn culled() -> ProjectedSplat {
    var p: ProjectedSplat;
    p.ray_u = vec3(0.0);
    p.centre_x = 0.0;
    p.ray_v = vec3(0.0);
    p.centre_y = 0.0;
    p.ray_w = vec3(0.0);
    p.depth = 0.0;
    p.normal = vec3(0.0);
    p.opacity = 0.0;
    p.color = vec3(0.0);
    p.tile_count = 0u;
    p.radius = vec2(0u);
    p._pad = vec2(0u);
    return p;
}

fn project_one(i: u32) -> ProjectedSplat {
    let mean = vec3(means[3u * i], means[3u * i + 1u], means[3u * i + 2u]);
    let r_co = mat3x3<f32>(params.rot_c0.xyz, params.rot_c1.xyz, params.rot_c2.xyz);
    let p_c = r_co * mean + params.translation.xyz;
    if !(p_c.z >= NEAR_PLANE) {
        return culled();
    }
    let q = vec4(quats[4u * i], quats[4u * i + 1u], quats[4u * i + 2u], quats[4u * i + 3u]);
    let r_c = r_co * quat_to_rotmat(q);
    let scale = exp(vec2(log_scales[2u * i], log_scales[2u * i + 1u]));
    let a_u = r_c[0] * scale.x;
    let a_v = r_c[1] * scale.y;
    let k_z = vec3(a_u.z, a_v.z, p_c.z);
    let ray_u = params.focal.x * vec3(a_u.x, a_v.x, p_c.x) + params.principal.x * k_z;
    let ray_v = params.focal.y * vec3(a_u.y, a_v.y, p_c.y) + params.principal.y * k_z;
    let ray_w = k_z;

    let sgn = vec3(1.0, 1.0, -1.0);
    let dist = dot(sgn, ray_w * ray_w);
    if dist == 0.0 {
        return culled();
    }
    let f = sgn * (1.0 / dist);
    let centre = vec2(dot(f, ray_u * ray_w), dot(f, ray_v * ray_w));
    let second = vec2(dot(f, ray_u * ray_u), dot(f, ray_v * ray_v));
    let extent = sqrt(max(centre * centre - second, vec2(1e-4)));
    let radius = ceil(EXTENT_SIGMAS * extent);
    let size = vec2<f32>(params.image_size);
    if centre.x + radius.x <= 0.0 || centre.x - radius.x >= size.x || centre.y + radius.y <= 0.0
        || centre.y - radius.y >= size.y {
        return culled();
    }

    var normal = r_c[2];
    if dot(-normal, p_c) <= 0.0 {
        normal = -normal;
    }
    let base = 3u * params.sh_coeffs * i;
    let dc = vec3(sh[base], sh[base + 1u], sh[base + 2u]);
    let rect = tile_rect(centre, radius, params.tile_count);

    var p: ProjectedSplat;
    p.ray_u = ray_u;
    p.centre_x = centre.x;
    p.ray_v = ray_v;
    p.centre_y = centre.y;
    p.ray_w = ray_w;
    p.depth = p_c.z;
    p.normal = normal;
    p.opacity = 1.0 / (1.0 + exp(-opacity_logits[i]));
    p.color = max(0.5 + SH_C0 * dc, vec3(0.0));
    p.tile_count = (rect.z - rect.x) * (rect.w - rect.y);
    p.radius = vec2<u32>(radius);
    p._pad = vec2(0u);
    return p;
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let i = linear_group(wg, nwg) * 256u + li;
    if i >= params.num_splats {
        return;
    }
    let p = project_one(i);
    projected[i] = p;
    depth_keys[i] = bitcast<u32>(p.depth);
    depth_order[i] = i;
}
