#!/usr/bin/env bash
# Builds the static site into web/dist (index.html, the wasm module and its JS glue): a folder
# that can be published as is. Needs the wasm32 target and wasm-bindgen-cli at exactly the
# wasm-bindgen version in Cargo.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$want" != "$have" ]; then
  echo "web/build.sh: wasm-bindgen-cli $want is needed (found ${have:-none}): cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p sigmix-web --target wasm32-unknown-unknown
out=web/dist
rm -rf "$out"
mkdir -p "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out/pkg" "$target/wasm32-unknown-unknown/release/sigmix_web.wasm"
cp web/index.html "$out/"
echo "built $out ($(du -sh "$out" | cut -f1))"
