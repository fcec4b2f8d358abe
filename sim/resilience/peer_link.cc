// PeerLink: gossip's pulls and pushes, and their failures under faults.
#include "sim/resilience/peer_link.h"

#include <simgrid/Exception.hpp>

#include "sim/resilience/fault_log.h"
#include "sim/resilience/membership.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {
// Under faults: what a puller receives instead of a reply when its peer went down.
constexpr int kPeerLost = 100;
}  // namespace

void PeerLink::prepare(World& world, int channel) {
  channel_ = channel;
  faults_ = world.membership != nullptr;
  const std::size_t m = world.trainers.size();
  serving_.assign(m, false);
  awaiting_.assign(m, {});
  pushes_.assign(m, {});
  if (!faults_) return;
  world.workers_finish_alone = true;  // each worker takes its own steps
  world.extra["gossip"] = {{"failed_exchanges", 0}};
  world.membership->on_preempt([this, &world](int rank) { going_down(world, rank); });
}

std::unique_ptr<Message> PeerLink::pull(WorkerContext& ctx, int peer) {
  const int me = ctx.rank();
  const double start = ctx.now();
  const long id = ++next_id_;
  awaiting_[me] = {peer, id};
  Transfer rx = ctx.recv_reply_async(peer, channel_);
  // A peer that began going down meanwhile gets no request (its going_down() released us):
  // a message to a host being turned off would have no receiver.
  if (reachable(peer)) ctx.post(peer, {{}, kPull, -1, id}, kRequestBytes);
  std::unique_ptr<Message> reply;
  try {
    reply = ctx.wait(rx);
    while (reply->version != id) {  // faults only: a release meant for an earlier pull
      rx = ctx.recv_reply_async(peer, channel_);
      reply = ctx.wait(rx);
    }
  } catch (const simgrid::Exception&) {
    reply.reset();  // the reply's transfer failed: the peer's host went off while it flowed
  }
  awaiting_[me] = {};
  if (reply && reply->kind != kReply) reply.reset();  // released: the peer went down
  if (!faults_) return reply;
  if (reply) ctx.mark_synced();
  else count_failed(ctx.world());
  record(ctx, "pull from " + ctx.platform().nodes()[peer].name + (reply ? "" : " (failed)"), start);
  return reply;
}

void PeerLink::push(WorkerContext& ctx, int peer, Transfer& in_flight, const std::function<WireBody()>& make) {
  settle(ctx, in_flight);
  const int me = ctx.rank();
  if (!reachable(peer)) {  // it began going down while the last push drained
    count_failed(ctx.world());
    return;
  }
  WireBody body = make();
  const long id = ++next_id_;
  if (faults_) {
    const FaultLog& log = *ctx.world().faults;
    pushes_[me] = {id, log.unsynced_samples[me], log.unsynced_compute_s[me], log.unsynced_usd[me]};
  }
  in_flight = ctx.post_async(peer, {std::move(body.values), kPush, -1, id}, body.bytes);
  if (faults_) record(ctx, "push to " + ctx.platform().nodes()[peer].name, ctx.now());
}

void PeerLink::settle(WorkerContext& ctx, Transfer& in_flight) {
  if (!in_flight.comm) return;
  try {
    ctx.wait(in_flight);
  } catch (const simgrid::Exception&) {
    count_failed(ctx.world());
  }
  in_flight = Transfer{};
}

void PeerLink::come_back(WorkerContext& ctx) {
  awaiting_[ctx.rank()] = {};
  pushes_[ctx.rank()] = {};
  ctx.discard_inbox();
}

void PeerLink::start_serving(WorkerContext& ctx) {
  if (faults_) serving_[ctx.rank()] = true;
}

std::unique_ptr<Message> PeerLink::receive(WorkerContext& ctx) {
  for (;;) {
    try {
      return ctx.receive_inbox();
    } catch (const simgrid::Exception&) {
      // faults only: a message whose sender's host went off on the way
    }
  }
}

void PeerLink::reply(WorkerContext& ctx, const Message& pull, WireBody body) {
  ctx.send_detached(pull.from, {std::move(body.values), kReply, -1, pull.version}, body.bytes, channel_);
}

void PeerLink::landed(WorkerContext& ctx, const Message& push) {
  if (!faults_) return;
  InFlight& p = pushes_[push.from];
  if (p.id != push.version) return;  // its sender died since and counted that work lost
  FaultLog& log = *ctx.world().faults;
  log.unsynced_samples[push.from] -= p.samples;
  log.unsynced_compute_s[push.from] -= p.compute_s;
  log.unsynced_usd[push.from] -= p.usd;
  p = {};
}

void PeerLink::going_down(World& world, int rank) {
  serving_[rank] = false;
  awaiting_[rank] = {};  // its own pull dies with it: no reply for it
  pushes_[rank] = {};    // its push in flight no longer synchronizes anything: its work is lost
  for (int p = 0; p < static_cast<int>(awaiting_.size()); ++p) {
    if (awaiting_[p].peer != rank) continue;
    const long id = awaiting_[p].id;
    awaiting_[p] = {};
    WorkerContext(world, rank).send_detached(p, {{}, kPeerLost, -1, id}, 0, channel_);
  }
}

void PeerLink::count_failed(World& world) { world.extra["gossip"]["failed_exchanges"] = ++failed_exchanges_; }

void PeerLink::record(WorkerContext& ctx, const std::string& name, double start) {
  ctx.world().recorder.add_span({ctx.rank(), "gossip", name, start, ctx.now()});
}

}  // namespace geotrain::sim
