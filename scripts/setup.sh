#!/usr/bin/env bash
# Sets up everything into .venv/ (torch, the wasm target, guest, host, extension) and runs
# the main demo against an embedded local host. `--no-demo` skips the demo.
set -euo pipefail
source "$(dirname "$0")/env.sh"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt
rustup target add wasm32-wasip2

# The host build also builds the guest component (host/build.rs).
cargo build --release -p torch-remote-host --bin torch-remote-host
install -m 755 target/release/torch-remote-host .venv/bin/torch-remote-host

# The wheel links the torch already in .venv; auditwheel would bundle a second libtorch.
rm -rf target/wheels
(cd python && maturin build --release --auditwheel skip --interpreter "$PYO3_PYTHON" --out ../target/wheels)
.venv/bin/python -m pip install -q --force-reinstall --no-deps target/wheels/torch_remote-*.whl

if [ "${1:-}" != "--no-demo" ]; then
  .venv/bin/python examples/basic.py
fi
