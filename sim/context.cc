// WorkerContext: compute-time model, metered point-to-point transfers, collective dispatch,
// step accounting with evaluation of the deployed model.
#include "sim/context.h"

#include "sim/fault_injector.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>
#include <simgrid/s4u.hpp>

#include "kernels/reduce.h"
#include "kernels/check.h"
#include "sim/collectives/analytic.h"
#include "sim/collectives/table.h"
#include "sim/compute_model.h"
#include "sim/resilience/membership.h"
#include "sim/resilience/replica.h"
#include "sim/training.h"

namespace sg4 = simgrid::s4u;

namespace geotrain::sim {
namespace {

// Mailboxes are looked up by name once per simulation, not once per message: formatting and
// hashing the name on every send and receive cost 10-15% of the wall time of a ring all-reduce
// (docs/PERFORMANCE.md).  The table belongs to the engine it was filled in (one per process).
struct MailboxKey {
  int src = 0, dst = 0, channel = 0;  // inboxes: src = dst = node, channel = kInboxChannel
  bool operator==(const MailboxKey&) const = default;
};
struct MailboxKeyHash {
  std::size_t operator()(const MailboxKey& k) const {
    constexpr std::uint64_t kMix = 0x9E3779B97F4A7C15ULL;  // 2^64 / golden ratio
    std::uint64_t h = static_cast<std::uint32_t>(k.src);
    h = h * kMix ^ static_cast<std::uint32_t>(k.dst);
    h = h * kMix ^ static_cast<std::uint32_t>(k.channel);
    return static_cast<std::size_t>(h * kMix);
  }
};
constexpr int kInboxChannel = std::numeric_limits<int>::min();

template <class NameFn>
sg4::Mailbox* cached_mailbox(const MailboxKey& key, NameFn name) {
  static const sg4::Engine* owner = nullptr;
  static std::unordered_map<MailboxKey, sg4::Mailbox*, MailboxKeyHash> table;
  if (owner != sg4::Engine::get_instance()) {
    table.clear();
    owner = sg4::Engine::get_instance();
  }
  if (const auto it = table.find(key); it != table.end()) return it->second;
  // by_name() is a simcall: other actors run meanwhile and may add this very key (by_name gives
  // them the same mailbox), so insert only once it returned.
  sg4::Mailbox* const box = sg4::Mailbox::by_name(name());
  table.emplace(key, box);
  return box;
}

sg4::Mailbox* mailbox(int src, int dst, int channel) {
  return cached_mailbox({src, dst, channel}, [&] { return fmt::format("{}>{}#{}", src, dst, channel); });
}
sg4::Mailbox* inbox(int node) {
  return cached_mailbox({node, node, kInboxChannel}, [&] { return fmt::format("inbox{}", node); });
}

}  // namespace

WorkerContext::WorkerContext(World& world, int rank)
    : world_(world), rank_(rank), rng_(runtime::Rng::substream(world.scenario.seed, info().name)), own_rank_{rank} {}

const WorkerContext::Route& WorkerContext::route_to(int peer, int channel) {
  if (to_.box == nullptr || to_.peer != peer || to_.channel != channel)
    to_ = {peer, channel, mailbox(rank_, peer, channel), platform().rate_cap_Bps(rank_, peer),
           platform().nodes()[peer].region};
  return to_;
}

sg4::Mailbox* WorkerContext::mailbox_from(int peer, int channel) {
  if (from_.box == nullptr || from_.peer != peer || from_.channel != channel)
    from_ = {peer, channel, mailbox(peer, rank_, channel)};
  return from_.box;
}

double WorkerContext::now() const { return sg4::Engine::get_clock(); }

void WorkerContext::compute(double samples) {
  const double start = now();
  sg4::this_actor::execute(samples * world_.scenario.workload.flops_per_sample);
  record({rank_, "compute", "forward+backward", start, now()});
  if (world_.faults) world_.faults->add_work(rank_, samples, now() - start, worker_usd(world_, rank_, start, now()));
}

void WorkerContext::compute_flops(double flops, double samples, const char* label) {
  const double start = now();
  sg4::this_actor::execute(flops);
  record({rank_, "compute", label, start, now()});
  if (world_.faults) world_.faults->add_work(rank_, samples, now() - start, worker_usd(world_, rank_, start, now()));
}

double WorkerContext::compute_gradient(int batch, double forward_done) {
  runtime::Trainer& tr = trainer();
  if (!world_.scenario.workload.measured_compute) {
    // The pass runs on the pool while the simulated compute (and every other actor) goes on.
    tr.start_forward_backward(batch, world_.training.pool());
    if (forward_done > 0) {  // the rest of the forward, then the backward
      const Workload& w = world_.scenario.workload;
      const double forward = runtime::total_forward_flops(w.layers);
      compute_flops(batch * (forward - forward_done), batch, "forward");
      compute_flops(batch * (w.flops_per_sample - forward), 0, "backward");
    } else {
      compute(batch);
    }
    return tr.finish_forward_backward();
  }
  GEOTRAIN_CHECK(forward_done == 0, "measured compute times the whole pass");
  const auto wall_start = std::chrono::steady_clock::now();
  const double loss = tr.forward_backward(batch);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double start = now();
  sg4::this_actor::sleep_for(wall_s);
  record({rank_, "compute", "forward+backward (measured)", start, now()});
  if (world_.faults) world_.faults->add_work(rank_, batch, now() - start, worker_usd(world_, rank_, start, now()));
  return loss;
}

void WorkerContext::optimizer_step(const runtime::Tensor& grads, double lr_scale) {
  spend_optimizer_step();
  trainer().optimizer_step(grads, lr_scale);
}

void WorkerContext::spend_optimizer_step() {
  const double step_s = optimizer_step_s(world_.scenario, *info().type);
  if (step_s > 0) {
    const double start = now();
    sg4::this_actor::sleep_for(step_s);
    record({rank_, "compute", "optimizer step", start, now()});
    if (world_.faults) world_.faults->add_work(rank_, 0, now() - start, worker_usd(world_, rank_, start, now()));
  }
}

void WorkerContext::sleep(double seconds) {
  if (seconds <= 0) return;
  const double start = now();
  sg4::this_actor::sleep_for(seconds);
  record({rank_, "communication", "wait", start, now()});
}

void WorkerContext::busy(double seconds, const char* label, const char* category) {
  if (seconds <= 0) return;
  const double start = now();
  sg4::this_actor::sleep_for(seconds);
  record({rank_, overlapped_ ? "overlapped" : category, label, start, now()});
}

void WorkerContext::launch_collective() { busy(world_.scenario.overheads.collective_launch_s, "collective launch", "communication"); }

bool WorkerContext::claim_step() {
  if (stopped()) return false;
  const long budget = static_cast<long>(world_.scenario.workload.steps) * world_size();
  if (world_.steps_claimed >= budget) return false;
  ++world_.steps_claimed;
  return true;
}

void WorkerContext::allreduce_mean(runtime::Tensor& t, AllreduceAlgo algo) {
  allreduce_over(t, algo, platform().all_group(), true);
}

void WorkerContext::allreduce_mean(runtime::Tensor& t, AllreduceAlgo algo, const std::vector<int>& members) {
  AllreduceGroup subset;
  allreduce_over(t, algo, group_of(members, subset), true);
}

void WorkerContext::allreduce_sum(runtime::Tensor& t, AllreduceAlgo algo, const std::vector<int>& members) {
  AllreduceGroup subset;
  allreduce_over(t, algo, group_of(members, subset), false);
}

double WorkerContext::allreduce_weighted_mean(runtime::Tensor& t, AllreduceAlgo algo, const std::vector<int>& members,
                                              double weight, kernels::WireFormat format) {
  const AllreduceEntry& entry = allreduce_entry(algo);
  GEOTRAIN_CHECK(entry.weighted_mean != nullptr, "a weighted mean with an algorithm that has none");
  AllreduceGroup subset;
  const AllreduceGroup& group = group_of(members, subset);
  if (group.order.size() > 1) launch_collective();
  CollectiveTimer timer(*this, {"allreduce", entry.label, static_cast<int>(group.order.size()), entry.size_B(t)});
  return entry.weighted_mean(*this, t, group, weight, format);
}

const AllreduceGroup& WorkerContext::group_of(const std::vector<int>& members, AllreduceGroup& group) const {
  if (static_cast<int>(members.size()) == world_size()) return platform().all_group();
  const auto member = [&members](int r) { return std::binary_search(members.begin(), members.end(), r); };
  GEOTRAIN_CHECK(member(rank_), "an all-reduce among members this worker is not one of");
  group = {};
  for (int r : platform().ring_order())
    if (member(r)) group.order.push_back(r);
  for (const auto& region : platform().region_groups()) {
    std::vector<int> g;
    for (int r : region)
      if (member(r)) g.push_back(r);
    if (!g.empty()) group.regions.push_back(std::move(g));
  }
  return group;
}

void WorkerContext::allreduce_over(runtime::Tensor& t, AllreduceAlgo algo, const AllreduceGroup& group, bool mean) {
  const AllreduceEntry& entry = allreduce_entry(algo);
  const int n = static_cast<int>(group.order.size());
  if (n > 1) launch_collective();
  CollectiveTimer timer(*this, {"allreduce", entry.label, n, entry.size_B(t)});
  if (n <= 1) return;
  if (world_.analytic && entry.schedule) return world_.analytic->allreduce(*this, t, algo, group, mean);
  if (mean && entry.mean) return entry.mean(*this, t, group);
  entry.sum(*this, t, group);
  if (t.is_real() && mean) kernels::scale(t.values().data(), 1.0f / static_cast<float>(n), t.numel());
}

void WorkerContext::broadcast(runtime::Tensor& t, int root) {
  if (world_size() > 1) launch_collective();
  CollectiveTimer timer(*this, {"broadcast", "tree", world_size(), t.wire_bytes(t.numel())});
  std::vector<int> group = platform().ring_order();
  const auto it = std::find(group.begin(), group.end(), root);
  GEOTRAIN_CHECK(it != group.end(), "broadcast root is not a worker");
  std::rotate(group.begin(), it, group.end());
  if (world_.analytic) return world_.analytic->broadcast(*this, t, group);
  tree_broadcast(*this, t, group);
}

runtime::Tensor WorkerContext::allgather(const runtime::Tensor& mine) { return allgather(mine, all_ranks()); }

WorkerContext::GatherRing WorkerContext::gather_ring(const runtime::Tensor& mine, const std::vector<int>& members) const {
  const auto slot = [&members](int r) {  // where member r's part goes in the result
    const auto it = std::lower_bound(members.begin(), members.end(), r);
    return it != members.end() && *it == r ? static_cast<int>(it - members.begin()) : -1;
  };
  GEOTRAIN_CHECK(slot(rank_) >= 0, "an all-gather among members this worker is not one of");
  GatherRing g;
  for (int r : platform().ring_order())
    if (slot(r) >= 0) {
      g.order.push_back(r);
      g.slots.push_back(slot(r));
    }
  const std::size_t n = g.order.size();
  g.each = mine.numel();
  g.ring = mine.is_real() ? runtime::Tensor::zeros(g.each * n) : runtime::Tensor::phantom(g.each * n);
  g.ring.set_wire_bytes_per_value(mine.wire_bytes_per_value());
  const auto me = static_cast<std::size_t>(std::find(g.order.begin(), g.order.end(), rank_) - g.order.begin());
  if (mine.is_real()) kernels::copy(g.ring.slice(me * g.each, g.each).data(), mine.values().data(), g.each);
  return g;
}

runtime::Tensor WorkerContext::in_members_order(GatherRing& g) {
  if (!g.ring.is_real()) return std::move(g.ring);
  const std::size_t n = g.order.size();
  runtime::Tensor out = runtime::Tensor::zeros(g.each * n);
  out.set_wire_bytes_per_value(g.ring.wire_bytes_per_value());
  for (std::size_t pos = 0; pos < n; ++pos)
    kernels::copy(out.slice(g.slots[pos] * g.each, g.each).data(), g.ring.slice(pos * g.each, g.each).data(), g.each);
  return out;
}

runtime::Tensor WorkerContext::allgather(const runtime::Tensor& mine, const std::vector<int>& members) {
  GatherRing g = gather_ring(mine, members);
  const int n = static_cast<int>(g.order.size());
  if (n > 1) launch_collective();
  CollectiveTimer timer(*this, {"allgather", "ring", n, g.ring.wire_bytes(g.ring.numel())});
  if (world_.analytic) {
    world_.analytic->allgather(*this, g.ring, g.order);
  } else {
    ring_allgather_chunks(*this, g.ring, g.order, 0);
  }
  return in_members_order(g);
}

void WorkerContext::end_step(double samples, double loss, int group) {
  end_step_at(samples, loss, group, close_step(samples, loss));
}

double WorkerContext::close_step(double samples, double loss) {
  busy(world_.scenario.overheads.step_overhead_s, "framework overhead");
  if (!std::isfinite(loss)) {
    world_.diverged = true;
    world_.stop_reason = fmt::format("diverged: worker {} reported a loss of {} at {:.6g} s", info().name, loss, now());
    world_.recorder.end_step(samples, loss, now(), world_size(), true);
    fill_costs(world_.recorder.last_row());
    sg4::Actor::kill_all();   // every other actor; this one ends just below
    sg4::this_actor::exit();
  }
  return now();
}

void WorkerContext::end_step_at(double samples, double loss, int group, double end_s) {
  const int workers = group > 0 ? group : world_size();
  for (int i = 0; i < stands_for_count(); ++i) {  // each worker it stands for ended its step
    if (!world_.recorder.end_step(samples, loss, end_s, workers, false)) continue;
    TimelineRow& row = world_.recorder.last_row();
    fill_costs(row);
    // The end of the run is evaluated after the simulation (sim/run.cc), once all work landed.
    const int every = world_.scenario.workload.eval_every;
    if (world_.training.is_real() && every > 0 && (row.step + 1) % every == 0) evaluate_into(world_, row);
  }
}

void WorkerContext::stand_for(const std::vector<int>& ranks) {
  GEOTRAIN_CHECK(!ranks.empty() && ranks.front() == rank_, "a worker stands for a set of workers it leads");
  stands_for_ = &ranks;
}

void WorkerContext::record(Span span) {
  if (stands_for_) world_.recorder.add_span_for(*stands_for_, std::move(span));
  else world_.recorder.add_span(std::move(span));
}

void WorkerContext::fill_costs(TimelineRow& row) const {
  row.alive_workers = world_.membership ? world_.membership->alive_count() : world_size();
  row.useful_samples = resilience::useful_samples(world_);
  row.compute_usd = world_.ledger.compute_usd(row.time_s);
  row.egress_usd = world_.ledger.total_egress_usd();
  row.wan_bytes = world_.ledger.wan_bytes();
}

void evaluate_into(World& world, TimelineRow& row) {
  const runtime::Evaluation e = world.training.evaluate(world.deployed_parameters());
  row.test_loss = e.loss;
  row.test_accuracy = e.accuracy;
  row.evaluated = true;
}

Transfer WorkerContext::send_async(int dst, std::vector<float> values, std::uint64_t bytes, int channel) {
  return send_message_async(dst, Message{std::move(values)}, bytes, channel);
}

Transfer WorkerContext::send_message_async(int dst, Message message, std::uint64_t bytes, int channel) {
  message.from = rank_;
  return start_send(dst, std::make_unique<Message>(std::move(message)), bytes, channel);
}

namespace {
// Flows of bytes only: SimGrid tells a send from a receive by their buffers, so such a send
// carries this token's address, which its receive copies into the sink (written, never read).
char bytes_only_token = 0;
void* bytes_only_sink = nullptr;
}  // namespace

Transfer WorkerContext::start_send(int dst, std::unique_ptr<Message> payload, std::uint64_t bytes, int channel) {
  GEOTRAIN_CHECK(dst != rank_, "a node cannot send to itself");
  GEOTRAIN_CHECK(!stands_for_, "a worker standing for others sent a message (sim/identical_workers.h)");
  if (channel < 0) channel = channel_;
  Transfer t;
  t.in_flight_B = bytes;
  world_.ledger.add_in_flight(static_cast<double>(bytes));
  const Route& route = route_to(dst, channel);
  void* data = payload ? static_cast<void*>(payload.release()) : &bytes_only_token;
  t.comm = route.box->put_init(data, bytes);
  if (route.rate_cap_Bps > 0) t.comm->set_rate(route.rate_cap_Bps);
  t.comm->start();
  t.src_region = info().region;
  t.dst_region = route.peer_region;
  world_.ledger.add_transfer(t.src_region, t.dst_region, bytes);
  wan_in_flight_between(t.src_region, t.dst_region, static_cast<std::int64_t>(bytes));
  if (world_.transfers) world_.transfers->started(*this, t, true);
  return t;
}

void WorkerContext::wan_in_flight(int src, int dst, std::int64_t delta_B) {
  wan_in_flight_between(platform().nodes()[src].region, platform().nodes()[dst].region, delta_B);
}

void WorkerContext::wan_in_flight_between(int src_region, int dst_region, std::int64_t delta_B) {
  if (src_region != dst_region && delta_B != 0) world_.recorder.add_wan_in_flight(src_region, dst_region, delta_B, now());
}

void WorkerContext::end_in_flight(Transfer& t) {
  if (t.in_flight_B == 0) return;
  world_.ledger.add_in_flight(-static_cast<double>(t.in_flight_B));
  wan_in_flight_between(t.src_region, t.dst_region, -static_cast<std::int64_t>(t.in_flight_B));
  t.in_flight_B = 0;
}

Transfer WorkerContext::recv_async(int src, int channel) {
  Transfer t = recv_reply_async(src, channel < 0 ? channel_ : channel);
  if (world_.transfers) world_.transfers->started(*this, t, false);
  return t;
}

Transfer WorkerContext::recv_reply_async(int src, int channel) {
  Transfer t = receive_init(src, channel, true);
  t.comm->start();
  return t;
}

Transfer WorkerContext::receive_init(int src, int channel, bool with_message) {
  Transfer t;
  t.comm = mailbox_from(src, channel)->get_init();
  if (with_message) {
    t.slot = std::make_shared<Message*>(nullptr);
    t.comm->set_dst_data(reinterpret_cast<void**>(t.slot.get()), sizeof(void*));
  } else {
    t.comm->set_dst_data(&bytes_only_sink, sizeof(void*));
  }
  return t;
}

std::unique_ptr<Message> WorkerContext::exchange(int dst, std::unique_ptr<Message> payload, std::uint64_t bytes,
                                                 int src, Transfer& tx) {
  const bool with_message = payload != nullptr;
  if (with_message) payload->from = rank_;
  Transfer rx = receive_init(src, channel_, with_message);
  if (world_.transfers) {  // faults: the receive first, as such runs always had it
    rx.comm->start();
    world_.transfers->started(*this, rx, false);
  }
  tx = start_send(dst, std::move(payload), bytes, channel_);
  return wait(rx);  // without faults not started: SimGrid posts the receive and waits in one simcall
}

simgrid::s4u::CommPtr WorkerContext::put(simgrid::s4u::Mailbox* box, int dst, Message message, std::uint64_t bytes) {
  GEOTRAIN_CHECK(dst != rank_, "a node cannot send to itself");
  GEOTRAIN_CHECK(!stands_for_, "a worker standing for others sent a message (sim/identical_workers.h)");
  message.from = rank_;
  if (platform().nodes()[dst].region != info().region) {
    message.wan_in_flight_B = bytes;  // until the receiver takes it: nobody waits for this send
    wan_in_flight(rank_, dst, static_cast<std::int64_t>(bytes));
  }
  auto comm = box->put_init(new Message(std::move(message)), bytes);
  const double cap = platform().rate_cap_Bps(rank_, dst);
  if (cap > 0) comm->set_rate(cap);
  world_.ledger.add_transfer(info().region, platform().nodes()[dst].region, bytes);
  return comm;
}

namespace {
void delete_message(void* payload) { delete static_cast<Message*>(payload); }
}  // namespace

void WorkerContext::send_detached(int dst, Message message, std::uint64_t bytes, int channel) {
  put(mailbox(rank_, dst, channel), dst, std::move(message), bytes)->detach(delete_message);
}

void WorkerContext::post(int dst, Message message, std::uint64_t bytes) {
  put(inbox(dst), dst, std::move(message), bytes)->detach(delete_message);
}

Transfer WorkerContext::post_async(int dst, Message message, std::uint64_t bytes) {
  Transfer t;
  t.comm = put(inbox(dst), dst, std::move(message), bytes);
  t.comm->start();
  return t;
}

Overlapped WorkerContext::start_overlapped(int channel, std::function<void(WorkerContext&)> program) {
  GEOTRAIN_CHECK(channel > 0, "overlapped collectives need their own channel");
  GEOTRAIN_CHECK(!stands_for_, "a worker standing for others started a helper actor (sim/identical_workers.h)");
  World* world = &world_;
  const int rank = rank_;
  Overlapped op;
  op.actor = sg4::Actor::create(fmt::format("{}/comm{}", info().name, channel), info().host,
                                [world, rank, channel, program = std::move(program)] {
                                  WorkerContext ctx(*world, rank);
                                  ctx.channel_ = channel;
                                  ctx.overlapped_ = true;
                                  program(ctx);
                                });
  return op;
}

void WorkerContext::join(Overlapped& op) {
  const double start = now();
  op.actor->join();
  if (now() > start) world_.recorder.add_span({rank_, "communication", "wait overlapped", start, now()});
}

void WorkerContext::spawn_daemon(const std::string& suffix, std::function<void(WorkerContext&)> program) {
  World* world = &world_;
  const int rank = rank_;
  sg4::Actor::create(info().name + "/" + suffix, info().host, [world, rank, program = std::move(program)] {
    sg4::Actor::self()->daemonize();
    WorkerContext ctx(*world, rank);
    program(ctx);
  });
}

std::unique_ptr<Message> WorkerContext::receive_inbox() {
  if (!inbox_owner_) {
    // From now on messages posted to this node flow at once, as into a server's socket buffers.
    inbox(rank_)->set_receiver(sg4::Actor::self());
    inbox_owner_ = true;
  }
  std::unique_ptr<Message> msg(inbox(rank_)->get<Message>());
  taken(*msg);
  return msg;
}

void WorkerContext::discard_inbox() { inbox(rank_)->clear(); }

std::unique_ptr<Message> WorkerContext::wait(Transfer& t) {
  const double start = in_collective_ ? 0 : now();
  if (world_.transfers) world_.transfers->wait(*this, t);  // on an abort it ends t's in-flight count
  else t.comm->wait();
  // Waits of request/reply protocols (servers, gossip) are communication too; collectives
  // record theirs as one span of the whole collective.
  if (!in_collective_ && now() > start)
    world_.recorder.add_span({rank_, overlapped_ ? "overlapped" : "communication", "wait transfer", start, now()});
  end_in_flight(t);
  if (!t.slot) return nullptr;
  std::unique_ptr<Message> msg(*t.slot);
  if (msg) taken(*msg);
  return msg;
}

void WorkerContext::taken(Message& msg) {
  if (msg.wan_in_flight_B == 0) return;
  wan_in_flight(msg.from, rank_, -static_cast<std::int64_t>(msg.wan_in_flight_B));
  msg.wan_in_flight_B = 0;
}

WorkerContext::CollectiveTimer::CollectiveTimer(WorkerContext& ctx, CollectiveKey key)
    : ctx_(ctx), key_(std::move(key)), start_s_(ctx.now()), outer_(ctx.in_collective_) {
  ctx.in_collective_ = true;
}

WorkerContext::CollectiveTimer::~CollectiveTimer() {
  ctx_.in_collective_ = outer_;
  if (outer_) return;  // nested (e.g. the leaders' ring inside a hierarchical all-reduce)
  const double end = ctx_.now();
  std::string name = key_.op + "/" + key_.algorithm;
  if (!ctx_.span_note_.empty()) name += " " + ctx_.span_note_;
  ctx_.record({ctx_.rank_, ctx_.overlapped_ ? "overlapped" : "communication", std::move(name), start_s_, end});
  ctx_.world_.recorder.add_collective(key_, end - start_s_, ctx_.stands_for_count());
}

}  // namespace geotrain::sim
