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

void run_alongside(Schedule& into, const Schedule& part) {
  if (into.size() < part.size()) into.resize(part.size());
  for (std::size_t k = 0; k < part.size(); ++k) into[k].insert(into[k].end(), part[k].begin(), part[k].end());
}

void run_after(Schedule& into, const Schedule& next) { into.insert(into.end(), next.begin(), next.end()); }

}  // namespace geotrain::sim
