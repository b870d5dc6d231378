// The optimizer step: learning-rate schedule, global gradient norm, clipping,
// AdamW. Each float operation runs in a fixed order per element; the one
// reduction (the squared norm) uses fixed chunks, whatever the thread count.
#ifndef LOCKSTEP_TRAINER_OPTIMIZER_H_
#define LOCKSTEP_TRAINER_OPTIMIZER_H_

#include <cstddef>
#include <cstdint>
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

// How many x[i] are exactly zero (+0 or -0). An integer count: no order to fix.
std::uint64_t CountZeros(ThreadPool& pool, const float* x, std::size_t n);

// What one AdamW step did to one parameter tensor. A tensor whose `changed`
// stays 0 while `update_rms` is not 0 is not learning: its updates are below
// half a ULP of its values (bf16 master weights at 1.0: 2^-7 above, 2^-8
// below).
struct TensorUpdate {
  std::uint64_t changed = 0;  // elements whose bits differ after the step
  double value_rms = 0;       // RMS of the tensor after the step
  double update_rms = 0;      // RMS of the update AdamW computed, in fp32, before bf16 rounding
};

// AdamW with decoupled weight decay on the tensors marked `decay`:
//   u = lr * (mhat / (sqrt(vhat) + eps) + wd * p)   in fp32
//   p = p - u, then rounded to bf16 when numerics.master = "bf16".
// m and v stay fp32 in both modes.
class AdamW {
 public:
  AdamW(std::size_t num_params, MemoryTracker& tracker)
      : m_(tracker, num_params), v_(tracker, num_params) {}
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }
  // `step` counts from 1 (bias correction). `updates` (nullptr: not
  // computed) gets one entry per tensor, in `tensors` order; its sums are in
  // double over fixed chunks of kNormChunk elements, each in index order, the
  // chunk sums added in chunk order (as SumOfSquares): the same bits with any
  // thread count.
  void Step(ThreadPool& pool, const std::vector<ParamTensor>& tensors, float* params,
            const float* grads, float lr, const TrainConfig& config, int step,
            std::vector<TensorUpdate>* updates = nullptr);

 private:
  TrackedBuffer<float> m_, v_;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_OPTIMIZER_H_
