// Instance types: parsing one entry (the keys of docs/SCENARIO_FORMAT.md#instance_types) and
// merging an instance catalog file (topologies/instances.json) into a topology. Internal to sim/.
#pragma once
#include <map>
#include <string>

#include "sim/topology.h"

namespace geotrain::sim {

class JsonReader;

// Parses the instance type called `name` from `reader`.  Throws BadInput.
InstanceType parse_instance_type(JsonReader& reader, const std::string& name);

// Loads the catalog file `catalog` (relative paths start at the folder of `topology_file`) and
// adds its instance types to `types`.  `pointer` is the JSON path of the "instance_catalog" key
// in `topology_file`, for messages.  Throws BadInput: missing or malformed file, a bad entry
// (naming the catalog file and the entry's path), or a name already in `types`.
void merge_instance_catalog(const std::string& topology_file, const std::string& pointer,
                            const std::string& catalog, std::map<std::string, InstanceType>& types);

}  // namespace geotrain::sim
