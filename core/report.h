// Report: how a failed Status reaches the user, from the command line or
// from a thread that must end the process (a watchdog taking over).
#ifndef LOCKSTEP_CORE_REPORT_H_
#define LOCKSTEP_CORE_REPORT_H_

#include "core/status.h"

namespace lockstep {

// Prints a failed status on stderr as "lockstep: error: ..." (or
// "regression:"; under mpirun with the rank that spoke) and returns the exit
// code docs/design.md assigns it; 0, printing nothing, for an ok status.
int Report(const Status& status);

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_REPORT_H_
