// ServerLink: requests, replies, retries and server restarts of parameter servers and EASGD.
#include "sim/resilience/server_link.h"

#include <algorithm>

#include <simgrid/Exception.hpp>
#include <simgrid/s4u.hpp>

#include "sim/resilience/membership.h"
#include "sim/strategies/strategy.h"

namespace sg4 = simgrid::s4u;

namespace geotrain::sim {

void ServerLink::prepare(World& world, ServerProgram program, bool notify_servers) {
  program_ = std::move(program);
  notify_servers_ = notify_servers;
  workers_ = static_cast<int>(world.trainers.size());
  world_ = &world;
  if (!world.membership) return;
  publish();
  server_up_.assign(world.platform.nodes().size() - workers_, true);
  live_.assign(workers_, -1);
  next_seq_.assign(workers_, 0);
  claim_open_.assign(workers_, false);
  world.on_server_fault = [this, &world](int node, bool up) { server_fault(world, node, up); };
  world.membership->on_preempt([this, &world](int rank) { worker_going_down(world, rank); });
}

void ServerLink::start_worker(WorkerContext& ctx) {
  if (!ctx.faults_on()) return;
  live_[ctx.rank()] = ctx.world().faults->preemptions[ctx.rank()];
  next_seq_[ctx.rank()] = 0;
}

void ServerLink::finish_worker(WorkerContext& ctx) {
  if (ctx.faults_on()) live_[ctx.rank()] = -1;
}

bool ServerLink::claim_step(WorkerContext& ctx) {
  if (!ctx.claim_step()) return false;
  if (!claim_open_.empty()) claim_open_[ctx.rank()] = true;
  return true;
}

void ServerLink::pushed(WorkerContext& ctx) {
  if (!claim_open_.empty()) claim_open_[ctx.rank()] = false;
  ctx.mark_synced();
}

int ServerLink::round_members(WorkerContext& ctx) {
  return ctx.faults_on() ? ctx.world().membership->alive_count() : 0;
}

PendingRequest ServerLink::ask(WorkerContext& ctx, int server, Message request, std::uint64_t bytes) {
  PendingRequest p;
  p.server = server;
  if (!ctx.faults_on()) {
    p.reply = ctx.recv_async(server, kReplyChannel);
    ctx.post(server, std::move(request), bytes);
    return p;
  }
  const int me = ctx.rank();
  p.id = (live_[me] << kIncarnationShift) | ++next_seq_[me];
  // A server that is down refuses the connection: the request fails at once (and no message
  // goes to a host that is off).  So does one from a worker being preempted at this instant
  // (its host goes off before it runs again).
  if (!server_up_[server - workers_] || live_[me] < 0) {
    p.failed = true;
    return p;
  }
  p.reply = ctx.recv_reply_async(server, kReplyChannel);
  awaited_.push_back({me, server, p.id, p.reply.comm});
  request.request = p.id;
  ctx.post(server, std::move(request), bytes);
  return p;
}

std::unique_ptr<Message> ServerLink::answer(WorkerContext& ctx, PendingRequest& p) {
  if (!ctx.faults_on()) return ctx.wait(p.reply);
  if (p.failed) {
    ++failed_requests_;
    publish();
    return nullptr;
  }
  const int me = ctx.rank();
  auto awaited = [&] {
    return std::find_if(awaited_.begin(), awaited_.end(), [&](const Awaited& a) { return a.worker == me && a.id == p.id; });
  };
  std::unique_ptr<Message> msg;
  for (;;) {
    try {
      msg = ctx.wait(p.reply);
    } catch (const simgrid::Exception&) {
      msg.reset();  // the reply's transfer failed: the server's host went off while it flowed
      break;
    }
    if (msg->request == p.id) break;
    // Meant for an earlier request of this worker (an answer that crossed a release): dropped.
    ++stale_replies_;
    publish();
    p.reply = ctx.recv_reply_async(p.server, kReplyChannel);
    if (const auto it = awaited(); it != awaited_.end()) it->comm = p.reply.comm;
  }
  if (const auto it = awaited(); it != awaited_.end()) awaited_.erase(it);
  if (!msg || msg->kind == kServerDown) {
    ++failed_requests_;
    publish();
    return nullptr;
  }
  return msg;
}

std::vector<std::unique_ptr<Message>> ServerLink::ask_all(WorkerContext& ctx, const std::vector<int>& servers,
                                                          const std::function<Message(std::size_t)>& make,
                                                          std::uint64_t bytes) {
  std::vector<std::unique_ptr<Message>> replies(servers.size());
  std::vector<std::size_t> todo(servers.size());
  for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  for (;;) {
    std::vector<PendingRequest> pending;
    for (std::size_t i : todo) pending.push_back(ask(ctx, servers[i], make(i), bytes));
    std::vector<std::size_t> failed;
    for (std::size_t k = 0; k < todo.size(); ++k) {
      replies[todo[k]] = answer(ctx, pending[k]);
      if (!replies[todo[k]]) failed.push_back(todo[k]);
    }
    if (failed.empty()) return replies;
    todo = std::move(failed);
    wait_to_retry(ctx);
  }
}

void ServerLink::push_all(WorkerContext& ctx, const std::vector<int>& servers,
                          const std::function<std::pair<Message, std::uint64_t>(std::size_t)>& make) {
  std::vector<std::size_t> todo(servers.size());
  for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  for (;;) {
    std::vector<std::size_t> sent, failed;
    std::vector<Transfer> pushes;  // one connection per server: the next request follows the push
    for (std::size_t i : todo) {
      if (ctx.faults_on() && (!server_up_[servers[i] - workers_] || live_[ctx.rank()] < 0)) {
        failed.push_back(i);
        continue;
      }
      auto [message, bytes] = make(i);
      if (ctx.faults_on()) message.request = live_[ctx.rank()] << kIncarnationShift;
      pushes.push_back(ctx.post_async(servers[i], std::move(message), bytes));
      sent.push_back(i);
    }
    for (std::size_t k = 0; k < pushes.size(); ++k) {
      if (!ctx.faults_on()) {
        ctx.wait(pushes[k]);
        continue;
      }
      try {
        ctx.wait(pushes[k]);
      } catch (const simgrid::Exception&) {
        failed.push_back(sent[k]);  // the server's host went off while the push flowed
      }
    }
    if (failed.empty()) return;
    failed_requests_ += static_cast<long>(failed.size());
    publish();
    std::sort(failed.begin(), failed.end());
    todo = std::move(failed);
    wait_to_retry(ctx);
  }
}

void ServerLink::wait_to_retry(WorkerContext& ctx) {
  const double start = ctx.now();
  sg4::this_actor::sleep_for(ctx.scenario().faults.retry_after_s);
  ctx.world().recorder.add_span({ctx.rank(), "communication", "retry after a failed request", start, ctx.now()});
}

void ServerLink::start_server(WorkerContext& ctx) {
  // Under faults workers may never come back to say they are done: servers end with the last
  // worker, which finishes only once its last push was applied.
  if (ctx.faults_on()) sg4::Actor::self()->daemonize();
}

std::unique_ptr<Message> ServerLink::receive(WorkerContext& ctx) {
  if (!ctx.faults_on()) return ctx.receive_inbox();
  for (;;) {
    try {
      return ctx.receive_inbox();
    } catch (const simgrid::Exception&) {
      // A message whose sender's host went off on the way.
    }
  }
}

void ServerLink::reply(WorkerContext& ctx, const Message& request, Message reply, std::uint64_t bytes) {
  if (ctx.faults_on()) {
    if (live_[request.from] != incarnation_of(request)) {
      ++withheld_replies_;  // the incarnation that asked is gone: its connection with it
      publish();
      return;
    }
    reply.request = request.request;
  }
  ctx.send_detached(request.from, std::move(reply), bytes, kReplyChannel);
}

void ServerLink::restarted_event(WorkerContext& ctx, const std::string& cause) {
  ctx.world().faults->events.push_back({ctx.now(), ctx.rank(), "restarted", cause});
}

void ServerLink::count_discarded_push() {
  ++discarded_pushes_;
  publish();
}

void ServerLink::publish() {
  world_->extra["server_requests"] = {{"failed_requests", failed_requests_},
                                      {"replies_withheld", withheld_replies_},
                                      {"stale_replies_dropped", stale_replies_},
                                      {"discarded_pushes", discarded_pushes_}};
}

void ServerLink::server_fault(World& world, int node, bool up) {
  const int index = node - workers_;
  if (server_up_[index] == up) return;  // never two server programs on one shard
  server_up_[index] = up;
  if (up) {
    const WorkerInfo& info = world.platform.nodes()[node];
    sg4::Actor::create(info.name, info.host, [this, &world, node, index] {
      WorkerContext ctx(world, node);
      ctx.mark_restarted();
      program_(ctx, index);
    });
    return;
  }
  // Workers waiting for its answers are released: its death would not wake a receive that no
  // reply was matched to yet (one already flowing fails when the host goes off).
  for (const Awaited& a : awaited_) {
    if (a.server != node || a.comm->get_sender() != nullptr) continue;
    Message release({}, kServerDown);
    release.request = a.id;
    WorkerContext(world, node).send_detached(a.worker, std::move(release), 0, kReplyChannel);
  }
}

void ServerLink::worker_going_down(World& world, int rank) {
  const long incarnation = live_[rank];
  live_[rank] = -1;
  awaited_.erase(std::remove_if(awaited_.begin(), awaited_.end(), [rank](const Awaited& a) { return a.worker == rank; }),
                 awaited_.end());
  if (claim_open_[rank]) {  // the step it claimed and never pushed goes back to the budget
    claim_open_[rank] = false;
    --world.steps_claimed;
  }
  if (!notify_servers_ || incarnation < 0) return;
  for (std::size_t s = 0; s < server_up_.size(); ++s) {
    if (!server_up_[s]) continue;
    Message notice({}, kWorkerDown);
    notice.request = incarnation << kIncarnationShift;
    WorkerContext(world, rank).post(workers_ + static_cast<int>(s), std::move(notice), 0);
  }
}

void ServerLink::say_done(WorkerContext& ctx, const std::vector<int>& servers, bool confirm) {
  if (!ctx.faults_on()) {
    for (int server : servers) ctx.post(server, {{}, kDone, -1, 0}, kRequestBytes);
  } else if (confirm) {
    ask_all(ctx, servers, [](std::size_t) { return Message{{}, kDone}; }, kRequestBytes);
  }
}

void ServerLink::done(WorkerContext& ctx, const Message& request, Message answer, int& done) {
  if (ctx.faults_on()) reply(ctx, request, std::move(answer), kRequestBytes);
  else ++done;
}

}  // namespace geotrain::sim
