#include "core/watchdog.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace lockstep {
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

// "NAME=value" entries: the parent's environment with `overrides` over it.
// Built before fork: between fork and exec only async-signal-safe calls are
// allowed, and setenv is not one.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> entries;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& o : overrides) replaced |= o.starts_with(std::string(name) + "=");
    if (!replaced) entries.emplace_back(entry);
  }
  entries.insert(entries.end(), overrides.begin(), overrides.end());
  return entries;
}

// A started command: its pid, which is also its process group, and the read
// end of its merged stdout and stderr.
struct Child {
  pid_t pid = 0;
  int out = -1;
};

Result<Child> Spawn(const std::vector<std::string>& argv, const WatchOptions& options) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Status::BadInput(std::string("pipe: ") + std::strerror(errno));
  }
  // The exec error travels back through a second pipe, closed on exec.
  int err_fds[2];
  if (::pipe2(err_fds, O_CLOEXEC) != 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::BadInput(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<std::string> env_entries = ChildEnvironment(options.env);
  std::vector<char*> envp;
  for (std::string& e : env_entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return Status::BadInput(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (options.working_dir.empty() || ::chdir(options.working_dir.c_str()) == 0) {
      ::execvpe(args[0], args.data(), envp.data());
    }
    int e = errno;
    (void)!::write(err_fds[1], &e, sizeof e);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent: no race with the first kill
  ::close(fds[1]);
  ::close(err_fds[1]);
  int exec_errno = 0;
  const bool failed = ::read(err_fds[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno;
  ::close(err_fds[0]);
  if (failed) {
    ::close(fds[0]);
    int status;
    ::waitpid(pid, &status, 0);
    return Status::BadInput(fmt::format("cannot run `{}`: {}; check the case's command or config",
                                        argv[0], std::strerror(exec_errno)));
  }
  return Child{pid, fds[0]};
}

// Where the reading stopped, and the child's wait status if it exited.
struct Pumped {
  bool exited = false;  // the command itself; what it left behind may still hold the pipe
  int status = 0;
};

// Reads the child's output, a line at a time into `emit`, until the pipe
// closes, the command has exited and its output is drained, the watchdog
// fires (outcome->hung) or `cancel` turns true (outcome->cancelled). The
// last unterminated piece stays in *partial.
Pumped Pump(const Child& child, const WatchOptions& options,
            const std::function<void(std::string)>& emit, std::string* partial,
            ProcessOutcome* outcome) {
  Pumped p;
  auto last_output = Clock::now();
  Clock::time_point exited_at;
  for (;;) {
    if (options.cancel != nullptr && options.cancel->load()) {
      outcome->cancelled = true;
      return p;
    }
    const double idle_left = options.idle_timeout - Since(last_output);
    if (idle_left <= 0) {
      outcome->hung = true;
      return p;
    }
    // Wake up often enough to see a cancel whose signal arrived just before
    // poll, and the command's own exit.
    const double wait = std::min(idle_left, 0.2);
    pollfd poll_out{child.out, POLLIN, 0};
    int ready = ::poll(&poll_out, 1, p.exited ? 50 : static_cast<int>(wait * 1000) + 1);
    if (ready < 0 && errno == EINTR) continue;
    // Exited, and its output drained (or a process it left keeps writing):
    // what it left behind is not waited for.
    if (p.exited && (ready == 0 || Since(exited_at) > options.grace)) return p;
    if (ready <= 0) {
      if (!p.exited && ::waitpid(child.pid, &p.status, WNOHANG) == child.pid) {
        p.exited = true;
        exited_at = Clock::now();
      }
      continue;  // re-check the idle clock
    }
    char buf[65536];
    ssize_t n = ::read(child.out, buf, sizeof buf);
    if (n <= 0) return p;
    last_output = Clock::now();
    partial->append(buf, static_cast<std::size_t>(n));
    std::size_t at;
    while ((at = partial->find('\n')) != std::string::npos) {
      emit(partial->substr(0, at));
      partial->erase(0, at + 1);
    }
  }
}

// After a hang or a cancel: SIGTERM to the group, SIGKILL to the command
// after `grace`, and the same grace for the rest of the group.
void StopGroup(const Child& child, const WatchOptions& options, Pumped* p) {
  const auto stopping = Clock::now();
  ::kill(-child.pid, SIGTERM);
  if (!p->exited && !WaitFor(child.pid, &p->status, options.grace)) {
    ::kill(-child.pid, SIGKILL);
    ::waitpid(child.pid, &p->status, 0);
  }
  // A member may be stopping children of its own (lockstep bisect judge
  // stopping a build).
  while (::kill(-child.pid, 0) == 0 && Since(stopping) < options.grace) ::usleep(10000);
}

// Watches the calls of `on_line` from a thread of its own (see the header):
// one stuck for `idle_timeout` seconds, or running when a cancel comes, is
// taken over: the group is stopped and `on_stuck` ends the process.
class LineGuard {
 public:
  LineGuard(const Child& child, const WatchOptions& options) : child_(child), options_(options) {
    if (options_.on_stuck) watcher_ = std::thread([this] { Watch(); });
  }
  ~LineGuard() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    wake_.notify_all();
    if (watcher_.joinable()) watcher_.join();
  }
  LineGuard(const LineGuard&) = delete;
  LineGuard& operator=(const LineGuard&) = delete;

  // Without on_stuck nothing watches, and a line costs no lock.
  void Enter() {
    if (!watcher_.joinable()) return;
    std::lock_guard<std::mutex> lock(mu_);
    busy_ = true;
    busy_since_ = Clock::now();
  }
  void Leave() {
    if (!watcher_.joinable()) return;
    std::unique_lock<std::mutex> lock(mu_);
    // Taken over while it ran: on_stuck is ending the process.
    if (taken_) wake_.wait(lock, [] { return false; });
    busy_ = false;
  }

 private:
  void Watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!done_) {
      wake_.wait_for(lock, std::chrono::milliseconds(100));
      if (done_ || !busy_) continue;
      const bool cancelled = options_.cancel != nullptr && options_.cancel->load();
      if (!cancelled && Since(busy_since_) < options_.idle_timeout) continue;
      taken_ = true;
      lock.unlock();
      Pumped unknown;  // the reading thread may or may not have reaped the command
      StopGroup(child_, options_, &unknown);
      options_.on_stuck(cancelled);
      std::abort();  // on_stuck must not return
    }
  }

  const Child child_;
  const WatchOptions& options_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool busy_ = false, taken_ = false, done_ = false;
  Clock::time_point busy_since_;
  std::thread watcher_;
};

}  // namespace

Result<ProcessOutcome> RunWatched(const std::vector<std::string>& argv, const WatchOptions& options,
                                  const std::function<void(std::string_view line)>& on_line) {
  if (argv.empty()) return Status::BadInput("empty command");
  const auto start = Clock::now();
  Result<Child> child = Spawn(argv, options);
  if (!child.ok()) return child.status();
  ProcessOutcome outcome;
  std::deque<std::string> tail;
  LineGuard guard(*child, options);
  auto emit = [&](std::string line) {
    guard.Enter();
    on_line(line);
    guard.Leave();
    tail.push_back(std::move(line));
    if (tail.size() > 60) tail.pop_front();  // room for a sanitizer's or MPI's report
  };
  std::string partial;
  Pumped pumped = Pump(*child, options, emit, &partial, &outcome);
  if (outcome.hung || outcome.cancelled) {
    StopGroup(*child, options, &pumped);
    outcome.exit_code = outcome.hung ? 124 : 130;
  } else {
    if (!pumped.exited) ::waitpid(child->pid, &pumped.status, 0);
    if (WIFEXITED(pumped.status)) {
      outcome.exit_code = WEXITSTATUS(pumped.status);
    } else if (WIFSIGNALED(pumped.status)) {
      outcome.signal = WTERMSIG(pumped.status);
      outcome.exit_code = 128 + outcome.signal;
    }
  }
  ::close(child->out);
  if (!partial.empty()) emit(partial);
  // Whatever else is left of the group (a rank that outlived mpirun) goes too.
  ::kill(-child->pid, SIGKILL);
  outcome.seconds = Since(start);
  for (const std::string& l : tail) outcome.tail += l + "\n";
  return outcome;
}

}  // namespace lockstep
