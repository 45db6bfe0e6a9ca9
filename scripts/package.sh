#!/usr/bin/env bash
# Release files, all under dist/ (ignored), from the built page (www/, www/pkg by
# scripts/build-wasm.sh; www/vendor and www/data/mnist.bin by scripts/setup.sh):
#   dist/site/                         the static site anyone can host: the demo page, the
#                                      <cabs-demo> element, the examples, the pre-flight check page
#                                      (check.html), the engine (pkg/, snippets included), the MNIST
#                                      bundle, the vendored libraries and the licences. Every URL
#                                      inside is relative, so it works from a host's root or any
#                                      subfolder of it.
#   dist/cabs-webgpu-site-VERSION.tar.gz   that folder, as cabs-webgpu-site-VERSION/
#   dist/npm/                          the npm package: the site without the examples, plus the
#                                      hand-written TypeScript declarations and README (npm/)
#   dist/cabs-webgpu-VERSION.tgz       `npm pack` of dist/npm
# Rerunning it rebuilds everything from scratch and gives byte-identical archives (sorted names,
# fixed dates and owners, gzip without a time stamp) as long as the inputs are unchanged.
# CABS_DIST=FOLDER writes all of it there instead of dist/ (tests build their own copy).
# The npm package's `repository` comes from CABS_REPOSITORY_URL, else `git remote get-url origin`;
# with neither it is left out (with a warning), never guessed.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[package] $*" >&2; }
for f in www/pkg/cabs.js www/pkg/cabs_bg.wasm www/vendor/uPlot.esm.js www/vendor/uPlot.min.css www/vendor/reveal/reveal.mjs \
  www/data/mnist.bin www/data/mnist.bin.gz LICENSE-MIT LICENSE-APACHE; do
  [ -s "$f" ] || { say "$f is missing: run bash scripts/setup.sh and bash scripts/build-wasm.sh" >&2; exit 1; }
done
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
dist=${CABS_DIST:-dist}
mkdir -p "$dist"

# --- dist/site: everything the page needs, nothing of the build ---------------------------------
site=$dist/site
rm -rf "$site"
mkdir -p "$site/pkg" "$site/data"
# The page's own files: every file at the top of www/ but its README (a developer's notes), and its
# folders but the build outputs, which are copied one by one below.
find www -maxdepth 1 -type f ! -name README.md ! -name '.*' -exec cp {} "$site/" \;
for d in lib examples vendor; do cp -r "www/$d" "$site/$d"; done
cp www/pkg/cabs.js www/pkg/cabs_bg.wasm "$site/pkg/"
cp -r www/pkg/snippets "$site/pkg/" # the argument guards cabs.js imports (src/wasm_guard.js)
cp www/data/mnist.bin www/data/mnist.bin.gz "$site/data/" # the page fetches the .gz; mnist.bin for the API and older pages
cp LICENSE-MIT LICENSE-APACHE "$site/"
cat > "$site/README.txt" <<TXT
CABS demo, cabs-webgpu $version: a static site. Upload this folder as it is to any static web host
(GitHub Pages, Netlify, an Apache or nginx folder, a university web space), at its root or in any
subfolder; every URL inside is relative. Then open index.html (the demo), check.html (a 10-second
pre-flight check of the device, e.g. the projector laptop), examples/slides.html (a reveal.js deck)
or examples/post.html (a blog post).

The host must send these types (most do by default):
  .wasm        application/wasm   (otherwise the engine loads without streaming compilation: slower,
                                   with a console warning)
  .js .mjs     text/javascript    (otherwise browsers refuse the page's modules: nothing runs)
  .html        text/html, .css text/css, .bin application/octet-stream
  .gz          any type (the page inflates data/mnist.bin.gz itself; a host that adds
               Content-Encoding: gzip works too)
Opening index.html from the disk (file://) does not work: browsers refuse module scripts there.
Try it locally with:  node scripts/serve.mjs dist/site   (from the source tree), or
                      python3 -m http.server -d .        (from this folder)

To embed the demo in a page of another site (a blog post), add to that page
  <script src="https://HOST/PATH/cabs-demo.js"></script>
  <cabs-demo data="moons" model="mlp:16,16:tanh" lr="2" play="1">The CABS demo loads here.</cabs-demo>
(examples/post.html shows more). That classic script needs no special header. Loaded as
<script type="module"> from another site instead, it needs this host to send
Access-Control-Allow-Origin: *  (browsers fetch cross-origin modules with CORS and refuse them
otherwise). Iframes of index.html need no header either.

Licence: MIT OR Apache-2.0 (LICENSE-MIT, LICENSE-APACHE).
TXT

# --- dist/npm: the site without the examples (reveal.js decks are not a library's business) -----
out=$dist/npm
rm -rf "$out"
mkdir -p "$out"
(cd "$site" && find . -type f ! -path './examples/*' ! -path './vendor/reveal/*' ! -name README.txt) | sed 's|^\./||' | sort |
  while read -r f; do mkdir -p "$out/$(dirname "$f")"; cp "$site/$f" "$out/$f"; done
cp npm/index.d.ts npm/cabs-demo.d.ts npm/README.md "$out/"
repo=${CABS_REPOSITORY_URL:-$(git remote get-url origin 2>/dev/null || true)}
repository=""
if [ -n "$repo" ]; then
  # a JSON string: the URL as it is, with \ and " escaped
  esc=$(printf '%s' "$repo" | sed 's/\\/\\\\/g; s/"/\\"/g')
  repository=$'\n'"  \"repository\": { \"type\": \"git\", \"url\": \"$esc\" },"
else
  say "warning: no repository URL (set CABS_REPOSITORY_URL or add a git remote 'origin'); package.json has no \"repository\""
fi
# `files` lists what `npm pack` takes (package.json, README and LICENSE-* are always taken).
files=$(cd "$out" && ls -1 | grep -v '^package.json$' | sed 's/.*/"&"/' | paste -sd, -)
cat > "$out/package.json" <<JSON
{
  "name": "cabs-webgpu",
  "version": "$version",
  "description": "CABS (adaptive batch sizes coupled with the learning rate) trained in the browser on WebGPU or a CPU twin: engine, TypeScript types, <cabs-demo> element",
  "license": "MIT OR Apache-2.0",$repository
  "type": "module",
  "main": "./pkg/cabs.js",
  "types": "./index.d.ts",
  "files": [$files],
  "exports": {
    ".": { "types": "./index.d.ts", "default": "./pkg/cabs.js" },
    "./cabs-demo.js": { "types": "./cabs-demo.d.ts", "default": "./cabs-demo.js" },
    "./pkg/cabs_bg.wasm": "./pkg/cabs_bg.wasm",
    "./data/mnist.bin": "./data/mnist.bin",
    "./data/mnist.bin.gz": "./data/mnist.bin.gz",
    "./*": "./*"
  },
  "sideEffects": ["./cabs-demo.js"],
  "keywords": ["webgpu", "wasm", "sgd", "batch-size", "machine-learning", "teaching"]
}
JSON
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$out/package.json" ||
  { say "$out/package.json is not valid JSON" >&2; exit 1; }

# --- the archives, reproducible ------------------------------------------------------------------
# tar gets fixed dates, owners and order, gzip no time stamp; npm pack fixes its own dates.
tarball=$dist/cabs-webgpu-site-$version.tar.gz
tar --sort=name --mtime='2000-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' \
  --transform "s|^site|cabs-webgpu-site-$version|" -C "$dist" -cf - site | gzip -9n > "$tarball"
rm -f "$dist/cabs-webgpu-$version.tgz"
(cd "$out" && npm pack --silent --pack-destination "$(cd .. && pwd)" >/dev/null)
[ -s "$dist/cabs-webgpu-$version.tgz" ] || { say "npm pack made no $dist/cabs-webgpu-$version.tgz" >&2; exit 1; }
say "$site ($(du -sh "$site" | cut -f1)) and $tarball ($(du -h "$tarball" | cut -f1)): upload the folder as it is to any static host"
say "$out and $dist/cabs-webgpu-$version.tgz ($(du -h "$dist/cabs-webgpu-$version.tgz" | cut -f1)): npm install $(case $dist in /*) ;; *) printf ./ ;; esac)$dist/cabs-webgpu-$version.tgz"
