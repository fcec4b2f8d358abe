// The one random number generator of geotrain: xoshiro256** seeded through splitmix64, with
// its own distributions (never std::*_distribution, whose output differs across libraries).
// Every actor gets its own sub-stream derived from (seed, actor name).
#pragma once
#include <cstdint>
#include <string_view>

namespace geotrain::runtime {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  // A sub-stream for `name`, independent of the others for practical purposes.
  static Rng substream(std::uint64_t seed, std::string_view name);

  std::uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Uniform integer in [0, n).  REQUIRES: n > 0.
  std::uint64_t below(std::uint64_t n);
  // Exponential with the given rate (mean 1/rate).  REQUIRES: rate > 0.
  double exponential(double rate);
  // Standard normal (Box-Muller, no cached second value: stateless across calls).
  double normal();

 private:
  std::uint64_t s_[4];
};

}  // namespace geotrain::runtime
