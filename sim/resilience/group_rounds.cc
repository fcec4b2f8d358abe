// WorkerContext under faults: synchronous rounds over group views, joining after a restart,
// pulling state from a live peer, and checkpoints in the object store.
#include <cstdint>

#include <simgrid/s4u.hpp>

#include "kernels/check.h"
#include "sim/context.h"
#include "sim/fault_injector.h"
#include "sim/resilience/membership.h"
#include "sim/resilience/replica.h"

namespace sg4 = simgrid::s4u;

namespace geotrain::sim {
namespace {

// Round attempts use channels from here on (strategies' own channels are small numbers).
constexpr int kFirstRoundChannel = 1 << 20;

// A transfer between two hosts outside the mailboxes (state pulls, checkpoints), metered.  Bulk
// state moves with enough parallel streams to fill the route: no TCP window cap (SimGrid cannot
// rate-limit a host-to-host transfer anyway).
void host_transfer(World& world, int rank, sg4::Host* from, int from_region, sg4::Host* to, int to_region,
                   std::uint64_t bytes, const std::string& what) {
  const double start = sg4::Engine::get_clock();
  auto comm = sg4::Comm::sendto_init(from, to);
  comm->set_payload_size(bytes);
  world.ledger.add_transfer(from_region, to_region, bytes);
  const auto wan_B = from_region != to_region ? static_cast<std::int64_t>(bytes) : 0;
  if (wan_B > 0) world.recorder.add_wan_in_flight(from_region, to_region, wan_B, start);
  comm->start();
  try {
    comm->wait();
  } catch (const simgrid::Exception&) {
    if (wan_B > 0) world.recorder.add_wan_in_flight(from_region, to_region, -wan_B, sg4::Engine::get_clock());
    world.recorder.add_span({rank, "communication", what + " (failed)", start, sg4::Engine::get_clock()});
    throw;
  }
  if (wan_B > 0) world.recorder.add_wan_in_flight(from_region, to_region, -wan_B, sg4::Engine::get_clock());
  world.recorder.add_span({rank, "communication", what, start, sg4::Engine::get_clock()});
}

// Workers' transfers in runs with faults: tracked by the membership (an abort cancels them); a
// transfer of an aborted view never completes the round, even if it finished.
class RoundTransfers final : public TransferObserver {
 public:
  explicit RoundTransfers(Membership& membership) : m_(membership) {}

  void started(WorkerContext& ctx, Transfer& t, bool is_send) override {
    if (ctx.is_worker()) m_.track(ctx.rank(), t.comm, is_send, is_send ? nullptr : t.slot);
  }

  void wait(WorkerContext& ctx, Transfer& t) override {
    if (!ctx.is_worker()) {
      t.comm->wait();
      return;
    }
    const auto& view = ctx.round_view();
    try {
      if (view && view->aborted) throw RoundAborted{};
      t.comm->wait();
      if (view && view->aborted) throw RoundAborted{};
    } catch (...) {
      // Aborted (a member died or a link failed): the round is retried by sync_round().
      ctx.end_in_flight(t);
      m_.untrack(ctx.rank(), t.comm.get());
      if (t.slot) *t.slot = nullptr;  // a release message (not ours to delete) or a leaked payload
      throw;
    }
    m_.untrack(ctx.rank(), t.comm.get());
  }

 private:
  Membership& m_;
};

}  // namespace

std::unique_ptr<TransferObserver> make_round_transfers(Membership& membership) {
  return std::make_unique<RoundTransfers>(membership);
}

const std::vector<int>& WorkerContext::sync_round(long round, const std::function<void(const std::vector<int>&)>& body,
                                           const std::function<void()>& restore, bool concurrent_work_in_round) {
  if (!world_.membership) {
    body(all_ranks());
    return all_ranks();
  }
  Membership& m = *world_.membership;
  // Work done from here on (by this worker's other actor, while an overlapped round runs) is not
  // in this round: it stays unsynchronized after the commit, unless concurrent_work_in_round.
  FaultLog& log = *world_.faults;
  const double samples_at_start = log.work_samples[rank_], compute_at_start = log.work_compute_s[rank_],
               usd_at_start = log.work_usd[rank_];
  for (;;) {
    const auto view = m.current(round);
    GEOTRAIN_CHECK(view && view->has(rank_) && view->round == round,
                   "a worker ran a round its group's view does not hold");
    bool failed = false;
    view_ = view;
    // Each attempt talks on mailboxes of its own (channels above those strategies use), so
    // nothing of an aborted attempt reaches the next.
    const int base_channel = channel_;
    channel_ = kFirstRoundChannel + view->serial;
    try {
      body(view->members);
      view_ = nullptr;
      channel_ = base_channel;
      if (m.commit(view, rank_)) {
        // The work this worker brought to the round is in the group's model from now on.
        const double unsynced = concurrent_work_in_round ? 0 : log.work_samples[rank_] - samples_at_start;
        const double unsynced_compute_s = concurrent_work_in_round ? 0 : log.work_compute_s[rank_] - compute_at_start;
        const double unsynced_usd = concurrent_work_in_round ? 0 : log.work_usd[rank_] - usd_at_start;
        log.commit_round(round, rank_, log.unsynced_samples[rank_] - unsynced,
                         log.unsynced_compute_s[rank_] - unsynced_compute_s, log.unsynced_usd[rank_] - unsynced_usd);
        log.unsynced_samples[rank_] = unsynced;
        log.unsynced_compute_s[rank_] = unsynced_compute_s;
        log.unsynced_usd[rank_] = unsynced_usd;
        log_round(round, view->members);
        round_members_ = view->members;
        return round_members_;
      }
    } catch (const simgrid::Exception&) {
      failed = true;
      m.abort(view);
    } catch (const RoundAborted&) {
    }
    view_ = nullptr;
    channel_ = base_channel;
    restore();
    // Detecting the failure and re-forming the group takes time; a transfer that failed with no
    // member lost (a link down) waits as long before it tries again.
    const double start = now();
    sg4::this_actor::sleep_for(scenario().faults.retry_after_s);
    // On a helper actor (an overlapped round) the worker's own actor waits for it meanwhile and
    // counts that wait as its exposed communication: here it is overlapped time, not counted twice.
    world_.recorder.add_span({rank_, overlapped_ ? "overlapped" : "communication",
                              failed ? "retry after a failed transfer" : "re-form group", start, now()});
  }
}

void WorkerContext::log_round(long round, const std::vector<int>& members) {
  const char* key = world_.resilient ? world_.resilient->traits.round_log_key : nullptr;
  if (!key || rank_ != members.front()) return;
  double samples = 0;
  for (int p : members) samples += world_.round_samples[round][p];
  world_.round_samples.erase(round);
  world_.extra[key].push_back({{"round", round}, {"time_s", now()}, {"members", members.size()}, {"samples", samples}});
}

int WorkerContext::group_size() const {
  return world_.membership ? world_.membership->group_size() : world_size();
}

std::shared_ptr<GroupView> WorkerContext::join_group() {
  GEOTRAIN_CHECK(world_.membership, "join_group() in a run without faults");
  return world_.membership->await_admission(rank_);
}

void WorkerContext::pull_state(int donor, std::uint64_t bytes) {
  const WorkerInfo& d = platform().nodes()[donor];
  // The injector turns a preempted host off before it tells the membership, and other actors run
  // in between: a view may still name a donor that is gone.  That fails like a donor lost during
  // the pull (SimGrid would abort on a transfer from a host that is off).
  if (!d.host->is_on()) throw simgrid::HostFailureException(XBT_THROW_POINT, "donor " + d.name + " is down");
  const double start = now();
  try {
    host_transfer(world_, rank_, d.host, d.region, info().host, info().region, bytes,
                  "pull state from " + d.name);
  } catch (const simgrid::Exception&) {
    world_.faults->add_overhead(rank_, now() - start, worker_usd(world_, rank_, start, now()));
    throw;
  }
  world_.faults->add_overhead(rank_, now() - start, worker_usd(world_, rank_, start, now()));
}

void WorkerContext::mark_synced() {
  if (!world_.faults) return;
  world_.faults->unsynced_samples[rank_] = 0;
  world_.faults->unsynced_compute_s[rank_] = 0;
  world_.faults->unsynced_usd[rank_] = 0;
}

void WorkerContext::write_checkpoint(long round, std::uint64_t bytes, const std::function<void(Checkpoint&)>& fill) {
  const auto& spec = *scenario().faults.checkpoint;
  host_transfer(world_, rank_, info().host, info().region, platform().store_host(), spec.store_region_index, bytes,
                "write checkpoint");
  FaultLog& log = *world_.faults;
  log.checkpoint_bytes += bytes;
  log.checkpoint_writes.emplace_back(now(), bytes);
  log.checkpoint.round = round;
  log.checkpoint.time_s = now();
  log.checkpoint.bytes = bytes;
  fill(log.checkpoint);
  world_.membership->set_rollback_round(round);
}

bool WorkerContext::read_checkpoint() {
  FaultLog& log = *world_.faults;
  if (log.checkpoint.round < 0) return false;
  const auto& spec = *scenario().faults.checkpoint;
  const double start = now();
  host_transfer(world_, rank_, platform().store_host(), spec.store_region_index, info().host, info().region,
                log.checkpoint.bytes, "read checkpoint");
  log.checkpoint_bytes += log.checkpoint.bytes;
  log.add_overhead(rank_, now() - start, worker_usd(world_, rank_, start, now()));
  return true;
}

void WorkerContext::write_server_checkpoint(std::uint64_t bytes) {
  GEOTRAIN_CHECK(!is_worker(), "write_server_checkpoint() on a worker");
  const auto& spec = *scenario().faults.checkpoint;
  host_transfer(world_, rank_, info().host, info().region, platform().store_host(), spec.store_region_index, bytes,
                "write checkpoint");
  FaultLog& log = *world_.faults;
  log.checkpoint_bytes += bytes;
  auto& writes = log.server_checkpoint_writes;
  const auto server = static_cast<std::size_t>(rank_ - world_size());
  if (writes.size() <= server) writes.resize(server + 1);
  writes[server].emplace_back(now(), bytes);
}

void WorkerContext::read_server_checkpoint(std::uint64_t bytes) {
  const auto& spec = *scenario().faults.checkpoint;
  host_transfer(world_, rank_, platform().store_host(), spec.store_region_index, info().host, info().region, bytes,
                "read checkpoint");
  world_.faults->checkpoint_bytes += bytes;
}

}  // namespace geotrain::sim
