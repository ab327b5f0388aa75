# Sourced by the other scripts: the build environment of this checkout.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
# tch builds against the torch wheel in .venv rather than downloading libtorch.
export LIBTORCH_USE_PYTORCH=1
export PYO3_PYTHON="$VIRTUAL_ENV/bin/python"
cd "$ROOT"
