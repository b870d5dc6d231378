#include "trainer/thread_pool.h"

#include <algorithm>

namespace lockstep::trainer {
namespace {

// The k-th of `parts` contiguous chunks of [0, n).
std::pair<std::size_t, std::size_t> Chunk(std::size_t n, std::size_t parts, std::size_t k) {
  return {n * k / parts, n * (k + 1) / parts};
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    n_ = n;
    parts_ = parts;
    pending_ = static_cast<int>(parts - 1);
    ++generation_;
  }
  start_.notify_all();
  auto [begin, end] = Chunk(n, parts, 0);
  if (begin < end) body(begin, end);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return pending_ == 0; });
  body_ = nullptr;
}

void ThreadPool::WorkerLoop(int index) {
  std::size_t seen = 0;
  for (;;) {
    const std::function<void(std::size_t, std::size_t)>* body;
    std::size_t n, parts;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      body = body_;
      n = n_;
      parts = parts_;
    }
    if (static_cast<std::size_t>(index) >= parts) continue;  // not needed this time
    auto [begin, end] = Chunk(n, parts, static_cast<std::size_t>(index));
    if (begin < end) (*body)(begin, end);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

}  // namespace lockstep::trainer
