// Hivemind's bandwidth-weighted butterfly all-reduce: the butterfly (butterfly_allreduce.cc)
// with each member's part sized by its NIC bandwidth, so a faster peer owns and reduces more of
// the vector; its weighted mean is Hivemind's averager (each peer weighted by its samples).
// Message-level only: its row has no schedule, so it runs as messages in the
// "collective" fidelity too (Hivemind's sums keep the butterfly's order of additions).
#include "sim/collectives/collectives.h"
#include "sim/context.h"

namespace geotrain::sim {

std::vector<double> nic_weights(const Platform& platform, const std::vector<int>& order) {
  std::vector<double> weights;
  weights.reserve(order.size());
  for (int p : order) weights.push_back(platform.nodes()[p].type->nic_Bps);
  return weights;
}

void weighted_butterfly_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t, const AllreduceGroup& group) {
  butterfly_allreduce_sum(ctx, t, group.order, nic_weights(ctx.platform(), group.order));
}

double weighted_butterfly_weighted_mean(WorkerContext& ctx, runtime::Tensor& t, const AllreduceGroup& group,
                                        double weight, kernels::WireFormat format) {
  return butterfly_allreduce_weighted_mean(ctx, t, group.order, nic_weights(ctx.platform(), group.order), weight,
                                           format);
}

}  // namespace geotrain::sim
