#include "trainer/layers.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "core/test_hooks.h"
#include "trainer/elementwise.h"
#include "trainer/simd_clones.h"

namespace lockstep::trainer {
namespace {

template <typename T>
constexpr T kNormEps = T(1e-5);

template <typename T>
constexpr T kGeluScale = T(0.7978845608028654);  // sqrt(2 / pi)

}  // namespace

// ---- Normalisation: LayerNorm or RMSNorm over the last axis -----------------
// out (N,C), mean/rstd (N), inp (N,C), w/b (C). Sums run over c in order.
template <typename T>
void NormForward(ThreadPool& pool, Norm norm, T* out, T* mean, T* rstd, const T* inp, const T* w,
                 const T* b, std::size_t rows, std::size_t C) {
  pool.ParallelFor(rows, 8 * C, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      const T* x = inp + r * C;
      T* y = out + r * C;
      if (norm == Norm::kLayerNorm) {
        T m = 0;
        for (std::size_t i = 0; i < C; ++i) m += x[i];
        m = m / T(C);
        T v = 0;
        for (std::size_t i = 0; i < C; ++i) {
          T d = x[i] - m;
          v += d * d;
        }
        v = v / T(C);
        T s = T(1) / std::sqrt(v + kNormEps<T>);
        for (std::size_t i = 0; i < C; ++i) y[i] = (x[i] - m) * s * w[i] + b[i];
        mean[r] = m;
        rstd[r] = s;
      } else {
        T ms = 0;
        for (std::size_t i = 0; i < C; ++i) ms += x[i] * x[i];
        ms = ms / T(C);
        T s = T(1) / std::sqrt(ms + kNormEps<T>);
        for (std::size_t i = 0; i < C; ++i) y[i] = x[i] * s * w[i];
        mean[r] = 0;  // RMSNorm does not centre: xhat = (x - 0) * rstd below
        rstd[r] = s;
      }
    }
  });
}

// dinp (N,C) += d norm / d inp; dw, db (C) = sums over rows in row order.
template <typename T>
void NormBackward(ThreadPool& pool, Norm norm, T* dinp, T* dw, T* db, const T* dout, const T* inp,
                  const T* mean, const T* rstd, const T* w, std::size_t rows, std::size_t C) {
  pool.ParallelFor(rows, 12 * C, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      const T* x = inp + r * C;
      const T* dy = dout + r * C;
      T* dx = dinp + r * C;
      const T m = mean[r], s = rstd[r];
      T mean_wdy = 0, mean_wdy_xhat = 0;
      for (std::size_t i = 0; i < C; ++i) {
        T xhat = (x[i] - m) * s;
        T wdy = w[i] * dy[i];
        mean_wdy += wdy;
        mean_wdy_xhat += wdy * xhat;
      }
      mean_wdy = mean_wdy / T(C);
      mean_wdy_xhat = mean_wdy_xhat / T(C);
      if (norm == Norm::kRmsNorm) mean_wdy = 0;  // no mean was subtracted
      for (std::size_t i = 0; i < C; ++i) {
        T xhat = (x[i] - m) * s;
        dx[i] += (w[i] * dy[i] - mean_wdy - xhat * mean_wdy_xhat) * s;
      }
    }
  });
  pool.ParallelFor(C, 6 * rows, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      dw[i] = 0;
      if (norm == Norm::kLayerNorm) db[i] = 0;
    }
    for (std::size_t r = 0; r < rows; ++r) {
      const T* x = inp + r * C;
      const T* dy = dout + r * C;
      for (std::size_t i = begin; i < end; ++i) {
        dw[i] += dy[i] * ((x[i] - mean[r]) * rstd[r]);
        if (norm == Norm::kLayerNorm) db[i] += dy[i];
      }
    }
  });
}

// ---- Linear layers: out (N,OC) = inp (N,IC) . w (IC,OC) + bias (OC) ---------
template <typename T>
void LinearForward(Kernels<T>& k, T* out, const T* inp, const T* w, const T* bias, std::size_t rows,
                   std::size_t ic, std::size_t oc) {
  k.NN(inp, w, out, rows, ic, oc);
  k.pool().ParallelFor(rows, oc, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      for (std::size_t o = 0; o < oc; ++o) out[r * oc + o] += bias[o];
    }
  });
}

// dinp (N,IC) = dout . w^T; dw (IC,OC) = inp^T . dout; dbias (OC) = column
// sums of dout in row order. All three overwrite.
template <typename T>
void LinearBackward(Kernels<T>& k, T* dinp, T* dw, T* dbias, const T* dout, const T* inp,
                    const T* w, std::size_t rows, std::size_t ic, std::size_t oc) {
  LinearBackwardInput(k, dinp, dout, w, rows, ic, oc);
  LinearBackwardParams(k, dw, dbias, dout, inp, rows, ic, oc);
}

template <typename T>
void LinearBackwardInput(Kernels<T>& k, T* dinp, const T* dout, const T* w, std::size_t rows,
                         std::size_t ic, std::size_t oc) {
  k.NT(dout, w, dinp, rows, oc, ic);
}

template <typename T>
void LinearBackwardParams(Kernels<T>& k, T* dw, T* dbias, const T* dout, const T* inp,
                          std::size_t rows, std::size_t ic, std::size_t oc) {
  k.TN(inp, dout, dw, ic, rows, oc);
  const bool reverse = test_hooks::ReverseBiasGradient();  // the bisect tests' "kernel change"
  k.pool().ParallelFor(oc, rows, [&](std::size_t begin, std::size_t end) {
    for (std::size_t o = begin; o < end; ++o) dbias[o] = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t r = reverse ? rows - 1 - i : i;
      for (std::size_t o = begin; o < end; ++o) dbias[o] += dout[r * oc + o];
    }
  });
}

// ---- GELU, tanh approximation ------------------------------------------------
template <typename T>
void GeluForward(ThreadPool& pool, T* out, const T* inp, std::size_t n) {
  pool.ParallelFor(n, 30, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      T x = inp[i];
      T cube = T(0.044715) * x * x * x;
      out[i] = kGeluScale<T> * (x + cube);
    }
    TanhInPlace(out + begin, end - begin);
    for (std::size_t i = begin; i < end; ++i) out[i] = T(0.5) * inp[i] * (T(1) + out[i]);
  });
}

// d (n) holds dL/dout on entry and dL/dinp on return.
template <typename T>
void GeluBackwardInPlace(ThreadPool& pool, T* d, const T* inp, std::size_t n) {
  pool.ParallelFor(n, 40, [&](std::size_t begin, std::size_t end) {
    constexpr std::size_t kChunk = 1024;
    T th[kChunk];
    for (std::size_t c0 = begin; c0 < end; c0 += kChunk) {
      const std::size_t len = std::min(kChunk, end - c0);
      for (std::size_t j = 0; j < len; ++j) {
        T x = inp[c0 + j];
        T cube = T(0.044715) * x * x * x;
        th[j] = kGeluScale<T> * (x + cube);
      }
      TanhInPlace(th, len);
      for (std::size_t j = 0; j < len; ++j) {
        T x = inp[c0 + j];
        T sech2 = T(1) - th[j] * th[j];
        T local = T(0.5) * (T(1) + th[j]) +
                  x * T(0.5) * sech2 * kGeluScale<T> * (T(1) + T(3) * T(0.044715) * x * x);
        d[c0 + j] = local * d[c0 + j];
      }
    }
  });
}

// ---- Causal self-attention ---------------------------------------------------
// Per (b, h), K and V are first copied transposed, [hs, T], so that every
// dot product over the head dimension runs as "for i: for t2: s[t2] += q[i] *
// kT[i][t2]": one accumulator per t2, adding i = 0, 1, ... in order (the
// plain dot product's order), with the loop vectorised across t2.
namespace {

// A factor of a per-head product: rounded to bf16 under compute = bf16.
template <bool kBf16, typename T>
inline __attribute__((always_inline)) T Factor(T x) {
  if constexpr (kBf16) {
    return RoundToBf16(x);
  } else {
    return x;
  }
}

template <bool kBf16, typename T>
inline __attribute__((always_inline)) void AttentionForwardHead(T* out, T* att, const T* qkv,
                                                                std::size_t bh, std::size_t Tn,
                                                                std::size_t C, std::size_t NH,
                                                                T* scratch) {
  const std::size_t hs = C / NH, C3 = 3 * C;
  const T scale = T(1) / std::sqrt(T(hs));
  {
    const std::size_t b = bh / NH, h = bh % NH;
    T* kt = scratch + bh * AttentionScratchPerHead(Tn, hs);
    for (std::size_t t2 = 0; t2 < Tn; ++t2) {
      const T* key = qkv + b * Tn * C3 + t2 * C3 + C + h * hs;
      for (std::size_t i = 0; i < hs; ++i) kt[i * Tn + t2] = Factor<kBf16>(key[i]);
    }
    for (std::size_t t = 0; t < Tn; ++t) {
      const T* q = qkv + b * Tn * C3 + t * C3 + h * hs;
      T* row = att + (bh * Tn + t) * Tn;
      std::fill(row, row + Tn, T(0));
      for (std::size_t i = 0; i < hs; ++i) {
        const T qi = Factor<kBf16>(q[i]);
        const T* ki = kt + i * Tn;
        for (std::size_t t2 = 0; t2 <= t; ++t2) row[t2] += qi * ki[t2];
      }
      T maxv = -std::numeric_limits<T>::infinity();
      for (std::size_t t2 = 0; t2 <= t; ++t2) {
        row[t2] = row[t2] * scale;
        maxv = std::max(maxv, row[t2]);
      }
      for (std::size_t t2 = 0; t2 <= t; ++t2) row[t2] = row[t2] - maxv;
      ExpInPlace(row, t + 1);
      T sum = 0;
      for (std::size_t t2 = 0; t2 <= t; ++t2) sum += row[t2];
      const T inv = T(1) / sum;
      for (std::size_t t2 = 0; t2 <= t; ++t2) row[t2] = row[t2] * inv;
      T* y = out + b * Tn * C + t * C + h * hs;
      std::fill(y, y + hs, T(0));
      for (std::size_t t2 = 0; t2 <= t; ++t2) {
        const T* v = qkv + b * Tn * C3 + t2 * C3 + 2 * C + h * hs;
        const T a = Factor<kBf16>(row[t2]);
        for (std::size_t i = 0; i < hs; ++i) y[i] += a * Factor<kBf16>(v[i]);
      }
    }
  }
}

template <bool kBf16, typename T>
inline __attribute__((always_inline)) void AttentionBackwardHead(T* dqkv, T* scratch, const T* dout,
                                                                 const T* qkv, const T* att,
                                                                 std::size_t bh, std::size_t Tn,
                                                                 std::size_t C, std::size_t NH) {
  const std::size_t hs = C / NH, C3 = 3 * C;
  const T scale = T(1) / std::sqrt(T(hs));
  {
    const std::size_t b = bh / NH, h = bh % NH;
    T* vt = scratch + bh * AttentionScratchPerHead(Tn, hs);  // V transposed, [hs, T]
    T* datt = vt + hs * Tn;
    T* dpre = datt + Tn;
    for (std::size_t t2 = 0; t2 < Tn; ++t2) {
      const T* v = qkv + b * Tn * C3 + t2 * C3 + 2 * C + h * hs;
      for (std::size_t i = 0; i < hs; ++i) vt[i * Tn + t2] = Factor<kBf16>(v[i]);
    }
    for (std::size_t t = 0; t < Tn; ++t) {
      const T* row = att + (bh * Tn + t) * Tn;
      const T* dy = dout + b * Tn * C + t * C + h * hs;
      // y = sum_t2 att[t2] v[t2]: datt[t2] = v[t2] . dy, dv[t2] += att[t2] dy
      std::fill(datt, datt + t + 1, T(0));
      for (std::size_t i = 0; i < hs; ++i) {
        const T dyi = Factor<kBf16>(dy[i]);
        const T* vi = vt + i * Tn;
        for (std::size_t t2 = 0; t2 <= t; ++t2) datt[t2] += vi[t2] * dyi;
      }
      for (std::size_t t2 = 0; t2 <= t; ++t2) {
        T* dv = dqkv + b * Tn * C3 + t2 * C3 + 2 * C + h * hs;
        const T a = Factor<kBf16>(row[t2]);
        for (std::size_t i = 0; i < hs; ++i) dv[i] += a * Factor<kBf16>(dy[i]);
      }
      // softmax: dpre = att * (datt - sum(att * datt)), then the 1/sqrt(hs)
      T dot = 0;
      for (std::size_t t2 = 0; t2 <= t; ++t2) dot += row[t2] * datt[t2];
      for (std::size_t t2 = 0; t2 <= t; ++t2) dpre[t2] = row[t2] * (datt[t2] - dot) * scale;
      // pre = q . k
      const T* q = qkv + b * Tn * C3 + t * C3 + h * hs;
      T* dq = dqkv + b * Tn * C3 + t * C3 + h * hs;
      for (std::size_t t2 = 0; t2 <= t; ++t2) {
        const T* key = qkv + b * Tn * C3 + t2 * C3 + C + h * hs;
        T* dk = dqkv + b * Tn * C3 + t2 * C3 + C + h * hs;
        const T d = Factor<kBf16>(dpre[t2]);
        for (std::size_t i = 0; i < hs; ++i) {
          dq[i] += Factor<kBf16>(key[i]) * d;
          dk[i] += Factor<kBf16>(q[i]) * d;
        }
      }
    }
  }
}

// float heads compiled for several instruction sets (see kernels.cc: the
// clones differ in vector width only, never in one value's operations).
LOCKSTEP_SIMD_CLONES void AttentionForwardHeadF32(float* out, float* att, const float* qkv,
                                                  std::size_t bh, std::size_t Tn, std::size_t C,
                                                  std::size_t NH, float* scratch) {
  AttentionForwardHead<false>(out, att, qkv, bh, Tn, C, NH, scratch);
}
LOCKSTEP_SIMD_CLONES void AttentionBackwardHeadF32(float* dqkv, float* scratch, const float* dout,
                                                   const float* qkv, const float* att,
                                                   std::size_t bh, std::size_t Tn, std::size_t C,
                                                   std::size_t NH) {
  AttentionBackwardHead<false>(dqkv, scratch, dout, qkv, att, bh, Tn, C, NH);
}
LOCKSTEP_SIMD_CLONES void AttentionForwardHeadBf16(float* out, float* att, const float* qkv,
                                                   std::size_t bh, std::size_t Tn, std::size_t C,
                                                   std::size_t NH, float* scratch) {
  AttentionForwardHead<true>(out, att, qkv, bh, Tn, C, NH, scratch);
}
LOCKSTEP_SIMD_CLONES void AttentionBackwardHeadBf16(float* dqkv, float* scratch, const float* dout,
                                                    const float* qkv, const float* att,
                                                    std::size_t bh, std::size_t Tn, std::size_t C,
                                                    std::size_t NH) {
  AttentionBackwardHead<true>(dqkv, scratch, dout, qkv, att, bh, Tn, C, NH);
}
inline void ForwardHead(float* out, float* att, const float* qkv, std::size_t bh, std::size_t Tn,
                        std::size_t C, std::size_t NH, float* scratch, bool bf16) {
  if (bf16) {
    AttentionForwardHeadBf16(out, att, qkv, bh, Tn, C, NH, scratch);
  } else {
    AttentionForwardHeadF32(out, att, qkv, bh, Tn, C, NH, scratch);
  }
}
inline void ForwardHead(double* out, double* att, const double* qkv, std::size_t bh, std::size_t Tn,
                        std::size_t C, std::size_t NH, double* scratch, bool) {
  AttentionForwardHead<false>(out, att, qkv, bh, Tn, C, NH, scratch);
}
inline void BackwardHead(float* dqkv, float* scratch, const float* dout, const float* qkv,
                         const float* att, std::size_t bh, std::size_t Tn, std::size_t C,
                         std::size_t NH, bool bf16) {
  if (bf16) {
    AttentionBackwardHeadBf16(dqkv, scratch, dout, qkv, att, bh, Tn, C, NH);
  } else {
    AttentionBackwardHeadF32(dqkv, scratch, dout, qkv, att, bh, Tn, C, NH);
  }
}
inline void BackwardHead(double* dqkv, double* scratch, const double* dout, const double* qkv,
                         const double* att, std::size_t bh, std::size_t Tn, std::size_t C,
                         std::size_t NH, bool) {
  AttentionBackwardHead<false>(dqkv, scratch, dout, qkv, att, bh, Tn, C, NH);
}

// bf16 products are emulated for float only (double checks gradients).
template <typename T>
bool Bf16Products(Precision products) {
  if (products == Precision::kFp32) return false;
  if (!std::is_same_v<T, float>)
    throw std::invalid_argument("attention: bf16 products are for float only");
  return true;
}

}  // namespace

template <typename T>
void AttentionForward(ThreadPool& pool, T* out, T* att, const T* qkv, std::size_t B, std::size_t Tn,
                      std::size_t C, std::size_t NH, T* scratch, Precision products) {
  const bool bf16 = Bf16Products<T>(products);
  pool.ParallelFor(B * NH, 2 * Tn * Tn * (C / NH), [&](std::size_t begin, std::size_t end) {
    for (std::size_t bh = begin; bh < end; ++bh) {
      ForwardHead(out, att, qkv, bh, Tn, C, NH, scratch, bf16);
    }
  });
}

template <typename T>
void AttentionBackward(ThreadPool& pool, T* dqkv, T* scratch, const T* dout, const T* qkv,
                       const T* att, std::size_t B, std::size_t Tn, std::size_t C, std::size_t NH,
                       Precision products) {
  const bool bf16 = Bf16Products<T>(products);
  pool.ParallelFor(B * NH, 4 * Tn * Tn * (C / NH), [&](std::size_t begin, std::size_t end) {
    for (std::size_t bh = begin; bh < end; ++bh) {
      BackwardHead(dqkv, scratch, dout, qkv, att, bh, Tn, C, NH, bf16);
    }
  });
}

// ---- Embeddings ----------------------------------------------------------------
template <typename T>
void EncoderForward(ThreadPool& pool, T* out, const std::int32_t* tokens, const T* wte,
                    const T* wpe, std::size_t rows, std::size_t Tn, std::size_t C) {
  pool.ParallelFor(rows, C, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      const T* te = wte + static_cast<std::size_t>(tokens[r]) * C;
      const T* pe = wpe + (r % Tn) * C;
      for (std::size_t i = 0; i < C; ++i) out[r * C + i] = te[i] + pe[i];
    }
  });
}

template <typename T>
void EncoderBackward(ThreadPool& pool, T* dwte, T* dwpe, const T* dout, const std::int32_t* tokens,
                     std::size_t rows, std::size_t Tn, std::size_t C) {
  pool.ParallelFor(C, 2 * rows, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = 0; t < Tn; ++t) {
      for (std::size_t i = begin; i < end; ++i) dwpe[t * C + i] = 0;
    }
    for (std::size_t r = 0; r < rows; ++r) {
      T* te = dwte + static_cast<std::size_t>(tokens[r]) * C;
      T* pe = dwpe + (r % Tn) * C;
      for (std::size_t i = begin; i < end; ++i) {
        te[i] += dout[r * C + i];
        pe[i] += dout[r * C + i];
      }
    }
  });
}

// ---- Softmax and cross-entropy -------------------------------------------------
template <typename T>
void SoftmaxCrossEntropyForward(ThreadPool& pool, T* probs, T* losses, const std::int32_t* targets,
                                std::size_t rows, std::size_t V) {
  pool.ParallelFor(rows, 25 * V, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      T* row = probs + r * V;
      T maxv = -std::numeric_limits<T>::infinity();
      for (std::size_t v = 0; v < V; ++v) maxv = std::max(maxv, row[v]);
      for (std::size_t v = 0; v < V; ++v) row[v] = row[v] - maxv;
      ExpInPlace(row, V);
      T sum = 0;
      for (std::size_t v = 0; v < V; ++v) sum += row[v];
      const T inv = T(1) / sum;
      for (std::size_t v = 0; v < V; ++v) row[v] = row[v] * inv;
      losses[r] = -Log(row[targets[r]]);
    }
  });
}

template <typename T>
void SoftmaxCrossEntropyBackward(ThreadPool& pool, T* probs, const std::int32_t* targets,
                                 T loss_scale, std::size_t rows, std::size_t V) {
  pool.ParallelFor(rows, V, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      T* row = probs + r * V;
      row[targets[r]] -= T(1);
      for (std::size_t v = 0; v < V; ++v) row[v] = row[v] * loss_scale;
    }
  });
}

#define LOCKSTEP_INSTANTIATE_LAYERS(T)                                                        \
  template void NormForward<T>(ThreadPool&, Norm, T*, T*, T*, const T*, const T*, const T*,   \
                               std::size_t, std::size_t);                                     \
  template void NormBackward<T>(ThreadPool&, Norm, T*, T*, T*, const T*, const T*, const T*,  \
                                const T*, const T*, std::size_t, std::size_t);                \
  template void LinearForward<T>(Kernels<T>&, T*, const T*, const T*, const T*, std::size_t,  \
                                 std::size_t, std::size_t);                                   \
  template void LinearBackward<T>(Kernels<T>&, T*, T*, T*, const T*, const T*, const T*,      \
                                  std::size_t, std::size_t, std::size_t);                     \
  template void LinearBackwardInput<T>(Kernels<T>&, T*, const T*, const T*, std::size_t,      \
                                       std::size_t, std::size_t);                             \
  template void LinearBackwardParams<T>(Kernels<T>&, T*, T*, const T*, const T*, std::size_t, \
                                        std::size_t, std::size_t);                            \
  template void GeluForward<T>(ThreadPool&, T*, const T*, std::size_t);                       \
  template void GeluBackwardInPlace<T>(ThreadPool&, T*, const T*, std::size_t);               \
  template void AttentionForward<T>(ThreadPool&, T*, T*, const T*, std::size_t, std::size_t,  \
                                    std::size_t, std::size_t, T*, Precision);                 \
  template void AttentionBackward<T>(ThreadPool&, T*, T*, const T*, const T*, const T*,       \
                                     std::size_t, std::size_t, std::size_t, std::size_t,      \
                                     Precision);                                              \
  template void EncoderForward<T>(ThreadPool&, T*, const std::int32_t*, const T*, const T*,   \
                                  std::size_t, std::size_t, std::size_t);                     \
  template void EncoderBackward<T>(ThreadPool&, T*, T*, const T*, const std::int32_t*,        \
                                   std::size_t, std::size_t, std::size_t);                    \
  template void SoftmaxCrossEntropyForward<T>(ThreadPool&, T*, T*, const std::int32_t*,       \
                                              std::size_t, std::size_t);                      \
  template void SoftmaxCrossEntropyBackward<T>(ThreadPool&, T*, const std::int32_t*, T,       \
                                               std::size_t, std::size_t);

LOCKSTEP_INSTANTIATE_LAYERS(float)
LOCKSTEP_INSTANTIATE_LAYERS(double)

}  // namespace lockstep::trainer
