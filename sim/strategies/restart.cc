// Restart and checkpoint helpers of synchronous strategies under faults.
#include "sim/strategies/restart.h"

#include <fmt/format.h>
#include <simgrid/Exception.hpp>

#include "kernels/reduce.h"
#include "sim/json_reader.h"

namespace geotrain::sim {

std::uint64_t state_bytes(std::size_t values, const runtime::OptimizerSpec& optimizer) {
  const std::uint64_t moments = optimizer.name == "adamw" ? 2 : (optimizer.name == "sgd" ? 0 : 1);
  return kFp32Bytes * static_cast<std::uint64_t>(values) * (1 + moments);
}

StateSource replica_state(WorkerContext& ctx, std::uint64_t bytes) {
  runtime::Trainer& me = ctx.trainer();
  auto copy_params = [&me](std::span<const float> from) {
    if (me.is_real()) kernels::copy(me.params().values().data(), from.data(), from.size());
  };
  StateSource s;
  s.bytes = bytes;
  s.from_donor = [&ctx, &me, copy_params](int donor) {
    runtime::Trainer& d = *ctx.world().trainers.at(donor);
    if (d.is_real()) copy_params(d.params().values());
    me.optimizer() = d.optimizer();
  };
  s.from_checkpoint = [&me, copy_params](const Checkpoint& c) {
    copy_params(c.params);
    me.optimizer() = *c.optimizer;
  };
  s.from_initial = [&ctx, &me, copy_params] {
    copy_params(ctx.world().training.initial_parameters());
    me.optimizer().reset();
  };
  return s;
}

void save_replica(runtime::Trainer& trainer, Checkpoint& c) {
  if (trainer.is_real()) c.params.assign(trainer.params().values().begin(), trainer.params().values().end());
  c.optimizer = std::make_shared<runtime::Optimizer>(trainer.optimizer());
}

std::vector<int> allreduce_mean_round(WorkerContext& ctx, long round, runtime::Tensor& t, AllreduceAlgo algo,
                                      std::vector<float>& saved) {
  if (ctx.faults_on() && t.is_real()) saved.assign(t.values().begin(), t.values().end());
  return ctx.sync_round(
      round, [&](const std::vector<int>& members) { ctx.allreduce_mean(t, algo, members); },
      [&] {
        if (t.is_real()) kernels::copy(t.values().data(), saved.data(), saved.size());
      });
}

void restart_rng(WorkerContext& ctx) {
  ctx.rng() = runtime::Rng::substream(
      ctx.scenario().seed, fmt::format("{}/incarnation {}", ctx.info().name, ctx.world().faults->preemptions[ctx.rank()]));
}

long rejoin(WorkerContext& ctx, const StateSource& source) {
  return rejoin(ctx, [&source](long) { return source; });
}

long rejoin(WorkerContext& ctx, const std::function<StateSource(long round)>& source_at) {
  for (;;) {
    const auto view = ctx.join_group();
    if (!view) return -1;
    const int donor = view->donor();
    const StateSource source = source_at(view->round);
    try {
      if (donor >= 0) {
        ctx.pull_state(donor, source.bytes);
        source.from_donor(donor);
      } else if (ctx.read_checkpoint()) {
        source.from_checkpoint(ctx.world().faults->checkpoint);
      } else {
        source.from_initial();
      }
      ctx.world().faults->events.push_back(
          {ctx.now(), ctx.rank(), "joined",
           donor >= 0 ? "state from " + ctx.platform().nodes()[donor].name
                      : (ctx.world().faults->checkpoint.round >= 0 ? "state from the checkpoint" : "initial model")});
      ctx.world().membership->loaded(ctx.rank());
      return view->round;
    } catch (const simgrid::Exception&) {
      // The donor died while sending, or a link on the way is down: after the failure detection
      // delay, the view of then names a donor (the same one when nothing changed).
      ctx.sleep(ctx.scenario().faults.retry_after_s);
    }
  }
}

void maybe_checkpoint(WorkerContext& ctx, long round, const std::vector<int>& members, std::uint64_t bytes,
                      const std::function<void(Checkpoint&)>& fill) {
  const auto& spec = ctx.scenario().faults.checkpoint;
  if (!spec || round % spec->every_steps != 0 || members.front() != ctx.rank()) return;
  try {
    ctx.write_checkpoint(round, bytes, fill);
  } catch (const simgrid::Exception&) {
    // The store is unreachable (a link on the way is down): the previous checkpoint stays.
    ctx.world().faults->events.push_back({ctx.now(), ctx.rank(), "checkpoint failed", "store unreachable"});
  }
}

}  // namespace geotrain::sim
