// JSON Schema of the scenario's nested objects: workload (model per type, dataset per name,
// optimizer, precision, target), network, faults, checkpoint and a fleet entry's preemption.
// Every range, choice and default comes from the table the loader reads it with (sim/limits.h,
// sim/input_tables.h, the spec structs); the loader stays the judge of cross-key rules the schema
// states only in part (a transformer's heads dividing d_model, the corpus's size, regions).
#include "cli/schema_sections.h"

#include <fmt/format.h>

#include "runtime/architecture.h"
#include "runtime/dataset.h"
#include "runtime/optimizer.h"
#include "sim/faults.h"
#include "sim/input_tables.h"
#include "sim/json_reader.h"
#include "sim/limits.h"
#include "sim/scenario.h"

namespace geotrain::cli::schema {

namespace limits = geotrain::sim::limits;
namespace input = geotrain::sim::input;

Json integer(long min, long max, const std::string& description) {
  Json s;
  s["type"] = "integer";
  s["minimum"] = min;
  s["maximum"] = max;
  s["description"] = description;
  return s;
}

Json number(double min, double max, const std::string& description, bool min_exclusive) {
  Json s;
  s["type"] = "number";
  s[min_exclusive ? "exclusiveMinimum" : "minimum"] = min;
  if (max < sim::JsonReader::kInf) s["maximum"] = max;
  if (!description.empty()) s["description"] = description;
  return s;
}

Json choice(const std::vector<std::string>& names, const std::string& description) {
  Json s;
  s["enum"] = names;
  s["description"] = description;
  return s;
}

Json text(const std::string& description) { return {{"type", "string"}, {"description", description}}; }

Json boolean(const std::string& description) { return {{"type", "boolean"}, {"description", description}}; }

Json with_default(Json schema, Json value) {
  schema["default"] = std::move(value);
  return schema;
}

Json closed_object(Json properties, const std::vector<std::string>& required, const std::string& description) {
  Json s;
  s["type"] = "object";
  if (!description.empty()) s["description"] = description;
  s["properties"] = std::move(properties);
  if (!required.empty()) s["required"] = required;
  s["additionalProperties"] = false;
  return s;
}

namespace {

// {"properties": {KEY: {"const": value}}, "required": [KEY]}: the test of an if/then.
Json key_is(const std::string& key, Json value) {
  Json test;
  test["properties"][key]["const"] = std::move(value);
  test["required"] = {key};
  return test;
}

Json if_then(Json test, Json then) { return {{"if", std::move(test)}, {"then", std::move(then)}}; }

// A model object's type as the first property of its branch.
Json type_const(const std::string& type, const std::string& description) {
  return {{"const", type}, {"description", description}};
}

// ---- workload.model: one branch per type ----

Json transformer_schema() {
  const runtime::TransformerSpec t;
  const long width = limits::kMaxTransformerWidth;
  Json p;
  p["type"] = type_const("transformer", "a decoder-only transformer, sized from its configuration");
  p["layers"] = integer(1, limits::kMaxTransformerLayers, "transformer blocks");
  p["d_model"] = integer(1, width, "hidden width");
  p["heads"] = integer(1, width, "attention heads; must divide d_model");
  p["kv_heads"] = integer(1, width, "key/value heads (grouped-query attention); must divide heads (default: heads)");
  p["mlp"] = with_default(choice(input::kTransformerMlps, "MLP form: GPT-2's gelu or the LLaMA family's swiglu"), "gelu");
  p["d_ff"] = integer(1, width, "MLP inner width (default: 4 x d_model)");
  p["seq_len"] = integer(1, limits::kMaxSeqLen, "tokens per sequence (one sample)");
  p["vocab"] = integer(1, limits::kMaxVocab, "vocabulary size (backend cpu: 256, byte-level)");
  p["tied_embeddings"] = boolean("output layer shares the token embedding (default: true for gelu, false for swiglu)");
  p["position_embedding"] = choice(input::kPositionEmbeddings, "default: learned for gelu, rotary for swiglu");
  p["norm"] = choice(input::kNorms, "default: layernorm for gelu, rmsnorm for swiglu");
  p["bias"] = boolean("biases in linear layers (default: true for gelu, false for swiglu)");
  p["backward_flops_factor"] = with_default(
      number(0, limits::kMaxBackwardFlopsFactor, "backward FLOPs per forward FLOP", true), t.backward_flops_factor);
  return closed_object(p, {"type", "layers", "d_model", "heads", "seq_len", "vocab"});
}

Json model_schema() {
  const double max_flops = limits::kMaxFlopsPerSample;
  Json branches = Json::array();
  {
    Json p;
    p["type"] = type_const("profile", "size-only: parameters and FLOPs per sample");
    p["parameters"] = number(1, limits::kMaxParameters, "trainable values");
    p["flops_per_sample"] = number(0, max_flops, "forward + backward FLOPs of one sample", true);
    branches.push_back(closed_object(p, {"type", "parameters", "flops_per_sample"}));
  }
  branches.push_back(transformer_schema());
  {
    Json layer;
    layer["name"] = text("the layer's name in traces");
    layer["parameters"] = number(0, limits::kMaxParameters, "trainable values of the layer");
    layer["forward_flops"] = number(0, max_flops, "forward FLOPs per sample");
    layer["backward_flops"] = number(0, max_flops, fmt::format("backward FLOPs per sample (default: {:g} x forward_flops)",
                                                               runtime::kDefaultBackwardFlopsFactor));
    Json p;
    p["type"] = type_const("layers", "size-only: an explicit list of layers, in forward order");
    p["layers"] = {{"type", "array"}, {"minItems", 1}, {"items", closed_object(layer, {"name", "parameters", "forward_flops"})}};
    branches.push_back(closed_object(p, {"type", "layers"}));
  }
  branches.push_back(closed_object({{"type", type_const("softmax_regression", "real: inputs -> 10 classes (fashion_mnist)")}},
                                   {"type"}));
  {
    Json p;
    p["type"] = type_const("mlp", "real: inputs -> hidden... -> 10 classes (fashion_mnist)");
    p["hidden"] = {{"type", "array"},
                   {"minItems", 1},
                   {"items", integer(1, limits::kMaxMlpWidth, "units")},
                   {"description", "hidden layer widths, e.g. [100]"}};
    p["activation"] = with_default(choice(input::kActivations, "activation of the hidden layers"), "relu");
    branches.push_back(closed_object(p, {"type", "hidden"}));
  }
  branches.push_back(closed_object(
      {{"type", type_const("linear_regression", "real: inputs -> 1, squared error (synthetic_linear)")}}, {"type"}));
  Json s;
  s["type"] = "object";
  s["description"] = "what one step computes and sends: a size-only profile or architecture, or a real model";
  s["properties"]["type"] = choice(input::kModelTypes, "the model's kind");
  s["required"] = {"type"};
  s["oneOf"] = branches;
  return s;
}

// ---- workload.dataset: one schema per name ----

Json fashion_mnist_schema() {
  Json p;
  p["name"] = type_const("fashion_mnist", "Fashion-MNIST: 28x28 pixels, 10 classes (Debian dataset-fashion-mnist)");
  p["partition"] = with_default(choice(input::kPartitions, "worker shards: a seeded shuffle, or sorted by label"), "iid");
  p["path"] = with_default(text("folder of the IDX files (checked with backend cpu)"), runtime::kFashionMnistDir);
  p["train_samples"] = with_default(integer(0, limits::kFashionMnistTrainSamples, "keep the first N training samples (0: all)"), 0);
  p["test_samples"] = with_default(integer(0, limits::kFashionMnistTestSamples, "keep the first N test samples (0: all)"), 0);
  return closed_object(p, {"name"});
}

Json synthetic_linear_schema() {
  Json p;
  p["name"] = type_const("synthetic_linear", "y = x.w* + b* + noise x N(0, 1), drawn from the seed");
  p["partition"] = with_default(choice(input::kPartitions, "worker shards: a seeded shuffle, or sorted by y"), "iid");
  p["features"] = integer(1, limits::kMaxFeatures, "inputs per sample");
  p["train_samples"] = integer(1, limits::kMaxSyntheticSamples, "training samples to generate");
  p["test_samples"] = with_default(integer(1, limits::kMaxSyntheticSamples, "test samples to generate"),
                                   input::kDefaultSyntheticTestSamples);
  p["noise"] = with_default(number(0, limits::kMaxHyperparameter, "standard deviation of the noise on y"), 0);
  return closed_object(p, {"name", "features", "train_samples"});
}

// The language model's datasets: kjv (a corpus file) or synthetic_text (generated books).
Json text_dataset_schema(const std::string& name) {
  Json p;
  const bool kjv = name == "kjv";
  p["name"] = type_const(name, kjv ? "the King James Bible, by book (Debian bible-kjv; scripts/setup.sh writes data/kjv.txt)"
                                   : "generated books of text, from the seed");
  p["partition"] = with_default(choice(input::kTextPartitions, "worker shards of the training sequences"), "iid");
  p["train_sequences"] = with_default(integer(0, limits::kMaxTextSequences, "training sequences (0: all the split gives)"), 0);
  p["validation_sequences"] = with_default(integer(1, limits::kMaxTextSequences, "validation sequences evaluated"),
                                           input::kDefaultValidationSequences);
  p["validation_books"] = with_default(integer(1, limits::kMaxSyntheticBooks, "books held out for validation"),
                                       input::kDefaultValidationBooks);
  if (kjv) {
    p["path"] = text("the corpus file (relative to the scenario's folder)");
  } else {
    p["books"] = with_default(integer(2, limits::kMaxSyntheticBooks, "books to generate"), input::kDefaultSyntheticBooks);
    p["bytes_per_book"] = with_default(integer(1, limits::kMaxSyntheticBookBytes, "bytes of each generated book"),
                                       input::kDefaultSyntheticBookBytes);
  }
  return closed_object(p, kjv ? std::vector<std::string>{"name", "path"} : std::vector<std::string>{"name"});
}

Json precision_schema() {
  Json p;
  p["params"] = choice(input::kDtypes, "dtype of parameters and gradients (default: bf16 for a size-only transformer, else fp32)");
  p["optimizer_state"] = with_default(choice(input::kDtypes, "dtype of the optimizer's state tensors"), "fp32");
  return closed_object(p, {}, "dtypes of the parameters and the optimizer state");
}

Json target_schema() {
  Json p;
  p["test_accuracy"] = number(0, 1, "reached at the first evaluation with test accuracy >= value", true);
  p["test_loss"] = number(0, sim::JsonReader::kInf, "reached at the first evaluation with test loss <= value", true);
  p["val_loss"] = number(0, sim::JsonReader::kInf, "a transformer's validation loss, nats per token", true);
  Json s = closed_object(p, {}, "exactly one of test_accuracy, test_loss or (transformer) val_loss");
  s["minProperties"] = 1;
  s["maxProperties"] = 1;
  return s;
}

// The loader's cross-key rules of the workload, as far as a schema states them.
Json workload_rules() {
  const auto model_type_in = [](const std::vector<std::string>& types) {
    Json test;
    test["properties"]["model"]["properties"]["type"]["enum"] = types;
    test["properties"]["model"]["required"] = {"type"};
    test["required"] = {"model"};
    return test;
  };
  Json rules = Json::array();
  Json image;
  image["required"] = {"dataset"};
  image["properties"]["dataset"] = fashion_mnist_schema();
  rules.push_back(if_then(model_type_in({"softmax_regression", "mlp"}), image));
  Json linear;
  linear["required"] = {"dataset"};
  linear["properties"]["dataset"] = synthetic_linear_schema();
  rules.push_back(if_then(model_type_in({"linear_regression"}), linear));
  Json lm_test = model_type_in({"transformer"});
  lm_test["properties"]["backend"]["const"] = "cpu";
  lm_test["required"].push_back("backend");
  Json lm;
  lm["required"] = {"dataset"};
  lm["properties"]["dataset"]["oneOf"] = {text_dataset_schema("kjv"), text_dataset_schema("synthetic_text")};
  rules.push_back(if_then(lm_test, lm));
  // backend cpu trains real models and transformers only; measured compute needs it. Each rule
  // refuses the key the loader names in its message.
  Json not_cpu;
  not_cpu["properties"]["backend"]["not"]["const"] = "cpu";
  rules.push_back(if_then(model_type_in({"profile", "layers"}), not_cpu));
  Json cpu_test;
  cpu_test["not"] = key_is("backend", "cpu");
  Json not_measured;
  not_measured["properties"]["compute_time"]["not"]["const"] = "measured";
  rules.push_back(if_then(cpu_test, not_measured));
  // val_loss is a transformer's target.
  Json not_transformer;
  not_transformer["properties"]["model"]["properties"]["type"]["not"]["const"] = "transformer";
  Json no_val_loss;
  no_val_loss["properties"]["target"]["properties"]["val_loss"] = false;
  rules.push_back(if_then(not_transformer, no_val_loss));
  // The parameters' size is given once: wire_bytes_per_param or precision.params.
  Json params_test;
  params_test["properties"]["precision"]["required"] = {"params"};
  params_test["required"] = {"precision"};
  Json no_wire;
  no_wire["properties"]["wire_bytes_per_param"] = false;
  rules.push_back(if_then(params_test, no_wire));
  return rules;
}

// A delay: seconds, or a distribution.
Json delay_schema(const std::string& description) {
  const double max = limits::kMaxTime_s;
  Json fixed = closed_object({{"distribution", {{"const", "fixed"}}}, {"value_s", number(0, max, "the delay, s")}},
                             {"distribution", "value_s"});
  Json exponential = closed_object(
      {{"distribution", {{"const", "exponential"}}}, {"mean_s", number(0, max, "the mean delay, s", true)}},
      {"distribution", "mean_s"});
  Json uniform = closed_object({{"distribution", {{"const", "uniform"}}},
                                {"min_s", number(0, max, "shortest delay, s")},
                                {"max_s", number(0, max, "longest delay, s (>= min_s)")}},
                               {"distribution", "min_s", "max_s"});
  Json s;
  s["description"] = description;
  s["oneOf"] = {number(0, max, "a fixed delay, s"), fixed, exponential, uniform};
  return s;
}

// [[time_s, value], ...]: a step function of simulated time.
Json steps_schema(double min, double max, const std::string& description) {
  Json pair;
  pair["type"] = "array";
  pair["prefixItems"] = {number(0, limits::kMaxTime_s, "from this simulated time, s"), number(min, max, description)};
  pair["items"] = false;
  pair["minItems"] = 2;
  Json s = {{"type", "array"}, {"items", pair}};
  s["description"] = "[[time_s, " + description + "], ...], times ascending from 0";
  return s;
}

}  // namespace

Json optimizer_schema() {
  const runtime::OptimizerSpec o;
  const double big = limits::kMaxHyperparameter;
  Json p;
  p["name"] = choice(input::kOptimizerNames, "the update rule");
  p["lr"] = number(0, big, "learning rate", true);
  p["momentum"] = with_default(number(0, 1, "momentum and nesterov"), o.momentum);
  p["weight_decay"] = with_default(number(0, big, "L2 for the SGD family, decoupled for adamw"), o.weight_decay);
  p["beta1"] = with_default(number(0, 1, "adamw"), o.beta1);
  p["beta2"] = with_default(number(0, 1, "adamw"), o.beta2);
  p["eps"] = with_default(number(0, 1, "adamw", true), o.eps);
  p["warmup_steps"] = with_default(integer(0, limits::kMaxScheduleSteps, "linear lr warm-up over the first updates"), o.warmup_steps);
  p["schedule"] = with_default(choice(input::kSchedules, "after the warm-up: constant lr, or a half cosine"), "constant");
  p["decay_steps"] = with_default(integer(0, limits::kMaxScheduleSteps, "where the cosine ends (0: the workload's steps)"),
                                  o.decay_steps);
  p["min_lr_ratio"] = with_default(number(0, 1, "the cosine's final lr / lr"), o.min_lr_ratio);
  p["clip_norm"] = with_default(number(0, big, "clip the gradient's global L2 norm to this (0: off)"), o.clip_norm);
  return closed_object(p, {"name", "lr"}, "an optimizer: name, lr, and the knobs of its rule and schedule");
}

Json workload_schema() {
  Json p;
  p["model"] = model_schema();
  p["dataset"] = {{"description",
                   "training data: fashion_mnist (softmax_regression, mlp), synthetic_linear (linear_regression), kjv "
                   "or synthetic_text (transformer with backend cpu); ignored for size-only models"}};
  p["backend"] = with_default(choice(input::kBackends, "none: size-only; cpu: real math on the CPU"), "none");
  p["compute_time"] = with_default(
      choice(input::kComputeTimes, "model: FLOPs over peak x mfu; measured: wall time of the real pass (backend cpu)"),
      "model");
  p["optimizer"] = optimizer_schema();
  p["precision"] = precision_schema();
  p["wire_bytes_per_param"] = number(limits::kMinWireBytesPerParam, limits::kMaxWireBytesPerParam,
                                     "bytes per value on the wire, instead of precision.params");
  p["mfu"] = number(0, 1, "achieved fraction of peak of every worker (default: each instance type's utilization)", true);
  p["batch_per_worker"] = integer(1, limits::kMaxBatchPerWorker, "samples per worker per step");
  p["steps"] = integer(1, limits::kMaxSteps, "steps per worker");
  p["eval_every"] = with_default(integer(0, limits::kMaxSteps, "evaluate every this many timeline rows (0: at the end)"), 0);
  p["target"] = target_schema();
  Json s = closed_object(p, {"model", "batch_per_worker", "steps"},
                         "what is trained: model, dataset, backend, optimizer, batch_per_worker, steps");
  s["allOf"] = workload_rules();
  return s;
}

Json network_schema() {
  const sim::NetworkSpec n;
  Json p;
  p["fidelity"] = with_default(
      choice(input::kFidelities, "message: every message a flow; collective: collectives in closed form (no faults)"),
      "message");
  p["tcp_window_B"] = with_default(number(limits::kMinWindow_B, limits::kMaxWindow_B, "TCP window of links and regions "
                                                                                      "that give none, bytes"),
                                   n.default_tcp_window_B);
  p["window_cap"] = with_default(boolean("cap each transfer at streams x window / RTT"), n.window_cap);
  p["parallel_streams"] = with_default(integer(1, limits::kMaxStreams, "TCP streams of one transfer between regions"),
                                       n.parallel_streams);
  p["streams_exponent"] = with_default(number(0, 1, "the cap grows as streams^exponent", true), n.streams_exponent);
  p["collective_streams"] = integer(1, limits::kMaxStreams,
                                    "TCP streams of one transfer inside a region (default: NCCL's per cloud)");
  return closed_object(p, {}, "simulation settings of the network");
}

Json faults_schema() {
  const sim::FaultSpec f;
  const double max = limits::kMaxTime_s;
  Json zone;
  zone["region"] = text("a region of the topology");
  zone["at_s"] = number(0, max, "one outage at this simulated time, s");
  zone["rate_per_hour"] = number(0, limits::kMaxRatePerHour, "outages at this rate (Poisson)", true);
  zone["duration_s"] = {{"oneOf", {number(0, max, "", true), {{"type", "null"}}}},
                        {"description", "how long the region stays down, s (null or absent: for good; needed with rate_per_hour)"}};
  Json zone_schema = closed_object(zone, {"region"});
  zone_schema["oneOf"] = {{{"required", {"at_s"}}}, {{"required", {"rate_per_hour"}}}};
  zone_schema["dependentSchemas"]["rate_per_hour"] = {{"required", {"duration_s"}},
                                                      {"properties", {{"duration_s", {{"type", "number"}}}}}};
  Json window;
  window["type"] = "array";
  window["prefixItems"] = {number(0, max, "down from, s"),
                           {{"oneOf", {number(0, max, ""), {{"type", "null"}}}}, {"description", "up again, s (null: never)"}}};
  window["items"] = false;
  window["minItems"] = 2;
  Json link;
  link["between"] = {{"type", "array"},
                     {"prefixItems", {text("region a"), text("region b")}},
                     {"items", false},
                     {"minItems", 2},
                     {"description", "two regions joined by a link of the topology"}};
  link["down"] = {{"type", "array"}, {"items", window}, {"description", "[[from_s, to_s], ...] ascending and disjoint"}};
  link["bandwidth"] = steps_schema(limits::kMinLinkBandwidthFraction, 1, "fraction of capacity");
  link["latency"] = steps_schema(1, limits::kMaxLatencyFactor, "factor on latency");
  Json server;
  server["shard"] = integer(0, limits::kMaxServerShard, "the server shard (default: every server)");
  server["down_at_s"] = number(0, max, "down from this simulated time, s");
  server["for_s"] = number(0, max, "for this long, s", true);
  Json p;
  p["time_limit_s"] = with_default(number(0, max, "stop the run at this simulated time, s (0: a week, 604800 s)"), f.time_limit_s);
  p["retry_after_s"] = with_default(number(0, max, "a failed collective is retried after this, s", true), f.retry_after_s);
  p["zone_outages"] = {{"type", "array"}, {"items", zone_schema}, {"description", "whole regions going down"}};
  p["links"] = {{"type", "array"}, {"items", closed_object(link, {"between"})},
                {"description", "link-down windows and bandwidth / latency profiles"}};
  p["servers"] = {{"type", "array"}, {"items", closed_object(server, {"down_at_s", "for_s"})},
                  {"description", "down windows of strategy server nodes"}};
  return closed_object(p, {}, "zone outages, link faults, server faults (preemptions: per fleet entry)");
}

Json checkpoint_schema() {
  const double min_bw = limits::kMinBandwidth_Gbps, max_bw = limits::kMaxBandwidth_Gbps;
  Json p;
  p["every_steps"] = {{"oneOf", Json::array({integer(1, limits::kMaxScheduleSteps, "a checkpoint after every this many steps (rounds)"),
                                              {{"const", "auto"}}})},
                      {"description", "a checkpoint after every this many steps (rounds), or \"auto\": Daly's optimum "
                                      "interval from the checkpoint's cost and the mean time between preemptions"}};
  p["store_region"] = text("the region of the checkpoint store");
  p["write_Gbps"] = number(min_bw, max_bw, "the store's bandwidth for one writer, Gbit/s");
  p["read_Gbps"] = number(min_bw, max_bw, "the store's bandwidth for one reader, Gbit/s");
  p["usd_per_GB_month"] = with_default(number(0, limits::kMaxUsdPerGB, "storage price, $/GB-month"),
                                       input::kDefaultStorageUsdPerGBMonth);
  return closed_object(p, {"every_steps", "store_region", "write_Gbps", "read_Gbps"},
                       "checkpoints of the strategies that write them");
}

Json preemption_schema() {
  const sim::PreemptionSpec d;
  const double max = limits::kMaxTime_s;
  Json p;
  p["model"] = choice(input::kPreemptionModels, "none; hazard: at a rate; trace: a recorded availability trace (spot only)");
  p["rate_per_hour"] = number(0, limits::kMaxRatePerHour, "hazard: preemptions per instance-hour (default: the catalog's band)", true);
  p["trace"] = text("trace: the availability trace file (relative to the scenario's folder)");
  p["trace_start_s"] = with_default(number(0, max, "trace: trace time at simulated time 0, s"), d.trace_start_s);
  Json delay = delay_schema("capacity returns after this: seconds or {distribution, ...}");
  delay["default"] = d.restart_delay.value_s;
  p["restart_delay_s"] = delay;
  p["boot_s"] = with_default(number(0, max, "a returned instance boots (billed) this long before it works, s"), d.boot_s);
  p["policy"] = with_default(choice(input::kPreemptionPolicies, "wait for spot capacity, or fall back to on demand"), d.policy);
  p["fallback_after_s"] = with_default(number(0, max, "fallback_on_demand: an on-demand replacement after this, s"),
                                       d.fallback_after_s);
  Json s = closed_object(p, {"model"}, "spot preemptions of this entry");
  s["allOf"] = Json::array({if_then(key_is("model", "trace"), {{"required", {"trace"}}})});
  return s;
}

Json spot_price_schema() {
  Json p;
  p["trace"] = text("the market price trace: aws ec2 describe-spot-price-history JSON, or a CSV time_s|timestamp,usd_per_hour "
                    "(relative to the scenario's folder)");
  p["zone"] = text("AWS JSON: the availability zone replayed (required when the file holds several)");
  p["instance_type"] = text("AWS JSON: the InstanceType replayed (default: the entry's instance)");
  p["product"] = with_default(text("AWS JSON: the ProductDescription replayed"), "Linux/UNIX");
  p["trace_start_s"] = with_default(number(0, limits::kMaxTime_s, "seconds after the trace's first record at simulated time 0"), 0);
  p["max_price"] = number(0, limits::kMaxUsdPerHour, "the bid, $/h: preempted while the market price is above it", true);
  return closed_object(p, {"trace"}, "the spot market price over time (spot entries only)");
}

}  // namespace geotrain::cli::schema
