#!/usr/bin/env bash
# Carry the complete runs of a study (scripts/study.sh) from one folder to another, set by set, in
# the same layout: FROM/runs/… → TO/runs/…, FROM/<set>/runs/… → TO/<set>/runs/…. A run is carried
# when it is complete (its record LABEL.json and its CSV are there, and neither a checkpoint
# LABEL.ckpt nor a lock LABEL.lock: a run still training has one or the other) and TO lacks it.
# Its CSV arrives gzipped (LABEL.csv.gz, which `reproduce` reads as it reads LABEL.csv), with its
# record and its predictions (LABEL.pred). Nothing in TO is overwritten; safe to rerun.
#
#   bash scripts/study-carry.sh FROM TO
#
# A study takes days of two cores; a machine may be replaced before it ends, and a complete run
# never changes. So its complete runs can be kept somewhere lasting (a folder of the repository)
# and carried back into a new working folder, where `bash scripts/study.sh DIR` then trains only
# what is missing: the same files, the same tables, as if it had never stopped.
set -euo pipefail
FROM=${1:?usage: bash scripts/study-carry.sh FROM TO}
FROM=${FROM%/}
TO=${2:?usage: bash scripts/study-carry.sh FROM TO}
[ -d "$FROM" ] || { echo "study-carry: $FROM is not a folder" >&2; exit 1; }
carried=0 skipped=0
while IFS= read -r -d '' record; do
  runs=$(dirname "$record")
  label=$(basename "$record" .json)
  csv=$runs/$label.csv
  [ -f "$csv" ] || csv=$runs/$label.csv.gz
  if [ ! -f "$csv" ] || [ -e "$runs/$label.ckpt" ] || [ -e "$runs/$label.lock" ]; then
    skipped=$((skipped + 1)); continue # still training, or stopped mid-run
  fi
  dest=$TO/${runs#"$FROM"/}
  [ -e "$dest/$label.json" ] && continue
  mkdir -p "$dest"
  # The record last: a run is complete in TO only once its CSV and predictions are there.
  if [ "${csv%.gz}" = "$csv" ]; then gzip -9 -n -c "$csv" > "$dest/$label.csv.gz.part"; else cp "$csv" "$dest/$label.csv.gz.part"; fi
  mv "$dest/$label.csv.gz.part" "$dest/$label.csv.gz"
  [ ! -f "$runs/$label.pred" ] || cp "$runs/$label.pred" "$dest/"
  cp "$record" "$dest/$label.json"
  carried=$((carried + 1))
done < <(find "$FROM" -path '*/runs/*.json' -type f -print0 | sort -z)
echo "study-carry: $carried runs carried from $FROM to $TO ($skipped not complete, left behind)"
