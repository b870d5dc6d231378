// BisectCommits: the commit that broke the gate. `lockstep bisect commits`:
//
//   check   --good and --bad are commits, good an ancestor of bad
//   add     a detached `git worktree` at bad (the user's checkout, branch,
//           index, stash and uncommitted work are never touched)
//   run     `git bisect start BAD GOOD; git bisect run lockstep bisect judge`
//           in the worktree; per commit, JudgeCommit:
//             build  --build (default: lockstep's own CMake build), unless the
//                    cache has this tree (keyed by tree hash); failed -> 125 skip
//             judge  the smoke case against its golden (both from the user's
//                    checkout), or a command's exit code; hang (124) and crash
//                    (3) are bad unless --hang-is skip
//   confirm only when the answer rests on an end nobody tested: the bad end
//           when it is the culprit, the good end when it is the culprit's parent
//   report  the culprit (hash, subject, author, date, files), the gate at the
//           culprit and at its parent side by side, builds and runs it took,
//           and `git bisect log` saved for `git bisect replay`
//   remove  the worktree: at the end, on error, and on Ctrl-C (SIGINT, SIGTERM)
#ifndef LOCKSTEP_BISECT_COMMIT_BISECT_H_
#define LOCKSTEP_BISECT_COMMIT_BISECT_H_

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace lockstep::bisect {

struct CommitBisectOptions {
  std::string repo = ".";
  std::string good, bad;
  // A shell command run in the worktree; "" = lockstep's own build:
  // cmake -S . -B build -DCMAKE_BUILD_TYPE=Release (ccache when present) && cmake --build build;
  // "none" = nothing to build (a trainer that runs from its sources: Python).
  std::string build;
  // What the build produces that the oracle needs, kept per tree in the
  // cache: paths relative to the worktree, or absolute (an install prefix).
  // Default build: build/cli/lockstep.
  std::vector<std::string> artifacts;
  // The lockstep binary that runs a case's trainer: relative to the worktree
  // or absolute. Default: build/cli/lockstep with the default build, else `self`.
  std::string trainer;
  std::string case_path;             // the oracle: a smoke case (and its golden) ...
  std::vector<std::string> command;  // ... or any command's exit code, run in the worktree
  bool hang_is_skip = false;         // hang (124) and crash (3) skip instead of bad
  double timeout = 600;              // seconds without output before a build or run is hung
  std::string cache_dir;             // "" = $XDG_CACHE_HOME (or ~/.cache)/lockstep/bisect
  std::string log_path;              // where `git bisect log` goes ("" = in the cache dir)
  std::string self;                  // this executable: `git bisect run` calls it back
};

// What became of a commit's build.
enum class BuildState {
  kNone,           // --build none: nothing to build
  kBuilt,          // built now
  kCached,         // restored from the cache
  kFailed,         // the build failed now: skip
  kCachedFailure,  // it failed before (the cache says so): skip, not built again
};

// The oracle's verdict on a commit, as git bisect run hears it.
enum class Verdict {
  kGood,
  kBad,
  kSkip,
  kInterrupted,
  kUnrunnable,  // the oracle could not be started: the bisection stops
};

// The words of the report and the judgements file ("from the cache", "bad").
std::string_view Name(BuildState state);
std::string_view Name(Verdict verdict);

// One commit the oracle judged: a line of the run's judgements file.
struct Judgement {
  std::string commit;
  std::string tree;
  BuildState build = BuildState::kNone;
  double build_seconds = 0;
  bool ran = false;   // the case or command ran (not skipped for the build)
  int exit_code = 0;  // the case's or command's
  Verdict verdict = Verdict::kSkip;
  std::string summary;  // one line: what the gate said
  std::string record;   // a case that diverged: its run's record
};

struct CommitBisectResult {
  int exit_code = 1;  // 0 culprit found; 1 none (or undecidable); 130 interrupted
  std::string culprit;
  std::vector<Judgement> judgements;  // in the order they happened
  std::string log_path;               // the saved `git bisect log`
  // With a case of lockstep's trainer built as a worktree artifact: the
  // command that names the first tensor the culprit changed (the culprit's
  // run, kept beside the log, against the golden, each side with its cached
  // binary). With another trainer's case (a command): the same command
  // re-running the case in the parent's and the culprit's trees, exported
  // beside the log. "" otherwise.
  std::string steps_command;
};

Result<CommitBisectResult> BisectCommits(const CommitBisectOptions& options, std::ostream& out);

// `git bisect run`'s command: builds and judges the commit checked out in
// the worktree named by `state_path` (written by BisectCommits). Returns
// 0 good, 1 bad, 125 skip; 130 when interrupted (which ends the bisection).
int JudgeCommit(const std::string& state_path, std::ostream& out);

}  // namespace lockstep::bisect

#endif  // LOCKSTEP_BISECT_COMMIT_BISECT_H_
