#!/usr/bin/env python3
"""Validates every shipped scenario and sweep file (scenarios/*.json, scenarios/regression/*.json;
utilization specs are left out), every point of every sweep (the base scenario with the point's
axes applied), every topology file (topologies/*.json; instance catalogs are left out) and the
documented tolerance file against the JSON Schema `geotrain schema KIND` prints, with Python's
jsonschema (Debian python3-jsonschema). Then checks that schema and loader agree on bad input:
each document of a list of bad ones (an unknown key or a value out of range in every section:
top level, strategy, workload and its model, dataset, optimizer, precision and target, network,
output, faults, checkpoint, a fleet entry's preemption, an inline topology) is refused by the
schema and by `geotrain run` (exit 2, at the JSON pointer where the schema finds an error or
below it), and a few good variants are accepted by both.
Exit 0: all agree; 1: a file or case fails; 77: python3-jsonschema is missing (CTest reports a skip).

  tests/schema_check.py GEOTRAIN SOURCE_DIR
"""
import copy
import glob
import itertools
import json
import os
import subprocess
import sys
import tempfile

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


def set_pointer(doc, pointer, value):
    """Sets `pointer` (RFC 6901) in `doc` as a sweep point does: objects on the way are made,
    an array index replaces an entry, its length or "-" appends one."""
    keys = [k.replace("~1", "/").replace("~0", "~") for k in pointer.split("/")[1:]]
    if not keys:
        return value
    node = doc
    for k in keys[:-1]:
        if isinstance(node, list):
            node = node[int(k)]
        else:
            node = node.setdefault(k, {})
    last = keys[-1]
    if isinstance(node, list):
        if last == "-" or int(last) == len(node):
            node.append(value)
        else:
            node[int(last)] = value
    else:
        node[last] = value
    return doc


def unlabelled(v):
    return v["value"] if isinstance(v, dict) and set(v) == {"label", "value"} else v


def sweep_points(sweep_doc, sweep_path):
    """The scenarios of a sweep's points: its base with each point's axes applied."""
    base = sweep_doc["base"]
    if isinstance(base, str):
        base = json.load(open(os.path.join(os.path.dirname(sweep_path), base)))
    if "grid" in sweep_doc:
        axes = list(sweep_doc["grid"].items())
        settings = [dict(zip([p for p, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])]
    else:
        settings = sweep_doc["list"]
    for axes in settings:
        doc = copy.deepcopy(base)
        for pointer, value in axes.items():
            doc = set_pointer(doc, pointer, copy.deepcopy(unlabelled(value)))
        yield doc


def report(errors, what):
    for e in errors[:3]:
        print(f"schema_check: {what}: /{'/'.join(map(str, e.path))}: {e.message[:300]}")
    return bool(errors)


def loader_exit(geotrain, doc, topology_path):
    """geotrain run's exit status on `doc` (a topology file given as an absolute path), and the
    JSON pointer and line of its message."""
    if isinstance(doc.get("topology"), str):
        doc = dict(doc, topology=topology_path)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.json")
        json.dump(doc, open(path, "w"))
        r = subprocess.run([geotrain, "run", path, "--out", os.path.join(tmp, "out"), "--quiet"],
                           capture_output=True, text=True)
        lines = [line for line in r.stderr.splitlines() if "case.json: " in line]
        # "FILE: POINTER: VALUE: ALLOWED": the pointer of the value the loader refused.
        pointer = lines[0].split("case.json: ", 1)[1].split(": ", 1)[0] if lines else ""
        return r.returncode, pointer, (lines or r.stderr.strip().splitlines()[-1:] or [""])[0]


def edited(base, pointer, value):
    doc = copy.deepcopy(base)
    return set_pointer(doc, pointer, value)


def bad_cases(base, mlp, inline):
    """Documents both the schema and the loader must refuse: (what, document)."""
    wl, lm_keys = "/workload", {"layers": 2, "d_model": 64, "heads": 4, "seq_len": 32, "vocab": 256}
    t = "/topology"
    return [
        ("an inline topology without egress prices", edited(inline, t, {k: v for k, v in inline["topology"].items() if k != "egress_usd_per_GB"})),
        ("a region with a misspelled key", edited(inline, t + "/regions/0/continnent", "America")),
        ("a region name with a colon", edited(inline, t + "/regions/0/name", "us:central")),
        ("a region with latitude only", edited(inline, t + "/regions/0", {k: v for k, v in inline["topology"]["regions"][0].items() if k != "longitude_deg"})),
        ("a link latency of 0 ms", edited(inline, t + "/links/0/latency_ms", 0)),
        ("a link with both window keys", edited(edited(inline, t + "/links/0/tcp_window_B", 65536), t + "/links/0/single_stream_Gbps", 1)),
        ("a link capacity_limit nic", edited(inline, t + "/links/0/capacity_limit", "nic")),
        ("an instance type with 0 GPUs", edited(inline, t + "/instance_types/n1-standard-8-t4/gpus", 0)),
        ("an instance type without utilization", edited(inline, t + "/instance_types/n1-standard-8-t4", {k: v for k, v in inline["topology"]["instance_types"]["n1-standard-8-t4"].items() if k != "utilization"})),
        ("a spot band of 50%", edited(inline, t + "/instance_types/n1-standard-8-t4/spot_interruption_band", "50%")),
        ("an egress price over 1000 $/GB", edited(inline, t + "/egress_usd_per_GB/gcp/internet", 1001)),
        ("an unknown top-level key", edited(base, "/seeed", 1)),
        ("an unknown strategy knob", edited(base, "/strategy", {"name": "ddp", "allreduce": "ring", "H": 5})),
        ("a knob out of its range", edited(base, "/strategy", {"name": "dgc", "ratio": 0})),
        ("an unknown strategy", edited(base, "/strategy", {"name": "dgc2"})),
        ("a bad choice", edited(base, "/strategy", {"name": "ddp", "allreduce": "butterfly2"})),
        ("an outer optimizer of an unknown name", edited(base, "/strategy", {"name": "diloco", "outer": {"name": "lion", "lr": 0.7}})),
        ("a server placement with pricing reserved", edited(base, "/strategy", {"name": "parameter_server", "server": {"region": "us-central1", "pricing": "reserved"}})),
        ("a server placement with a misspelled key", edited(base, "/strategy", {"name": "parameter_server", "server": {"regoin": "us-central1"}})),
        ("an unknown key in workload", edited(base, wl + "/stepz", 10)),
        ("workload.steps 0", edited(base, wl + "/steps", 0)),
        ("workload.steps 1.5", edited(base, wl + "/steps", 1.5)),
        ("workload.batch_per_worker over its maximum", edited(base, wl + "/batch_per_worker", 2 ** 24 + 1)),
        ("workload without steps", edited(base, wl, {k: v for k, v in base["workload"].items() if k != "steps"})),
        ("workload.backend gpu", edited(base, wl + "/backend", "gpu")),
        ("workload.eval_every -1", edited(base, wl + "/eval_every", -1)),
        ("workload.mfu 0", edited(base, wl + "/mfu", 0)),
        ("wire_bytes_per_param 16", edited(base, wl + "/wire_bytes_per_param", 16)),
        ("wire_bytes_per_param with precision.params", edited(base, wl + "/precision", {"params": "fp16"})),
        ("precision.params fp64", edited(mlp, wl + "/precision", {"params": "fp64"})),
        ("an unknown key in precision", edited(mlp, wl + "/precision", {"optimizer_states": "fp32"})),
        ("model type cnn", edited(base, wl + "/model", {"type": "cnn"})),
        ("a profile without flops_per_sample", edited(base, wl + "/model", {"type": "profile", "parameters": 1e6})),
        ("a profile with parameters over 1e15", edited(base, wl + "/model", {"type": "profile", "parameters": 2e15, "flops_per_sample": 1})),
        ("a profile with mlp's hidden", edited(base, wl + "/model/hidden", [100])),
        ("a transformer without vocab", edited(base, wl + "/model", dict({k: v for k, v in lm_keys.items() if k != "vocab"}, type="transformer"))),
        ("a transformer with a misspelled key", edited(base, wl + "/model", dict(lm_keys, type="transformer", d_modle=64))),
        ("a transformer with norm batchnorm", edited(base, wl + "/model", dict(lm_keys, type="transformer", norm="batchnorm"))),
        ("layers with an empty list", edited(base, wl + "/model", {"type": "layers", "layers": []})),
        ("a layer without forward_flops", edited(base, wl + "/model", {"type": "layers", "layers": [{"name": "a", "parameters": 10}]})),
        ("an mlp with a hidden width 0", edited(mlp, wl + "/model/hidden", [0])),
        ("an mlp with activation gelu", edited(mlp, wl + "/model/activation", "gelu")),
        ("an mlp without a dataset", edited(mlp, wl, {k: v for k, v in mlp["workload"].items() if k != "dataset"})),
        ("dataset imagenet", edited(mlp, wl + "/dataset/name", "imagenet")),
        ("an mlp on synthetic_linear", edited(mlp, wl + "/dataset", {"name": "synthetic_linear", "features": 4, "train_samples": 10})),
        ("fashion_mnist train_samples over 60000", edited(mlp, wl + "/dataset/train_samples", 60001)),
        ("fashion_mnist with features", edited(mlp, wl + "/dataset/features", 784)),
        ("dataset partition by_book on fashion_mnist", edited(mlp, wl + "/dataset/partition", "by_book")),
        ("synthetic_linear without train_samples", edited(edited(mlp, wl + "/model", {"type": "linear_regression"}), wl + "/dataset", {"name": "synthetic_linear", "features": 4})),
        ("optimizer schedule linear", edited(mlp, wl + "/optimizer", {"name": "sgd", "lr": 0.1, "schedule": "linear"})),
        ("optimizer without lr", edited(mlp, wl + "/optimizer", {"name": "adamw"})),
        ("optimizer lr 0", edited(mlp, wl + "/optimizer", {"name": "sgd", "lr": 0})),
        ("optimizer beta2 1.5", edited(mlp, wl + "/optimizer", {"name": "adamw", "lr": 0.001, "beta2": 1.5})),
        ("optimizer with a misspelled key", edited(mlp, wl + "/optimizer", {"name": "sgd", "lr": 0.1, "warmup": 10})),
        ("target with two keys", edited(mlp, wl + "/target", {"test_accuracy": 0.8, "test_loss": 0.5})),
        ("target test_accuracy 1.5", edited(mlp, wl + "/target", {"test_accuracy": 1.5})),
        ("target val_loss on an mlp", edited(mlp, wl + "/target", {"val_loss": 2.0})),
        ("target train_loss", edited(mlp, wl + "/target", {"train_loss": 2.0})),
        ("compute_time measured without backend cpu", edited(mlp, wl + "/compute_time", "measured")),
        ("backend cpu with a profile", edited(base, wl + "/backend", "cpu")),
        ("a network key misspelled", edited(base, "/network/tcp_window", 65536)),
        ("network.fidelity packet", edited(base, "/network/fidelity", "packet")),
        ("network.parallel_streams 0", edited(base, "/network/parallel_streams", 0)),
        ("network.streams_exponent 0", edited(base, "/network/streams_exponent", 0)),
        ("network.tcp_window_B 0.5", edited(base, "/network/tcp_window_B", 0.5)),
        ("network.window_cap \"yes\"", edited(base, "/network/window_cap", "yes")),
        ("output.trace all", edited(base, "/output", {"trace": "all"})),
        ("faults.time_limit_s -1", edited(base, "/faults", {"time_limit_s": -1})),
        ("faults.retry_after_s 0", edited(base, "/faults", {"retry_after_s": 0})),
        ("an unknown key in faults", edited(base, "/faults", {"zone_outage": []})),
        ("a zone outage with at_s and rate_per_hour", edited(base, "/faults", {"zone_outages": [{"region": "us-central1", "at_s": 5, "rate_per_hour": 1, "duration_s": 10}]})),
        ("a zone outage at a rate without duration_s", edited(base, "/faults", {"zone_outages": [{"region": "us-central1", "rate_per_hour": 1}]})),
        ("a link fault with one region", edited(base, "/faults", {"links": [{"between": ["us-central1"]}]})),
        ("a link bandwidth fraction over 1", edited(base, "/faults", {"links": [{"between": ["us-central1", "europe-west1"], "bandwidth": [[0, 2]]}]})),
        ("a link latency factor under 1", edited(base, "/faults", {"links": [{"between": ["us-central1", "europe-west1"], "latency": [[0, 0.5]]}]})),
        ("a server fault without for_s", edited(base, "/faults", {"servers": [{"down_at_s": 5}]})),
        ("checkpoint.every_steps 0", edited(base, "/checkpoint", {"every_steps": 0, "store_region": "us-central1", "write_Gbps": 1, "read_Gbps": 1})),
        ("checkpoint without read_Gbps", edited(base, "/checkpoint", {"every_steps": 5, "store_region": "us-central1", "write_Gbps": 1})),
        ("preemption model sometimes", edited(base, "/fleet/0/preemption", {"model": "sometimes"})),
        ("preemption with a misspelled key", edited(base, "/fleet/0/preemption", {"model": "hazard", "rate_per_hr": 1})),
        ("preemption policy retry", edited(base, "/fleet/0/preemption", {"model": "hazard", "rate_per_hour": 1, "policy": "retry"})),
        ("restart delay distribution normal", edited(base, "/fleet/0/preemption", {"model": "hazard", "rate_per_hour": 1, "restart_delay_s": {"distribution": "normal", "mean_s": 5}})),
        ("restart delay -5 s", edited(base, "/fleet/0/preemption", {"model": "hazard", "rate_per_hour": 1, "restart_delay_s": -5})),
        ("a trace preemption without its trace", edited(base, "/fleet/0/preemption", {"model": "trace"})),
        ("fleet count 0", edited(base, "/fleet/0/count", 0)),
    ]


def good_cases(base, mlp, inline):
    """Variants both must accept (the loader runs them: keep them quick)."""
    wl = "/workload"
    return [
        ("an mlp on fashion_mnist, size-only", mlp),
        ("the quickstart with its topology inline", inline),
        ("a profile with a dataset it ignores", edited(base, wl + "/dataset", {"name": "imagenet"})),
        ("a zone outage at a rate", edited(base, "/faults", {"zone_outages": [{"region": "us-central1", "rate_per_hour": 0.01, "duration_s": 60}]})),
        ("a spot preemption with a uniform restart delay", edited(base, "/fleet/0/preemption", {"model": "hazard", "rate_per_hour": 0.01, "restart_delay_s": {"distribution": "uniform", "min_s": 1, "max_s": 2}})),
        ("a server placement", edited(base, "/strategy", {"name": "parameter_server", "server": {"region": "europe-west1", "pricing": "spot"}})),
        ("an outer optimizer", edited(base, "/strategy", {"name": "diloco", "H": 5, "outer": {"name": "nesterov", "lr": 0.7, "momentum": 0.9}})),
    ]


def agreement(geotrain, root, scenario):
    """The schema and the loader refuse and accept the same documents; returns the failures."""
    base = json.load(open(os.path.join(root, "scenarios", "quickstart.json")))
    topology = os.path.abspath(os.path.join(root, "scenarios", base["topology"]))
    mlp = edited(base, "/workload", {"model": {"type": "mlp", "hidden": [32]},
                                     "dataset": {"name": "fashion_mnist", "train_samples": 1000},
                                     "optimizer": {"name": "sgd", "lr": 0.1},
                                     "batch_per_worker": 8, "steps": 2})
    inline = dict(base, topology=json.load(open(topology)))
    failures = 0
    for what, doc in bad_cases(base, mlp, inline):
        errors = list(scenario.iter_errors(doc))
        rc, pointer, message = loader_exit(geotrain, doc, topology)
        if not errors or rc != 2 or not pointer.startswith("/"):
            print(f"schema_check: {what}: schema {'refuses' if errors else 'accepts'}, loader exits {rc} "
                  f"(both must refuse; loader: {message[:200]})")
            failures += 1
            continue
        # Both refuse at the same place: an error of the schema at the loader's pointer or above it.
        paths = ["".join(f"/{k}" for k in e.absolute_path) for e in errors]
        # (or below it: the loader names an array entry [time_s, value], the schema its value).
        if not any(pointer == p or pointer.startswith(p + "/") or p.startswith(pointer + "/") or p == ""
                   for p in paths):
            print(f"schema_check: {what}: the loader refuses {pointer}, the schema {sorted(set(paths))}")
            failures += 1
    for what, doc in good_cases(base, mlp, inline):
        errors = sorted(scenario.iter_errors(doc), key=lambda e: list(e.path))
        rc, _, message = loader_exit(geotrain, doc, topology)
        failures += report(errors, what)
        if rc != 0:
            print(f"schema_check: {what}: loader exits {rc}, both must accept ({message[:200]})")
            failures += 1
    return failures, len(bad_cases(base, mlp, inline)), len(good_cases(base, mlp, inline))


def main():
    geotrain, root = sys.argv[1], sys.argv[2]
    scenario = schema(geotrain, "scenario")
    sweep = schema(geotrain, "sweep")
    tolerances = schema(geotrain, "tolerances")
    topology = schema(geotrain, "topology")
    failures = 0
    files = sorted(glob.glob(os.path.join(root, "scenarios", "*.json")) +
                   glob.glob(os.path.join(root, "scenarios", "regression", "*.json")))
    checked = {"scenario": 0, "sweep": 0, "point": 0, "topology": 0}
    for path in files:
        doc = json.load(open(path))
        if "base" in doc and "grid" not in doc and "list" not in doc:
            continue  # a utilization spec (geotrain utilization): no schema of its own yet
        kind = "sweep" if "base" in doc else "scenario"
        validator = sweep if kind == "sweep" else scenario
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        checked[kind] += 1
        failures += report(errors, os.path.relpath(path, root))
        if kind == "sweep":
            for i, point in enumerate(sweep_points(doc, path)):
                checked["point"] += 1
                errors = sorted(scenario.iter_errors(point), key=lambda e: list(e.path))
                failures += report(errors, f"{os.path.relpath(path, root)} point {i}")
    for path in sorted(glob.glob(os.path.join(root, "topologies", "*.json"))):
        doc = json.load(open(path))
        if "regions" not in doc:
            continue  # an instance catalog (topologies/instances.json): no schema of its own yet
        checked["topology"] += 1
        failures += report(sorted(topology.iter_errors(doc), key=lambda e: list(e.path)), os.path.relpath(path, root))
    if checked["scenario"] < 10 or checked["sweep"] < 1 or checked["point"] < checked["sweep"] or checked["topology"] < 2:
        print(f"schema_check: found too few files ({checked}) under {root}")
        failures += 1
    # Documented tolerance example (docs/SWEEPS.md) and what the schema must refuse.
    good_tolerances = {"default": {"rel": 1e-6, "abs": 1e-9}, "/simulated_s": {"rel": 0.01},
                       "/collectives": {"ignore": True}}
    if not tolerances.is_valid(good_tolerances):
        print("schema_check: the documented tolerance file is refused"); failures += 1
    if tolerances.is_valid({"/x": {"rel": -1}}):
        print("schema_check: the schema accepts a bad tolerance"); failures += 1
    agreement_failures, bad, good = agreement(geotrain, root, scenario)
    failures += agreement_failures
    print(f"schema_check: {checked['scenario']} scenarios, {checked['sweep']} sweeps with {checked['point']} points, "
          f"{checked['topology']} topologies checked; {bad} bad and {good} good documents judged alike by schema and loader; {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
