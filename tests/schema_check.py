#!/usr/bin/env python3
"""Validates every shipped scenario and sweep file (scenarios/*.json, scenarios/regression/*.json;
utilization specs are left out) and the documented tolerance file against the JSON Schema `geotrain schema KIND` prints, with Python's jsonschema
(Debian python3-jsonschema), and checks that the schema refuses what the loader refuses (an
unknown top-level key, an unknown strategy knob, a knob out of its range).
Exit 0: all valid; 1: a file fails; 77: python3-jsonschema is missing (CTest reports a skip).

  tests/schema_check.py GEOTRAIN SOURCE_DIR
"""
import glob
import json
import os
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("schema_check: SKIPPED: Python's jsonschema module is missing (apt-get install python3-jsonschema)")
    sys.exit(77)


def schema(geotrain, kind):
    out = subprocess.run([geotrain, "schema", kind], check=True, capture_output=True, text=True).stdout
    s = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(s)
    return jsonschema.Draft202012Validator(s)


def main():
    geotrain, root = sys.argv[1], sys.argv[2]
    scenario = schema(geotrain, "scenario")
    sweep = schema(geotrain, "sweep")
    tolerances = schema(geotrain, "tolerances")
    failures = 0
    files = sorted(glob.glob(os.path.join(root, "scenarios", "*.json")) +
                   glob.glob(os.path.join(root, "scenarios", "regression", "*.json")))
    checked = {"scenario": 0, "sweep": 0}
    for path in files:
        doc = json.load(open(path))
        if "base" in doc and "grid" not in doc and "list" not in doc:
            continue  # a utilization spec (geotrain utilization): no schema of its own yet
        kind = "sweep" if "base" in doc else "scenario"
        validator = sweep if kind == "sweep" else scenario
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        checked[kind] += 1
        for e in errors[:3]:
            print(f"schema_check: {os.path.relpath(path, root)}: /{'/'.join(map(str, e.path))}: {e.message[:300]}")
        failures += bool(errors)
    if checked["scenario"] < 10 or checked["sweep"] < 1:
        print(f"schema_check: found too few files ({checked}) under {root}")
        failures += 1
    # Documented tolerance example (docs/SWEEPS.md) and what the schema must refuse.
    good_tolerances = {"default": {"rel": 1e-6, "abs": 1e-9}, "/simulated_s": {"rel": 0.01},
                       "/collectives": {"ignore": True}}
    if not tolerances.is_valid(good_tolerances):
        print("schema_check: the documented tolerance file is refused"); failures += 1
    base = json.load(open(os.path.join(root, "scenarios", "quickstart.json")))
    refused = {
        "an unknown top-level key": dict(base, seeed=1),
        "an unknown strategy knob": dict(base, strategy={"name": "ddp", "allreduce": "ring", "H": 5}),
        "a knob out of its range": dict(base, strategy={"name": "dgc", "ratio": 0}),
        "an unknown strategy": dict(base, strategy={"name": "dgc2"}),
        "a bad choice": dict(base, strategy={"name": "ddp", "allreduce": "butterfly2"}),
        "a bad tolerance": None,
    }
    for what, doc in refused.items():
        ok = tolerances.is_valid({"/x": {"rel": -1}}) if doc is None else scenario.is_valid(doc)
        if ok:
            print(f"schema_check: the schema accepts {what}"); failures += 1
    print(f"schema_check: {checked['scenario']} scenarios and {checked['sweep']} sweeps checked, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
