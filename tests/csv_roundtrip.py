#!/usr/bin/env python3
"""CTest csv_roundtrip: names with commas, double quotes and line breaks written by geotrain
(`summarize`, timeline.csv, sweep.csv, pareto.csv, utilization.csv, needed.csv) read back intact
through Python's csv module, with integer counts and empty cells for nulls.

Usage: csv_roundtrip.py GEOTRAIN   (exit 0: all checks passed; 1: a check failed, with why)
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

NASTY = 'a, "b"\nc'  # a comma, double quotes and a line break in one name

TINY = {
    "name": "tiny " + NASTY, "seed": 7,
    "topology": {
        "name": "tiny",
        "regions": [{"name": "r0", "cloud": "c", "continent": "k0", "lan_latency_ms": 0.05},
                    {"name": "r1", "cloud": "c", "continent": "k1", "lan_latency_ms": 0.05}],
        "links": [{"a": "r0", "b": "r1", "latency_ms": 40, "capacity_Gbps": 10}],
        "instance_types": {"gpu": {"gpus": 1, "gpu_peak_tflops": 100, "utilization": 0.5, "nic_Gbps": 100,
                                   "usd_per_hour": {"on_demand": 3.6, "spot": 1.8}}},
        "egress_usd_per_GB": {"c": {"cross_zone": 0.01, "same_continent": 0.02, "inter_continent": 0.05,
                                    "internet": 0.09}},
    },
    "fleet": [{"region": "r0", "instance": "gpu", "count": 2}, {"region": "r1", "instance": "gpu", "count": 2}],
    "workload": {"model": {"type": "profile", "parameters": 1e6, "flops_per_sample": 1e9},
                 "batch_per_worker": 8, "steps": 2},
    "strategy": {"name": "ddp", "allreduce": "ring"},
}

failures = []


def check(what, got, expected):
    if got != expected:
        failures.append(f"{what}: got {got!r}, expected {expected!r}")


def geotrain(*args):
    r = subprocess.run([GEOTRAIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"csv_roundtrip: geotrain {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def rows_of(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def read(path):
    with open(path, newline="") as f:
        return f.read()


def main(tmp):
    scenario = os.path.join(tmp, "tiny.json")
    with open(scenario, "w") as f:
        json.dump(TINY, f)

    # A run folder and a scenario name with all three: summarize and timeline.csv.
    run_dir = os.path.join(tmp, "run " + NASTY)
    geotrain("run", scenario, "--out", run_dir, "--quiet")
    rows = rows_of(geotrain("summarize", run_dir))
    check("summarize rows", len(rows), 2)
    s = dict(zip(rows[0], rows[1]))
    check("summarize column count", len(rows[1]), len(rows[0]))
    check("summarize run", s["run"], run_dir)
    check("summarize scenario", s["scenario"], "tiny " + NASTY)
    check("summarize strategy", s["strategy"], "ddp/ring")
    check("summarize workers", s["workers"], "4")
    check("summarize samples (a count: an integer)", s["samples"], "64")
    check("summarize final_test_accuracy (null)", s["final_test_accuracy"], "")
    check("summarize staleness_mean (absent)", s["staleness_mean"], "")
    check("summarize diverged", s["diverged"], "false")
    check("summarize work_samples (= samples without faults)", s["work_samples"], "64")
    check("summarize lost_samples (no faults)", s["lost_samples"], "0")
    check("summarize wasted_usd (no faults)", s["wasted_usd"], "0")
    timeline = list(csv.DictReader(io.StringIO(read(os.path.join(run_dir, "timeline.csv")), newline="")))
    check("timeline rows", len(timeline), 2)
    check("timeline samples", [r["samples"] for r in timeline], ["32", "64"])
    check("timeline train_loss of a size-only run (null)", [r["train_loss"] for r in timeline], ["", ""])
    check("timeline alive_workers", [r["alive_workers"] for r in timeline], ["4", "4"])
    check("timeline useful_samples (= samples without faults)", [r["useful_samples"] for r in timeline], ["32", "64"])

    # Sweep axis values with all three, in sweep.csv and pareto.csv.
    names = ["a,b", 'q"uote', "new\nline", NASTY]
    sweep = os.path.join(tmp, "sweep.json")
    with open(sweep, "w") as f:
        json.dump({"name": "nasty", "base": "tiny.json", "list": [{"/name": n} for n in names]}, f)
    sweep_dir = os.path.join(tmp, "sweep " + NASTY)
    geotrain("sweep", sweep, "--out", sweep_dir, "--jobs", "1")
    rows = rows_of(read(os.path.join(sweep_dir, "sweep.csv")))
    check("sweep.csv header", rows[0][:2], ["point", "/name"])
    check("sweep.csv names", [r[1] for r in rows[1:]], names)
    check("sweep.csv widths", {len(r) for r in rows}, {len(rows[0])})
    wan = rows[0].index("wan_bytes")
    check("sweep.csv wan_bytes (integers)", all(r[wan].isdigit() for r in rows[1:]), True)
    check("sweep.csv final_test_loss (null)", {r[rows[0].index("final_test_loss")] for r in rows[1:]}, {""})
    front = rows_of(read(os.path.join(sweep_dir, "pareto.csv")))
    check("pareto.csv names are sweep names", all(r[1] in names for r in front[1:]) and len(front) > 1, True)

    # A utilization strategy label with all three, in utilization.csv and needed.csv.
    spec = os.path.join(tmp, "util.json")
    with open(spec, "w") as f:
        json.dump({"base": "tiny.json", "parameters": [1e6], "step_compute_s": 1, "wan_Gbps": [1, 10],
                   "strategies": {NASTY: {"name": "ddp"}}}, f)
    util_dir = os.path.join(tmp, "util")
    geotrain("utilization", spec, "--out", util_dir)
    util = list(csv.DictReader(io.StringIO(read(os.path.join(util_dir, "utilization.csv")), newline="")))
    check("utilization rows", len(util), 2)
    check("utilization strategy", [r["strategy"] for r in util], [NASTY, NASTY])
    check("utilization model_parameters (a count)", [r["model_parameters"] for r in util], ["1000000", "1000000"])
    check("utilization wan_Gbps", [r["wan_Gbps"] for r in util], ["1", "10"])
    needed = list(csv.DictReader(io.StringIO(read(os.path.join(util_dir, "needed.csv")), newline="")))
    check("needed rows", len(needed), 5)
    check("needed strategy", {r["strategy"] for r in needed}, {NASTY})
    check("needed targets", [r["utilization_target"] for r in needed], ["0.5", "0.8", "0.9", "0.95", "0.99"])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    GEOTRAIN = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="geotrain-csv-")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for failure in failures:
        print("csv_roundtrip: FAIL " + failure, file=sys.stderr)
    print(f"csv_roundtrip: {'FAILED' if failures else 'ok'} ({len(failures)} failed checks)")
    sys.exit(1 if failures else 0)
