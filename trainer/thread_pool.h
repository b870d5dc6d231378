// ThreadPool: runs a loop body over [0, n) on a fixed number of threads.
//
// A hand-off spins for a few microseconds before it sleeps on a condition
// variable, both ways (workers waiting for a loop, the caller waiting for the
// workers): a training step runs hundreds of short loops back to back, and a
// futex wake-up per loop cost more than the second thread gave.
//
// Determinism does not come from the pool but from how the trainer uses it:
// every ParallelFor body writes disjoint outputs, and each output is computed
// by one thread with a fixed operation order. So the split of [0, n) between
// threads (contiguous chunks, the caller's thread taking the first) can change
// with the thread count without changing a bit.
#ifndef LOCKSTEP_TRAINER_THREAD_POOL_H_
#define LOCKSTEP_TRAINER_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lockstep::trainer {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Below this much work per thread, handing a range to another thread costs
  // more than it gives. A first setting: 4x more changed nothing measurable on
  // the smoke config (bench/README.md, "Threads"); the spinning hand-off did.
  static constexpr std::size_t kMinCostPerPart = 1 << 15;
  // A cost_per_item that always splits (the caller has judged the size).
  static constexpr std::size_t kSplit = kMinCostPerPart;

  // Calls body(begin, end) on disjoint contiguous ranges covering [0, n) and
  // returns when all have finished. Not reentrant. cost_per_item: about how
  // many elementary operations (a float multiply or add, an element copied)
  // one item takes; the work is split over no more threads than have
  // kMinCostPerPart each, so small loops run on the caller alone.
  void ParallelFor(std::size_t n, std::size_t cost_per_item,
                   const std::function<void(std::size_t, std::size_t)>& body);

 private:
  void WorkerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  // Written by the caller before it publishes a loop by bumping generation_
  // (release), read by the workers after they see it (acquire).
  const std::function<void(std::size_t, std::size_t)>* body_ = nullptr;
  std::size_t n_ = 0;
  std::size_t parts_ = 0;  // ranges of the current loop: the caller's and parts_ - 1 workers'.
  std::atomic<std::size_t> generation_{0};
  std::atomic<int> pending_{0};  // workers that have not finished the current loop
  std::atomic<bool> stop_{false};
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_THREAD_POOL_H_
