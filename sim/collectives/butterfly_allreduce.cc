// Butterfly all-reduce as Hivemind runs it: the vector is split into one part per member, sized
// by the members' weights (e.g. their bandwidth); every member sends each part to its owner,
// the owner sums the contributions in group order, then sends the reduced part back to every
// member.  Each member sends and receives (1 - w_i) x S in each phase.
#include <numeric>

#include "sim/collectives/collectives.h"
#include "sim/collectives/ring_internal.h"

namespace geotrain::sim {

std::vector<ChunkRange> weighted_chunks(std::size_t numel, const std::vector<double>& weights) {
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<ChunkRange> out;
  std::size_t begin = 0;
  double cumulative = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    cumulative += weights[i];
    const std::size_t end = i + 1 == weights.size() ? numel : static_cast<std::size_t>(numel * (cumulative / total));
    out.push_back({begin, end - begin});
    begin = end;
  }
  return out;
}

void butterfly_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                             const std::vector<double>& weights) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) return;
  const int me = detail::index_in(group, ctx.rank());
  const std::vector<ChunkRange> parts = weighted_chunks(t.numel(), weights);
  // Reduce-scatter: everyone sends part j to member j.
  std::vector<Transfer> rx(n), tx;
  for (int j = 0; j < n; ++j)
    if (j != me) rx[j] = ctx.recv_async(group[j]);
  for (int j = 0; j < n; ++j)
    if (j != me) {
      detail::round_to_sum_format(t, parts[j]);  // what goes out is in the sum format
      tx.push_back(ctx.send_async(group[j], detail::values_of(t, parts[j]), t.wire_bytes(parts[j].count)));
    }
  std::vector<std::unique_ptr<Message>> got(n);
  for (int j = 0; j < n; ++j)
    if (j != me) got[j] = ctx.wait(rx[j]);
  for (auto& x : tx) ctx.wait(x);
  if (t.is_real()) {  // sum in group order, whoever arrived first
    std::vector<float> sum(parts[me].count, 0.0f);
    for (int j = 0; j < n; ++j) {
      const float* src = j == me ? t.slice(parts[me].begin, parts[me].count).data() : got[j]->values.data();
      kernels::add_into(sum.data(), src, sum.size());
    }
    kernels::copy(t.slice(parts[me].begin, parts[me].count).data(), sum.data(), sum.size());
  }
  detail::round_to_sum_format(t, parts[me]);  // the complete sum, once
  // All-gather: every owner sends its reduced part to everyone.
  tx.clear();
  for (int j = 0; j < n; ++j)
    if (j != me) rx[j] = ctx.recv_async(group[j]);
  for (int j = 0; j < n; ++j)
    if (j != me) tx.push_back(ctx.send_async(group[j], detail::values_of(t, parts[me]), t.wire_bytes(parts[me].count)));
  for (int j = 0; j < n; ++j)
    if (j != me) detail::overwrite(t, parts[j], *ctx.wait(rx[j]));
  for (auto& x : tx) ctx.wait(x);
}

double butterfly_allreduce_weighted_mean(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                                         const std::vector<double>& part_weights, double weight,
                                         kernels::WireFormat format) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) {
    if (weight == 0 && t.is_real()) kernels::scale(t.values().data(), 0.0f, t.numel());
    return weight;
  }
  const int me = detail::index_in(group, ctx.rank());
  const std::vector<ChunkRange> parts = weighted_chunks(t.numel(), part_weights);
  // Reduce-scatter: everyone sends part j, with its weight, to member j.
  std::vector<Transfer> rx(n), tx;
  for (int j = 0; j < n; ++j)
    if (j != me) rx[j] = ctx.recv_async(group[j]);
  for (int j = 0; j < n; ++j)
    if (j != me) {
      Message m{detail::values_of(t, parts[j])};
      m.weight = weight;
      tx.push_back(ctx.send_message_async(group[j], std::move(m), t.wire_bytes(parts[j].count)));
    }
  std::vector<std::unique_ptr<Message>> got(n);
  for (int j = 0; j < n; ++j)
    if (j != me) got[j] = ctx.wait(rx[j]);
  for (auto& x : tx) ctx.wait(x);
  double total = 0;  // in group order, whoever arrived first
  for (int j = 0; j < n; ++j) total += j == me ? weight : got[j]->weight;
  if (t.is_real()) {
    const ChunkRange mine = parts[me];
    std::vector<float> average(mine.count, 0.0f);
    if (total > 0) {
      for (int j = 0; j < n; ++j) {
        const float* src = j == me ? t.slice(mine.begin, mine.count).data() : got[j]->values.data();
        const double w = j == me ? weight : got[j]->weight;
        kernels::add_scaled_into(average.data(), src, static_cast<float>(w / total), mine.count);
      }
      kernels::roundtrip(format, average.data(), average.data(), mine.count, kernels::kDefaultBlockValues);
    }
    kernels::copy(t.slice(mine.begin, mine.count).data(), average.data(), mine.count);
  }
  // All-gather: every owner sends its averaged part, with the total weight, to everyone.
  tx.clear();
  for (int j = 0; j < n; ++j)
    if (j != me) rx[j] = ctx.recv_async(group[j]);
  for (int j = 0; j < n; ++j)
    if (j != me) {
      Message m{detail::values_of(t, parts[me])};
      m.weight = total;
      tx.push_back(ctx.send_message_async(group[j], std::move(m), t.wire_bytes(parts[me].count)));
    }
  for (int j = 0; j < n; ++j)
    if (j != me) {
      const std::unique_ptr<Message> m = ctx.wait(rx[j]);
      GEOTRAIN_CHECK(m->weight == total, "members of a weighted average disagree on its total weight");
      detail::overwrite(t, parts[j], *m);
    }
  for (auto& x : tx) ctx.wait(x);
  return total;
}

Schedule butterfly_allreduce_schedule(const runtime::Tensor& t, const std::vector<int>& group,
                                      const std::vector<double>& weights) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) return {};
  const std::vector<ChunkRange> parts = weighted_chunks(t.numel(), weights);
  Phase scatter, gather;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j) {
        scatter.push_back({group[i], group[j], t.wire_bytes(parts[j].count)});
        gather.push_back({group[j], group[i], t.wire_bytes(parts[j].count)});
      }
  return {scatter, gather};
}

}  // namespace geotrain::sim
