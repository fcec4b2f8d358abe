// Records that go to the disk (common/spill_list.h): the recorder's timeline rows and WAN counter
// changes stay bounded in memory however long a run is, and what is written is the same bytes.
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/spill_list.h"
#include "multicloud_scenario.h"
#include "sim/isolate.h"
#include "sim/recorder.h"
#include "sim/run.h"
#include "test_util.h"

namespace geotrain {
namespace {

using json = nlohmann::json;

struct Record {
  int key = 0;    // the order compares keys only
  int added = 0;  // the order of addition, to see that the merge is stable
};
bool by_key(const Record& a, const Record& b) { return a.key < b.key; }

std::vector<Record> visited(const common::SpillList<Record>& list) {
  std::vector<Record> out;
  list.for_each([&](const Record& r) { out.push_back(r); });
  return out;
}

bool same(const std::vector<Record>& a, const std::vector<Record>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const Record& x, const Record& y) { return x.key == y.key && x.added == y.added; });
}

// 10,000 records with keys drawn from 50 values (many ties), 7 kept in memory: over 1,400 runs
// on the disk.  Read back in order, they are what std::stable_sort of them all gives; without an
// order, the order of addition.  The last record stays in memory and can be changed.
TEST(SpillList, RunsOnTheDiskReadBackAsOneStableSort) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> key(0, 49);
  std::vector<Record> all;
  common::SpillList<Record> sorted(7, by_key), plain(7);
  for (int i = 0; i < 10000; ++i) {
    const Record r{key(rng), i};
    all.push_back(r);
    sorted.push_back(r);
    plain.push_back(r);
    EXPECT_EQ(sorted.back().added, i);
  }
  EXPECT_TRUE(sorted.spilled());
  EXPECT_EQ(sorted.size(), 10000u);
  plain.back().key = -1;  // the last one, in memory
  std::vector<Record> expected = all;
  std::stable_sort(expected.begin(), expected.end(), by_key);
  EXPECT_TRUE(same(visited(sorted), expected));
  all.back().key = -1;
  EXPECT_TRUE(same(visited(plain), all));
}

TEST(SpillList, FewRecordsNeverTouchTheDisk) {
  common::SpillList<Record> list(8, by_key);
  for (int i = 0; i < 8; ++i) list.push_back({8 - i, i});
  EXPECT_FALSE(list.spilled());
  const auto out = visited(list);
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(out.front().key, 1);
  EXPECT_EQ(out.back().key, 8);
}

// TMPDIR names a folder that does not exist: the list says why, drops what it could not write
// (memory stays bounded) and does not throw.
class NoTempFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* was = std::getenv("TMPDIR")) saved_ = was;
    ::setenv("TMPDIR", "/nonexistent-geotrain-spill", 1);
  }
  void TearDown() override {
    if (saved_) ::setenv("TMPDIR", saved_->c_str(), 1);
    else ::unsetenv("TMPDIR");
  }
  std::optional<std::string> saved_;
};

TEST_F(NoTempFolder, TheListSaysWhyAndDropsWhatItCouldNotWrite) {
  common::SpillList<Record> list(4, by_key);
  for (int i = 0; i < 20; ++i) list.push_back({i, i});
  EXPECT_EQ(list.failure(),
            "a temporary file in /nonexistent-geotrain-spill: creating it failed: No such file or directory");
  EXPECT_FALSE(list.spilled());
  EXPECT_EQ(list.back().added, 19);
  EXPECT_LE(visited(list).size(), 4u);
}

struct Written {
  std::string results, timeline, trace;  // results: without perf
};

Written run_keeping(const json& scenario, std::size_t in_memory_bytes) {
  const json out = json::parse(sim::run_isolated([&] {
    sim::set_records_in_memory_bytes(in_memory_bytes);
    const auto run = sim::run_scenario(sim::parse_scenario(scenario, "spill.json"));
    return json{{"results", sim::deterministic_part(run.results).dump()},
                {"timeline", run.timeline_csv()},
                {"trace", run.trace_json()}}
        .dump();
  }));
  return {out["results"], out["timeline"], out["trace"]};
}

// Whole runs with a few hundred bytes of each kind of record in memory (the rest in runs on the
// disk) write what runs holding them all write: a size-only DDP fleet in 16 regions past the
// trace's cap (so the WAN counters are thinned, from the disk), and real training with
// evaluations and a target (the convergence figures read the rows back).
TEST(SpillList, RunsThatSpillWriteTheSameBytes) {
  json size_only = testing::multicloud_ddp_scenario(32, 200);
  size_only["output"] = {{"trace_max_spans", 2000}};
  json real = testing::four_linear_workers({{"name", "ddp"}}, 120);
  real["workload"]["eval_every"] = 10;
  real["workload"]["target"] = {{"test_loss", 0.5}};
  for (const json& s : {size_only, real}) {
    const Written kept = run_keeping(s, sim::kDefaultRecordsInMemoryBytes), spilled = run_keeping(s, 300);
    EXPECT_EQ(spilled.results, kept.results) << s["name"];
    EXPECT_EQ(spilled.timeline, kept.timeline) << s["name"];
    EXPECT_EQ(spilled.trace, kept.trace) << s["name"];
    const json trace = json::parse(kept.trace), results = json::parse(kept.results);
    if (s["workload"].contains("target")) {
      EXPECT_FALSE(results["convergence"]["time_to_target_s"].is_null());
    } else {
      ASSERT_TRUE(trace.contains("otherData"));
      EXPECT_GT(trace["otherData"]["counter_samples"].get<long>(), 2000);  // thinned
    }
  }
}

// A run whose records cannot go to the disk reports that, not results.
TEST_F(NoTempFolder, ARunWhoseRecordsCannotBeKeptFails) {
  const json s = testing::multicloud_ddp_scenario(32, 50);
  std::string message = "no error";
  try {
    run_keeping(s, 300);
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("the run's timeline rows or WAN counters could not be kept on the disk: a temporary file "
                         "in /nonexistent-geotrain-spill: creating it failed"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace geotrain
