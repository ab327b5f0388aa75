#!/usr/bin/env bash
# Runs every check and test: builds what changed, lints (cargo fmt/clippy, ruff), the Rust
# tests (guest rules, protocol, host kernels) and pytest, whose summary line ends the output.
set -euo pipefail
source "$(dirname "$0")/env.sh"

bash scripts/setup.sh --no-demo
cargo fmt --all --check
cargo clippy --release -p guest-ops -p torch-remote-host -p torch-remote-python --all-targets -- -D warnings
# The guest's wasm-only code (its allocator) as the component builds it.
cargo clippy --release -p guest-ops --target wasm32-wasip2 --target-dir target/guest -- -D warnings
ruff check python tests examples modal-image
ruff format --check python tests examples modal-image
cargo test --release -p guest-ops -p torch-remote-host -p torch-remote-python
.venv/bin/python -m pytest tests "$@"
