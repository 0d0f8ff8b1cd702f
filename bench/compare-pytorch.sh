#!/usr/bin/env bash
# Tiny-GPT training throughput: sigmix's CPU backend vs PyTorch (CPU) on this machine.
# PyTorch is installed from PyPI into a throwaway virtual environment, only for this run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SIGMIX_TORCH_VENV:-${TMPDIR:-/tmp}/sigmix-torch-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch
fi
echo "== sigmix (CPU backend)"
cargo run --release --quiet -- bench train --device cpu | tail -1
echo "== PyTorch"
"$venv/bin/python" bench/pytorch_tiny.py --steps 100 2>/dev/null
