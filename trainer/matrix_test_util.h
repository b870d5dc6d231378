// For the trainer's tests: matrices of values in [-1, 1] in steps of 1/1000,
// from the counter-based generator keyed by the test (`purpose`) and `salt`.
// Their products are mostly inexact in float, so a change of operation order
// shows in the bits.
#ifndef LOCKSTEP_TRAINER_MATRIX_TEST_UTIL_H_
#define LOCKSTEP_TRAINER_MATRIX_TEST_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/counter_rng.h"

namespace lockstep::trainer {

inline std::vector<float> RandomMatrix(std::size_t n, std::uint64_t salt, const char* purpose) {
  CounterRng rng(salt, purpose);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(rng.Below(i, 2001)) / 1000.0f - 1.0f;
  return v;
}

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_MATRIX_TEST_UTIL_H_
