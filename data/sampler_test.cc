#include "data/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/counter_rng.h"
#include "core/test_util.h"

namespace lockstep::data {
namespace {

using ::lockstep::testing::Contains;

// A manifest with `corpora` corpora of a few shards each; no file is read by
// the Sampler, so digests are made up from the corpus and shard index.
Manifest FakeManifest(const CounterRng& rng, std::uint64_t salt, std::size_t corpora,
                      std::uint32_t seq_len) {
  Manifest m;
  m.origin = "fake.toml";
  m.seed = 1000 + salt;
  m.seq_len = seq_len;
  m.vocab_size = 257;
  for (std::size_t c = 0; c < corpora; ++c) {
    Corpus corpus{"c" + std::to_string(c), {}};
    std::size_t shards = 1 + rng.Below(salt * 100 + c, 3);
    for (std::size_t s = 0; s < shards; ++s) {
      std::uint64_t tokens = seq_len + 1 + rng.Below(salt * 100 + 10 + c * 5 + s, 40 * seq_len);
      corpus.shards.push_back({"x", tokens, {salt, c * 16 + s}});
    }
    m.corpora.push_back(std::move(corpus));
  }
  return m;
}

BlendSchedule RandomSchedule(const CounterRng& rng, std::uint64_t salt, std::size_t corpora) {
  BlendSchedule s;
  std::uint64_t step = 0;
  std::size_t segments = 1 + rng.Below(salt * 50, 4);
  for (std::size_t k = 0; k < segments; ++k) {
    BlendSegment seg{step, std::vector<double>(corpora)};
    for (std::size_t c = 0; c < corpora; ++c) {
      seg.weights[c] = static_cast<double>(rng.Below(salt * 50 + 1 + k * 10 + c, 5));
    }
    seg.weights[rng.Below(salt * 50 + 45 + k, corpora)] += 1;  // never all zero
    s.segments.push_back(seg);
    step += 1 + rng.Below(salt * 50 + 49 + k, 12);
  }
  return s;
}

Sampler MustCreate(const Manifest& m, const BlendSchedule& s, std::uint64_t batch) {
  Result<Sampler> r = Sampler::Create(m, s, batch);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return std::move(r).value();
}

TEST(SamplerTest, SampleIsAPureFunctionOfStepAndSlot) {
  CounterRng rng(1, "test/pure");
  Manifest m = FakeManifest(rng, 1, 3, 8);
  BlendSchedule s = RandomSchedule(rng, 1, 3);
  Sampler a = MustCreate(m, s, 6);
  Sampler b = MustCreate(m, s, 6);
  std::vector<SampleRef> forward;
  for (std::uint64_t step = 0; step < 40; ++step) {
    for (std::uint64_t slot = 0; slot < 6; ++slot) forward.push_back(a.Locate(step, slot));
  }
  // A second sampler asked backwards (as a resumed or other-rank run would ask
  // in its own order) gives the same references.
  for (std::uint64_t i = forward.size(); i-- > 0;) {
    ASSERT_EQ(b.Locate(i / 6, i % 6), forward[i]) << "sample " << i;
  }
}

TEST(SamplerTest, ReferencesStayInsideTheirShard) {
  CounterRng rng(2, "test/bounds");
  for (std::uint64_t trial = 0; trial < 30; ++trial) {
    std::uint32_t seq_len = 1 + static_cast<std::uint32_t>(rng.Below(trial, 32));
    Manifest m = FakeManifest(rng, trial, 1 + rng.Below(trial + 7, 4), seq_len);
    Sampler sampler = MustCreate(m, RandomSchedule(rng, trial, m.corpora.size()), 5);
    for (std::uint64_t step = 0; step < 60; ++step) {
      for (std::uint64_t slot = 0; slot < 5; ++slot) {
        SampleRef r = sampler.Locate(step, slot);
        ASSERT_LT(r.corpus, m.corpora.size());
        ASSERT_LT(r.shard, m.corpora[r.corpus].shards.size());
        ASSERT_LE(r.offset + seq_len + 1, m.corpora[r.corpus].shards[r.shard].tokens);
        ASSERT_EQ(r.offset % seq_len, 0u);
      }
    }
  }
}

TEST(SamplerTest, NoSequenceRepeatsWithinAnEpoch) {
  CounterRng rng(3, "test/epoch");
  Manifest m = FakeManifest(rng, 3, 2, 4);
  BlendSchedule s{{{0, {1.0, 1.0}}, {7, {3.0, 1.0}}}};
  Sampler sampler = MustCreate(m, s, 5);
  // Walk far enough for each corpus to wrap around several times.
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::set<std::uint64_t>> seen;
  std::map<std::uint32_t, std::uint64_t> draws;
  for (std::uint64_t step = 0; step < 400; ++step) {
    for (std::uint64_t slot = 0; slot < 5; ++slot) {
      SampleRef r = sampler.Locate(step, slot);
      EXPECT_EQ(r.epoch, draws[r.corpus]++ / sampler.sequences(r.corpus));
      auto& epoch_seen = seen[std::make_pair(r.corpus, r.epoch)];
      ASSERT_TRUE(epoch_seen.insert(r.sequence).second)
          << "corpus " << r.corpus << " epoch " << r.epoch << " repeats sequence " << r.sequence;
    }
  }
  // Every complete epoch covered every sequence exactly once, in a new order.
  for (std::uint32_t c = 0; c < 2; ++c) {
    ASSERT_GE(draws[c], 2 * sampler.sequences(c));
    EXPECT_EQ(seen[std::make_pair(c, std::uint64_t{0})].size(), sampler.sequences(c));
    EXPECT_EQ(seen[std::make_pair(c, std::uint64_t{1})].size(), sampler.sequences(c));
  }
}

TEST(SamplerTest, CorpusCountsTrackTheWeightsInEveryWindowOfASegment) {
  Manifest m = FakeManifest(CounterRng(4, "test/m"), 4, 3, 4);
  BlendSchedule s{{{0, {0.5, 0.3, 0.2}}, {50, {0.1, 0.1, 0.8}}}};
  const std::uint64_t batch = 7;
  Sampler sampler = MustCreate(m, s, batch);
  for (std::size_t k = 0; k < 2; ++k) {
    const std::uint64_t first = s.segments[k].from_step * batch;
    const std::uint64_t n = 50 * batch;
    std::vector<std::size_t> corpus(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t g = first + i;
      corpus[i] = sampler.Locate(g / batch, g % batch).corpus;
    }
    auto q = QuantizeWeights(s.segments[k].weights);
    for (std::size_t c = 0; c < 3; ++c) {
      double share = static_cast<double>(q[c]) / kWeightQuantum;
      for (std::uint64_t a = 0; a < n; ++a) {
        std::uint64_t count = 0;
        for (std::uint64_t b = a; b < n; ++b) {
          count += corpus[b] == c;
          ASSERT_LT(std::abs(static_cast<double>(count) - (b + 1 - a) * share), 2.0);
        }
      }
    }
  }
}

TEST(SamplerTest, ChangingTheScheduleFromStepSLeavesEarlierSamplesUnchanged) {
  // Property over many random manifests and schedules, for each kind of edit:
  // append a segment at S, change the weights of segments at or after S,
  // insert a segment at S, drop the segments after S.
  CounterRng rng(5, "test/stable");
  for (std::uint64_t trial = 0; trial < 200; ++trial) {
    Manifest m = FakeManifest(rng, trial, 1 + rng.Below(trial * 3, 4), 4);
    const std::size_t corpora = m.corpora.size();
    BlendSchedule base = RandomSchedule(rng, trial, corpora);
    const std::uint64_t last = base.segments.back().from_step;
    const std::uint64_t s_step = 1 + rng.Below(trial * 3 + 1, last + 10);
    BlendSchedule edited;
    for (const BlendSegment& seg : base.segments) {
      if (seg.from_step < s_step) edited.segments.push_back(seg);
    }
    switch (trial % 3) {
      case 0:  // a new segment at S with fresh weights
        edited.segments.push_back({s_step, std::vector<double>(corpora, 1.0)});
        edited.segments.back().weights[0] = 7;
        break;
      case 1:  // later segments kept but reweighted
        for (const BlendSegment& seg : base.segments) {
          if (seg.from_step >= s_step) {
            BlendSegment changed = seg;
            std::reverse(changed.weights.begin(), changed.weights.end());
            changed.weights[0] += 1;
            edited.segments.push_back(changed);
          }
        }
        break;
      case 2:  // later segments dropped: the segment before S runs on
        break;
    }
    const std::uint64_t batch = 1 + rng.Below(trial * 3 + 2, 9);
    Sampler before = MustCreate(m, base, batch);
    Sampler after = MustCreate(m, edited, batch);
    for (std::uint64_t step = 0; step < s_step; ++step) {
      for (std::uint64_t slot = 0; slot < batch; ++slot) {
        ASSERT_EQ(before.Locate(step, slot), after.Locate(step, slot))
            << "trial " << trial << " edit at step " << s_step << " changed step " << step;
      }
    }
  }
}

TEST(SamplerTest, AnyStepIsReachableDirectly) {
  Manifest m = FakeManifest(CounterRng(6, "test/far"), 6, 2, 16);
  Sampler sampler = MustCreate(m, {{{0, {1, 1}}, {1000000, {1, 3}}}}, 512);
  SampleRef far = sampler.Locate(1'000'000'000'000ULL, 511);
  EXPECT_GT(far.epoch, 1000u);
  EXPECT_EQ(far, sampler.Locate(1'000'000'000'000ULL, 511));
}

TEST(SamplerTest, CursorRoundTripsAndResumesWithoutReplay) {
  CounterRng rng(7, "test/cursor");
  Manifest m = FakeManifest(rng, 7, 3, 4);
  BlendSchedule s{{{0, {1, 1, 1}}, {10, {1, 0, 2}}, {25, {0, 1, 0}}}};
  Sampler full = MustCreate(m, s, 4);
  for (std::uint64_t resume_step : {0ull, 5ull, 10ull, 17ull, 30ull}) {
    Result<SamplerCursor> cursor =
        SamplerCursor::FromJson(full.CursorAt(resume_step).ToJson(), "ckpt");
    ASSERT_TRUE(cursor.ok()) << cursor.status().message();
    EXPECT_EQ(*cursor, full.CursorAt(resume_step));
    Sampler resumed = MustCreate(m, s, 4);
    ASSERT_TRUE(resumed.Restore(*cursor).ok());
    for (std::uint64_t step = resume_step; step < resume_step + 20; ++step) {
      for (std::uint64_t slot = 0; slot < 4; ++slot) {
        ASSERT_EQ(resumed.Locate(step, slot), full.Locate(step, slot));
      }
    }
  }
}

TEST(SamplerTest, CursorOverridesAnEditedHistory) {
  // Someone changed the weights of an already-trained segment. Restoring the
  // cursor keeps what the run consumed, instead of silently skipping or
  // repeating samples (Megatron-LM issue 457).
  Manifest m = FakeManifest(CounterRng(8, "test/m"), 8, 2, 4);
  BlendSchedule original{{{0, {1, 1}}, {20, {1, 2}}}};
  BlendSchedule edited{{{0, {5, 1}}, {20, {1, 2}}}};
  Sampler full = MustCreate(m, original, 3);
  SamplerCursor cursor = full.CursorAt(30);
  Sampler resumed = MustCreate(m, edited, 3);
  ASSERT_NE(resumed.CursorAt(30), cursor);  // the history did change
  ASSERT_TRUE(resumed.Restore(cursor).ok());
  for (std::uint64_t step = 30; step < 60; ++step) {
    for (std::uint64_t slot = 0; slot < 3; ++slot) {
      ASSERT_EQ(resumed.Locate(step, slot), full.Locate(step, slot));
    }
  }
}

TEST(SamplerTest, CursorFromAMovedSegmentIsRejected) {
  Manifest m = FakeManifest(CounterRng(9, "test/m"), 9, 2, 4);
  Sampler full = MustCreate(m, {{{0, {1, 1}}, {20, {1, 2}}}}, 3);
  Sampler moved = MustCreate(m, {{{0, {1, 1}}, {22, {1, 2}}}}, 3);
  Status st = moved.Restore(full.CursorAt(25));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.exit_code(), 2);
  EXPECT_TRUE(Contains(st.message(), "segment starting at step 20"));
  EXPECT_FALSE(SamplerCursor::FromJson("{\"step\": 1}", "ckpt/sampler.json").ok());
}

TEST(SamplerTest, SequenceLengthLongerThanACorpusIsBadInput) {
  Manifest m = FakeManifest(CounterRng(10, "test/m"), 10, 2, 4);
  m.corpora[1].shards = {{"short.bin", 40, {}}};
  m.seq_len = 40;  // needs 41 tokens per sample
  Result<Sampler> r = Sampler::Create(m, {{{0, {1, 1}}}}, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_TRUE(Contains(r.status().message(), "seq_len = 40 is longer than corpus \"c1\""));
  EXPECT_TRUE(Contains(r.status().message(), "at most 39"));
}

TEST(SamplerTest, ACorpusNeverSampledMayBeShort) {
  Manifest m = FakeManifest(CounterRng(12, "test/m"), 12, 2, 4);
  m.corpora[1].shards = {{"tiny.bin", 3, {}}};
  EXPECT_TRUE(Sampler::Create(m, {{{0, {1, 0}}}}, 2).ok());
  EXPECT_FALSE(Sampler::Create(m, {{{0, {1, 0}}, {5, {1, 1}}}}, 2).ok());
}

TEST(SamplerTest, ZeroBatchIsBadInput) {
  Manifest m = FakeManifest(CounterRng(11, "test/m"), 11, 1, 4);
  EXPECT_FALSE(Sampler::Create(m, {{{0, {1}}}}, 0).ok());
}

}  // namespace
}  // namespace lockstep::data
