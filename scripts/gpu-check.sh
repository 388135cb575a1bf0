#!/usr/bin/env bash
# One prepared run on a machine with a real GPU (a lent H100/H200 has minutes, not hours): the GPU tests, the
# kernel benchmarks, per-stage tracker timings at 640×480, then accuracy sweeps of the full method (joint
# mapping on), which take too long on lavapipe. Every section stops starting work once DEADLINE_S has passed,
# and the summary is rewritten after each, so a run cut short still returns what it measured.
#
#   BIN=target/release/splatrack TESTS=dir-of-test-binaries bash scripts/gpu-check.sh OUT_DIR
#
# A GPU machine without Rust can run binaries built here: `cargo test --release --no-run --message-format=json`
# names the test executables (leave out gui, which needs Xvfb, and realsense). They find the repository and the
# splatrack binary at the paths they were built in, so put the binary at target/release/splatrack there and the
# checkout at the same path (a symbolic link will do). Each test binary runs from the repository root.
#
# Knobs (environment): FRAMES (300), SIZE (640x480), SEEDS ("0 1 2"), JOBS (replays at a time in the sweeps, 4),
# DEADLINE_S (seconds after start at which no new work begins, 420), LIMIT_S (seconds after start at which
# replays still running are interrupted, 520), DATA (where sequences are written), BENCH (0 skips the kernel
# benchmarks), TESTS_DEADLINE_S (no test binary starts after this, 150; each has 60 s).
set -uo pipefail
out=${1:?usage: gpu-check.sh OUT_DIR}
mkdir -p "$out"
bin=${BIN:-target/release/splatrack}
frames=${FRAMES:-300}
size=${SIZE:-640x480}
seeds=${SEEDS:-0 1 2}
jobs=${JOBS:-4}
deadline=${DEADLINE_S:-420}
limit=${LIMIT_S:-520}
data=${DATA:-/tmp/splatrack-gpu-check}
runs="$data/runs"
tests="$data/tests"
mkdir -p "$data" "$runs" "$tests"
log() { echo "[$(date +%T) +${SECONDS}s] $*" | tee -a "$out/log.txt"; }
in_time() { [ "$SECONDS" -lt "$deadline" ]; }

write_config() { # name, then TOML lines
    local name=$1
    shift
    printf '%s\n' "$@" >"$data/$name.toml"
}
# The lavapipe table's protocol: lockstep, mapping optimisation off, mapping at half size.
write_config protocol '[mapping]' 'lockstep = true' 'joint_iterations = 0' 'pose_iterations = 0' 'downsample = 2'
# The full method as shipped (joint and pose-only mapping on, mapping in its own thread).
write_config full '[mapping]' 'lockstep = false'
# The full method, deterministic: tracking waits for each mapping step.
write_config full_lockstep '[mapping]' 'lockstep = true'
# The full method with the fine-pose stage (differentiable rendering of each frame, surfels frozen).
write_config full_fine '[mapping]' 'lockstep = false' '[tracking]' 'fine_iterations = 10'

# replay NAME SEQUENCE CONFIG: one replay into $runs/NAME, its stderr kept beside the report.
replay() {
    local name=$1 seq=$2 config=$3
    mkdir -p "$runs/$name"
    timeout -s INT $((limit > SECONDS ? limit - SECONDS : 1)) "$bin" replay --source "ycbineoat:$data/$seq" \
        --config "$data/$config.toml" --out "$runs/$name" --quiet >"$runs/$name/stdout.txt" \
        2>"$runs/$name/stderr.txt" || echo "exit $?" >>"$runs/$name/stderr.txt"
    rm -rf "$runs/$name/ob_in_cam" "$runs/$name/model.ply"
}

summarise() {
    python3 - "$runs" >"$out/summary.txt" <<'EOF'
import json, os, sys
runs = sys.argv[1]
rows, adapter, groups = [], "no reports", {}
for name in sorted(os.listdir(runs)):
    path = os.path.join(runs, name, "report.json")
    if not os.path.exists(path):
        rows.append(f"{name:40s} no report")
        continue
    r = json.load(open(path))
    adapter = r.get("adapter", adapter)
    s = r.get("score") or {}
    t = r.get("tracker_ms_per_frame") or {}
    rows.append(
        f"{name:40s} ADD-S {s.get('adds_auc', float('nan')):6.2f} ADD {s.get('add_auc', float('nan')):6.2f} "
        f"CD {s.get('chamfer_cm', float('nan')):.3f} lost {r.get('lost_frames')} fps {r.get('fps', 0):6.2f} "
        f"total {t.get('total_ms', 0):6.1f} icp {t.get('icp_ms', 0):5.1f} feat {t.get('features_ms', 0):4.1f} "
        f"kf {t.get('keyframe_ms', 0):5.1f} map_step {r.get('mapping_step_ms_mean') or 0:7.1f} "
        f"steps {r.get('mapping_steps')} splats {r.get('splats')} kf {r.get('keyframes')}")
    if r.get("error"):
        rows.append(f"    error: {r['error']}")
    if "__" in name:  # a sweep run: CONFIG__SEQUENCE
        ok = s.get("adds_auc", 0) >= 95 and s.get("add_auc", 0) >= 90 and s.get("chamfer_cm", 9) <= 0.3 \
            and r.get("lost_frames") == 0
        groups.setdefault(name.split("__")[0], []).append(
            (s.get("adds_auc", 0), s.get("add_auc", 0), s.get("chamfer_cm", 9), r.get("lost_frames") or 0, ok,
             t.get("total_ms", 0), r.get("fps", 0)))
print(adapter)
print("\n".join(rows))
for g, v in sorted(groups.items()):
    n = len(v)
    print(f"{g}: {n} runs, mean ADD-S {sum(x[0] for x in v)/n:.2f} ADD {sum(x[1] for x in v)/n:.2f} "
          f"CD {sum(x[2] for x in v)/n:.3f} lost {sum(x[3] for x in v)} on target {sum(x[4] for x in v)}/{n} "
          f"tracker {sum(x[5] for x in v)/n:.1f} ms/frame fps {sum(x[6] for x in v)/n:.2f}")
EOF
    tar czf "$out/results.tar.gz" -C "$data" runs tests
}

log "machine: $(nproc) cores; $(nvidia-smi -L 2>/dev/null || echo 'no nvidia-smi')"
log "$("$bin" bench raster --splats 1000 --size 64x48 --frames 2 2>&1 | grep -E '^adapter|rror' | head -3)"

if [ -n "${TESTS:-}" ]; then
    log "tests from $TESTS"
    for t in "$TESTS"/*; do
        [ "$SECONDS" -lt "${TESTS_DEADLINE_S:-150}" ] || break
        timeout 60 "$t" >"$tests/$(basename "$t").txt" 2>&1
        log "$(basename "$t"): exit $? $(grep -h '^test result' "$tests/$(basename "$t").txt" | tr '\n' ' ')"
    done
    grep -h -A40 '^failures:' "$tests"/*.txt >"$out/test-failures.txt" 2>/dev/null
fi

if in_time && [ "${BENCH:-1}" = 1 ]; then
    log "bench raster / grad"
    "$bin" bench raster --splats 100000 --size "$size" >>"$out/bench.txt" 2>&1
    "$bin" bench grad --splats 50000 --size "$size" --views 1 >>"$out/bench.txt" 2>&1
    "$bin" bench grad --splats 50000 --size 320x240 --views 8 >>"$out/bench.txt" 2>&1
fi

# wait_for_slot N: returns once fewer than N background jobs run.
wait_for_slot() { while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do wait -n; done; }
sequences=()
for seed in $seeds; do for object in box bottle mug; do for motion in robot inhand; do
    sequences+=("${object}_${motion}_$seed")
done; done; done

log "synthesising ${#sequences[@]} sequences ($frames frames, $size)"
for seq in "${sequences[@]}"; do
    IFS=_ read -r object motion seed <<<"$seq"
    wait_for_slot "$(nproc)"
    "$bin" synth --object "$object" --motion "$motion" --seed "$seed" --frames "$frames" --size "$size" \
        --out "$data/$seq" >/dev/null 2>>"$out/log.txt" &
done
wait
log "synthesised"

# Timings with nothing else running: the lavapipe table's protocol, then the full method.
for config in protocol full; do
    in_time && replay "timing_$config" "box_robot_0" "$config"
done
log "timing runs done"
summarise
if in_time; then
    timeout -s INT $((limit - SECONDS)) "$bin" replay --source synthetic --out "$runs/demo" --quiet >/dev/null \
        2>"$data/demo.stderr"
    log "demo done"
fi

# Accuracy sweeps, JOBS replays at a time, each with a share of the cores for dense alignment.
for config in full full_lockstep full_fine; do
    for seq in "${sequences[@]}"; do
        in_time || break
        wait_for_slot "$jobs"
        RAYON_NUM_THREADS=$(($(nproc) / jobs)) replay "${config}__$seq" "$seq" "$config" &
    done
    wait
    log "sweep $config done"
    summarise
done
log "finished"
