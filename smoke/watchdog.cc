#include "smoke/watchdog.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>

namespace lockstep::smoke {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Waits up to `seconds` for the child to exit; true if it did.
bool WaitFor(pid_t pid, int* status, double seconds) {
  const auto start = Clock::now();
  for (;;) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (Since(start) >= seconds) return false;
    ::usleep(10000);  // polling waitpid: no portable way to wait with a timeout
  }
}

}  // namespace

Result<ProcessOutcome> RunWatched(const std::vector<std::string>& argv, const WatchOptions& options,
                                  const std::function<void(std::string_view line)>& on_line) {
  if (argv.empty()) return Status::BadInput("empty command");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return Status::BadInput(std::string("pipe: ") + std::strerror(errno));
  // The exec error travels back through a second pipe, closed on exec.
  int err_fds[2];
  if (::pipe2(err_fds, O_CLOEXEC) != 0)
    return Status::BadInput(std::string("pipe: ") + std::strerror(errno));

  // The child's environment is built here: between fork and exec only
  // async-signal-safe calls are allowed, and setenv is not one.
  std::vector<std::string> env_entries;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& o : options.env) replaced |= o.starts_with(std::string(name) + "=");
    if (!replaced) env_entries.emplace_back(entry);
  }
  env_entries.insert(env_entries.end(), options.env.begin(), options.env.end());
  std::vector<char*> envp;
  for (std::string& e : env_entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  const auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) return Status::BadInput(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (!options.working_dir.empty() && ::chdir(options.working_dir.c_str()) != 0) {
      int e = errno;
      (void)!::write(err_fds[1], &e, sizeof e);
      ::_exit(127);
    }
    ::execvpe(args[0], args.data(), envp.data());
    int e = errno;
    (void)!::write(err_fds[1], &e, sizeof e);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent: no race with the first kill
  ::close(fds[1]);
  ::close(err_fds[1]);
  int exec_errno = 0;
  if (::read(err_fds[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno) {
    ::close(err_fds[0]);
    ::close(fds[0]);
    int status;
    ::waitpid(pid, &status, 0);
    return Status::BadInput(fmt::format("cannot run `{}`: {}; check the case's command or config",
                                        argv[0], std::strerror(exec_errno)));
  }
  ::close(err_fds[0]);

  ProcessOutcome outcome;
  std::deque<std::string> tail;
  std::string partial;
  auto emit = [&](std::string line) {
    on_line(line);
    tail.push_back(std::move(line));
    if (tail.size() > 60) tail.pop_front();  // room for a sanitizer's or MPI's report
  };
  auto last_output = Clock::now();
  bool open = true;
  bool exited = false;  // the command itself; what it left behind may still hold the pipe
  Clock::time_point exited_at;
  int status = 0;
  while (open) {
    if (options.cancel != nullptr && options.cancel->load()) {
      outcome.cancelled = true;
      break;
    }
    const double idle_left = options.idle_timeout - Since(last_output);
    if (idle_left <= 0) {
      outcome.hung = true;
      break;
    }
    // Wake up often enough to see a cancel whose signal arrived just before
    // poll, and the command's own exit.
    const double wait = std::min(idle_left, 0.2);
    pollfd p{fds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, exited ? 50 : static_cast<int>(wait * 1000) + 1);
    if (ready < 0 && errno == EINTR) continue;
    // Exited, and its output drained (or a process it left keeps writing):
    // what it left behind is not waited for.
    if (exited && (ready == 0 || Since(exited_at) > options.grace)) break;
    if (ready <= 0) {
      if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        exited_at = Clock::now();
      }
      continue;  // re-check the idle clock
    }
    char buf[65536];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) {
      open = false;
      break;
    }
    last_output = Clock::now();
    partial.append(buf, static_cast<std::size_t>(n));
    std::size_t at;
    while ((at = partial.find('\n')) != std::string::npos) {
      emit(partial.substr(0, at));
      partial.erase(0, at + 1);
    }
  }
  if (outcome.hung || outcome.cancelled) {
    const auto stopping = Clock::now();
    ::kill(-pid, SIGTERM);
    if (!exited && !WaitFor(pid, &status, options.grace)) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    // The rest of the group gets the same grace to stop: a member may be
    // stopping children of its own (lockstep bisect judge stopping a build).
    while (::kill(-pid, 0) == 0 && Since(stopping) < options.grace) ::usleep(10000);
    outcome.exit_code = outcome.hung ? 124 : 130;
  } else {
    if (!exited) ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) {
      outcome.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      outcome.signal = WTERMSIG(status);
      outcome.exit_code = 128 + outcome.signal;
    }
  }
  ::close(fds[0]);
  if (!partial.empty()) emit(partial);
  // Whatever else is left of the group (a rank that outlived mpirun) goes too.
  ::kill(-pid, SIGKILL);
  outcome.seconds = Since(start);
  for (const std::string& l : tail) outcome.tail += l + "\n";
  return outcome;
}

}  // namespace lockstep::smoke
