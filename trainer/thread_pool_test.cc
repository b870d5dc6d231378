#include "trainer/thread_pool.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace lockstep::trainer {
namespace {

// Which thread ran each index of one loop.
std::vector<std::thread::id> RunLoop(ThreadPool& pool, std::size_t n, std::size_t cost) {
  std::vector<std::thread::id> ran(n);
  std::vector<int> times(n, 0);
  pool.ParallelFor(n, cost, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      ran[i] = std::this_thread::get_id();
      ++times[i];
    }
  });
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(times[i], 1) << "index " << i << " of " << n;
  return ran;
}

std::size_t Threads(const std::vector<std::thread::id>& ran) {
  return std::set<std::thread::id>(ran.begin(), ran.end()).size();
}

TEST(ThreadPoolTest, EveryIndexRunsExactlyOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (std::size_t n : {0, 1, 2, 5, 1000}) {
      for (std::size_t cost : {std::size_t{1}, ThreadPool::kSplit}) RunLoop(pool, n, cost);
    }
  }
}

// Loops back to back, alternating how many threads they need: a worker left
// out of one loop must not run the next one's range twice or miss it.
TEST(ThreadPoolTest, BackToBackLoopsOfEverySizeRunEachIndexOnce) {
  ThreadPool pool(3);
  for (int loop = 0; loop < 3000; ++loop) {
    const std::size_t n = loop % 3 == 0 ? 2 : loop % 3 == 1 ? 9 : 1;
    RunLoop(pool, n, ThreadPool::kMinCostPerPart);  // 2, 3 and 1 parts
  }
}

TEST(ThreadPoolTest, SmallLoopsStayOnTheCaller) {
  ThreadPool pool(3);
  const auto ran = RunLoop(pool, 100, 1);  // 100 operations: far below a part's worth
  EXPECT_EQ(Threads(ran), 1u);
  EXPECT_EQ(ran[0], std::this_thread::get_id());
}

TEST(ThreadPoolTest, LoopsSplitOverNoMoreThreadsThanHaveAPartEach) {
  ThreadPool pool(3);
  EXPECT_EQ(Threads(RunLoop(pool, 2, ThreadPool::kMinCostPerPart)), 2u);  // 2 parts' worth
  EXPECT_EQ(Threads(RunLoop(pool, 6, ThreadPool::kMinCostPerPart)), 3u);  // capped by the pool
  EXPECT_EQ(Threads(RunLoop(pool, 2, ThreadPool::kSplit * 100)), 2u);     // capped by the items
  EXPECT_EQ(Threads(RunLoop(pool, 4, ThreadPool::kMinCostPerPart / 2)), 2u);
}

}  // namespace
}  // namespace lockstep::trainer
