// Stable LSD radix sort of (key_hi, key_lo) -> value pairs, 8 bits per pass, blocks of 256 keys.
// histogram: per block, count each digit and store the counts digit-major (count[digit * num_blocks + block]),
// so one exclusive scan of that array (gpu::scan) gives every (digit, block) its first output slot.
// scatter: each key goes to its slot plus its rank among equal digits earlier in its block, which keeps
// equal keys in input order (stability, which the (tile, depth) sort relies on for ties).

struct SortParams {
    num_keys: u32,
    shift: u32,
    num_blocks: u32,
    // 0 sorts on key_lo, 1 on key_hi.
    word: u32,
}

@group(0) @binding(0) var<uniform> sort: SortParams;
@group(0) @binding(1) var<storage, read> keys_hi_in: array<u32>;
@group(0) @binding(2) var<storage, read> keys_lo_in: array<u32>;
@group(0) @binding(3) var<storage, read> values_in: array<u32>;
@group(0) @binding(4) var<storage, read_write> keys_hi_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> keys_lo_out: array<u32>;
@group(0) @binding(6) var<storage, read_write> values_out: array<u32>;
@group(0) @binding(7) var<storage, read_write> digit_offsets: array<u32>;

const NO_DIGIT: u32 = 256u;

var<workgroup> s_hist: array<atomic<u32>, 256>;
var<workgroup> s_digit: array<u32, 256>;

fn digit_of(i: u32) -> u32 {
    var key = keys_lo_in[i];
    if sort.word == 1u {
        key = keys_hi_in[i];
    }
    return (key >> sort.shift) & 255u;
}

@compute @workgroup_size(256)
fn histogram(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let block = linear_group(wg, nwg);
    let i = block * 256u + li;
    atomicStore(&s_hist[li], 0u);
    workgroupBarrier();
    if i < sort.num_keys {
        atomicAdd(&s_hist[digit_of(i)], 1u);
    }
    workgroupBarrier();
    digit_offsets[li * sort.num_blocks + block] = atomicLoad(&s_hist[li]);
}

@compute @workgroup_size(256)
fn scatter(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let block = linear_group(wg, nwg);
    let i = block * 256u + li;
    var digit = NO_DIGIT;
    if i < sort.num_keys {
        digit = digit_of(i);
    }
    s_digit[li] = digit;
    workgroupBarrier();
    if digit == NO_DIGIT {
        return;
    }
    var rank = 0u;
    for (var j = 0u; j < li; j++) {
        rank += u32(s_digit[j] == digit);
    }
    let dst = digit_offsets[digit * sort.num_blocks + block] + rank;
    keys_hi_out[dst] = keys_hi_in[i];
    keys_lo_out[dst] = keys_lo_in[i];
    values_out[dst] = values_in[i];
}
