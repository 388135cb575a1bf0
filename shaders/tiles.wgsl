// Tile binning around the sorts. TileParams.num_keys is the number of key slots: the exact pair count, or a
// reserved capacity whose unused slots hold SENTINEL (written by fill_sentinel, sorted last, skipped by
// tile_ranges) so that a render needs no read-back. The surfels arrive sorted by depth (depth_order, a stable sort of the
// projected depths), so emitting each surfel's tiles in that order and then stably sorting by tile id alone
// leaves every tile's surfels front to back, ties in index order.
// gather_counts: tile counts in depth order, plus a 0 at the end so the exclusive scan that follows leaves the
// total number of (tile, surfel) pairs there. emit_keys: one thread per depth-sorted surfel writes the tile id
// and surfel index of every tile it touches, at its scanned offset, in row-major tile order. tile_ranges: one
// thread per tile-sorted key marks where each tile's run starts and ends (ranges are cleared to (0, 0)
// beforehand, so empty tiles read as empty).

const SENTINEL: u32 = 0xffffffffu;

struct TileParams {
    num_keys: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> projected: array<ProjectedSplat>;
@group(0) @binding(2) var<storage, read> depth_order: array<u32>;
@group(0) @binding(3) var<storage, read_write> offsets: array<u32>;
@group(0) @binding(4) var<storage, read_write> tile_keys: array<u32>;
@group(0) @binding(5) var<storage, read_write> tile_values: array<u32>;
@group(0) @binding(6) var<uniform> tiles: TileParams;
@group(0) @binding(7) var<storage, read_write> ranges: array<vec2<u32>>;

@compute @workgroup_size(256)
fn gather_counts(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let j = linear_group(wg, nwg) * 256u + li;
    if j < params.num_splats {
        offsets[j] = projected[depth_order[j]].tile_count;
    } else if j == params.num_splats {
        offsets[j] = 0u;
    }
}

@compute @workgroup_size(256)
fn emit_keys(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let j = linear_group(wg, nwg) * 256u + li;
    if j >= params.num_splats {
        return;
    }
    let i = depth_order[j];
    let p = projected[i];
    if p.tile_count == 0u {
        return;
    }
    let rect = tile_rect(vec2(p.centre_x, p.centre_y), vec2<f32>(p.radius), params.tile_count);
    var at = offsets[j];
    for (var ty = rect.y; ty < rect.w; ty++) {
        for (var tx = rect.x; tx < rect.z; tx++) {
            if at < tiles.num_keys {
                tile_keys[at] = ty * params.tile_count.x + tx;
                tile_values[at] = i;
            }
            at++;
        }
    }
}

@compute @workgroup_size(256)
fn fill_sentinel(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let k = linear_group(wg, nwg) * 256u + li;
    if k < tiles.num_keys {
        tile_keys[k] = SENTINEL;
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
    let tile = tile_keys[k];
    if tile >= params.tile_count.x * params.tile_count.y {
        return;
    }
    if k == 0u || tile_keys[k - 1u] != tile {
        ranges[tile].x = k;
    }
    if k + 1u == n || tile_keys[k + 1u] != tile {
        ranges[tile].y = k + 1u;
    }
}
