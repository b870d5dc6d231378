// Data-layer throughput: shard verification (XXH3-128 over an mmapped
// payload) and sampler lookups. Figures and the command: bench/README.md.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <vector>

#include "core/counter_rng.h"
#include "data/manifest.h"
#include "data/sampler.h"
#include "data/shard.h"
#include "data/synth.h"
#include "data/token_source.h"
#include "data/verify_cache.h"

namespace lockstep::data {
namespace {

// A shard of `tokens` uint16 tokens in the temp directory, written once.
std::string BenchShard(std::uint64_t tokens) {
  std::string path =
      (std::filesystem::temp_directory_path() /
       ("lockstep_bench_" + std::to_string(::getpid()) + "_" + std::to_string(tokens) + ".bin"))
          .string();
  if (!std::filesystem::exists(path)) {
    std::vector<std::uint32_t> t(tokens);
    CounterRng rng(1, "bench/shard");
    for (std::uint64_t i = 0; i < tokens; ++i)
      t[i] = static_cast<std::uint32_t>(rng.Below(i, 50257));
    if (!WriteShard(path, t, 50257).ok()) std::abort();
  }
  return path;
}

// Verify = hash every payload byte of an mmapped shard (page cache warm).
void BM_VerifyShard(benchmark::State& state) {
  const std::string path = BenchShard(static_cast<std::uint64_t>(state.range(0)));
  Result<Shard> shard = Shard::Open(path);
  if (!shard.ok()) std::abort();
  for (auto _ : state) {
    benchmark::DoNotOptimize(shard->Verify().ok());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(shard->file_bytes() - kShardHeaderBytes));
  std::filesystem::remove(path);
}
BENCHMARK(BM_VerifyShard)->Arg(1 << 20)->Arg(32 << 20)->Unit(benchmark::kMillisecond);

// The digest alone, without the vocab check Verify adds: the two side by
// side give the check's cost.
void BM_DigestOnly(benchmark::State& state) {
  const std::string path = BenchShard(static_cast<std::uint64_t>(state.range(0)));
  Result<Shard> shard = Shard::Open(path);
  if (!shard.ok()) std::abort();
  for (auto _ : state) benchmark::DoNotOptimize(shard->ComputeDigest());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(shard->file_bytes() - kShardHeaderBytes));
  std::filesystem::remove(path);
}
BENCHMARK(BM_DigestOnly)->Arg(32 << 20)->Unit(benchmark::kMillisecond);

// TokenSource::Open on the embedded corpora (what `lockstep train` opens):
// every shard hashed (cache off), or found in the verification cache.
void BM_OpenEmbeddedCorpora(benchmark::State& state) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("lockstep_bench_data_" + std::to_string(::getpid())))
                              .string();
  std::ostringstream log;
  if (!WriteSyntheticCorpora(dir, log).ok()) std::abort();
  Result<Manifest> m = LoadManifest(dir + "/manifest.toml");
  if (!m.ok()) std::abort();
  const std::string cache_path = state.range(0) ? dir + "/verified.json" : "";
  for (auto _ : state) {
    VerifyCache cache = VerifyCache::AtPath(cache_path);
    Result<TokenSource> source = TokenSource::Open(*m, cache);
    if (!source.ok()) std::abort();
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_OpenEmbeddedCorpora)->ArgName("cache")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

Manifest BenchManifest(std::size_t corpora) {
  Manifest m;
  m.origin = "bench";
  m.seed = 1;
  m.seq_len = 1024;
  m.vocab_size = 50257;
  for (std::size_t c = 0; c < corpora; ++c) {
    Corpus corpus{"c" + std::to_string(c), {}};
    for (std::uint64_t s = 0; s < 64; ++s)
      corpus.shards.push_back({"x", 100'000'000 + s * 977, {c, s}});
    m.corpora.push_back(std::move(corpus));
  }
  std::vector<double> w(corpora);
  for (std::size_t c = 0; c < corpora; ++c) w[c] = 1.0 + static_cast<double>(c);
  m.schedule.segments = {{0, w}, {100000, std::vector<double>(corpora, 1.0)}};
  return m;
}

// Sampler lookups: (step, slot) -> corpus, epoch, sequence, shard, offset, at
// steps spread over a long run, for 3 and 16 corpora.
void BM_SamplerLocate(benchmark::State& state) {
  Manifest m = BenchManifest(static_cast<std::size_t>(state.range(0)));
  Result<Sampler> sampler = Sampler::Create(m, 512);
  if (!sampler.ok()) std::abort();
  std::uint64_t i = 0;
  for (auto _ : state) {
    std::uint64_t step = (i * 7919) % 300000;
    benchmark::DoNotOptimize(sampler->Locate(step, i % 512));
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_SamplerLocate)->Arg(3)->Arg(16);

}  // namespace
}  // namespace lockstep::data

BENCHMARK_MAIN();
