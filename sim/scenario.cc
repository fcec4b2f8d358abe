// Scenario loading: reads the JSON, resolves the topology, validates every field.
#include "sim/scenario.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "sim/calibration.h"
#include "sim/identical_workers.h"
#include "sim/input_tables.h"
#include "sim/json_reader.h"
#include "sim/limits.h"
#include "sim/catalog.h"
#include "sim/strategies/strategy.h"
#include "runtime/gpt.h"
#include "sim/workload_model.h"

namespace geotrain::sim {
namespace {

Topology load_topology(JsonReader& r, const std::string& scenario_file) {
  if (!r.has("topology")) r.fail("topology", "expected a topology object or the path of a topology file");
  const auto& v = r.raw("topology");
  if (v.is_object()) {
    JsonReader tr(v, r.file(), r.path_of("topology"));
    return parse_topology(tr);
  }
  if (!v.is_string()) r.fail("topology", "expected a topology object or the path of a topology file");
  std::filesystem::path p = v.get<std::string>();
  if (p.is_relative() && !scenario_file.empty())
    p = std::filesystem::path(scenario_file).parent_path() / p;
  if (const std::string problem = regular_file_problem(p.lexically_normal().string()); problem == "no such file")
    r.fail("topology", "no such topology file (" + p.lexically_normal().string() +
                           "; relative paths start at the scenario's folder)");
  else if (!problem.empty())
    r.fail("topology", "the topology file " + problem);
  const nlohmann::json doc = read_json_file(p.lexically_normal().string());
  JsonReader tr(doc, p.lexically_normal().string());
  return parse_topology(tr);
}

// The scenario's "calibration" file (relative paths start at the scenario's folder), if any.
std::optional<Calibration> load_scenario_calibration(JsonReader& r, const std::string& scenario_file) {
  r.allow("calibration");
  if (!r.has("calibration")) return std::nullopt;
  const auto& v = r.raw("calibration");
  if (!v.is_string()) r.fail("calibration", "expected the path of a calibration file (geotrain calibrate's calibration.json)");
  std::filesystem::path p = v.get<std::string>();
  if (p.is_relative() && !scenario_file.empty()) p = std::filesystem::path(scenario_file).parent_path() / p;
  const std::string path = p.lexically_normal().string();
  if (const std::string problem = regular_file_problem(path); !problem.empty())
    r.fail("calibration", "the calibration file " + path + ": " + problem + " (relative paths start at the scenario's folder)");
  return load_calibration(path);
}

FleetEntry parse_fleet_entry(JsonReader& r, const Topology& topology, const std::string& file) {
  FleetEntry f;
  f.region = r.string("region");
  f.region_index = topology.region_index(f.region);
  if (f.region_index < 0) {
    std::string list;
    for (const auto& g : topology.regions) list += (list.empty() ? "" : ", ") + g.name;
    r.fail("region", "expected a region of topology \"" + topology.name + "\": " + list);
  }
  f.instance = r.string("instance");
  if (!topology.instance_types.count(f.instance)) {
    std::string list;
    for (const auto& [name, t] : topology.instance_types) list += (list.empty() ? "" : ", ") + name;
    r.fail("instance", "expected an instance type of topology \"" + topology.name + "\": " + list);
  }
  if (const auto why = topology.placement_error(f.region_index, f.instance); !why.empty())
    r.fail("instance", "cannot run in this region: " + why);
  f.count = static_cast<int>(r.integer("count", 1, limits::kMaxWorkers));
  f.pricing = r.choice_or("pricing", "on_demand", input::kPricings) == "spot" ? Pricing::spot
                                                                                   : Pricing::on_demand;
  f.mfu = r.has("mfu") ? r.number("mfu", 0, 1, true) : 0;
  r.allow("mfu");
  r.allow("preemption");
  if (r.has("preemption")) {
    auto pr = r.object("preemption");
    f.preemption = parse_preemption(pr, topology.instance_types.at(f.instance), f.pricing == Pricing::spot, file);
    if (f.preemption.trace.format == "events_csv" && static_cast<int>(f.preemption.trace.nodes.size()) < f.count)
      pr.fail("trace", "the trace has " + std::to_string(f.preemption.trace.nodes.size()) +
                           " nodes, fewer than this entry's count " + std::to_string(f.count));
  }
  r.allow("spot_price");
  if (r.has("spot_price")) {
    if (f.pricing != Pricing::spot)
      r.fail("spot_price", "a market price applies to spot instances only; set the fleet entry's \"pricing\": \"spot\"");
    auto sp = r.object("spot_price");
    f.spot_price = parse_spot_price(sp, f.instance, file);
  }
  r.finish();
  return f;
}

// Inputs and outputs of the real models, from the dataset (fashion_mnist: 28x28 pixels, 10 classes).
constexpr int kFashionMnistPixels = 784;
constexpr int kFashionMnistClasses = 10;

DatasetSpec parse_dataset(JsonReader& r, bool real) {
  DatasetSpec d;
  d.name = r.choice("name", input::kDatasetNames);
  if (d.is_text()) return d;  // refused by the caller: text trains a transformer
  d.partition = r.choice_or("partition", "iid", input::kPartitions) == "iid" ? runtime::Partition::iid
                                                                               : runtime::Partition::label_skew;
  if (d.name == "fashion_mnist") {
    d.path = r.string_or("path", runtime::kFashionMnistDir);
    d.train_samples = static_cast<std::size_t>(r.integer_or("train_samples", 0, 0, limits::kFashionMnistTrainSamples));
    d.test_samples = static_cast<std::size_t>(r.integer_or("test_samples", 0, 0, limits::kFashionMnistTestSamples));
    d.features = kFashionMnistPixels;
    std::error_code ec;
    if (real && !std::filesystem::is_regular_file(std::filesystem::path(d.path) / "train-images-idx3-ubyte.gz", ec) &&
        !std::filesystem::is_regular_file(std::filesystem::path(d.path) / "train-images-idx3-ubyte", ec))
      r.fail("path", "no Fashion-MNIST IDX files there; install the Debian package dataset-fashion-mnist "
                     "(apt-get install dataset-fashion-mnist) or point path at a folder holding them");
  } else {
    d.features = static_cast<int>(r.integer("features", 1, limits::kMaxFeatures));
    d.train_samples = static_cast<std::size_t>(r.integer("train_samples", 1, limits::kMaxSyntheticSamples));
    d.test_samples = static_cast<std::size_t>(r.integer_or("test_samples", input::kDefaultSyntheticTestSamples, 1, limits::kMaxSyntheticSamples));
    d.noise = r.number_or("noise", 0, 0, limits::kMaxHyperparameter);
  }
  r.finish();
  return d;
}

// The language model's dataset (runtime/corpus.h).  kjv: the corpus file must exist, and the
// split of its books must give seq_len + 1 tokens to both sides.
DatasetSpec parse_text_dataset(JsonReader& r, int seq_len) {
  DatasetSpec d;
  d.name = r.choice("name", input::kTextDatasetNames);
  const std::string partition = r.choice_or("partition", "iid", input::kTextPartitions);
  d.text_partition = partition == "iid"          ? runtime::TextPartition::iid
                     : partition == "contiguous" ? runtime::TextPartition::contiguous
                                                 : runtime::TextPartition::by_book;
  d.train_samples = static_cast<std::size_t>(r.integer_or("train_sequences", 0, 0, limits::kMaxTextSequences));
  d.test_samples = static_cast<std::size_t>(r.integer_or("validation_sequences", input::kDefaultValidationSequences, 1,
                                                                   limits::kMaxTextSequences));
  d.validation_books = static_cast<int>(r.integer_or("validation_books", input::kDefaultValidationBooks, 1, limits::kMaxSyntheticBooks));
  std::vector<runtime::Book> books;
  if (d.name == "kjv") {
    std::filesystem::path p = r.string("path");
    if (p.is_relative() && !r.file().empty()) p = std::filesystem::path(r.file()).parent_path() / p;
    d.path = p.lexically_normal().string();
    if (const std::string problem = regular_file_problem(d.path); !problem.empty())
      r.fail("path", "the KJV corpus " + d.path + ": " + problem + "; make it with `" + runtime::kKjvCommand + " > " +
                         d.path + "` (Debian package bible-kjv; scripts/setup.sh writes data/kjv.txt); relative "
                         "paths start at the scenario's folder");
    try {
      books = runtime::load_kjv(d.path);
    } catch (const runtime::DataError& e) {
      r.fail("path", e.what());
    }
  } else {
    d.books = static_cast<int>(r.integer_or("books", input::kDefaultSyntheticBooks, 2, limits::kMaxSyntheticBooks));
    d.bytes_per_book = static_cast<std::size_t>(r.integer_or("bytes_per_book", input::kDefaultSyntheticBookBytes, 1,
                                                              limits::kMaxSyntheticBookBytes));
    books = runtime::make_synthetic_books(d.books, d.bytes_per_book);
  }
  if (d.validation_books >= static_cast<int>(books.size()))
    r.fail("validation_books", fmt::format("expected an integer in [1, {}]: the corpus has {} books and at least one "
                                           "must stay for training",
                                           books.size() - 1, books.size()));
  try {
    runtime::make_text_split(books, {seq_len, d.validation_books, 0, 1});
  } catch (const runtime::DataError& e) {
    r.fail("name", fmt::format("the corpus cannot give sequences of seq_len + 1 = {} tokens: {}", seq_len + 1, e.what()));
  }
  r.finish();
  return d;
}

bool is_real_model(const std::string& type) {
  return std::find(input::kRealModelTypes.begin(), input::kRealModelTypes.end(), type) != input::kRealModelTypes.end();
}

void parse_model(JsonReader& m, Workload& w) {
  w.model_type =
      m.choice("type", input::kModelTypes);
  if (w.model_type == "transformer") return parse_transformer(m, w);
  if (w.model_type == "layers") return parse_layer_list(m, w);
  if (w.model_type == "profile") {
    w.parameters = m.number("parameters", 1, limits::kMaxParameters);
    w.flops_per_sample = m.number("flops_per_sample", 0, limits::kMaxFlopsPerSample, true);
    // One layer; flops_per_sample stays as given, so compute time does too.
    w.layers = {{"model", w.parameters, w.flops_per_sample / 3, w.flops_per_sample * 2 / 3}};
  } else if (w.model_type == "mlp") {
    if (!m.has("hidden")) m.fail("hidden", "expected a non-empty array of layer widths, e.g. [100]");
    const auto& h = m.raw("hidden");
    if (!h.is_array() || h.empty()) m.fail("hidden", "expected a non-empty array of layer widths, e.g. [100]");
    for (std::size_t i = 0; i < h.size(); ++i) {
      if (!h[i].is_number_integer() || h[i].get<long>() < 1 || h[i].get<long>() > limits::kMaxMlpWidth)
        throw_bad_input(m.file(), json_pointer_append(m.path_of("hidden"), std::to_string(i)),
                        json_value_text(h[i]), fmt::format("expected an integer in [1, {}]", limits::kMaxMlpWidth));
      w.model.hidden.push_back(h[i].get<int>());
    }
    w.model.activation = m.choice_or("activation", "relu", input::kActivations) == "relu" ? runtime::Activation::relu
                                                                                        : runtime::Activation::tanh;
  }
  m.finish();
}

Workload parse_workload(JsonReader& r) {
  Workload w;
  auto m = r.object("model");
  parse_model(m, w);
  w.backend = *runtime::parse_backend(r.choice_or("backend", "none", input::kBackends));
  const bool real = w.backend == runtime::BackendKind::cpu;
  if (is_real_model(w.model_type)) {
    auto d = r.object("dataset");
    w.dataset = parse_dataset(d, real);
    w.has_dataset = true;
    const bool regression = w.model_type == "linear_regression";
    if (w.dataset.is_text())
      r.fail("dataset", "text datasets (kjv, synthetic_text) train a transformer (model type \"transformer\")");
    if (regression != (w.dataset.name == "synthetic_linear"))
      r.fail("dataset", regression ? "linear_regression trains on the synthetic_linear dataset"
                                   : "classification models train on fashion_mnist");
    w.model.inputs = w.dataset.features;
    w.model.outputs = regression ? 1 : kFashionMnistClasses;
    w.model.loss = regression ? runtime::Loss::half_mse : runtime::Loss::softmax_cross_entropy;
    const runtime::Mlp arch(w.model);
    w.parameters = static_cast<double>(arch.parameter_count());
    w.flops_per_sample = arch.flops_per_sample();
    w.layers = arch.layers();
  } else if (w.model_type == "transformer" && real) {
    if (const std::string needs = runtime::gpt_unsupported(w.transformer); !needs.empty())
      r.fail("backend", "backend \"cpu\" trains GPT-2-style transformers only, which need " + needs);
    if (w.transformer.vocab != runtime::kByteVocab)
      throw_bad_input(r.file(), json_pointer_append(r.path_of("model"), "vocab"), std::to_string(w.transformer.vocab),
                      "expected 256: backend \"cpu\" trains on byte-level tokens");
    auto d = r.object("dataset");
    w.dataset = parse_text_dataset(d, w.transformer.seq_len);
    w.has_dataset = true;
    w.model.transformer = w.transformer;
  } else {
    r.allow("dataset");
    if (real)
      r.fail("backend", "backend \"cpu\" needs a real model (softmax_regression, mlp, linear_regression or a "
                        "GPT-2-style transformer), not a size-only " + w.model_type);
  }
  if (w.has_dataset && !w.dataset.is_text() && w.model_type == "transformer")
    r.fail("dataset", "a transformer trains on text: dataset kjv or synthetic_text");
  w.measured_compute = r.choice_or("compute_time", "model", input::kComputeTimes) == "measured";
  if (w.measured_compute && !real)
    r.fail("compute_time", "\"measured\" needs a real backend (\"backend\": \"cpu\"); size-only runs use \"model\"");
  r.allow("optimizer");
  if (r.has("optimizer")) {
    auto o = r.object("optimizer");
    w.optimizer = parse_optimizer(o);
  }
  parse_precision(r, w);
  w.mfu = r.has("mfu") ? r.number("mfu", 0, 1, true) : 0;
  r.allow("mfu");
  w.batch_per_worker = static_cast<int>(r.integer("batch_per_worker", 1, limits::kMaxBatchPerWorker));
  w.steps = static_cast<int>(r.integer("steps", 1, limits::kMaxSteps));
  if (w.optimizer.cosine && w.optimizer.decay_steps == 0) w.optimizer.decay_steps = w.steps;
  w.eval_every = static_cast<int>(r.integer_or("eval_every", 0, 0, limits::kMaxSteps));
  r.allow("target");
  if (r.has("target")) {
    auto t = r.object("target");
    const auto keys = t.keys();
    const bool lm = w.model_type == "transformer";
    if (keys.size() != 1 ||
        std::find(input::kTargetKeys.begin(), input::kTargetKeys.end(), keys[0]) == input::kTargetKeys.end())
      t.fail_here("expected exactly one of {\"test_accuracy\": value in (0, 1]}, {\"test_loss\": value > 0} or, for a "
                  "transformer, {\"val_loss\": nats per token > 0}");
    if (keys[0] == "val_loss" && !lm) t.fail("val_loss", "val_loss is a language model's target (model type transformer)");
    w.target = Target{keys[0], keys[0] == "test_accuracy" ? t.number("test_accuracy", 0, 1, true)
                                                         : t.positive(keys[0])};
  }
  r.finish();
  return w;
}

NetworkSpec parse_network(JsonReader& r) {
  NetworkSpec n;
  n.fidelity = r.choice_or("fidelity", "message", input::kFidelities) == "collective" ? Fidelity::collective
                                                                                            : Fidelity::message;
  n.default_tcp_window_B = r.number_or("tcp_window_B", n.default_tcp_window_B, limits::kMinWindow_B, limits::kMaxWindow_B);
  n.window_cap = r.boolean_or("window_cap", true);
  n.parallel_streams = static_cast<int>(r.integer_or("parallel_streams", 1, 1, limits::kMaxStreams));
  n.streams_exponent = r.number_or("streams_exponent", 1, 0, 1, true);
  r.allow("collective_streams");
  if (r.has("collective_streams")) n.collective_streams = static_cast<int>(r.integer("collective_streams", 1, limits::kMaxStreams));
  r.finish();
  return n;
}

}  // namespace

runtime::OptimizerSpec parse_optimizer(JsonReader& r) {
  runtime::OptimizerSpec o;
  o.name = r.choice("name", input::kOptimizerNames);
  o.lr = r.number("lr", 0, limits::kMaxHyperparameter, true);
  o.momentum = r.number_or("momentum", o.momentum, 0, 1);
  o.weight_decay = r.number_or("weight_decay", 0, 0, limits::kMaxHyperparameter);
  o.beta1 = r.number_or("beta1", o.beta1, 0, 1);
  o.beta2 = r.number_or("beta2", o.beta2, 0, 1);
  o.eps = r.number_or("eps", o.eps, 0, 1, true);
  o.warmup_steps = r.integer_or("warmup_steps", 0, 0, limits::kMaxScheduleSteps);
  o.cosine = r.choice_or("schedule", "constant", input::kSchedules) == "cosine";
  o.decay_steps = r.integer_or("decay_steps", 0, 0, limits::kMaxScheduleSteps);  // 0 with cosine: the workload's steps
  o.min_lr_ratio = r.number_or("min_lr_ratio", o.min_lr_ratio, 0, 1);
  o.clip_norm = r.number_or("clip_norm", 0, 0, limits::kMaxHyperparameter);
  r.finish();
  return o;
}

bool Scenario::has_faults() const {
  const bool preemptible = std::any_of(fleet.begin(), fleet.end(), [](const FleetEntry& f) {
    return f.preemption.model != "none" || (f.spot_price && f.spot_price->has_max_price());
  });
  return faults.any(preemptible) || faults.checkpoint.has_value();
}

int Scenario::worker_count() const {
  int n = 0;
  for (const auto& f : fleet) n += f.count;
  return n;
}

namespace {

// Under faults a collective must be able to fail half-way (a member dies, a link goes down):
// only flows do that.
void check_fidelity(const Scenario& s) {
  if (s.network.fidelity == Fidelity::collective && s.has_faults())
    throw_bad_input(s.file, "/network/fidelity", "\"collective\"",
                    "the collective fidelity does not model faults (preemptions, link faults, checkpoints): a "
                    "collective there cannot fail half-way; use \"message\" for runs with faults");
}

// The fleet array's length, before any entry is read: one entry is at least one worker.
void check_fleet_size(JsonReader& r) {
  if (r.has("fleet") && r.raw("fleet").is_array() && r.raw("fleet").size() > static_cast<std::size_t>(limits::kMaxWorkers))
    throw_bad_input(r.file(), "/fleet", fmt::format("{} entries", r.raw("fleet").size()),
                    fmt::format("expected at most {} entries (at most {} workers in all)", limits::kMaxWorkers,
                                limits::kMaxWorkers));
}

// The actors' stacks must fit this machine's cap on memory mappings (limits.h): a fleet that
// cannot is refused here with the numbers, instead of SimGrid aborting once actors start.  A run
// starts an actor per worker, or one for all of them (identical_workers.h).  The cap is read once
// per process (a sweep loads every point).
void check_actor_stacks_fit(const Scenario& s, const Strategy& strategy) {
  static const long max_maps = [] {
    std::ifstream in("/proc/sys/vm/max_map_count");
    long n = 0;
    return in >> n ? n : 0L;
  }();
  if (max_maps <= limits::kReservedMappings) return;  // not Linux, or unreadable
  const long workers = s.worker_count();
  const long most = (max_maps - limits::kReservedMappings) / limits::kMappingsPerWorker;
  if (workers <= most ||
      one_actor_for_all_workers(s, strategy.same_program_on_every_worker(), strategy.servers(s).size()))
    return;
  throw_bad_input(s.file, "/fleet", fmt::format("{} workers", workers),
                  fmt::format("at most {} workers on this machine: each is a simulated process with its own stack "
                              "({} memory mappings), and vm.max_map_count is {} ({} kept for the rest); raise it "
                              "(sudo sysctl -w vm.max_map_count={}), simulate fewer workers, or meet the rule for "
                              "identical workers (one process for all: collective fidelity, no faults, one "
                              "instance type, a strategy running the same program everywhere)",
                              most, limits::kMappingsPerWorker, max_maps, limits::kReservedMappings,
                              workers * limits::kMappingsPerWorker + limits::kReservedMappings));
}

// Real training holds copies of the model per worker in this process's memory: a model and fleet
// that cannot fit are refused here, with the numbers, rather than dying of bad_alloc later.
void check_real_model_fits(const Scenario& s) {
  if (s.workload.backend == runtime::BackendKind::none) return;
  constexpr double kBytesPerFloat = 4;
  const double needed_B =
      s.workload.parameters * s.worker_count() * kBytesPerFloat * limits::kRealCopiesPerParameter;
  if (needed_B > limits::kMaxRealModelBytes)
    throw_bad_input(s.file, "/workload/model",
                    fmt::format("{:.4g} parameters x {} workers", s.workload.parameters, s.worker_count()),
                    fmt::format("real training (backend \"{}\") needs about {:.4g} GB here ({:g} float copies per "
                                "parameter per worker), over the limit of {:g} GB; use backend \"none\" (size-only) "
                                "for models this large",
                                runtime::backend_name(s.workload.backend), needed_B / 1e9, limits::kRealCopiesPerParameter,
                                limits::kMaxRealModelBytes / 1e9));
}

// The optimizer step's time needs the GPUs' memory bandwidth: without it the step takes no time.
void add_memory_bandwidth_warnings(Scenario& s) {
  std::vector<std::string> named;
  for (const auto& f : s.fleet) {
    if (s.topology.instance_types.at(f.instance).hbm_Bps > 0) continue;
    if (std::find(named.begin(), named.end(), f.instance) != named.end()) continue;
    named.push_back(f.instance);
    s.warnings.push_back(fmt::format("instance type \"{}\" has no hbm_GBps: its optimizer steps take no simulated "
                                     "time (add hbm_GBps, the GPU memory bandwidth, to the instance type)",
                                     f.instance));
  }
}

// A strategy whose overlap defaults on with an architecture runs the atomic step in a run with
// faults (the overlapped step is not modelled under faults): say so, since its exposed
// communication is then that of compute-then-all-reduce, more than the framework's.
void add_overlap_off_warning(Scenario& s) {
  if (!s.has_faults() || !s.workload.has_architecture() || s.strategy.contains("overlap")) return;
  const std::string name = s.strategy.value("name", "");
  const StrategyInfo* info = find_strategy(name);
  if (!info || info->overlaps_under_faults) return;
  const auto knob = std::find_if(info->knobs.begin(), info->knobs.end(), [](const KnobSpec& k) { return k.name == "overlap"; });
  if (knob == info->knobs.end() || !knob->default_value.is_null()) return;  // not on by default
  // The parameter server overlaps only in synchronous mode without a clip_norm (its read_overlap).
  if (name == "parameter_server" && (s.strategy.value("mode", "async") != "sync" || s.workload.optimizer.clip_norm > 0)) return;
  s.warnings.push_back(fmt::format("strategy \"{}\": overlap is off in this run with faults (not modelled under faults "
                                   "yet): each step computes, then exchanges the whole gradient, so its exposed "
                                   "communication is an upper bound of the framework's, which overlaps it with the "
                                   "backward",
                                   name));
}

}  // namespace

Scenario parse_scenario(const nlohmann::json& doc, const std::string& file) {
  JsonReader r(doc, file);
  Scenario s;
  s.file = file;
  s.name = r.string_or("name", std::filesystem::path(file).stem().string());
  r.allow("description");  // free text for people
  s.seed = r.unsigned_integer("seed");
  const std::optional<Calibration> calibration = load_scenario_calibration(r, file);
  s.topology = load_topology(r, file);
  if (calibration) {
    s.calibration = calibration->file;
    apply_calibration(*calibration, s.topology, s.warnings);
  }
  check_fleet_size(r);
  for (auto& fr : r.objects("fleet", 1)) s.fleet.push_back(parse_fleet_entry(fr, s.topology, file));
  if (s.worker_count() > limits::kMaxWorkers)
    throw_bad_input(file, "/fleet", fmt::format("{} workers", s.worker_count()),
                    fmt::format("expected at most {} workers in all (one SimGrid host each)", limits::kMaxWorkers));
  auto wr = r.object("workload");
  s.workload = parse_workload(wr);
  if (calibration)
    for (auto& [name, type] : s.topology.instance_types)
      if (const double mfu = calibrated_mfu(*calibration, name, s.workload.parameters, s.workload.flops_per_sample); mfu > 0)
        type.utilization = mfu;
  check_real_model_fits(s);
  r.allow("network");
  if (r.has("network")) {
    auto nr = r.object("network");
    s.network = parse_network(nr);
  }
  if (calibration && calibration->streams_exponent > 0 &&
      !(r.has("network") && r.raw("network").contains("streams_exponent")))
    s.network.streams_exponent = calibration->streams_exponent;
  r.allow("output");
  if (r.has("output")) {
    auto out = r.object("output");
    const std::vector<std::string> names = trace_detail_names();
    const std::string trace = out.choice_or("trace", "steps", names);
    s.trace = static_cast<TraceDetail>(std::find(names.begin(), names.end(), trace) - names.begin());
    s.trace_max_spans = static_cast<std::size_t>(
        out.integer_or("trace_max_spans", static_cast<std::int64_t>(kDefaultTraceMaxSpans), 100, 100000000));
    out.finish();
  }
  r.allow("faults");
  if (r.has("faults")) {
    auto fr = r.object("faults");
    s.faults = parse_faults(fr, s.topology);
    for (std::size_t i = 0; i < s.faults.links.size(); ++i) {
      const LinkFault& l = s.faults.links[i];
      const bool direct = std::any_of(s.topology.links.begin(), s.topology.links.end(), [&l](const WanLink& w) {
        return (w.a == l.a && w.b == l.b) || (w.a == l.b && w.b == l.a);
      });
      if (!direct)
        throw_bad_input(file, "/faults/links/" + std::to_string(i) + "/between", l.region_a + ", " + l.region_b,
                        "expected two regions joined by a link of the topology");
    }
  }
  r.allow("checkpoint");
  if (r.has("checkpoint")) {
    auto cr = r.object("checkpoint");
    s.faults.checkpoint = parse_checkpoint(cr, s.topology);
    if (s.faults.checkpoint->auto_interval) {
      // No preemption rate (an on-demand fleet, fixed-time outages only): the optimum is never.
      const double rate = fleet_preemption_rate_per_s(s.fleet, s.faults.zone_outages);
      s.faults.checkpoint->mtbf_s = rate > 0 ? 1 / rate : kNever;
    }
  }
  r.object("strategy");  // an object (the message names the scenario's own path)
  const nlohmann::json strategy = calibration ? calibrated_strategy(*calibration, r.raw("strategy")) : r.raw("strategy");
  JsonReader st(strategy, file, "/strategy");
  const std::unique_ptr<Strategy> built = validate_strategy(st, s);
  s.strategy = strategy;
  s.overheads = strategy_overheads(s.strategy);
  check_fidelity(s);
  check_actor_stacks_fit(s, *built);
  r.finish();
  add_memory_bandwidth_warnings(s);
  add_overlap_off_warning(s);
  return s;
}

Scenario load_scenario(const std::string& file) { return parse_scenario(read_json_file(file), file); }

}  // namespace geotrain::sim
