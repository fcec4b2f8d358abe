// ServerShard's checkpoints and restart, and ServerRound's members.
#include "sim/resilience/server_state.h"

#include <algorithm>

#include <fmt/format.h>

#include "sim/resilience/membership.h"
#include "sim/resilience/replica.h"
#include "sim/resilience/server_link.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {

void ServerShard::maybe_checkpoint(WorkerContext& ctx) {
  const auto& spec = ctx.scenario().faults.checkpoint;
  if (!spec || version % spec->every_steps != 0) return;
  Saved saved{version, params, optimizer};
  ctx.write_server_checkpoint(bytes());
  checkpoint_ = std::move(saved);
}

void ServerShard::restore(WorkerContext& ctx) {
  if (checkpoint_) {
    ctx.read_server_checkpoint(bytes());
    params = checkpoint_->params;
    optimizer = checkpoint_->optimizer;
    version = checkpoint_->version;
    ServerLink::restarted_event(ctx, fmt::format(fmt::runtime("server restarted from its checkpoint " + restored_at_), version));
    return;
  }
  const std::vector<float>& init = ctx.world().training.initial_parameters();
  if (!params.empty())
    std::copy(init.begin() + static_cast<long>(range.begin), init.begin() + static_cast<long>(range.begin + range.count),
              params.begin());
  optimizer.reset();
  version = 0;
  ServerLink::restarted_event(ctx, ctx.scenario().faults.checkpoint
                                       ? "server restarted from the initial model, no checkpoint written yet"
                                       : "server restarted from the initial model, no checkpoint");
}

std::uint64_t ServerShard::bytes() const { return state_bytes(range.count, spec_); }

ServerRound::ServerRound(WorkerContext& ctx, const ServerLink& link)
    : faults_(ctx.faults_on()),
      steps_(ctx.scenario().workload.steps),
      member_(ctx.world_size(), true),
      pushed_(ctx.world_size(), false),
      newest_(ctx.world_size(), -1) {
  if (faults_)
    for (int r = 0; r < ctx.world_size(); ++r)
      member_[r] = ctx.restarted() ? link.worker_live(r) : ctx.world().membership->alive(r);
}

bool ServerRound::admit(const Message& msg, long version, ServerLink& link) {
  const int from = msg.from;
  if (faults_ && msg.kind != kWorkerDown) newest_[from] = std::max(newest_[from], ServerLink::incarnation_of(msg));
  switch (msg.kind) {
    case kWorkerDown:
      if (ServerLink::incarnation_of(msg) < newest_[from]) return false;  // it is back already
      member_[from] = false;
      return true;
    case kDone:
      ++done_;
      return false;
    case kPull:
      member_[from] = true;
      return true;
    case kPush:
      if (faults_ && (msg.version != version || version >= steps_ || pushed_[from])) {
        link.count_discarded_push();  // computed for a round this server no longer runs
        return false;
      }
      member_[from] = true;
      pushed_[from] = true;
      ++pushes_;
      return true;
    default:
      return true;
  }
}

bool ServerRound::complete() const {
  if (pushes_ == 0) return false;
  for (std::size_t r = 0; r < member_.size(); ++r)
    if (member_[r] && !pushed_[r]) return false;
  return true;
}

void ServerRound::close() {
  pushes_ = 0;
  std::fill(pushed_.begin(), pushed_.end(), false);
}

}  // namespace geotrain::sim
