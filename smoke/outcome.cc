#include "smoke/outcome.h"

namespace lockstep::smoke {

std::string_view Name(AttemptClass c) {
  switch (c) {
    case AttemptClass::kPass:
      return "pass";
    case AttemptClass::kMismatch:
      return "mismatch";
    case AttemptClass::kCrash:
      return "crash";
    case AttemptClass::kHang:
      return "hang";
    case AttemptClass::kConfig:
      return "config";
  }
  return "?";
}

std::string_view Name(CaseOutcome o) {
  switch (o) {
    case CaseOutcome::kPass:
      return "pass";
    case CaseOutcome::kUpdated:
      return "updated";
    case CaseOutcome::kRegression:
      return "regression";
    case CaseOutcome::kCrash:
      return "crash";
    case CaseOutcome::kHang:
      return "hang";
    case CaseOutcome::kBadInput:
      return "bad-input";
    case CaseOutcome::kInterrupted:
      return "interrupted";
  }
  return "?";
}

int ExitCodeFor(CaseOutcome outcome, bool checks_failed, int signal) {
  switch (outcome) {
    case CaseOutcome::kPass:
      return ToInt(ExitCode::kOk);
    case CaseOutcome::kUpdated:
      return ToInt(checks_failed ? ExitCode::kFailed : ExitCode::kOk);
    case CaseOutcome::kRegression:
      return ToInt(ExitCode::kFailed);
    case CaseOutcome::kCrash:
      return ToInt(ExitCode::kCrash);
    case CaseOutcome::kHang:
      return ToInt(ExitCode::kHang);
    case CaseOutcome::kBadInput:
      return ToInt(ExitCode::kBadInput);
    case CaseOutcome::kInterrupted:
      return SignalExitCode(signal);
  }
  return ToInt(ExitCode::kBadInput);
}

}  // namespace lockstep::smoke
