// The optimizer step: learning-rate schedule, global gradient norm, clipping,
// AdamW. Each float operation runs in a fixed order per element; the one
// reduction (the squared norm) uses fixed chunks, whatever the thread count.
#ifndef LOCKSTEP_TRAINER_OPTIMIZER_H_
#define LOCKSTEP_TRAINER_OPTIMIZER_H_

#include <cstddef>
#include <vector>

#include "trainer/gpt.h"
#include "trainer/memory.h"
#include "trainer/thread_pool.h"
#include "trainer/train_config.h"

namespace lockstep::trainer {

// Linear warmup from lr/warmup to lr over steps 1..warmup_steps, then cosine
// decay to min_lr at the last step. Computed in double with PortableCos.
float LearningRate(const TrainConfig& config, int step);

// Sum of x[i]^2 in double: chunks of kNormChunk elements each summed in index
// order, then the chunk sums added in chunk order.
inline constexpr std::size_t kNormChunk = 8192;
double SumOfSquares(ThreadPool& pool, const float* x, std::size_t n);

// x *= scale, elementwise.
void Scale(ThreadPool& pool, float* x, std::size_t n, float scale);

// AdamW with decoupled weight decay on the tensors marked `decay`.
class AdamW {
 public:
  AdamW(std::size_t num_params, MemoryTracker& tracker)
      : m_(tracker, num_params), v_(tracker, num_params) {}
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }
  // `step` counts from 1 (bias correction).
  void Step(ThreadPool& pool, const std::vector<ParamTensor>& tensors, float* params,
            const float* grads, float lr, const TrainConfig& config, int step);

 private:
  TrackedBuffer<float> m_, v_;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_OPTIMIZER_H_
