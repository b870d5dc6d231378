#include "trainer/optimizer.h"

#include <cmath>

#include "trainer/portable_math.h"

namespace lockstep::trainer {

float LearningRate(const TrainConfig& c, int step) {
  if (c.warmup_steps > 0 && step <= c.warmup_steps) {
    return static_cast<float>(c.lr * step / c.warmup_steps);
  }
  const int decay_steps = c.steps - c.warmup_steps;
  if (decay_steps <= 0) return static_cast<float>(c.lr);
  const double progress = static_cast<double>(step - c.warmup_steps) / decay_steps;
  const double pi = 3.14159265358979323846;
  return static_cast<float>(c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + PortableCos(pi * progress)));
}

double SumOfSquares(ThreadPool& pool, const float* x, std::size_t n) {
  const std::size_t chunks = (n + kNormChunk - 1) / kNormChunk;
  std::vector<double> partial(chunks, 0.0);
  pool.ParallelFor(chunks, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      double s = 0;
      const std::size_t stop = std::min(n, (c + 1) * kNormChunk);
      for (std::size_t i = c * kNormChunk; i < stop; ++i) {
        double v = x[i];
        s += v * v;
      }
      partial[c] = s;
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

void Scale(ThreadPool& pool, float* x, std::size_t n, float scale) {
  pool.ParallelFor(n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) x[i] = x[i] * scale;
  });
}

void AdamW::Step(ThreadPool& pool, const std::vector<ParamTensor>& tensors, float* params,
                 const float* grads, float lr, const TrainConfig& c, int step) {
  const float b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2);
  const float eps = static_cast<float>(c.eps);
  const float bc1 = static_cast<float>(1.0 - PortablePow(c.beta1, static_cast<std::uint64_t>(step)));
  const float bc2 = static_cast<float>(1.0 - PortablePow(c.beta2, static_cast<std::uint64_t>(step)));
  for (const ParamTensor& t : tensors) {
    const float wd = t.decay ? static_cast<float>(c.weight_decay) : 0.0f;
    float* p = params + t.offset;
    const float* g = grads + t.offset;
    float* m = m_.data() + t.offset;
    float* v = v_.data() + t.offset;
    pool.ParallelFor(t.size, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        const float mhat = m[i] / bc1;
        const float vhat = v[i] / bc2;
        p[i] = p[i] - lr * (mhat / (std::sqrt(vhat) + eps) + wd * p[i]);
      }
    });
  }
}

}  // namespace lockstep::trainer
