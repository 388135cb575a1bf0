#!/usr/bin/env bash
# splatrack's main job on a fresh machine: installs what it needs, then renders the bundled example scene.
# (Replaced by the tracker replay of the bundled demo sequence once the tracker lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
mkdir -p out
cargo run --release --locked -- render --splats assets/example_sphere.ply --camera assets/example_camera.json \
    --out out/example.png --depth-out out/example_depth.png
