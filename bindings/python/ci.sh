#!/usr/bin/env bash
# Builds the dracoon_crypto wheel in a fresh virtual environment (maturin from PyPI), installs
# it and runs the pytest suite (official vectors, properties, behaviour). Any cwd; idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-ci"
rm -rf "$venv" "$here/target-wheels"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "maturin>=1.7,<2" "pytest>=7" "hypothesis>=6"
cd "$here"
"$venv/bin/maturin" build --release --quiet --out "$here/target-wheels"
"$venv/bin/python" -m pip install --quiet --force-reinstall "$here"/target-wheels/*.whl
"$venv/bin/python" -m pytest -q "$here/tests"
