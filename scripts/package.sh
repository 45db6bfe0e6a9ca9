#!/usr/bin/env bash
# Assemble the npm package in dist/npm: the engine (www/pkg, built by scripts/build-wasm.sh), the
# demo page and the <cabs-demo> element (www/), the MNIST bundle, hand-written TypeScript
# declarations and a README (npm/). Then `cd dist/npm && npm pack` makes cabs-webgpu-VERSION.tgz.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in www/pkg/cabs.js www/pkg/cabs_bg.wasm www/vendor/uPlot.esm.js www/data/mnist.bin; do
  [ -s "$f" ] || { echo "[package] $f is missing: run bash scripts/setup.sh and bash scripts/build-wasm.sh" >&2; exit 1; }
done
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
out=dist/npm
rm -rf "$out"
mkdir -p "$out/pkg" "$out/data" "$out/vendor"
cp www/index.html www/main.js www/worker.js www/style.css www/cabs-demo.js "$out/"
cp -r www/lib "$out/lib"
cp www/pkg/cabs.js www/pkg/cabs_bg.wasm "$out/pkg/"
cp -r www/pkg/snippets "$out/pkg/" # the argument guards cabs.js imports (src/wasm_guard.js)
cp www/vendor/uPlot.esm.js www/vendor/uPlot.min.css "$out/vendor/"
cp www/data/mnist.bin "$out/data/"
cp npm/index.d.ts npm/cabs-demo.d.ts npm/README.md "$out/"
cp LICENSE* "$out/" 2>/dev/null || true
cat > "$out/package.json" <<JSON
{
  "name": "cabs-webgpu",
  "version": "$version",
  "description": "CABS (adaptive batch sizes coupled with the learning rate) trained in the browser on WebGPU or a CPU twin: engine, TypeScript types, <cabs-demo> element",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "./pkg/cabs.js",
  "types": "./index.d.ts",
  "exports": {
    ".": { "types": "./index.d.ts", "default": "./pkg/cabs.js" },
    "./cabs-demo.js": { "types": "./cabs-demo.d.ts", "default": "./cabs-demo.js" },
    "./pkg/cabs_bg.wasm": "./pkg/cabs_bg.wasm",
    "./data/mnist.bin": "./data/mnist.bin",
    "./*": "./*"
  },
  "sideEffects": ["./cabs-demo.js"],
  "keywords": ["webgpu", "wasm", "sgd", "batch-size", "machine-learning", "teaching"]
}
JSON
echo "[package] $out: cabs-webgpu $version ($(du -sh "$out" | cut -f1)); now: (cd $out && npm pack)" >&2
