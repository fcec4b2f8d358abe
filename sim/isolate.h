// Runs a function in a forked child process and returns what it produced. SimGrid allows one
// engine per process, so this is how one process (a test, a benchmark, a sweep) runs many
// simulations. POSIX only.
#pragma once
#include <functional>
#include <stdexcept>
#include <string>

namespace geotrain::sim {

// Runs `fn` in a child process and returns its string.  If `fn` throws BadInput the same
// BadInput is thrown here; any other exception, or a child that dies, throws
// std::runtime_error with what is known.
std::string run_isolated(const std::function<std::string()>& fn);

}  // namespace geotrain::sim
