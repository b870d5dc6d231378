#include "trainer/optimizer.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "trainer/bf16.h"
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
  return static_cast<float>(c.min_lr +
                            0.5 * (c.lr - c.min_lr) * (1.0 + PortableCos(pi * progress)));
}

double SumOfSquares(ThreadPool& pool, const float* x, std::size_t n) {
  const std::size_t chunks = (n + kNormChunk - 1) / kNormChunk;
  std::vector<double> partial(chunks, 0.0);
  pool.ParallelFor(chunks, 2 * kNormChunk, [&](std::size_t begin, std::size_t end) {
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
  pool.ParallelFor(n, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) x[i] = x[i] * scale;
  });
}

std::uint64_t CountZeros(ThreadPool& pool, const float* x, std::size_t n) {
  const std::size_t chunks = (n + kNormChunk - 1) / kNormChunk;
  std::vector<std::uint64_t> partial(chunks, 0);
  pool.ParallelFor(chunks, 2 * kNormChunk, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      std::uint64_t zeros = 0;
      const std::size_t stop = std::min(n, (c + 1) * kNormChunk);
      for (std::size_t i = c * kNormChunk; i < stop; ++i) zeros += x[i] == 0.0f ? 1 : 0;
      partial[c] = zeros;
    }
  });
  std::uint64_t total = 0;
  for (std::uint64_t p : partial) total += p;
  return total;
}

void AdamW::Step(ThreadPool& pool, const std::vector<ParamTensor>& tensors, float* params,
                 const float* grads, float lr, const TrainConfig& c, int step,
                 std::vector<TensorUpdate>* updates) {
  const float b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2);
  const float eps = static_cast<float>(c.eps);
  const float bc1 =
      static_cast<float>(1.0 - PortablePow(c.beta1, static_cast<std::uint64_t>(step)));
  const float bc2 =
      static_cast<float>(1.0 - PortablePow(c.beta2, static_cast<std::uint64_t>(step)));
  const bool bf16_master = c.master == Precision::kBf16;
  if (updates != nullptr) updates->assign(tensors.size(), TensorUpdate{});
  // Per chunk of a tensor: changed elements, sum of squares of the new
  // values and of the updates.
  struct Partial {
    std::uint64_t changed = 0;
    double value_sq = 0, update_sq = 0;
  };
  std::vector<Partial> partial;
  for (std::size_t ti = 0; ti < tensors.size(); ++ti) {
    const ParamTensor& t = tensors[ti];
    const float wd = t.decay ? static_cast<float>(c.weight_decay) : 0.0f;
    float* p = params + t.offset;
    const float* g = grads + t.offset;
    float* m = m_.data() + t.offset;
    float* v = v_.data() + t.offset;
    // Elementwise, so any split gives the same parameters; the statistics
    // need fixed chunks, so the loop runs over those.
    const std::size_t chunks = (t.size + kNormChunk - 1) / kNormChunk;
    partial.assign(chunks, Partial{});
    pool.ParallelFor(chunks, 20 * kNormChunk, [&](std::size_t chunk_begin, std::size_t chunk_end) {
      for (std::size_t ch = chunk_begin; ch < chunk_end; ++ch) {
        Partial s;
        const std::size_t stop = std::min(t.size, (ch + 1) * kNormChunk);
        for (std::size_t i = ch * kNormChunk; i < stop; ++i) {
          m[i] = b1 * m[i] + (1.0f - b1) * g[i];
          v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
          const float mhat = m[i] / bc1;
          const float vhat = v[i] / bc2;
          const float u = lr * (mhat / (std::sqrt(vhat) + eps) + wd * p[i]);
          const float old = p[i];
          p[i] = bf16_master ? RoundToBf16(old - u) : old - u;
          if (updates != nullptr) {
            s.changed +=
                std::bit_cast<std::uint32_t>(p[i]) != std::bit_cast<std::uint32_t>(old) ? 1 : 0;
            s.value_sq += static_cast<double>(p[i]) * static_cast<double>(p[i]);
            s.update_sq += static_cast<double>(u) * static_cast<double>(u);
          }
        }
        partial[ch] = s;
      }
    });
    if (updates == nullptr || t.size == 0) continue;
    Partial total;
    for (const Partial& s : partial) {
      total.changed += s.changed;
      total.value_sq += s.value_sq;
      total.update_sq += s.update_sq;
    }
    TensorUpdate& out = (*updates)[ti];
    out.changed = total.changed;
    out.value_rms = std::sqrt(total.value_sq / static_cast<double>(t.size));
    out.update_rms = std::sqrt(total.update_sq / static_cast<double>(t.size));
  }
}

}  // namespace lockstep::trainer
