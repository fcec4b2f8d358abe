// TopologyGraph: Dijkstra from every region (Boost.Graph), ring ordering by exhaustive search
// or 2-opt.
#include "sim/topology_graph.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>

#include "kernels/check.h"

namespace geotrain::sim {
namespace {

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, boost::no_property,
                                    boost::property<boost::edge_weight_t, double,
                                                    boost::property<boost::edge_index_t, int>>>;
constexpr double kUnreachable = std::numeric_limits<double>::infinity();
constexpr std::size_t kExactRingLimit = 9;  // 8! = 40320 orders at most

double ring_length(const std::vector<int>& order, const std::vector<std::vector<double>>& d) {
  double sum = 0;
  for (std::size_t i = 0; i < order.size(); ++i) sum += d[order[i]][order[(i + 1) % order.size()]];
  return sum;
}

}  // namespace

TopologyGraph::TopologyGraph(const Topology& topology) : topology_(topology) {
  const int n = static_cast<int>(topology.regions.size());
  Graph g(n);
  for (std::size_t i = 0; i < topology.links.size(); ++i) {
    const auto& l = topology.links[i];
    boost::add_edge(l.a, l.b, Graph::edge_property_type(l.latency_s, static_cast<int>(i)), g);
  }
  dist_s_.assign(n, std::vector<double>(n, kUnreachable));
  next_link_.assign(n, std::vector<int>(n, -1));
  auto link_of = boost::get(boost::edge_index, g);
  for (int src = 0; src < n; ++src) {
    std::vector<Graph::vertex_descriptor> pred(n);
    std::vector<double> dist(n);
    boost::dijkstra_shortest_paths(
        g, src, boost::predecessor_map(pred.data()).distance_map(dist.data()));
    for (int dst = 0; dst < n; ++dst) {
      if (dst != src && pred[dst] == static_cast<std::size_t>(dst)) continue;  // unreachable
      dist_s_[src][dst] = dst == src ? 0.0 : dist[dst];
      if (dst == src) continue;
      // Walk back from dst to find the first hop out of src.
      int v = dst;
      while (static_cast<int>(pred[v]) != src) v = static_cast<int>(pred[v]);
      // Among parallel edges src-v pick the lowest latency (Dijkstra did the same).
      int best = -1;
      for (auto [e, end] = boost::out_edges(src, g); e != end; ++e)
        if (static_cast<int>(boost::target(*e, g)) == v &&
            (best < 0 || topology.links[link_of[*e]].latency_s < topology.links[best].latency_s))
          best = link_of[*e];
      next_link_[src][dst] = best;
    }
  }
  // A measured link between two regions already is the real (internet) route between them: use
  // it, even where relaying through a third region would add up to less latency.
  for (std::size_t i = 0; i < topology.links.size(); ++i) {
    const auto& l = topology.links[i];
    for (auto [a, b] : {std::pair{l.a, l.b}, std::pair{l.b, l.a}}) {
      const int current = next_link_[a][b];
      const bool direct = current >= 0 && (topology.links[current].a == b || topology.links[current].b == b);
      if (!direct || l.latency_s < topology.links[current].latency_s) {
        next_link_[a][b] = static_cast<int>(i);
        dist_s_[a][b] = l.latency_s;
      }
    }
  }
}

bool TopologyGraph::reachable(int src, int dst) const { return dist_s_[src][dst] < kUnreachable; }

std::vector<RouteHop> TopologyGraph::route(int src, int dst) const {
  GEOTRAIN_CHECK(reachable(src, dst), "route between unconnected regions");
  std::vector<RouteHop> hops;
  int at = src;
  while (at != dst) {
    const int link = next_link_[at][dst];
    const auto& l = topology_.links[link];
    const bool forward = l.a == at;
    hops.push_back({link, forward});
    at = forward ? l.b : l.a;
  }
  return hops;
}

double TopologyGraph::route_latency_s(int src, int dst) const { return dist_s_[src][dst]; }

std::vector<int> TopologyGraph::ring_order(const std::vector<int>& regions) const {
  std::vector<int> order = regions;
  if (order.size() <= 3) return order;  // every ring of 3 has the same length
  if (order.size() <= kExactRingLimit) {
    std::vector<int> best = order;
    double best_len = ring_length(order, dist_s_);
    // Fix the first region; try every order of the rest (first found wins ties: stable).
    while (std::next_permutation(order.begin() + 1, order.end())) {
      const double len = ring_length(order, dist_s_);
      if (len < best_len - 1e-12) {
        best_len = len;
        best = order;
      }
    }
    return best;
  }
  // Nearest neighbour from the first region, then 2-opt until no improvement.
  std::vector<int> rest(order.begin() + 1, order.end());
  order.resize(1);
  while (!rest.empty()) {
    auto it = std::min_element(rest.begin(), rest.end(), [&](int a, int b) {
      return dist_s_[order.back()][a] < dist_s_[order.back()][b];
    });
    order.push_back(*it);
    rest.erase(it);
  }
  for (bool improved = true; improved;) {
    improved = false;
    for (std::size_t i = 1; i + 1 < order.size(); ++i)
      for (std::size_t j = i + 1; j < order.size(); ++j) {
        std::vector<int> cand = order;
        std::reverse(cand.begin() + i, cand.begin() + j + 1);
        if (ring_length(cand, dist_s_) < ring_length(order, dist_s_) - 1e-12) {
          order = cand;
          improved = true;
        }
      }
  }
  return order;
}

}  // namespace geotrain::sim
