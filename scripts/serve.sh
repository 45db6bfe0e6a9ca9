#!/usr/bin/env bash
# Serve the demo: install what is missing, build the engine for the browser, serve www/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh serve
bash scripts/build-wasm.sh
echo "[serve] examples: /examples/slides.html (reveal.js deck), /examples/post.html (blog post)" >&2
exec node scripts/serve.mjs www
