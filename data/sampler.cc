#include "data/sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/counter_rng.h"
#include "data/keyed_permutation.h"

namespace lockstep::data {

std::string SamplerCursor::ToJson() const {
  nlohmann::json j = {
      {"step", step}, {"segment_from_step", segment_from_step}, {"consumed", consumed}};
  return j.dump();
}

Result<SamplerCursor> SamplerCursor::FromJson(const std::string& text, const std::string& origin) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    SamplerCursor c;
    c.step = j.at("step").get<std::uint64_t>();
    c.segment_from_step = j.at("segment_from_step").get<std::uint64_t>();
    c.consumed = j.at("consumed").get<std::vector<std::uint64_t>>();
    return c;
  } catch (const std::exception& e) {
    return Status::BadInput(fmt::format(
        "{}: not a sampler cursor ({}); expected {{\"step\", \"segment_from_step\", \"consumed\"}}",
        origin, e.what()));
  }
}

Result<Sampler> Sampler::Create(const Manifest& manifest, std::uint64_t global_batch) {
  return Create(manifest, manifest.schedule, global_batch);
}

Result<Sampler> Sampler::Create(const Manifest& manifest, const BlendSchedule& schedule,
                                std::uint64_t global_batch) {
  LOCKSTEP_RETURN_IF_ERROR(ValidateSchedule(schedule, manifest.CorpusNames(), manifest.origin));
  if (global_batch == 0) {
    return Status::BadInput("global batch size is 0: every step needs at least one sample");
  }
  Sampler s;
  s.global_batch_ = global_batch;
  s.seq_len_ = manifest.seq_len;
  s.schedule_ = schedule;
  for (const Corpus& corpus : manifest.corpora) {
    std::vector<std::uint64_t> first{0};
    std::uint64_t longest = 0;
    std::string canon = fmt::format("corpus seq_len={}", manifest.seq_len);
    for (const ShardEntry& shard : corpus.shards) {
      std::uint64_t n = shard.tokens > manifest.seq_len ? (shard.tokens - 1) / manifest.seq_len : 0;
      first.push_back(first.back() + n);
      longest = std::max(longest, shard.tokens);
      canon += fmt::format(" {}:{}", shard.tokens, shard.digest.Hex());
    }
    const std::size_t c = s.corpus_sequences_.size();
    const bool sampled = std::any_of(schedule.segments.begin(), schedule.segments.end(),
                                     [c](const BlendSegment& seg) { return seg.weights[c] > 0; });
    if (first.back() == 0 && sampled) {
      return Status::BadInput(fmt::format(
          "{}: seq_len = {} is longer than corpus \"{}\": its longest shard has {} tokens and a "
          "sample needs seq_len + 1 = {}; lower seq_len to at most {} or add more data",
          manifest.origin, manifest.seq_len, corpus.name, longest,
          std::uint64_t{manifest.seq_len} + 1, longest > 1 ? longest - 1 : 0));
    }
    s.corpus_sequences_.push_back(first.back());
    s.shard_first_sequence_.push_back(std::move(first));
    s.corpus_key_.push_back(Xxh3_64(canon.data(), canon.size(), manifest.seed));
  }
  for (const BlendSegment& seg : schedule.segments) {
    s.interleaves_.emplace_back(QuantizeWeights(seg.weights));
  }
  s.consumed_at_segment_.assign(schedule.segments.size(),
                                std::vector<std::uint64_t>(manifest.corpora.size(), 0));
  s.PropagateConsumed(0);
  return s;
}

void Sampler::PropagateConsumed(std::size_t from_segment) {
  for (std::size_t k = from_segment + 1; k < schedule_.segments.size(); ++k) {
    std::uint64_t steps = schedule_.segments[k].from_step - schedule_.segments[k - 1].from_step;
    std::uint64_t samples = steps * global_batch_;
    for (std::size_t c = 0; c < corpus_sequences_.size(); ++c) {
      consumed_at_segment_[k][c] =
          consumed_at_segment_[k - 1][c] + interleaves_[k - 1].CountBefore(c, samples);
    }
  }
}

std::size_t Sampler::SegmentOf(std::uint64_t step) const {
  const auto& segs = schedule_.segments;
  auto it =
      std::upper_bound(segs.begin(), segs.end(), step,
                       [](std::uint64_t s, const BlendSegment& seg) { return s < seg.from_step; });
  return static_cast<std::size_t>(it - segs.begin()) - 1;  // segment 0 starts at step 0
}

SampleRef Sampler::Locate(std::uint64_t step, std::uint64_t slot) const {
  const std::size_t k = SegmentOf(step);
  const std::uint64_t i = (step - schedule_.segments[k].from_step) * global_batch_ + slot;
  SampleRef ref;
  ref.corpus = static_cast<std::uint32_t>(interleaves_[k].CorpusAt(i));
  const std::uint64_t draw = consumed_at_segment_[k][ref.corpus] + interleaves_[k].RankAt(i);
  const std::uint64_t n = corpus_sequences_[ref.corpus];
  ref.epoch = draw / n;
  const std::uint64_t epoch_key = CounterRng(corpus_key_[ref.corpus]).Bits(ref.epoch);
  ref.sequence = KeyedPermutation(epoch_key, n)(draw % n);
  const auto& first = shard_first_sequence_[ref.corpus];
  auto it = std::upper_bound(first.begin(), first.end(), ref.sequence);
  ref.shard = static_cast<std::uint32_t>(it - first.begin()) - 1;
  ref.offset = (ref.sequence - first[ref.shard]) * seq_len_;
  return ref;
}

SamplerCursor Sampler::CursorAt(std::uint64_t step) const {
  std::size_t k = SegmentOf(step);
  return {step, schedule_.segments[k].from_step, consumed_at_segment_[k]};
}

Status Sampler::Restore(const SamplerCursor& cursor) {
  std::size_t k = SegmentOf(cursor.step);
  if (schedule_.segments[k].from_step != cursor.segment_from_step) {
    return Status::BadInput(fmt::format(
        "sampler cursor at step {} was saved inside a schedule segment starting at step {}, but "
        "the schedule now has step {} in a segment starting at step {}: segments at or before "
        "the resume step must not change; append new segments after step {} instead",
        cursor.step, cursor.segment_from_step, cursor.step, schedule_.segments[k].from_step,
        cursor.step));
  }
  if (cursor.consumed.size() != corpus_sequences_.size()) {
    return Status::BadInput(fmt::format(
        "sampler cursor has counts for {} corpora but the manifest has {}: resume with the "
        "manifest the checkpoint was written with",
        cursor.consumed.size(), corpus_sequences_.size()));
  }
  consumed_at_segment_[k] = cursor.consumed;
  PropagateConsumed(k);
  return Status::Ok();
}

}  // namespace lockstep::data
