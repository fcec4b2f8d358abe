// run_in_processes: fork up to `jobs` children, collect them with waitpid in completion order.
#include "cli/process_pool.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace geotrain::cli {
namespace {

constexpr std::size_t kMaxMessageBytes = 4096;  // well under a pipe's buffer: the child never blocks

struct Running {
  std::size_t index;
  int read_fd;
  std::chrono::steady_clock::time_point start;
};

[[noreturn]] void child_main(int write_fd, std::size_t index, const std::function<TaskResult(std::size_t)>& task) {
  TaskResult result;
  try {
    result = task(index);
  } catch (const std::exception& e) {
    result = {1, e.what()};
  } catch (...) {
    result = {1, "unknown exception"};
  }
  std::string reply = std::to_string(result.code) + ":" + result.message.substr(0, kMaxMessageBytes);
  for (std::size_t done = 0; done < reply.size();) {
    const ssize_t n = ::write(write_fd, reply.data() + done, reply.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(write_fd);
  std::fflush(nullptr);
  ::_exit(0);
}

TaskOutcome collect(const Running& r, int status) {
  std::string reply;
  char buf[kMaxMessageBytes];
  for (ssize_t n; (n = ::read(r.read_fd, buf, sizeof buf)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
  ::close(r.read_fd);
  TaskOutcome out;
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
  const auto colon = reply.find(':');
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || colon == std::string::npos) {
    out.code = 1;
    out.message = "the simulation process died" +
                  (WIFSIGNALED(status) ? " (signal " + std::to_string(WTERMSIG(status)) + ")" : std::string());
    return out;
  }
  out.code = std::stoi(reply.substr(0, colon));
  out.message = reply.substr(colon + 1);
  return out;
}

}  // namespace

void run_in_processes(std::size_t count, int jobs, const std::function<TaskResult(std::size_t)>& task,
                      const std::function<void(std::size_t, const TaskOutcome&)>& done) {
  if (jobs < 1) throw std::invalid_argument("run_in_processes: jobs must be >= 1");
  std::map<pid_t, Running> running;
  std::size_t next = 0;
  while (next < count || !running.empty()) {
    while (next < count && running.size() < static_cast<std::size_t>(jobs)) {
      int fds[2];
      if (::pipe(fds) != 0) throw std::runtime_error("run_in_processes: pipe failed");
      std::fflush(nullptr);  // or the child would flush the parent's buffered output again
      const pid_t parent = ::getpid();
      const pid_t pid = ::fork();
      if (pid < 0) throw std::runtime_error("run_in_processes: fork failed");
      if (pid == 0) {
        // The child dies with its parent (a killed sweep leaves no simulation writing behind it);
        // the parent may have died before the request took effect.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(1);
        ::close(fds[0]);
        child_main(fds[1], next, task);
      }
      ::close(fds[1]);
      running[pid] = Running{next++, fds[0], std::chrono::steady_clock::now()};
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) throw std::runtime_error("run_in_processes: waitpid failed");
    const auto it = running.find(pid);
    if (it == running.end()) continue;  // not one of ours
    const Running r = it->second;
    running.erase(it);
    done(r.index, collect(r, status));
  }
}

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace geotrain::cli
