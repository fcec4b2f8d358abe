// A sweep plan: a sweep file ({"base": scenario, "grid": {pointer: [values]}} or {"list": [...]};
// a value may be labelled: {"label": "H=100", "value": 100}) expanded into points, each a scenario
// document with stable id. Plans only; running is cli/.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::analysis {

struct SweepPoint {
  std::size_t index = 0;
  std::string id;                  // "p0003-1a2b3c4d": index, then a hash of the axes
  nlohmann::ordered_json axes;     // {"/pointer": value, ...} in axis order
  nlohmann::json scenario;         // the base scenario with the axes applied
  // {"/pointer": "label"} for the axes whose value was given labelled ({"label": ..., "value": ...});
  // labels name values for people (sweep.csv, the report) and are not part of the id.
  nlohmann::ordered_json labels = nlohmann::ordered_json::object();
};

struct SweepPlan {
  std::string file;                // the sweep file
  std::string name;                // "name" of the sweep file, else its file name without extension
  std::string base_file;           // where the base scenario came from: relative paths inside it
                                   // (topology) start at this file's folder
  std::vector<std::string> axis_pointers;  // every axis, in order (sweep.csv columns)
  std::vector<SweepPoint> points;
};

// The most points one sweep file may expand to (a guard against a mistyped grid).
inline constexpr std::size_t kMaxSweepPoints = 1000000;

// Loads and expands a sweep file.  A relative "base" path starts at the sweep file's folder.
// Throws InputError naming the sweep file, the JSON path and what is allowed.  The scenarios are
// not validated here (that needs sim/; cli/sweep.cc does it before running anything).
SweepPlan load_sweep(const std::string& file);
SweepPlan parse_sweep(const nlohmann::ordered_json& doc, const std::string& file);

// "p" + the index zero-padded to max(4, digits of count-1) + "-" + 8 hex digits of the hash of
// the axes (keys sorted, so the order of the axes does not matter).
std::string point_id(std::size_t index, std::size_t count, const nlohmann::ordered_json& axes);

// Sets `doc`[pointer] = value.  Missing object members are created (an axis may set an optional
// key); an array index must exist.  Returns "" on success, else why the pointer cannot be set.
std::string set_pointer(nlohmann::json& doc, const std::string& pointer, const nlohmann::json& value);

// The axes of a point as sweep.csv and the report show them: a labelled value as its label.
nlohmann::ordered_json shown_axes(const SweepPoint& p);

// "/strategy/allreduce=ring, /seed=3": the axes of a point, for messages.
std::string axes_text(const nlohmann::ordered_json& axes);

// A hash of everything a point's results depend on that the sweep can see: the scenario document
// and, when its "topology" is a file path, that file's text (resolved against base_file).
std::string scenario_hash(const nlohmann::json& scenario, const std::string& base_file);

}  // namespace geotrain::analysis
