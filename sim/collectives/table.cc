// The table of all-reduce algorithms (table.h): one row per algorithm.  The rows of the
// algorithms written before the table adapt their files' signatures; a new algorithm's file
// gives functions of the entry's signatures directly (weighted_butterfly.cc).
#include "sim/collectives/table.h"

#include <algorithm>

#include "kernels/check.h"

namespace geotrain::sim {
namespace {

using runtime::Tensor;

std::vector<double> equal_weights(const AllreduceGroup& g) { return std::vector<double>(g.order.size(), 1.0); }

void ring_sum(WorkerContext& c, Tensor& t, const AllreduceGroup& g) { ring_allreduce_sum(c, t, g.order); }
void ring_mean(WorkerContext& c, Tensor& t, const AllreduceGroup& g) { ring_allreduce_mean(c, t, g.order); }
Schedule ring_schedule(const Platform&, const Tensor& t, const AllreduceGroup& g) {
  return ring_allreduce_schedule(t, g.order);
}

void tree_sum(WorkerContext& c, Tensor& t, const AllreduceGroup& g) { tree_allreduce_sum(c, t, g.order); }
Schedule tree_schedule(const Platform&, const Tensor& t, const AllreduceGroup& g) {
  return tree_allreduce_schedule(t, g.order);
}

void hierarchical_sum(WorkerContext& c, Tensor& t, const AllreduceGroup& g) {
  hierarchical_allreduce_sum(c, t, g.regions);
}
Schedule hierarchical_schedule(const Platform&, const Tensor& t, const AllreduceGroup& g) {
  return hierarchical_allreduce_schedule(t, g.regions);
}

void butterfly_sum(WorkerContext& c, Tensor& t, const AllreduceGroup& g) {
  butterfly_allreduce_sum(c, t, g.order, equal_weights(g));
}
Schedule butterfly_schedule(const Platform&, const Tensor& t, const AllreduceGroup& g) {
  return butterfly_allreduce_schedule(t, g.order, equal_weights(g));
}

}  // namespace

std::uint64_t whole_tensor_wire_B(const Tensor& t) { return t.wire_bytes(t.numel()); }

const std::vector<AllreduceEntry>& allreduce_table() {
  static const std::vector<AllreduceEntry> rows = {
      // name, label, message-level sum, mean (null: sum / n), weighted mean (null: none),
      // schedule (null: messages only), bytes
      {"ring", "ring", ring_sum, ring_mean, nullptr, ring_schedule, whole_tensor_wire_B},
      {"tree", "tree", tree_sum, nullptr, nullptr, tree_schedule, whole_tensor_wire_B},
      {"hierarchical", "hierarchical", hierarchical_sum, nullptr, nullptr, hierarchical_schedule, whole_tensor_wire_B},
      {"butterfly", "butterfly", butterfly_sum, nullptr, nullptr, butterfly_schedule, whole_tensor_wire_B},
      {"weighted_butterfly", "weighted_butterfly", weighted_butterfly_allreduce_sum, nullptr,
       weighted_butterfly_weighted_mean, nullptr, whole_tensor_wire_B},
  };
  return rows;
}

const AllreduceEntry& allreduce_entry(AllreduceAlgo algo) {
  const auto& rows = allreduce_table();
  GEOTRAIN_CHECK(algo.row >= 0 && algo.row < static_cast<int>(rows.size()), "all-reduce algorithm out of the table");
  return rows[algo.row];
}

const char* allreduce_algo_name(AllreduceAlgo algo) { return allreduce_entry(algo).name; }

const std::vector<std::string>& allreduce_algo_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const AllreduceEntry& e : allreduce_table()) out.emplace_back(e.name);
    return out;
  }();
  return names;
}

AllreduceAlgo allreduce_algo_from_name(const std::string& name) {
  const auto& names = allreduce_algo_names();
  const auto it = std::find(names.begin(), names.end(), name);
  GEOTRAIN_CHECK(it != names.end(), "unknown all-reduce algorithm name");
  return {static_cast<int>(it - names.begin())};
}

}  // namespace geotrain::sim
