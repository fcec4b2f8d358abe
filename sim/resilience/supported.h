// What a scenario's faults ask of its strategy, against what the strategy's traits and servers
// offer (checked at load, through the traits: the loader knows no strategy names).
#pragma once
#include <string>

namespace geotrain::sim {
class Strategy;
struct Scenario;
}  // namespace geotrain::sim

namespace geotrain::sim::resilience {

// Throws BadInput (file, JSON path, value, what is allowed) when the faults need what the
// strategy does not have: server faults without servers (or past its last shard), a checkpoint
// it would ignore, an "auto" interval for server checkpoints, link-down windows for a
// request/reply protocol.  `name`: the strategy's, for the messages.
void check_faults_supported(const Strategy& strategy, const std::string& name, const Scenario& s);

}  // namespace geotrain::sim::resilience
