// The layers of the GPT, each forward beside its backward, shapes in the
// comments (N rows, C channels, B batch, T positions, NH heads, hs = C / NH).
//
// Determinism contract of every function here: each output element is
// written by one thread, with its operations in a fixed order that the
// comment states; sums over rows (weight and bias gradients) run over rows in
// index order. So results never depend on the thread count.
#ifndef LOCKSTEP_TRAINER_LAYERS_H_
#define LOCKSTEP_TRAINER_LAYERS_H_

#include <cstddef>
#include <cstdint>

#include "trainer/gpt.h"
#include "trainer/kernels.h"
#include "trainer/thread_pool.h"

namespace lockstep::trainer {

// out (N,C) = norm(inp (N,C)) * w + b; mean, rstd (N) kept for the backward.
// LayerNorm: mean and variance summed over c in order; RMSNorm: mean of
// squares over c in order, mean = 0, b unused.
template <typename T>
void NormForward(ThreadPool& pool, Norm norm, T* out, T* mean, T* rstd, const T* inp, const T* w,
                 const T* b, std::size_t rows, std::size_t C);
// dinp (N,C) += d/dinp; dw, db (C) = sums over rows in row order (overwritten).
template <typename T>
void NormBackward(ThreadPool& pool, Norm norm, T* dinp, T* dw, T* db, const T* dout, const T* inp,
                  const T* mean, const T* rstd, const T* w, std::size_t rows, std::size_t C);

// out (N,OC) = inp (N,IC) . w (IC,OC) + bias (OC).
template <typename T>
void LinearForward(Kernels<T>& k, T* out, const T* inp, const T* w, const T* bias, std::size_t rows,
                   std::size_t ic, std::size_t oc);
// dinp (N,IC) = dout . w^T; dw (IC,OC) = inp^T . dout; dbias (OC) = column
// sums of dout in row order. All three overwritten.
template <typename T>
void LinearBackward(Kernels<T>& k, T* dinp, T* dw, T* dbias, const T* dout, const T* inp,
                    const T* w, std::size_t rows, std::size_t ic, std::size_t oc);
// The two halves of LinearBackward: the input's gradient (row by row: any
// number of sequences at once), and the parameters' (a sum over the rows:
// called per sequence, each sequence a leaf of the reduction tree).
template <typename T>
void LinearBackwardInput(Kernels<T>& k, T* dinp, const T* dout, const T* w, std::size_t rows,
                         std::size_t ic, std::size_t oc);
template <typename T>
void LinearBackwardParams(Kernels<T>& k, T* dw, T* dbias, const T* dout, const T* inp,
                          std::size_t rows, std::size_t ic, std::size_t oc);

// out (n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's GELU.
template <typename T>
void GeluForward(ThreadPool& pool, T* out, const T* inp, std::size_t n);
// d (n): dL/dout on entry, dL/dinp on return.
template <typename T>
void GeluBackwardInPlace(ThreadPool& pool, T* d, const T* inp, std::size_t n);

// Causal self-attention. qkv (B,T,3C) = [q | k | v]; out (B,T,C);
// att (B,NH,T,T) the softmax weights, kept for the backward. Every dot
// product over the head dimension adds i = 0, 1, ... in order.
// scratch: B * NH * AttentionScratchPerHead(T, hs) values, both directions.
// products = kBf16 (numerics.compute, float only) rounds both factors of
// every product of the per-head matrix products to bf16, as Kernels does
// for GEMMs: q.k and probs.v forward; dy.v, probs.dy, dpre.k and dpre.q
// backward. The softmax and its gradient stay fp32, and att keeps the fp32
// probabilities.
inline std::size_t AttentionScratchPerHead(std::size_t Tn, std::size_t hs) {
  return hs * Tn + 2 * Tn;
}
template <typename T>
void AttentionForward(ThreadPool& pool, T* out, T* att, const T* qkv, std::size_t B, std::size_t Tn,
                      std::size_t C, std::size_t NH, T* scratch,
                      Precision products = Precision::kFp32);
// dqkv (B,T,3C) must be zero on entry.
template <typename T>
void AttentionBackward(ThreadPool& pool, T* dqkv, T* scratch, const T* dout, const T* qkv,
                       const T* att, std::size_t B, std::size_t Tn, std::size_t C, std::size_t NH,
                       Precision products = Precision::kFp32);

// out (N,C) = wte[tokens[r]] + wpe[r % T].
template <typename T>
void EncoderForward(ThreadPool& pool, T* out, const std::int32_t* tokens, const T* wte,
                    const T* wpe, std::size_t rows, std::size_t Tn, std::size_t C);
// dwte[tokens[r]] += dout[r] over rows in order (dwte is accumulated: the
// tied head wrote it first); dwpe (T,C) = sum over rows with that position,
// in row order (overwritten).
template <typename T>
void EncoderBackward(ThreadPool& pool, T* dwte, T* dwpe, const T* dout, const std::int32_t* tokens,
                     std::size_t rows, std::size_t Tn, std::size_t C);

// probs (N,V): logits on entry, softmax on return (max, then exp and sum over
// v in order); losses (N) = -log probs[target].
template <typename T>
void SoftmaxCrossEntropyForward(ThreadPool& pool, T* probs, T* losses, const std::int32_t* targets,
                                std::size_t rows, std::size_t V);
// probs (N,V) becomes dlogits = (probs - onehot(target)) * loss_scale.
template <typename T>
void SoftmaxCrossEntropyBackward(ThreadPool& pool, T* probs, const std::int32_t* targets,
                                 T loss_scale, std::size_t rows, std::size_t V);

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_LAYERS_H_
