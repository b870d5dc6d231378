#include "trainer/bf16.h"

#include "trainer/thread_pool.h"

namespace lockstep::trainer {

void RoundToBf16(ThreadPool& pool, float* x, std::size_t n) {
  pool.ParallelFor(n, 2, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) x[i] = RoundToBf16(x[i]);
  });
}

}  // namespace lockstep::trainer
