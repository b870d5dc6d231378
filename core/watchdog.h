// RunWatched: run a command as a subprocess under a stdout-idle watchdog.
//
// The child runs in a process group of its own (so mpirun's ranks are
// reached too). Its stdout and stderr arrive merged, line by line, through
// `on_line`. If it prints nothing for `idle_timeout` seconds the whole group
// gets SIGTERM, then SIGKILL after `grace` seconds, and the outcome is a hang
// with exit code 124, as GNU timeout reports it. A command that exits is
// judged by its exit code and output: once its output is drained, processes it
// left behind holding the pipe are not waited for; the group is killed.
//
// `on_line` itself is watched too, from a thread of its own: a call that has
// not returned after `idle_timeout` seconds, or is still running when
// `cancel` turns true, cannot be interrupted (a user's regex backtracking in
// std::regex_search), so the group is stopped from that thread and
// `on_stuck` is called there; it must end the process.
#ifndef LOCKSTEP_CORE_WATCHDOG_H_
#define LOCKSTEP_CORE_WATCHDOG_H_

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace lockstep {

struct ProcessOutcome {
  int exit_code = 0;       // the child's exit code; 124 when the watchdog fired; 128 + signal
  int signal = 0;          // the signal that ended it, if one did (not counting ours)
  bool hung = false;       // the watchdog fired
  bool cancelled = false;  // `cancel` turned true (exit code 130, as after Ctrl-C)
  double seconds = 0;      // wall time
  std::string tail;        // the last lines of output, for reports
};

struct WatchOptions {
  double idle_timeout = 60;  // seconds without output before the watchdog fires
  double grace = 5;          // seconds between SIGTERM and SIGKILL
  std::string working_dir;   // "" = inherit
  // "NAME=value" entries set in the child's environment (over the parent's).
  std::vector<std::string> env;
  // When this turns true (a signal handler's flag), the group gets SIGTERM,
  // then SIGKILL after `grace`, as on a hang.
  const std::atomic<bool>* cancel = nullptr;
  // Called, on the watching thread and after the group is stopped, when
  // `on_line` is stuck (above); `cancelled` says whether a cancel came first.
  // Must not return. Without it, a stuck `on_line` is waited for.
  std::function<void(bool cancelled)> on_stuck;
};

// BadInput if the command cannot be started (empty argv, not found).
Result<ProcessOutcome> RunWatched(const std::vector<std::string>& argv, const WatchOptions& options,
                                  const std::function<void(std::string_view line)>& on_line);

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_WATCHDOG_H_
