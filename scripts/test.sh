#!/usr/bin/env bash
# Run every test: install what is missing, then
#   0. the lint gate: rustfmt and clippy (warnings are errors);
#   1. native tests (cargo test --release: the CPU twins are exact but slow unoptimised), three
#      binaries by area: tests/engine (GPU on lavapipe or a real GPU vs CPU, chunking, fast CPU
#      kernels), tests/method (the CABS rule, CPU twins vs brute force) and tests/cli (the
#      command-line runner, end-to-end MNIST training);
#   2. browser tests (wasm-pack test --headless --chrome): the engine on WebGPU in Chromium;
#   3. page tests (node --test tests/page): the demo page end to end in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/cabs-xdg}
mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "lint (cargo fmt --check, cargo clippy -D warnings)"
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings

step "native tests (cargo test)"
cargo test --release --all-targets --no-fail-fast

step "browser tests (wasm-pack test --headless --chrome --test engine)"
# The engine test binary is the browser suite (its `web` and `fast_cpu` modules); the method and
# cli binaries are native only, so building them for wasm32 would only make empty binaries.
CHROMEDRIVER=$(command -v chromedriver) wasm-pack test --headless --chrome --test engine

if ls tests/page/*.test.mjs >/dev/null 2>&1; then
  step "page tests (node --test tests/page)"
  bash scripts/build-wasm.sh
  node --test --test-concurrency=1 tests/page/
fi
