// Gradient accumulation with native float atomics (devices with SHADER_FLOAT32_ATOMIC).

@group(0) @binding(7) var<storage, read_write> grads: array<atomic<f32>>;

fn grad_atomic_add(i: u32, v: f32) {
    atomicAdd(&grads[i], v);
}
