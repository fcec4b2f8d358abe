#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for SECONDS each (default 60), from its seed corpus
# tests/fuzz/corpus/TARGET/, in the checking build (scripts/check_build.sh: clang, ASan + UBSan).
# Skips (exit 0, saying so) when clang is not installed.  A crash, a sanitizer report, a timeout,
# running out of memory, or an exception from a reader that is not bad input is a finding: the
# script says which input (saved under BUILD/fuzz/findings/TARGET/) and exits 1 after all targets.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: skipped: clang++ is not installed (libFuzzer is clang's; scripts/setup.sh installs clang)"
  exit 0
fi
source scripts/check_build.sh
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(scenario sweep tolerances trace measurements report)
cmake --build "$check_build" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")

# Each input's files go to a fresh temporary folder, removed at the end.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
  work="$check_build/fuzz/corpus/$t" findings="$check_build/fuzz/findings/$t"
  mkdir -p "$work" "$findings"
  echo "fuzz: $t for ${seconds} s"
  # Inputs up to 64 KiB; 10 s per input; 2 GB of memory.  New inputs go to the build's corpus,
  # never into the source tree.
  if ! TMPDIR="$scratch" "$check_build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/" \
       "$work" "tests/fuzz/corpus/$t" > "$check_build/fuzz/$t.log" 2>&1; then
    tail -n 40 "$check_build/fuzz/$t.log"
    echo "fuzz: FINDING in $t: $(ls "$findings" | head -n 3 | sed "s|^|$findings/|" | tr '\n' ' ')"
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_runs|^Done' "$check_build/fuzz/$t.log" | tr '\n' ' '; echo
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}"
  exit 1
fi
echo "fuzz: no findings in ${targets[*]}"
