// What a smoke case came to, and what one attempt at running it did, as
// types; their printed names and the case's exit code come from here only.
#ifndef LOCKSTEP_SMOKE_OUTCOME_H_
#define LOCKSTEP_SMOKE_OUTCOME_H_

#include <string_view>

#include "core/exit_code.h"

namespace lockstep::smoke {

// One attempt at running a case.
enum class AttemptClass {
  kPass,      // finished and matched its golden (or is being recorded)
  kMismatch,  // finished; a metric out of policy
  kCrash,     // non-zero exit, a signal, or a non-finite step
  kHang,      // the watchdog fired
  kConfig,    // exit 2, or the config digest differs from the golden's
};

// The case, after its retries.
enum class CaseOutcome {
  kPass,
  kUpdated,     // --update recorded the golden
  kRegression,  // a mismatch or a failed health check
  kCrash,
  kHang,
  kBadInput,  // the case, its golden or its config needs fixing
  kInterrupted,
};

// "pass", "mismatch", ...: the words of the reports and the JSON.
std::string_view Name(AttemptClass c);
std::string_view Name(CaseOutcome o);

// The one mapping from a case's outcome to its exit code. A golden recorded
// by --update from a run that failed a health check is still exit 1;
// `signal` is the one that interrupted the case (0: unknown).
int ExitCodeFor(CaseOutcome outcome, bool checks_failed = false, int signal = 0);

}  // namespace lockstep::smoke

#endif  // LOCKSTEP_SMOKE_OUTCOME_H_
