// Processor time of this process, for the `perf` figures beside wall time: on a shared machine
// the time the process ran is steadier than the time that passed.
#pragma once
#include <ctime>

namespace geotrain::common {

// Seconds of processor time this process has used so far, all its threads together
// (CLOCK_PROCESS_CPUTIME_ID). Only differences between two calls mean anything.
inline double process_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  constexpr double kNsPerS = 1e9;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / kNsPerS;
}

}  // namespace geotrain::common
