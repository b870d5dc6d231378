#include "core/watchdog.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/test_util.h"

namespace lockstep {
namespace {

using ::lockstep::testing::Contains;

Result<ProcessOutcome> Sh(const std::string& script, double timeout,
                          std::vector<std::string>* lines, double grace = 1) {
  WatchOptions o;
  o.idle_timeout = timeout;
  o.grace = grace;
  return RunWatched({"/bin/sh", "-c", script}, o,
                    [&](std::string_view l) { lines->emplace_back(l); });
}

TEST(WatchdogTest, PassesLinesAndTheExitCode) {
  std::vector<std::string> lines;
  Result<ProcessOutcome> r = Sh("echo one; echo two >&2; exit 7", 10, &lines);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_FALSE(r->hung);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(Contains(r->tail, "two"));
}

TEST(WatchdogTest, SignalDeathIsReported) {
  std::vector<std::string> lines;
  Result<ProcessOutcome> r = Sh("kill -SEGV $$", 10, &lines);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->signal, SIGSEGV);
  EXPECT_EQ(r->exit_code, 128 + SIGSEGV);
}

TEST(WatchdogTest, IdleRunIsKilledWithItsWholeGroupAndExit124) {
  std::vector<std::string> lines;
  // A child that ignores SIGTERM and a grandchild sleeping: both must go.
  const auto start = std::chrono::steady_clock::now();
  Result<ProcessOutcome> r =
      Sh("trap '' TERM; echo started; sleep 30 & sleep 30; wait", 0.5, &lines, 0.5);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->hung);
  EXPECT_EQ(r->exit_code, 124);
  EXPECT_EQ(lines, std::vector<std::string>{"started"});
  EXPECT_LT(seconds, 5.0) << "timeout 0.5 s + grace 0.5 s, SIGKILL reaches the whole group";
}

// A line handler that never returns (a regex backtracking without end)
// cannot be interrupted: the watching thread stops the group, then calls
// on_stuck, which ends the process. Here it exits 7 if the command is gone.
TEST(WatchdogTest, AStuckLineHandlerIsTakenOverAfterTheTimeout) {
  const std::string pid_file = ::testing::TempDir() + "/stuck-handler.pid";
  EXPECT_EXIT(
      {
        WatchOptions o;
        o.idle_timeout = 0.5;
        o.grace = 0.5;
        o.on_stuck = [&](bool cancelled) {
          pid_t pid = 0;
          std::ifstream(pid_file) >> pid;
          const bool gone = pid > 0 && ::kill(pid, 0) != 0;
          std::_Exit(cancelled ? 3 : gone ? 7 : 9);
        };
        (void)RunWatched({"/bin/sh", "-c", "echo $$ > " + pid_file + "; echo line; sleep 30"}, o,
                         [](std::string_view) {
                           for (;;) ::pause();
                         });
        std::_Exit(5);  // RunWatched returned: the handler was never taken over
      },
      ::testing::ExitedWithCode(7), "");
}

TEST(WatchdogTest, OutputKeepsTheWatchdogAway) {
  std::vector<std::string> lines;
  Result<ProcessOutcome> r = Sh("for i in 1 2 3 4 5 6; do echo $i; sleep 0.2; done", 0.8, &lines);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->hung);  // 1.2 s in all, never 0.8 s silent
  EXPECT_EQ(lines.size(), 6u);
}

// A command that exits 0 is judged by its exit: a process it left behind
// holding the pipe neither turns it into a hang nor outlives it.
TEST(WatchdogTest, AProcessLeftHoldingThePipeIsNotWaitedForAndIsKilled) {
  std::vector<std::string> lines;
  Result<ProcessOutcome> r = Sh("sleep 300 & echo $!; echo done", 60, &lines, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->hung);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_LT(r->seconds, 30);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "done");
  // Killed with the group: a pidfd becomes readable when it has ended
  // (awaited, not polled); ESRCH if it is gone already.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, std::stoi(lines[0]), 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 10000), 1) << "the left-behind sleep is still running";
    ::close(pidfd);
  } else {
    EXPECT_EQ(errno, ESRCH);
  }
}

TEST(WatchdogTest, MissingCommandIsBadInput) {
  WatchOptions o;
  Result<ProcessOutcome> r = RunWatched({"/nonexistent/trainer"}, o, [](std::string_view) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_TRUE(Contains(r.status().message(), "/nonexistent/trainer"));
}

}  // namespace
}  // namespace lockstep
