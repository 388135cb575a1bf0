// Exclusive prefix sum of u32, in place, in levels: scan_blocks scans each block of 256 and writes the block
// totals; the totals are scanned the same way one level up; add_block_offsets adds them back down.
// Workgroup shared memory only (no subgroups), so it runs on every backend.

struct ScanParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> scan: ScanParams;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> block_sums: array<u32>;

var<workgroup> s_scan: array<u32, 256>;

@compute @workgroup_size(256)
fn scan_blocks(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let block = linear_group(wg, nwg);
    let i = block * 256u + li;
    var own = 0u;
    if i < scan.len {
        own = data[i];
    }
    s_scan[li] = own;
    workgroupBarrier();
    // Hillis-Steele inclusive scan.
    for (var offset = 1u; offset < 256u; offset = offset * 2u) {
        var add = 0u;
        if li >= offset {
            add = s_scan[li - offset];
        }
        workgroupBarrier();
        s_scan[li] = s_scan[li] + add;
        workgroupBarrier();
    }
    if i < scan.len {
        data[i] = s_scan[li] - own;
    }
    if li == 255u {
        block_sums[block] = s_scan[255];
    }
}

@compute @workgroup_size(256)
fn add_block_offsets(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let block = linear_group(wg, nwg);
    let i = block * 256u + li;
    if i < scan.len {
        data[i] = data[i] + block_sums[block];
    }
}
