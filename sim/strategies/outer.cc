// Outer-loop pieces: global copy, outer gradient, outer step, merge.
#include "sim/strategies/outer.h"

#include <cmath>

#include <fmt/format.h>

#include "kernels/quantize.h"
#include "kernels/check.h"
#include "runtime/ops.h"
#include "sim/layer_schedule.h"
#include "sim/resilience/replica.h"

namespace geotrain::sim {

std::vector<KnobSpec> outer_knobs(const nlohmann::json& default_outer) {
  return {{"outer", KnobType::object, default_outer, 0, 0, false, {},
           "outer optimizer (an optimizer object like workload.optimizer) applied to the mean outer gradient"},
          {"allreduce", KnobType::choice, "ring", 0, 0, false, allreduce_algo_names(), "all-reduce algorithm of the outer sync"},
          {"wire_format", KnobType::choice, "fp32", 0, 0, false, wire_format_names(),
           "how outer gradients travel (quantized once at the sender)"}};
}

OuterConfig parse_outer(JsonReader& reader, const std::vector<KnobSpec>& knobs) {
  OuterConfig c;
  const KnobSpec& outer = knob_of(knobs, "outer");
  JsonReader defaults(outer.default_value, "", "/outer");
  c.optimizer = parse_optimizer(defaults);
  reader.allow("outer");
  if (reader.has("outer")) {
    auto o = reader.object("outer");
    c.optimizer = parse_optimizer(o);
  }
  c.allreduce = allreduce_algo_from_name(read_choice(reader, knob_of(knobs, "allreduce")));
  c.wire_format = *kernels::parse_wire_format(read_choice(reader, knob_of(knobs, "wire_format")));
  return c;
}

void add_outer_state(const nlohmann::json& knobs, StateBytes& state) {
  const std::string outer = knobs["outer"].value("name", std::string());
  state.add_worker("outer copy", kFp32_B);
  state.add_worker("outer " + outer + " state", optimizer_state_B_per_param(outer));
}

std::vector<std::unique_ptr<GlobalCopy>> make_global_copies(const World& world, const runtime::OptimizerSpec& outer) {
  std::vector<std::unique_ptr<GlobalCopy>> out;
  for (const auto& t : world.trainers)
    out.push_back(std::make_unique<GlobalCopy>(*t, ChunkRange{0, t->params().numel()}, outer));
  return out;
}

void deploy_global_copy(World& world, const GlobalCopy& worker0) {
  world.deployed_parameters = [&worker0] {
    const auto v = worker0.params().values();
    return std::vector<float>(v.begin(), v.end());
  };
}

namespace {
std::size_t total_count(const std::vector<ChunkRange>& ranges) {
  std::size_t n = 0;
  for (const ChunkRange& r : ranges) n += r.count;
  return n;
}
}  // namespace

GlobalCopy::GlobalCopy(const runtime::Trainer& trainer, std::vector<ChunkRange> ranges, const runtime::OptimizerSpec& outer)
    : ranges_(std::move(ranges)),
      count_(total_count(ranges_)),
      theta_g_(trainer.is_real() ? runtime::Tensor::zeros(count_) : runtime::Tensor::phantom(count_)),
      outer_(outer, trainer.is_real() ? count_ : 0) {
  GEOTRAIN_CHECK(!ranges_.empty(), "a global copy of at least one range");
  for (std::size_t i = 1; i < ranges_.size(); ++i)
    GEOTRAIN_CHECK(ranges_[i - 1].begin + ranges_[i - 1].count <= ranges_[i].begin, "ranges ascending, apart");
  theta_g_.set_wire_bytes_per_value(trainer.params().wire_bytes_per_value());
  if (!trainer.is_real()) return;
  each_range(trainer.params().values(), theta_g_.values(),
             [](std::span<const float> p, std::span<float> g) { runtime::ops::copy(g, p); });
}

runtime::Tensor GlobalCopy::outer_gradient(const runtime::Trainer& trainer, kernels::WireFormat wire_format) const {
  runtime::Tensor delta = trainer.is_real() ? runtime::Tensor::zeros(count_) : runtime::Tensor::phantom(count_);
  if (trainer.is_real()) {
    std::span<const float> params = trainer.params().values();
    std::size_t at = 0;
    for (const ChunkRange& r : ranges_) {
      runtime::ops::sub(delta.values().subspan(at, r.count), theta_g_.values().subspan(at, r.count),
                        params.subspan(r.begin, r.count));
      at += r.count;
    }
  }
  apply_wire_format(delta, wire_format);
  return delta;
}

void GlobalCopy::step(const runtime::Tensor& mean_delta) {
  if (!theta_g_.is_real()) return;
  outer_.step(theta_g_.values(), mean_delta.values());
}

void GlobalCopy::reset_from(const runtime::Trainer& trainer) {
  if (!trainer.is_real()) return;
  each_range(trainer.params().values(), theta_g_.values(),
             [](std::span<const float> p, std::span<float> g) { runtime::ops::copy(g, p); });
}

void GlobalCopy::merge_into(runtime::Trainer& trainer, double alpha) const {
  if (!trainer.is_real()) return;
  each_range(trainer.params().values(), theta_g_.values(),
             [alpha](std::span<float> p, std::span<const float> g) { runtime::ops::lerp(p, g, alpha); });
}

ReplicaState GlobalCopy::state(const World& world) {
  ReplicaState s;
  if (theta_g_.is_real()) {
    std::span<const float> initial = world.training.initial_parameters();
    if (ranges_.size() > 1 && initial_.empty()) {  // gathered once, as theta_g is
      initial_.reserve(count_);
      for (const ChunkRange& r : ranges_) initial_.insert(initial_.end(), initial.begin() + r.begin, initial.begin() + r.begin + r.count);
    }
    s.tensors.push_back({theta_g_.values(), ranges_.size() > 1 ? std::span<const float>(initial_)
                                                               : initial.subspan(ranges_[0].begin, ranges_[0].count)});
  } else {
    s.tensors.push_back({});
  }
  s.optimizers.push_back(&outer_);
  s.bytes = state_bytes(count_, outer_.spec());
  return s;
}

void GlobalCopy::restart_inner(runtime::Trainer& trainer) const {
  merge_into(trainer, 0.0);
  trainer.optimizer().reset();
}

void outer_step(WorkerContext& ctx, GlobalCopy& global, const runtime::Tensor& mean_delta, long round,
                const std::vector<int>& members) {
  global.step(mean_delta);
  global.merge_into(ctx.trainer(), 0.0);
  resilience::applied(ctx, round + 1, members);
}

const std::vector<int>& averaged_gradient_round(WorkerContext& ctx, long step, const std::vector<GradientBucket>& buckets,
                                                AllreduceAlgo algo, const ReducedTensor& reduced, double& loss,
                                                double optimizer_in_backward_s) {
  const int batch = ctx.scenario().workload.batch_per_worker;
  if (buckets.size() > 1 && !ctx.faults_on()) {
    loss = overlapped_step(ctx, batch, buckets, algo, reduced, optimizer_in_backward_s);
    return ctx.all_ranks();
  }
  if (buckets.size() > 1) {  // the buckets' all-reduces are the step's round, on the stream
    const GroupRound round = [step](WorkerContext& comm, runtime::Tensor& t, const std::function<void(const std::vector<int>&)>& body) {
      return resilience::group_round(comm, step, t, body, /*concurrent_work_in_round=*/true);
    };
    std::vector<int> members;
    loss = overlapped_group_step(ctx, batch, buckets, algo, reduced, round, members, optimizer_in_backward_s);
    return ctx.keep_round_members(std::move(members));
  }
  loss = ctx.compute_gradient(batch);
  return resilience::allreduce_round(ctx, step, reduced(), algo);
}

std::vector<KnobSpec> overlap_knobs(bool on_by_workload, bool under_faults) {
  KnobSpec overlap{"overlap", KnobType::boolean, false, 0, 0, false, {},
                   "exchange the gradient in buckets while the backward goes on (false: compute, then one exchange of the whole)"};
  if (on_by_workload) {
    overlap.default_value = nullptr;
    overlap.meaning += under_faults ? "; default true for transformer and layers workloads"
                                    : "; default true for transformer and layers workloads in runs without faults";
    overlap.default_text = "by workload";
  }
  return {overlap,
          {"bucket_cap_MB", KnobType::number, kDefaultBucketCapMB, 0, 1e6, true, {},
           "gradient bucket size in MiB of wire bytes, as PyTorch DDP's bucket_cap_mb"}};
}

std::optional<double> read_overlap(JsonReader& reader, const std::vector<KnobSpec>& knobs, const Scenario& s,
                                   std::string_view unsupported, bool under_faults) {
  const KnobSpec& knob = knob_of(knobs, "overlap");
  const bool by_workload = knob.default_value.is_null();
  const bool faults_ok = under_faults || !s.has_faults();
  const bool overlap = by_workload ? read_boolean(reader, knob, unsupported.empty() && s.workload.has_architecture() && faults_ok)
                                   : read_boolean(reader, knob);
  if (overlap && !unsupported.empty()) reader.fail("overlap", fmt::format("expected false {}", unsupported));
  if (overlap && !faults_ok)
    reader.fail("overlap", "expected false in a run with faults (this strategy's overlapped step is not modelled under faults yet)");
  if (overlap && s.workload.measured_compute)
    reader.fail("overlap", "expected false with compute_time \"measured\" (the overlapped step times layers with the model)");
  const double cap_MB = read_number(reader, knob_of(knobs, "bucket_cap_MB"));
  if (!overlap) return std::nullopt;
  return cap_MB * kBytesPerBucketMB;
}

}  // namespace geotrain::sim
