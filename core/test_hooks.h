// Test hooks: the only places where production code reads LOCKSTEP_TEST_*
// variables. They are compiled into every build (the end-to-end tests drive
// the real binary) and do nothing unless their variable is set. Not for
// users: each one exists for the test named beside it.
#ifndef LOCKSTEP_CORE_TEST_HOOKS_H_
#define LOCKSTEP_CORE_TEST_HOOKS_H_

#include <chrono>

namespace lockstep::test_hooks {

// LOCKSTEP_TEST_KILL_RANK_AT_STEP="R:S": rank R SIGKILLs itself as step S
// begins (SmokeE2E.ADeadRankEndsTheRunAsACrashNamingTheRank: a dead rank ends
// the job instead of hanging it).
void KillRankIfAsked(int rank, int step);

// LOCKSTEP_TEST_LR_SPIKE="S:F": step S's learning rate times F
// (tests/health_checks_test.sh: the spike check sees it). 1 otherwise.
float LearningRateFactor(int step);

// LOCKSTEP_TEST_REVERSE_BIAS_GRAD: bias gradients summed over rows in reverse,
// a "kernel change" that moves only their bits (the bisect tests).
bool ReverseBiasGradient();

// LOCKSTEP_TEST_CHECKPOINT_DELAY_MS=N: a checkpoint file's write pauses N ms
// before it is committed, so tests/checkpoint_test.sh can kill it mid-write.
std::chrono::milliseconds CheckpointWriteDelay();

}  // namespace lockstep::test_hooks

#endif  // LOCKSTEP_CORE_TEST_HOOKS_H_
