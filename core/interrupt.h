// InterruptScope: while one lives, SIGINT, SIGTERM and SIGHUP (Ctrl-C, a CI
// job's cancel, a closed terminal) do not kill lockstep outright; they set a
// flag that the subprocess watchdog polls, so the process groups lockstep
// started are ended first (SIGTERM, then SIGKILL after the grace period).
// Then lockstep exits 128 + the signal, as the shell would have reported.
#ifndef LOCKSTEP_CORE_INTERRUPT_H_
#define LOCKSTEP_CORE_INTERRUPT_H_

#include <atomic>
#include <string>

namespace lockstep {

class InterruptScope {
 public:
  InterruptScope();   // installs the handlers (without SA_RESTART: blocking calls return)
  ~InterruptScope();  // restores the previous ones
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

  // True once one of the signals arrived; what the watchdog's `cancel` points at.
  static const std::atomic<bool>& Flag();
  static bool Interrupted() { return Flag().load(); }
  // The signal that arrived first; 0 if none.
  static int Signal();
  // "SIGTERM" and so on for Signal(), for messages; "a signal" if none.
  static std::string SignalName();
  // 128 + Signal(): the exit code of a run that was interrupted.
  static int ExitCode() { return 128 + Signal(); }
  // Clears the flag (tests, and a bisect that runs again in one process).
  static void Reset();

 private:
  static constexpr int kSignals[3] = {2 /*SIGINT*/, 15 /*SIGTERM*/, 1 /*SIGHUP*/};
  struct Saved;
  Saved* saved_;
};

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_INTERRUPT_H_
