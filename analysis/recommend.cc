// Candidates, training-state sizes, representative run lengths and ranking for `geotrain validate`.
#include "analysis/recommend.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "analysis/json_file.h"
#include "sim/result_keys.h"  // header only: the results.json keys

namespace geotrain::analysis {
namespace {

constexpr double kSamplesPerMillion = 1e6;
constexpr double kBytesPerGB = 1e9;
constexpr double kPercent = 100;
// The candidates' knobs and where they come from (the papers are named in sim/strategies/*.cc).
constexpr int kDilocoH[] = {16, 64, 256};  // steps per sync around PALSGD's 32-100; DiLoCo's paper uses 500
constexpr int kStreamingH = 64;            // Streaming DiLoCo: H ~100 in the paper, 64 to fit shorter plans
constexpr int kStreamingFragments = 4;     // P = 4, as in the README's bandwidth study
constexpr int kStreamingTau = 1;           // one step of overlap: the paper's main setting
constexpr double kPactrainSparsity = 0.8;  // PacTrain: under 2% accuracy loss at <= 80% sparsity
constexpr double kTopkRatio = 0.01;        // 1% of the gradient, with error feedback (DGC-style)
constexpr int kHivemindTargetBatch = 32768;  // samples per round: Erben et al. 2023's setting

// The wire formats the DiLoCo family's "wire_format" accepts (sim/strategies/outer.cc).
constexpr const char* kOuterWireFormats[] = {"fp32", "bf16", "fp16", "int8", "fp4", "ternary"};

// Samples per Hivemind round: its target_batch (default as in sim/strategies/hivemind.cc).
double hivemind_target_batch(const nlohmann::json& strategy) {
  return strategy.contains("target_batch") ? strategy["target_batch"].get<double>() : kHivemindTargetBatch;
}

std::string name_of(const nlohmann::json& strategy) { return strategy.value("name", std::string()); }

// The catalog's entry of `strategy` (the loader accepted it, so the catalog has it).
const nlohmann::json& catalog_entry(const nlohmann::json& catalog, const nlohmann::json& strategy) {
  for (const auto& s : catalog.at("strategies"))
    if (s.at("name") == name_of(strategy)) return s;
  throw std::invalid_argument("strategy " + name_of(strategy) + " is not in the strategy catalog");
}

// The knob of `strategy` with `role` in the catalog ("sync_period", "warmup", "warm_start"), or null.
const nlohmann::json* knob_with_role(const nlohmann::json& catalog, const nlohmann::json& strategy, const char* role) {
  for (const auto& k : catalog_entry(catalog, strategy).at("knobs"))
    if (k.value("role", std::string()) == role) return &k;
  return nullptr;
}

// The value of an integer knob: the strategy's, else the catalog's default.
int knob_value(const nlohmann::json& strategy, const nlohmann::json& knob) {
  const std::string name = knob.at("name");
  const nlohmann::json& value = strategy.contains(name) ? strategy[name] : knob.at("default");
  return value.is_number() ? static_cast<int>(value.get<double>()) : 0;  // null: depends on the scenario
}

std::vector<Candidate> listed_candidates(const DeploymentShape& shape) {
  const std::string outer_algo = shape.regions >= 2 ? "hierarchical" : "ring";
  const std::string wire = planned_wire_format(shape);
  std::vector<nlohmann::json> list = {{{"name", "ddp"}, {"allreduce", "ring"}}};
  if (shape.regions >= 2) list.push_back({{"name", "ddp"}, {"allreduce", "hierarchical"}});
  for (const int h : kDilocoH) {
    list.push_back({{"name", "diloco"}, {"H", h}, {"allreduce", outer_algo}});
    if (!wire.empty()) list.back()["wire_format"] = wire;
  }
  list.push_back({{"name", "streaming_diloco"}, {"H", kStreamingH}, {"fragments", kStreamingFragments}, {"tau", kStreamingTau},
                  {"wire_format", wire.empty() ? "fp4" : wire}, {"allreduce", outer_algo}});
  list.push_back({{"name", "pactrain"}, {"sparsity", kPactrainSparsity}, {"warmup_steps", 0}});
  list.push_back({{"name", "topk"}, {"ratio", kTopkRatio}, {"error_feedback", true}});
  if (shape.any_spot) list.push_back({{"name", "hivemind"}, {"target_batch", kHivemindTargetBatch}});
  list.push_back({{"name", "parameter_server"}, {"mode", "async"}, {"shards", 1}});
  std::vector<Candidate> out;
  for (auto& s : list) out.push_back({name_of(s), knob_text(s), s, 0, false, ""});
  return out;
}

// Every knob of `a` is in `b` with the same value.
bool knobs_subset(const nlohmann::json& a, const nlohmann::json& b) {
  for (const auto& [key, value] : a.items())
    if (!b.contains(key) || b[key] != value) return false;
  return true;
}

// The sync period of a strategy in steps (1 for strategies that synchronize every step).
int sync_period(const nlohmann::json& catalog, const nlohmann::json& strategy) {
  const nlohmann::json* knob = knob_with_role(catalog, strategy, "sync_period");
  return knob ? knob_value(strategy, *knob) : 1;
}

}  // namespace

double planned_samples(const DeploymentShape& shape) {
  if (shape.workers <= 0 || shape.batch_per_worker <= 0) return 0;
  const auto& plan = shape.planned_strategy;
  if (!plan.is_null() && name_of(plan) == "hivemind") return static_cast<double>(shape.planned_steps) * hivemind_target_batch(plan);
  return static_cast<double>(shape.planned_steps) * shape.workers * shape.batch_per_worker;
}

int planned_length(const nlohmann::json& strategy, const DeploymentShape& shape) {
  const double samples = planned_samples(shape);
  if (samples <= 0) return shape.planned_steps;
  const double per_unit = name_of(strategy) == "hivemind" ? hivemind_target_batch(strategy)
                                                          : static_cast<double>(shape.workers) * shape.batch_per_worker;
  const double units = std::ceil(samples / per_unit);
  return static_cast<int>(std::clamp(units, 1.0, static_cast<double>(std::numeric_limits<int>::max())));
}

std::string planned_wire_format(const DeploymentShape& shape) {
  const auto& plan = shape.planned_strategy;
  if (!plan.is_object()) return "";
  const char* key = name_of(plan) == "hivemind" ? "compression" : "wire_format";
  const std::string wire = plan.contains(key) && plan[key].is_string() ? plan[key].get<std::string>() : "";
  for (const char* allowed : kOuterWireFormats)
    if (wire == allowed) return wire;
  return "";
}

std::vector<Candidate> candidate_strategies(const nlohmann::json& catalog, const DeploymentShape& shape,
                                            std::vector<std::string>& skipped) {
  std::vector<Candidate> out;
  bool planned_listed = false;
  for (auto& c : listed_candidates(shape)) {
    c.as_planned = !shape.planned_strategy.is_null() && c.strategy == shape.planned_strategy;
    planned_listed = planned_listed || c.as_planned;
    const int planned = planned_length(c.strategy, shape);
    if (const int period = sync_period(catalog, c.strategy); period > planned && !c.as_planned) {
      skipped.push_back(fmt::format("{} {}: sync period {} steps exceeds the planned {} steps", c.name, c.knobs, period,
                                    planned));
      continue;
    }
    c.steps = representative_steps(catalog, c.strategy, planned);
    out.push_back(std::move(c));
  }
  if (!shape.planned_strategy.is_null() && !planned_listed) {
    const auto& s = shape.planned_strategy;
    out.insert(out.begin(),
               Candidate{name_of(s), knob_text(s), s, representative_steps(catalog, s, shape.planned_steps), true, ""});
  }
  for (auto& c : out) {
    const int planned = planned_length(c.strategy, shape);
    c.job_steps = c.as_planned ? shape.planned_steps : planned;
    if (const int w = warmup_steps(catalog, c.strategy); w > 0 && c.steps < planned)
      c.note = fmt::format("warm-up is {} of {} simulated steps ({:.3g}%; plan: {:.3g}%)", std::min(w, c.steps), c.steps,
                           kPercent * std::min(w, c.steps) / c.steps, kPercent * std::min(w, planned) / planned);
  }
  return out;
}

int warmup_steps(const nlohmann::json& catalog, const nlohmann::json& strategy) {
  const nlohmann::json* warmup = knob_with_role(catalog, strategy, "warmup");
  const nlohmann::json* warm_start = knob_with_role(catalog, strategy, "warm_start");
  if (!warmup || (warm_start && strategy.contains(warm_start->at("name").get<std::string>()))) return 0;
  return knob_value(strategy, *warmup);
}

int representative_steps(const nlohmann::json& catalog, const nlohmann::json& strategy, int planned_steps) {
  const int warmup = warmup_steps(catalog, strategy);
  long steps = static_cast<long>(kSyncPeriods) * sync_period(catalog, strategy) + warmup;
  if (warmup > 0) steps = std::max<long>(steps, kWarmupRunSteps);
  return static_cast<int>(std::max(1L, std::min<long>(planned_steps, steps)));
}

std::string knob_text(const nlohmann::json& strategy) {
  std::string text;
  for (const auto& [key, value] : strategy.items()) {
    if (key == "name") continue;
    text += (text.empty() ? "" : " ") + key + "=" + value_text(nlohmann::ordered_json(value));
  }
  return text.empty() ? "defaults" : text;
}

double CandidateResult::usd_per_million_samples() const {
  return samples > 0 ? total_usd() / samples * kSamplesPerMillion : std::numeric_limits<double>::infinity();
}

double CandidateResult::egress_share() const { return total_usd() > 0 ? egress_usd / total_usd() : 0; }

double CandidateResult::wan_GB_per_million_samples() const {
  return samples > 0 ? wan_bytes / samples * kSamplesPerMillion / kBytesPerGB : 0;
}

namespace {
namespace keys = geotrain::result_keys;
// The results.json members candidate_result() reads.
const std::vector<std::string>& summary_pointers() {
  static const std::vector<std::string> pointers = {
      keys::pointer(keys::kSimulatedS),           keys::pointer(keys::kSamples),
      keys::pointer(keys::kThroughput),           keys::pointer(keys::kCostUsd, keys::cost::kCompute),
      keys::pointer(keys::kCostUsd, keys::cost::kEgress), keys::pointer(keys::kTrafficBytes, keys::traffic::kWan),
      keys::pointer(keys::kGranularity),          keys::pointer(keys::kStaleness, keys::staleness::kMean)};
  return pointers;
}
}  // namespace

CandidateResult candidate_result(const nlohmann::json& r) {
  auto number = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : 0.0; };
  auto at = [&](const std::string& pointer) -> const nlohmann::json& {
    static const nlohmann::json kNull;
    const nlohmann::json::json_pointer p(pointer);
    return r.contains(p) ? r[p] : kNull;
  };
  CandidateResult c;
  c.simulated_s = number(at(keys::pointer(keys::kSimulatedS)));
  c.samples = number(at(keys::pointer(keys::kSamples)));
  c.throughput_samples_per_s = number(at(keys::pointer(keys::kThroughput)));
  c.compute_usd = number(at(keys::pointer(keys::kCostUsd, keys::cost::kCompute)));
  c.egress_usd = number(at(keys::pointer(keys::kCostUsd, keys::cost::kEgress)));
  c.wan_bytes = number(at(keys::pointer(keys::kTrafficBytes, keys::traffic::kWan)));
  const auto& granularity = at(keys::pointer(keys::kGranularity));
  if (granularity.is_number()) c.granularity = granularity.get<double>();
  const auto& staleness = at(keys::pointer(keys::kStaleness, keys::staleness::kMean));
  if (staleness.is_number()) c.staleness_mean = staleness.get<double>();
  return c;
}

nlohmann::json result_summary(const nlohmann::json& r) {
  nlohmann::json s;
  for (const auto& pointer : summary_pointers()) {
    const nlohmann::json::json_pointer p(pointer);
    if (r.contains(p)) s[p] = r[p];
  }
  return s;
}

std::vector<std::string> candidate_warnings(const CandidateResult& r) {
  std::vector<std::string> w;
  if (r.egress_usd > r.compute_usd)
    w.push_back(fmt::format("egress exceeds compute cost (${:.4g} vs ${:.4g})", r.egress_usd, r.compute_usd));
  if (r.granularity && *r.granularity < 1)
    w.push_back(fmt::format("granularity below 1 ({:.3g}): communication-bound", *r.granularity));
  if (r.staleness_mean)
    w.push_back(fmt::format("stale gradients: mean staleness {:.3g} updates (accuracy cost not simulated)", *r.staleness_mean));
  return w;
}

std::vector<std::size_t> distinct_candidates(const std::vector<Candidate>& candidates,
                                             const std::vector<CandidateResult>& results) {
  const auto planned = std::find_if(candidates.begin(), candidates.end(), [](const Candidate& c) { return c.as_planned; });
  std::vector<std::size_t> keep;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const bool duplicate = planned != candidates.end() && !c.as_planned && c.name == planned->name &&
                           (knobs_subset(c.strategy, planned->strategy) || knobs_subset(planned->strategy, c.strategy)) &&
                           results[i] == results[static_cast<std::size_t>(planned - candidates.begin())];
    if (!duplicate) keep.push_back(i);
  }
  return keep;
}

std::vector<std::size_t> rank_candidates(const std::vector<CandidateResult>& results) {
  std::vector<std::size_t> order(results.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const double ua = results[a].usd_per_million_samples(), ub = results[b].usd_per_million_samples();
    if (ua != ub) return ua < ub;
    return results[a].throughput_samples_per_s > results[b].throughput_samples_per_s;
  });
  return order;
}

std::size_t fastest_candidate(const std::vector<CandidateResult>& results) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < results.size(); ++i)
    if (results[i].throughput_samples_per_s > results[best].throughput_samples_per_s) best = i;
  return best;
}

std::vector<std::size_t> rank_by_expected_dollars(const std::vector<nlohmann::ordered_json>& summaries) {
  const auto mean = [&](std::size_t i, const char* figure) { return summaries[i].at(figure).at("mean").get<double>(); };
  std::vector<std::size_t> order(summaries.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (mean(a, "total_usd") != mean(b, "total_usd")) return mean(a, "total_usd") < mean(b, "total_usd");
    return mean(a, "simulated_s") < mean(b, "simulated_s");
  });
  return order;
}

}  // namespace geotrain::analysis
