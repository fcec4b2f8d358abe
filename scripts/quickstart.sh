#!/usr/bin/env bash
# The main job: install what is missing, build, and run the quickstart scenario
# (8 T4 workers, 4 in the US and 4 in the EU, size-only model, no GPU needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/geotrain run scenarios/quickstart.json --out out/quickstart
