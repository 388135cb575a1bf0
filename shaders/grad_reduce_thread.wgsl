// Without subgroups: each thread adds its own non-zero contribution.

fn grad_add(i: u32, v: f32, lane_key: u32) {
    if v != 0.0 {
        grad_atomic_add(i, v);
    }
}
