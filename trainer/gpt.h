// Gpt: a decoder-only transformer (GPT-2 shape), forward and backward written
// out by hand, llm.c style: one contiguous parameter buffer, one contiguous
// gradient buffer per sequence of the micro-batch, activations kept for the
// backward pass.
//
//   tokens (B,T) -> wte[token] + wpe[t]                         encoded (B,T,C)
//   L x  pre-norm block:
//        ln1 = norm(x)                                          (B,T,C)
//        qkv = ln1 . Wqkv + bqkv                                (B,T,3C)
//        atty = causal softmax(q k^T / sqrt(hs)) v, per head    (B,T,C)
//        x2 = x + atty . Wproj + bproj                          (B,T,C)
//        ln2 = norm(x2)
//        h = gelu(ln2 . Wfc + bfc)                              (B,T,4C)
//        x = x2 + h . Wfcproj + bfcproj                         (B,T,C)
//   lnf = norm(x); logits = lnf . wte^T (tied head)             (B,T,V)
//   loss = mean over tokens of -log softmax(logits)[target]
//
// norm is LayerNorm (weight, bias) or RMSNorm (weight). Weight matrices are
// stored [in, out] so that every product runs across contiguous outputs.
//
// Templated on the float type: float trains, double checks every gradient
// against finite differences in the tests.
#ifndef LOCKSTEP_TRAINER_GPT_H_
#define LOCKSTEP_TRAINER_GPT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/kernels.h"
#include "trainer/memory.h"
#include "trainer/tensor_trace.h"

namespace lockstep::trainer {

enum class Norm { kLayerNorm, kRmsNorm };

struct GptConfig {
  int vocab_size = 257;
  int seq_len = 64;  // T: positions, and tokens per sample
  int n_layer = 2;
  int n_embd = 64;
  int n_head = 4;
  Norm norm = Norm::kLayerNorm;
  float init_std = 0.02f;
};

// One named parameter tensor inside the flat buffer.
struct ParamTensor {
  std::string name;        // "h.0.qkvw", "wte", ...
  std::size_t offset = 0;  // into the flat buffer
  std::size_t size = 0;
  bool decay = false;  // AdamW weight decay applies (matrices and embeddings)
};

template <typename T>
class Gpt {
 public:
  // Up to `micro_batch` sequences of cfg.seq_len tokens per Forward.
  Gpt(const GptConfig& cfg, int micro_batch, Kernels<T>& kernels, MemoryTracker& tracker);

  // GPT-2 initialisation from the counter-based generator keyed by (seed,
  // "init/" + tensor name, element index): normal(0, init_std) for weights,
  // scaled by 1/sqrt(2 L) for the two residual projections; zero biases; unit
  // norm weights. Independent of threads and of allocation order.
  void Initialize(std::uint64_t seed);

  // Runs the model on `sequences` (1..micro_batch) samples of seq_len + 1
  // tokens each (inputs, then the targets shifted by one). Every sequence is
  // computed as if it were alone: its bits do not depend on the others, nor
  // on how many there are. Returns the sum of sequence_loss(s) in sequence
  // order.
  double Forward(const std::uint32_t* samples, int sequences);
  double Forward(const std::uint32_t* samples) { return Forward(samples, B_); }
  // The sum of sequence s's token losses, in token order, from the last Forward.
  double sequence_loss(int s) const { return sequence_losses_[static_cast<std::size_t>(s)]; }
  // The gradient of loss_scale * (sum of token losses) of each sequence of
  // the last Forward into grads(s): every sum over tokens that makes a
  // parameter gradient runs over one sequence's tokens. Overwrites them.
  // `first_slot`: the batch slot of sequence 0, for the trace's names only
  // ("h.1.fcb.grad[slot]").
  void Backward(T loss_scale, std::uint64_t first_slot = 0);

  T* params() { return params_.data(); }
  const T* params() const { return params_.data(); }
  T* grads(int sequence = 0) { return grads_[static_cast<std::size_t>(sequence)].data(); }
  // Sequence s's gradient buffer itself, for a reduction that takes it over
  // by swapping in another of the same size (Backward overwrites it whole).
  TrackedBuffer<T>& grad_buffer(int sequence) { return grads_[static_cast<std::size_t>(sequence)]; }
  int micro_batch() const { return B_; }
  std::size_t num_params() const { return params_.size(); }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  const GptConfig& config() const { return cfg_; }
  // The probabilities of the last Forward, (micro_batch, seq_len, vocab_size):
  // the softmax at every position, whatever the targets were. Backward
  // overwrites them with the gradient of the logits.
  const T* probs() const { return probs_.data(); }
  // Forward and Backward add every tensor they compute to `trace` (nullptr:
  // none), for `lockstep bisect steps`; the caller calls trace->Begin.
  void set_trace(TensorTrace* trace) { trace_ = trace; }

 private:
  struct Layer;  // pointers into the parameter or gradient buffer
  Layer LayerView(T* base, int l) const;
  std::size_t Offset(const std::string& name) const;
  // "h.<layer>.<what>" (layer >= 0) or "<what>" into the trace, if one is set.
  void Trace(int layer, const char* what, const T* x, std::size_t n);
  // "<what>[slot]": the gradient of each sequence of the last Forward, at `offset`.
  void TraceGrads(int layer, const char* what, std::size_t offset, std::size_t n);

  GptConfig cfg_;
  int B_;
  int sequences_ = 0;             // of the last Forward
  std::uint64_t first_slot_ = 0;  // of the last Backward
  Kernels<T>& kernels_;
  MemoryTracker& tracker_;
  std::vector<ParamTensor> tensors_;
  TrackedBuffer<T> params_;
  std::vector<TrackedBuffer<T>> grads_;  // one per sequence of the micro-batch
  TrackedBuffer<std::int32_t> inputs_, targets_;
  // Activations (forward) and their gradients (backward), llm.c layout.
  TrackedBuffer<T> encoded_, ln1_, ln1_mean_, ln1_rstd_, qkv_, atty_, att_, residual2_, ln2_,
      ln2_mean_, ln2_rstd_, fch_, fch_gelu_, residual3_, lnf_, lnf_mean_, lnf_rstd_, probs_,
      losses_;
  std::vector<double> sequence_losses_;
  TensorTrace* trace_ = nullptr;
  TrackedBuffer<T> d_residual_, d_residual2_, d_ln_, d_qkv_, d_atty_, d_fch_, d_attention_scratch_;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_GPT_H_
