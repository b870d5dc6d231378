// Every layer's backward against central finite differences, in double.
// The probe: L = sum(out * R) for a fixed random R, so dL/dout = R.
#include "trainer/layers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/counter_rng.h"

namespace lockstep::trainer {
namespace {

using Vec = std::vector<double>;

Vec Random(std::size_t n, std::uint64_t salt, double scale = 1.0) {
  CounterRng rng(salt, "test/layers");
  Vec v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = scale * (static_cast<double>(rng.Below(i, 20001)) / 10000.0 - 1.0);
  return v;
}

double Dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Checks `analytic` against d loss / d x by central differences, perturbing
// every element of x in place.
void ExpectGradient(const char* what, Vec& x, const Vec& analytic,
                    const std::function<double()>& loss) {
  ASSERT_EQ(x.size(), analytic.size());
  const double h = 1e-6;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = loss();
    x[i] = saved - h;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(analytic[i], numeric, 1e-6 * (1 + std::abs(numeric))) << what << "[" << i << "]";
  }
}

class LayersTest : public ::testing::Test {
 protected:
  MemoryTracker tracker_;
  ThreadPool pool_{2};
  Kernels<double> kernels_{pool_, Profile::kPortable, tracker_};
};

TEST_F(LayersTest, NormBackwardMatchesFiniteDifferences) {
  const std::size_t N = 3, C = 7;
  for (Norm norm : {Norm::kLayerNorm, Norm::kRmsNorm}) {
    Vec inp = Random(N * C, 1), w = Random(C, 2), b = Random(C, 3), r = Random(N * C, 4);
    Vec out(N * C), mean(N), rstd(N);
    auto loss = [&] {
      NormForward(pool_, norm, out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(),
                  N, C);
      return Dot(out, r);
    };
    loss();
    Vec dinp(N * C, 0.0), dw(C), db(C);
    NormBackward(pool_, norm, dinp.data(), dw.data(), db.data(), r.data(), inp.data(), mean.data(),
                 rstd.data(), w.data(), N, C);
    ExpectGradient("dinp", inp, dinp, loss);
    ExpectGradient("dw", w, dw, loss);
    if (norm == Norm::kLayerNorm) ExpectGradient("db", b, db, loss);
  }
}

TEST_F(LayersTest, LinearBackwardMatchesFiniteDifferences) {
  const std::size_t N = 5, IC = 6, OC = 9;
  Vec inp = Random(N * IC, 5), w = Random(IC * OC, 6), bias = Random(OC, 7), r = Random(N * OC, 8);
  Vec out(N * OC);
  auto loss = [&] {
    LinearForward(kernels_, out.data(), inp.data(), w.data(), bias.data(), N, IC, OC);
    return Dot(out, r);
  };
  loss();
  Vec dinp(N * IC), dw(IC * OC), dbias(OC);
  LinearBackward(kernels_, dinp.data(), dw.data(), dbias.data(), r.data(), inp.data(), w.data(), N,
                 IC, OC);
  ExpectGradient("dinp", inp, dinp, loss);
  ExpectGradient("dw", w, dw, loss);
  ExpectGradient("dbias", bias, dbias, loss);
}

TEST_F(LayersTest, GeluBackwardMatchesFiniteDifferences) {
  Vec inp = Random(40, 9, 4.0), r = Random(40, 10), out(40);
  auto loss = [&] {
    GeluForward(pool_, out.data(), inp.data(), inp.size());
    return Dot(out, r);
  };
  Vec d = r;
  GeluBackwardInPlace(pool_, d.data(), inp.data(), inp.size());
  ExpectGradient("dinp", inp, d, loss);
}

TEST_F(LayersTest, AttentionBackwardMatchesFiniteDifferences) {
  const std::size_t B = 2, T = 4, C = 6, NH = 2;
  Vec qkv = Random(B * T * 3 * C, 11), r = Random(B * T * C, 12);
  Vec out(B * T * C), att(B * NH * T * T), scratch(B * NH * AttentionScratchPerHead(T, C / NH));
  auto loss = [&] {
    AttentionForward(pool_, out.data(), att.data(), qkv.data(), B, T, C, NH, scratch.data());
    return Dot(out, r);
  };
  loss();
  Vec dqkv(qkv.size(), 0.0);
  AttentionBackward(pool_, dqkv.data(), scratch.data(), r.data(), qkv.data(), att.data(), B, T, C,
                    NH);
  ExpectGradient("dqkv", qkv, dqkv, loss);
}

TEST_F(LayersTest, AttentionIsCausal) {
  // Changing a later position's key or value leaves earlier outputs alone.
  const std::size_t B = 1, T = 5, C = 4, NH = 1;
  Vec qkv = Random(T * 3 * C, 13), out(T * C), att(T * T), out2(T * C);
  Vec scratch(AttentionScratchPerHead(T, C));
  AttentionForward(pool_, out.data(), att.data(), qkv.data(), B, T, C, NH, scratch.data());
  for (std::size_t i = 0; i < 3 * C; ++i) qkv[4 * 3 * C + i] += 1.0;
  AttentionForward(pool_, out2.data(), att.data(), qkv.data(), B, T, C, NH, scratch.data());
  for (std::size_t i = 0; i < 4 * C; ++i) EXPECT_EQ(out[i], out2[i]);
  EXPECT_NE(out[4 * C], out2[4 * C]);
}

TEST_F(LayersTest, EncoderBackwardMatchesFiniteDifferences) {
  const std::size_t V = 5, T = 3, C = 4, rows = 6;
  std::vector<std::int32_t> tokens = {1, 3, 1, 4, 0, 1};  // token 1 three times: accumulation
  Vec wte = Random(V * C, 14), wpe = Random(T * C, 15), r = Random(rows * C, 16), out(rows * C);
  auto loss = [&] {
    EncoderForward(pool_, out.data(), tokens.data(), wte.data(), wpe.data(), rows, T, C);
    return Dot(out, r);
  };
  Vec dwte(V * C, 0.0), dwpe(T * C);
  EncoderBackward(pool_, dwte.data(), dwpe.data(), r.data(), tokens.data(), rows, T, C);
  ExpectGradient("dwte", wte, dwte, loss);
  ExpectGradient("dwpe", wpe, dwpe, loss);
}

TEST_F(LayersTest, SoftmaxCrossEntropyBackwardMatchesFiniteDifferences) {
  const std::size_t N = 4, V = 7;
  std::vector<std::int32_t> targets = {0, 6, 3, 3};
  Vec logits = Random(N * V, 17, 3.0), probs(N * V), losses(N);
  const double scale = 0.25;
  auto loss = [&] {
    probs = logits;
    SoftmaxCrossEntropyForward(pool_, probs.data(), losses.data(), targets.data(), N, V);
    double s = 0;
    for (double l : losses) s += l;
    return s * scale;
  };
  loss();
  Vec d = probs;
  SoftmaxCrossEntropyBackward(pool_, d.data(), targets.data(), scale, N, V);
  ExpectGradient("dlogits", logits, d, loss);
  // The forward is a real cross-entropy: uniform logits give log(V).
  Vec flat(V, 0.5), fl(1);
  std::int32_t t = 2;
  SoftmaxCrossEntropyForward(pool_, flat.data(), fl.data(), &t, 1, V);
  EXPECT_NEAR(fl[0], std::log(static_cast<double>(V)), 1e-12);
}

}  // namespace
}  // namespace lockstep::trainer
