#include "bisect/commit_bisect.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bisect/build_cache.h"
#include "bisect/git.h"
#include "core/atomic_file.h"
#include "core/digest.h"
#include "core/exit_code.h"
#include "core/interrupt.h"
#include "core/subprocess.h"
#include "core/watchdog.h"
#include "smoke/smoke_case.h"
#include "smoke/suite.h"

namespace lockstep::bisect {
namespace fs = std::filesystem;

namespace {

// An oracle command that could not be started at all: not a verdict on the
// commit, a mistake in the bisect's own command line.
constexpr int kOracleCannotRun = -1;
// --build none: nothing to build (a trainer that runs from its sources).
constexpr const char* kNoBuild = "none";

std::string Short(const std::string& hash) {
  return hash.substr(0, 10);
}

bool OnPath(const char* program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// The core count is the shell's to find ($(nproc)): the command is part of
// the cache key, which must not change from one machine to the next.
std::string DefaultBuild() {
  return fmt::format(
      "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release{} && cmake --build build -j\"$(nproc)\" "
      "--target lockstep",
      OnPath("ccache") ? " -DCMAKE_CXX_COMPILER_LAUNCHER=ccache" : "");
}

std::string DefaultCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return (fs::path(xdg) / "lockstep" / "bisect").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home != nullptr ? home : "/tmp") / ".cache" / "lockstep" / "bisect").string();
}

// The state BisectCommits hands to JudgeCommit through a file: the options
// as resolved, the worktree, and where judgements go.
struct State {
  CommitBisectOptions options;
  std::string worktree;
  std::string judgements;  // JSON lines, appended
  std::string cache;       // this build command's part of the cache
};

nlohmann::json ToJson(const State& s) {
  const CommitBisectOptions& o = s.options;
  return {
      {"build", o.build},           {"artifacts", o.artifacts}, {"trainer", o.trainer},
      {"case", o.case_path},        {"command", o.command},     {"hang_is_skip", o.hang_is_skip},
      {"timeout", o.timeout},       {"self", o.self},           {"worktree", s.worktree},
      {"judgements", s.judgements}, {"cache", s.cache}};
}

Result<State> LoadState(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  try {
    const nlohmann::json j = nlohmann::json::parse(*text);
    State s;
    s.options.build = j.at("build").get<std::string>();
    s.options.artifacts = j.at("artifacts").get<std::vector<std::string>>();
    s.options.trainer = j.at("trainer").get<std::string>();
    s.options.case_path = j.at("case").get<std::string>();
    s.options.command = j.at("command").get<std::vector<std::string>>();
    s.options.hang_is_skip = j.at("hang_is_skip").get<bool>();
    s.options.timeout = j.at("timeout").get<double>();
    s.options.self = j.at("self").get<std::string>();
    s.worktree = j.at("worktree").get<std::string>();
    s.judgements = j.at("judgements").get<std::string>();
    s.cache = j.at("cache").get<std::string>();
    return s;
  } catch (const std::exception& e) {
    return Status::BadInput(fmt::format("{}: not a bisect state file ({})", path, e.what()));
  }
}

template <typename Enum, std::size_t N>
Enum FromName(std::string_view name, const Enum (&all)[N]) {
  for (Enum e : all) {
    if (Name(e) == name) return e;
  }
  throw std::invalid_argument("unknown name " + std::string(name));
}
constexpr BuildState kBuildStates[] = {BuildState::kNone, BuildState::kBuilt, BuildState::kCached,
                                       BuildState::kFailed, BuildState::kCachedFailure};
constexpr Verdict kVerdicts[] = {Verdict::kGood, Verdict::kBad, Verdict::kSkip,
                                 Verdict::kInterrupted, Verdict::kUnrunnable};

nlohmann::json ToJson(const Judgement& j) {
  return {{"commit", j.commit},
          {"tree", j.tree},
          {"build", Name(j.build)},
          {"build_seconds", j.build_seconds},
          {"ran", j.ran},
          {"exit_code", j.exit_code},
          {"verdict", Name(j.verdict)},
          {"summary", j.summary},
          {"record", j.record}};
}

std::vector<Judgement> LoadJudgements(const std::string& path) {
  std::vector<Judgement> all;
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return all;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      all.push_back({j.at("commit"), j.at("tree"),
                     FromName(j.at("build").get<std::string>(), kBuildStates),
                     j.at("build_seconds"), j.at("ran"), j.at("exit_code"),
                     FromName(j.at("verdict").get<std::string>(), kVerdicts), j.at("summary"),
                     j.value("record", "")});
    } catch (const std::exception&) {
      // a line cut short by an interrupted judge: not a judgement
    }
  }
  return all;
}

void AppendJudgement(const std::string& path, const Judgement& j) {
  const std::string line = ToJson(j).dump() + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!::write(fd, line.data(), line.size());  // one write: whole lines even if appended twice
  ::close(fd);
}

std::string LastLine(const std::string& text) {
  std::string s = text;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  const std::size_t at = s.rfind('\n');
  return at == std::string::npos ? s : s.substr(at + 1);
}

// Builds (or restores) the worktree's commit. Returns the judgement's build
// fields; `ok` false means skip.
bool Build(const State& state, const std::string& tree, Judgement& j, std::ostream& out) {
  const CommitBisectOptions& o = state.options;
  if (o.build == kNoBuild) {  // a trainer that runs from its sources (Python)
    j.build = BuildState::kNone;
    return true;
  }
  BuildCache cache(state.cache);
  if (std::optional<CachedBuild> cached = cache.Find(tree)) {
    if (!cached->ok) {
      j.build = BuildState::kCachedFailure;
      j.summary = "the build failed (cached): " + LastLine(cached->log_tail);
      return false;
    }
    Status restored = cache.Restore(tree, state.worktree, o.artifacts);
    if (restored.ok()) {
      j.build = BuildState::kCached;
      j.build_seconds = cached->seconds;
      return true;
    }
    out << "    " << restored.message() << "; building again\n";
  }
  out << fmt::format("    building: {}\n", o.build) << std::flush;
  WatchOptions wo;
  wo.idle_timeout = o.timeout;
  wo.working_dir = state.worktree;
  wo.cancel = &InterruptScope::Flag();
  std::string log;
  Result<ProcessOutcome> r = RunWatched(
      {"sh", "-c", o.build}, wo, [&](std::string_view line) { log += std::string(line) + "\n"; });
  CachedBuild result;
  result.ok = r.ok() && r->exit_code == 0;
  result.seconds = r.ok() ? r->seconds : 0;
  if (!result.ok) result.log_tail = r.ok() ? r->tail : r.status().message();
  j.build = result.ok ? BuildState::kBuilt : BuildState::kFailed;
  j.build_seconds = result.seconds;
  if (InterruptScope::Interrupted()) return false;  // never cache a build we cut short
  if (Status st = cache.Store(tree, result, state.worktree, o.artifacts); !st.ok()) {
    out << "    " << st.message() << "\n";
    if (result.ok) {
      j.build = BuildState::kFailed;
      j.summary = st.message();
      return false;
    }
  }
  if (!result.ok) {
    j.summary = "the build failed: " + LastLine(result.log_tail);
    out << "    build failed; its last lines:\n";
    std::istringstream tail(result.log_tail);
    for (std::string line; std::getline(tail, line);) out << "    | " << line << "\n";
  }
  return result.ok;
}

// Runs the oracle on the built worktree: the case's exit code or the command's.
void Judge(const State& state, Judgement& j, std::ostream& out) {
  const CommitBisectOptions& o = state.options;
  j.ran = true;
  if (!o.case_path.empty()) {
    Result<smoke::SmokeCase> c = smoke::LoadSmokeCase(o.case_path);
    if (!c.ok()) {
      j.exit_code = 2;
      j.summary = c.status().message();
      return;
    }
    smoke::SmokeOptions so;
    const fs::path trainer(o.trainer.empty() ? o.self : o.trainer);
    so.lockstep_binary =
        trainer.is_absolute() ? trainer.string() : (fs::path(state.worktree) / trainer).string();
    so.timeout = o.timeout;
    so.live = false;
    so.command_dir = state.worktree;
    so.cancel = &InterruptScope::Flag();
    so.work_dir = (fs::path(state.judgements).parent_path() / "runs" / j.commit).string();
    std::ostringstream quiet;
    smoke::CaseResult r = smoke::RunCase(*c, so, quiet);
    j.exit_code = r.exit_code;
    j.record = r.record_path;
    const std::string& said = r.message.empty() ? r.comparison.summary : r.message;
    const std::string outcome(smoke::Name(r.outcome));
    j.summary = r.outcome == smoke::CaseOutcome::kPass ? "pass: " + r.comparison.summary
                : said.starts_with(outcome + ":")      ? said
                                                       : outcome + ": " + said;
    j.summary = j.summary.substr(0, j.summary.find('\n'));
    return;
  }
  WatchOptions wo;
  wo.idle_timeout = o.timeout;
  wo.working_dir = state.worktree;
  wo.cancel = &InterruptScope::Flag();
  Result<ProcessOutcome> r =
      RunWatched(o.command, wo, [&](std::string_view line) { out << "    | " << line << "\n"; });
  if (!r.ok()) {
    j.exit_code = kOracleCannotRun;
    j.summary = r.status().message();
    return;
  }
  j.exit_code = r->exit_code;
  if (r->exit_code == 126 || r->exit_code == 127) {  // a shell's "not executable" and "not found"
    j.exit_code = kOracleCannotRun;
    j.summary =
        fmt::format("exit {} (the shell could not run it): {}", r->exit_code, LastLine(r->tail));
    return;
  }
  j.summary = r->hung ? fmt::format("hang: no output for {} s", o.timeout)
                      : fmt::format("exit {}: {}", r->exit_code, LastLine(r->tail));
}

Verdict VerdictOf(int exit_code, bool hang_is_skip) {
  if (exit_code == kOracleCannotRun) return Verdict::kUnrunnable;
  if (exit_code == ToInt(ExitCode::kOk)) return Verdict::kGood;
  if (exit_code == ToInt(ExitCode::kSkip) || exit_code == ToInt(ExitCode::kBadInput))
    return Verdict::kSkip;  // untestable here: a config this commit rejects
  const bool hang_or_crash = exit_code == ToInt(ExitCode::kHang) ||
                             exit_code == ToInt(ExitCode::kCrash) || exit_code > 128;
  if (hang_or_crash && hang_is_skip) return Verdict::kSkip;
  return Verdict::kBad;
}

// Judges whatever the worktree has checked out.
Judgement JudgeHead(const State& state, std::ostream& out) {
  Judgement j;
  Result<GitRepo> wt = GitRepo::Open(state.worktree);
  Result<std::string> head =
      wt.ok() ? wt->Run({"rev-parse", "HEAD"}) : Result<std::string>(wt.status());
  Result<std::string> tree = head.ok() ? wt->TreeOf(*head) : Result<std::string>(head.status());
  if (!tree.ok()) {
    j.verdict = Verdict::kSkip;
    j.summary = tree.status().message();
    return j;
  }
  j.commit = *head;
  j.tree = *tree;
  Result<std::string> subject = wt->Run({"show", "-s", "--format=%s", j.commit});
  out << fmt::format("  {} {}\n", Short(j.commit), subject.ok() ? *subject : "") << std::flush;
  if (Build(state, j.tree, j, out) && !InterruptScope::Interrupted()) Judge(state, j, out);
  j.verdict = InterruptScope::Interrupted() ? Verdict::kInterrupted
              : j.ran                       ? VerdictOf(j.exit_code, state.options.hang_is_skip)
                                            : Verdict::kSkip;
  out << fmt::format("    {}{}, {} -> {}\n", Name(j.build),
                     j.build_seconds > 0 ? fmt::format(" ({:.1f} s)", j.build_seconds) : "",
                     j.summary.empty() ? "no run" : j.summary, Name(j.verdict))
      << std::flush;
  if (!InterruptScope::Interrupted()) AppendJudgement(state.judgements, j);
  return j;
}

// What `bisect judge` tells git bisect run.
int ExitCodeFor(Verdict verdict) {
  switch (verdict) {
    case Verdict::kGood:
      return ToInt(ExitCode::kOk);
    case Verdict::kBad:
      return ToInt(ExitCode::kFailed);
    case Verdict::kInterrupted:
      return ToInt(ExitCode::kInterrupted);
    case Verdict::kUnrunnable:
      return 128;  // above 127: git bisect run stops
    case Verdict::kSkip:
      break;
  }
  return ToInt(ExitCode::kSkip);
}

// Removes the worktree and the run's directory however BisectCommits ends.
class WorktreeGuard {
 public:
  WorktreeGuard(const GitRepo& repo, std::string work, std::string worktree)
      : repo_(repo), work_(std::move(work)), worktree_(std::move(worktree)) {}
  ~WorktreeGuard() {
    if (added_) {
      (void)repo_.RunRaw({"worktree", "remove", "--force", worktree_});
      (void)repo_.RunRaw({"worktree", "prune"});
    }
    std::error_code ec;
    fs::remove_all(work_, ec);
  }
  void set_added() { added_ = true; }

 private:
  const GitRepo& repo_;
  std::string work_;
  std::string worktree_;
  bool added_ = false;
};

// Another trainer's case: the parent's and the culprit's trees exported
// beside the bisect log (with their cached artifacts, if the build made
// any), and the `bisect steps` command that re-runs the case's command in
// each. "" when something it needs is missing.
std::string ExternalStepsCommand(const State& state, const std::string& golden, const GitRepo& repo,
                                 const std::string& parent, const Judgement* at_culprit,
                                 const std::string& log_path, std::ostream& out) {
  const CommitBisectOptions& o = state.options;
  if (golden.empty() || at_culprit == nullptr || at_culprit->record.empty()) return "";
  const fs::path stem = fs::path(log_path).replace_extension("");
  const std::string record = stem.string() + ".culprit.toml";
  std::error_code ec;
  fs::copy_file(at_culprit->record, record, fs::copy_options::overwrite_existing, ec);
  if (ec) return "";
  std::string dirs[2];
  const std::string commits[2] = {parent, at_culprit->commit};
  const char* roles[2] = {"parent", "culprit"};
  for (int i = 0; i < 2; ++i) {
    dirs[i] = fmt::format("{}.{}-{}", stem.string(), roles[i], Short(commits[i]));
    fs::remove_all(dirs[i], ec);
    fs::create_directories(dirs[i], ec);
    if (ec) return "";
    // An export, not a worktree: nothing is left registered in the user's repository.
    Result<Captured> exported =
        RunCapture({"sh", "-c", "git -C \"$0\" archive \"$1\" | tar -x -C \"$2\"", repo.root(),
                    commits[i], dirs[i]});
    if (!exported.ok() || exported->exit_code != 0) {
      out << fmt::format("  could not export {} into {}: {}\n", Short(commits[i]), dirs[i],
                         exported.ok() ? exported->err : exported.status().message());
      return "";
    }
    if (o.build != kNoBuild) {
      Result<std::string> tree = repo.Run({"rev-parse", commits[i] + "^{tree}"});
      if (!tree.ok() || !BuildCache(state.cache).Restore(*tree, dirs[i], o.artifacts).ok()) {
        return "";
      }
    }
  }
  return fmt::format("lockstep bisect steps {} {} --case {} --dir-a {} --dir-b {}", golden, record,
                     o.case_path, dirs[0], dirs[1]);
}

// The `lockstep bisect steps` command for the culprit, when everything it
// needs exists: the culprit's diverged run (copied beside the bisect log,
// since the run's directory goes), the case's golden, and the trainer as a
// worktree artifact cached for the parent and the culprit.
std::string StepsCommand(const State& state, const std::string& golden, const GitRepo& repo,
                         const std::string& parent, const Judgement* at_culprit,
                         const std::string& log_path) {
  const CommitBisectOptions& o = state.options;
  if (golden.empty() || at_culprit == nullptr || at_culprit->record.empty()) return "";
  if (o.trainer.empty() || fs::path(o.trainer).is_absolute()) return "";
  Result<std::string> parent_tree = repo.Run({"rev-parse", parent + "^{tree}"});
  if (!parent_tree.ok()) return "";
  const BuildCache cache(state.cache);
  const std::optional<std::string> binary_a = cache.ArtifactPath(*parent_tree, o.trainer);
  const std::optional<std::string> binary_b = cache.ArtifactPath(at_culprit->tree, o.trainer);
  if (!binary_a || !binary_b) return "";
  const std::string record = fs::path(log_path).replace_extension(".culprit.jsonl").string();
  std::error_code ec;
  fs::copy_file(at_culprit->record, record, fs::copy_options::overwrite_existing, ec);
  if (ec) return "";
  return fmt::format("lockstep bisect steps {} {} --binary-a {} --binary-b {}", golden, record,
                     *binary_a, *binary_b);
}

const Judgement* LastJudgementOf(const std::vector<Judgement>& all, const std::string& commit) {
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->commit == commit) return &*it;
  }
  return nullptr;
}

}  // namespace

int JudgeCommit(const std::string& state_path, std::ostream& out) {
  InterruptScope interrupts;
  Result<State> state = LoadState(state_path);
  if (!state.ok()) {
    out << "lockstep bisect judge: " << state.status().message() << "\n";
    return 128;  // above 127: git bisect run stops
  }
  return ExitCodeFor(JudgeHead(*state, out).verdict);
}

namespace {

// The commits --good and --bad name, checked to be a range git can bisect.
struct CommitRange {
  std::string good, bad;
};

Result<CommitRange> ResolveRange(const GitRepo& repo, const CommitBisectOptions& options) {
  Result<std::string> good = repo.ResolveCommit(options.good, "--good");
  if (!good.ok()) return good.status();
  Result<std::string> bad = repo.ResolveCommit(options.bad, "--bad");
  if (!bad.ok()) return bad.status();
  if (*good == *bad) {
    return Status::BadInput(
        fmt::format("--good {} and --bad {} are the same commit: there is no range to bisect",
                    options.good, options.bad));
  }
  Result<bool> ordered = repo.IsAncestor(*good, *bad);
  if (!ordered.ok()) return ordered.status();
  if (!*ordered) {
    return Status::BadInput(fmt::format(
        "--good {} is not an ancestor of --bad {}: not a range git can bisect (swapped? check "
        "git log --oneline {}..{})",
        options.good, options.bad, options.bad, options.good));
  }
  return CommitRange{*good, *bad};
}

// The oracle's case, loaded now so that bad input is an error before any commit.
struct Oracle {
  std::string golden;  // the case's, from the user's checkout ("" for a command)
  bool external_case = false;
};

// Fills the defaults of `o` (the build, its artifacts, the cache) and checks the oracle.
Result<Oracle> CompleteOptions(State& state, std::string* cache_root) {
  CommitBisectOptions& o = state.options;
  if (o.build.empty()) {
    o.build = DefaultBuild();
    if (o.artifacts.empty()) o.artifacts = {"build/cli/lockstep"};
    if (o.trainer.empty()) o.trainer = "build/cli/lockstep";
  }
  if (o.case_path.empty() == o.command.empty()) {
    return Status::BadInput(
        "give the oracle: --case CASE (a smoke case and its golden) or -- CMD... (its exit code)");
  }
  Oracle oracle;
  if (!o.case_path.empty()) {
    o.case_path = fs::absolute(o.case_path).string();
    Result<smoke::SmokeCase> c = smoke::LoadSmokeCase(o.case_path);
    if (!c.ok()) return c.status();
    oracle.golden = c->golden;
    oracle.external_case = c->external();
    if (!fs::exists(c->golden)) {
      return Status::BadInput(
          fmt::format("--case {}: its golden {} does not exist; record it first with "
                      "lockstep smoke --update",
                      o.case_path, c->golden));
    }
  }
  *cache_root = o.cache_dir.empty() ? DefaultCacheDir() : o.cache_dir;
  const std::string build_key = o.build + "\n" + fmt::format("{}", fmt::join(o.artifacts, "\n"));
  state.cache =
      (fs::path(*cache_root) / Hex64(Xxh3_64(build_key.data(), build_key.size()))).string();
  return oracle;
}

void PrintPlan(const State& state, const GitRepo& repo, const CommitRange& range,
               const std::string& count, std::ostream& out) {
  const CommitBisectOptions& o = state.options;
  out << fmt::format("bisecting {} commits: good {}, bad {}\n", count, Short(range.good),
                     Short(range.bad));
  out << fmt::format("  repository {} (untouched: the commits are checked out in {})\n",
                     repo.root(), state.worktree);
  out << fmt::format("  build      {}\n  cache      {}\n", o.build, state.cache);
  out << fmt::format("  oracle     {}\n\n",
                     o.case_path.empty() ? fmt::format("`{}` exit code", fmt::join(o.command, " "))
                                         : "smoke case " + o.case_path);
}

// An oracle command that could not be run (exit 126 or 127) is bad input,
// not a verdict on the commits.
Status CheckOracleRan(const CommitBisectOptions& o, const std::vector<Judgement>& judgements) {
  for (const Judgement& j : judgements) {
    if (j.verdict != Verdict::kUnrunnable) continue;
    return Status::BadInput(
        fmt::format("the oracle `{}` cannot be run at {}: {}. A command is run in the commit's "
                    "worktree: give a path that exists there, or an absolute one",
                    fmt::join(o.command, " "), Short(j.commit), j.summary));
  }
  return Status::Ok();
}

// `git bisect log` at `path`, for `git bisect replay`.
Status SaveBisectLog(const GitRepo& wt, const std::string& path) {
  Result<std::string> log = wt.Run({"bisect", "log"});
  if (!log.ok()) return Status::Ok();  // git has no log to give: nothing to keep
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  return WriteFileAtomically(path, *log + "\n");
}

// What `git bisect run` printed, and the judgements its judge wrote.
struct GitBisectRun {
  std::string transcript;
  bool interrupted = false;
};

// Runs `git bisect run lockstep bisect judge` in the worktree, showing the
// judge's lines and git's progress.
Result<GitBisectRun> RunGitBisect(const State& state, const std::string& state_path,
                                  std::ostream& out) {
  GitBisectRun run;
  bool answered = false;
  WatchOptions wo;
  wo.idle_timeout = 1e9;  // each build and run has its own watchdog
  wo.working_dir = state.worktree;
  wo.cancel = &InterruptScope::Flag();
  Result<ProcessOutcome> outcome = RunWatched(
      {"git", "bisect", "run", state.options.self, "bisect", "judge", "--state", state_path}, wo,
      [&](std::string_view line) {
        run.transcript += std::string(line) + "\n";
        // The judge's lines and git's progress are what people read; git's
        // "running ..." and its account of the answer (said better later) are not.
        if (line.find("is the first bad commit") != std::string_view::npos) answered = true;
        if (!answered && (line.starts_with("  ") || line.starts_with("Bisecting:"))) {
          out << line << "\n" << std::flush;
        }
      });
  if (!outcome.ok()) return outcome.status();
  run.interrupted = outcome->cancelled || InterruptScope::Interrupted();
  return run;
}

// git prints "<40 hex digits> is the first bad commit": that commit, or "".
std::string CulpritOf(const std::string& transcript) {
  const std::size_t answer = transcript.find(" is the first bad commit");
  if (answer == std::string::npos || answer < 40 ||
      transcript.find_first_not_of("0123456789abcdef", answer - 40) != answer) {
    return "";
  }
  return transcript.substr(answer - 40, 40);
}

// The ends were assumed, not tested: tests the one the answer rests on. 0
// when the answer stands, else the exit code (1) after saying why.
int ConfirmEnds(const State& state, const GitRepo& wt, const CommitRange& range,
                const std::string& parent, CommitBisectResult& result, std::ostream& out) {
  auto judge_end = [&](const std::string& commit) -> Judgement {
    (void)wt.Run({"checkout", "--quiet", "--detach", commit});
    Judgement j = JudgeHead(state, out);
    result.judgements.push_back(j);
    return j;
  };
  if (result.culprit == range.bad) {
    out << "\nconfirming the bad end:\n";
    if (judge_end(range.bad).verdict == Verdict::kGood) {
      out << fmt::format("\nno bad commit in {}..{}: the bad end {} passes the gate\n",
                         state.options.good, state.options.bad, Short(range.bad));
      return 1;
    }
  }
  if (parent == range.good) {
    out << "\nconfirming the good end:\n";
    const Judgement g = judge_end(range.good);
    if (g.verdict == Verdict::kBad) {
      out << fmt::format("\nthe good end {} already fails the gate ({}): pick an older --good\n",
                         Short(range.good), g.summary);
      return 1;
    }
  }
  return 0;
}

// The culprit, the gate at its parent and at it, the counts, the log, and
// the `bisect steps` command that finds where in the step it diverges.
Status ReportCulprit(const State& state, const Oracle& oracle, const GitRepo& repo,
                     const std::string& parent, CommitBisectResult& result, std::ostream& out) {
  const CommitBisectOptions& o = state.options;
  Result<CommitInfo> info = repo.Describe(result.culprit);
  if (!info.ok()) return info.status();
  out << fmt::format("\nfirst bad commit: {}\n  {}\n  author {}\n  date   {}\n  files changed:\n",
                     info->hash, info->subject, info->author, info->date);
  for (const std::string& f : info->files) out << "    " << f << "\n";
  out << "\nthe gate at its parent and at the culprit:\n";
  const Judgement* at_parent = LastJudgementOf(result.judgements, parent);
  const Judgement* at_culprit = LastJudgementOf(result.judgements, result.culprit);
  auto verdict = [](const Judgement* j, const char* otherwise) {
    return j != nullptr ? fmt::format("{}: {}", Name(j->verdict), j->summary)
                        : std::string(otherwise);
  };
  out << fmt::format("  parent  {}  {}\n", Short(parent),
                     verdict(at_parent, "the good end (not run)"));
  out << fmt::format("  culprit {}  {}\n", Short(result.culprit),
                     verdict(at_culprit, "the bad end (not run)"));
  int built = 0, cached = 0, failed = 0, runs = 0;
  for (const Judgement& j : result.judgements) {
    built += j.build == BuildState::kBuilt;
    cached += j.build == BuildState::kCached || j.build == BuildState::kCachedFailure;
    failed += j.build == BuildState::kFailed || j.build == BuildState::kCachedFailure;
    runs += j.ran;
  }
  if (o.build == kNoBuild) {
    out << fmt::format("\n{} commits judged (nothing to build); {} oracle runs\n",
                       result.judgements.size(), runs);
  } else {
    out << fmt::format(
        "\n{} commits judged: {} built, {} from the cache, {} skipped (build failed); {} oracle "
        "runs\n",
        result.judgements.size(), built, cached, failed, runs);
  }
  out << fmt::format("git bisect log: {} (replay: git bisect start && git bisect replay {})\n",
                     result.log_path, result.log_path);
  if (oracle.external_case) {
    result.steps_command =
        ExternalStepsCommand(state, oracle.golden, repo, parent, at_culprit, result.log_path, out);
    if (!result.steps_command.empty()) {
      out << "\nwhere in the step, with the parent's and the culprit's trees kept beside the "
             "log:\n  "
          << result.steps_command << "\n";
    }
  } else {
    result.steps_command =
        StepsCommand(state, oracle.golden, repo, parent, at_culprit, result.log_path);
    if (!result.steps_command.empty()) {
      out << "\nwhere in the math, with both builds from the cache:\n  " << result.steps_command
          << "\n";
    }
  }
  return Status::Ok();
}

}  // namespace

Result<CommitBisectResult> BisectCommits(const CommitBisectOptions& options, std::ostream& out) {
  InterruptScope interrupts;
  InterruptScope::Reset();
  Result<GitRepo> repo = GitRepo::Open(options.repo);
  if (!repo.ok()) return repo.status();
  Result<CommitRange> range = ResolveRange(*repo, options);
  if (!range.ok()) return range.status();
  State state;
  state.options = options;
  const CommitBisectOptions& o = state.options;
  std::string cache_root;
  Result<Oracle> oracle = CompleteOptions(state, &cache_root);
  if (!oracle.ok()) return oracle.status();
  Result<std::string> count = repo->Run({"rev-list", "--count", range->good + ".." + range->bad});
  if (!count.ok()) return count.status();

  // The commits are checked out in a worktree of our own, removed on every exit path.
  std::string work = (fs::temp_directory_path() / "lockstep-bisect-XXXXXX").string();
  if (::mkdtemp(work.data()) == nullptr) {
    return Status::BadInput(
        fmt::format("cannot create {} (set TMPDIR to a writable directory)", work));
  }
  state.worktree = (fs::path(work) / "worktree").string();
  state.judgements = (fs::path(work) / "judgements.jsonl").string();
  WorktreeGuard guard(*repo, work, state.worktree);
  Result<std::string> added =
      repo->Run({"worktree", "add", "--detach", state.worktree, range->bad});
  if (!added.ok()) return added.status();
  guard.set_added();
  const std::string state_path = (fs::path(work) / "state.json").string();
  LOCKSTEP_RETURN_IF_ERROR(WriteFileAtomically(state_path, ToJson(state).dump(2) + "\n"));

  PrintPlan(state, *repo, *range, *count, out);
  Result<GitRepo> wt = GitRepo::Open(state.worktree);
  if (!wt.ok()) return wt.status();
  LOCKSTEP_RETURN_IF_ERROR(wt->Run({"bisect", "start", range->bad, range->good}).status());

  Result<GitBisectRun> run = RunGitBisect(state, state_path, out);
  if (!run.ok()) return run.status();
  CommitBisectResult result;
  result.judgements = LoadJudgements(state.judgements);
  if (run->interrupted) {
    out << "\ninterrupted: the worktree is removed; the repository is as it was\n";
    result.exit_code = InterruptScope::Signal() > 0 ? InterruptScope::ExitCode() : 130;
    return result;
  }
  LOCKSTEP_RETURN_IF_ERROR(CheckOracleRan(o, result.judgements));
  result.log_path = !o.log_path.empty()
                        ? o.log_path
                        : (fs::path(cache_root) /
                           fmt::format("bisect-{}-{}.log", Short(range->good), Short(range->bad)))
                              .string();
  LOCKSTEP_RETURN_IF_ERROR(SaveBisectLog(*wt, result.log_path));
  result.culprit = CulpritOf(run->transcript);
  if (result.culprit.empty()) {
    const std::size_t skipped = run->transcript.find("only 'skip'ped commits left");
    if (skipped == std::string::npos) {
      return Status::BadInput("git bisect run ended without an answer:\n" + run->transcript);
    }
    out << "\nno answer: the first bad commit is one of several that could not be built or "
           "tested:\n"
        << run->transcript.substr(skipped);
    result.exit_code = 1;
    return result;
  }
  (void)wt->Run({"bisect", "reset", "--quiet"});

  Result<std::string> parent = repo->ParentOf(result.culprit);
  if (!parent.ok()) return parent.status();
  result.exit_code = ConfirmEnds(state, *wt, *range, *parent, result, out);
  if (result.exit_code != 0) return result;
  if (InterruptScope::Interrupted()) {
    result.exit_code = InterruptScope::ExitCode();
    return result;
  }
  LOCKSTEP_RETURN_IF_ERROR(ReportCulprit(state, *oracle, *repo, *parent, result, out));
  result.exit_code = 0;
  return result;
}

std::string_view Name(BuildState state) {
  switch (state) {
    case BuildState::kNone:
      return "nothing to build";
    case BuildState::kBuilt:
      return "built";
    case BuildState::kCached:
      return "from the cache";
    case BuildState::kFailed:
      return "build failed";
    case BuildState::kCachedFailure:
      return "build failed (cached)";
  }
  return "?";
}

std::string_view Name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kGood:
      return "good";
    case Verdict::kBad:
      return "bad";
    case Verdict::kSkip:
      return "skip";
    case Verdict::kInterrupted:
      return "interrupted";
    case Verdict::kUnrunnable:
      return "unrunnable";
  }
  return "?";
}

}  // namespace lockstep::bisect
