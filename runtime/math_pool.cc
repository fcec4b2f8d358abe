// MathPool: a queue, threads - 1 threads, and waiters that help.
#include "runtime/math_pool.h"

#include <atomic>

#include "kernels/check.h"

namespace geotrain::runtime {

MathPool::MathPool(int threads) {
  GEOTRAIN_CHECK(threads >= 2, "a math pool needs at least two threads (the caller and one more)");
  for (int i = 1; i < threads; ++i) threads_.emplace_back([this] { serve(); });
}

MathPool::~MathPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  for (auto& t : threads_) t.join();
}

MathPool::Ticket MathPool::submit(std::function<double()> work) {
  auto job = std::make_shared<Job>();
  job->work = std::move(work);
  bool more_than_one;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(job);
    more_than_one = queue_.size() >= 2;
  }
  // A lone job is left to the thread that will wait for it: handing one pass to another core
  // costs more than it saves (a wake-up, its data moved between caches) when nothing else runs
  // meanwhile.  From the second queued job on, a pool thread wakes (and stays awake while jobs
  // are queued).
  if (more_than_one) queued_.notify_one();
  return job;
}

double MathPool::wait(const Ticket& ticket) {
  std::unique_lock lock(mutex_);
  while (!ticket->done) {
    if (queue_.empty()) {
      finished_.wait(lock);
      continue;
    }
    Ticket job = std::move(queue_.front());
    queue_.pop_front();
    run(*job, lock);
  }
  lock.unlock();
  if (ticket->error) std::rethrow_exception(ticket->error);
  return ticket->value;
}

void MathPool::run(Job& job, std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  try {
    job.value = job.work();
  } catch (...) {
    job.error = std::current_exception();
  }
  lock.lock();
  job.done = true;
  finished_.notify_all();
}

void MathPool::serve() {
  std::unique_lock lock(mutex_);
  for (;;) {
    queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Ticket job = std::move(queue_.front());
    queue_.pop_front();
    run(*job, lock);
  }
}

namespace {
std::atomic<int> g_math_threads{1};
}  // namespace

void set_math_threads(int threads) {
  GEOTRAIN_CHECK(threads >= 1, "math threads must be at least 1");
  g_math_threads = threads;
}

int math_threads() { return g_math_threads; }

}  // namespace geotrain::runtime
