#!/usr/bin/env bash
# splatrack's main job on a fresh machine: installs what it needs, then tracks the bundled synthetic demo
# sequence in the app window where a display exists, headless otherwise (outputs in out/replay/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo run --release --locked -- "$@"
