// A tile's surfels staged through workgroup memory, 256 at a time, and evaluated at a pixel: shared by
// raster.wgsl (forward) and raster_bwd.wgsl (backward) so both see exactly the same alpha.

// The pixel a thread of a 16x16 tile workgroup covers.
struct TilePixel {
    // Index of the tile; its surfels are sorted_ids[range.x .. range.y].
    tile: u32,
    range: vec2<u32>,
    // Inside the image (edge tiles overhang it).
    inside: bool,
    // Pixel centre.
    pix: vec2<f32>,
    // Index into an image plane.
    index: u32,
}

fn tile_pixel(wg: vec3<u32>, lid: vec3<u32>) -> TilePixel {
    var t: TilePixel;
    t.tile = wg.y * params.tile_count.x + wg.x;
    t.range = ranges[t.tile];
    let px = wg.x * TILE_SIZE + lid.x;
    let py = wg.y * TILE_SIZE + lid.y;
    t.inside = px < params.image_size.x && py < params.image_size.y;
    t.pix = vec2(f32(px) + 0.5, f32(py) + 0.5);
    t.index = py * params.image_size.x + px;
    return t;
}

var<workgroup> s_ids: array<u32, 256>;
// Ray-transform rows; w holds the centre's x, y and the depth.
var<workgroup> s_ray_u: array<vec4<f32>, 256>;
var<workgroup> s_ray_v: array<vec4<f32>, 256>;
var<workgroup> s_ray_w: array<vec4<f32>, 256>;
var<workgroup> s_normal_opacity: array<vec4<f32>, 256>;
var<workgroup> s_color: array<vec3<f32>, 256>;

fn stage_surfel(slot: u32, id: u32) {
    let g = projected[id];
    s_ids[slot] = id;
    s_ray_u[slot] = vec4(g.ray_u, g.centre_x);
    s_ray_v[slot] = vec4(g.ray_v, g.centre_y);
    s_ray_w[slot] = vec4(g.ray_w, g.depth);
    s_normal_opacity[slot] = vec4(g.normal, g.opacity);
    s_color[slot] = g.color;
}

// A staged surfel seen from one pixel centre.
struct Hit {
    // Composited (not skipped for a parallel ray, a negative exponent or alpha below ALPHA_MIN).
    valid: bool,
    alpha: f32,
    // opacity·e^(−σ) before the cap at ALPHA_MAX.
    unclamped: f32,
    // The ray–splat kernel (not the screen-space low-pass filter) gave σ.
    ray_kernel: bool,
    // The ray meets the surfel's plane within its drawn extent: the depth is read there.
    on_plane: bool,
    h_u: vec3<f32>,
    h_v: vec3<f32>,
    zeta: vec3<f32>,
    uv: vec2<f32>,
    // Surfel centre minus pixel centre, in pixels.
    d: vec2<f32>,
}

// 2DGS ray–splat intersection (homogeneous plane intersection in the surfel's uv frame) against the
// screen-space low-pass filter: σ = ½·min(u² + v², F·|d|²), alpha = min(ALPHA_MAX, opacity·e^(−σ)).
fn evaluate(slot: u32, pix: vec2<f32>) -> Hit {
    var hit: Hit;
    let ru = s_ray_u[slot];
    let rv = s_ray_v[slot];
    let rw = s_ray_w[slot];
    hit.h_u = pix.x * rw.xyz - ru.xyz;
    hit.h_v = pix.y * rw.xyz - rv.xyz;
    hit.zeta = cross(hit.h_u, hit.h_v);
    hit.uv = vec2(0.0);
    if hit.zeta.z != 0.0 {
        hit.uv = hit.zeta.xy / hit.zeta.z;
    }
    hit.d = vec2(ru.w, rv.w) - pix;
    let ray = dot(hit.uv, hit.uv);
    let low_pass = LOW_PASS_INV_SQUARE * dot(hit.d, hit.d);
    hit.ray_kernel = ray <= low_pass;
    hit.on_plane = hit.zeta.z != 0.0 && ray <= EXTENT_SIGMAS * EXTENT_SIGMAS;
    let sigma = 0.5 * min(ray, low_pass);
    hit.unclamped = s_normal_opacity[slot].w * exp(-sigma);
    hit.alpha = min(ALPHA_MAX, hit.unclamped);
    hit.valid = hit.zeta.z != 0.0 && sigma >= 0.0 && hit.alpha >= ALPHA_MIN;
    return hit;
}

// The depth the pixel sees on a staged surfel: where its ray meets the surfel's plane (2DGS), z = ray_w·(u, v, 1),
// or the centre's depth where that point lies outside the surfel's extent (the reference's `hit_depth`).
fn hit_depth(slot: u32, hit: Hit) -> f32 {
    if hit.on_plane {
        return dot(s_ray_w[slot].xyz, vec3(hit.uv, 1.0));
    }
    return s_ray_w[slot].w;
}
