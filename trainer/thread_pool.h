// ThreadPool: runs a loop body over [0, n) on a fixed number of threads.
//
// Determinism does not come from the pool but from how the trainer uses it:
// every ParallelFor body writes disjoint outputs, and each output is computed
// by one thread with a fixed operation order. So the split of [0, n) between
// threads (contiguous chunks, the caller's thread taking the first) can change
// with the thread count without changing a bit.
#ifndef LOCKSTEP_TRAINER_THREAD_POOL_H_
#define LOCKSTEP_TRAINER_THREAD_POOL_H_

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

  // Calls body(begin, end) on disjoint contiguous ranges covering [0, n) and
  // returns when all have finished. Not reentrant.
  void ParallelFor(std::size_t n, const std::function<void(std::size_t, std::size_t)>& body);

 private:
  void WorkerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  const std::function<void(std::size_t, std::size_t)>* body_ = nullptr;
  std::size_t n_ = 0;
  std::size_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_THREAD_POOL_H_
