// Threads that run workers' forward/backward passes while the simulation goes on.  SimGrid runs
// every actor on one OS thread; a worker hands its pass to the pool when its simulated compute
// starts and collects the loss when that compute ends, so the passes of workers computing at the
// same simulated time run at once on the machine's cores.  A thread waiting for a pass runs
// queued passes meanwhile, so a pool of N threads is N-1 threads plus the simulation's; a
// pass queued alone wakes no thread, so it runs in its waiter unless a thread is awake already.  Results
// do not depend on the number of threads (runtime::Trainer::start_forward_backward says why).
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace geotrain::runtime {

class MathPool {
 public:
  struct Job {
    std::function<double()> work;
    double value = 0;
    std::exception_ptr error;
    bool done = false;  // guarded by the pool's mutex
  };
  using Ticket = std::shared_ptr<Job>;

  // `threads` counts the caller of wait(): threads - 1 threads are started.  REQUIRES: threads >= 2.
  explicit MathPool(int threads);
  // Runs what is queued, then joins the threads.
  ~MathPool();
  MathPool(const MathPool&) = delete;
  MathPool& operator=(const MathPool&) = delete;

  int threads() const { return static_cast<int>(threads_.size()) + 1; }
  Ticket submit(std::function<double()> work);
  // The job's value (or its exception, rethrown); runs queued jobs in this thread until it is done.
  double wait(const Ticket& ticket);

 private:
  void serve();
  // Runs `job` outside the lock, then marks it done.  REQUIRES: `lock` held.
  void run(Job& job, std::unique_lock<std::mutex>& lock);

  std::mutex mutex_;
  std::condition_variable queued_, finished_;
  std::deque<Ticket> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Threads per simulation for the workers' passes (process-wide, like the BLAS thread count).
// 1 (the default): every pass runs in its actor, no pool.
void set_math_threads(int threads);
int math_threads();

}  // namespace geotrain::runtime
