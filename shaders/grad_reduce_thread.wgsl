// Without subgroups: each contributing thread adds its own non-zero components.

fn grad_add_all(base: u32, contrib: array<f32, 19>, valid: bool, lane_key: u32) {
    if !valid {
        return;
    }
    for (var c = 0u; c < 19u; c++) {
        if contrib[c] != 0.0 {
            grad_atomic_add(base + c, contrib[c]);
        }
    }
}
