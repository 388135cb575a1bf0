#!/usr/bin/env bash
# Runs every test: installs the system packages they need when missing, then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --locked "$@"
