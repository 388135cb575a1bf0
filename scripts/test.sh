#!/usr/bin/env bash
# Runs every test: installs the system packages they need when missing (Vulkan/Mesa, Xvfb), fetches the
# RealSense SDK (from the pyrealsense2 wheel, see scripts/realsense-sdk.sh), checks that the default build
# (no SDK) compiles and the code is formatted, then runs `cargo test` with the `realsense` feature, the real SDK linked in.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo check --locked --all-targets
# Formatting (rustfmt.toml) is checked where the toolchain has rustfmt.
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --check; else echo "rustfmt not installed: formatting not checked"; fi
# Assigned first: a failure inside `eval "$(...)"` would pass unnoticed and surface later as a pkg-config error.
sdk_env=$(bash scripts/realsense-sdk.sh)
eval "$sdk_env"
cargo test --locked --features realsense "$@"
