// Backward of the compositing: one workgroup per 16x16 tile, one thread per pixel, walking the tile's
// depth-sorted range back to front from each pixel's last composited surfel (the forward's saved count),
// recovering transmittance as T_before = T_after / (1 - alpha). Each surfel's gradient with respect to its
// projected quantities (PROJ_GRAD_STRIDE floats: ray rows u, v, w, centre, depth, normal, colour, opacity)
// is accumulated with grad_add_all (one atomic per subgroup or per thread; float atomics or a CAS loop),
// chosen by gpu::backward from the device's features. The same math as reference::backward::pixel_backward.
//
// upstream holds d loss / d output in the forward's channel-planar layout.

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> projected: array<ProjectedSplat>;
@group(0) @binding(2) var<storage, read> sorted_ids: array<u32>;
@group(0) @binding(3) var<storage, read> ranges: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read> out_f32: array<f32>;
@group(0) @binding(5) var<storage, read> out_u32: array<u32>;
@group(0) @binding(6) var<storage, read> upstream: array<f32>;

const PROJ_GRAD_STRIDE: u32 = 20u;

var<workgroup> s_max_last: atomic<u32>;
var<workgroup> s_max_copy: u32;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let here = tile_pixel(wg, lid);
    let inside = here.inside;
    let pix = here.pix;
    let range = here.range;
    let p = here.index;
    let n = params.image_size.x * params.image_size.y;

    var last = 0u;
    var t = 1.0;
    var t_final = 1.0;
    var depth_total = 0.0;
    var g_rgb = vec3(0.0);
    var g_alpha = 0.0;
    var g_depth = 0.0;
    var g_normal = vec3(0.0);
    var g_dist = 0.0;
    if inside {
        last = out_u32[p];
        t_final = out_f32[10u * n + p];
        t = t_final;
        depth_total = out_f32[4u * n + p];
        g_rgb = vec3(upstream[p], upstream[n + p], upstream[2u * n + p]);
        g_alpha = upstream[3u * n + p];
        g_depth = upstream[4u * n + p];
        g_normal = vec3(upstream[6u * n + p], upstream[7u * n + p], upstream[8u * n + p]);
        g_dist = upstream[9u * n + p];
    }
    if li == 0u {
        atomicStore(&s_max_last, 0u);
    }
    workgroupBarrier();
    atomicMax(&s_max_last, last);
    workgroupBarrier();
    if li == 0u {
        s_max_copy = atomicLoad(&s_max_last);
    }
    let max_last = workgroupUniformLoad(&s_max_copy);

    var behind_gvis = 0.0;
    var behind_vis_z = 0.0;
    var behind_vis = 0.0;
    let batches = (max_last + 255u) / 256u;
    for (var bi = 0u; bi < batches; bi++) {
        let batch_start = (batches - 1u - bi) * 256u;
        workgroupBarrier();
        if batch_start + li < max_last {
            stage_surfel(li, sorted_ids[range.x + batch_start + li]);
        }
        workgroupBarrier();
        let batch_len = min(256u, max_last - batch_start);
        for (var jj = 0u; jj < batch_len; jj++) {
            let j = batch_len - 1u - jj;
            var d_ru = vec3(0.0);
            var d_rv = vec3(0.0);
            var d_rw = vec3(0.0);
            var d_centre = vec2(0.0);
            var d_depth = 0.0;
            var d_normal = vec3(0.0);
            var d_color = vec3(0.0);
            var d_opacity = 0.0;
            var contributes = false;
            if inside && batch_start + j + 1u <= last {
                let hit = evaluate(j, pix);
                let alpha = hit.alpha;
                if hit.valid {
                    contributes = true;
                    t = t / (1.0 - alpha);
                    let vis = alpha * t;
                    let z = hit_depth(j, hit);
                    let normal = s_normal_opacity[j].xyz;
                    let color = s_color[j];
                    let front_vis = 1.0 - t;
                    let front_vis_z = depth_total - vis * z - behind_vis_z;
                    let d_dist_d_vis = 2.0 * (z * front_vis - front_vis_z) + 2.0 * (behind_vis_z - z * behind_vis);
                    let g_vis = dot(g_rgb, color) + g_depth * z + dot(g_normal, normal) + g_dist * d_dist_d_vis;
                    d_color = g_rgb * vis;
                    d_normal = g_normal * vis;
                    let d_z = g_depth * vis + g_dist * 2.0 * vis * (front_vis - behind_vis);
                    let d_alpha = g_vis * t - behind_gvis / (1.0 - alpha) + g_alpha * t_final / (1.0 - alpha);
                    behind_gvis += g_vis * vis;
                    behind_vis_z += vis * z;
                    behind_vis += vis;
                    // z = ray_w·(u, v, 1) on the surfel's plane, the centre's depth outside its extent.
                    var d_uv = vec2(0.0);
                    if hit.on_plane {
                        d_rw = vec3(hit.uv, 1.0) * d_z;
                        d_uv = s_ray_w[j].xy * d_z;
                    } else {
                        d_depth = d_z;
                    }
                    if hit.unclamped <= ALPHA_MAX {
                        d_opacity = d_alpha * (alpha / s_normal_opacity[j].w);
                        let d_sigma = -d_alpha * alpha;
                        if hit.ray_kernel {
                            d_uv += hit.uv * d_sigma;
                        } else {
                            d_centre = hit.d * (d_sigma * LOW_PASS_INV_SQUARE);
                        }
                    }
                    if hit.on_plane || hit.ray_kernel {
                        let zeta = hit.zeta;
                        let d_zeta = vec3(d_uv / zeta.z, -dot(d_uv, zeta.xy) / (zeta.z * zeta.z));
                        let d_hu = cross(hit.h_v, d_zeta);
                        let d_hv = cross(d_zeta, hit.h_u);
                        d_ru = -d_hu;
                        d_rv = -d_hv;
                        d_rw += d_hu * pix.x + d_hv * pix.y;
                    }
                }
            }
            let contrib = array<f32, 19>(
                d_ru.x, d_ru.y, d_ru.z, d_rv.x, d_rv.y, d_rv.z, d_rw.x, d_rw.y, d_rw.z, d_centre.x, d_centre.y,
                d_depth, d_normal.x, d_normal.y, d_normal.z, d_color.x, d_color.y, d_color.z, d_opacity,
            );
            grad_add_all(s_ids[j] * PROJ_GRAD_STRIDE, contrib, contributes, li);
        }
    }
}
