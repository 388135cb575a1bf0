// Front-to-back compositing: one workgroup per 16x16 tile, one thread per pixel. Surfels of the tile's
// depth-sorted range are staged through workgroup memory 256 at a time and evaluated at each pixel
// (splat_batch.wgsl); each pixel composites colour, depth, normal and the 2DGS depth distortion. The workgroup stops early once every pixel is saturated.
//
// Outputs, channel-planar over the image: out_f32 channels 0-2 RGB (over black, not divided by alpha),
// 3 alpha, 4 expected depth (alpha-weighted ray–surfel intersection depth), 5 median depth, 6-8 normal, 9 distortion,
// 10 final transmittance; out_u32 channel 0 the number of range entries walked up to the last composited
// surfel, 1 the same for the median-depth surfel (what the backward pass replays).

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> projected: array<ProjectedSplat>;
@group(0) @binding(2) var<storage, read> sorted_ids: array<u32>;
@group(0) @binding(3) var<storage, read> ranges: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> out_f32: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_u32: array<u32>;

var<workgroup> s_done: atomic<u32>;
var<workgroup> s_done_copy: u32;

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

    if li == 0u {
        atomicStore(&s_done, 0u);
    }
    workgroupBarrier();
    var done = !inside;
    if done {
        atomicAdd(&s_done, 1u);
    }

    var t = 1.0;
    var rgb = vec3(0.0);
    var depth_sum = 0.0;
    var normal_sum = vec3(0.0);
    var distortion = 0.0;
    var vis_depth_sum = 0.0;
    var median_depth = 0.0;
    var last_count = 0u;
    var median_count = 0u;

    let batches = (range.y - range.x + 255u) / 256u;
    for (var b = 0u; b < batches; b++) {
        workgroupBarrier();
        if li == 0u {
            s_done_copy = atomicLoad(&s_done);
        }
        if workgroupUniformLoad(&s_done_copy) >= 256u {
            break;
        }
        let k = range.x + b * 256u + li;
        if k < range.y {
            stage_surfel(li, sorted_ids[k]);
        }
        workgroupBarrier();
        if !done {
            let batch_len = min(256u, range.y - range.x - b * 256u);
            for (var j = 0u; j < batch_len; j++) {
                let hit = evaluate(j, pix);
                if !hit.valid {
                    continue;
                }
                let alpha = hit.alpha;
                let next_t = t * (1.0 - alpha);
                if next_t <= TRANSMITTANCE_MIN {
                    done = true;
                    break;
                }
                let vis = alpha * t;
                let depth = hit_depth(j, hit);
                rgb += s_color[j] * vis;
                depth_sum += depth * vis;
                normal_sum += s_normal_opacity[j].xyz * vis;
                distortion += 2.0 * (vis * depth * (1.0 - t) - vis * vis_depth_sum);
                vis_depth_sum += vis * depth;
                let walked = b * 256u + j + 1u;
                if t > MEDIAN_TRANSMITTANCE {
                    median_depth = depth;
                    median_count = walked;
                }
                last_count = walked;
                t = next_t;
            }
            if done {
                atomicAdd(&s_done, 1u);
            }
        }
    }

    if inside {
        let n = params.image_size.x * params.image_size.y;
        out_f32[p] = rgb.x;
        out_f32[n + p] = rgb.y;
        out_f32[2u * n + p] = rgb.z;
        out_f32[3u * n + p] = 1.0 - t;
        out_f32[4u * n + p] = depth_sum;
        out_f32[5u * n + p] = median_depth;
        out_f32[6u * n + p] = normal_sum.x;
        out_f32[7u * n + p] = normal_sum.y;
        out_f32[8u * n + p] = normal_sum.z;
        out_f32[9u * n + p] = distortion;
        out_f32[10u * n + p] = t;
        out_u32[p] = last_count;
        out_u32[n + p] = median_count;
    }
}
