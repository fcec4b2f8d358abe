// run_scenario: engine configuration, actors, and the results document.
#include "sim/run.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <optional>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <simgrid/s4u.hpp>
#include <simgrid/version.h>

#include "common/cpu_time.h"

#include "sim/fault_injector.h"
#include "sim/collectives/analytic.h"
#include "sim/compute_model.h"
#include "sim/identical_workers.h"
#include "sim/resilience/membership.h"
#include "sim/resilience/replica.h"
#include "sim/result_keys.h"
#include "sim/strategies/strategy.h"
#include "sim/training.h"

namespace sg4 = simgrid::s4u;
namespace keys = geotrain::result_keys;

namespace geotrain::sim {

// The recorder outlives the simulation here, for RunOutput to render its timeline and trace.
struct RunRecords {
  std::shared_ptr<const Recorder> recorder;
  bool real_losses = false;
  std::vector<TraceNode> nodes;
  std::vector<std::string> region_names;
};

namespace {

constexpr double kBytesPerGB = 1e9;

#if defined(__SANITIZE_ADDRESS__)  // g++
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)  // clang++
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// The user's SimGrid options (--cfg KEY:VALUE), applied after geotrain's own.
std::vector<std::string>& simgrid_options() {
  static std::vector<std::string> options;
  return options;
}

// CM02 without its latency/bandwidth correction factors, no reverse-path cross traffic, and no
// global TCP window: the per-flow window cap is ours (Platform::rate_cap_Bps), per route.  Then the
// user's options, which may override these.
void start_engine() {
  // The context factory is chosen when the engine is created: it must be on the command line.
  static int argc = actors_on_threads() ? 3 : 2;
  static char* argv[] = {const_cast<char*>("geotrain"), const_cast<char*>("--log=root.thres:critical"),
                         const_cast<char*>("--cfg=contexts/factory:thread"), nullptr};
  if (!actors_on_threads()) argv[2] = nullptr;
  new sg4::Engine(&argc, argv);  // lives until the process ends (one engine per process)
  sg4::Engine::set_config("network/model:CM02");
  sg4::Engine::set_config("network/crosstraffic:0");
  sg4::Engine::set_config("network/TCP-gamma:1e30");
  for (const auto& option : simgrid_options()) sg4::Engine::set_config(option);
}

// The first line of a SimGrid message, without its "[time] file:line: [category/PRIORITY] " prefix.
std::string first_line(std::string text) {
  text = text.substr(0, text.find('\n'));
  if (const auto critical = text.find("CRITICAL] "); critical != std::string::npos) text = text.substr(critical + 10);
  return text;
}

nlohmann::ordered_json nullable(double x, bool valid) { return valid ? nlohmann::ordered_json(x) : nullptr; }

nlohmann::ordered_json convergence(const Scenario& s, const Recorder& recorder) {
  nlohmann::ordered_json c;
  const bool real = s.workload.backend != runtime::BackendKind::none;
  const bool any_row = recorder.row_count() > 0;
  c[keys::convergence::kFinalTrainLoss] = nullable(any_row ? recorder.last_row().train_loss : 0, real && any_row);
  std::optional<TimelineRow> last_eval, reached;  // copies: the rows may be read back from the disk
  const auto& target = s.workload.target;
  recorder.for_each_row([&](const TimelineRow& r) {
    if (!r.evaluated) return;
    last_eval = r;
    if (!reached && target &&
        (target->metric == "test_accuracy" ? r.test_accuracy >= target->value : r.test_loss <= target->value))
      reached = r;
  });
  c[keys::convergence::kFinalTestLoss] = nullable(last_eval ? last_eval->test_loss : 0, last_eval.has_value());
  c[keys::convergence::kFinalTestAccuracy] = nullable(last_eval ? last_eval->test_accuracy : 0, last_eval.has_value());
  if (real && s.workload.model_type == "transformer") {
    const bool valid = last_eval.has_value();
    const double loss = valid ? last_eval->test_loss : 0;
    c[keys::convergence::kFinalValLoss] = nullable(loss, valid);
    c[keys::convergence::kFinalBitsPerByte] = nullable(loss / std::numbers::ln2, valid);
    c[keys::convergence::kFinalPerplexity] = nullable(std::exp(loss), valid);
    c[keys::convergence::kFinalNextTokenAccuracy] = nullable(valid ? last_eval->test_accuracy : 0, valid);
  }
  c[keys::convergence::kTarget] = target ? nlohmann::ordered_json{{"metric", target->metric}, {"value", target->value}}
                       : nlohmann::ordered_json(nullptr);
  c[keys::convergence::kTimeToTargetS] = nullable(reached ? reached->time_s : 0, reached.has_value());
  c[keys::convergence::kCostToTargetUsd] = nullable(reached ? reached->compute_usd + reached->egress_usd : 0, reached.has_value());
  c["samples_to_target"] = nullable(reached ? reached->samples : 0, reached.has_value());
  return c;
}

// Bytes and egress dollars per (source, destination) region pair that carried traffic.
nlohmann::ordered_json links_block(const Scenario& s, const Ledger& ledger) {
  auto links = nlohmann::ordered_json::array();
  const auto& regions = s.topology.regions;
  for (std::size_t a = 0; a < regions.size(); ++a)
    for (std::size_t b = 0; b < regions.size(); ++b) {
      const auto bytes = ledger.bytes(static_cast<int>(a), static_cast<int>(b));
      if (bytes == 0) continue;
      links.push_back({{keys::link::kSrcRegion, regions[a].name},
                       {keys::link::kDstRegion, regions[b].name},
                       {keys::link::kBytes, bytes},
                       {keys::link::kUsdPerGB, s.topology.egress_usd_per_B(static_cast<int>(a), static_cast<int>(b)) * kBytesPerGB},
                       {keys::link::kEgressUsd, ledger.egress_usd(static_cast<int>(a), static_cast<int>(b))}});
    }
  return links;
}

// One entry per (op, algorithm, ranks, size) with its count, mean time and bandwidths.
nlohmann::ordered_json collectives_block(const Recorder& recorder) {
  auto collectives = nlohmann::ordered_json::array();
  for (const auto& [key, stat] : recorder.collectives()) {
    const auto& [count, total_s] = stat;
    const double mean_s = total_s / static_cast<double>(count);
    const double algbw = mean_s > 0 ? static_cast<double>(key.size_B) / mean_s / kBytesPerGB : 0;
    collectives.push_back({{keys::collective::kOp, key.op},
                           {keys::collective::kAlgorithm, key.algorithm},
                           {keys::collective::kRanks, key.ranks},
                           {keys::collective::kSizeB, key.size_B},
                           {keys::collective::kCount, count},
                           {keys::collective::kMeanTimeS, mean_s},
                           {keys::collective::kAlgbwGBps, algbw},
                           {keys::collective::kBusbwGBps, algbw * busbw_factor(key.op, key.ranks)}});
  }
  return collectives;
}

// A worker's mean step as the model times it, in seconds per step: forward, backward (an atomic
// step's "forward+backward" split by the layers' FLOPs, as it is timed), the optimizer step and
// the exposed communication.  Steps: the timeline's rows (one per `workers` worker-steps).
nlohmann::ordered_json step_breakdown(const Scenario& s, const Recorder& recorder, int workers, double exposed_comm_s) {
  const auto& by_name = recorder.compute_s_by_name();
  const auto seconds = [&by_name](const char* name) {
    const auto it = by_name.find(name);
    return it == by_name.end() ? 0.0 : it->second;
  };
  const double steps = static_cast<double>(recorder.row_count());
  const double forward_share = runtime::total_forward_flops(s.workload.layers) / runtime::total_training_flops(s.workload.layers);
  const double both = seconds("forward+backward"), per = steps * workers;
  return {{"forward", nullable((seconds("forward") + both * forward_share) / per, steps > 0)},
          {"backward", nullable((seconds("backward") + both * (1 - forward_share)) / per, steps > 0)},
          {"optimizer", nullable(seconds("optimizer step") / per, steps > 0)},
          {keys::time::kCommunicationExposed, nullable(exposed_comm_s / steps, steps > 0)}};
}

// Model-level figures of architecture workloads (legacy model types keep their results as they were):
// tokens/s (transformers), the MFU achieved = model FLOPs done / (peak FLOP/s of the fleet x
// simulated time), the step breakdown, and the scenario's load warnings.
void add_model_figures(nlohmann::ordered_json& r, const Scenario& s, const Recorder& recorder, int workers,
                       double exposed_comm_s, double samples, double simulated_s) {
  const int tokens = s.workload.tokens_per_sample();
  if (tokens > 0) r["tokens_per_s"] = nullable(samples * tokens / simulated_s, simulated_s > 0);
  if (tokens > 0) r[keys::kTokens] = samples * tokens;
  const double peak_flops = fleet_peak_flops(s);
  r["mfu_achieved"] = nullable(samples * s.workload.flops_per_sample / (peak_flops * simulated_s), simulated_s > 0);
  r["step_breakdown_s"] = step_breakdown(s, recorder, workers, exposed_comm_s);
  r["warnings"] = s.warnings;
}

// The work done, including what was lost (equal to the useful work without faults).
nlohmann::ordered_json work_block(const Scenario& s, const Goodput& g, double simulated_s) {
  nlohmann::ordered_json w = {{keys::work::kSteps, g.work_steps},
                              {keys::work::kSamples, g.work_samples},
                              {keys::work::kThroughput, nullable(g.work_samples / simulated_s, simulated_s > 0)}};
  if (const int tokens = s.workload.tokens_per_sample(); tokens > 0 && s.workload.has_architecture())
    w[keys::work::kTokens] = g.work_samples * tokens;
  return w;
}

// The market prices the spot entries with a price trace paid over [0, simulated_s], $/h.
nlohmann::ordered_json spot_prices_block(const Scenario& s, double simulated_s) {
  auto out = nlohmann::ordered_json::array();
  for (const FleetEntry& f : s.fleet) {
    if (!f.spot_price) continue;
    const SpotPriceSpec& p = *f.spot_price;
    double lo = p.usd_per_hour_at(0), hi = lo;
    for (const PriceStep& step : p.steps)
      if (step.time_s < simulated_s) {
        lo = std::min(lo, step.usd_per_hour);
        hi = std::max(hi, step.usd_per_hour);
      }
    out.push_back({{"region", f.region},
                   {"instance", f.instance},
                   {"trace", std::filesystem::path(p.file).filename().string()},
                   {"zone", p.zone.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(p.zone)},
                   {"usd_per_hour", {{"min", lo}, {"mean", p.mean_usd_per_hour(simulated_s)}, {"max", hi}}},
                   {"max_price", p.has_max_price() ? nlohmann::ordered_json(p.max_usd_per_hour) : nlohmann::ordered_json(nullptr)}});
  }
  return out;
}

nlohmann::ordered_json build_results(const Scenario& s, const Platform& platform, const Ledger& ledger,
                                     const Recorder& recorder, const Goodput& goodput, double simulated_s) {
  const int m = static_cast<int>(platform.workers().size());
  double compute = 0, comm = 0;
  for (int r = 0; r < m; ++r) {
    compute += recorder.compute_s(r);
    comm += recorder.communication_s(r);
  }
  compute /= m;
  comm /= m;
  // Throughput and dollars per sample count the useful work (goodput): what the deployed model holds.
  const double samples = goodput.useful_samples;
  const double compute_usd = ledger.compute_usd(simulated_s);
  const double egress_usd = ledger.total_egress_usd();
  const double total_usd = compute_usd + egress_usd;

  nlohmann::ordered_json r;
  r[keys::kScenario] = s.name;
  r[keys::kSeed] = s.seed;
  r[keys::kStrategy] = s.strategy;
  r[keys::kWorkers] = m;
  r[keys::kSimulatedS] = simulated_s;
  r[keys::kSteps] = goodput.useful_steps;
  r[keys::kSamples] = samples;
  r[keys::kThroughput] = nullable(samples / simulated_s, simulated_s > 0);
  r[keys::kWork] = work_block(s, goodput, simulated_s);
  r[keys::kTimeBreakdown] = {{keys::time::kCompute, compute},
                             {keys::time::kCommunicationExposed, comm},
                             {keys::time::kIdle, std::max(0.0, simulated_s - compute - comm)}};
  r[keys::kGranularity] = nullable(compute / comm, comm > 0);
  r[keys::kCostUsd] = {{keys::cost::kCompute, compute_usd}, {keys::cost::kEgress, egress_usd}, {keys::cost::kTotal, total_usd}};
  if (auto prices = spot_prices_block(s, simulated_s); !prices.empty()) r[keys::kCostUsd]["spot_prices"] = prices;
  r[keys::kUsdPerMillionSamples] = nullable(total_usd / samples * 1e6, samples > 0);
  r[keys::kTrafficBytes] = {{keys::traffic::kTotal, ledger.total_bytes()},
                        {keys::traffic::kWan, ledger.wan_bytes()},
                        {"intra_region", ledger.total_bytes() - ledger.wan_bytes()},
                        {"peak_in_flight", ledger.peak_in_flight_B()}};

  r[keys::kLinks] = links_block(s, ledger);

  r[keys::kCollectives] = collectives_block(recorder);
  r[keys::kConvergence] = convergence(s, recorder);
  if (s.workload.has_architecture()) add_model_figures(r, s, recorder, m, comm, samples, simulated_s);
  return r;
}

// The model at the end of the run, once every last sync and delayed update has landed: a final
// timeline row at the end time (or the last row, when it is at the end time already); its
// train_loss repeats the last measured one.
void evaluate_at_end(World& world, double simulated_s) {
  Recorder& recorder = world.recorder;
  if (!world.training.is_real() || world.diverged || recorder.row_count() == 0) return;
  if (recorder.last_row().time_s < simulated_s) {
    TimelineRow row = recorder.last_row();
    row.time_s = simulated_s;
    row.compute_usd = world.ledger.compute_usd(simulated_s);
    row.egress_usd = world.ledger.total_egress_usd();
    row.wan_bytes = world.ledger.wan_bytes();
    row.useful_samples = resilience::useful_samples(world);
    recorder.append_row(row);
  }
  evaluate_into(world, recorder.last_row());
}

// The fault machinery of a run with faults (group views, counters, and the injector that starts
// the workers); empty without faults.
struct FaultMachinery {
  std::unique_ptr<Membership> membership;
  std::unique_ptr<TransferObserver> round_transfers;
  std::unique_ptr<FaultLog> fault_log;
  std::unique_ptr<FaultInjector> injector;
};

FaultMachinery start_faults(World& world, const Resilient* resilient, const WorkerProgram& worker) {
  FaultMachinery m;
  const Scenario& scenario = world.scenario;
  const int workers = static_cast<int>(world.platform.workers().size());
  if (!scenario.has_faults()) return m;
  const bool elastic = !resilient || resilient->traits.on_failure == OnFailure::elastic;
  m.membership = std::make_unique<Membership>(workers, elastic);
  m.fault_log = std::make_unique<FaultLog>(workers);
  world.membership = m.membership.get();
  m.round_transfers = make_round_transfers(*m.membership);
  world.transfers = m.round_transfers.get();
  world.faults = m.fault_log.get();
  m.injector = std::make_unique<FaultInjector>(
      world, build_schedules(scenario.fleet, scenario.faults.zone_outages,
                                       scenario.fault_seed.value_or(scenario.seed), time_limit_s(scenario)), worker);
  return m;
}

// One actor per node (workers and servers); with faults the injector starts and bills the workers.
// With `one_for_all` a single actor, worker 0's, does the work of every worker (identical_workers.h).
void start_actors(World& world, const WorkerProgram& worker, const std::function<void(WorkerContext&, int)>& server,
                  bool injector_starts_workers, bool one_for_all) {
  const int workers = static_cast<int>(world.platform.workers().size());
  for (const auto& node : world.platform.nodes()) {
    const int rank = node.rank;
    if (injector_starts_workers && rank < workers) continue;  // started and billed by the injector
    if (rank < workers && world.scenario.fleet[node.fleet_entry].spot_price)
      bill_worker(world, node, false, 0, kNever);  // at the market price over time
    else
      world.ledger.add_instance(node.usd_per_s);
    if (one_for_all && rank > 0) continue;
    sg4::Actor::create(node.name, node.host, [&world, &worker, &server, rank, workers, one_for_all] {
      WorkerContext ctx(world, rank);
      if (one_for_all) ctx.stand_for(world.platform.all_ranks());
      if (rank < workers) worker(ctx);
      else server(ctx, rank - workers);
    });
  }
}

// The deterministic results of a finished run (everything but perf).
nlohmann::ordered_json run_results(World& world, const FaultInjector* injector, double simulated_s) {
  nlohmann::ordered_json results = build_results(world.scenario, world.platform, world.ledger, world.recorder,
                                                 resilience::goodput(world), simulated_s);
  results[keys::kDiverged] = world.diverged;
  results[keys::kStopReason] = world.stop_reason.empty() ? nlohmann::ordered_json(nullptr)
                                                         : nlohmann::ordered_json(world.stop_reason);
  for (const auto& [key, value] : world.extra.items()) results[key] = value;
  if (injector) {
    results[keys::kFaults] = faults_block(world, *injector, simulated_s);
    const double storage_usd = results[keys::kFaults]["checkpoint_usd"].get<double>();
    results[keys::kCostUsd]["checkpoint_storage"] = storage_usd;
    results[keys::kCostUsd][keys::cost::kTotal] = results[keys::kCostUsd][keys::cost::kTotal].get<double>() + storage_usd;
  }
  return results;
}

// Wall-clock figures of the run (never deterministic: comparisons ignore them).
nlohmann::ordered_json perf_block(const World& world, double wall_s, double run_wall_s, double cpu_s) {
  const Ledger& ledger = world.ledger;
  return {{"wall_s", wall_s},
          {"setup_wall_s", wall_s - run_wall_s},
          {"run_wall_s", run_wall_s},
          {"cpu_s", cpu_s},
          {"math_threads", world.training.pool() ? world.training.pool()->threads() : 1},
          {"transfers", ledger.transfers()},
          {"transfers_per_wall_s", ledger.transfers() / wall_s},
          {"simulated_steps_per_wall_s", world.recorder.row_count() / wall_s}};
}

// Runs the worker programs (and server programs) of one simulation and assembles the output.
RunOutput simulate(const Scenario& scenario, Resilient* resilient, const std::vector<ServerPlacement>& servers,
                   const std::function<void(World&)>& prepare, const WorkerProgram& worker,
                   const std::function<void(WorkerContext&, int)>& server,
                   const std::function<void(World&)>& finish, bool same_program) {
  const auto wall_start = std::chrono::steady_clock::now();
  const double cpu_start_s = common::process_cpu_s();
  start_engine();
  Platform platform(scenario, servers);
  Ledger ledger(scenario.topology);
  const int workers = static_cast<int>(platform.workers().size());
  // Spans of servers too.  Shared: the run's output renders timeline.csv and trace.json from it.
  auto recorded = std::make_shared<Recorder>(static_cast<int>(platform.nodes().size()), scenario.trace, scenario.trace_max_spans);
  Recorder& recorder = *recorded;
  Training training(scenario, workers);
  World world{scenario, platform, ledger, recorder, training, {}, {}, 0, nlohmann::ordered_json::object(), false, ""};
  for (int r = 0; r < workers; ++r) world.trainers.push_back(training.make_trainer(r));
  world.deployed_parameters = [&world] {
    const auto v = world.trainers[0]->params().values();
    return std::vector<float>(v.begin(), v.end());
  };
  std::unique_ptr<AnalyticCollectives> analytic;
  if (scenario.network.fidelity == Fidelity::collective) {
    analytic = std::make_unique<AnalyticCollectives>();
    world.analytic = analytic.get();
  }
  FaultMachinery faults = start_faults(world, resilient, worker);
  FaultInjector* injector = faults.injector.get();
  world.resilient = resilient;
  if (faults.membership && resilient && resilient->traits.round_log_key)
    world.extra[resilient->traits.round_log_key] = nlohmann::ordered_json::array();
  if (prepare) prepare(world);
  const auto run_start = std::chrono::steady_clock::now();
  const bool one_for_all = one_actor_for_all_workers(scenario, same_program, platform.nodes().size() - platform.workers().size());
  start_actors(world, worker, server, injector != nullptr, one_for_all);
  if (injector) injector->start();
  sg4::Engine::get_instance()->run();
  if (const std::string& failure = recorder.spill_failure(); !failure.empty())
    throw std::runtime_error("the run's timeline rows or WAN counters could not be kept on the disk: " + failure);
  // Transfers of aborted rounds left unmatched when the actors ended: cancelled, not freed started.
  if (faults.membership) faults.membership->cancel_pending();
  if (finish) finish(world);
  resilience::report_agreement(world);
  const double simulated_s = sg4::Engine::get_clock();
  if (injector) injector->record_down_spans(simulated_s);
  evaluate_at_end(world, simulated_s);
  const auto run_end = std::chrono::steady_clock::now();
  const double cpu_s = common::process_cpu_s() - cpu_start_s;
  const double wall_s = std::chrono::duration<double>(run_end - wall_start).count();
  const double run_wall_s = std::chrono::duration<double>(run_end - run_start).count();

  RunOutput out;
  out.results = run_results(world, injector, simulated_s);
  out.results[keys::kPerf] = perf_block(world, wall_s, run_wall_s, cpu_s);
  out.results[keys::kPerf]["worker_actors"] = one_for_all ? 1 : workers;
  auto records = std::make_shared<RunRecords>();
  records->recorder = recorded;
  records->real_losses = training.is_real();
  for (const auto& w : platform.nodes()) records->nodes.push_back({w.name, w.region});
  for (const auto& region : scenario.topology.regions) records->region_names.push_back(region.name);
  recorder.close_wan_in_flight(simulated_s);
  out.records = std::move(records);
  return out;
}

}  // namespace

std::string RunOutput::timeline_csv() const {
  std::ostringstream out;
  write_timeline_csv(out);
  return out.str();
}

std::string RunOutput::trace_json() const {
  std::ostringstream out;
  write_trace_json(out);
  return out.str();
}

void RunOutput::write_timeline_csv(std::ostream& out) const {
  if (records) records->recorder->write_timeline_csv(out, records->real_losses);
}

void RunOutput::write_trace_json(std::ostream& out) const {
  if (records) records->recorder->write_trace_json(out, records->nodes, records->region_names);
}

RunOutput run_program(const Scenario& scenario, const WorkerProgram& program) {
  return simulate(scenario, nullptr, {}, nullptr, program, [](WorkerContext&, int) {}, nullptr, false);
}

RunOutput run_strategy(const Scenario& scenario, Strategy& strategy) {
  return simulate(
      scenario, &strategy, strategy.servers(scenario), [&strategy](World& w) { strategy.prepare(w); },
      [&strategy](WorkerContext& ctx) {
        // A returning worker of a group-round strategy rejoins its group and reloads its state
        // first (the resilience layer); the program then starts at ctx.start_round().
        if (ctx.restarted() && strategy.traits.group_rounds && !resilience::rejoin(ctx, strategy)) return;
        strategy.run(ctx);
      },
      [&strategy](WorkerContext& ctx, int index) { strategy.run_server(ctx, index); },
      [&strategy](World& w) { strategy.finish(w); }, strategy.same_program_on_every_worker());
}

RunOutput run_scenario(const Scenario& scenario) {
  std::unique_ptr<Strategy> strategy = make_strategy(scenario);
  return run_strategy(scenario, *strategy);
}

std::string check_simgrid_options(const std::vector<std::string>& options) {
  for (const auto& option : options) {
    const auto colon = option.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == option.size())
      return "--cfg " + option + ": expected KEY:VALUE, e.g. --cfg network/TCP-gamma:4194304";
  }
  if (options.empty()) return "";
  // SimGrid aborts the process on some bad values (an unknown model name): try them in a child.
  int fds[2];
  if (::pipe(fds) != 0) return "--cfg: cannot check the options (pipe failed)";
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return "--cfg: cannot check the options (fork failed)";
  if (pid == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(1);
    ::close(fds[0]);
    ::dup2(fds[1], STDERR_FILENO);  // SimGrid's own message comes back through the pipe
    int status = 0;
    try {
      int argc = 2;
      char* argv[] = {const_cast<char*>("geotrain"), const_cast<char*>("--log=root.thres:critical"), nullptr};
      sg4::Engine engine(&argc, argv);
      for (const auto& option : options) {
        try {
          sg4::Engine::set_config(option);
        } catch (const std::exception& e) {
          const std::string reply = "--cfg " + option + ": " + first_line(e.what()) + "\n";
          (void)!::write(fds[1], reply.data(), reply.size());
          status = 3;
          break;
        }
      }
    } catch (...) {
      status = 3;
    }
    std::fflush(nullptr);
    ::_exit(status);
  }
  ::close(fds[1]);
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (const auto pos = reply.find("--cfg "); pos != std::string::npos) return first_line(reply.substr(pos));
  std::string which;
  for (const auto& option : options) which += (which.empty() ? "" : " ") + option;
  const auto critical = reply.find("CRITICAL");
  return "--cfg " + which + ": SimGrid refused it" +
         (critical == std::string::npos ? std::string() : ": " + first_line(reply.substr(reply.rfind('\n', critical) + 1)));
}

void set_simgrid_options(std::vector<std::string> options) { simgrid_options() = std::move(options); }

bool actors_on_threads() { return kAddressSanitizer; }

void write_outputs(const RunOutput& output, const std::string& dir) {
  std::filesystem::create_directories(dir);
  auto write = [&dir](const std::string& name, const std::function<void(std::ostream&)>& text) {
    static unsigned long counter = 0;
    const auto final_path = std::filesystem::path(dir) / name;
    // A name of this process's own: a rerun never meets a killed run's temporary file.
    const auto tmp = std::filesystem::path(dir) /
                     (name + ".partial." + std::to_string(::getpid()) + "." + std::to_string(counter++));
    try {
      {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        text(f);
        f.flush();
        if (!f) throw std::runtime_error("cannot write " + tmp.string());
      }
      std::filesystem::rename(tmp, final_path);
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw;
    }
  };
  std::filesystem::remove(std::filesystem::path(dir) / "results.json");
  write("timeline.csv", [&output](std::ostream& f) { output.write_timeline_csv(f); });
  write("trace.json", [&output](std::ostream& f) { output.write_trace_json(f); });
  write("results.json", [&output](std::ostream& f) { f << output.results.dump(2) << "\n"; });
}

nlohmann::ordered_json deterministic_part(const nlohmann::ordered_json& results) {
  nlohmann::ordered_json copy = results;
  copy.erase(keys::kPerf);
  return copy;
}

std::string simgrid_version() {
  return std::to_string(SIMGRID_VERSION_MAJOR) + "." + std::to_string(SIMGRID_VERSION_MINOR) + "." +
         std::to_string(SIMGRID_VERSION_PATCH);
}

}  // namespace geotrain::sim
