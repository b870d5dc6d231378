#include "trainer/gpt.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

namespace lockstep::trainer {
namespace {

GptConfig Tiny(Norm norm) {
  GptConfig c;
  c.vocab_size = 11;
  c.seq_len = 5;
  c.n_layer = 2;
  c.n_embd = 8;
  c.n_head = 2;
  c.norm = norm;
  c.init_std = 0.3f;  // large enough that every path carries gradient
  return c;
}

std::vector<std::uint32_t> Samples(int batch, int seq_len) {
  std::vector<std::uint32_t> s(static_cast<std::size_t>(batch) * (seq_len + 1));
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint32_t>((i * 7 + 3) % 11);
  return s;
}

// The whole model's backward against central finite differences in double,
// for every parameter, with both norms.
TEST(GptTest, WholeModelGradientMatchesFiniteDifferences) {
  for (Norm norm : {Norm::kLayerNorm, Norm::kRmsNorm}) {
    MemoryTracker tracker;
    ThreadPool pool(2);
    Kernels<double> kernels(pool, Profile::kPortable, tracker);
    const GptConfig cfg = Tiny(norm);
    Gpt<double> model(cfg, 2, kernels, tracker);
    model.Initialize(7);
    auto samples = Samples(2, cfg.seq_len);
    const double scale = 1.0 / (2 * cfg.seq_len);
    model.Forward(samples.data());
    model.Backward(scale);
    // Each sequence's own gradient against the differences of its own loss.
    const std::vector<double> analytic[2] = {{model.grads(0), model.grads(0) + model.num_params()},
                                             {model.grads(1), model.grads(1) + model.num_params()}};
    const double h = 1e-6;
    double worst = 0;
    for (std::size_t i = 0; i < model.num_params(); ++i) {
      const double saved = model.params()[i];
      model.params()[i] = saved + h;
      model.Forward(samples.data());
      const double up[2] = {model.sequence_loss(0) * scale, model.sequence_loss(1) * scale};
      model.params()[i] = saved - h;
      model.Forward(samples.data());
      const double down[2] = {model.sequence_loss(0) * scale, model.sequence_loss(1) * scale};
      model.params()[i] = saved;
      for (int s = 0; s < 2; ++s) {
        const double numeric = (up[s] - down[s]) / (2 * h);
        // Central differences carry about eps / h = 1e-10 of rounding noise.
        const double err = std::abs(analytic[s][i] - numeric);
        worst = std::max(worst, err);
        ASSERT_LE(err, 1e-5 * std::abs(numeric) + 1e-8)
            << "parameter " << i << " sequence " << s << " analytic " << analytic[s][i]
            << " numeric " << numeric;
      }
    }
    EXPECT_LT(worst, 1e-8);
  }
}

// A sequence's loss and gradient are the same bits whatever else is in its
// micro-batch and however large the micro-batch is, in both profiles.
TEST(GptTest, ASequencesBitsDoNotDependOnTheMicroBatch) {
  for (Profile profile : {Profile::kPortable, Profile::kOpenBlas}) {
    SCOPED_TRACE(ProfileName(profile));
    MemoryTracker tracker;
    ThreadPool pool(3);
    const GptConfig cfg = Tiny(Norm::kLayerNorm);
    Kernels<float> kernels(pool, profile, tracker, Precision::kFp32,
                           static_cast<std::size_t>(cfg.seq_len));
    Gpt<float> alone(cfg, 1, kernels, tracker), among(cfg, 3, kernels, tracker);
    alone.Initialize(3);
    among.Initialize(3);
    const auto three = Samples(3, cfg.seq_len);
    const std::size_t width = static_cast<std::size_t>(cfg.seq_len) + 1;
    alone.Forward(three.data() + width, 1);  // the middle sequence on its own
    alone.Backward(0.25f);
    for (int count : {2, 3}) {
      among.Forward(three.data(), count);
      among.Backward(0.25f);
      EXPECT_EQ(std::bit_cast<std::uint64_t>(alone.sequence_loss(0)),
                std::bit_cast<std::uint64_t>(among.sequence_loss(1)));
      EXPECT_EQ(std::memcmp(alone.grads(0), among.grads(1), alone.num_params() * sizeof(float)), 0)
          << count << " sequences";
    }
  }
}

TEST(GptTest, FreshModelLossIsNearLogVocab) {
  MemoryTracker tracker;
  ThreadPool pool(1);
  Kernels<float> kernels(pool, Profile::kPortable, tracker);
  GptConfig cfg = Tiny(Norm::kLayerNorm);
  cfg.init_std = 0.02f;
  Gpt<float> model(cfg, 2, kernels, tracker);
  model.Initialize(1);
  auto samples = Samples(2, cfg.seq_len);
  const double mean_loss = model.Forward(samples.data()) / (2 * cfg.seq_len);
  EXPECT_NEAR(mean_loss, std::log(11.0), 0.05);
}

TEST(GptTest, InitializationDependsOnSeedOnly) {
  MemoryTracker tracker;
  ThreadPool one(1), three(3);
  Kernels<float> k1(one, Profile::kPortable, tracker), k3(three, Profile::kPortable, tracker);
  GptConfig cfg = Tiny(Norm::kLayerNorm);
  Gpt<float> a(cfg, 1, k1, tracker), b(cfg, 4, k3, tracker), c(cfg, 1, k1, tracker);
  a.Initialize(5);
  b.Initialize(5);
  c.Initialize(6);
  ASSERT_EQ(a.num_params(), b.num_params());
  EXPECT_TRUE(std::equal(a.params(), a.params() + a.num_params(), b.params()));
  EXPECT_FALSE(std::equal(a.params(), a.params() + a.num_params(), c.params()));
  // GPT-2 init: weights ~ N(0, 0.3) here; check the sample std of wte.
  double sum = 0, sq = 0;
  const std::size_t n = 11 * 8;
  for (std::size_t i = 0; i < n; ++i) {
    sum += a.params()[i];
    sq += double(a.params()[i]) * a.params()[i];
  }
  EXPECT_NEAR(std::sqrt(sq / n - (sum / n) * (sum / n)), 0.3, 0.08);
}

}  // namespace
}  // namespace lockstep::trainer
