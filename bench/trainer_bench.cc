// Trainer throughput: sgemm and the portable GEMM on the bench model's
// shapes, and whole training steps of trainer/configs/bench.toml in both
// profiles. Figures and commands: bench/README.md.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/counter_rng.h"
#include "trainer/env_fingerprint.h"
#include "trainer/gemm.h"
#include "trainer/kernels.h"
#include "trainer/trainer.h"

namespace lockstep::trainer {
namespace {

std::vector<float> Random(std::size_t n) {
  CounterRng rng(3, "bench/gemm");
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(rng.Below(i, 2001)) / 1000.0f - 1.0f;
  return v;
}

// The MLP's first product of the bench model: (B*T = 1024, C = 256) x (256, 1024).
constexpr std::size_t kM = 1024, kK = 256, kN = 1024;

// OpenBLAS's own peak on this shape, with its own threads (the ceiling our
// single-threaded-per-block use of it is measured against).
void BM_SgemmOpenBlasPeak(benchmark::State& state) {
  openblas_set_num_threads(static_cast<int>(state.range(0)));
  auto a = Random(kM * kK), b = Random(kK * kN);
  std::vector<float> c(kM * kN);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kM, kN, kK, 1.0f, a.data(), kK, b.data(),
                kN, 0.0f, c.data(), kN);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kM * kN * kK * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  openblas_set_num_threads(1);
}
BENCHMARK(BM_SgemmOpenBlasPeak)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// Arg 0 of the GEMM benchmarks: 0 = openblas, 1 + Isa = portable on that
// path. False (the benchmark skipped) when this CPU does not run the path.
bool PickCodePath(benchmark::State& state, Profile* profile, Isa* isa) {
  openblas_set_num_threads(1);
  *profile = state.range(0) == 0 ? Profile::kOpenBlas : Profile::kPortable;
  *isa = *profile == Profile::kPortable ? static_cast<Isa>(state.range(0) - 1) : WidestIsa();
  const std::vector<Isa> runnable = RunnableIsas();
  if (std::find(runnable.begin(), runnable.end(), *isa) != runnable.end()) return true;
  state.SkipWithError("this CPU does not run that code path");
  return false;
}

// lockstep's Kernels::NN in each profile and thread count; the portable
// profile on each of its code paths this CPU runs (arg 0: 0 = openblas,
// 1 + Isa = portable on that path).
void BM_KernelsNN(benchmark::State& state) {
  Profile profile;
  Isa isa;
  if (!PickCodePath(state, &profile, &isa)) return;
  ThreadPool pool(static_cast<int>(state.range(1)));
  MemoryTracker tracker;
  Kernels<float> k(pool, profile, tracker, Precision::kFp32, 0, isa);
  auto a = Random(kM * kK), b = Random(kK * kN);
  std::vector<float> c(kM * kN);
  for (auto _ : state) {
    k.NN(a.data(), b.data(), c.data(), kM, kK, kN);
    benchmark::DoNotOptimize(c.data());
  }
  state.SetLabel(profile == Profile::kPortable
                     ? std::string("portable ") + IsaName(isa)
                     : std::string("openblas ") + CollectEnvFingerprint().blas_core);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kM * kN * kK * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
}
BENCHMARK(BM_KernelsNN)
    ->ArgsProduct({{0, 1 + int(Isa::kScalar), 1 + int(Isa::kAvx2), 1 + int(Isa::kAvx512),
                    1 + int(Isa::kNeon)},
                   {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Every matrix product of one training step of the bench model, called as
// trainer/gpt.cc calls them (shapes, transposes, per-sequence weight
// gradients), in each profile; arg 0 as in BM_KernelsNN. GFLOP/s here against
// BM_KernelsNN's shows what the model's shapes cost beyond the square-ish one.
void BM_StepGemms(benchmark::State& state) {
  Profile profile;
  Isa isa;
  if (!PickCodePath(state, &profile, &isa)) return;
  constexpr std::size_t B = 4, T = 256, BT = B * T, C = 256, V = 8192, L = 4;
  ThreadPool pool(static_cast<int>(state.range(1)));
  MemoryTracker tracker;
  Kernels<float> k(pool, profile, tracker, Precision::kFp32, T, isa);
  auto inp = Random(BT * 4 * C), w = Random(4 * C * C), wte = Random(V * C);
  std::vector<float> out(BT * 4 * C), logits(BT * V), grad(V * C);
  const std::size_t widths[][2] = {{C, 3 * C}, {C, C}, {C, 4 * C}, {4 * C, C}};  // (ic, oc)
  double flops = 0;
  for (auto _ : state) {
    flops = 0;
    for (std::size_t l = 0; l < L; ++l) {
      for (const auto& [ic, oc] : widths) {
        k.NN(inp.data(), w.data(), out.data(), BT, ic, oc);  // forward
        k.NT(inp.data(), w.data(), out.data(), BT, oc, ic);  // input gradient
        for (std::size_t s = 0; s < B; ++s)                  // weight gradient per sequence
          k.TN(inp.data() + s * T * ic, inp.data() + s * T * oc, grad.data(), ic, T, oc);
        flops += 3 * 2.0 * BT * ic * oc;
      }
    }
    k.NT(inp.data(), wte.data(), logits.data(), BT, C, V);  // the head, tied to wte
    for (std::size_t s = 0; s < B; ++s)
      k.TN(logits.data() + s * T * V, inp.data() + s * T * C, grad.data(), V, T, C);
    k.NN(logits.data(), wte.data(), out.data(), BT, V, C);
    flops += 3 * 2.0 * BT * C * V;
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(grad.data());
  }
  state.SetLabel(profile == Profile::kPortable
                     ? std::string("portable ") + IsaName(isa)
                     : std::string("openblas ") + CollectEnvFingerprint().blas_core);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * state.iterations(), benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_StepGemms)
    ->ArgsProduct({{0, 1 + int(Isa::kAvx2), 1 + int(Isa::kAvx512), 1 + int(Isa::kNeon)}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Whole training steps of trainer/configs/bench.toml: tokens per second.
void BM_TrainStep(benchmark::State& state) {
  const std::string profile = state.range(0) == 0 ? "portable" : "openblas";
  const int steps = 3;
  Result<TrainConfig> config = LoadTrainConfig(
      LOCKSTEP_SOURCE_DIR "/trainer/configs/bench.toml",
      {"numerics.profile=" + profile, "numerics.threads=" + std::to_string(state.range(1)),
       "train.steps=" + std::to_string(steps)});
  if (!config.ok()) {
    state.SkipWithError(config.status().message().c_str());
    return;
  }
  for (auto _ : state) {
    Status st = Train(*config, {}, nullptr);
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
  state.SetLabel(profile);
  state.counters["tokens/s"] = benchmark::Counter(
      static_cast<double>(config->global_batch) * 256 * steps * state.iterations(),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TrainStep)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// What the health features cost on the smoke config (50 steps, portable, 1
// thread), side by side: the run as shipped (held-out evaluation every 10
// steps), without evaluation, and with bf16 products or bf16 master weights
// emulated (evaluation off in all three).
void BM_SmokeRun(benchmark::State& state) {
  static const char* kVariants[][2] = {{"eval every 10 (shipped)", "eval.every=10"},
                                       {"eval off", "eval.every=0"},
                                       {"eval off, compute bf16", "numerics.compute=bf16"},
                                       {"eval off, master bf16", "numerics.master=bf16"}};
  const auto& variant = kVariants[state.range(0)];
  std::vector<std::string> overrides = {variant[1]};
  if (state.range(0) >= 2) overrides.push_back("eval.every=0");
  Result<TrainConfig> config =
      LoadTrainConfig(LOCKSTEP_SOURCE_DIR "/trainer/configs/smoke.toml", overrides);
  if (!config.ok()) {
    state.SkipWithError(config.status().message().c_str());
    return;
  }
  for (auto _ : state) {
    Status st = Train(*config, {}, nullptr);
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
  state.SetLabel(variant[0]);
}
BENCHMARK(BM_SmokeRun)
    ->DenseRange(0, 3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace
}  // namespace lockstep::trainer

BENCHMARK_MAIN();
