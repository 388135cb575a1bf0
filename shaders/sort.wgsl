// Stable LSD radix sort of u32 key -> u32 value pairs, 4 bits per pass, blocks of 256 keys.
// histogram: per block, count each of the 16 digits and store the counts digit-major
// (count[digit * num_blocks + block]), so one exclusive scan of that array (gpu::scan) gives every
// (digit, block) its first output slot.
// scatter: each key goes to its slot plus its rank among equal digits earlier in its block, which keeps
// equal keys in input order (stability: the tile sort relies on it to keep keys in depth order). The ranks come
// from one workgroup scan of one-hot digit vectors packed as sixteen 8-bit counters in a vec4<u32>
// (an exclusive count never exceeds 255 in a block of 256).

struct SortParams {
    num_keys: u32,
    shift: u32,
    num_blocks: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> sort: SortParams;
@group(0) @binding(1) var<storage, read> keys_in: array<u32>;
@group(0) @binding(2) var<storage, read> values_in: array<u32>;
@group(0) @binding(3) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(4) var<storage, read_write> values_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> digit_offsets: array<u32>;

const RADIX: u32 = 16u;

var<workgroup> s_hist: array<atomic<u32>, 16>;
var<workgroup> s_ranks: array<vec4<u32>, 256>;

fn digit_of(i: u32) -> u32 {
    return (keys_in[i] >> sort.shift) & (RADIX - 1u);
}

@compute @workgroup_size(256)
fn histogram(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let block = linear_group(wg, nwg);
    let i = block * 256u + li;
    if li < RADIX {
        atomicStore(&s_hist[li], 0u);
    }
    workgroupBarrier();
    if i < sort.num_keys {
        atomicAdd(&s_hist[digit_of(i)], 1u);
    }
    workgroupBarrier();
    if li < RADIX {
        digit_offsets[li * sort.num_blocks + block] = atomicLoad(&s_hist[li]);
    }
}

// The one-hot 8-bit counter of `digit` in a vec4<u32> of sixteen such counters.
fn one_hot(digit: u32) -> vec4<u32> {
    let bit = 1u << (8u * (digit & 3u));
    return vec4(
        select(0u, bit, digit >> 2u == 0u),
        select(0u, bit, digit >> 2u == 1u),
        select(0u, bit, digit >> 2u == 2u),
        select(0u, bit, digit >> 2u == 3u),
    );
}

@compute @workgroup_size(256)
fn scatter(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let block = linear_group(wg, nwg);
    let i = block * 256u + li;
    let valid = i < sort.num_keys;
    var digit = 0u;
    var own = vec4(0u);
    if valid {
        digit = digit_of(i);
        own = one_hot(digit);
    }
    s_ranks[li] = own;
    workgroupBarrier();
    // Hillis-Steele inclusive scan of the packed counters; no field can overflow (at most 256 ones, and
    // the inclusive count of a thread's own digit is at most li + 1 <= 256 only in the field it set).
    for (var offset = 1u; offset < 256u; offset = offset * 2u) {
        var add = vec4(0u);
        if li >= offset {
            add = s_ranks[li - offset];
        }
        workgroupBarrier();
        s_ranks[li] = s_ranks[li] + add;
        workgroupBarrier();
    }
    if !valid {
        return;
    }
    let exclusive = s_ranks[li] - own;
    let rank = (exclusive[digit >> 2u] >> (8u * (digit & 3u))) & 255u;
    let dst = digit_offsets[digit * sort.num_blocks + block] + rank;
    keys_out[dst] = keys_in[i];
    values_out[dst] = values_in[i];
}
