// One atomic per subgroup: the lanes' contributions are summed first (called in uniform control flow).

fn grad_add(i: u32, v: f32, lane_key: u32) {
    let sum = subgroupAdd(v);
    if subgroupBroadcastFirst(lane_key) == lane_key && sum != 0.0 {
        grad_atomic_add(i, sum);
    }
}
