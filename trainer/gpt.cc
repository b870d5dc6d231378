#include "trainer/gpt.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/counter_rng.h"
#include "trainer/layers.h"

namespace lockstep::trainer {

// Shapes in the comments: B micro-batch, T sequence, C width, V vocab,
// NH heads, hs = C / NH head size, L layers, BT = B * T rows.

namespace {

// Irwin-Hall: the sum of 12 uniforms minus 6 has mean 0 and variance 1. Only
// integer draws and exact double sums: no transcendental function.
double StandardNormal(const CounterRng& rng, std::uint64_t index) {
  double sum = 0;
  for (std::uint64_t j = 0; j < 12; ++j) {
    sum += static_cast<double>(rng.Bits(index * 12 + j) >> 11) * 0x1p-53;
  }
  return sum - 6.0;
}

}  // namespace

template <typename T>
struct Gpt<T>::Layer {
  T *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
};

template <typename T>
Gpt<T>::Gpt(const GptConfig& cfg, int micro_batch, Kernels<T>& kernels, MemoryTracker& tracker)
    : cfg_(cfg), B_(micro_batch), kernels_(kernels), tracker_(tracker) {
  if (kernels.sequence_rows() != static_cast<std::size_t>(cfg.seq_len) &&
      kernels.profile() == Profile::kOpenBlas) {
    throw std::logic_error("Gpt: openblas kernels must group rows by sequence (seq_len)");
  }
  const std::size_t V = cfg.vocab_size, Tn = cfg.seq_len, C = cfg.n_embd, L = cfg.n_layer;
  const std::size_t NH = cfg.n_head, B = micro_batch, BT = B * Tn;
  const std::size_t bias_c = cfg.norm == Norm::kLayerNorm ? C : 0;
  std::size_t offset = 0;
  auto add = [&](std::string name, std::size_t size, bool decay) {
    tensors_.push_back({std::move(name), offset, size, decay});
    offset += size;
  };
  add("wte", V * C, true);
  add("wpe", Tn * C, true);
  for (std::size_t l = 0; l < L; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    add(p + "ln1w", C, false);
    add(p + "ln1b", bias_c, false);
    add(p + "qkvw", C * 3 * C, true);
    add(p + "qkvb", 3 * C, false);
    add(p + "attprojw", C * C, true);
    add(p + "attprojb", C, false);
    add(p + "ln2w", C, false);
    add(p + "ln2b", bias_c, false);
    add(p + "fcw", C * 4 * C, true);
    add(p + "fcb", 4 * C, false);
    add(p + "fcprojw", 4 * C * C, true);
    add(p + "fcprojb", C, false);
  }
  add("lnfw", C, false);
  add("lnfb", bias_c, false);
  params_ = TrackedBuffer<T>(tracker, offset);
  for (std::size_t s = 0; s < B; ++s) grads_.emplace_back(tracker, offset);
  sequence_losses_.assign(B, 0.0);

  inputs_ = TrackedBuffer<std::int32_t>(tracker, BT);
  targets_ = TrackedBuffer<std::int32_t>(tracker, BT);
  encoded_ = TrackedBuffer<T>(tracker, BT * C);
  ln1_ = TrackedBuffer<T>(tracker, L * BT * C);
  ln1_mean_ = TrackedBuffer<T>(tracker, L * BT);
  ln1_rstd_ = TrackedBuffer<T>(tracker, L * BT);
  qkv_ = TrackedBuffer<T>(tracker, L * BT * 3 * C);
  atty_ = TrackedBuffer<T>(tracker, L * BT * C);
  att_ = TrackedBuffer<T>(tracker, L * B * NH * Tn * Tn);
  residual2_ = TrackedBuffer<T>(tracker, L * BT * C);
  ln2_ = TrackedBuffer<T>(tracker, L * BT * C);
  ln2_mean_ = TrackedBuffer<T>(tracker, L * BT);
  ln2_rstd_ = TrackedBuffer<T>(tracker, L * BT);
  fch_ = TrackedBuffer<T>(tracker, L * BT * 4 * C);
  fch_gelu_ = TrackedBuffer<T>(tracker, L * BT * 4 * C);
  residual3_ = TrackedBuffer<T>(tracker, L * BT * C);
  lnf_ = TrackedBuffer<T>(tracker, BT * C);
  lnf_mean_ = TrackedBuffer<T>(tracker, BT);
  lnf_rstd_ = TrackedBuffer<T>(tracker, BT);
  probs_ = TrackedBuffer<T>(tracker, BT * V);
  losses_ = TrackedBuffer<T>(tracker, BT);

  d_residual_ = TrackedBuffer<T>(tracker, BT * C);
  d_residual2_ = TrackedBuffer<T>(tracker, BT * C);
  d_ln_ = TrackedBuffer<T>(tracker, BT * C);
  d_qkv_ = TrackedBuffer<T>(tracker, BT * 3 * C);
  d_atty_ = TrackedBuffer<T>(tracker, BT * C);
  d_fch_ = TrackedBuffer<T>(tracker, BT * 4 * C);
  d_attention_scratch_ = TrackedBuffer<T>(tracker, B * NH * AttentionScratchPerHead(Tn, C / NH));
}

template <typename T>
std::size_t Gpt<T>::Offset(const std::string& name) const {
  for (const ParamTensor& t : tensors_) {
    if (t.name == name) return t.offset;
  }
  throw std::logic_error("no parameter tensor " + name);
}

template <typename T>
typename Gpt<T>::Layer Gpt<T>::LayerView(T* base, int l) const {
  const std::string p = "h." + std::to_string(l) + ".";
  auto at = [&](const char* n) { return base + Offset(p + n); };
  return {at("ln1w"), at("ln1b"), at("qkvw"), at("qkvb"), at("attprojw"), at("attprojb"),
          at("ln2w"), at("ln2b"), at("fcw"),  at("fcb"),  at("fcprojw"),  at("fcprojb")};
}

template <typename T>
void Gpt<T>::Trace(int layer, const char* what, const T* x, std::size_t n) {
  if (trace_ == nullptr || n == 0) return;
  trace_->Add(layer < 0 ? std::string(what) : "h." + std::to_string(layer) + "." + what, x, n);
}

template <typename T>
void Gpt<T>::Initialize(std::uint64_t seed) {
  const double residual_scale = 1.0 / std::sqrt(2.0 * cfg_.n_layer);
  for (const ParamTensor& t : tensors_) {
    T* p = params_.data() + t.offset;
    const bool norm_weight =
        t.name.ends_with("ln1w") || t.name.ends_with("ln2w") || t.name == "lnfw";
    if (norm_weight) {
      std::fill(p, p + t.size, T(1));
    } else if (!t.decay) {
      std::fill(p, p + t.size, T(0));  // biases
    } else {
      const bool residual = t.name.ends_with("attprojw") || t.name.ends_with("fcprojw");
      const double std = cfg_.init_std * (residual ? residual_scale : 1.0);
      CounterRng rng(seed, "init/" + t.name);
      for (std::size_t i = 0; i < t.size; ++i) p[i] = static_cast<T>(std * StandardNormal(rng, i));
    }
  }
}

template <typename T>
double Gpt<T>::Forward(const std::uint32_t* samples, int sequences) {
  if (sequences < 1 || sequences > B_) {
    throw std::logic_error("Gpt::Forward: " + std::to_string(sequences) +
                           " sequences for a model of micro_batch " + std::to_string(B_));
  }
  sequences_ = sequences;
  const std::size_t V = cfg_.vocab_size, Tn = cfg_.seq_len, C = cfg_.n_embd, L = cfg_.n_layer;
  const std::size_t NH = cfg_.n_head, B = static_cast<std::size_t>(sequences), BT = B * Tn;
  const std::size_t rows = static_cast<std::size_t>(B_) * Tn;  // per layer, as allocated
  ThreadPool& pool = kernels_.pool();
  // Every product here is row by row: the kernels never let a block cross a
  // sequence (Kernels' sequence_rows), so a sequence's bits do not depend on
  // the others.
  auto linear = [&](T* out, const T* inp, const T* w, const T* bias, std::size_t ic,
                    std::size_t oc) { LinearForward(kernels_, out, inp, w, bias, BT, ic, oc); };
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t t = 0; t < Tn; ++t) {
      inputs_[b * Tn + t] = static_cast<std::int32_t>(samples[b * (Tn + 1) + t]);
      targets_[b * Tn + t] = static_cast<std::int32_t>(samples[b * (Tn + 1) + t + 1]);
    }
  }
  const T* wte = params_.data() + Offset("wte");
  const T* wpe = params_.data() + Offset("wpe");
  EncoderForward(pool, encoded_.data(), inputs_.data(), wte, wpe, BT, Tn, C);
  Trace(-1, "encoded", encoded_.data(), BT * C);
  const T* x = encoded_.data();
  for (std::size_t l = 0; l < L; ++l) {
    Layer w = LayerView(params_.data(), static_cast<int>(l));
    T* ln1 = ln1_.data() + l * rows * C;
    T* qkv = qkv_.data() + l * rows * 3 * C;
    T* atty = atty_.data() + l * rows * C;
    T* att = att_.data() + l * static_cast<std::size_t>(B_) * NH * Tn * Tn;
    T* res2 = residual2_.data() + l * rows * C;
    T* ln2 = ln2_.data() + l * rows * C;
    T* fch = fch_.data() + l * rows * 4 * C;
    T* fch_gelu = fch_gelu_.data() + l * rows * 4 * C;
    T* res3 = residual3_.data() + l * rows * C;
    NormForward(pool, cfg_.norm, ln1, ln1_mean_.data() + l * rows, ln1_rstd_.data() + l * rows, x,
                w.ln1w, w.ln1b, BT, C);
    const int li = static_cast<int>(l);
    Trace(li, "ln1", ln1, BT * C);
    linear(qkv, ln1, w.qkvw, w.qkvb, C, 3 * C);
    Trace(li, "qkv", qkv, BT * 3 * C);
    AttentionForward(pool, atty, att, qkv, B, Tn, C, NH, d_attention_scratch_.data(),
                     kernels_.compute());
    Trace(li, "atty", atty, BT * C);
    linear(res2, atty, w.attprojw, w.attprojb, C, C);
    Trace(li, "attproj", res2, BT * C);
    pool.ParallelFor(BT * C, 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) res2[i] = x[i] + res2[i];
    });
    Trace(li, "residual2", res2, BT * C);
    NormForward(pool, cfg_.norm, ln2, ln2_mean_.data() + l * rows, ln2_rstd_.data() + l * rows,
                res2, w.ln2w, w.ln2b, BT, C);
    Trace(li, "ln2", ln2, BT * C);
    linear(fch, ln2, w.fcw, w.fcb, C, 4 * C);
    Trace(li, "fch", fch, BT * 4 * C);
    GeluForward(pool, fch_gelu, fch, BT * 4 * C);
    Trace(li, "fch_gelu", fch_gelu, BT * 4 * C);
    linear(res3, fch_gelu, w.fcprojw, w.fcprojb, 4 * C, C);
    Trace(li, "fcproj", res3, BT * C);
    pool.ParallelFor(BT * C, 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) res3[i] = res2[i] + res3[i];
    });
    Trace(li, "residual3", res3, BT * C);
    x = res3;
  }
  NormForward(pool, cfg_.norm, lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), x,
              params_.data() + Offset("lnfw"), params_.data() + Offset("lnfb"), BT, C);
  Trace(-1, "lnf", lnf_.data(), BT * C);
  // logits (B,T,V) = lnf . wte^T, then softmax and cross-entropy per row.
  kernels_.NT(lnf_.data(), wte, probs_.data(), BT, C, V);
  Trace(-1, "logits", probs_.data(), BT * V);
  SoftmaxCrossEntropyForward(pool, probs_.data(), losses_.data(), targets_.data(), BT, V);
  Trace(-1, "probs", probs_.data(), BT * V);
  Trace(-1, "losses", losses_.data(), BT);
  double total = 0;
  for (std::size_t s = 0; s < B; ++s) {
    double sum = 0;
    for (std::size_t t = 0; t < Tn; ++t) sum += static_cast<double>(losses_[s * Tn + t]);
    sequence_losses_[s] = sum;
    total += sum;
  }
  return total;
}

template <typename T>
void Gpt<T>::TraceGrads(int layer, const char* what, std::size_t offset, std::size_t n) {
  if (trace_ == nullptr || n == 0) return;
  for (int s = 0; s < sequences_; ++s) {
    const std::uint64_t slot = first_slot_ + static_cast<std::uint64_t>(s);
    Trace(layer, (std::string(what) + "[" + std::to_string(slot) + "]").c_str(), grads(s) + offset,
          n);
  }
}

template <typename T>
void Gpt<T>::Backward(T loss_scale, std::uint64_t first_slot) {
  first_slot_ = first_slot;
  const std::size_t V = cfg_.vocab_size, Tn = cfg_.seq_len, C = cfg_.n_embd, L = cfg_.n_layer;
  const std::size_t NH = cfg_.n_head, B = static_cast<std::size_t>(sequences_), BT = B * Tn;
  const std::size_t rows = static_cast<std::size_t>(B_) * Tn;  // per layer, as allocated
  ThreadPool& pool = kernels_.pool();
  const T* wte = params_.data() + Offset("wte");
  const std::size_t wte_at = Offset("wte"), wpe_at = Offset("wpe");
  const std::size_t lnfw_at = Offset("lnfw"), lnfb_at = Offset("lnfb");
  // Row s * Tn .. of a (B,T,width) activation.
  auto seq = [Tn](auto* base, std::size_t s, std::size_t width) { return base + s * Tn * width; };
  SoftmaxCrossEntropyBackward(pool, probs_.data(), targets_.data(), loss_scale, BT, V);
  Trace(-1, "dlogits", probs_.data(), BT * V);
  // Per sequence dwte (V,C) = dlogits^T . lnf; for all, dlnf (B,T,C) = dlogits . wte.
  for (std::size_t s = 0; s < B; ++s) {
    T* g = grads(static_cast<int>(s));
    kernels_.TN(seq(probs_.data(), s, V), seq(lnf_.data(), s, C), g + wte_at, V, Tn, C);
  }
  kernels_.NN(probs_.data(), wte, d_ln_.data(), BT, V, C);
  TraceGrads(-1, "wte.grad(head)", wte_at, V * C);
  Trace(-1, "dlnf", d_ln_.data(), BT * C);
  const std::size_t norm_bias = cfg_.norm == Norm::kLayerNorm ? C : 0;
  const T* x_last = L > 0 ? residual3_.data() + (L - 1) * rows * C : encoded_.data();
  d_residual_.Zero();
  for (std::size_t s = 0; s < B; ++s) {
    T* g = grads(static_cast<int>(s));
    NormBackward(pool, cfg_.norm, seq(d_residual_.data(), s, C), g + lnfw_at, g + lnfb_at,
                 seq(d_ln_.data(), s, C), seq(x_last, s, C), seq(lnf_mean_.data(), s, 1),
                 seq(lnf_rstd_.data(), s, 1), params_.data() + lnfw_at, Tn, C);
  }
  TraceGrads(-1, "lnfw.grad", lnfw_at, C);
  TraceGrads(-1, "lnfb.grad", lnfb_at, norm_bias);
  Trace(-1, "dresidual", d_residual_.data(), BT * C);
  for (std::size_t l = L; l-- > 0;) {
    const int li = static_cast<int>(l);
    const std::string p = "h." + std::to_string(l) + ".";
    auto at = [&](const char* n) { return Offset(p + n); };
    Layer w = LayerView(params_.data(), li);
    const T* x_in = l == 0 ? encoded_.data() : residual3_.data() + (l - 1) * rows * C;
    const T* ln1 = ln1_.data() + l * rows * C;
    const T* qkv = qkv_.data() + l * rows * 3 * C;
    const T* atty = atty_.data() + l * rows * C;
    const T* att = att_.data() + l * static_cast<std::size_t>(B_) * NH * Tn * Tn;
    const T* res2 = residual2_.data() + l * rows * C;
    const T* ln2 = ln2_.data() + l * rows * C;
    const T* fch = fch_.data() + l * rows * 4 * C;
    const T* fch_gelu = fch_gelu_.data() + l * rows * 4 * C;
    const T* ln1_mean = ln1_mean_.data() + l * rows;
    const T* ln1_rstd = ln1_rstd_.data() + l * rows;
    const T* ln2_mean = ln2_mean_.data() + l * rows;
    const T* ln2_rstd = ln2_rstd_.data() + l * rows;
    // The input's gradient row by row for all sequences; the parameters'
    // per sequence: its rows of the activations, its own gradient buffer.
    auto linear = [&](T* dinp, const char* weight, const char* bias, const T* dout, const T* inp,
                      const T* wmat, std::size_t ic, std::size_t oc) {
      LinearBackwardInput(kernels_, dinp, dout, wmat, BT, ic, oc);
      for (std::size_t s = 0; s < B; ++s) {
        T* g = grads(static_cast<int>(s));
        LinearBackwardParams(kernels_, g + at(weight), g + at(bias), seq(dout, s, oc),
                             seq(inp, s, ic), Tn, ic, oc);
      }
    };
    auto norm = [&](T* dinp, const char* weight, const char* bias, const T* dout, const T* inp,
                    const T* mean, const T* rstd, const T* wvec) {
      for (std::size_t s = 0; s < B; ++s) {
        T* g = grads(static_cast<int>(s));
        NormBackward(pool, cfg_.norm, seq(dinp, s, C), g + at(weight), g + at(bias),
                     seq(dout, s, C), seq(inp, s, C), seq(mean, s, 1), seq(rstd, s, 1), wvec, Tn,
                     C);
      }
    };
    // d_residual holds dL/d residual3; the MLP branch and the skip both get it.
    std::copy(d_residual_.data(), d_residual_.data() + BT * C, d_residual2_.data());
    linear(d_fch_.data(), "fcprojw", "fcprojb", d_residual_.data(), fch_gelu, w.fcprojw, 4 * C, C);
    TraceGrads(li, "fcprojw.grad", at("fcprojw"), 4 * C * C);
    TraceGrads(li, "fcprojb.grad", at("fcprojb"), C);
    Trace(li, "dfch_gelu", d_fch_.data(), BT * 4 * C);
    GeluBackwardInPlace(pool, d_fch_.data(), fch, BT * 4 * C);
    Trace(li, "dfch", d_fch_.data(), BT * 4 * C);
    linear(d_ln_.data(), "fcw", "fcb", d_fch_.data(), ln2, w.fcw, C, 4 * C);
    TraceGrads(li, "fcw.grad", at("fcw"), C * 4 * C);
    TraceGrads(li, "fcb.grad", at("fcb"), 4 * C);
    Trace(li, "dln2", d_ln_.data(), BT * C);
    norm(d_residual2_.data(), "ln2w", "ln2b", d_ln_.data(), res2, ln2_mean, ln2_rstd, w.ln2w);
    TraceGrads(li, "ln2w.grad", at("ln2w"), C);
    TraceGrads(li, "ln2b.grad", at("ln2b"), norm_bias);
    Trace(li, "dresidual2", d_residual2_.data(), BT * C);
    // d_residual2 holds dL/d residual2; the attention branch and the skip get it.
    std::copy(d_residual2_.data(), d_residual2_.data() + BT * C, d_residual_.data());
    linear(d_atty_.data(), "attprojw", "attprojb", d_residual2_.data(), atty, w.attprojw, C, C);
    TraceGrads(li, "attprojw.grad", at("attprojw"), C * C);
    TraceGrads(li, "attprojb.grad", at("attprojb"), C);
    Trace(li, "datty", d_atty_.data(), BT * C);
    d_qkv_.Zero();
    AttentionBackward(pool, d_qkv_.data(), d_attention_scratch_.data(), d_atty_.data(), qkv, att, B,
                      Tn, C, NH, kernels_.compute());
    Trace(li, "dqkv", d_qkv_.data(), BT * 3 * C);
    linear(d_ln_.data(), "qkvw", "qkvb", d_qkv_.data(), ln1, w.qkvw, C, 3 * C);
    TraceGrads(li, "qkvw.grad", at("qkvw"), C * 3 * C);
    TraceGrads(li, "qkvb.grad", at("qkvb"), 3 * C);
    Trace(li, "dln1", d_ln_.data(), BT * C);
    norm(d_residual_.data(), "ln1w", "ln1b", d_ln_.data(), x_in, ln1_mean, ln1_rstd, w.ln1w);
    TraceGrads(li, "ln1w.grad", at("ln1w"), C);
    TraceGrads(li, "ln1b.grad", at("ln1b"), norm_bias);
    Trace(li, "dresidual", d_residual_.data(), BT * C);
  }
  // The tied embedding: each sequence's dwte already holds its head's gradient.
  for (std::size_t s = 0; s < B; ++s) {
    T* g = grads(static_cast<int>(s));
    EncoderBackward(pool, g + wte_at, g + wpe_at, seq(d_residual_.data(), s, C),
                    seq(inputs_.data(), s, 1), Tn, Tn, C);
  }
  TraceGrads(-1, "wpe.grad", wpe_at, Tn * C);
  TraceGrads(-1, "wte.grad", wte_at, V * C);
}

template class Gpt<float>;
template class Gpt<double>;

}  // namespace lockstep::trainer
