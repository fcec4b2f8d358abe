#!/usr/bin/env bash
# The regression suite: runs every scenarios/regression/*.json into a temporary folder and
# compares the results with the stored baseline (scenarios/regression/baseline/<name>/results.json)
# through `geotrain check`. Exit codes are check's: 0 nothing moved, 1 a regression, 2 bad input.
#
#   scripts/regression.sh [--update] [--junit FILE] [--tolerances FILE] [GEOTRAIN]
#
# GEOTRAIN is the geotrain binary (default build/geotrain). --update rewrites the baseline from
# this build instead of checking (review the diff before committing it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
geotrain="$root/build/geotrain"
update=0
check_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --update) update=1 ;;
    --junit | --tolerances) check_args+=("$1" "$2"); shift ;;
    -*) echo "regression.sh: unknown option $1" >&2; exit 2 ;;
    *) geotrain="$1" ;;
  esac
  shift
done
suite="$root/scenarios/regression"
baseline="$suite/baseline"
out="$(mktemp -d "${TMPDIR:-/tmp}/geotrain-regression.XXXXXX")"
trap 'rm -rf "$out"' EXIT

for scenario in "$suite"/*.json; do
  name="$(basename "$scenario" .json)"
  "$geotrain" run "$scenario" --out "$out/$name" --quiet >/dev/null
done

if [ "$update" = 1 ]; then
  for dir in "$out"/*/; do
    name="$(basename "$dir")"
    mkdir -p "$baseline/$name"
    cp "$dir/results.json" "$baseline/$name/results.json"  # the trace and timeline stay out
  done
  echo "regression.sh: rewrote $(ls -d "$out"/*/ | wc -l) baselines under $baseline"
  exit 0
fi

status=0
"$geotrain" check "$out" "$baseline" ${check_args[@]+"${check_args[@]}"} || status=$?
exit "$status"
