// Tile binning around the sort. emit_keys: one thread per surfel writes a (tile, depth) key and the surfel
// index for every tile it touches, at the offset the scan gave it, in row-major tile order. tile_ranges: one
// thread per sorted key marks where each tile's run of keys starts and ends (ranges are cleared to (0, 0)
// beforehand, so empty tiles read as empty).

struct TileParams {
    num_keys: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> projected: array<ProjectedSplat>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read_write> keys_hi: array<u32>;
@group(0) @binding(4) var<storage, read_write> keys_lo: array<u32>;
@group(0) @binding(5) var<storage, read_write> values: array<u32>;
@group(0) @binding(6) var<uniform> tiles: TileParams;
@group(0) @binding(7) var<storage, read_write> ranges: array<vec2<u32>>;

@compute @workgroup_size(256)
fn emit_keys(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let i = linear_group(wg, nwg) * 256u + li;
    if i >= params.num_splats {
        return;
    }
    let p = projected[i];
    if p.tile_count == 0u {
        return;
    }
    let rect = tile_rect(vec2(p.centre_x, p.centre_y), vec2<f32>(p.radius), params.tile_count);
    let depth_bits = bitcast<u32>(p.depth);
    var at = offsets[i];
    for (var ty = rect.y; ty < rect.w; ty++) {
        for (var tx = rect.x; tx < rect.z; tx++) {
            keys_hi[at] = ty * params.tile_count.x + tx;
            keys_lo[at] = depth_bits;
            values[at] = i;
            at++;
        }
    }
}

@compute @workgroup_size(256)
fn tile_ranges(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let k = linear_group(wg, nwg) * 256u + li;
    let n = tiles.num_keys;
    if k >= n {
        return;
    }
    let tile = keys_hi[k];
    if k == 0u || keys_hi[k - 1u] != tile {
        ranges[tile].x = k;
    }
    if k + 1u == n || keys_hi[k + 1u] != tile {
        ranges[tile].y = k + 1u;
    }
}
