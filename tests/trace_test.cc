// trace.json (sim/recorder.cc): a process per region, a thread per node in its region's process,
// and a WAN bytes-in-flight counter per region pair that starts and ends at 0.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim/recorder.h"
#include "test_util.h"

namespace geotrain {
namespace {

using json = nlohmann::json;

struct TraceRun {
  json results, trace;
};

TraceRun run_traced(const json& scenario) {
  const json out = json::parse(sim::run_isolated([&] {
    const auto run = sim::run_scenario(sim::parse_scenario(scenario, "test.json"));
    return json{{"results", sim::deterministic_part(run.results)}, {"trace", json::parse(run.trace_json())}}.dump();
  }));
  return {out["results"], out["trace"]};
}

// Counter samples per (pid, name) track, in file order: (ts, bytes).
std::map<std::pair<int, std::string>, std::vector<std::pair<double, double>>> counters(const json& trace) {
  std::map<std::pair<int, std::string>, std::vector<std::pair<double, double>>> tracks;
  for (const auto& e : trace["traceEvents"])
    if (e["ph"] == "C") tracks[{e["pid"].get<int>(), e["name"].get<std::string>()}].emplace_back(e["ts"], e["args"]["bytes"]);
  return tracks;
}

// Three regions of two workers, a ring all-reduce of 1e6 parameters (4 MB) per step.
json three_region_ring(const std::string& fidelity, int steps) {
  testing::UniformNet net;
  net.regions = 3;
  net.workers_per_region = 2;
  json s = testing::uniform_scenario(net, 1e6, "ring");
  s["workload"]["steps"] = steps;
  s["network"]["fidelity"] = fidelity;
  return s;
}

void expect_processes_per_region(const json& trace) {
  std::map<int, std::string> process;  // pid -> name
  std::map<int, int> thread_pid;       // tid -> pid
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "process_name") {
      EXPECT_TRUE(process.emplace(e["pid"].get<int>(), e["args"]["name"].get<std::string>()).second) << e;
    } else if (e["ph"] == "M" && e["name"] == "thread_name") {
      thread_pid[e["tid"].get<int>()] = e["pid"].get<int>();
      const std::string name = e["args"]["name"];  // "r<region>:<i>"
      EXPECT_EQ(e["pid"].get<int>(), std::stoi(name.substr(1, name.find(':') - 1))) << name;
    }
  }
  EXPECT_EQ(process, (std::map<int, std::string>{{0, "r0"}, {1, "r1"}, {2, "r2"}}));
  EXPECT_EQ(thread_pid.size(), 6u);
  int spans = 0;
  for (const auto& e : trace["traceEvents"])
    if (e["ph"] == "X") {
      ++spans;
      EXPECT_EQ(e["pid"], thread_pid.at(e["tid"].get<int>())) << e;
    }
  EXPECT_GT(spans, 0);
}

// The WAN pairs with traffic in results.json: "WAN in flight to <dst> (bytes)" in pid <src>.
std::map<std::pair<int, std::string>, double> wan_link_bytes(const json& results) {
  std::map<std::pair<int, std::string>, double> bytes;
  for (const auto& l : results["links"]) {
    const std::string src = l["src_region"], dst = l["dst_region"];
    if (src != dst && l["bytes"].get<double>() > 0)
      bytes[{std::stoi(src.substr(1)), "WAN in flight to " + dst + " (bytes)"}] = l["bytes"];
  }
  return bytes;
}

TEST(Trace, OneProcessPerRegionAndCountersThatReturnToZero) {
  const TraceRun run = run_traced(three_region_ring("message", 2));
  expect_processes_per_region(run.trace);
  const auto tracks = counters(run.trace);
  const auto links = wan_link_bytes(run.results);
  ASSERT_FALSE(links.empty());
  std::set<std::pair<int, std::string>> track_keys, link_keys;
  for (const auto& [key, samples] : tracks) track_keys.insert(key);
  for (const auto& [key, bytes] : links) link_keys.insert(key);
  EXPECT_EQ(track_keys, link_keys);  // a track per WAN pair with traffic, none for a pair without
  for (const auto& [key, samples] : tracks) {
    double peak = 0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      EXPECT_GE(samples[i].second, 0) << key.second;
      if (i > 0) {
        EXPECT_GT(samples[i].first, samples[i - 1].first) << key.second << ": one sample per time, in order";
      }
      peak = std::max(peak, samples[i].second);
    }
    EXPECT_GT(peak, 0) << key.second;
    EXPECT_LE(peak, links.at(key)) << key.second;
    EXPECT_EQ(samples.back().second, 0) << key.second << ": every transfer ended";
  }
}

// Collective fidelity: each all-reduce puts its whole WAN traffic of a pair in flight at once, for
// the collective's duration: the counter's peak is the pair's bytes of one step, its samples a
// rise and a fall per step.
TEST(Trace, CollectiveFidelityCountsEachCollectivesBytesPerPair) {
  constexpr int kSteps = 3;
  const TraceRun run = run_traced(three_region_ring("collective", kSteps));
  expect_processes_per_region(run.trace);
  const auto tracks = counters(run.trace);
  const auto links = wan_link_bytes(run.results);
  ASSERT_EQ(tracks.size(), links.size());
  for (const auto& [key, samples] : tracks) {
    ASSERT_EQ(samples.size(), 2u * kSteps) << key.second;
    for (std::size_t i = 0; i < samples.size(); ++i)
      EXPECT_EQ(samples[i].second, i % 2 == 0 ? links.at(key) / kSteps : 0.0) << key.second << " sample " << i;
  }
}

// Collective fidelity with DDP's overlapped buckets (four layers of 1 MB, one bucket each, timed
// ahead of the clock): each bucket's WAN bytes of a pair are in flight while the bucket runs, one
// bucket at a time on the stream, so the rises of a counter add up to the pair's bytes.
TEST(Trace, OverlappedBucketsCountWhileEachBucketRuns) {
  constexpr int kSteps = 2;
  json s = three_region_ring("collective", kSteps);
  json layers = json::array();
  for (int l = 0; l < 4; ++l)
    layers.push_back({{"name", "l" + std::to_string(l)}, {"parameters", 250000}, {"forward_flops", 1e9}, {"backward_flops", 2e9}});
  s["workload"]["model"] = {{"type", "layers"}, {"layers", layers}};
  s["strategy"] = {{"name", "ddp"}, {"allreduce", "ring"}, {"overlap", true}, {"bucket_cap_MB", 1}};
  const TraceRun run = run_traced(s);
  const auto tracks = counters(run.trace);
  const auto links = wan_link_bytes(run.results);
  ASSERT_FALSE(links.empty());
  ASSERT_EQ(tracks.size(), links.size());
  for (const auto& [key, samples] : tracks) {
    double rises = 0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      EXPECT_GE(samples[i].second, 0) << key.second;
      if (i > 0) {
        EXPECT_GT(samples[i].first, samples[i - 1].first) << key.second << ": one sample per time, in order";
      }
      rises += samples[i].second;
    }
    EXPECT_EQ(rises, links.at(key)) << key.second;
    EXPECT_EQ(samples.back().second, 0) << key.second;
  }
}

TEST(Trace, SameScenarioSameTrace) {
  const json s = three_region_ring("message", 2);
  EXPECT_EQ(run_traced(s).trace.dump(), run_traced(s).trace.dump());
}

// trace.json is written an event at a time: still one compact JSON document, the one its
// parse dumps back, aggregates and the note on them included.
TEST(Trace, RenderedEventByEventIsTheCompactDocument) {
  json s = three_region_ring("message", 40);
  s["output"] = {{"trace_max_spans", 100}};
  const std::string raw = sim::run_isolated([&] { return sim::run_scenario(sim::parse_scenario(s, "t.json")).trace_json(); });
  const auto doc = nlohmann::ordered_json::parse(raw);
  EXPECT_EQ(raw, doc.dump() + "\n");
  ASSERT_TRUE(doc.contains("otherData"));
  EXPECT_EQ(doc["otherData"]["spans_kept"], 100);
  EXPECT_GT(doc["traceEvents"].size(), 200u);
  std::size_t counters = 0;
  for (const auto& e : doc["traceEvents"]) counters += e["ph"] == "C";
  EXPECT_LE(counters, 100u);
  EXPECT_GT(doc["otherData"]["counter_samples"].get<std::size_t>(), 100u);
  EXPECT_EQ(doc["otherData"]["counter_samples_kept"], counters);
}

// trace.json does not depend on the order in which the spans of one instant (those ending at
// one time) were recorded: identical workers recorded together (sim/run.cc) write the trace a
// worker at a time would.  Here 8 workers x 40 steps of two instants (8 spans, then 16 of
// different lengths), the cap (100) reached in the middle of an instant and the aggregates (at
// most 50) widened several times; in one order each instant's spans come ascending, in the
// other descending.
TEST(Trace, AnInstantsSpansInAnyOrderMakeOneTrace) {
  const auto record = [](bool reversed) {
    sim::Recorder recorder(8, sim::TraceDetail::steps, 100);
    for (int step = 0; step < 40; ++step) {
      const double t = step * 1.0;
      std::vector<sim::Span> compute, reduce;  // this step's two instants
      for (int r = 0; r < 8; ++r) {
        compute.push_back({r, "compute", "forward+backward", t, t + 0.25});
        // Arrivals spread over 2.5 s (some in an earlier aggregate's interval), waits of many
        // significant bits: their sums round differently in another order.
        const double x = std::sqrt(r + 2.0 + step) * 7.3;
        const double arrived_s = t - 2.0 + 2.5 * (x - std::floor(x));
        reduce.push_back({r, "communication", "allreduce/ring", arrived_s, t + 0.75});
        reduce.push_back({r, "compute", "optimizer step", t + 0.5, t + 0.75});
      }
      for (auto* spans : {&compute, &reduce}) {
        if (reversed) std::reverse(spans->begin(), spans->end());
        for (const auto& s : *spans) recorder.add_span(s);
      }
    }
    std::vector<sim::TraceNode> nodes(8);
    return recorder.trace_json(nodes, {"r0"});
  };
  const std::string ascending = record(false), descending = record(true);
  EXPECT_EQ(ascending, descending);
  const json trace = json::parse(ascending);
  EXPECT_EQ(trace["otherData"]["spans_kept"], 104);  // 100 reached inside an instant of 8 spans
  EXPECT_LE(trace["otherData"]["aggregates"].get<int>(), 50);
  EXPECT_GT(trace["otherData"]["aggregate_interval_s"].get<double>(), 0.5);  // widened from 4.75 / 16 s
}

// More ranks than the cap on aggregates: one aggregate per rank, category and name is the floor.
// 40 workers x 6 steps of two spans with a cap of 10 spans (at most 5 aggregates): the first
// instant's 40 spans are kept, the other 440 fall into 80 aggregates covering the whole run
// (before the floor stopped it, widening doubled the interval forever here).
TEST(Trace, MoreRanksThanTheAggregateCapKeepOneAggregatePerRankAndName) {
  sim::Recorder recorder(40, sim::TraceDetail::steps, 10);
  for (int step = 0; step < 6; ++step)
    for (const char* name : {"forward+backward", "optimizer step"})
      for (int r = 0; r < 40; ++r)
        recorder.add_span({r, "compute", name, step + (name[0] == 'f' ? 0.0 : 0.5), step + (name[0] == 'f' ? 0.5 : 1.0)});
  const json trace = json::parse(recorder.trace_json(std::vector<sim::TraceNode>(40), {"r0"}));
  EXPECT_EQ(trace["otherData"]["spans_kept"], 40);
  EXPECT_EQ(trace["otherData"]["aggregates"], 80);
  std::uint64_t aggregated = 0;
  for (const auto& e : trace["traceEvents"])
    if (e.contains("args") && e["args"].contains("spans")) aggregated += e["args"]["spans"].get<std::uint64_t>();
  EXPECT_EQ(aggregated, 440u) << trace["otherData"].dump();
}

// A stream's back-to-back windows: where a pair's window starts as its previous one ends, one
// change; the samples are those of a change at every start and end.  Pair A (0 -> 1): 10 B in
// [0, 1], 10 B in [1, 2] (a zero change at 1), nothing in the third window, 5 B in [3, 4].  Pair
// B (1 -> 0): 7 B in [0, 1], 4 B in [1, 2], 9 B in [2, 3] (from a window's end to the next one
// on another pair: B's first change at 2 comes after A's).
TEST(Trace, AStreamsWindowsJoinedAreTheSameSamplesAsSeparateChanges) {
  using Bytes = std::vector<std::pair<std::pair<int, int>, std::int64_t>>;
  const std::pair<int, int> a{0, 1}, b{1, 0};
  const std::vector<std::tuple<double, double, Bytes>> windows = {
      {0, 1, {{a, 10}, {b, 7}}}, {1, 2, {{a, 10}, {b, 4}}}, {2, 3, {{a, 0}, {b, 9}}}, {3, 4, {{a, 5}}}};
  sim::Recorder joined(2), separate(2);
  for (const auto& [start_s, end_s, bytes] : windows) {
    joined.add_stream_window(start_s, end_s, bytes);
    for (const auto& [pair, n] : bytes) {
      if (n == 0) continue;  // no window
      separate.add_wan_in_flight(pair.first, pair.second, n, start_s);
      separate.add_wan_in_flight(pair.first, pair.second, -n, end_s);
    }
  }
  joined.close_stream_windows();
  using Sample = std::tuple<double, int, int, std::int64_t>;
  const auto samples = [](const sim::Recorder& r) {
    std::vector<Sample> out;
    r.for_each_wan_sample([&](const sim::WanInFlightSample& w) { out.emplace_back(w.time_s, w.src_region, w.dst_region, w.bytes); });
    return out;
  };
  const std::vector<Sample> expected = {{0, 0, 1, 10}, {0, 1, 0, 7}, {1, 0, 1, 10}, {1, 1, 0, 4}, {2, 0, 1, 0},
                                        {2, 1, 0, 9},  {3, 1, 0, 0}, {3, 0, 1, 5},  {4, 0, 1, 0}};
  EXPECT_EQ(samples(separate), expected);
  EXPECT_EQ(samples(joined), expected);
}

// Past the cap a counter is averaged per interval: 100 bytes for 1 s of every 2 s over 5 s, in 3
// intervals of 5/3 s, is 60 bytes in each (the byte-seconds kept: 300), then its last sample.
TEST(Trace, CountersPastTheCapKeepTheirMeanPerInterval) {
  std::vector<sim::WanInFlightSample> samples;
  for (int t = 0; t < 6; ++t) samples.push_back({double(t), 0, 1, t % 2 == 0 ? 100 : 0});
  const auto same = sim::thin_counters(samples, 6);
  EXPECT_EQ(same.interval_s, 0);
  EXPECT_EQ(same.samples.size(), 6u);
  const auto thinned = sim::thin_counters(samples, 4);
  EXPECT_DOUBLE_EQ(thinned.interval_s, 5.0 / 3);
  ASSERT_EQ(thinned.samples.size(), 4u);
  const std::vector<double> times = {0, 5.0 / 3, 10.0 / 3, 5};
  const std::vector<std::int64_t> bytes = {60, 60, 60, 0};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(thinned.samples[i].time_s, times[i]) << i;
    EXPECT_EQ(thinned.samples[i].bytes, bytes[i]) << i;
  }
}

}  // namespace
}  // namespace geotrain
