// Sampler: the sample at (step, slot), as a pure function of the manifest's
// digests, the blend schedule's segments up to that step, the seed and the
// global batch size. It reads no shard and keeps no history: independent of
// ranks, micro-batch split, threads and resumes by construction.
//
//   global sample   step * global_batch + slot, inside segment k at local i
//   corpus          the quota-method interleave of segment k at i (blend_schedule.h)
//   draw number     j = consumed_c at segment k's start + count_c(i)
//   epoch, rank     j / sequences_c, j % sequences_c
//   sequence        KeyedPermutation(key(seed, corpus digest, epoch))(rank)
//
// A corpus's sequences are windows of seq_len + 1 tokens (inputs and shifted
// targets) at stride seq_len inside each shard; none crosses a shard's end.
// Within an epoch no sequence repeats.
#ifndef LOCKSTEP_DATA_SAMPLER_H_
#define LOCKSTEP_DATA_SAMPLER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/blend_schedule.h"
#include "data/manifest.h"

namespace lockstep::data {

// Where one sample's seq_len + 1 tokens live.
struct SampleRef {
  std::uint32_t corpus = 0;
  std::uint64_t epoch = 0;     // full passes over the corpus before this draw
  std::uint64_t sequence = 0;  // sequence index within the corpus
  std::uint32_t shard = 0;     // index into the corpus's shards
  std::uint64_t offset = 0;    // first token within that shard
  bool operator==(const SampleRef&) const = default;
};

// The sampler's whole state at a step, O(number of corpora): enough to resume
// without replaying and without trusting the schedule's earlier history.
struct SamplerCursor {
  std::uint64_t step = 0;
  std::uint64_t segment_from_step = 0;  // start of the segment containing `step`
  std::vector<std::uint64_t> consumed;  // per corpus: draws before that segment began
  bool operator==(const SamplerCursor&) const = default;
  std::string ToJson() const;
  static Result<SamplerCursor> FromJson(const std::string& text, const std::string& origin);
};

class Sampler {
 public:
  // Uses the manifest's own schedule.
  static Result<Sampler> Create(const Manifest& manifest, std::uint64_t global_batch);
  // Uses `schedule` instead (a trainer config may carry its own).
  static Result<Sampler> Create(const Manifest& manifest, const BlendSchedule& schedule,
                                std::uint64_t global_batch);

  SampleRef Locate(std::uint64_t step, std::uint64_t slot) const;

  SamplerCursor CursorAt(std::uint64_t step) const;
  // Continues from a saved cursor: the segment containing cursor.step starts
  // from cursor.consumed whatever the earlier segments now say. BadInput if the
  // schedule no longer has a segment starting at cursor.segment_from_step.
  Status Restore(const SamplerCursor& cursor);

  std::uint64_t global_batch() const { return global_batch_; }
  std::uint32_t seq_len() const { return seq_len_; }
  std::uint64_t sequences(std::size_t corpus) const { return corpus_sequences_[corpus]; }
  const BlendSchedule& schedule() const { return schedule_; }
  std::size_t SegmentOf(std::uint64_t step) const;
  const SegmentInterleave& interleave(std::size_t segment) const { return interleaves_[segment]; }

 private:
  Sampler() = default;
  void PropagateConsumed(std::size_t from_segment);

  std::uint64_t global_batch_ = 0;
  std::uint32_t seq_len_ = 0;
  BlendSchedule schedule_;
  std::vector<SegmentInterleave> interleaves_;
  std::vector<std::vector<std::uint64_t>> consumed_at_segment_;  // [segment][corpus]
  std::vector<std::uint64_t> corpus_key_;
  std::vector<std::uint64_t> corpus_sequences_;
  std::vector<std::vector<std::uint64_t>> shard_first_sequence_;  // [corpus][shard], prefix sums
};

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_SAMPLER_H_
