// The geotrain command line around the subcommands: --version, --set (run and validate, and its
// messages for pointers it cannot follow), the instance types `topo` lists per region, and the
// lock that keeps two sweeps out of one folder.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <xbt/base.h>  // simgrid/version.h needs its declaration macros first
#include <simgrid/version.h>

#include "cli_test_util.h"
#include "geotrain_version.h"  // generated at build time (cli/version.cmake)

namespace {

namespace fs = std::filesystem;
using geotrain::testing::CliRun;
using geotrain::testing::fresh_dir;
using geotrain::testing::read_file;
using geotrain::testing::run_geotrain;
using geotrain::testing::write_file;
using nlohmann::json;

// Whether `commit` (12 hex digits, maybe "-dirty") names a commit of the source tree's git history.
bool known_commit(std::string commit) {
  if (commit.size() > 6 && commit.substr(commit.size() - 6) == "-dirty") commit.resize(commit.size() - 6);
  if (commit.size() != 12 || commit.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
  const std::string cmd = std::string("git -C '") + GEOTRAIN_SOURCE_DIR + "' cat-file -e " + commit + "^{commit} 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

TEST(Cli, VersionNamesVersionCommitBuildTypeAndSimGrid) {
  const CliRun r = run_geotrain("--version");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string simgrid = std::to_string(SIMGRID_VERSION_MAJOR) + "." + std::to_string(SIMGRID_VERSION_MINOR) + "." +
                              std::to_string(SIMGRID_VERSION_PATCH);
  EXPECT_EQ(r.out, "geotrain " GEOTRAIN_EXPECTED_VERSION "\ngit commit: " GEOTRAIN_GIT_COMMIT
                   "\nbuild type: " GEOTRAIN_EXPECTED_BUILD_TYPE "\nSimGrid: " + simgrid + "\n");
  // The commit is the build's (the header is written at every build): one of this tree's commits,
  // or "unknown" outside a git checkout.
  if (fs::exists(fs::path(GEOTRAIN_SOURCE_DIR) / ".git"))
    EXPECT_TRUE(known_commit(GEOTRAIN_GIT_COMMIT)) << GEOTRAIN_GIT_COMMIT;
  else
    EXPECT_STREQ(GEOTRAIN_GIT_COMMIT, "unknown");
}

// ---- --set ----

fs::path tiny_dir() {
  const fs::path dir = fresh_dir("geotrain_cli_set");
  write_file(dir / "tiny.json", geotrain::testing::kTinyScenario);
  return dir;
}

TEST(Cli, RunSetOverridesBeforeValidation) {
  const fs::path dir = tiny_dir();
  CliRun r = run_geotrain("run tiny.json --quiet --out out --set /workload/steps=3 --set /fleet/1/count=1", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json results = json::parse(read_file(dir / "out" / "results.json"));
  EXPECT_EQ(results["steps"], 3);
  EXPECT_EQ(results["workers"], 3);
  r = run_geotrain("run tiny.json --quiet --out bad --set /workload/steps=0", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tiny.json: /workload/steps: 0: expected an integer"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "bad"));
}

TEST(Cli, ValidateTakesSetLikeRun) {
  const fs::path dir = tiny_dir();
  CliRun r = run_geotrain("validate tiny.json --jobs 2 --set /fleet/0/count=1 --set /workload/steps=20", dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 workers in 2 regions (r0 x1, r1 x2)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("20 planned steps"), std::string::npos) << r.out;
  r = run_geotrain("validate tiny.json --set /workload/steps=0", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("geotrain: bad input: tiny.json: /workload/steps: 0: expected an integer", 0), 0u) << r.err;
}

// A scenario whose topology is a file: --set cannot reach inside it, and says so in its own words.
TEST(Cli, SetInsideATopologyFileIsBadInputNamingFilePointerValueAndWhatIsAllowed) {
  const fs::path dir = tiny_dir();
  json doc = json::parse(geotrain::testing::kTinyScenario);
  write_file(dir / "topo.json", doc["topology"].dump());
  doc["topology"] = "topo.json";
  write_file(dir / "s.json", doc.dump());
  const std::string expected =
      "geotrain: bad input: s.json: /topology/regions/0/name: \"x\": /topology is a file path here (\"topo.json\"), and "
      "--set reaches inside inline topologies only: put the topology in the scenario, or replace it whole "
      "(--set /topology=FILE or --set /topology='{...}')\n";
  for (const char* command : {"run s.json --quiet --out out", "validate s.json"}) {
    const CliRun r = run_geotrain(std::string(command) + " --set /topology/regions/0/name=x", dir);
    EXPECT_EQ(r.exit_code, 2) << command;
    EXPECT_EQ(r.err, expected) << command;
    EXPECT_EQ(r.err.find("json.exception"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(dir / "out"));
  // The whole topology may be replaced: the same file by another name still runs.
  fs::copy_file(dir / "topo.json", dir / "other.json");
  EXPECT_EQ(run_geotrain("run s.json --quiet --out out --set /topology=other.json", dir).exit_code, 0);
}

TEST(Cli, SetPointersThatCannotBeFollowedAreBadInput) {
  const fs::path dir = tiny_dir();
  struct Case {
    const char* set;
    const char* message;
  };
  const Case cases[] = {
      {"/fleet/3/count=1", "tiny.json: /fleet/3/count: 1: /fleet is an array of 2 entries: --set expects an index in "
                           "[0, 2] there (2 or - appends)"},
      {"/fleet/x/count=1", "tiny.json: /fleet/x/count: 1: /fleet is an array of 2 entries: --set expects an index in "
                           "[0, 2] there (2 or - appends)"},
      {"/name/first=1", "tiny.json: /name/first: 1: --set cannot reach inside /name: it is a string (\"tiny\"), not an "
                        "object or array; set it whole instead"},
      {"/seed/x=1", "tiny.json: /seed/x: 1: --set cannot reach inside /seed: it is a number (7), not an object or "
                    "array; set it whole instead"},
      {"/a~2b=1", "tiny.json: /a~2b: 1: --set expects a JSON pointer (RFC 6901): '~' only as ~0 (for ~) or ~1 (for /)"},
      {"workload=1", "tiny.json: --set workload=1: expected --set /json/pointer=value"},
  };
  for (const auto& c : cases) {
    const CliRun r = run_geotrain(std::string("run tiny.json --quiet --out out --set '") + c.set + "'", dir);
    EXPECT_EQ(r.exit_code, 2) << c.set;
    EXPECT_EQ(r.err, std::string("geotrain: bad input: ") + c.message + "\n") << c.set;
  }
  EXPECT_FALSE(fs::exists(dir / "out"));
  // Appending a fleet entry (index = length, or "-") is allowed.
  const CliRun r = run_geotrain("run tiny.json --quiet --out out --set "
                                "'/fleet/-={\"region\":\"r1\",\"instance\":\"gpu\",\"count\":1}'", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(read_file(dir / "out" / "results.json"))["workers"], 5);
}

// ---- topo ----

TEST(Cli, TopoListsTheInstanceTypesEachRegionOffers) {
  const fs::path dir = fresh_dir("geotrain_cli_topo");
  json t = json::parse(geotrain::testing::kTinyScenario)["topology"];
  t["regions"].push_back({{"name", "r2"}, {"cloud", "d"}, {"continent", "k0"}, {"offered_instance_types", {"d-small"}}});
  t["links"].push_back({{"a", "r1"}, {"b", "r2"}, {"latency_ms", 5}, {"capacity_Gbps", 10}});
  t["egress_usd_per_GB"]["d"] = t["egress_usd_per_GB"]["c"];
  const json type = t["instance_types"]["gpu"];
  t["instance_types"]["c-big"] = type;
  t["instance_types"]["c-big"]["cloud"] = "c";
  t["instance_types"]["d-small"] = type;
  t["instance_types"]["d-small"]["cloud"] = "d";
  t["instance_types"]["d-big"] = type;
  t["instance_types"]["d-big"]["cloud"] = "d";
  write_file(dir / "t.json", t.dump());
  // "gpu" has no cloud (any region), "c-big" only in cloud c, r2 offers only "d-small".
  CliRun r = run_geotrain("topo t.json --json", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["regions"][0]["instance_types"], json({"c-big", "gpu"}));
  EXPECT_EQ(j["regions"][1]["instance_types"], json({"c-big", "gpu"}));
  EXPECT_EQ(j["regions"][2]["instance_types"], json({"d-small"}));
  r = run_geotrain("topo t.json --regions r2,r0", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("instance types each region offers (a fleet entry may place only these there)\n"
                       "  [0] r2: d-small\n"
                       "  [1] r0: c-big, gpu\n"),
            std::string::npos)
      << r.out;
}

// ---- sweep lock ----

TEST(Cli, SecondSweepIntoALockedFolderExitsTwoNamingFolderLockAndPid) {
  const fs::path dir = tiny_dir();
  write_file(dir / "sweep.json", R"({"base": "tiny.json", "grid": {"/seed": [1, 2]}})");
  const fs::path out = dir / "out";
  fs::create_directories(out);
  const fs::path lock = out / "sweep.lock";
  // Hold the lock as a running sweep would: flock(2) and the holder's pid in the file.
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  const std::string pid = std::to_string(::getpid());
  ASSERT_EQ(::write(fd, (pid + "\n").data(), pid.size() + 1), static_cast<ssize_t>(pid.size() + 1));
  CliRun r = run_geotrain("sweep sweep.json --out '" + out.string() + "' --jobs 1", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "geotrain: sweep: " + out.string() + " is in use: another sweep (pid " + pid + ") holds its lock file " +
                       lock.string() + "; wait for it to finish, or write this sweep into another folder\n");
  EXPECT_FALSE(fs::exists(out / "points"));
  EXPECT_FALSE(fs::exists(out / "sweep.csv"));
  // Released (as when the holder dies): the sweep runs, and leaves its own pid behind, unlocked.
  ::close(fd);
  r = run_geotrain("sweep sweep.json --out '" + out.string() + "' --jobs 1", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "sweep.csv"));
  EXPECT_NE(read_file(lock), pid + "\n");
  const int again = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(again, 0);
  EXPECT_EQ(::flock(again, LOCK_EX | LOCK_NB), 0);  // nothing stale: the ended sweep holds nothing
  ::close(again);
}

// ---- model descriptions ----

// The transformer quickstart runs, prints tokens/s and the MFU achieved, and warns of nothing (every
// catalog type has its memory bandwidth); a type without one is named on stderr.
TEST(Cli, TransformerQuickstartPrintsTokensAndMfu) {
  const fs::path dir = fresh_dir("geotrain_cli_transformer");
  const std::string scenario = std::string(GEOTRAIN_SOURCE_DIR) + "/scenarios/quickstart-transformer.json";
  CliRun r = run_geotrain("run '" + scenario + "' --out out", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("throughput (tokens/s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MFU achieved"), std::string::npos) << r.out;
  const json results = json::parse(read_file(dir / "out" / "results.json"));
  EXPECT_DOUBLE_EQ(results["tokens_per_s"].get<double>(), results["throughput_samples_per_s"].get<double>() * 1024);
  EXPECT_GT(results["mfu_achieved"].get<double>(), 0);
  EXPECT_LT(results["mfu_achieved"].get<double>(), 0.4);  // under the scenario's mfu: communication is exposed
  EXPECT_EQ(results["warnings"], json::array());
  // The T4 of gcp-4-continents.json without its memory bandwidth.
  json topology = json::parse(read_file(fs::path(GEOTRAIN_SOURCE_DIR) / "topologies" / "gcp-4-continents.json"));
  topology["instance_types"]["n1-standard-8-t4"].erase("hbm_GBps");
  write_file(dir / "no-hbm.json", topology.dump());
  r = run_geotrain("run '" + scenario + "' --quiet --out out2 --set /topology=" + (dir / "no-hbm.json").string() +
                       " --set /fleet/0/region=us-central1 --set /fleet/1/region=europe-west1"
                       " --set /fleet/0/instance=n1-standard-8-t4 --set /fleet/1/instance=n1-standard-8-t4",
                   dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "geotrain: warning: instance type \"n1-standard-8-t4\" has no hbm_GBps: its optimizer steps take no "
                   "simulated time (add hbm_GBps, the GPU memory bandwidth, to the instance type)\n");
  EXPECT_EQ(json::parse(read_file(dir / "out2" / "results.json"))["warnings"].size(), 1u);
}

}  // namespace
