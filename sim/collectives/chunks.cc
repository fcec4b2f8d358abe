// Shared helpers of the collectives: chunk ranges, composing schedules.
#include "kernels/check.h"
#include "sim/collectives/collectives.h"

namespace geotrain::sim {

ChunkRange chunk_range(std::size_t numel, int parts, int index) {
  GEOTRAIN_CHECK(parts > 0 && index >= 0 && index < parts, "chunk index out of range");
  const std::size_t base = numel / parts;
  const std::size_t extra = numel % parts;
  const std::size_t i = static_cast<std::size_t>(index);
  return {i * base + std::min(i, extra), base + (i < extra ? 1 : 0)};
}

Flow RingStep::flow(int i) const {
  const int n = size();
  const int chunk = ((i + first - step) % n + n) % n;
  return {(*ring)[i], (*ring)[(i + 1) % n], chunk < large_chunks ? large_B : small_B};
}

void Phase::append(const Phase& other) {
  const std::size_t shift = flows_.size();
  flows_.insert(flows_.end(), other.flows_.begin(), other.flows_.end());
  for (const auto& [at, step] : other.steps_) steps_.push_back({shift + at, step});
}

std::size_t Phase::size() const {
  std::size_t n = flows_.size();
  for (const auto& entry : steps_) n += static_cast<std::size_t>(entry.second.size());
  return n;
}

Flow Phase::at(std::size_t k) const {
  std::size_t pos = 0, next = 0;  // position in the phase's order; explicit flows passed
  for (const auto& [at, step] : steps_) {
    if (k < pos + (at - next)) return flows_[next + (k - pos)];
    pos += at - next;
    next = at;
    if (k < pos + static_cast<std::size_t>(step.size())) return step.flow(static_cast<int>(k - pos));
    pos += static_cast<std::size_t>(step.size());
  }
  GEOTRAIN_CHECK(next + (k - pos) < flows_.size(), "flow index past the phase");
  return flows_[next + (k - pos)];
}

void Phase::expand(std::vector<Flow>& out) const {
  out.clear();
  out.reserve(size());
  for_each([&](const Flow& f) { out.push_back(f); });
}

void run_alongside(Schedule& into, const Schedule& part) {
  if (into.size() < part.size()) into.resize(part.size());
  for (std::size_t k = 0; k < part.size(); ++k) into[k].append(part[k]);
}

void run_after(Schedule& into, const Schedule& next) { into.insert(into.end(), next.begin(), next.end()); }

}  // namespace geotrain::sim
