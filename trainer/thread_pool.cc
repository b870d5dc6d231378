#include "trainer/thread_pool.h"

#include <algorithm>

namespace lockstep::trainer {
namespace {

// The k-th of `parts` contiguous chunks of [0, n).
std::pair<std::size_t, std::size_t> Chunk(std::size_t n, std::size_t parts, std::size_t k) {
  return {n * k / parts, n * (k + 1) / parts};
}

// How long a hand-off spins before it sleeps: a few tens of microseconds.
// Every 64th turn yields, so that an oversubscribed machine (more ranks and
// threads than cores) lets the thread being waited for run.
constexpr int kSpins = 4096;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() or kSpins are used up; true if done().
template <typename Done>
bool SpinUntil(const Done& done) {
  for (int i = 0; i < kSpins; ++i) {
    if (done()) return true;
    if (i % 64 == 63) {
      std::this_thread::yield();
    } else {
      CpuRelax();
    }
  }
  return done();
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  start_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::ParallelFor(std::size_t n, std::size_t cost_per_item,
                             const std::function<void(std::size_t, std::size_t)>& body) {
  const double work = double(n) * double(cost_per_item);
  const std::size_t parts = std::min<std::size_t>(
      {workers_.size() + 1, n, std::max<std::size_t>(1, std::size_t(work / kMinCostPerPart))});
  if (parts <= 1) {
    if (n > 0) body(0, n);
    return;
  }
  body_ = &body;
  n_ = n;
  parts_ = parts;
  // Every worker acknowledges every loop, those without a range too: then no
  // worker can still be reading this loop's parameters when the next one
  // overwrites them.
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    // Under the mutex, so that a worker deciding to sleep either sees the new
    // generation or is already waiting when the notification comes.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_.notify_all();
  auto [begin, end] = Chunk(n, parts, 0);
  if (begin < end) body(begin, end);
  const auto finished = [this] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!SpinUntil(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, finished);
  }
  body_ = nullptr;
}

void ThreadPool::WorkerLoop(int index) {
  std::size_t seen = 0;
  for (;;) {
    const auto posted = [&] {
      return stop_.load(std::memory_order_acquire) ||
             generation_.load(std::memory_order_acquire) != seen;
    };
    if (!SpinUntil(posted)) {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, posted);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    const std::size_t parts = parts_;
    if (static_cast<std::size_t>(index) < parts) {
      auto [begin, end] = Chunk(n_, parts, static_cast<std::size_t>(index));
      if (begin < end) (*body_)(begin, end);
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // the caller may be about to sleep
      done_.notify_one();
    }
  }
}

}  // namespace lockstep::trainer
