#!/usr/bin/env bash
# Installs what geotrain needs from Debian packages (only what is missing), then configures
# and builds into build/. Safe to run again: it installs nothing twice and rebuilds incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake g++ make pkg-config
          libsimgrid-dev libboost-graph-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev
          libcli11-dev libfmt-dev libopenblas-dev zlib1g-dev dataset-fashion-mnist
          libnlopt-cxx-dev  # geotrain calibrate's least-squares fits
          libopenmpi-dev openmpi-bin  # sweeps over MPI ranks (optional in the build: mpirun -n K geotrain sweep)
          bible-kjv bible-kjv-text  # the language model's corpus (data/kjv.txt, written below)
          python3  # the regression suite (results.json without perf) and tests/csv_roundtrip.py (CSV read back)
          python3-jsonschema  # tests/schema_check.py: shipped scenarios against `geotrain schema`
          chromium fonts-dejavu-core  # only for the headless-browser test of `geotrain report` pages
          clang)  # only for scripts/fuzz.sh (libFuzzer) and scripts/sanitize.sh; the build itself uses g++
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The King James Bible as plain verses, written once: `bible` prints the same text every time.
if [ ! -s data/kjv.txt ]; then
  mkdir -p data
  bible -f gen1:1-rev22:21 > data/kjv.txt.partial && mv data/kjv.txt.partial data/kjv.txt
fi

build_type=${GEOTRAIN_BUILD_TYPE:-Release}
cmake -S . -B build -DCMAKE_BUILD_TYPE="$build_type" --log-level=NOTICE
cmake --build build -j"$(nproc)"
