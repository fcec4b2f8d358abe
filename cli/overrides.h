// `--set /json/pointer=value` overrides of a scenario document, as `run` and `validate` take them.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::cli {

// Applies each "/json/pointer=value" in order to `doc` (the scenario read from `file`).  The value
// is parsed as JSON; text that is not JSON is taken as a string.  A pointer may add object keys
// (and the objects on its way), replace an array entry or append one (index = length, or "-");
// it may not go through a string, number, boolean or null, nor past the end of an array.
// Throws sim::BadInput naming `file`, the pointer, the value and what is allowed.
void apply_overrides(nlohmann::json& doc, const std::string& file, const std::vector<std::string>& sets);

}  // namespace geotrain::cli
