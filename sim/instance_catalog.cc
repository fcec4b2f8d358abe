// Instance type parsing and instance catalog files.
#include "sim/instance_catalog.h"

#include <filesystem>

#include "sim/input_tables.h"
#include "sim/json_reader.h"
#include "sim/limits.h"

namespace geotrain::sim {
namespace {

constexpr double kFlopsPerTflop = 1e12;
constexpr double kBitsPerByte = 8.0;
constexpr double kBitsPerGbit = 1e9;
constexpr double kBytesPerGB = 1e9;  // GPU memory is quoted in GB = 1e9 bytes here

}  // namespace

InstanceType parse_instance_type(JsonReader& r, const std::string& name) {
  InstanceType t;
  t.name = name;
  t.gpus = static_cast<int>(r.integer_or("gpus", 1, 1, limits::kMaxGpusPerInstance));
  t.gpu_peak_flops = r.number("gpu_peak_tflops", limits::kMinTflops, limits::kMaxTflops) * kFlopsPerTflop;
  t.utilization = r.number("utilization", 0, 1, true);
  t.nic_Bps = r.number("nic_Gbps", limits::kMinBandwidth_Gbps, limits::kMaxBandwidth_Gbps) * kBitsPerGbit / kBitsPerByte;
  auto p = r.object("usd_per_hour");
  t.usd_per_hour_on_demand = p.number("on_demand", 0, limits::kMaxUsdPerHour);
  t.usd_per_hour_spot = p.number("spot", 0, limits::kMaxUsdPerHour);
  p.finish();
  t.cloud = r.string_or("cloud", "");
  t.gpu_model = r.string_or("gpu_model", "");
  t.gpu_memory_B =
      r.has("gpu_memory_GB") ? r.number("gpu_memory_GB", 0, limits::kMaxGpuMemory_GB, true) * kBytesPerGB : 0;
  t.gpu_peak_fp32_flops = r.has("peak_fp32_tflops")
                              ? r.number("peak_fp32_tflops", limits::kMinTflops, limits::kMaxTflops) * kFlopsPerTflop
                              : 0;
  t.hbm_Bps = r.has("hbm_GBps") ? r.number("hbm_GBps", 0, limits::kMaxHbm_GBps, true) * kBytesPerGB : 0;
  r.allow("hbm_GBps");
  r.allow("gpu_memory_GB");
  r.allow("peak_fp32_tflops");
  t.reference_region = r.string_or("reference_region", "");
  t.spot_interruption_band = r.has("spot_interruption_band") ? r.choice("spot_interruption_band", input::kSpotBands) : "";
  r.allow("spot_interruption_band");
  if (t.usd_per_hour_spot > t.usd_per_hour_on_demand)
    r.fail("usd_per_hour", "expected spot <= on_demand");
  r.allow("source");  // documentation only
  r.finish();
  return t;
}

void merge_instance_catalog(const std::string& topology_file, const std::string& pointer,
                            const std::string& catalog, std::map<std::string, InstanceType>& types) {
  std::filesystem::path p = catalog;
  if (p.is_relative()) p = std::filesystem::path(topology_file).parent_path() / p;
  const std::string file = p.lexically_normal().string();
  if (const std::string problem = regular_file_problem(file); problem == "no such file")
    throw_bad_input(topology_file, pointer, "\"" + catalog + "\"",
                    "no such instance catalog (" + file + "; relative paths start at this file's folder)");
  else if (!problem.empty())
    throw_bad_input(topology_file, pointer, "\"" + catalog + "\"", "the instance catalog " + problem);
  const nlohmann::json doc = read_json_file(file);
  JsonReader r(doc, file);
  r.string("name");
  r.allow("source");
  r.allow("notes");
  auto entries = r.object("instance_types");
  for (const auto& name : entries.keys()) {
    JsonReader tr(entries.raw(name), file, entries.path_of(name));
    InstanceType t = parse_instance_type(tr, name);
    if (types.count(name))
      throw_bad_input(file, entries.path_of(name), "\"" + name + "\"",
                      "also defined under /instance_types of " + topology_file + "; define each type once");
    types[name] = std::move(t);
  }
  r.finish();
}

}  // namespace geotrain::sim
