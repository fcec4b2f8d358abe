// Ledger: byte and dollar accounting.
#include "sim/ledger.h"

#include <algorithm>

namespace geotrain::sim {

Ledger::Ledger(const Topology& topology)
    : topology_(topology),
      bytes_(topology.regions.size(), std::vector<std::uint64_t>(topology.regions.size(), 0)) {}

void Ledger::add_transfer(int src_region, int dst_region, std::uint64_t bytes) {
  bytes_[src_region][dst_region] += bytes;
  ++transfers_;
}

void Ledger::add_transfers(int src_region, int dst_region, std::uint64_t bytes, std::uint64_t count) {
  bytes_[src_region][dst_region] += bytes;
  transfers_ += count;
}

double Ledger::compute_usd(double simulated_s) const {
  double usd = compute_usd_per_s_ * simulated_s;
  for (const Segment& s : segments_)
    if (simulated_s > s.from_s) usd += s.usd_per_s * (std::min(simulated_s, s.to_s) - s.from_s);
  return usd;
}

double Ledger::egress_usd(int src_region, int dst_region) const {
  return static_cast<double>(bytes_[src_region][dst_region]) *
         topology_.egress_usd_per_B(src_region, dst_region);
}

std::uint64_t Ledger::total_bytes() const {
  std::uint64_t sum = 0;
  for (const auto& row : bytes_)
    for (auto b : row) sum += b;
  return sum;
}

std::uint64_t Ledger::wan_bytes() const {
  std::uint64_t sum = 0;
  for (std::size_t a = 0; a < bytes_.size(); ++a)
    for (std::size_t b = 0; b < bytes_.size(); ++b)
      if (a != b) sum += bytes_[a][b];
  return sum;
}

double Ledger::total_egress_usd() const {
  double sum = 0;
  for (std::size_t a = 0; a < bytes_.size(); ++a)
    for (std::size_t b = 0; b < bytes_.size(); ++b)
      sum += egress_usd(static_cast<int>(a), static_cast<int>(b));
  return sum;
}

}  // namespace geotrain::sim
