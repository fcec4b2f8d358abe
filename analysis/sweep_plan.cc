// Sweep files: parsing, grid expansion (Cartesian product, last axis fastest), point ids.
#include "analysis/sweep_plan.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "analysis/json_file.h"

namespace geotrain::analysis {
namespace {

namespace fs = std::filesystem;

std::string escape_token(std::string_view key) {
  std::string out;
  for (const char c : key) out += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
  return out;
}

std::string child(std::string_view base, std::string_view key) { return std::string(base) + "/" + escape_token(key); }

// Splits an RFC 6901 pointer into unescaped tokens; "" on success, else the problem.
std::string split_pointer(const std::string& pointer, std::vector<std::string>& tokens) {
  if (pointer.empty() || pointer[0] != '/')
    return "expected a JSON pointer starting with '/', e.g. \"/strategy/allreduce\"";
  std::string token;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(token);
      token.clear();
    } else if (pointer[i] == '~') {
      if (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))
        return "'~' must be followed by 0 ('~') or 1 ('/') in a JSON pointer";
      token += pointer[++i] == '0' ? '~' : '/';
    } else {
      token += pointer[i];
    }
  }
  return "";
}

// The base scenario: an inline object, or a file (relative to the sweep file's folder).
nlohmann::json load_base(const nlohmann::ordered_json& doc, const std::string& file, std::string& base_file) {
  if (!doc.contains("base")) throw_input_error(file, "/base", "", "required: a scenario file path or an inline scenario object");
  const auto& base = doc["base"];
  if (base.is_object()) {
    base_file = file;
    return nlohmann::json(base);
  }
  if (!base.is_string()) throw_input_error(file, "/base", value_text(base), "expected a scenario file path or an inline scenario object");
  fs::path p = base.get<std::string>();
  if (p.is_relative()) p = fs::path(file).parent_path() / p;
  base_file = p.lexically_normal().string();
  if (const std::string problem = regular_file_problem(base_file); problem == "no such file")
    throw_input_error(file, "/base", base.get<std::string>(),
                      "no such scenario file (" + base_file + "; relative paths start at the sweep file's folder)");
  else if (!problem.empty())
    throw_input_error(file, "/base", base.get<std::string>(), base_file + ": " + problem);
  const nlohmann::ordered_json scenario = read_json(base_file);
  if (!scenario.is_object()) throw_input_error(base_file, "", "", "expected a scenario object");
  return nlohmann::json(scenario);
}

// A labelled value {"label": "H=100", "value": 100} (an object with exactly these two keys) sets
// `value` and `label` and returns true; any other JSON is a plain value (returns false).  Throws
// InputError at `path` for a label that is not a non-empty string.
bool labelled(const nlohmann::ordered_json& v, const std::string& file, const std::string& path, nlohmann::ordered_json& value,
              std::string& label) {
  if (!v.is_object() || v.size() != 2 || !v.contains("label") || !v.contains("value")) return false;
  if (!v["label"].is_string() || v["label"].get<std::string>().empty())
    throw_input_error(file, path + "/label", v["label"].dump(), "expected a non-empty string (the value's label)");
  value = v["value"];
  label = v["label"].get<std::string>();
  return true;
}

void check_axis_pointer(const std::string& file, const std::string& path, const std::string& pointer) {
  std::vector<std::string> tokens;
  const std::string problem = split_pointer(pointer, tokens);
  if (!problem.empty()) throw_input_error(file, path, pointer, problem);
}

// Grid axes in file order; each a non-empty array of values, labelled or not (labels unique).
std::vector<GridAxis> grid_axes(const nlohmann::ordered_json& grid, const std::string& file) {
  if (!grid.is_object() || grid.empty())
    throw_input_error(file, "/grid", value_text(grid), "expected a non-empty object {\"/json/pointer\": [values...]}");
  std::vector<GridAxis> axes;
  std::size_t count = 1;
  for (const auto& [pointer, values] : grid.items()) {
    const std::string path = child("/grid", pointer);
    check_axis_pointer(file, path, pointer);
    if (!values.is_array() || values.empty())
      throw_input_error(file, path, value_text(values), "expected a non-empty array of values");
    count *= values.size();
    if (count > kMaxSweepPoints)
      throw_input_error(file, "/grid", "", fmt::format("the grid has more than {} points", kMaxSweepPoints));
    GridAxis axis{pointer, {}, {}};
    for (std::size_t i = 0; i < values.size(); ++i) {
      nlohmann::ordered_json value;
      std::string label;
      const std::string at = fmt::format("{}/{}", path, i);
      if (!labelled(values[i], file, at, value, label)) value = values[i];
      if (!label.empty() && std::find(axis.labels.begin(), axis.labels.end(), label) != axis.labels.end())
        throw_input_error(file, at + "/label", values[i]["label"].dump(), "expected a label this axis does not use yet");
      axis.values.push_back(std::move(value));
      axis.labels.push_back(label);
    }
    axes.push_back(std::move(axis));
  }
  return axes;
}

void check_list(const nlohmann::ordered_json& list, const std::string& file) {
  if (!list.is_array() || list.empty())
    throw_input_error(file, "/list", value_text(list), "expected a non-empty array of {\"/json/pointer\": value} objects");
  if (list.size() > kMaxSweepPoints) throw_input_error(file, "/list", "", fmt::format("more than {} points", kMaxSweepPoints));
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "/list/" + std::to_string(i);
    if (!list[i].is_object()) throw_input_error(file, path, value_text(list[i]), "expected an object {\"/json/pointer\": value}");
    for (const auto& [pointer, v] : list[i].items()) {
      check_axis_pointer(file, child(path, pointer), pointer);
      nlohmann::ordered_json value;
      std::string label;
      labelled(v, file, child(path, pointer), value, label);  // a bad label fails here, at load
    }
  }
}

void check_sweep_keys(const nlohmann::ordered_json& doc, const std::string& file) {
  if (!doc.is_object()) throw_input_error(file, "", value_text(doc), "expected a sweep object {\"base\": ..., \"grid\": {...}}");
  for (const auto& [key, value] : doc.items())
    if (key != "name" && key != "description" && key != "base" && key != "grid" && key != "list" && key != "replicas")
      throw_input_error(file, child("", key), "", "unknown key; allowed: name, description, base, grid, list, replicas");
  if (doc.contains("replicas") &&
      (!doc["replicas"].is_number_integer() || doc["replicas"].get<long>() < 1 || doc["replicas"].get<long>() > kMaxSweepReplicas ||
       (doc["replicas"].is_number_unsigned() && doc["replicas"].get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxSweepReplicas))))
    throw_input_error(file, "/replicas", value_text(doc["replicas"]),
                      fmt::format("expected an integer in [1, {}]: draws of the fault process per point", kMaxSweepReplicas));
  if (doc.contains("grid") == doc.contains("list"))
    throw_input_error(file, "", "", "expected exactly one of \"grid\" (a Cartesian product) or \"list\" (explicit points)");
  if (doc.contains("name") && !doc["name"].is_string())
    throw_input_error(file, "/name", value_text(doc["name"]), "expected a string");
}

}  // namespace

std::string point_id(std::size_t index, std::size_t count, const nlohmann::ordered_json& axes) {
  const std::size_t digits = std::max<std::size_t>(4, fmt::format("{}", count > 0 ? count - 1 : 0).size());
  const std::string canonical = nlohmann::json(axes).dump();  // nlohmann::json sorts keys
  return fmt::format("p{:0{}}-{}", index, digits, hash_hex(canonical).substr(0, 8));
}

std::string set_pointer(nlohmann::json& doc, const std::string& pointer, const nlohmann::json& value) {
  std::vector<std::string> tokens;
  if (std::string problem = split_pointer(pointer, tokens); !problem.empty()) return problem;
  nlohmann::json* at = &doc;
  std::string walked;
  for (const auto& token : tokens) {
    if (at->is_null()) *at = nlohmann::json::object();
    if (at->is_object()) {
      at = &(*at)[token];
    } else if (at->is_array()) {
      const bool digits = !token.empty() && token.find_first_not_of("0123456789") == std::string::npos &&
                          (token.size() == 1 || token[0] != '0');
      if (!digits || token.size() > 9 || std::stoul(token) >= at->size())
        return fmt::format("{} is an array of {} entries; \"{}\" is not an index of it", walked.empty() ? "/" : walked,
                           at->size(), token);
      at = &(*at)[std::stoul(token)];
    } else {
      return fmt::format("{} is a {}, not an object or an array", walked, at->type_name());
    }
    walked = child(walked, token);
  }
  *at = value;
  return "";
}

std::string axes_text(const nlohmann::ordered_json& axes) {
  std::string text;
  for (const auto& [pointer, value] : axes.items())
    text += (text.empty() ? "" : ", ") + pointer + "=" + value.dump();
  return text;
}

std::string SweepPoints::set_in_base(const std::string& pointer, const nlohmann::json& value) {
  return set_pointer(base_, pointer, value);
}

SweepPoint SweepPoints::operator[](std::size_t i) const {
  nlohmann::ordered_json axes = nlohmann::ordered_json::object();
  nlohmann::ordered_json labels = nlohmann::ordered_json::object();
  if (grid_.empty()) {
    for (const auto& [pointer, v] : list_[i].items()) {  // labels checked at load (check_list)
      std::string label;
      if (labelled(v, file_, "", axes[pointer], label)) labels[pointer] = label;
      else axes[pointer] = v;
    }
  } else {
    std::vector<std::size_t> digit(grid_.size());
    std::size_t rest = i;
    for (std::size_t a = grid_.size(); a-- > 0;) {  // the last axis varies fastest
      digit[a] = rest % grid_[a].values.size();
      rest /= grid_[a].values.size();
    }
    for (std::size_t a = 0; a < grid_.size(); ++a) {  // axis order
      axes[grid_[a].pointer] = grid_[a].values[digit[a]];
      if (!grid_[a].labels[digit[a]].empty()) labels[grid_[a].pointer] = grid_[a].labels[digit[a]];
    }
  }
  SweepPoint p{i, point_id(i, count_, axes), std::move(axes), base_, std::move(labels)};
  for (const auto& [pointer, value] : p.axes.items())
    if (std::string problem = set_pointer(p.scenario, pointer, nlohmann::json(value)); !problem.empty())
      throw_input_error(file_, fmt::format("point {} ({})", p.id, axes_text(p.axes)), pointer, problem);
  return p;
}

SweepPlan parse_sweep(const nlohmann::ordered_json& doc, const std::string& file) {
  check_sweep_keys(doc, file);
  SweepPlan plan;
  plan.file = file;
  plan.name = doc.contains("name") ? doc["name"].get<std::string>() : fs::path(file).stem().string();
  plan.replicas = doc.contains("replicas") ? doc["replicas"].get<long>() : 1;
  SweepPoints& points = plan.points;
  points.file_ = file;
  points.base_ = load_base(doc, file, plan.base_file);
  if (doc.contains("grid")) {
    points.grid_ = grid_axes(doc["grid"], file);
    points.count_ = 1;
    for (const auto& axis : points.grid_) {
      points.count_ *= axis.values.size();
      plan.axis_pointers.push_back(axis.pointer);
    }
  } else {
    check_list(doc["list"], file);
    points.list_ = doc["list"];
    points.count_ = points.list_.size();
    for (const auto& axes : points.list_)
      for (const auto& [pointer, value] : axes.items())
        if (std::find(plan.axis_pointers.begin(), plan.axis_pointers.end(), pointer) == plan.axis_pointers.end())
          plan.axis_pointers.push_back(pointer);
  }
  (void)points[0];  // a pointer the base cannot take fails at load
  return plan;
}

SweepPlan load_sweep(const std::string& file) { return parse_sweep(read_json(file), file); }

nlohmann::ordered_json shown_axes(const SweepPoint& p) {
  nlohmann::ordered_json shown = p.axes;
  for (const auto& [pointer, label] : p.labels.items()) shown[pointer] = label;
  return shown;
}

std::string scenario_hash(const nlohmann::json& scenario, const std::string& base_file) {
  std::string text = scenario.dump();
  // A refit calibration (geotrain calibrate's calibration.json) runs the points again.
  if (const auto calibration = scenario.find("calibration"); calibration != scenario.end() && calibration->is_string()) {
    fs::path p = calibration->get<std::string>();
    if (p.is_relative()) p = fs::path(base_file).parent_path() / p;
    std::string calibration_text;
    if (read_text(p.string(), calibration_text)) text += "\ncalibration:" + calibration_text;
  }
  const auto topology = scenario.find("topology");
  if (topology == scenario.end()) return hash_hex(text);
  nlohmann::json topology_doc = *topology;
  fs::path topology_folder = fs::path(base_file).parent_path();
  if (topology->is_string()) {
    fs::path p = topology->get<std::string>();
    if (p.is_relative()) p = topology_folder / p;
    std::string topology_text;
    if (read_text(p.string(), topology_text)) text += "\ntopology:" + topology_text;
    topology_doc = nlohmann::json::parse(topology_text, nullptr, false);
    topology_folder = p.parent_path();
  }
  // A topology may name an instance catalog file (relative to the topology's own folder).
  if (topology_doc.is_object() && topology_doc.contains("instance_catalog") && topology_doc["instance_catalog"].is_string()) {
    fs::path c = topology_doc["instance_catalog"].get<std::string>();
    if (c.is_relative()) c = topology_folder / c;
    std::string catalog_text;
    if (read_text(c.string(), catalog_text)) text += "\ninstance_catalog:" + catalog_text;
  }
  return hash_hex(text);
}

}  // namespace geotrain::analysis
