// Membership: views, aborts and commits of synchronous rounds under faults.
#include "sim/resilience/membership.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <simgrid/s4u.hpp>

#include "kernels/check.h"

namespace sg4 = simgrid::s4u;

namespace geotrain::sim {
namespace {
// The payload of the messages that release blocked receives (never read: the view is aborted).
int kRelease = 0;
}  // namespace

bool GroupView::has(int rank) const { return std::binary_search(members.begin(), members.end(), rank); }

bool GroupView::is_joiner(int rank) const { return std::find(joiners.begin(), joiners.end(), rank) != joiners.end(); }

Membership::Membership(int workers, bool elastic)
    : workers_(workers),
      elastic_(elastic),
      alive_(workers, false),
      joined_(workers, false),
      pending_(workers, false),
      comms_(workers) {}

void Membership::start(const std::vector<bool>& alive_at_start) {
  std::vector<int> everyone;
  for (int r = 0; r < workers_; ++r) {
    alive_[r] = alive_at_start[r];
    joined_[r] = alive_at_start[r];  // the initial state is everyone's
    if (alive_[r]) everyone.push_back(r);
  }
  open(0, 0, everyone);
}

int Membership::alive_count() const { return static_cast<int>(std::count(alive_.begin(), alive_.end(), true)); }

void Membership::open(long round, int attempt, const std::vector<int>& previous) {
  std::vector<int> members;
  for (int r = 0; r < workers_; ++r) {
    const bool was = std::find(previous.begin(), previous.end(), r) != previous.end();
    if (alive_[r] && (was || pending_[r])) members.push_back(r);
  }
  const bool enough = elastic_ ? !members.empty() : static_cast<int>(members.size()) == workers_;
  if (!enough) {
    waiting_round_ = round;
    waiting_attempt_ = attempt;
    waiting_previous_ = previous;  // before view_ lets go: `previous` may be the members of view_
    view_ = nullptr;
    return;
  }
  auto v = std::make_shared<GroupView>();
  v->round = round;
  v->attempt = attempt;
  v->serial = views_opened_++;
  v->members = members;
  for (int r : members)
    if (!joined_[r]) v->joiners.push_back(r);
  if (v->joiners.size() == members.size()) v->round = rollback_round_;  // nobody holds the state
  for (int r : members) pending_[r] = false;
  view_ = std::move(v);
  wake_all();
}

void Membership::down(int rank) {
  alive_[rank] = false;
  joined_[rank] = false;
  pending_[rank] = false;
  for (const Tracked& t : comms_[rank]) keep_if_pending(t);
  comms_[rank].clear();
  if (view_ && view_->has(rank) && !view_->committed) abort(view_);
}

void Membership::ready(int rank) {
  alive_[rank] = true;
  joined_[rank] = false;
  pending_[rank] = true;
  // A group waiting for members opens now if it has enough; otherwise the worker joins at the
  // next view (the next round, or the retry of an aborted one).
  if (!view_) open(waiting_round_, waiting_attempt_, waiting_previous_);
}

// Suspends the calling worker until `done()` holds, rechecked whenever something changed
// (wake_all).  No mutex and condition variable: SimGrid runs one actor at a time, and a worker
// killed while it waits (preempted) would unlock a mutex on its way out, a simcall from a dying
// actor, which on thread contexts never returns (the engine waits for the actor's thread).  Its
// entry in waiting_ leaves with it, by a destructor that calls nothing of SimGrid.
template <class Done>
void Membership::wait_until(Done done) {
  while (!done()) {
    waiting_.push_back(sg4::Actor::self());
    struct Leave {
      std::vector<sg4::ActorPtr>& waiting;
      const sg4::Actor* me;
      ~Leave() {
        std::erase_if(waiting, [this](const sg4::ActorPtr& a) { return a.get() == me; });
      }
    } leave{waiting_, waiting_.back().get()};
    sg4::this_actor::suspend();  // until wake_all
  }
}

void Membership::wake_all() {
  for (const sg4::ActorPtr& a : std::exchange(waiting_, {})) a->resume();
}

std::shared_ptr<GroupView> Membership::current(long round) {
  wait_until([&] { return closed_ || (view_ && view_->round >= round); });
  return closed_ ? nullptr : view_;
}

std::shared_ptr<GroupView> Membership::await_admission(int rank) {
  wait_until([&] { return closed_ || (view_ && view_->has(rank)); });
  return closed_ ? nullptr : view_;
}

bool Membership::commit(const std::shared_ptr<GroupView>& view, int rank) {
  GEOTRAIN_CHECK(view->has(rank), "a worker committed a round it is not a member of");
  if (view->aborted) return false;
  if (++view->commits == static_cast<int>(view->members.size())) {
    view->committed = true;
    for (int r : view->members) joined_[r] = true;
    open(view->round + 1, 0, view->members);
    wake_all();
    return true;
  }
  wait_until([&] { return view->committed || view->aborted; });
  return view->committed;
}

void Membership::abort(const std::shared_ptr<GroupView>& view) {
  if (view->aborted || view->committed) return;
  view->aborted = true;
  // SimGrid does not wake an actor whose transfer was never matched when it is cancelled.  So
  // the abort releases them instead: an empty message for a blocked receive, a receive for a
  // blocked send.  Each round attempt has its own mailboxes (sync_round), so these never reach
  // a later attempt; the members see the view aborted once their transfer returns.
  for (int r : view->members) {
    auto comms = std::move(comms_[r]);
    comms_[r].clear();
    for (const Tracked& t : comms) {
      keep_if_pending(t);
      const auto& c = t.comm;
      const bool is_send = t.is_send;
      const auto state = c->get_state();
      if (state == sg4::Activity::State::FINISHED || state == sg4::Activity::State::FAILED ||
          state == sg4::Activity::State::CANCELED || c->get_mailbox() == nullptr)
        continue;
      if (is_send) {
        sinks_.push_back(std::make_unique<void*>(nullptr));
        releases_.push_back(c->get_mailbox()->get_async<void>(sinks_.back().get()));
      } else {
        releases_.push_back(c->get_mailbox()->put_async(&kRelease, 0));
      }
    }
  }
  if (view_ == view) open(view->round, view->attempt + 1, view->members);
  wake_all();
}

int Membership::pending_transfers() const {
  auto pending = [](const sg4::CommPtr& c) { return c->get_state() == sg4::Activity::State::STARTED ? 1 : 0; };
  int n = 0;
  for (const auto* kept : {&abandoned_comms_, &releases_})
    for (const auto& c : *kept) n += pending(c);
  for (const auto& tracked : comms_)
    for (const auto& t : tracked) n += pending(t.comm);
  return n;
}

void Membership::cancel_pending() {
  auto cancel = [](const sg4::CommPtr& c) {
    if (c->get_state() == sg4::Activity::State::STARTED) c->cancel();
  };
  for (const auto* kept : {&abandoned_comms_, &releases_})
    for (const auto& c : *kept) cancel(c);
  for (const auto& tracked : comms_)
    for (const auto& t : tracked) cancel(t.comm);
}

void Membership::close() {
  closed_ = true;
  wake_all();
}

void Membership::track(int rank, const sg4::CommPtr& comm, bool is_send, std::shared_ptr<void> slot) {
  comms_[rank].push_back({comm, is_send, std::move(slot)});
}

void Membership::untrack(int rank, const sg4::Comm* comm) {
  auto& v = comms_[rank];
  const auto it = std::find_if(v.begin(), v.end(), [comm](const Tracked& t) { return t.comm.get() == comm; });
  if (it == v.end()) return;
  keep_if_pending(*it);
  v.erase(it);
}

void Membership::keep_if_pending(const Tracked& t) {
  const auto state = t.comm->get_state();
  if (state == sg4::Activity::State::FINISHED || state == sg4::Activity::State::FAILED ||
      state == sg4::Activity::State::CANCELED)
    return;
  // SimGrid's kernel still writes into the transfer's s4u object (the received size) and the
  // receive's slot when it completes: both must outlive it.
  abandoned_comms_.push_back(t.comm);
  if (t.slot) abandoned_slots_.push_back(t.slot);
}

}  // namespace geotrain::sim
