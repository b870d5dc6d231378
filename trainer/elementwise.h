// exp, log, tanh for the trainer's float type. float uses lockstep's own
// portable implementations (same bits everywhere, see portable_math.h);
// double is only for gradient checks in the tests and uses the C library.
#ifndef LOCKSTEP_TRAINER_ELEMENTWISE_H_
#define LOCKSTEP_TRAINER_ELEMENTWISE_H_

#include <cmath>

#include "trainer/portable_math.h"

namespace lockstep::trainer {

inline float Exp(float x) { return PortableExp(x); }
inline float Log(float x) { return PortableLog(x); }
inline float Tanh(float x) { return PortableTanh(x); }
inline double Exp(double x) { return std::exp(x); }
inline double Log(double x) { return std::log(x); }
inline double Tanh(double x) { return std::tanh(x); }

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_ELEMENTWISE_H_
