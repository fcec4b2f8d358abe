// run_isolated: fork, run, send the result back through a pipe.
#include "sim/isolate.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "sim/json_reader.h"

namespace geotrain::sim {
namespace {

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string run_isolated(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("run_isolated: pipe failed");
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("run_isolated: fork failed");
  if (pid == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(1);  // dies with its parent
    ::close(fds[0]);
    std::string reply;
    try {
      reply = "0" + fn();
    } catch (const BadInput& e) {
      reply = std::string("2") + e.what();
    } catch (const std::exception& e) {
      reply = std::string("1") + e.what();
    }
    write_all(fds[1], reply);
    ::close(fds[1]);
    std::fflush(nullptr);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string reply;
  char buf[1 << 16];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || reply.empty())
    throw std::runtime_error("run_isolated: the simulation process died" +
                             (WIFSIGNALED(status) ? std::string(" (signal ") + std::to_string(WTERMSIG(status)) + ")"
                                                  : std::string()));
  if (reply[0] == '2') throw BadInput(reply.substr(1));
  if (reply[0] == '1') throw std::runtime_error(reply.substr(1));
  return reply.substr(1);
}

}  // namespace geotrain::sim
