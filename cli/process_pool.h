// Runs tasks in forked child processes, at most `jobs` at once, one task per process (SimGrid
// allows one engine per process). POSIX only. Not a thread pool: the parent only waits.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace geotrain::cli {

struct TaskOutcome {
  int code = 0;         // 0 ok; otherwise what the task returned, or 1 for a crash/exception
  std::string message;  // why it failed (empty when ok)
  double wall_s = 0;    // fork to exit, wall clock
};

// In the child, `task(i)` runs and returns {code, message}; its result travels back through a
// pipe (message cut to 4 kB).  In the parent, `done(i, outcome)` is called as each task
// finishes, in completion order.  A child is killed (SIGKILL) when the parent dies, so no task
// outlives the process that started it.  REQUIRES: jobs >= 1.  Throws std::runtime_error when it cannot
// fork or make a pipe.
struct TaskResult {
  int code = 0;
  std::string message;
};
void run_in_processes(std::size_t count, int jobs, const std::function<TaskResult(std::size_t)>& task,
                      const std::function<void(std::size_t, const TaskOutcome&)>& done);

// Cores this process may use (sched_getaffinity), at least 1.
int usable_cores();

}  // namespace geotrain::cli
