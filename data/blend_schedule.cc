#include "data/blend_schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

namespace lockstep::data {

Status ValidateSchedule(const BlendSchedule& schedule, const std::vector<std::string>& corpus_names,
                        const std::string& origin) {
  if (schedule.segments.empty()) {
    return Status::BadInput(fmt::format(
        "{}: no [[schedule]] segment: add one, e.g. [[schedule]] from_step = 0, weights = {{ {} = "
        "1.0 }}",
        origin, corpus_names.empty() ? "corpus" : corpus_names[0]));
  }
  if (corpus_names.size() > kWeightQuantum) {
    return Status::BadInput(fmt::format("{}: {} corpora; at most {} can be blended", origin,
                                        corpus_names.size(), kWeightQuantum));
  }
  for (std::size_t k = 0; k < schedule.segments.size(); ++k) {
    const BlendSegment& seg = schedule.segments[k];
    if (k == 0 && seg.from_step != 0) {
      return Status::BadInput(fmt::format(
          "{}: schedule segment 1 starts at step {}: the first segment must have from_step = 0",
          origin, seg.from_step));
    }
    if (k > 0 && seg.from_step <= schedule.segments[k - 1].from_step) {
      return Status::BadInput(fmt::format(
          "{}: schedule segments out of order: segment {} has from_step = {} after segment {} "
          "with from_step = {}; list segments by strictly increasing from_step",
          origin, k + 1, seg.from_step, k, schedule.segments[k - 1].from_step));
    }
    if (seg.weights.size() != corpus_names.size()) {
      return Status::BadInput(fmt::format("{}: schedule segment {} has {} weights for {} corpora",
                                          origin, k + 1, seg.weights.size(), corpus_names.size()));
    }
    double total = 0;
    for (std::size_t c = 0; c < seg.weights.size(); ++c) {
      double w = seg.weights[c];
      if (!std::isfinite(w) || w < 0) {
        return Status::BadInput(fmt::format(
            "{}: schedule segment {} (from_step = {}): weight of corpus \"{}\" is {}; weights "
            "must be finite and >= 0",
            origin, k + 1, seg.from_step, corpus_names[c], w));
      }
      total += w;
    }
    if (!(total > 0)) {
      return Status::BadInput(fmt::format(
          "{}: schedule segment {} (from_step = {}): all weights are zero; give at least one "
          "corpus a positive weight",
          origin, k + 1, seg.from_step));
    }
    auto quantized = QuantizeWeights(seg.weights);
    for (std::size_t c = 0; c < seg.weights.size(); ++c) {
      if (seg.weights[c] > 0 && quantized[c] == 0) {
        return Status::BadInput(fmt::format(
            "{}: schedule segment {} (from_step = {}): weight of corpus \"{}\" is {}, below "
            "1/{} of the segment's total, the blend's resolution; raise it or set it to 0",
            origin, k + 1, seg.from_step, corpus_names[c], seg.weights[c], kWeightQuantum));
      }
    }
  }
  return Status::Ok();
}

std::vector<std::uint64_t> QuantizeWeights(const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  std::vector<std::uint64_t> q(weights.size());
  std::vector<double> remainder(weights.size());
  std::uint64_t assigned = 0;
  for (std::size_t c = 0; c < weights.size(); ++c) {
    double exact = weights[c] / total * static_cast<double>(kWeightQuantum);
    q[c] = static_cast<std::uint64_t>(std::floor(exact));
    remainder[c] = exact - static_cast<double>(q[c]);
    assigned += q[c];
  }
  // Hand out what flooring left over to the largest remainders; a stable sort
  // breaks ties by corpus index so the result never depends on the sort.
  std::vector<std::size_t> order(weights.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainder[a] > remainder[b]; });
  for (std::size_t i = 0; assigned < kWeightQuantum; ++i) {
    std::size_t c = order[i % order.size()];
    if (weights[c] > 0) {
      ++q[c];
      ++assigned;
    }
  }
  while (assigned > kWeightQuantum) {  // only reachable through double rounding
    std::size_t c = static_cast<std::size_t>(std::max_element(q.begin(), q.end()) - q.begin());
    --q[c];
    --assigned;
  }
  return q;
}

SegmentInterleave::SegmentInterleave(const std::vector<std::uint64_t>& q)
    : corpus_at_(kWeightQuantum), rank_in_period_(kWeightQuantum), positions_(q.size()) {
  std::vector<std::uint64_t> count(q.size(), 0);
  for (std::uint64_t h = 0; h < kWeightQuantum; ++h) {
    // Among corpora below their upper quota at house size h + 1, i.e.
    // count_c * Q < (h + 1) * q_c, pick the largest q_c / (count_c + 1),
    // compared exactly as a cross product; the first wins ties.
    std::size_t best = q.size();
    for (std::size_t c = 0; c < q.size(); ++c) {
      if (count[c] * kWeightQuantum >= (h + 1) * q[c]) continue;
      if (best == q.size() || q[c] * (count[best] + 1) > q[best] * (count[c] + 1)) best = c;
    }
    assert(best < q.size());  // some corpus is always below its upper quota
    corpus_at_[h] = static_cast<std::uint16_t>(best);
    rank_in_period_[h] = static_cast<std::uint32_t>(count[best]);
    positions_[best].push_back(static_cast<std::uint32_t>(h));
    ++count[best];
  }
}

std::uint64_t SegmentInterleave::CountBefore(std::size_t corpus, std::uint64_t n) const {
  const auto& pos = positions_[corpus];
  const std::uint64_t full_periods = n / kWeightQuantum;
  const auto in_period = static_cast<std::uint32_t>(n % kWeightQuantum);
  return full_periods * pos.size() +
         static_cast<std::uint64_t>(std::lower_bound(pos.begin(), pos.end(), in_period) -
                                    pos.begin());
}

}  // namespace lockstep::data
