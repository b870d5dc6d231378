// exp, log, tanh for the trainer's float type. float uses lockstep's own
// portable implementations (same bits everywhere, see portable_math.h);
// double is only for gradient checks in the tests and uses the C library.
#ifndef LOCKSTEP_TRAINER_ELEMENTWISE_H_
#define LOCKSTEP_TRAINER_ELEMENTWISE_H_

#include <cmath>
#include <cstddef>

#include "trainer/portable_math.h"

namespace lockstep::trainer {

inline float Exp(float x) {
  return PortableExp(x);
}
inline float Log(float x) {
  return PortableLog(x);
}
inline float Tanh(float x) {
  return PortableTanh(x);
}
inline double Exp(double x) {
  return std::exp(x);
}
inline double Log(double x) {
  return std::log(x);
}
inline double Tanh(double x) {
  return std::tanh(x);
}

// x[i] = Exp(x[i]) / Tanh(x[i]) over an array: the same values as the scalar
// functions, vectorised for float (portable_math.h).
inline void ExpInPlace(float* x, std::size_t n) {
  PortableExpInPlace(x, n);
}
inline void TanhInPlace(float* x, std::size_t n) {
  PortableTanhInPlace(x, n);
}
inline void ExpInPlace(double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}
inline void TanhInPlace(double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
}

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_ELEMENTWISE_H_
