// run_scenario: engine configuration, actors, and the results document.
#include "sim/run.h"

#include <chrono>
#include <filesystem>
#include <fstream>

#include <simgrid/s4u.hpp>

#include "sim/fault_injector.h"
#include "sim/collectives/analytic.h"
#include "sim/resilience/membership.h"
#include "sim/resilience/replica.h"
#include "sim/strategies/strategy.h"
#include "sim/training.h"

namespace sg4 = simgrid::s4u;

namespace geotrain::sim {
namespace {

constexpr double kBytesPerGB = 1e9;

// CM02 without its latency/bandwidth correction factors, no reverse-path cross traffic, and no
// global TCP window: the per-flow window cap is ours (Platform::rate_cap_Bps), per route.
void start_engine() {
  static int argc = 2;
  static char* argv[] = {const_cast<char*>("geotrain"), const_cast<char*>("--log=root.thres:critical"),
                         nullptr};
  new sg4::Engine(&argc, argv);  // lives until the process ends (one engine per process)
  sg4::Engine::set_config("network/model:CM02");
  sg4::Engine::set_config("network/crosstraffic:0");
  sg4::Engine::set_config("network/TCP-gamma:1e30");
}

nlohmann::ordered_json nullable(double x, bool valid) { return valid ? nlohmann::ordered_json(x) : nullptr; }

nlohmann::ordered_json convergence(const Scenario& s, const Recorder& recorder) {
  nlohmann::ordered_json c;
  const auto& rows = recorder.rows();
  const bool real = s.workload.backend != "none";
  c["final_train_loss"] = nullable(rows.empty() ? 0 : rows.back().train_loss, real && !rows.empty());
  const TimelineRow* last_eval = nullptr;
  const TimelineRow* reached = nullptr;
  const auto& target = s.workload.target;
  for (const auto& r : rows) {
    if (!r.evaluated) continue;
    last_eval = &r;
    if (!reached && target &&
        (target->metric == "test_accuracy" ? r.test_accuracy >= target->value : r.test_loss <= target->value))
      reached = &r;
  }
  c["final_test_loss"] = nullable(last_eval ? last_eval->test_loss : 0, last_eval != nullptr);
  c["final_test_accuracy"] = nullable(last_eval ? last_eval->test_accuracy : 0, last_eval != nullptr);
  c["target"] = target ? nlohmann::ordered_json{{"metric", target->metric}, {"value", target->value}}
                       : nlohmann::ordered_json(nullptr);
  c["time_to_target_s"] = nullable(reached ? reached->time_s : 0, reached != nullptr);
  c["cost_to_target_usd"] = nullable(reached ? reached->compute_usd + reached->egress_usd : 0, reached != nullptr);
  c["samples_to_target"] = nullable(reached ? reached->samples : 0, reached != nullptr);
  return c;
}

nlohmann::ordered_json build_results(const Scenario& s, const Platform& platform, const Ledger& ledger,
                                     const Recorder& recorder, double simulated_s) {
  const int m = static_cast<int>(platform.workers().size());
  double compute = 0, comm = 0;
  for (int r = 0; r < m; ++r) {
    compute += recorder.compute_s(r);
    comm += recorder.communication_s(r);
  }
  compute /= m;
  comm /= m;
  const double samples = recorder.rows().empty() ? 0 : recorder.rows().back().samples;
  const double compute_usd = ledger.compute_usd(simulated_s);
  const double egress_usd = ledger.total_egress_usd();
  const double total_usd = compute_usd + egress_usd;

  nlohmann::ordered_json r;
  r["scenario"] = s.name;
  r["seed"] = s.seed;
  r["strategy"] = s.strategy;
  r["workers"] = m;
  r["simulated_s"] = simulated_s;
  r["steps"] = recorder.rows().size();
  r["samples"] = samples;
  r["throughput_samples_per_s"] = nullable(samples / simulated_s, simulated_s > 0);
  r["time_breakdown_s"] = {{"compute", compute},
                           {"communication_exposed", comm},
                           {"idle", std::max(0.0, simulated_s - compute - comm)}};
  r["granularity"] = nullable(compute / comm, comm > 0);
  r["cost_usd"] = {{"compute", compute_usd}, {"egress", egress_usd}, {"total", total_usd}};
  r["usd_per_million_samples"] = nullable(total_usd / samples * 1e6, samples > 0);
  r["traffic_bytes"] = {{"total", ledger.total_bytes()},
                        {"wan", ledger.wan_bytes()},
                        {"intra_region", ledger.total_bytes() - ledger.wan_bytes()},
                        {"peak_in_flight", ledger.peak_in_flight_B()}};

  auto links = nlohmann::ordered_json::array();
  const auto& regions = s.topology.regions;
  for (std::size_t a = 0; a < regions.size(); ++a)
    for (std::size_t b = 0; b < regions.size(); ++b) {
      const auto bytes = ledger.bytes(static_cast<int>(a), static_cast<int>(b));
      if (bytes == 0) continue;
      links.push_back({{"src_region", regions[a].name},
                       {"dst_region", regions[b].name},
                       {"bytes", bytes},
                       {"usd_per_GB", s.topology.egress_usd_per_B(static_cast<int>(a), static_cast<int>(b)) * kBytesPerGB},
                       {"egress_usd", ledger.egress_usd(static_cast<int>(a), static_cast<int>(b))}});
    }
  r["links"] = links;

  auto collectives = nlohmann::ordered_json::array();
  for (const auto& [key, stat] : recorder.collectives()) {
    const auto& [count, total_s] = stat;
    const double mean_s = total_s / static_cast<double>(count);
    const double algbw = mean_s > 0 ? static_cast<double>(key.size_B) / mean_s / kBytesPerGB : 0;
    collectives.push_back({{"op", key.op},
                           {"algorithm", key.algorithm},
                           {"ranks", key.ranks},
                           {"size_B", key.size_B},
                           {"count", count},
                           {"mean_time_s", mean_s},
                           {"algbw_GBps", algbw},
                           {"busbw_GBps", algbw * busbw_factor(key.op, key.ranks)}});
  }
  r["collectives"] = collectives;
  r["convergence"] = convergence(s, recorder);
  return r;
}

// The model at the end of the run, once every last sync and delayed update has landed: a final
// timeline row at the end time (or the last row, when it is at the end time already); its
// train_loss repeats the last measured one.
void evaluate_at_end(World& world, double simulated_s) {
  Recorder& recorder = world.recorder;
  if (!world.training.is_real() || world.diverged || recorder.rows().empty()) return;
  if (recorder.rows().back().time_s < simulated_s) {
    TimelineRow row = recorder.rows().back();
    row.time_s = simulated_s;
    row.compute_usd = world.ledger.compute_usd(simulated_s);
    row.egress_usd = world.ledger.total_egress_usd();
    row.wan_bytes = world.ledger.wan_bytes();
    recorder.append_row(row);
  }
  evaluate_into(world, recorder.last_row());
}

// Runs the worker programs (and server programs) of one simulation and assembles the output.
RunOutput simulate(const Scenario& scenario, Resilient* resilient, const std::vector<ServerPlacement>& servers,
                   const std::function<void(World&)>& prepare, const WorkerProgram& worker,
                   const std::function<void(WorkerContext&, int)>& server,
                   const std::function<void(World&)>& finish) {
  const auto wall_start = std::chrono::steady_clock::now();
  start_engine();
  Platform platform(scenario, servers);
  Ledger ledger(scenario.topology);
  const int workers = static_cast<int>(platform.workers().size());
  Recorder recorder(static_cast<int>(platform.nodes().size()));  // spans of servers too
  Training training(scenario, workers);
  World world{scenario, platform, ledger, recorder, training, {}, {}, 0, nlohmann::ordered_json::object(), false, ""};
  for (int r = 0; r < workers; ++r) world.trainers.push_back(training.make_trainer(r));
  world.deployed_parameters = [&world] {
    const auto v = world.trainers[0]->params().values();
    return std::vector<float>(v.begin(), v.end());
  };
  // Faults: group views, counters, and the injector that starts the workers.
  std::unique_ptr<Membership> membership;
  std::unique_ptr<TransferObserver> round_transfers;
  std::unique_ptr<FaultLog> fault_log;
  std::unique_ptr<FaultInjector> injector;
  std::unique_ptr<AnalyticCollectives> analytic;
  if (scenario.network.fidelity == "collective") {
    analytic = std::make_unique<AnalyticCollectives>();
    world.analytic = analytic.get();
  }
  if (scenario.has_faults()) {
    const bool elastic = !resilient || resilient->traits.on_failure == OnFailure::elastic;
    membership = std::make_unique<Membership>(workers, elastic);
    fault_log = std::make_unique<FaultLog>(workers);
    world.membership = membership.get();
    round_transfers = make_round_transfers(*membership);
    world.transfers = round_transfers.get();
    world.faults = fault_log.get();
    injector = std::make_unique<FaultInjector>(
        world, build_schedules(scenario.fleet, scenario.faults.zone_outages, scenario.seed, time_limit_s(scenario)),
        worker);
  }
  world.resilient = resilient;
  if (membership && resilient && resilient->traits.round_log_key)
    world.extra[resilient->traits.round_log_key] = nlohmann::ordered_json::array();
  if (prepare) prepare(world);
  const auto run_start = std::chrono::steady_clock::now();
  for (const auto& node : platform.nodes()) {
    const int rank = node.rank;
    if (injector && rank < workers) continue;  // started and billed by the injector
    ledger.add_instance(node.usd_per_s);
    sg4::Actor::create(node.name, node.host, [&world, &worker, &server, rank, workers] {
      WorkerContext ctx(world, rank);
      if (rank < workers) worker(ctx);
      else server(ctx, rank - workers);
    });
  }
  if (injector) injector->start();
  sg4::Engine::get_instance()->run();
  if (finish) finish(world);
  resilience::report_agreement(world);
  const double simulated_s = sg4::Engine::get_clock();
  if (injector) injector->record_down_spans(simulated_s);
  evaluate_at_end(world, simulated_s);
  const auto run_end = std::chrono::steady_clock::now();
  const double wall_s = std::chrono::duration<double>(run_end - wall_start).count();
  const double run_wall_s = std::chrono::duration<double>(run_end - run_start).count();

  RunOutput out;
  out.results = build_results(scenario, platform, ledger, recorder, simulated_s);
  out.results["diverged"] = world.diverged;
  out.results["stop_reason"] = world.stop_reason.empty() ? nlohmann::ordered_json(nullptr)
                                                         : nlohmann::ordered_json(world.stop_reason);
  for (const auto& [key, value] : world.extra.items()) out.results[key] = value;
  if (injector) {
    out.results["faults"] = faults_block(world, *injector, simulated_s);
    const double storage_usd = out.results["faults"]["checkpoint_usd"].get<double>();
    out.results["cost_usd"]["checkpoint_storage"] = storage_usd;
    out.results["cost_usd"]["total"] = out.results["cost_usd"]["total"].get<double>() + storage_usd;
  }
  out.results["perf"] = {{"wall_s", wall_s},
                         {"setup_wall_s", wall_s - run_wall_s},
                         {"run_wall_s", run_wall_s},
                         {"math_threads", training.pool() ? training.pool()->threads() : 1},
                         {"transfers", ledger.transfers()},
                         {"transfers_per_wall_s", ledger.transfers() / wall_s},
                         {"simulated_steps_per_wall_s", recorder.rows().size() / wall_s}};
  out.timeline_csv = recorder.timeline_csv();
  std::vector<TraceNode> nodes;
  for (const auto& w : platform.nodes()) nodes.push_back({w.name, w.region});
  std::vector<std::string> region_names;
  for (const auto& region : scenario.topology.regions) region_names.push_back(region.name);
  recorder.close_wan_in_flight(simulated_s);
  out.trace_json = recorder.trace_json(nodes, region_names);
  return out;
}

}  // namespace

RunOutput run_program(const Scenario& scenario, const WorkerProgram& program) {
  return simulate(scenario, nullptr, {}, nullptr, program, [](WorkerContext&, int) {}, nullptr);
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
      [&strategy](World& w) { strategy.finish(w); });
}

RunOutput run_scenario(const Scenario& scenario) {
  std::unique_ptr<Strategy> strategy = make_strategy(scenario);
  return run_strategy(scenario, *strategy);
}

void write_outputs(const RunOutput& output, const std::string& dir) {
  std::filesystem::create_directories(dir);
  auto write = [&dir](const std::string& name, const std::string& text) {
    const auto final_path = std::filesystem::path(dir) / name;
    const auto tmp = std::filesystem::path(dir) / (name + ".partial");
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << text;
      if (!f) throw std::runtime_error("cannot write " + tmp.string());
    }
    std::filesystem::rename(tmp, final_path);
  };
  std::filesystem::remove(std::filesystem::path(dir) / "results.json");
  write("timeline.csv", output.timeline_csv);
  write("trace.json", output.trace_json);
  write("results.json", output.results.dump(2) + "\n");
}

nlohmann::ordered_json deterministic_part(const nlohmann::ordered_json& results) {
  nlohmann::ordered_json copy = results;
  copy.erase("perf");
  return copy;
}

}  // namespace geotrain::sim
