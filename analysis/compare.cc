// Leaf-by-leaf comparison of results documents and the tolerance file format.
#include "analysis/compare.h"

#include <cmath>

#include <fmt/format.h>

#include "analysis/json_file.h"

namespace geotrain::analysis {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kWallClockBlock = "/perf";  // wall-clock figures: never deterministic
constexpr const char* kAbsent = "(absent)";

std::string escape_token(std::string_view key) {
  std::string out;
  for (const char c : key) out += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
  return out;
}

bool is_prefix(std::string_view prefix, std::string_view pointer) {
  return pointer.substr(0, prefix.size()) == prefix && (pointer.size() == prefix.size() || pointer[prefix.size()] == '/');
}

double tolerance_number(const Json& v, const std::string& file, const std::string& path) {
  if (!v.is_number() || v.get<double>() < 0)
    throw_input_error(file, path, value_text(v), "expected a number >= 0");
  return v.get<double>();
}

Tolerance parse_tolerance(const Json& v, const std::string& file, const std::string& path, const Tolerance& base,
                          bool allow_ignore) {
  if (!v.is_object()) throw_input_error(file, path, value_text(v), "expected an object {\"rel\": x, \"abs\": y}");
  Tolerance t = base;
  for (const auto& [key, value] : v.items()) {
    const std::string at = path + "/" + escape_token(key);
    if (key == "rel") t.rel = tolerance_number(value, file, at);
    else if (key == "abs") t.abs = tolerance_number(value, file, at);
    else if (key == "ignore" && allow_ignore && value.is_boolean()) t.ignore = value.get<bool>();
    else if (key == "ignore" && allow_ignore) throw_input_error(file, at, value_text(value), "expected true or false");
    else throw_input_error(file, at, "", allow_ignore ? "unknown key; allowed: rel, abs, ignore" : "unknown key; allowed: rel, abs");
  }
  return t;
}

class Comparer {
 public:
  Comparer(const Tolerances& tolerances, std::vector<Difference>& out) : tolerances_(tolerances), out_(out) {}

  void compare(const Json* baseline, const Json* current, const std::string& pointer) {
    if (pointer == kWallClockBlock || tolerances_.for_pointer(pointer).ignore) return;
    if (!baseline || !current) return add(pointer, baseline, current, true, "only in " + std::string(baseline ? "baseline" : "current"));
    if (baseline->is_number() && current->is_number()) return compare_numbers(*baseline, *current, pointer);
    if (baseline->type() != current->type()) return add(pointer, baseline, current, true, "type differs");
    if (baseline->is_object()) return compare_objects(*baseline, *current, pointer);
    if (baseline->is_array()) return compare_arrays(*baseline, *current, pointer);
    if (*baseline != *current) add(pointer, baseline, current, true, "differs");
  }

 private:
  void add(const std::string& pointer, const Json* baseline, const Json* current, bool failed, std::string reason) {
    Difference d;
    d.pointer = pointer.empty() ? "/" : pointer;
    d.baseline = baseline ? value_text(*baseline) : kAbsent;
    d.current = current ? value_text(*current) : kAbsent;
    d.failed = failed;
    d.reason = std::move(reason);
    out_.push_back(std::move(d));
  }

  void compare_numbers(const Json& baseline, const Json& current, const std::string& pointer) {
    const double b = baseline.get<double>(), c = current.get<double>();
    if (b == c) return;
    const Tolerance& tol = tolerances_.for_pointer(pointer);
    const bool ok = within_tolerance(b, c, tol);
    add(pointer, &baseline, &current, !ok, ok ? "within tolerance" : "beyond tolerance");
    out_.back().baseline = nlohmann::json(b).dump();  // full precision for numbers
    out_.back().current = nlohmann::json(c).dump();
    out_.back().tolerance = tol;
    if (b != 0) out_.back().rel_change = (c - b) / std::fabs(b);
  }

  void compare_objects(const Json& baseline, const Json& current, const std::string& pointer) {
    for (const auto& [key, value] : baseline.items()) {
      const auto it = current.find(key);
      compare(&value, it == current.end() ? nullptr : &*it, pointer + "/" + escape_token(key));
    }
    for (const auto& [key, value] : current.items())
      if (!baseline.contains(key)) compare(nullptr, &value, pointer + "/" + escape_token(key));
  }

  void compare_arrays(const Json& baseline, const Json& current, const std::string& pointer) {
    if (baseline.size() != current.size()) {
      add(pointer, nullptr, nullptr, true, "array length differs");
      out_.back().baseline = fmt::format("{} entries", baseline.size());
      out_.back().current = fmt::format("{} entries", current.size());
      return;
    }
    for (std::size_t i = 0; i < baseline.size(); ++i) compare(&baseline[i], &current[i], pointer + "/" + std::to_string(i));
  }

  const Tolerances& tolerances_;
  std::vector<Difference>& out_;
};

}  // namespace

bool within_tolerance(double baseline, double current, const Tolerance& tol) {
  return std::fabs(current - baseline) <= tol.abs + tol.rel * std::fabs(baseline);
}

Tolerances Tolerances::parse(const Json& doc, const std::string& file) {
  if (!doc.is_object())
    throw_input_error(file, "", value_text(doc), "expected {\"default\": {\"rel\": x, \"abs\": y}, \"/pointer\": {...}}");
  Tolerances t;
  if (doc.contains("default")) t.default_ = parse_tolerance(doc["default"], file, "/default", Tolerance{}, false);
  for (const auto& [key, value] : doc.items()) {
    if (key == "default") continue;
    const std::string path = "/" + escape_token(key);
    if (key.empty() || key[0] != '/')
      throw_input_error(file, path, "", "expected \"default\" or a JSON pointer prefix such as \"/simulated_s\"");
    t.overrides_.emplace_back(key, parse_tolerance(value, file, path, t.default_, true));
  }
  return t;
}

Tolerances Tolerances::load(const std::string& file) { return parse(read_json(file), file); }

const Tolerance& Tolerances::for_pointer(std::string_view pointer) const {
  const Tolerance* best = &default_;
  std::size_t best_size = 0;
  for (const auto& [prefix, tol] : overrides_)
    if (is_prefix(prefix, pointer) && prefix.size() >= best_size) {
      best = &tol;
      best_size = prefix.size();
    }
  return *best;
}

std::vector<Difference> compare_results(const Json& baseline, const Json& current, const Tolerances& tolerances) {
  std::vector<Difference> out;
  Comparer(tolerances, out).compare(&baseline, &current, "");
  return out;
}

}  // namespace geotrain::analysis
