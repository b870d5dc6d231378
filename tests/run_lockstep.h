// Runs the lockstep binary under test (LOCKSTEP_BINARY) as a user would.
#ifndef LOCKSTEP_TESTS_RUN_LOCKSTEP_H_
#define LOCKSTEP_TESTS_RUN_LOCKSTEP_H_

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace lockstep::testing {

struct CommandRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
  double seconds = 0;
};

// `args` go through the shell; test paths contain no spaces.
inline CommandRun Lockstep(const std::string& args) {
  const auto start = std::chrono::steady_clock::now();
  CommandRun run;
  FILE* pipe = ::popen((std::string(LOCKSTEP_BINARY) + " " + args + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) run.output.append(buf, n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace lockstep::testing

#endif  // LOCKSTEP_TESTS_RUN_LOCKSTEP_H_
