#!/usr/bin/env bash
# Build the engine for the browser into www/pkg (release, ES module for `--target web`), then
# shrink it with wasm-opt -Oz from the npm package binaryen (installed by scripts/setup.sh;
# Debian's older binaryen breaks wasm-bindgen output, so it is never used). No TypeScript output:
# wasm-bindgen would type every object as `any`; the npm package ships hand-written declarations
# (npm/index.d.ts, checked by tests/page/package.test.mjs). Budget: 300 KB of wasm gzipped, checked there;
# the wasm-release profile (Cargo.toml) keeps it there.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile wasm-release --lib --target wasm32-unknown-unknown
wasm-bindgen --target web --no-typescript --out-dir www/pkg target/wasm32-unknown-unknown/wasm-release/cabs.wasm
if [ -x node_modules/.bin/wasm-opt ]; then
  node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-simd www/pkg/cabs_bg.wasm -o www/pkg/cabs_bg.opt.wasm
  mv www/pkg/cabs_bg.opt.wasm www/pkg/cabs_bg.wasm
fi
# The generated JavaScript without its comments (scripts/strip-comments.mjs; 5.7 KB gzipped).
if [ -d node_modules/typescript ]; then
  node scripts/strip-comments.mjs www/pkg/cabs.js www/pkg/snippets/*/src/*.js
fi
echo "[build] www/pkg: $(du -h www/pkg/cabs_bg.wasm | cut -f1) of wasm ($(gzip -9c www/pkg/cabs_bg.wasm | wc -c) bytes gzipped)" >&2
