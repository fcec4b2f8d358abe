#!/usr/bin/env python3
"""Writes the regression matrix into scenarios/regression/: every strategy (and variant) x
{size-only, real} x {message, collective fidelity} without faults, and x {size-only, real} with
faults (trace and hazard preemptions, zone outages, checkpoints, link-down windows where the
strategy allows them). Run it once when the matrix changes, then scripts/regression.sh --update
with the code whose results are the reference. Deterministic: the same files every time."""
import json
import os

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
suite = os.path.join(root, "scenarios", "regression")
inputs = os.path.join(suite, "inputs")

STRATEGIES = {
    "ddp-ring": {"name": "ddp", "allreduce": "ring"},
    "ddp-int8-hier": {"name": "ddp", "allreduce": "hierarchical", "wire_format": "int8"},
    "ps-sync": {"name": "parameter_server", "mode": "sync", "shards": 2},
    "ps-async": {"name": "parameter_server", "mode": "async"},
    "easgd": {"name": "easgd", "tau": 2},
    "gossip": {"name": "gossip", "form": "pull"},
    "gossip-push": {"name": "gossip", "form": "push", "wire_format": "fp16"},
    "diloco": {"name": "diloco", "H": 4, "outer": {"name": "nesterov", "lr": 0.7, "momentum": 0.9}},
    "local-sgd": {"name": "local_sgd", "H": 3, "allreduce": "tree"},
    "streaming-diloco": {"name": "streaming_diloco", "H": 4, "fragments": 2, "tau": 1, "alpha": 0.5,
                         "wire_format": "fp4"},
    "palsgd": {"name": "palsgd", "H": 4, "p": 0.3, "warmup_steps": 2},
    "pactrain": {"name": "pactrain", "sparsity": 0.5, "warmup_steps": 3, "quantize": "ternary"},
    "topk": {"name": "topk", "ratio": 0.1, "error_feedback": True},
    "dgc": {"name": "dgc", "ratio": 0.05},
    "hivemind": {"name": "hivemind", "target_batch": 64, "matchmaking_s": 0.5, "delay_grad_averaging": True},
    "hivemind-sync": {"name": "hivemind", "target_batch": 48, "matchmaking_s": 0.2, "delayed_update": False,
                      "compression": "fp32"},
}
# Strategies whose request/reply protocols refuse link-down windows (docs/SCENARIO_FORMAT.md).
NO_LINK_FAULTS = {"ps-sync", "ps-async", "easgd", "gossip", "gossip-push"}
# Gossip writes no checkpoints (a returning worker copies a live peer).
NO_CHECKPOINT = {"gossip", "gossip-push"}


def uniform_topology():
    regions = [{"name": f"r{i}", "cloud": "c", "continent": f"k{i}", "lan_latency_ms": 0.05} for i in range(2)]
    return {
        "name": "regression-uniform",
        "source": "made up for the regression suite",
        "regions": regions,
        "links": [{"a": "r0", "b": "r1", "latency_ms": 20, "capacity_Gbps": 1}],
        "instance_types": {"gpu": {"gpu_peak_tflops": 100.0, "utilization": 0.5, "nic_Gbps": 25,
                                   "usd_per_hour": {"on_demand": 3.6, "spot": 1.8}}},
        "egress_usd_per_GB": {"c": {"cross_zone": 0.01, "same_continent": 0.02, "inter_continent": 0.05,
                                    "internet": 0.09}},
    }


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def size_only(key, strategy, faults, fidelity):
    regions = ["us-central1", "europe-west1", "asia-east1"]
    fleet = [{"region": r, "instance": "n1-standard-8-t4", "count": 2, "pricing": "spot"} for r in regions]
    s = {
        "name": f"regression-{key}",
        "description": f"Regression suite (scripts/regression.sh, written by scripts/regression_matrix.py): "
                       f"{key}, size-only 20M-parameter model, 6 T4 workers in three GCP regions, "
                       f"{fidelity} fidelity, {'with' if faults else 'without'} faults.",
        "seed": 5,
        "topology": "../../topologies/gcp-4-continents.json",
        "fleet": fleet,
        "workload": {"model": {"type": "profile", "parameters": 20000000, "flops_per_sample": 6e10},
                     "wire_bytes_per_param": 2, "batch_per_worker": 16, "steps": 12},
        "strategy": strategy,
    }
    if fidelity != "message":
        s["network"] = {"fidelity": fidelity}
    if faults:
        fleet[0]["preemption"] = {"model": "hazard", "rate_per_hour": 120, "boot_s": 5,
                                  "restart_delay_s": {"distribution": "exponential", "mean_s": 20}}
        fleet[1]["preemption"] = {"model": "trace", "boot_s": 2, "trace": "inputs/one-down.csv"}
        s["faults"] = {"retry_after_s": 1, "time_limit_s": 100000,
                       "zone_outages": [{"region": "asia-east1", "at_s": 10, "duration_s": 12}]}
        if key not in NO_LINK_FAULTS:
            s["faults"]["links"] = [{"between": ["us-central1", "europe-west1"], "down": [[25, 32]]}]
        if key not in NO_CHECKPOINT:
            s["checkpoint"] = {"every_steps": 2, "store_region": "us-central1", "write_Gbps": 2, "read_Gbps": 2}
    return s


def real(key, strategy, faults, fidelity):
    s = {
        "name": f"regression-{key}",
        "description": f"Regression suite (scripts/regression.sh, written by scripts/regression_matrix.py): "
                       f"{key}, real linear regression on synthetic data, 4 workers in two regions, "
                       f"{fidelity} fidelity, {'with' if faults else 'without'} faults.",
        "seed": 9,
        "topology": "inputs/uniform.json",
        "fleet": [{"region": "r0", "instance": "gpu", "count": 2, "pricing": "spot"},
                  {"region": "r1", "instance": "gpu", "count": 2, "pricing": "spot"}],
        "workload": {"model": {"type": "linear_regression"},
                     "dataset": {"name": "synthetic_linear", "features": 32, "train_samples": 2048,
                                 "test_samples": 256, "noise": 0.1},
                     "backend": "cpu", "optimizer": {"name": "momentum", "lr": 0.02},
                     "batch_per_worker": 16, "steps": 24, "eval_every": 4,
                     "target": {"test_loss": 0.5}},
        "strategy": strategy,
    }
    if fidelity != "message":
        s["network"] = {"fidelity": fidelity}
    if faults:
        s["fleet"][0]["preemption"] = {"model": "trace", "boot_s": 0.1, "trace": "inputs/real-down.csv"}
        s["fleet"][1]["preemption"] = {"model": "hazard", "rate_per_hour": 900, "boot_s": 0.1,
                                       "restart_delay_s": {"distribution": "fixed", "value_s": 1.5}}
        s["faults"] = {"retry_after_s": 0.05, "time_limit_s": 100000}
        if key not in NO_LINK_FAULTS:
            s["faults"]["links"] = [{"between": ["r0", "r1"], "down": [[0.2, 0.3]]}]
        if key not in NO_CHECKPOINT:
            s["checkpoint"] = {"every_steps": 3, "store_region": "r0", "write_Gbps": 8, "read_Gbps": 8}
    return s


def spot_price(key, strategy, fidelity, bid):
    """Spot entries billed at a market price trace; with `bid`, one entry has a max_price the
    market crosses (a preemption of both its instances at once, and their return)."""
    s = size_only(key, strategy, False, fidelity)
    s["name"] = f"regression-{key}-spot-price"
    s["description"] = (f"Regression suite (scripts/regression.sh, written by scripts/regression_matrix.py): "
                        f"{key}, size-only, spot prices over time (inputs/price-steps.csv), {fidelity} fidelity, "
                        f"{'a max_price crossed by the market' if bid else 'no max_price'}.")
    for entry in s["fleet"][:2]:
        entry["spot_price"] = {"trace": "inputs/price-steps.csv"}
    s["fleet"][0]["spot_price"]["trace_start_s"] = 4
    if bid:
        s["fleet"][1]["spot_price"]["max_price"] = bid
        s["fleet"][1]["preemption"] = {"model": "none", "boot_s": 3}
        s["faults"] = {"retry_after_s": 1, "time_limit_s": 100000}
    return s


def main():
    os.makedirs(inputs, exist_ok=True)
    write(os.path.join(inputs, "uniform.json"), uniform_topology())
    with open(os.path.join(inputs, "one-down.csv"), "w") as f:
        f.write("time_ms,available_count\n0,2\n8000,1\n20000,2\n")
    with open(os.path.join(inputs, "real-down.csv"), "w") as f:
        f.write("time_ms,available_count\n0,2\n150,1\n600,2\n")
    with open(os.path.join(inputs, "price-steps.csv"), "w") as f:
        f.write("time_s,usd_per_hour\n0,0.18\n20,0.25\n35,0.45\n60,0.2\n")
    write(os.path.join(suite, "s-ddp-ring-spot-price-bid.json"),
          spot_price("ddp-ring", STRATEGIES["ddp-ring"], "message", 0.3))
    write(os.path.join(suite, "s-diloco-spot-price-collective.json"),
          spot_price("diloco", STRATEGIES["diloco"], "collective", None))
    for key, strategy in STRATEGIES.items():
        write(os.path.join(suite, f"m-{key}-size.json"), size_only(key, strategy, False, "message"))
        write(os.path.join(suite, f"m-{key}-size-collective.json"), size_only(key, strategy, False, "collective"))
        write(os.path.join(suite, f"m-{key}-real.json"), real(key, strategy, False, "message"))
        write(os.path.join(suite, f"m-{key}-real-collective.json"), real(key, strategy, False, "collective"))
        write(os.path.join(suite, f"m-{key}-size-faults.json"), size_only(key, strategy, True, "message"))
        write(os.path.join(suite, f"m-{key}-real-faults.json"), real(key, strategy, True, "message"))


if __name__ == "__main__":
    main()
