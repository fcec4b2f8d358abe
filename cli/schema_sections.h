// The JSON Schema pieces of `geotrain schema scenario` for the scenario's nested objects
// (workload, network, faults, checkpoint, a fleet entry's preemption), built from the loader's
// ranges (sim/limits.h), choices and defaults (sim/input_tables.h, the spec structs' defaults),
// and the small builders cli/schema.cc shares with them. Internal to the schema command.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::cli::schema {

using Json = nlohmann::ordered_json;

// {"type": "integer", "minimum": min, "maximum": max, "description": ...}.
Json integer(long min, long max, const std::string& description);
// A number in [min, max], or (min, max] with min_exclusive; max JsonReader::kInf leaves the maximum out.
Json number(double min, double max, const std::string& description, bool min_exclusive = false);
// One of `names`.
Json choice(const std::vector<std::string>& names, const std::string& description);
Json text(const std::string& description);
Json boolean(const std::string& description);
// `schema` with "default": value.
Json with_default(Json schema, Json value);
// An object of exactly these properties (additionalProperties false: the loader's finish()).
Json closed_object(Json properties, const std::vector<std::string>& required, const std::string& description = "");

// The optimizer object (workload.optimizer, and the DiLoCo family's strategy.outer).
Json optimizer_schema();
Json workload_schema();
Json network_schema();
Json faults_schema();
Json checkpoint_schema();
Json preemption_schema();
Json spot_price_schema();
// A topology (cli/schema_topology.cc): inline in a scenario, or a topology file.
Json topology_schema();

}  // namespace geotrain::cli::schema
