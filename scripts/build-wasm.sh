#!/usr/bin/env bash
# Build the engine for the browser into www/pkg (release, ES module for `--target web`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib --target wasm32-unknown-unknown
wasm-bindgen --target web --no-typescript --out-dir www/pkg target/wasm32-unknown-unknown/release/cabs.wasm
echo "[build] www/pkg: $(du -h www/pkg/cabs_bg.wasm | cut -f1) of wasm" >&2
