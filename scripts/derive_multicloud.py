#!/usr/bin/env python3
"""Derives topologies/multicloud.json and topologies/instances.json from the public
measurements in ../shared/data (Skyplane latency/throughput/cost grids, the AWS Spot Instance
Advisor snapshot) plus the vendor figures tabulated below, each with its source.

A maintainer tool, not needed to build or run geotrain. Run from the repository root:
    python3 scripts/derive_multicloud.py [--data ../shared/data]
The method is documented in docs/TOPOLOGIES.md; the script stops with an error when a derived
price rule disagrees with a source row, so the files never drift silently from the data.
"""
import argparse
import csv
import json
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from derive_multicloud_tables import (AWS_ON_DEMAND, AWS_PRICE_SOURCE, EGRESS_RULES, EGRESS_SOURCES,  # noqa: E402
                                      ERBEN_LAN, ERBEN_SINGLE_STREAM, GCP_AZ_BAND_SOURCE, GPUS, INSTANCES,
                                      REGIONS, UTILIZATION_SOURCE, VM_CAPS_GBPS)

SKYPLANE = "Skyplane"
LATENCY_SOURCE = "Skyplane profiles/latency.csv (ping RTT avg, PREMIUM tier), 2022"
THROUGHPUT_SOURCE = "Skyplane throughput grid (iperf3, 64 TCP streams, 5 s, PREMIUM tier), 2022-01-29"
COST_SOURCE = "Skyplane profiles/cost.csv, 2022"
AWS_COST_SOURCE = "Skyplane aws_transfer_costs.csv, 2022"
SPOT_ADVISOR_SOURCE = "AWS Spot Instance Advisor snapshot (alexei-led/spotinfo), 2025-06"

FIBER_KM_PER_MS = 299792.458 / 1000 * 2 / 3   # light in fibre at 2/3 c, km per ms
EARTH_RADIUS_KM = 6371.0
DEFAULT_LAN_MS = 0.1                          # geotrain's default one-way lan_latency_ms
ASYMMETRY_NOTE_MS = 2.0
VM_LIMIT_FRACTION = 0.9                       # a rate >= 90% of the VM cap counts as VM-limited
HOLDOUT_EVERY = 5                             # every 5th measured pair (sorted) is held out
WINDOW_ROUND_B = 1000
FACTOR_MIN, FACTOR_STEP, FACTOR_STEPS = 1.0, 0.005, 400   # routing factor grid 1.0 .. 3.0
LIGHT_BOUND_SLACK_MS = 1.0                    # coordinates are +-50 km: allow 1 ms below 2/3 c
BANDS = ["<5%", "5-10%", "10-15%", "15-20%", ">20%"]   # Spot Advisor "r" index 0..4


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def premium(row):
    return row.get("src_tier", "PREMIUM") == "PREMIUM" and row.get("dst_tier", "PREMIUM") == "PREMIUM"


def great_circle_km(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def ideal_rtt_ms(a, b):
    return 2 * great_circle_km(a, b) / FIBER_KM_PER_MS


def lan_ms(region):
    return ERBEN_LAN.get(region["name"], (DEFAULT_LAN_MS, None))[0]


def load_measurements(data):
    rtt, thr = {}, {}
    for r in read_rows(os.path.join(data, "skyplane", "latency.csv")):
        if premium(r) and r["src_region"] != r["dst_region"]:
            rtt.setdefault((r["src_region"], r["dst_region"]), []).append(float(r["avg_rtt"]))
    for r in read_rows(os.path.join(data, "skyplane", "throughput.csv")):
        if premium(r) and r["success"] == "True":
            thr.setdefault((r["src_region"], r["dst_region"]), []).append(float(r["throughput_received"]) / 1e9)
    return rtt, thr


def fit_window(pairs):
    """Constant TCP window reproducing single-stream rates: rate = window / RTT (geometric mean)."""
    windows = [gbps * 1e9 / 8 * rtt_ms / 1e3 for gbps, rtt_ms in pairs]
    w = math.exp(sum(math.log(x) for x in windows) / len(windows))
    errors = [abs(w / (rtt_ms / 1e3) * 8 / 1e9 - gbps) / gbps for gbps, rtt_ms in pairs]
    return round(w / WINDOW_ROUND_B) * WINDOW_ROUND_B, max(errors), statistics.mean(errors)


def fit_rtt(samples):
    """Least absolute deviations fit RTT = fixed + factor * ideal_rtt over (ideal_ms, measured_ms)
    samples (robust to the detour routes that make some pairs 2-3x slower than the great circle).
    For each factor on a grid the best fixed term is the median residual, kept >= 0."""
    best = None
    for step in range(FACTOR_STEPS + 1):
        factor = FACTOR_MIN + step * FACTOR_STEP
        fixed = max(0.0, statistics.median(y - factor * x for x, y in samples))
        cost = sum(abs(y - fixed - factor * x) for x, y in samples)
        if best is None or cost < best[0] - 1e-9:
            best = (cost, factor, fixed)
    return best[1], best[2]


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def direction_caps(src, dst):
    return min(VM_CAPS_GBPS[src["cloud"]]["send"], VM_CAPS_GBPS[dst["cloud"]]["receive"])


def physical_rtt_ms(a, b, m):
    """The smaller direction's RTT, skipping a direction faster than light in fibre (an artifact)."""
    bound = ideal_rtt_ms(a, b) - LIGHT_BOUND_SLACK_MS
    possible = [v for v in m["rtt"].values() if v >= bound]
    return min(possible) if possible else None


def measured_link(a, b, rtt, thr):
    """Measured figures of the pair (a, b), or None for the parts with no data."""
    ab, ba = rtt.get((a["key"], b["key"])), rtt.get((b["key"], a["key"]))
    t_ab, t_ba = thr.get((a["key"], b["key"])), thr.get((b["key"], a["key"]))
    out = {"rtt": None, "cap": None}
    if ab or ba:
        d = {}
        if ab:
            d["a_to_b"] = round(statistics.median(ab), 3)
        if ba:
            d["b_to_a"] = round(statistics.median(ba), 3)
        out["rtt"] = d
    if t_ab or t_ba:
        dirs = []
        if t_ab:
            dirs.append((statistics.median(t_ab), direction_caps(a, b), f"{a['name']}->{b['name']}"))
        if t_ba:
            dirs.append((statistics.median(t_ba), direction_caps(b, a), f"{b['name']}->{a['name']}"))
        out["cap"] = min(dirs)
        out["cap_dirs"] = dirs
    return out


def capacity_source(m):
    rate, cap, _ = m["cap"]
    parts = ", ".join(f"{d} {r:.2f}" for r, _, d in m["cap_dirs"])
    limit = "vm" if rate >= VM_LIMIT_FRACTION * cap else "path"
    why = (f"at the VM limit (>= {VM_LIMIT_FRACTION:.0%} of {cap:g} Gbit/s: measuring VMs' egress/NIC cap, "
           "the path may carry more)" if limit == "vm" else "below the VM limits: the path's own rate")
    return limit, f"{THROUGHPUT_SOURCE}: min over directions ({parts} Gbit/s), {why}"


def continent_relation(a, b):
    return "intra" if a["continent"] == b["continent"] else "inter"


def estimate_capacity(a, b, measured):
    """Median measured capacity over links with the same cloud pair and continent relation."""
    key = (frozenset((a["cloud"], b["cloud"])), continent_relation(a, b))
    pool = [m["cap"][0] for x, y, m in measured if m["cap"] and
            (frozenset((x["cloud"], y["cloud"])), continent_relation(x, y)) == key]
    return statistics.median(pool), len(pool), key


def build_links(regions, rtt, thr, window_b):
    n = len(regions)
    measured = [(regions[i], regions[j], measured_link(regions[i], regions[j], rtt, thr))
                for i in range(n) for j in range(i + 1, n)]
    samples = sorted(((a["name"], b["name"]), ideal_rtt_ms(a, b), physical_rtt_ms(a, b, m))
                     for a, b, m in measured if m["rtt"] and physical_rtt_ms(a, b, m))
    holdout = [s for i, s in enumerate(samples) if i % HOLDOUT_EVERY == 0]
    training = [s for i, s in enumerate(samples) if i % HOLDOUT_EVERY != 0]
    factor, fixed = fit_rtt([(x, y) for _, x, y in training])
    errors = [abs(fixed + factor * x - y) for _, x, y in holdout]
    rel = [abs(fixed + factor * x - y) / y for _, x, y in holdout]
    fit = {"routing_factor": round(factor, 4), "fixed_ms": round(fixed, 3),
           "fiber_km_per_ms": round(FIBER_KM_PER_MS, 3),
           "training_pairs": len(training), "holdout_pairs": len(holdout),
           "holdout_median_abs_error_ms": round(statistics.median(errors), 2),
           "holdout_p90_abs_error_ms": round(percentile(errors, 0.9), 2),
           "holdout_median_rel_error": round(statistics.median(rel), 4),
           "holdout": [list(p) for p, _, _ in holdout]}
    links = [make_link(a, b, m, measured, fit, window_b) for a, b, m in measured]
    return links, fit


def make_link(a, b, m, measured, fit, window_b):
    link = {"a": a["name"], "b": b["name"]}
    sources = []
    if m["rtt"] and physical_rtt_ms(a, b, m):
        rtt_ms = physical_rtt_ms(a, b, m)
        link["measured_rtt_ms"] = m["rtt"]
        skipped = " (the other direction is below the 2/3 c bound: skipped)" if rtt_ms > min(m["rtt"].values()) else ""
        sources.append(f"RTT: {LATENCY_SOURCE}, min over directions{skipped}")
    else:
        ideal = ideal_rtt_ms(a, b)
        rtt_ms = fit["fixed_ms"] + fit["routing_factor"] * ideal
        link["rtt_estimated"] = True
        sources.append(f"RTT ESTIMATED (no latency rows): {fit['fixed_ms']} ms + {fit['routing_factor']} x "
                       f"great-circle RTT at 2/3 c ({ideal:.1f} ms); hold-out median error "
                       f"{fit['holdout_median_abs_error_ms']} ms")
    link["latency_ms"] = round((rtt_ms - lan_ms(a) - lan_ms(b)) / 2, 4)
    if m["cap"]:
        limit, src = capacity_source(m)
        link["capacity_Gbps"] = round(m["cap"][0], 3)
        link["capacity_limit"] = limit
        sources.append(f"capacity: {src}")
    else:
        est, n, key = estimate_capacity(a, b, measured)
        link["capacity_Gbps"] = round(est, 3)
        link["capacity_estimated"] = True
        sources.append(f"capacity ESTIMATED (no throughput rows): median of {n} measured "
                       f"{'-'.join(sorted(key[0]))} {key[1]}-continental links")
    link["tcp_window_B"] = window_b
    sources.append("window: fit on Erben et al. 2023 single-stream rates (docs/TOPOLOGIES.md)")
    link["source"] = "; ".join(sources)
    return link


def region_entry(r, offered):
    e = {"name": r["name"], "cloud": r["cloud"], "continent": r["continent"],
         "cloud_region": r["cloud_region"], "zone": r["zone"],
         "latitude_deg": r["lat"], "longitude_deg": r["lon"]}
    src = [f"location: {r['city']} (approximate metro coordinates)"]
    if r["name"] in ERBEN_LAN:
        e["lan_latency_ms"], e["lan_single_stream_Gbps"] = ERBEN_LAN[r["name"]]
        src.append("LAN: Erben et al. 2023 (arXiv 2306.03163) same-zone RTT/2 and single-stream iperf, 2023-04")
    elif r["cloud"] == "aws":
        e["lan_single_stream_Gbps"] = VM_CAPS_GBPS["aws"]["single_flow"]
        src.append("LAN: single flow capped at 5 Gbit/s outside a cluster placement group (AWS EC2 "
                   "instance network bandwidth docs); LAN latency not measured: geotrain default")
    else:
        src.append("LAN: not measured in the sources; geotrain defaults apply")
    if r["egress"]:
        e["egress_usd_per_GB"] = {k: v for k, v in r["egress"].items() if k != "source"}
        src.append(f"egress: {r['egress']['source']}")
    if offered is not None:
        e["offered_instance_types"] = offered
        src.append(f"offered types: those of instances.json the {SPOT_ADVISOR_SOURCE} lists here")
    e["source"] = "; ".join(src)
    return e


# ---- egress: per-region overrides from the cost rows, then a check of every rule -------------

def load_costs(data):
    cost = {}
    for r in read_rows(os.path.join(data, "skyplane", "cost.csv")):
        if premium({"src_tier": r["src_tier"], "dst_tier": r["dest_tier"]}):
            cost[(r["src"], r["dest"])] = float(r["cost"])
    aws = {}
    for r in read_rows(os.path.join(data, "skyplane", "aws_transfer_costs.csv")):
        aws[(f"aws:{r['src']}", r["dst"] if r["dst"] == "internet" else f"aws:{r['dst']}")] = float(r["cost"])
    return cost, aws


def single_value(values, what):
    values = set(values)
    if len(values) != 1:
        sys.exit(f"derive_multicloud: {what}: expected one price, found {sorted(values)}")
    return values.pop()


def derive_overrides(regions, cost, aws):
    """Per-region egress overrides: AWS prices by source region; internet price by source region."""
    by_cloud = {}
    for r in regions:
        by_cloud.setdefault(r["cloud"], []).append(r)
    for r in regions:
        others = [o for o in regions if o["cloud"] != r["cloud"]]
        if r["cloud"] == "aws":
            peers = [o for o in by_cloud["aws"] if o is not r]
            inter = single_value([aws[(r["key"], o["key"])] for o in peers], f"{r['name']} inter-region")
            internet = aws[(r["key"], "internet")]
            r["egress"] = {"inter_region": inter, "internet": internet,
                           "source": f"{AWS_COST_SOURCE} (src {r['cloud_region']})"}
            continue
        to_rules = EGRESS_RULES[r["cloud"]].get("internet_to", {})
        rows = [cost[(r["key"], o["key"])] for o in others
                if (r["key"], o["key"]) in cost and o["continent"] not in to_rules]
        if rows:
            r["egress"] = {"internet": single_value(rows, f"{r['name']} internet"),
                           "source": f"{COST_SOURCE}: rows to other clouds"}
    japan = next(r for r in regions if r["name"] == "azure-japaneast")
    for r in regions:
        if r["cloud"] == "azure" and r["egress"] is None:   # centralindia: no cost rows
            r["egress"] = {"internet": japan["egress"]["internet"],
                           "source": "no cost.csv rows for this region; Azure bills all Asia sources in one "
                                     "internet price zone: the azure-japaneast rate"}


def egress_price(src, dst):
    """Mirror of Topology::egress_usd_per_B (sim/topology.cc), in $/GB."""
    rules, over = EGRESS_RULES[src["cloud"]], src["egress"] or {}
    if src["cloud"] != dst["cloud"]:
        if dst["continent"] in rules.get("internet_to", {}):
            return rules["internet_to"][dst["continent"]]
        return over.get("internet", rules["internet"])
    if src["cloud_region"] == dst["cloud_region"]:
        return rules["same_zone"] if src["zone"] == dst["zone"] else rules["cross_zone"]
    if "inter_region" in over:
        return over["inter_region"]
    if src["continent"] == dst["continent"]:
        same = rules["same_continent"]
        return same.get(src["continent"], same.get("default"))
    for key, cont in (("inter_continent_to", dst["continent"]), ("inter_continent_from", src["continent"])):
        if cont in rules.get(key, {}):
            return rules[key][cont]
    return rules["inter_continent"]


def check_egress(regions, cost, aws):
    checked = 0
    for s in regions:
        for d in regions:
            if s is d:
                continue
            row = aws.get((s["key"], d["key"])) if (s["cloud"], d["cloud"]) == ("aws", "aws") else None
            row = row if row is not None else cost.get((s["key"], d["key"]))
            if row is None:
                continue
            got = egress_price(s, d)
            if abs(got - row) > 1e-9:
                sys.exit(f"derive_multicloud: egress {s['name']} -> {d['name']}: rules give {got}, source row {row}")
            checked += 1
    return checked


# ---- instance catalog --------------------------------------------------------------------------

def instance_entry(t, advisor):
    model, fp16, fp32, mem, gpu_src, hbm, hbm_src = GPUS[t["gpu"]]
    e = {"cloud": t["cloud"], "gpu_model": model, "gpus": t["gpus"], "gpu_memory_GB": mem, "hbm_GBps": hbm,
         "gpu_peak_tflops": fp16, "peak_fp32_tflops": fp32, "utilization": t["utilization"],
         "nic_Gbps": t["nic_Gbps"], "reference_region": t["reference_region"]}
    src = {"gpu": gpu_src, "hbm": hbm_src, "utilization": UTILIZATION_SOURCE, "nic": t["nic_source"]}
    if t["cloud"] == "aws":
        adv = advisor[t["reference_region"]]["Linux"][t["name"]]
        od = AWS_ON_DEMAND[t["name"]]
        e["usd_per_hour"] = {"on_demand": od, "spot": round(od * (1 - adv["s"] / 100), 4)}
        e["spot_interruption_band"] = BANDS[adv["r"]]
        src["price"] = f"{AWS_PRICE_SOURCE} (savings {adv['s']}%)"
        src["spot_interruption_band"] = f"{SPOT_ADVISOR_SOURCE}, {t['reference_region']} Linux, r={adv['r']}"
    else:
        e["usd_per_hour"] = {"on_demand": t["on_demand"], "spot": t["spot"]}
        e["spot_interruption_band"] = BANDS[-1]
        src["price"] = t["price_source"]
        src["spot_interruption_band"] = GCP_AZ_BAND_SOURCE
    e["source"] = src
    return e


def offered_types(region, advisor):
    if region["cloud"] != "aws" or region["cloud_region"] not in advisor:
        return None
    listed = advisor[region["cloud_region"]]["Linux"]
    return [t["name"] for t in INSTANCES if t["cloud"] == "aws" and t["name"] in listed]


# ---- output ------------------------------------------------------------------------------------

def dumps(value, indent=0):
    """JSON with one region/link/instance per line: diffable and readable."""
    pad = "  " * indent
    if isinstance(value, dict) and indent < 2 and any(isinstance(v, (dict, list)) for v in value.values()):
        items = [f'{pad}  {json.dumps(k)}: {dumps(v, indent + 1)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        items = [f"{pad}  {json.dumps(v)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value)


def write(path, obj):
    with open(path, "w") as f:
        f.write(dumps(obj) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(repo, "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(repo, "topologies"))
    args = ap.parse_args()

    rtt, thr = load_measurements(args.data)
    cost, aws = load_costs(args.data)
    with open(os.path.join(args.data, "aws-spot-advisor", "spot-advisor-data.json")) as f:
        advisor = json.load(f)["spot_advisor"]
    window_b, window_max_err, window_mean_err = fit_window(ERBEN_SINGLE_STREAM)
    derive_overrides(REGIONS, cost, aws)
    checked = check_egress(REGIONS, cost, aws)
    links, fit = build_links(REGIONS, rtt, thr, window_b)
    regions = [region_entry(r, offered_types(r, advisor)) for r in REGIONS]
    egress = {c: dict(rules, source=EGRESS_SOURCES[c]) for c, rules in EGRESS_RULES.items()}
    n_rtt_est = sum(1 for l in links if l.get("rtt_estimated"))
    n_cap_est = sum(1 for l in links if l.get("capacity_estimated"))
    n_vm = sum(1 for l in links if l.get("capacity_limit") == "vm")
    fit["source"] = (f"least absolute deviations fit of measured RTT on great-circle RTT at 2/3 c over {fit['training_pairs']} "
                     f"measured pairs; every {HOLDOUT_EVERY}th pair (sorted by name) held out")
    topo = {
        "name": "multicloud",
        "source": f"{LATENCY_SOURCE}; {THROUGHPUT_SOURCE}; {COST_SOURCE}; {AWS_COST_SOURCE}; Erben et al. 2023; "
                  "derived by scripts/derive_multicloud.py (method: docs/TOPOLOGIES.md)",
        "notes": [
            f"{len(regions)} regions, {len(links)} region pairs: RTT measured for {len(links) - n_rtt_est}, "
            f"estimated for {n_rtt_est}; capacity measured for {len(links) - n_cap_est}, estimated for "
            f"{n_cap_est}; {n_vm} measured capacities sit at the measuring VMs' limit (capacity_limit vm).",
            "latency_ms = (RTT - lan_latency_ms(a) - lan_latency_ms(b)) / 2, so host-to-host RTT equals the "
            "measured RTT (the smaller of the two directions' averages, see measured_rtt_ms).",
            f"tcp_window_B = {window_b} B on every link: one window fit to Erben et al.'s six single-stream "
            f"rates (rate = window / RTT; max error {window_max_err:.1%}, mean {window_mean_err:.1%}).",
            f"egress rules reproduce all {checked} source price rows between these regions exactly.",
        ],
        "instance_catalog": "instances.json",
        "rtt_estimate": fit,
        "regions": regions,
        "links": links,
        "egress_usd_per_GB": egress,
    }
    catalog = {
        "name": "instances",
        "source": "vendor datasheets and price lists named per entry; see docs/TOPOLOGIES.md",
        "notes": ["gpu_peak_tflops is the dense FP16/BF16 tensor peak per GPU (the compute model's number); "
                  "peak_fp32_tflops is for reference.",
                  "Prices are for the reference_region; geotrain bills the same price in every region."],
        "instance_types": {t["name"]: instance_entry(t, advisor) for t in INSTANCES},
    }
    write(os.path.join(args.out, "multicloud.json"), topo)
    write(os.path.join(args.out, "instances.json"), catalog)
    print(f"wrote {len(regions)} regions, {len(links)} links ({n_rtt_est} RTT and {n_cap_est} capacity "
          f"estimates), {len(INSTANCES)} instance types; window {window_b} B; RTT fit {fit['routing_factor']} x "
          f"+ {fit['fixed_ms']} ms, hold-out median error {fit['holdout_median_abs_error_ms']} ms; "
          f"{checked} price rows checked")


if __name__ == "__main__":
    main()
