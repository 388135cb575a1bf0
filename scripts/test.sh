#!/usr/bin/env bash
# Runs every test: installs the system packages they need when missing (Vulkan/Mesa, Xvfb), fetches the
# RealSense SDK (from the pyrealsense2 wheel, see scripts/realsense-sdk.sh), checks that the default build
# (no SDK) compiles, then runs `cargo test` with the `realsense` feature, the real SDK linked in.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo check --locked --all-targets
eval "$(bash scripts/realsense-sdk.sh)"
cargo test --locked --features realsense "$@"
