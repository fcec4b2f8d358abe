#!/usr/bin/env bash
# Jin et al. 2016 on a WAN: runs scenarios/jin2016-sync-vs-async.json for 4, 8, 16, 32 and 64
# workers (spread evenly over its four regions) with ddp, the asynchronous parameter server,
# EASGD and gossip, then prints one CSV row per run (geotrain summarize).  Each run's
# timeline.csv has loss and accuracy against simulated time and dollars.
# Usage: scripts/jin2016.sh [OUT_DIR] [WORKER_COUNTS...]   (run scripts/setup.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/jin2016}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(4 8 16 32 64)
strategies=('{"name":"ddp","allreduce":"hierarchical"}'
            '{"name":"parameter_server","mode":"async"}'
            '{"name":"easgd","tau":4}'
            '{"name":"gossip","form":"pull"}')
labels=(ddp ps-async easgd gossip)
dirs=()
for m in "${counts[@]}"; do
  per_region=$((m / 4))
  for i in "${!strategies[@]}"; do
    dir="$out/m${m}-${labels[$i]}"
    build/geotrain run scenarios/jin2016-sync-vs-async.json --quiet --out "$dir" \
      --set "/strategy=${strategies[$i]}" \
      --set /fleet/0/count=$per_region --set /fleet/1/count=$per_region \
      --set /fleet/2/count=$per_region --set /fleet/3/count=$per_region > /dev/null
    dirs+=("$dir")
  done
done
build/geotrain summarize "${dirs[@]}" | tee "$out/summary.csv"
