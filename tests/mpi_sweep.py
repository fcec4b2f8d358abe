#!/usr/bin/env python3
"""A sweep over MPI ranks (`mpirun -n 2 geotrain sweep`) writes the same sweep.csv, pareto.csv and
points' results (minus perf) as the same sweep run locally, and a rerun reuses every point.

Usage: mpi_sweep.py GEOTRAIN MPIEXEC SOURCE_DIR   (MPIEXEC "": built without MPI, skipped)
"""
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if r.returncode != 0:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout + r.stderr


def deterministic(path):
    with open(path) as f:
        results = json.load(f)
    results.pop("perf", None)
    return results


def main():
    geotrain, mpiexec, source = sys.argv[1:4]
    if not mpiexec:
        print("SKIP: this geotrain was built without MPI (libopenmpi-dev not found); install it with scripts/setup.sh")
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        sweep = os.path.join(tmp, "sweep.json")
        with open(sweep, "w") as f:  # 6 points over 2 ranks: 3 each
            json.dump({"name": "mpi-check", "base": os.path.join(source, "scenarios", "quickstart.json"),
                       "grid": {"/workload/steps": [2, 3], "/strategy/allreduce": ["ring", "tree", "hierarchical"]}}, f)
        local, ranked = os.path.join(tmp, "local"), os.path.join(tmp, "mpi")
        run([geotrain, "sweep", sweep, "--out", local])
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   OMPI_MCA_btl_vader_single_copy_mechanism="none")
        mpirun = [mpiexec, "-n", "2", "--oversubscribe", geotrain, "sweep", sweep, "--out", ranked]
        said = run(mpirun, env)
        if "6 run, 0 reused, 0 failed (2 ranks" not in said:
            sys.exit(f"FAILED: the MPI sweep did not run 6 points on 2 ranks:\n{said}")
        shares = [line for line in said.splitlines() if line.startswith("sweep: [")]
        if len(shares) != 6 or any("/3] " not in line for line in shares):  # each rank ran its 3
            sys.exit(f"FAILED: the ranks did not split the points 3 and 3:\n{said}")
        for table in ("sweep.csv", "pareto.csv"):
            with open(os.path.join(local, table), "rb") as a, open(os.path.join(ranked, table), "rb") as b:
                if a.read() != b.read():
                    sys.exit(f"FAILED: {table} differs between the local and the MPI sweep")
        points = sorted(os.listdir(os.path.join(local, "points")))
        if len(points) != 6 or points != sorted(os.listdir(os.path.join(ranked, "points"))):
            sys.exit(f"FAILED: point folders differ: {points}")
        for p in points:
            if deterministic(os.path.join(local, "points", p, "results.json")) != \
               deterministic(os.path.join(ranked, "points", p, "results.json")):
                sys.exit(f"FAILED: point {p}: results.json differs")
        said = run(mpirun, env)
        if "0 run, 6 reused, 0 failed" not in said:
            sys.exit(f"FAILED: the rerun did not reuse every point:\n{said}")
    print("mpi sweep: 6 points on 2 ranks, tables and results identical to the local sweep; the rerun reused all 6")
    return 0


if __name__ == "__main__":
    sys.exit(main())
