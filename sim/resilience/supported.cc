// check_faults_supported: the scenario's faults against the strategy's traits.
#include "sim/resilience/supported.h"

#include <fmt/format.h>

#include "sim/json_reader.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim::resilience {

void check_faults_supported(const Strategy& strategy, const std::string& name, const Scenario& s) {
  const std::string quoted = "strategy \"" + name + "\"";
  // "faults.servers" names servers of the strategy: its parameter-server shards or EASGD's center.
  const auto servers = static_cast<int>(strategy.servers(s).size());
  if (!s.faults.servers.empty() && servers == 0)
    throw_bad_input(s.file, "/faults/servers", quoted,
                    "server faults need a strategy with servers: parameter_server (its shards) or easgd "
                    "(its center, shard 0)");
  for (std::size_t i = 0; i < s.faults.servers.size(); ++i)
    if (s.faults.servers[i].shard >= servers)
      throw_bad_input(s.file, "/faults/servers/" + std::to_string(i) + "/shard",
                      std::to_string(s.faults.servers[i].shard),
                      fmt::format("expected a shard of {}: 0 to {}", quoted, servers - 1));
  // A checkpoint the strategy would silently ignore.
  if (s.faults.checkpoint && !strategy.traits.checkpoints)
    throw_bad_input(s.file, "/checkpoint", quoted,
                    name + " writes no checkpoints (a returning worker copies a live peer); remove \"checkpoint\"");
  // Servers checkpoint per update applied; their faults are windows, with no rate for Daly's optimum.
  if (s.faults.checkpoint && s.faults.checkpoint->auto_interval && servers > 0)
    throw_bad_input(s.file, "/checkpoint/every_steps", "\"auto\"",
                    quoted + " checkpoints its servers every so many updates, and server faults have no rate to "
                             "derive an interval from: give an integer");
  // Request/reply protocols whose replies a down link would lose with nothing to release the
  // requester (server and peer deaths do release it): refused rather than left to wait until the
  // time limit.  Bandwidth and latency profiles are fine.
  if (strategy.traits.survives_link_down) return;
  for (std::size_t i = 0; i < s.faults.links.size(); ++i)
    if (!s.faults.links[i].down.empty())
      throw_bad_input(s.file, "/faults/links/" + std::to_string(i) + "/down", quoted,
                      "link down windows are not modeled for parameter_server, easgd and gossip yet (a request "
                      "lost on a down link would wait for its reply until the time limit); use bandwidth and "
                      "latency profiles, or a strategy with group rounds");
}

}  // namespace geotrain::sim::resilience
