// Comparing two results.json documents leaf by leaf, with per-metric tolerances; "/perf" (wall
// clock) is never compared. Folder-level checks and reports are in analysis/check.h.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::analysis {

// Defaults: results are byte-identical for the same build, so the default is strict.
inline constexpr double kDefaultRelTolerance = 1e-9;
inline constexpr double kDefaultAbsTolerance = 1e-12;

// A number passes when |current - baseline| <= abs + rel * |baseline|.
struct Tolerance {
  double rel = kDefaultRelTolerance;
  double abs = kDefaultAbsTolerance;
  bool ignore = false;  // leaves under this prefix are not compared at all
};

// A default tolerance and overrides per JSON pointer prefix; the longest matching prefix wins
// ("/cost_usd" covers "/cost_usd/total", not "/cost_usd_x").
class Tolerances {
 public:
  Tolerances() = default;
  // {"default": {"rel": x, "abs": y}, "/pointer": {"rel": x, "abs": y, "ignore": bool}, ...};
  // an override's missing rel/abs come from "default".  Throws InputError naming the file.
  static Tolerances parse(const nlohmann::ordered_json& doc, const std::string& file);
  static Tolerances load(const std::string& file);

  const Tolerance& for_pointer(std::string_view pointer) const;
  const Tolerance& fallback() const { return default_; }

 private:
  Tolerance default_;
  std::vector<std::pair<std::string, Tolerance>> overrides_;
};

// One leaf (or array, or key) that differs between baseline and current.
struct Difference {
  std::string pointer;
  std::string baseline;              // value text; "(absent)" when only current has it
  std::string current;               // value text; "(absent)" when only baseline has it
  std::optional<double> rel_change;  // (current - baseline) / |baseline| for two numbers, baseline != 0
  std::optional<Tolerance> tolerance;  // set for two numbers
  bool failed = false;               // beyond tolerance, or a non-numeric mismatch
  std::string reason;                // "beyond tolerance", "within tolerance", "type differs", ...
};

// Every difference between the two documents outside "/perf", in document order (baseline's
// keys first, then keys only current has).  Numbers compare with `tolerances`; strings, booleans,
// nulls and types must match exactly; arrays must have equal lengths (elements are compared only
// then); keys present on one side only are failures.
std::vector<Difference> compare_results(const nlohmann::ordered_json& baseline, const nlohmann::ordered_json& current,
                                        const Tolerances& tolerances);

// True when |current - baseline| <= tol.abs + tol.rel * |baseline|.
bool within_tolerance(double baseline, double current, const Tolerance& tol);

}  // namespace geotrain::analysis
