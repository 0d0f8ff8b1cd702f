#!/usr/bin/env bash
# One benchmark run on a machine with an NVIDIA GPU, at most 8 minutes: prints the card, runs the
# CUDA selftest and the WGSL selftest on the card, times the CUDA attention kernels, the WGSL ones
# through Vulkan and PyTorch (FlashAttention-2 via SDPA, and a plain sigmoid attention) on the
# same shapes (B·n = 16,384 tokens, heads = 2048 / d, d ∈ {64, 128}, n ∈ {512, 2048, 8192},
# full and causal), then writes one table to stdout and everything to a JSON file.
#
#   bench/gpu.sh [OUT.json]          (default gpu-bench.json)
#
# Needs: the `sigmix` binary built with `--features cuda` (SIGMIX_BIN, or target/release/sigmix,
# or bench/sigmix), PyTorch with CUDA (PYTHON, default python3) for the reference columns and
# NVRTC (the CUDA toolkit's, or PyTorch's wheel). docs/gpu-benchmarks.md has the steps. Only
# reads GPU state: no clock, power or persistence setting is changed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-gpu-bench.json}"
work="$(mktemp -d)"
die() {
  echo "bench/gpu.sh: $*" >&2
  exit 1
}
step() { echo; echo "== $* ($((SECONDS))s)"; }

# The card: without one, stop before anything runs.
command -v nvidia-smi >/dev/null 2>&1 \
  || die "no NVIDIA GPU here: nvidia-smi is missing. This script measures the kernels on an NVIDIA card and needs its driver; nothing was run."
card="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
[ -n "$card" ] || die "nvidia-smi found no usable NVIDIA GPU; nothing was run."
echo "$card" > "$work/card.txt"
step "card: $card"
nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu,persistence_mode --format=csv 2>/dev/null

bin="${SIGMIX_BIN:-}"
for c in "$here/../target/release/sigmix" "$here/sigmix" "$(command -v sigmix 2>/dev/null)"; do
  [ -z "$bin" ] && [ -n "$c" ] && [ -x "$c" ] && bin="$c"
done
[ -n "$bin" ] && [ -x "$bin" ] \
  || die "no sigmix binary: build it with \`cargo build --release -p sigmix-app --features cuda\` (docs/gpu-benchmarks.md) and set SIGMIX_BIN"
echo "sigmix: $bin ($("$bin" --version 2>&1))"

py="${PYTHON:-python3}"
have_torch=1
if ! "$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  have_torch=0
  echo "WARNING: $py has no PyTorch with CUDA: the PyTorch columns will be empty" >&2
fi

# NVRTC: the system's, CUDA_HOME's, or one inside Python's site-packages (PyTorch's wheels).
nvrtc="$(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so/ && !/builtins/ {print $NF; exit}')"
if [ -z "$nvrtc" ]; then
  nvrtc="$(ls "${CUDA_HOME:-/usr/local/cuda}"/lib64/libnvrtc.so* 2>/dev/null | grep -v builtins | head -1)"
fi
if [ -z "$nvrtc" ]; then
  nvrtc="$("$py" - <<'PY' 2>/dev/null
import glob, sys
for p in sys.path:
    for pat in ("/nvidia/**/libnvrtc.so*", "/torch/lib/libnvrtc*.so*"):
        hits = [h for h in glob.glob(p + pat, recursive=True) if "builtins" not in h and ".alt." not in h]
        if hits:
            print(sorted(hits)[0]); sys.exit()
PY
)"
fi
if [ -n "$nvrtc" ]; then
  mkdir -p "$work/lib" && ln -sf "$nvrtc" "$work/lib/libnvrtc.so"
  export LD_LIBRARY_PATH="$work/lib:$(dirname "$nvrtc")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "NVRTC: $nvrtc"
else
  echo "WARNING: no libnvrtc found (CUDA toolkit or PyTorch's nvidia-cuda-nvrtc wheel): the CUDA steps will fail" >&2
fi

# Vulkan for the WGSL kernels: the loader (the system's, or one carried to bench/vendor/) and
# NVIDIA's ICD file (written from the driver's libGLX_nvidia when the driver install lacks it).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if [ -e "$here/vendor/libvulkan.so.1" ]; then
    export LD_LIBRARY_PATH="$here/vendor:$LD_LIBRARY_PATH"
    echo "Vulkan loader: $here/vendor/libvulkan.so.1"
  else
    echo "WARNING: no Vulkan loader (libvulkan.so.1): the WGSL columns will be empty; see docs/gpu-benchmarks.md" >&2
  fi
fi
icd=""
for f in /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json; do
  [ -z "$icd" ] && [ -e "$f" ] && icd="$f"
done
if [ -z "$icd" ]; then
  glx="$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}')"
  if [ -n "$glx" ]; then
    icd="$work/nvidia_icd.json"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$glx" > "$icd"
  fi
fi
[ -n "$icd" ] && export VK_ICD_FILENAMES="$icd" && echo "Vulkan ICD: $icd"
export SIGMIX_BACKEND=vulkan SIGMIX_ADAPTER="${SIGMIX_ADAPTER:-NVIDIA}" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$work}"

step "sigmix selftest --cuda (12 kernel modules compiled by NVRTC first)"
timeout 90 "$bin" selftest --cuda --seed 1 --json > "$work/selftest.json"
echo "exit $?"
# Failing checks by name (an unwritten or non-finite output is stored as null: infinite error).
"$py" - "$work/selftest.json" <<'PY' 2>/dev/null || echo "no selftest result"
import json, sys
checks = json.load(open(sys.argv[1]))
bad = [c for c in checks if c["rel_err"] is None or not c["rel_err"] < c["tolerance"]]
print(f"{len(checks) - len(bad)} of {len(checks)} checks passed")
for c in bad:
    print(f"FAIL {c['kernel']} {c['shape']}: {c['rel_err']} over {c['tolerance']:.0e}")
PY

step "sigmix selftest on the card through Vulkan (WGSL)"
timeout 35 "$bin" --device gpu selftest --seed 1 | sed -n '1p;$p'

# One process per sequence length, each under its own timeout, so a slow shape costs only its
# own rows.
ns=(512 2048 8192)
step "CUDA kernels (bf16, tensor cores)"
for n in "${ns[@]}"; do
  timeout 35 "$bin" bench attention --backend cuda --n "$n" --tokens 16384 --hidden 2048 --json > "$work/cuda-$n.json"
  echo "n = $n: exit $?"
done

step "WGSL kernels through Vulkan (f32)"
for n in "${ns[@]}"; do
  timeout 45 "$bin" --device gpu bench attention --backend wgpu --n "$n" --tokens 16384 --hidden 2048 --json \
    > "$work/wgpu-$n.json"
  echo "n = $n: exit $?"
done

# Native training on the card: the number the page's #bench=tiny is compared with, and the
# host's time to record a step (the floor of a step on a fast GPU).
step "training through Vulkan (tiny preset: tokens/s, and the host's recording time per step)"
timeout 15 "$bin" --device gpu bench train | tail -2
echo "exit ${PIPESTATUS[0]}"

if [ "$have_torch" = 1 ]; then
  step "PyTorch: FlashAttention-2 (SDPA) softmax and a plain sigmoid attention (bf16)"
  timeout 90 "$py" "$here/gpu_torch.py" --n 512,2048,8192 --tokens 16384 --hidden 2048 --out "$work/torch.json"
  echo "exit $?"
fi

step "report"
"$py" "$here/gpu_report.py" "$out" "$work/card.txt" "$work/selftest.json" "$work/torch.json" "$work"/cuda-*.json \
  "$work"/wgpu-*.json
echo "done in ${SECONDS}s; parts in $work"
