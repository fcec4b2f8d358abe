// The ledger meters every byte and every instance-second of a run: bytes per (source region,
// destination region), egress dollars by the source cloud's rules, and compute dollars billed
// per second of simulated time. It knows prices, not SimGrid.
#pragma once
#include <cstdint>
#include <vector>

#include "sim/topology.h"

namespace geotrain::sim {

class Ledger {
 public:
  explicit Ledger(const Topology& topology);

  // Meters one transfer of `bytes` from a host in region src to a host in region dst.
  void add_transfer(int src_region, int dst_region, std::uint64_t bytes);
  // `count` transfers of `bytes` in all from src_region to dst_region (closed-form collectives).
  void add_transfers(int src_region, int dst_region, std::uint64_t bytes, std::uint64_t count);
  // Adds an instance that bills `usd_per_s` while it runs (from simulated time 0 on).
  void add_instance(double usd_per_s) { compute_usd_per_s_ += usd_per_s; }
  // Adds a billing segment: `usd_per_s` from from_s until to_s (a preempted instance stops
  // billing at once; its replacement bills from the moment it is back).
  void add_billing(double usd_per_s, double from_s, double to_s) { segments_.push_back({usd_per_s, from_s, to_s}); }

  std::uint64_t bytes(int src_region, int dst_region) const { return bytes_[src_region][dst_region]; }
  double egress_usd(int src_region, int dst_region) const;
  std::uint64_t total_bytes() const;
  // Bytes between two different regions (the WAN).
  std::uint64_t wan_bytes() const;
  double total_egress_usd() const;
  // Dollars of all instances that ran from 0 to `simulated_s`.
  double compute_usd(double simulated_s) const;
  std::uint64_t transfers() const { return transfers_; }
  // Bytes of collective sends started and not yet completed, summed over all nodes; the peak is
  // what a bandwidth plan must carry at once.
  void add_in_flight(double bytes) {
    in_flight_B_ += bytes;
    if (in_flight_B_ > peak_in_flight_B_) peak_in_flight_B_ = in_flight_B_;
  }
  double peak_in_flight_B() const { return peak_in_flight_B_; }

 private:
  const Topology& topology_;
  std::vector<std::vector<std::uint64_t>> bytes_;
  double compute_usd_per_s_ = 0;
  struct Segment {
    double usd_per_s, from_s, to_s;
  };
  std::vector<Segment> segments_;
  std::uint64_t transfers_ = 0;
  double in_flight_B_ = 0, peak_in_flight_B_ = 0;
};

}  // namespace geotrain::sim
