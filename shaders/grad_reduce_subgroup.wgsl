// One atomic per subgroup and component: the lanes' contributions are summed first, and subgroups where no
// lane contributes skip the surfel entirely. Called in uniform control flow.

fn grad_add_all(base: u32, contrib: array<f32, 19>, valid: bool, lane_key: u32) {
    if !subgroupAny(valid) {
        return;
    }
    let first = subgroupBroadcastFirst(lane_key) == lane_key;
    for (var c = 0u; c < 19u; c++) {
        let sum = subgroupAdd(contrib[c]);
        if first && sum != 0.0 {
            grad_atomic_add(base + c, sum);
        }
    }
}
