// What faults do to a server's state (parameter-server shards): its checkpoints and its restart
// (ServerShard), and who a synchronous round waits for (ServerRound).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/optimizer.h"
#include "sim/collectives/collectives.h"
#include "sim/context.h"

namespace geotrain::sim {

class ServerLink;

// A server's state: a parameter-server shard, or EASGD's center (a plain "sgd" spec: no
// optimizer state, `version` counts the pushes applied).  It outlives the server's program
// (SimGrid actor) only as the simulation's record: a restarted server reloads `params`,
// `optimizer` and `version` from its checkpoint.
struct ServerShard {
  // `stepped_whole`: false when the shard's keys have optimizers of their own (overlap), or when
  // nothing steps it.  A checkpoint holds the values and `spec`'s state tensors, fp32.
  // `restored_at`: how the restart event names the checkpoint's version.
  ServerShard(ChunkRange range, std::vector<float> params, const runtime::OptimizerSpec& spec, bool stepped_whole,
              std::string restored_at = "at version {}")
      : range(range),
        params(std::move(params)),
        optimizer(spec, stepped_whole ? this->params.size() : 0),
        spec_(spec),
        restored_at_(std::move(restored_at)) {}

  // Faults: every checkpoint.every_steps updates the server writes its shard (parameters and
  // optimizer moments) to the store; it blocks meanwhile.  The copy counts once the write landed.
  void maybe_checkpoint(WorkerContext& ctx);
  // A restarted server: its state is its last checkpoint, else the initial parameters.
  void restore(WorkerContext& ctx);

  ChunkRange range;
  std::vector<float> params;  // real runs (empty in size-only runs)
  runtime::Optimizer optimizer;
  long version = 0;  // updates (asynchronous) or rounds (synchronous) in `params`
  long clock = 0;    // asynchronous: updates applied over all the server's lives

 private:
  struct Saved {
    long version = 0;
    std::vector<float> params;
    runtime::Optimizer optimizer;
  };
  std::uint64_t bytes() const;
  runtime::OptimizerSpec spec_;
  std::string restored_at_;
  std::optional<Saved> checkpoint_;
};

// A synchronous server's round: who it waits for and which pushes count.  Without faults every
// worker and every push.  Under faults the members are the workers up when the server started,
// plus every worker whose pull or push reached it since, minus those whose death it learned of
// (ServerLink's kWorkerDown notice); a push tagged with another round, sent twice, or sent after
// the last round is discarded (and counted).
class ServerRound {
 public:
  ServerRound(WorkerContext& ctx, const ServerLink& link);
  // Takes in a message's news.  False: nothing more to do with it (a stale death notice, a
  // discarded push, a worker saying done).  `version`: the rounds the server ran.
  bool admit(const Message& msg, long version, ServerLink& link);
  // The server's loop goes on: under faults always (a daemon), else until every worker said done.
  bool serving() const { return faults_ || done_ < static_cast<int>(member_.size()); }
  bool pushed(int worker) const { return pushed_[worker]; }
  int pushes() const { return pushes_; }
  // Someone pushed and every member did.
  bool complete() const;
  // The round closed: the next one waits for pushes again.
  void close();

 private:
  bool faults_;
  long steps_;
  std::vector<bool> member_, pushed_;
  std::vector<long> newest_;  // the newest incarnation heard from per worker: older death notices are stale
  int pushes_ = 0, done_ = 0;
};

}  // namespace geotrain::sim
