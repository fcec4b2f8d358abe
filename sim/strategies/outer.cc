// Outer-loop pieces: global copy, outer gradient, outer step, merge, wire formats.
#include "sim/strategies/outer.h"

#include <cmath>

#include "kernels/quantize.h"
#include "kernels/check.h"

namespace geotrain::sim {

OuterConfig parse_outer(JsonReader& reader, runtime::OptimizerSpec default_outer) {
  OuterConfig c;
  c.optimizer = default_outer;
  reader.allow("outer");
  if (reader.has("outer")) {
    auto o = reader.object("outer");
    c.optimizer = parse_optimizer(o);
  }
  c.allreduce = allreduce_algo_from_name(reader.choice_or("allreduce", "ring", allreduce_algo_names()));
  c.wire_format = reader.choice_or("wire_format", "fp32", {"fp32", "bf16", "fp16", "int8", "fp4", "ternary"});
  return c;
}

namespace {
constexpr std::size_t kScaleBlock = 256;  // values per scale of the block-scaled formats

kernels::WireFormat format_of(const std::string& name) {
  const auto f = kernels::parse_wire_format(name);
  GEOTRAIN_CHECK(f.has_value(), "unknown wire format (validated at load)");
  return *f;
}
}  // namespace

double wire_bytes_per_value(const std::string& format) {
  constexpr std::size_t kValues = kScaleBlock * 4096;  // a multiple of the block: exact overhead
  return static_cast<double>(kernels::wire_bytes(format_of(format), kValues, kScaleBlock)) / kValues;
}

void apply_wire_format(runtime::Tensor& t, const std::string& format) {
  t.set_wire_bytes_per_value(wire_bytes_per_value(format));
  if (!t.is_real() || format == "fp32") return;
  auto v = t.values();
  kernels::roundtrip(format_of(format), v.data(), v.data(), v.size(), kScaleBlock);  // in place
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

runtime::OptimizerSpec nesterov_spec(double lr, double momentum) {
  runtime::OptimizerSpec o;
  o.name = "nesterov";
  o.lr = lr;
  o.momentum = momentum;
  return o;
}

WireBody to_wire(std::span<const float> values, std::size_t count, const std::string& format,
                 double native_bytes_per_value) {
  WireBody body;
  const double per_value = format == "native" ? native_bytes_per_value : wire_bytes_per_value(format);
  body.bytes = static_cast<std::uint64_t>(std::ceil(static_cast<double>(count) * per_value));
  body.values.assign(values.begin(), values.end());
  if (!body.values.empty() && format != "native" && format != "fp32")
    kernels::roundtrip(format_of(format), body.values.data(), body.values.data(), body.values.size(), kScaleBlock);
  return body;
}

const std::vector<std::string>& wire_format_names() {
  static const std::vector<std::string> names = {"native", "fp32", "bf16", "fp16", "int8", "fp4", "ternary"};
  return names;
}

GlobalCopy::GlobalCopy(const runtime::Trainer& trainer, ChunkRange range, const runtime::OptimizerSpec& outer)
    : range_(range),
      theta_g_(trainer.is_real() ? runtime::Tensor::from({trainer.params().slice(range.begin, range.count).begin(),
                                                          trainer.params().slice(range.begin, range.count).end()})
                                 : runtime::Tensor::phantom(range.count)),
      outer_(outer, trainer.is_real() ? range.count : 0) {
  theta_g_.set_wire_bytes_per_value(trainer.params().wire_bytes_per_value());
}

runtime::Tensor GlobalCopy::outer_gradient(const runtime::Trainer& trainer, const std::string& wire_format) const {
  runtime::Tensor delta = trainer.is_real() ? runtime::Tensor::zeros(range_.count) : runtime::Tensor::phantom(range_.count);
  if (trainer.is_real()) {
    const auto m = trainer.params().slice(range_.begin, range_.count);
    const auto g = theta_g_.values();
    auto d = delta.values();
    for (std::size_t i = 0; i < range_.count; ++i) d[i] = g[i] - m[i];
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
  const auto m = trainer.params().slice(range_.begin, range_.count);
  std::copy(m.begin(), m.end(), theta_g_.values().begin());
}

void GlobalCopy::merge_into(runtime::Trainer& trainer, double alpha) const {
  if (!trainer.is_real()) return;
  auto m = trainer.params().slice(range_.begin, range_.count);
  const auto g = theta_g_.values();
  const float a = static_cast<float>(alpha);
  for (std::size_t i = 0; i < range_.count; ++i) m[i] = alpha == 0 ? g[i] : a * m[i] + (1 - a) * g[i];
}

ReplicaState GlobalCopy::state(const World& world) {
  ReplicaState s;
  if (theta_g_.is_real())
    s.tensors.push_back({theta_g_.values(),
                         std::span<const float>(world.training.initial_parameters()).subspan(range_.begin, range_.count)});
  else
    s.tensors.push_back({});
  s.optimizers.push_back(&outer_);
  s.bytes = state_bytes(range_.count, outer_.spec());
  return s;
}

void GlobalCopy::restart_inner(runtime::Trainer& trainer) const {
  merge_into(trainer, 0.0);
  trainer.optimizer().reset();
}

}  // namespace geotrain::sim
