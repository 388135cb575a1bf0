//! GPU radix sort and prefix sum against plain CPU sorting and summing.

mod common;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use splatrack::gpu::scan::Scan;
use splatrack::gpu::sort::{KeyBuffers, RadixSort, bits_for};

#[test]
fn radix_sort_matches_a_stable_cpu_sort() {
    let ctx = common::gpu();
    let sort = RadixSort::new(&ctx);
    let mut rng = Pcg64::seed_from_u64(5);
    // Sizes around block boundaries; few distinct keys so ties (and stability) are exercised.
    for &(n, tiles) in &[(1u32, 1u32), (2, 3), (255, 40), (256, 300), (257, 1200), (5000, 1200), (70_000, 70_000)] {
        // Tile-like keys with few distinct values, and depth-like float bits over a narrow range.
        for (key_bits, keys_in) in [
            (bits_for(tiles), (0..n).map(|_| rng.random_range(0..tiles)).collect::<Vec<u32>>()),
            (32, (0..n).map(|_| rng.random_range(0.3f32..0.3001).to_bits()).collect()),
        ] {
            let values: Vec<u32> = (0..n).map(|_| rng.random()).collect();
            let keys = KeyBuffers::new(&ctx, "test", n + 7).unwrap();
            ctx.queue.write_buffer(&keys.keys[0], 0, bytemuck::cast_slice(&keys_in));
            ctx.queue.write_buffer(&keys.values[0], 0, bytemuck::cast_slice(&values));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            let sorted = sort.encode(&ctx, &mut encoder, &keys, n, key_bits, None).unwrap();
            ctx.queue.submit([encoder.finish()]);
            let got_keys: Vec<u32> = ctx.read_buffer(&keys.keys[sorted.result], n as usize).unwrap();
            let got_values: Vec<u32> = ctx.read_buffer(&keys.values[sorted.result], n as usize).unwrap();

            let mut expected: Vec<(u32, u32)> = keys_in.iter().copied().zip(values).collect();
            expected.sort_by_key(|&(k, _)| k); // stable: equal keys keep input order
            let got: Vec<(u32, u32)> = got_keys.into_iter().zip(got_values).collect();
            assert!(got == expected, "{key_bits}-bit sort of {n} keys differs from the stable CPU sort");
        }
    }
}

#[test]
fn prefix_sum_matches_cpu() {
    let ctx = common::gpu();
    let scan = Scan::new(&ctx);
    let mut rng = Pcg64::seed_from_u64(9);
    for &n in &[1u32, 255, 256, 257, 65_537, 300_000] {
        let data: Vec<u32> = (0..n).map(|_| rng.random_range(0..40)).collect();
        let buffer = ctx.storage_buffer("scan test", n as u64 * 4, wgpu::BufferUsages::empty()).unwrap();
        ctx.queue.write_buffer(&buffer, 0, bytemuck::cast_slice(&data));
        let plan = scan.plan(&ctx, &buffer, n).unwrap();
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            scan.encode(&mut pass, &plan);
        }
        ctx.queue.submit([encoder.finish()]);
        let got: Vec<u32> = ctx.read_buffer(&buffer, n as usize).unwrap();
        let expected: Vec<u32> = data
            .iter()
            .scan(0u32, |acc, &v| {
                let before = *acc;
                *acc += v;
                Some(before)
            })
            .collect();
        assert!(got == expected, "exclusive scan of {n} values differs");
    }
}
