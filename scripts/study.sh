#!/usr/bin/env bash
# The paper-scale study of docs/STUDY.md, every phase in its order, and resumable: run it again
# after any stop and it goes on where it stopped (a finished run returns at once, a stopped one
# continues from its checkpoint). Each phase's choices are read from the files of the phase before
# it, never typed in: the budget B from the phase-1 set's results.md ("Phase-2 budget"), each fixed
# batch's tuned α from best_alpha.csv, the decay's K as the rule of lowest training-subset loss.
# After each compared set, `cabs study --out DIR` writes DIR/study.md and DIR/study.csv from every
# set complete so far (the comparisons paired by seed; those still waiting say so).
#
#   bash scripts/study.sh DIR        DIR: the phase-1 set; every phase-2 set is a folder inside it
#   env: CABS   the binary (default target/release/cabs). Each set remembers the binary that
#               started it (DIR/…/binary) and keeps using it: a checkpoint is continued only by
#               the build that made it, so copy the binary out of target/ before a long study.
#        DATA   mnist-full (default) or fashion-mnist     JOBS  runs at a time (default 2)
#        THREADS  threads per run (default 1). JOBS=1 THREADS=2 finishes each run sooner (so it
#               can be kept with scripts/study-carry.sh) at somewhat less throughput; results are
#               bit-identical for every thread count, and a run continues under another one
#        STOP_AFTER  a set's name: stop once it is assembled (e.g. tune-const)
#        MODEL, STEPS  cnn-mnist and 8000 as the design says; other values for a quick try-out
#               (tests/cli/study_script.rs runs the whole study on the 2-D blobs in seconds)
# Runs go through GNU parallel at nice 19, THREADS threads each. Pause them for a benchmark with
# `pkill -STOP -f "reproduce --data"` and resume with `pkill -CONT -f "reproduce --data"`.
set -euo pipefail
ROOT=${1:?usage: bash scripts/study.sh DIR (the phase-1 set; phase 2 goes into folders inside it)}
ROOT=$(realpath -m "$ROOT")
CABS=$(realpath -m "${CABS:-target/release/cabs}")
DATA=${DATA:-mnist-full}
JOBS=${JOBS:-2}
THREADS=${THREADS:-1}
MODEL=${MODEL:-cnn-mnist}
STEPS=${STEPS:-8000}
command -v parallel > /dev/null || { echo "study: GNU parallel is missing (apt-get install parallel)" >&2; exit 1; }

say() { echo "study $(date -u +%H:%M): $*"; }

# run_set NAME FLAGS…: emit the set's jobs, run what is missing, assemble; stop the study if a run
# is still missing (failed, or locked by another process).
run_set() {
  local name=$1; shift
  local dir=$ROOT
  [ "$name" = phase1 ] || dir=$ROOT/$name
  mkdir -p "$dir"
  [ -f "$dir/binary" ] || echo "$CABS" > "$dir/binary"
  local bin; bin=$(cat "$dir/binary")
  [ -x "$bin" ] || { echo "study: $name was started by $bin, which is gone: it alone can continue its checkpoints" >&2; exit 1; }
  local flags=(reproduce --data "$DATA" --model "$MODEL" --backend cpu --threads "$THREADS" "$@" --out "$dir")
  if ! "$bin" "${flags[@]}" --assemble-only > "$dir/assemble.txt" 2>&1; then
    say "$name: running its jobs ($dir/jobs.txt, log $dir/jobs.log)"
    "$bin" "${flags[@]}" --emit-jobs "$dir/jobs.txt" > /dev/null
    nice -n 19 parallel -j "$JOBS" --halt never :::: "$dir/jobs.txt" >> "$dir/jobs.log" 2>&1 || true
    if ! "$bin" "${flags[@]}" --assemble-only > "$dir/assemble.txt" 2>&1; then
      say "$name is not complete: $(grep -m1 -i 'missing\|error' "$dir/assemble.txt" || tail -1 "$dir/assemble.txt")"
      say "run this script again to continue (see $dir/jobs.log)"
      exit 1
    fi
  fi
  say "$name: assembled ($dir/results.md)"
  # The study's page, from every set complete so far (comparisons still waiting say so).
  if [ "$name" != phase1 ] && [ "${name#tune-}" = "$name" ]; then
    "$CABS" study --out "$ROOT" > /dev/null || { echo "study: cabs study failed (above)" >&2; exit 1; }
    say "$ROOT/study.md updated"
  fi
  if [ "${STOP_AFTER:-}" = "$name" ]; then exit 0; fi
}

# The α that best_alpha.csv of set $1 chose for grid row $2.
tuned_alpha() {
  local a; a=$(awk -F, -v row="$2" '$1 == "grid" && $2 == row { print $3 }' "$ROOT/$1/best_alpha.csv")
  [ -n "$a" ] || { echo "study: $1 chose no α for $2 (every α broke?): see $ROOT/$1/results.md" >&2; exit 1; }
  echo "$a"
}

# Phase 1: CABS α = 0.1 for 8,000 steps, seeds 1–5; its mean example count gives B.
run_set phase1 --only cabs --steps "$STEPS" --cabs-alpha 0.1 --seeds 5
# (No `head` in these pipes: under pipefail, the writer it leaves behind can die of SIGPIPE.)
B=$(grep -m1 -o 'B = [0-9]*' "$ROOT/results.md" | grep -o '[0-9]*$')
[ -n "$B" ] || { echo "study: no 'B = …' line in $ROOT/results.md" >&2; exit 1; }
say "budget B = $B training examples"
TUNE=(--seed 101 --examples $((B / 4)) --eval-every-examples $((B / 400)) --select-by train-subset-loss)
MAIN=(--examples "$B" --eval-every-examples $((B / 100)) --target-accuracy 0.98)

# Tuning, constant α: each fixed batch over the α grid at B/4, seed 101.
run_set tune-const --only fixed --batches 64,256 --alphas 0.05,0.1,0.2,0.5 "${TUNE[@]}"
declare -A ALPHA DECAY
for M in 64 256; do ALPHA[$M]=$(tuned_alpha tune-const "const:$M"); done

# Tuning, decay: at each tuned α, α/(1 + K·t) for K = 4M/B, 16M/B, 64M/B; the K of lowest
# training-subset loss wins (ties: the smaller K, listed first).
for M in 64 256; do
  rules=$(for f in 4 16 64; do awk -v f=$f -v m=$M -v b="$B" 'BEGIN { printf "const:%d:invtime:%.6g\n", m, f * m / b }'; done | paste -sd,)
  run_set "tune-decay-m$M" --only rules --rules "$rules" --alphas "${ALPHA[$M]}" "${TUNE[@]}"
  DECAY[$M]=$(awk -F, '$1 == "rules" && $3 != "" { print $5 "," $2 }' "$ROOT/tune-decay-m$M/best_alpha.csv" | sort -s -t, -k1,1g | awk -F, 'NR == 1 { print $2 }')
  [ -n "${DECAY[$M]}" ] || { echo "study: no decay of m = $M learnt: see $ROOT/tune-decay-m$M/results.md" >&2; exit 1; }
  say "m = $M: α = ${ALPHA[$M]}, decay ${DECAY[$M]}"
done

# The compared runs at B, seeds 1–5: each fixed batch at its tuned α, then with its tuned decay.
for M in 64 256; do run_set "fixed-m$M" --only rules --rules "const:$M" --alphas "${ALPHA[$M]}" --seeds 5 "${MAIN[@]}"; done
for M in 64 256; do run_set "decay-m$M" --only rules --rules "${DECAY[$M]}" --alphas "${ALPHA[$M]}" --seeds 5 "${MAIN[@]}"; done

# Claim 3, seeds 1–3: CABS at the other α, and m = 256 at the α of {0.05, 0.1, 0.2} it was not
# tuned to (its tuned α's seeds 1–3 are fixed-m256's).
run_set cabs-alphas --only rules --rules cabs --alphas 0.05,0.2 --seeds 3 "${MAIN[@]}"
rest=$(for a in 0.05 0.1 0.2; do awk -v a=$a -v t="${ALPHA[256]}" 'BEGIN { if (a + 0 != t + 0) print a }'; done | paste -sd,)
run_set sensitivity-m256 --only rules --rules const:256 --alphas "$rest" --seeds 3 "${MAIN[@]}"
say "every set of the study is complete"
