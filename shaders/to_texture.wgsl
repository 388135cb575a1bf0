// A rendered view into an RGBA8 texture the GUI samples directly (no copy through the CPU): colour over a
// dark background, mean depth through a colour map, or the residual against the observed frame (depth
// error where both have depth, colour error elsewhere on the surface).

struct ViewParams {
    mode: u32,
    width: u32,
    height: u32,
    has_observed: u32,
    depth_near: f32,
    depth_far: f32,
    residual_full_scale_m: f32,
    _pad: f32,
}

@group(0) @binding(0) var<uniform> view: ViewParams;
@group(0) @binding(1) var<storage, read> out_f32: array<f32>;
// Observed frame at the view's size: red, green, blue (0..1), depth (m, 0 = none) per pixel.
@group(0) @binding(2) var<storage, read> observed: array<vec4<f32>>;
@group(0) @binding(3) var output: texture_storage_2d<rgba8unorm, write>;

const MODE_COLOR: u32 = 0u;
const MODE_DEPTH: u32 = 1u;
const BACKGROUND: vec3<f32> = vec3<f32>(0.08, 0.08, 0.1);

// Blue (0) through green to red (1).
fn heat(t: f32) -> vec3<f32> {
    let x = clamp(t, 0.0, 1.0);
    return clamp(vec3<f32>(1.5 - abs(4.0 * x - 3.0), 1.5 - abs(4.0 * x - 2.0), 1.5 - abs(4.0 * x - 1.0)), vec3<f32>(0.0), vec3<f32>(1.0));
}

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= view.width || gid.y >= view.height {
        return;
    }
    let n = view.width * view.height;
    let p = gid.y * view.width + gid.x;
    let alpha = out_f32[3u * n + p];
    let rgb = vec3<f32>(out_f32[p], out_f32[n + p], out_f32[2u * n + p]);
    var c = rgb + BACKGROUND * (1.0 - alpha);
    if view.mode != MODE_COLOR {
        c = BACKGROUND;
        if alpha > 0.5 {
            let depth = out_f32[4u * n + p] / alpha;
            if view.mode == MODE_DEPTH {
                c = heat((depth - view.depth_near) / max(view.depth_far - view.depth_near, 1e-6));
            } else if view.has_observed != 0u {
                let o = observed[p];
                if o.w > 0.0 {
                    c = heat(abs(depth - o.w) / view.residual_full_scale_m);
                } else {
                    c = heat(dot(abs(rgb / alpha - o.xyz), vec3<f32>(1.0 / 3.0)) * 4.0);
                }
            }
        }
    }
    textureStore(output, vec2<i32>(gid.xy), vec4<f32>(c, 1.0));
}
