#include "core/test_hooks.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace lockstep::test_hooks {

void KillRankIfAsked(int rank, int step) {
  static const char* spec = std::getenv("LOCKSTEP_TEST_KILL_RANK_AT_STEP");
  if (spec == nullptr) return;
  int r = -1, s = -1;
  if (std::sscanf(spec, "%d:%d", &r, &s) == 2 && r == rank && s == step) std::raise(SIGKILL);
}

float LearningRateFactor(int step) {
  static const char* spec = std::getenv("LOCKSTEP_TEST_LR_SPIKE");
  int s = -1;
  float factor = 1;
  if (spec != nullptr && std::sscanf(spec, "%d:%f", &s, &factor) == 2 && s == step) return factor;
  return 1;
}

bool ReverseBiasGradient() {
  static const bool reverse = std::getenv("LOCKSTEP_TEST_REVERSE_BIAS_GRAD") != nullptr;
  return reverse;
}

std::chrono::milliseconds CheckpointWriteDelay() {
  const char* delay = std::getenv("LOCKSTEP_TEST_CHECKPOINT_DELAY_MS");
  return std::chrono::milliseconds(delay != nullptr ? std::atoi(delay) : 0);
}

}  // namespace lockstep::test_hooks
