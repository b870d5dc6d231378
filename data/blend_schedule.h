// BlendSchedule: which corpus each sample of a run is drawn from.
//
// A schedule is a list of segments; segment k covers steps
// [from_step[k], from_step[k+1]) and blends corpora by its weights, quantised
// to integers q_c summing to Q = 4096. Within a segment the samples follow a
// fixed pattern of period Q in which corpus c appears exactly q_c times. The
// pattern is Balinski and Young's quota method: position h goes to the corpus
// with the largest q_c / (a_c + 1) among those whose count a_c is still below
// their upper quota h * q_c / Q (ties to the lower corpus index). That method
// is house-monotone and satisfies quota, so after any n samples of a segment
// every corpus has floor(n q_c / Q) or ceil(n q_c / Q) of them:
//
//     |count_c(n) - n * q_c / Q| < 1 for every prefix, and so
//     |count_c in any window of L samples - L * q_c / Q| < 2.
//
// That is the bound the tests check over every window. Each corpus's consumed
// count is frozen at a segment boundary and the next segment continues from
// it, so changing or appending segments from step S on never changes a sample
// before S.
#ifndef LOCKSTEP_DATA_BLEND_SCHEDULE_H_
#define LOCKSTEP_DATA_BLEND_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace lockstep::data {

inline constexpr std::uint64_t kWeightQuantum = 4096;

struct BlendSegment {
  std::uint64_t from_step = 0;
  std::vector<double> weights;  // one per corpus, in manifest order; any non-negative scale
  bool operator==(const BlendSegment&) const = default;
};

struct BlendSchedule {
  std::vector<BlendSegment> segments;
  bool operator==(const BlendSchedule&) const = default;
};

// Checks the rules every schedule obeys: at least one segment, the first at
// step 0, from_step strictly increasing, one weight per corpus, weights finite
// and non-negative, not all zero. Messages name `origin` and the segment.
Status ValidateSchedule(const BlendSchedule& schedule, const std::vector<std::string>& corpus_names,
                        const std::string& origin);

// Weights quantised to integers summing exactly to kWeightQuantum, by largest
// remainder (ties to the lower corpus index). Deterministic: IEEE division and
// rounding only.
std::vector<std::uint64_t> QuantizeWeights(const std::vector<double>& weights);

// The quota-method pattern of one segment (see the file comment), with random
// access: any sample's corpus and rank in O(log Q).
class SegmentInterleave {
 public:
  explicit SegmentInterleave(const std::vector<std::uint64_t>& quantized_weights);
  // Samples corpus `corpus` receives among the segment's first n samples.
  std::uint64_t CountBefore(std::size_t corpus, std::uint64_t n) const;
  // The corpus of the segment's sample i.
  std::size_t CorpusAt(std::uint64_t i) const { return corpus_at_[i % kWeightQuantum]; }
  // CountBefore(CorpusAt(i), i) in O(1): the sample's rank within its corpus.
  std::uint64_t RankAt(std::uint64_t i) const {
    const std::uint32_t h = static_cast<std::uint32_t>(i % kWeightQuantum);
    return i / kWeightQuantum * positions_[corpus_at_[h]].size() + rank_in_period_[h];
  }
  std::size_t corpora() const { return positions_.size(); }

 private:
  std::vector<std::uint16_t> corpus_at_;               // one period, Q entries
  std::vector<std::uint32_t> rank_in_period_;          // earlier entries of the same corpus
  std::vector<std::vector<std::uint32_t>> positions_;  // per corpus: its positions in the period
};

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_BLEND_SCHEDULE_H_
