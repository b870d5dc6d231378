#include "core/report.h"

#include <cstdlib>
#include <iostream>
#include <string>

namespace lockstep {

int Report(const Status& status) {
  if (status.ok()) return 0;
  const char* kind = status.code() == Status::Code::kRegression ? "regression" : "error";
  // Under mpirun every rank may report the same problem: say which one spoke.
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  std::cerr << "lockstep" << (rank != nullptr ? std::string(" (rank ") + rank + ")" : std::string())
            << ": " << kind << ": " << status.message() << std::endl;
  return status.exit_code();
}

}  // namespace lockstep
