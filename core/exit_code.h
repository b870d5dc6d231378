// ExitCode: the exit statuses lockstep's commands use, in one place. Each
// outcome type (a smoke case's, a bisect judgement's, a Status) maps to one
// of these through one function beside it.
#ifndef LOCKSTEP_CORE_EXIT_CODE_H_
#define LOCKSTEP_CORE_EXIT_CODE_H_

namespace lockstep {

enum class ExitCode : int {
  kOk = 0,            // pass; found what was asked
  kFailed = 1,        // a regression; nothing found
  kBadInput = 2,      // a file, flag or config to fix
  kCrash = 3,         // the trainer crashed or produced non-finite values
  kHang = 124,        // the watchdog fired (as GNU timeout reports it)
  kSkip = 125,        // git bisect run: this commit cannot be judged
  kInterrupted = 130  // Ctrl-C without a known signal; see SignalExitCode
};

constexpr int ToInt(ExitCode code) {
  return static_cast<int>(code);
}

// A run ended by a signal: 128 + the signal (130 for SIGINT, 143 for SIGTERM),
// or 130 when the signal is not known.
constexpr int SignalExitCode(int signal) {
  return signal > 0 ? 128 + signal : ToInt(ExitCode::kInterrupted);
}

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_EXIT_CODE_H_
