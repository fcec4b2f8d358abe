#!/usr/bin/env bash
# The regression suite: runs every scenarios/regression/*.json into a temporary folder and
# compares the results with the stored baseline (scenarios/regression/baseline/<name>/):
#  - results.json through `geotrain check` (its tolerances), and
#  - byte for byte (digests): results.json without its `perf` block, timeline.csv and trace.json
#    must hash to the SHA-256 digests stored in baseline/<name>/digests.txt. A refactor moves none.
# Exit codes: 0 nothing moved, 1 a regression (or a digest differs), 2 bad input.
#
#   scripts/regression.sh [--update] [--junit FILE] [--tolerances FILE] [GEOTRAIN]
#
# GEOTRAIN is the geotrain binary (default build/geotrain). --update rewrites the baseline from
# this build instead of checking (review the diff before committing it).
# The matrix of scenarios (every strategy x size-only/real x fidelity x faults) is written by
# scripts/regression_matrix.py.
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

# The digests of one run folder: results.json minus `perf` (re-serialized the same way on both
# sides), timeline.csv and trace.json.
digests() {
  local dir="$1"
  python3 -c '
import collections, json, sys
d = json.load(open(sys.argv[1]), object_pairs_hook=collections.OrderedDict)
d.pop("perf", None)
sys.stdout.write(json.dumps(d, indent=1))' "$dir/results.json" | sha256sum | sed 's/-$/results.json (no perf)/'
  (cd "$dir" && sha256sum timeline.csv trace.json)
}

# OpenBLAS picks its kernels by CPU, and another kernel sums a GEMM in another order: real runs
# would then differ in their last bits from machine to machine. The baselines were recorded with
# its SSE3 kernels (Prescott), which every x86-64 CPU runs, so every machine reproduces them.
export OPENBLAS_CORETYPE=Prescott

for scenario in "$suite"/*.json; do
  name="$(basename "$scenario" .json)"
  if ! "$geotrain" run "$scenario" --out "$out/$name" --quiet --threads 1 >/dev/null 2>"$out/$name.stderr"; then
    echo "regression.sh: $name failed to run:" >&2
    tail -n 5 "$out/$name.stderr" >&2
    exit 1
  fi
done

if [ "$update" = 1 ]; then
  for dir in "$out"/*/; do
    name="$(basename "$dir")"
    mkdir -p "$baseline/$name"
    cp "$dir/results.json" "$baseline/$name/results.json"
    digests "$dir" > "$baseline/$name/digests.txt"
  done
  echo "regression.sh: rewrote $(ls -d "$out"/*/ | wc -l) baselines under $baseline"
  exit 0
fi

status=0
"$geotrain" check "$out" "$baseline" ${check_args[@]+"${check_args[@]}"} || status=$?
moved=0
for dir in "$out"/*/; do
  name="$(basename "$dir")"
  [ -f "$baseline/$name/digests.txt" ] || continue
  if ! diff <(digests "$dir") "$baseline/$name/digests.txt" >"$out/$name.digests.diff"; then
    echo "regression.sh: $name is not byte-identical to its baseline:" >&2
    cat "$out/$name.digests.diff" >&2
    moved=$((moved + 1))
  fi
done
if [ "$moved" -gt 0 ]; then
  echo "regression.sh: $moved of $(ls -d "$out"/*/ | wc -l) runs moved" >&2
  [ "$status" = 0 ] && status=1
fi
exit "$status"
