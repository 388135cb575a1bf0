// Gradient accumulation without float atomics: a compare-and-swap loop on the float's bits.

@group(0) @binding(7) var<storage, read_write> grads: array<atomic<u32>>;

fn grad_atomic_add(i: u32, v: f32) {
    var old = atomicLoad(&grads[i]);
    loop {
        let swapped = atomicCompareExchangeWeak(&grads[i], old, bitcast<u32>(bitcast<f32>(old) + v));
        if swapped.exchanged {
            break;
        }
        old = swapped.old_value;
    }
}
