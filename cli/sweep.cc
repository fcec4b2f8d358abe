// `geotrain sweep SWEEP.json --out DIR [--jobs N] [--rerun]`: runs every point of a sweep (one
// simulation per forked process, N at a time), resumes finished points, writes DIR/sweep.csv
// and DIR/pareto.csv. One sweep at a time per folder (DIR/sweep.lock). The sweep file format is in
// docs/SWEEPS.md.  Under MPI (`mpirun -n K geotrain sweep ...`, cli/ranks.h) rank 0 takes the lock
// and picks the points to run, rank r runs every K-th of them from the r-th (each forking N at a
// time), and rank 0 writes the tables from the points' results.json: DIR must be a folder every
// rank sees (a shared file system on a cluster).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "analysis/json_file.h"
#include "analysis/pareto.h"
#include "analysis/replicas.h"
#include "analysis/sweep_plan.h"
#include "analysis/sweep_table.h"
#include "cli/commands.h"
#include "cli/process_pool.h"
#include "cli/ranks.h"
#include "runtime/dataset.h"
#include "sim/json_reader.h"
#include "sim/run.h"
#include "sim/scenario.h"

namespace {

namespace fs = std::filesystem;
namespace analysis = geotrain::analysis;
namespace sim = geotrain::sim;
using geotrain::cli::TaskOutcome;
using geotrain::cli::TaskResult;

constexpr const char* kPointRecord = "point.json";  // axes and scenario hash of a point folder
constexpr const char* kResults = "results.json";
constexpr const char* kLockFile = "sweep.lock";       // flock(2)ed by the sweep running in a folder

struct SweepOptions {
  std::string sweep_file, out_dir;
  int jobs = 0;  // 0: every usable core
  bool rerun = false;
  std::vector<std::string> cfgs;  // SimGrid options, KEY:VALUE
  std::string calibration;        // --calibration FILE: "calibration" in the base scenario
  long replicas = 0;              // --replicas N: draws per point with faults (0: the sweep file's)
};

constexpr const char* kReplicaSummary = "replicas.json";  // a point's spread over its draws

// Draws a point runs: the sweep's replicas when its fault process is random; one otherwise (a run
// without faults, or with traces and fixed-time outages only, is the same in every draw).
long draws_of(const analysis::SweepPlan& plan, const analysis::SweepPoint& p, long replicas) {
  if (replicas <= 1) return 1;
  const sim::Scenario s = sim::parse_scenario(p.scenario, plan.base_file);
  return sim::fault_process_is_random(s.fleet, s.faults.zone_outages) ? replicas : 1;
}

fs::path point_dir(const std::string& out_dir, const analysis::SweepPoint& p) { return fs::path(out_dir) / "points" / p.id; }

// Draw 0 is the plain run, in the point's folder; draw d of a point with replicas in replicas/<d>.
fs::path draw_dir(const std::string& out_dir, const analysis::SweepPoint& p, long draw) {
  return draw == 0 ? point_dir(out_dir, p) : point_dir(out_dir, p) / "replicas" / std::to_string(draw);
}

// Validates every point's scenario before anything runs (each point is built, checked and
// dropped: a sweep of 1,000,000 points never holds 1,000,000 scenarios).  On a bad point returns
// the one-line message (sweep file, point axes, scenario error); "" when every point is good.
std::string validate_points(const analysis::SweepPlan& plan) {
  for (std::size_t i = 0; i < plan.points.size(); ++i) {
    try {
      const analysis::SweepPoint p = plan.points[i];
      try {
        sim::parse_scenario(p.scenario, plan.base_file);
      } catch (const sim::BadInput& e) {
        return fmt::format("{}: point {} ({}): {}", plan.file, p.id, analysis::axes_text(p.axes), e.what());
      }
    } catch (const analysis::InputError& e) {
      return e.what();
    }
  }
  return "";
}

// A point is finished when its point.json records the same scenario hash and its results.json is
// a complete JSON document (write_outputs writes it last, through a rename); with several draws,
// when its replicas.json (written once every draw finished) has as many.
bool finished(const fs::path& dir, const std::string& hash, long draws) {
  try {
    const auto record = analysis::read_json((dir / kPointRecord).string());
    if (!record.is_object() || record.value("scenario_hash", "") != hash) return false;
    if (draws > 1 && analysis::read_json((dir / kReplicaSummary).string()).value("replicas", 0L) != draws) return false;
    return analysis::read_json((dir / kResults).string()).is_object();
  } catch (const analysis::InputError&) {
    return false;
  }
}

// Before a point runs: no results.json from an older scenario, and a point.json for this one.
void prepare_point(const analysis::SweepPlan& plan, const analysis::SweepPoint& p, const fs::path& dir, const std::string& hash) {
  fs::create_directories(dir);
  fs::remove(dir / kResults);
  fs::remove(dir / kReplicaSummary);
  fs::remove_all(dir / "replicas");
  nlohmann::ordered_json record = {{"id", p.id},          {"index", p.index},
                                   {"sweep_file", plan.file}, {"base_file", plan.base_file},
                                   {"axes", p.axes},      {"scenario_hash", hash},
                                   {"scenario", p.scenario}};
  if (!p.labels.empty()) record["labels"] = p.labels;
  analysis::write_text_atomically((dir / kPointRecord).string(), record.dump(2) + "\n");
}

// A reused point: its point.json takes the labels of this version of the sweep file (labels do not
// change results, so a relabelled point is not run again).
void update_labels(const analysis::SweepPoint& p, const fs::path& dir) {
  auto record = analysis::read_json((dir / kPointRecord).string());
  const nlohmann::ordered_json before = record.value("labels", nlohmann::ordered_json::object());
  if (before == p.labels) return;
  if (p.labels.empty()) record.erase("labels");
  else record["labels"] = p.labels;
  analysis::write_text_atomically((dir / kPointRecord).string(), record.dump(2) + "\n");
}

// A progress bar with ETA on a terminal; one plain line per finished point otherwise.
class Progress {
 public:
  Progress(std::size_t total, bool tty) : total_(total), tty_(tty), start_(std::chrono::steady_clock::now()) {}

  void finished(const std::string& id, const TaskOutcome& outcome) {
    ++done_;
    const double elapsed_s = seconds_since(start_);
    if (!tty_) {
      fmt::print(stderr, "sweep: [{}/{}] {} {} in {:.3f} s\n", done_, total_, id, outcome.code == 0 ? "ran" : "FAILED",
                 outcome.wall_s);
      return;
    }
    if (done_ < total_ && elapsed_s - drawn_s_ < kRedrawEvery_s) return;
    drawn_s_ = elapsed_s;
    draw(elapsed_s);
  }

  // A message on its own line (the bar is redrawn after it on a terminal).
  void say(const std::string& line) {
    fmt::print(stderr, "{}{}\n", tty_ ? "\r\033[K" : "", line);
    if (tty_ && done_ > 0 && done_ < total_) draw(seconds_since(start_));
  }

  void close() {
    if (tty_ && total_ > 0) fmt::print(stderr, "\n");
  }

 private:
  static constexpr double kRedrawEvery_s = 0.1;
  static constexpr int kBarWidth = 30;

  static double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }

  void draw(double elapsed_s) {
    const double fraction = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1;
    const int filled = static_cast<int>(fraction * kBarWidth);
    const double eta_s = done_ ? elapsed_s / static_cast<double>(done_) * static_cast<double>(total_ - done_) : 0;
    fmt::print(stderr, "\r\033[K[{:#<{}}{:-<{}}] {}/{} points {:3.0f}%  elapsed {:.0f} s  ETA {:.0f} s", "", filled, "",
               kBarWidth - filled, done_, total_, fraction * 100, elapsed_s, eta_s);
    std::fflush(stderr);
  }

  std::size_t total_, done_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  double drawn_s_ = -1;
};

// A task: draw `draw` of point `point`, encoded as point * replicas + draw (MPI ranks exchange them).
struct Task {
  std::size_t point = 0;
  long draw = 0;
};
Task decode(std::uint64_t code, long replicas) {
  return {static_cast<std::size_t>(code / static_cast<std::uint64_t>(replicas)), static_cast<long>(code % static_cast<std::uint64_t>(replicas))};
}

// Runs the tasks in `to_run` (draws of points); returns the worst exit code of a failed one (0:
// none failed); a point with a failed draw is failed.
int run_points(const analysis::SweepPlan& plan, const std::vector<std::uint64_t>& to_run, long replicas,
               const SweepOptions& opts, std::set<std::size_t>& failed) {
  const int jobs = opts.jobs > 0 ? opts.jobs : geotrain::cli::usable_cores();
  Progress progress(to_run.size(), ::isatty(STDERR_FILENO) != 0);
  int worst = 0;
  auto task = [&](std::size_t k) -> TaskResult {  // runs in the child process
    const Task t = decode(to_run[k], replicas);
    const analysis::SweepPoint p = plan.points[t.point];
    try {
      sim::Scenario scenario = sim::parse_scenario(p.scenario, plan.base_file);
      if (t.draw > 0) scenario.fault_seed = analysis::replica_fault_seed(scenario.seed, static_cast<std::size_t>(t.draw));
      sim::write_outputs(sim::run_scenario(scenario), draw_dir(opts.out_dir, p, t.draw).string());
      return {0, ""};
    } catch (const geotrain::runtime::DataError& e) {
      return {geotrain::cli::kExitBadInput, plan.base_file + ": " + e.what()};
    } catch (const sim::BadInput& e) {
      return {geotrain::cli::kExitBadInput, e.what()};
    }
  };
  auto done = [&](std::size_t k, const TaskOutcome& outcome) {
    const Task t = decode(to_run[k], replicas);
    const analysis::SweepPoint p = plan.points[t.point];
    progress.finished(t.draw > 0 ? fmt::format("{} draw {}", p.id, t.draw) : p.id, outcome);
    if (outcome.code == 0) return;
    failed.insert(t.point);
    // A crash or unexpected error (1) outranks bad input found while running (2, e.g. missing data).
    if (outcome.code != geotrain::cli::kExitBadInput) worst = geotrain::cli::kExitCheckFailed;
    else if (worst == 0) worst = geotrain::cli::kExitBadInput;
    progress.say(fmt::format("geotrain: point {} ({}) failed: {}", p.id, analysis::axes_text(p.axes), outcome.message));
  };
  geotrain::cli::run_in_processes(to_run.size(), jobs, task, done);
  progress.close();
  return worst;
}

// Reads every finished point's results and writes DIR/sweep.csv and DIR/pareto.csv.  With
// replicas, each point's row is the mean over its draws (with intervals), and a point whose draws
// just finished gets its replicas.json.
void write_tables(const analysis::SweepPlan& plan, const std::string& out_dir, const std::set<std::size_t>& failed,
                  long replicas) {
  std::vector<analysis::PointRow> rows;
  for (const auto& p : plan.points) {
    if (failed.count(p.index)) continue;
    const auto results = analysis::read_json((point_dir(out_dir, p) / kResults).string());
    if (replicas <= 1) {
      rows.push_back(analysis::point_row(p.id, analysis::shown_axes(p), results));
      continue;
    }
    const long draws = draws_of(plan, p, replicas);
    std::vector<nlohmann::ordered_json> all = {results};
    for (long d = 1; d < draws; ++d) all.push_back(analysis::read_json((draw_dir(out_dir, p, d) / kResults).string()));
    const auto seeds = analysis::replica_fault_seeds(results.value("seed", std::uint64_t{0}), static_cast<std::size_t>(draws));
    if (draws > 1 && !fs::exists(point_dir(out_dir, p) / kReplicaSummary))
      analysis::write_text_atomically((point_dir(out_dir, p) / kReplicaSummary).string(),
                                      analysis::replica_summary(all, seeds).dump(2) + "\n");
    rows.push_back(analysis::replica_row(p.id, analysis::shown_axes(p), all));
  }
  analysis::write_text_atomically((fs::path(out_dir) / "sweep.csv").string(),
                                  analysis::sweep_csv(plan.axis_pointers, rows, replicas > 1));
  const analysis::SweepPareto front = analysis::sweep_pareto(rows);
  std::vector<analysis::PointRow> front_rows;
  for (const std::size_t i : front.rows) front_rows.push_back(rows[i]);
  analysis::write_text_atomically((fs::path(out_dir) / "pareto.csv").string(),
                                  analysis::sweep_csv(plan.axis_pointers, front_rows, replicas > 1));
  fmt::print("pareto: {} of {} points on the front ({} {} vs total_usd minimized)\n", front_rows.size(), rows.size(),
             front.speed_column, front.maximize_speed ? "maximized" : "minimized");
}

// An exclusive flock(2) on DIR/sweep.lock for the life of this process (its forked point runs
// share it). The kernel drops it when the process ends, however it ends, so a killed sweep leaves
// no stale lock; the file itself stays, holding the pid of the last sweep that held it.
class FolderLock {
 public:
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

  // Takes the lock; false (with `why` set) when another process holds it or it cannot be taken.
  bool acquire(const std::string& out_dir, std::string& why) {
    fs::create_directories(out_dir);
    const std::string file = (fs::path(out_dir) / kLockFile).string();
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      why = fmt::format("cannot open the lock file {}: {}", file, std::strerror(errno));
      return false;
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      std::string pid = holder_pid();
      why = error == EWOULDBLOCK
                ? fmt::format("{} is in use: another sweep (pid {}) holds its lock file {}; wait for it to finish, or "
                              "write this sweep into another folder",
                              out_dir, pid.empty() ? "unknown" : pid, file)
                : fmt::format("cannot lock {}: {}", file, std::strerror(error));
      return false;
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
      fmt::print(stderr, "sweep: note: could not record this pid in {}\n", file);  // the lock still holds
    return true;
  }

 private:
  std::string holder_pid() const {
    char buffer[32] = {};
    const ssize_t n = ::pread(fd_, buffer, sizeof buffer - 1, 0);
    std::string text = n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
    text.erase(text.find_last_not_of(" \n") + 1);
    return text;
  }

  int fd_ = -1;
};

// Point folders under DIR/points that this sweep does not own (an older version of the sweep).
std::size_t foreign_point_folders(const analysis::SweepPlan& plan, const std::string& out_dir) {
  std::set<std::string> ids;
  for (const auto& p : plan.points) ids.insert(p.id);
  std::size_t foreign = 0;
  if (!fs::is_directory(fs::path(out_dir) / "points")) return 0;
  for (const auto& entry : fs::directory_iterator(fs::path(out_dir) / "points"))
    if (entry.is_directory() && !ids.count(entry.path().filename().string())) ++foreign;
  return foreign;
}

// Rank 0: the points to run (those not finished, or all with --rerun), each prepared; finished
// ones take this sweep file's labels.
std::vector<std::uint64_t> points_to_run(const analysis::SweepPlan& plan, const SweepOptions& opts, long replicas,
                                         std::size_t& points) {
  std::vector<std::uint64_t> to_run;
  points = 0;
  for (const auto& p : plan.points) {
    const fs::path dir = point_dir(opts.out_dir, p);
    const std::string hash = analysis::scenario_hash(p.scenario, plan.base_file);
    const long draws = draws_of(plan, p, replicas);
    if (!opts.rerun && finished(dir, hash, draws)) {
      update_labels(p, dir);
      continue;
    }
    prepare_point(plan, p, dir, hash);
    ++points;
    for (long d = 0; d < draws; ++d) to_run.push_back(p.index * static_cast<std::uint64_t>(replicas) + static_cast<std::uint64_t>(d));
  }
  return to_run;
}

int cmd_sweep(const SweepOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  if (geotrain::cli::launched_without_mpi()) {
    fmt::print(stderr, "geotrain: sweep: started by an MPI launcher with several processes, but this geotrain was built "
                       "without MPI: install libopenmpi-dev and rebuild (scripts/setup.sh), or run the sweep without "
                       "mpirun\n");
    return geotrain::cli::kExitBadInput;
  }
  const geotrain::cli::Ranks ranks;
  // Every rank reads and checks the same files; rank 0 says what is wrong.
  const auto refuse = [&ranks](const std::string& prefix, const std::string& message) {
    if (ranks.lead()) fmt::print(stderr, "geotrain: {}: {}\n", prefix, message);
    return geotrain::cli::kExitBadInput;
  };
  analysis::SweepPlan plan;
  try {
    plan = analysis::load_sweep(opts.sweep_file);
  } catch (const analysis::InputError& e) {
    return refuse("bad input", e.what());
  }
  if (!opts.calibration.empty()) {
    const std::string path = fs::absolute(opts.calibration).lexically_normal().string();
    if (const std::string problem = plan.points.set_in_base("/calibration", path); !problem.empty())
      return refuse("bad input", fmt::format("{}: --calibration {}: {}", plan.file, opts.calibration, problem));
  }
  if (const std::string problem = validate_points(plan); !problem.empty()) return refuse("bad input", problem);
  if (const std::string problem = sim::check_simgrid_options(opts.cfgs); !problem.empty()) return refuse("bad input", problem);
  sim::set_simgrid_options(opts.cfgs);
  FolderLock lock;
  std::string why;
  const bool locked = !ranks.lead() || lock.acquire(opts.out_dir, why);
  if (ranks.max(locked ? 0 : 1) != 0) return refuse("sweep", why);
  const long replicas = std::max(1L, opts.replicas > 0 ? opts.replicas : plan.replicas);
  std::vector<std::uint64_t> to_run;
  std::size_t points_run = 0;
  if (ranks.lead()) to_run = points_to_run(plan, opts, replicas, points_run);
  to_run = ranks.broadcast(std::move(to_run));
  std::set<std::size_t> running;
  for (const std::uint64_t code : to_run) running.insert(decode(code, replicas).point);
  points_run = running.size();
  const std::size_t reused = plan.points.size() - points_run;
  if (reused > 0 && ranks.lead())
    fmt::print(stderr, "sweep: reusing {} finished points (results.json present, same scenario hash)\n", reused);
  std::vector<std::uint64_t> mine;  // this rank's share: every size()-th task from the rank-th
  for (std::size_t k = static_cast<std::size_t>(ranks.rank()); k < to_run.size(); k += static_cast<std::size_t>(ranks.size()))
    mine.push_back(to_run[k]);
  std::set<std::size_t> failed_here;
  const int worst = ranks.max(run_points(plan, mine, replicas, opts, failed_here));
  const auto gathered = ranks.gather(std::vector<std::uint64_t>(failed_here.begin(), failed_here.end()));
  if (!ranks.lead()) return worst;
  const std::set<std::size_t> failed(gathered.begin(), gathered.end());
  write_tables(plan, opts.out_dir, failed, replicas);
  if (const std::size_t foreign = foreign_point_folders(plan, opts.out_dir); foreign > 0)
    fmt::print("note: {} folders in {}/points belong to no point of this sweep (left in place)\n", foreign, opts.out_dir);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int jobs = opts.jobs > 0 ? opts.jobs : geotrain::cli::usable_cores();
  fmt::print("sweep {}: {} points: {} run, {} reused, {} failed ({}, {:.1f} s); wrote {}/sweep.csv, {}/pareto.csv\n",
             plan.name, plan.points.size(), points_run - failed.size(), reused, failed.size(),
             ranks.size() > 1 ? fmt::format("{} ranks x {} jobs", ranks.size(), jobs) : fmt::format("{} jobs", jobs),
             wall_s, opts.out_dir, opts.out_dir);
  return worst;
}

}  // namespace

namespace geotrain::cli {

void add_sweep_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<SweepOptions>();
  auto* sweep = app.add_subcommand("sweep", "run every point of a sweep file in parallel; write sweep.csv and pareto.csv");
  sweep->add_option("sweep", opts->sweep_file, "sweep JSON file (docs/SWEEPS.md)")->required();
  sweep->add_option("--out", opts->out_dir, "output folder: points/<id>/, sweep.csv, pareto.csv")->required();
  sweep->add_option("--jobs", opts->jobs, "simulations at once (default: every usable core)")->check(CLI::Range(1, 4096));
  sweep->add_option("--cfg", opts->cfgs, "pass a SimGrid option to every point, KEY:VALUE (repeatable)");
  sweep->add_flag("--rerun", opts->rerun, "run every point again, even those already finished");
  sweep->add_option("--replicas", opts->replicas,
                    "draws of the fault process per point with faults (overrides the sweep file's \"replicas\"); "
                    "sweep.csv holds means over the draws with intervals")
      ->check(CLI::Range(1L, analysis::kMaxSweepReplicas));
  sweep->add_option("--calibration", opts->calibration,
                    "apply a calibration (geotrain calibrate's calibration.json) to every point, as \"calibration\" in "
                    "the base scenario (an axis on /calibration overrides it)");
  sweep->callback([opts, &exit_code] { exit_code = cmd_sweep(*opts); });
}

}  // namespace geotrain::cli
