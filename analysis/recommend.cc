// Candidates, training-state sizes, representative run lengths and ranking for `geotrain validate`.
#include "analysis/recommend.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "analysis/json_file.h"

namespace geotrain::analysis {
namespace {

constexpr double kFp32_B = 4;            // bytes of one fp32 value
constexpr double kMaskEntry_B = 1;       // PacTrain's mask: one byte per parameter (kernels/sparse.h)
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

// fp32 copies of the parameters an optimizer keeps besides the weights (momentum buffer; AdamW m, v).
double optimizer_state_B(const std::string& name) {
  if (name == "momentum" || name == "nesterov") return kFp32_B;
  if (name == "adamw") return 2 * kFp32_B;
  return 0;  // sgd
}

// Defaults of the knobs that set a strategy's sync period or warm-up; they mirror the make_*
// functions in sim/strategies/ (and docs/SCENARIO_FORMAT.md#strategy).
struct StepKnob {
  const char* strategy;
  const char* knob;
  int default_value;
};
constexpr StepKnob kPeriodKnobs[] = {{"diloco", "H", 500},         {"local_sgd", "H", 100}, {"streaming_diloco", "H", 100},
                                     {"palsgd", "H", 64},          {"easgd", "tau", 4},     {"gossip", "period", 1}};
constexpr StepKnob kWarmupKnobs[] = {{"pactrain", "warmup_steps", 20}, {"palsgd", "warmup_steps", 0}};
// The DiLoCo family keeps an outer copy with its outer optimizer; the default optimizer of each
// (local_sgd: plain averaging, SGD lr 1).
struct OuterDefault {
  const char* strategy;
  const char* optimizer;
};
constexpr OuterDefault kOuterDefaults[] = {
    {"diloco", "nesterov"}, {"streaming_diloco", "nesterov"}, {"palsgd", "nesterov"}, {"local_sgd", "sgd"}};

// The wire formats the DiLoCo family's "wire_format" accepts (sim/strategies/outer.cc).
constexpr const char* kOuterWireFormats[] = {"fp32", "bf16", "fp16", "int8", "fp4", "ternary"};

// Samples per Hivemind round: its target_batch (default as in sim/strategies/hivemind.cc).
double hivemind_target_batch(const nlohmann::json& strategy) {
  return strategy.contains("target_batch") ? strategy["target_batch"].get<double>() : kHivemindTargetBatch;
}

int knob_value(const nlohmann::json& strategy, const StepKnob& k) {
  return strategy.contains(k.knob) ? static_cast<int>(strategy[k.knob].get<double>()) : k.default_value;
}

std::string name_of(const nlohmann::json& strategy) { return strategy.value("name", std::string()); }

void add_item(std::string& items, double& total, const std::string& what, double bytes) {
  items += fmt::format("{}{} {:g}", items.empty() ? "" : " + ", what, bytes);
  total += bytes;
}

void add_worker_extras(const nlohmann::json& s, const std::string& name, StateBytes& b) {
  for (const auto& d : kOuterDefaults) {
    if (name != d.strategy) continue;
    const std::string outer = s.contains("outer") ? s["outer"].value("name", std::string(d.optimizer)) : d.optimizer;
    add_item(b.worker_items, b.worker_B_per_param, "outer copy", kFp32_B);
    add_item(b.worker_items, b.worker_B_per_param, "outer " + outer + " state", optimizer_state_B(outer));
  }
  if (name == "dgc" || (name == "topk" && s.value("error_feedback", false)))
    add_item(b.worker_items, b.worker_B_per_param, "error-feedback residual", kFp32_B);
  if (name == "pactrain") add_item(b.worker_items, b.worker_B_per_param, "mask", kMaskEntry_B);
  if (name == "hivemind") {
    add_item(b.worker_items, b.worker_B_per_param, "accumulator", kFp32_B);
    if (s.value("delayed_update", true)) add_item(b.worker_items, b.worker_B_per_param, "round in flight", kFp32_B);
  }
  if (name == "easgd") add_item(b.worker_items, b.worker_B_per_param, "pulled center", kFp32_B);
  if (name == "gossip") add_item(b.worker_items, b.worker_B_per_param, "peer copy", kFp32_B);
}

void add_server_state(const nlohmann::json& s, const std::string& name, const std::string& inner, StateBytes& b) {
  if (name == "easgd") add_item(b.server_items, b.server_B_per_param, "center", kFp32_B);
  if (name != "parameter_server") return;
  const double shards = s.contains("shards") ? s["shards"].get<double>() : 1;
  double total = 0;
  std::string items;
  add_item(items, total, "weights", kFp32_B);
  add_item(items, total, inner + " state", optimizer_state_B(inner));
  if (s.value("mode", std::string("async")) == "sync") add_item(items, total, "gradient sum", kFp32_B);
  b.server_B_per_param = total / shards;
  b.server_items = shards > 1 ? fmt::format("({}) / {:g} shards", items, shards) : items;
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
int sync_period(const nlohmann::json& strategy) {
  for (const auto& k : kPeriodKnobs)
    if (name_of(strategy) == k.strategy) return knob_value(strategy, k);
  return 1;
}

}  // namespace

StateBytes training_state_bytes(const nlohmann::json& strategy, const std::string& inner_optimizer,
                                double param_B, double state_B) {
  StateBytes b;
  const std::string name = name_of(strategy);
  add_item(b.worker_items, b.worker_B_per_param, "weights", param_B);
  add_item(b.worker_items, b.worker_B_per_param, "gradients", param_B);
  if (name != "parameter_server")
    add_item(b.worker_items, b.worker_B_per_param, inner_optimizer + " state",
             optimizer_state_B(inner_optimizer) / kFp32_B * state_B);
  add_worker_extras(strategy, name, b);
  add_server_state(strategy, name, inner_optimizer, b);
  return b;
}

double planned_samples(const DeploymentShape& shape) {
  if (shape.workers <= 0 || shape.batch_per_worker <= 0) return 0;
  const auto& plan = shape.planned_strategy;
  if (!plan.is_null() && name_of(plan) == "hivemind") return double{shape.planned_steps} * hivemind_target_batch(plan);
  return double{shape.planned_steps} * shape.workers * shape.batch_per_worker;
}

int planned_length(const nlohmann::json& strategy, const DeploymentShape& shape) {
  const double samples = planned_samples(shape);
  if (samples <= 0) return shape.planned_steps;
  const double per_unit = name_of(strategy) == "hivemind" ? hivemind_target_batch(strategy)
                                                          : double{shape.workers} * shape.batch_per_worker;
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

std::vector<Candidate> candidate_strategies(const DeploymentShape& shape, std::vector<std::string>& skipped) {
  std::vector<Candidate> out;
  bool planned_listed = false;
  for (auto& c : listed_candidates(shape)) {
    c.as_planned = !shape.planned_strategy.is_null() && c.strategy == shape.planned_strategy;
    planned_listed = planned_listed || c.as_planned;
    const int planned = planned_length(c.strategy, shape);
    if (const int period = sync_period(c.strategy); period > planned && !c.as_planned) {
      skipped.push_back(fmt::format("{} {}: sync period {} steps exceeds the planned {} steps", c.name, c.knobs, period,
                                    planned));
      continue;
    }
    c.steps = representative_steps(c.strategy, planned);
    out.push_back(std::move(c));
  }
  if (!shape.planned_strategy.is_null() && !planned_listed) {
    const auto& s = shape.planned_strategy;
    out.insert(out.begin(), Candidate{name_of(s), knob_text(s), s, representative_steps(s, shape.planned_steps), true, ""});
  }
  for (auto& c : out) {
    const int planned = planned_length(c.strategy, shape);
    if (const int w = warmup_steps(c.strategy); w > 0 && c.steps < planned)
      c.note = fmt::format("warm-up is {} of {} simulated steps ({:.3g}%; plan: {:.3g}%)", std::min(w, c.steps), c.steps,
                           kPercent * std::min(w, c.steps) / c.steps, kPercent * std::min(w, planned) / planned);
  }
  return out;
}

int warmup_steps(const nlohmann::json& strategy) {
  for (const auto& k : kWarmupKnobs)
    if (name_of(strategy) == k.strategy && !strategy.contains("checkpoint")) return knob_value(strategy, k);
  return 0;
}

int representative_steps(const nlohmann::json& strategy, int planned_steps) {
  if (name_of(strategy) == "hivemind") return std::max(1, std::min(planned_steps, kSyncPeriods));  // rounds
  const int warmup = warmup_steps(strategy);
  long steps = static_cast<long>(kSyncPeriods) * sync_period(strategy) + warmup;
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

CandidateResult candidate_result(const nlohmann::json& r) {
  auto number = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : 0.0; };
  auto at = [&](const char* pointer) -> const nlohmann::json& {
    static const nlohmann::json kNull;
    const nlohmann::json::json_pointer p(pointer);
    return r.contains(p) ? r[p] : kNull;
  };
  CandidateResult c;
  c.simulated_s = number(at("/simulated_s"));
  c.samples = number(at("/samples"));
  c.throughput_samples_per_s = number(at("/throughput_samples_per_s"));
  c.compute_usd = number(at("/cost_usd/compute"));
  c.egress_usd = number(at("/cost_usd/egress"));
  c.wan_bytes = number(at("/traffic_bytes/wan"));
  if (at("/granularity").is_number()) c.granularity = at("/granularity").get<double>();
  if (at("/staleness/mean").is_number()) c.staleness_mean = at("/staleness/mean").get<double>();
  return c;
}

nlohmann::json result_summary(const nlohmann::json& r) {
  nlohmann::json s;
  for (const char* pointer : {"/simulated_s", "/samples", "/throughput_samples_per_s", "/cost_usd/compute",
                              "/cost_usd/egress", "/traffic_bytes/wan", "/granularity", "/staleness/mean"}) {
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

}  // namespace geotrain::analysis
