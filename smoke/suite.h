// The smoke suite: run each case under the watchdog, compare it with its
// golden as it goes, diagnose the first divergence, retry crashes and hangs,
// and record or re-record goldens on --update.
//
// Per case:
//   attempt = run the trainer (ours: `lockstep train --record`; another's:
//             its command, parsed line by line) under the stdout watchdog,
//             printing a live line per step with its match mark
//   classify: hang (watchdog, 124) | crash (non-zero exit, signal, non-finite
//             step) | config (exit 2, or config digest differs) | mismatch
//             (a metric out of policy) | pass
//   retry crash and hang with backoff 5, 10, 20, 40, 60 s (never a
//   mismatch); stop after two attempts in a row that reach no step.
//   health checks on a run that finished (compared or recorded): a failed
//   check is a regression, a warning is printed and passes.
#ifndef LOCKSTEP_SMOKE_SUITE_H_
#define LOCKSTEP_SMOKE_SUITE_H_

#include <ostream>
#include <string>
#include <vector>

#include "core/watchdog.h"
#include "golden/compare.h"
#include "golden/health.h"
#include "smoke/outcome.h"
#include "smoke/smoke_case.h"

namespace lockstep::smoke {

struct SmokeOptions {
  std::string lockstep_binary;  // runs lockstep's own trainer cases
  double timeout = 60;          // stdout-idle seconds before the watchdog fires
  double grace = 5;             // SIGTERM -> SIGKILL
  int retries = 0;
  double backoff_base = 5;  // seconds; doubles per retry, capped at 60
  bool update = false;      // record the golden instead of comparing
  bool force = false;       // --update even from a failed run
  bool live = true;         // a line per step
  std::string work_dir;     // records of the runs (a temp dir if empty)
  std::string command_dir;  // where external commands run ("" = the case file's directory)
  const std::atomic<bool>* cancel = nullptr;  // see WatchOptions::cancel
};

struct Attempt {
  int number = 1;
  AttemptClass classification = AttemptClass::kPass;
  ProcessOutcome process;
  int steps_reached = 0;
};

struct CaseResult {
  std::string name;
  CaseOutcome outcome = CaseOutcome::kPass;
  int exit_code = 0;  // ExitCodeFor(outcome, ...)
  std::vector<Attempt> attempts;
  golden::Comparison comparison;
  golden::RunRecord run;     // the last attempt's steps
  golden::RunRecord golden;  // as compared (empty if none)
  // The health checks (golden/health.h) of a run that finished: none after a
  // crash, hang or bad input. A failed check makes the case a regression (on
  // --update the golden is still recorded, exit 1).
  std::vector<golden::CheckResult> checks;
  std::string message;  // what went wrong / what was done
  // A lockstep-trainer case that diverged from its golden keeps its record
  // stream here (in SmokeOptions::work_dir), for `lockstep bisect steps`.
  std::string record_path;
  double seconds = 0;
};

struct SuiteResult {
  std::vector<CaseResult> cases;
  int exit_code = 0;  // the most severe: 2 bad input, 3 crash, 124 hang, 1 regression, 0
};

// `argv` under `mpirun -np N` when world_size > 1 (--oversubscribe when N
// exceeds the cores, --allow-run-as-root as root).
// CaseCommand: the command a case runs, under mpirun as above: lockstep's
// trainer with the case's settings, or the case's own command.
std::vector<std::string> UnderMpirun(int world_size, std::vector<std::string> argv);
std::vector<std::string> CaseCommand(const SmokeCase& c, const SmokeOptions& options,
                                     const std::string& record_path);

CaseResult RunCase(const SmokeCase& c, const SmokeOptions& options, std::ostream& out);
SuiteResult RunSuite(const std::vector<SmokeCase>& cases, const SmokeOptions& options,
                     std::ostream& out);

// The summary table printed at the end.
void PrintSummary(const SuiteResult& result, std::ostream& out);
// Machine-readable reports, written atomically.
Status WriteJsonReport(const SuiteResult& result, const std::string& path);
Status WriteJUnitReport(const SuiteResult& result, const std::string& path);

}  // namespace lockstep::smoke

#endif  // LOCKSTEP_SMOKE_SUITE_H_
