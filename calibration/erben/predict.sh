#!/usr/bin/env bash
# Rerunnable worked example: calibrates geotrain from measurements.json (the 1-GPU and 2-GPU runs
# and network tables of Erben et al. 2023, nothing else), then predicts the held-out settings with
# `geotrain run` on the erben-geo-* scenarios (which read calibration.json) and writes
# predictions.csv.  Deterministic: the same build writes the same files.
#
#   calibration/erben/predict.sh [GEOTRAIN]     (default: build/geotrain)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
geotrain="$(cd "$(dirname "${1:-$root/build/geotrain}")" && pwd)/$(basename "${1:-$root/build/geotrain}")"
out="$(mktemp -d "${TMPDIR:-/tmp}/geotrain-erben.XXXXXX")"
trap 'rm -rf "$out"' EXIT

(cd "$here" && "$geotrain" calibrate measurements.json --out . >/dev/null)

nlp=(--set /workload/model/parameters=560.1e6 --set /workload/model/flops_per_sample=5.38e10)
rounds=3  # workload.steps of the erben-geo-* scenarios: averaging rounds
csv="$here/predictions.csv"
echo "setting,model,fleet,predicted_samples_per_s,predicted_sync_s_per_round" > "$csv.tmp"
# predict SETTING MODEL FLEET SCENARIO [--set ...]
predict() {
  local setting="$1" model="$2" fleet="$3" scenario="$4"
  shift 4
  local args=("$@")
  if [ "$model" = nlp ]; then args+=("${nlp[@]}"); fi
  if ! "$geotrain" run "$root/scenarios/$scenario" --quiet --threads 1 --out "$out/run" "${args[@]}" >/dev/null 2>"$out/err"; then
    cat "$out/err" >&2
    exit 1
  fi
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
t = r["time_breakdown_s"]
sync = (t["communication_exposed"] + t["idle"]) / int(sys.argv[5])
print("%s,%s,%s,%.2f,%.2f" % (sys.argv[2], sys.argv[3], sys.argv[4], r["throughput_samples_per_s"], sync))
' "$out/run/results.json" "$setting" "$model" "$fleet" "$rounds" >> "$csv.tmp"
}

for model in cv nlp; do
  for n in 3 4 5 6 7 8; do
    predict "A-$n" "$model" "us-central1:$n" erben-geo-A.json --set /fleet/0/count=$n
  done
  for k in 1 2 3 4; do
    predict "B-$((2 * k))" "$model" "us-central1:$k;europe-west1:$k" erben-geo-B.json \
      --set /fleet/0/count=$k --set /fleet/1/count=$k
  done
  for k in 1 2; do
    predict "C-$((4 * k))" "$model" "us-central1:$k;europe-west1:$k;asia-east1:$k;australia-southeast1:$k" \
      erben-geo-C.json --set /fleet/0/count=$k --set /fleet/1/count=$k --set /fleet/2/count=$k --set /fleet/3/count=$k
  done
  # Setting D: GC with AWS, GC with Azure (k + k workers); the AWS / Azure T4 takes the GC T4's
  # calibrated mfu for this model (the same GPU; its rate was not measured).
  mfu=$(python3 -c '
import json, sys
cal = json.load(open(sys.argv[1]))
params = 560.1e6 if sys.argv[2] == "nlp" else 197.8e6
print(repr([c["mfu"] for c in cal["compute"] if c["model"]["parameters"] == params][0]))
' "$here/calibration.json" "$model")
  for other in aws azure; do
    for k in 1 2 3 4; do
      predict "D-$other-$((2 * k))" "$model" "us-central1:$k;$other-us-west:$k" erben-geo-D.json \
        --set /fleet/0/count=$k --set /fleet/1/count=$k --set "/fleet/1/region=$other-us-west" \
        --set "/fleet/1/instance=$other-t4" --set "/fleet/1/mfu=$mfu"
    done
  done
done
mv "$csv.tmp" "$csv"
echo "wrote $csv"
