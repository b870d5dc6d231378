// RunCapture: run a short command (git, mostly) to completion and keep its
// stdout and stderr apart. For long runs that need a watchdog, see
// core/watchdog.h.
#ifndef LOCKSTEP_CORE_SUBPROCESS_H_
#define LOCKSTEP_CORE_SUBPROCESS_H_

#include <string>
#include <vector>

#include "core/status.h"

namespace lockstep {

struct Captured {
  int exit_code = 0;  // 128 + signal when a signal ended it
  std::string out;
  std::string err;
};

// BadInput only when the command cannot be started; any exit code is a result.
Result<Captured> RunCapture(const std::vector<std::string>& argv,
                            const std::string& working_dir = "");

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_SUBPROCESS_H_
