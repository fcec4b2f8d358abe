// JSON Schema of a topology (a scenario's inline "topology", or a topology file): regions, links,
// rtt_estimate, instance_types and egress prices, from the ranges and choices the topology loader
// reads them with (sim/limits.h, sim/input_tables.h). The loader stays the judge of what refers to
// other keys: link ends and offered types naming regions and types, egress covering every cloud.
#include "cli/schema_sections.h"

#include "sim/input_tables.h"
#include "sim/json_reader.h"
#include "sim/limits.h"

namespace geotrain::cli::schema {
namespace {

namespace limits = geotrain::sim::limits;
namespace input = geotrain::sim::input;

Json price(const std::string& description) {
  return number(0, limits::kMaxUsdPerGB, description.empty() ? "$/GB" : description + ", $/GB");
}

Json latency_ms(const std::string& description) {
  return number(limits::kMinLatency_ms, limits::kMaxLatency_ms, description + ", ms");
}

Json bandwidth_Gbps(const std::string& description) {
  return number(limits::kMinBandwidth_Gbps, limits::kMaxBandwidth_Gbps, description + ", Gbit/s");
}

// {continent: $/GB, ...}.
Json price_map(const std::string& description) {
  return {{"type", "object"}, {"additionalProperties", price("")}, {"description", description}};
}

Json region_schema() {
  Json egress;
  egress["inter_region"] = price("this region's price to other regions of its cloud");
  egress["internet"] = price("this region's price to the internet and other clouds");
  Json p;
  p["name"] = text("unique; no ':', '/' or '#'");
  p["name"]["pattern"] = "^[^:/#]+$";
  p["cloud"] = text("the cloud; a key of egress_usd_per_GB");
  p["continent"] = text("the continent, for egress prices");
  p["cloud_region"] = text("the cloud's region, for egress prices (default: name)");
  p["zone"] = text("the zone, for egress prices (default: name)");
  p["lan_latency_ms"] = with_default(latency_ms("one-way latency between two hosts of the region"),
                                     input::kDefaultLanLatency_ms);
  p["lan_single_stream_Gbps"] = bandwidth_Gbps("one TCP stream's rate inside the region (sets its window)");
  p["latitude_deg"] = number(-90, 90, "for rtt_estimate, with longitude_deg");
  p["longitude_deg"] = number(-180, 180, "for rtt_estimate, with latitude_deg");
  p["egress_usd_per_GB"] = closed_object(egress, {}, "this region's own egress prices");
  p["offered_instance_types"] = {{"type", "array"}, {"items", {{"type", "string"}}},
                                 {"description", "the instance types this region offers (default: all of its cloud)"}};
  p["source"] = {{"description", "where the numbers come from (documentation only)"}};
  Json s = closed_object(p, {"name", "cloud", "continent"});
  s["dependentRequired"] = {{"latitude_deg", {"longitude_deg"}}, {"longitude_deg", {"latitude_deg"}}};
  return s;
}

Json link_schema() {
  Json rtt;
  rtt["a_to_b"] = latency_ms("measured RTT from a");
  rtt["b_to_a"] = latency_ms("measured RTT from b");
  Json measured = closed_object(rtt, {}, "measured RTTs, for the topology checks");
  measured["minProperties"] = 1;
  Json p;
  p["a"] = text("a region of this topology");
  p["b"] = text("another region of this topology");
  p["latency_ms"] = latency_ms("one-way latency");
  p["capacity_Gbps"] = bandwidth_Gbps("capacity");
  p["tcp_window_B"] = number(limits::kMinWindow_B, limits::kMaxWindow_B, "TCP window on this link, bytes");
  p["single_stream_Gbps"] = bandwidth_Gbps("one TCP stream's measured rate (sets the window; not with tcp_window_B)");
  p["measured_rtt_ms"] = measured;
  p["capacity_limit"] = with_default(choice(input::kCapacityLimits, "what limits the measured capacity"), "unknown");
  p["rtt_estimated"] = with_default(boolean("the latency comes from rtt_estimate"), false);
  p["capacity_estimated"] = with_default(boolean("the capacity is an estimate"), false);
  p["source"] = text("where the numbers come from");
  Json s = closed_object(p, {"a", "b", "latency_ms", "capacity_Gbps"});
  s["not"] = {{"required", {"tcp_window_B", "single_stream_Gbps"}}};
  return s;
}

Json rtt_estimate_schema() {
  const Json region_pair = {{"type", "array"}, {"prefixItems", {{{"type", "string"}}, {{"type", "string"}}}},
                            {"items", false}, {"minItems", 2}};
  const double inf = sim::JsonReader::kInf;
  Json p;
  p["routing_factor"] = number(0, limits::kMaxRoutingFactor, "path length / great circle", true);
  p["fixed_ms"] = number(0, limits::kMaxLatency_ms, "fixed part of the RTT, ms");
  p["fiber_km_per_ms"] = number(0, limits::kMaxFiberKmPerMs, "signal speed in fiber, km/ms", true);
  p["training_pairs"] = integer(0, limits::kMaxRttPairs, "region pairs the model was fitted on");
  p["holdout_pairs"] = integer(0, limits::kMaxRttPairs, "the number of pairs under holdout");
  p["holdout_median_abs_error_ms"] = number(0, inf, "ms");
  p["holdout_p90_abs_error_ms"] = number(0, inf, "ms");
  p["holdout_median_rel_error"] = number(0, inf, "fraction");
  p["holdout"] = {{"type", "array"}, {"items", region_pair}, {"description", "held-out [region, region] pairs"}};
  p["source"] = {{"description", "where the fit comes from (documentation only)"}};
  return closed_object(p,
                       {"routing_factor", "fixed_ms", "fiber_km_per_ms", "training_pairs", "holdout_pairs",
                        "holdout_median_abs_error_ms", "holdout_p90_abs_error_ms", "holdout_median_rel_error"},
                       "RTT = fixed_ms + routing_factor x 2 x great circle / fiber speed, for links marked rtt_estimated");
}

Json instance_type_schema() {
  const double usd_h = limits::kMaxUsdPerHour;
  const double min_tflops = limits::kMinTflops, max_tflops = limits::kMaxTflops;
  Json p;
  p["gpus"] = with_default(integer(1, limits::kMaxGpusPerInstance, "GPUs per instance"), 1);
  p["gpu_peak_tflops"] = number(min_tflops, max_tflops, "dense peak of one GPU in training precision, TFLOP/s");
  p["utilization"] = number(0, 1, "achieved fraction of peak (MFU) when nothing overrides it", true);
  p["nic_Gbps"] = bandwidth_Gbps("the instance's network interface");
  p["usd_per_hour"] = closed_object({{"on_demand", number(0, usd_h, "$/h")}, {"spot", number(0, usd_h, "$/h (<= on_demand)")}},
                                    {"on_demand", "spot"}, "prices per instance-hour");
  p["cloud"] = text("the cloud selling it (then only its regions run it)");
  p["gpu_model"] = text("the GPU's name");
  p["gpu_memory_GB"] = number(0, limits::kMaxGpuMemory_GB, "memory of one GPU, GB", true);
  p["peak_fp32_tflops"] = number(min_tflops, max_tflops, "fp32 peak of one GPU, TFLOP/s");
  p["hbm_GBps"] = number(0, limits::kMaxHbm_GBps, "memory bandwidth of one GPU, GB/s (the optimizer step's time)", true);
  p["reference_region"] = text("the region its prices are quoted for");
  p["spot_interruption_band"] = choice(input::kSpotBands, "monthly share of spot instances interrupted (hazard rate)");
  p["source"] = {{"description", "where the numbers come from (documentation only)"}};
  return closed_object(p, {"gpu_peak_tflops", "utilization", "nic_Gbps", "usd_per_hour"});
}

Json egress_schema() {
  Json p;
  p["same_zone"] = with_default(price("inside one zone"), 0);
  p["cross_zone"] = price("between zones of one cloud region");
  p["same_continent"] = {{"oneOf", {price(""), price_map("")}},
                         {"description", "between regions of one continent: $/GB, or {continent or default: $/GB}"}};
  p["inter_continent"] = price("between continents");
  p["inter_continent_to"] = price_map("between continents, by the destination's continent");
  p["inter_continent_from"] = price_map("between continents, by the source's continent");
  p["internet"] = price("to the internet and other clouds");
  p["internet_to"] = price_map("to other clouds, by the destination's continent");
  p["source"] = {{"description", "where the prices come from (documentation only)"}};
  return closed_object(p, {"cross_zone", "same_continent", "inter_continent", "internet"});
}

}  // namespace

Json topology_schema() {
  Json p;
  p["name"] = text("the topology's name");
  p["source"] = text("where the numbers come from");
  p["notes"] = {{"description", "for people; ignored"}};
  p["instance_catalog"] = text("an instance catalog file of more instance types (relative to this file's folder)");
  p["regions"] = {{"type", "array"}, {"minItems", 1}, {"items", region_schema()}};
  p["rtt_estimate"] = rtt_estimate_schema();
  p["links"] = {{"type", "array"}, {"items", link_schema()},
                {"description", "WAN links, one per region pair (required with two regions or more)"}};
  p["instance_types"] = {{"type", "object"}, {"additionalProperties", instance_type_schema()},
                         {"description", "instance types by name (required without instance_catalog)"}};
  p["egress_usd_per_GB"] = {{"type", "object"}, {"additionalProperties", egress_schema()},
                            {"description", "egress prices by cloud: every region's cloud"}};
  Json s = closed_object(p, {"name", "regions", "egress_usd_per_GB"},
                         "regions, WAN links, instance types and egress prices (docs/SCENARIO_FORMAT.md, Topology)");
  s["anyOf"] = {{{"required", {"instance_types"}}}, {{"required", {"instance_catalog"}}}};
  Json several_regions;
  several_regions["properties"]["regions"]["minItems"] = 2;
  several_regions["required"] = {"regions"};
  s["if"] = several_regions;
  s["then"] = {{"required", {"links"}}};
  return s;
}

}  // namespace geotrain::cli::schema
