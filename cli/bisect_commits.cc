// lockstep bisect commits: the commit that broke the gate.
// (and `lockstep bisect judge`, the hidden command `git bisect run` calls back)
#include <iostream>

#include "bisect/commit_bisect.h"
#include "cli/command.h"

namespace lockstep::cli {

void RegisterBisectCommits(CLI::App& bisect, int& exit_code) {
  auto* cmd = bisect.add_subcommand(
      "commits",
      "Find the commit that broke the gate: git bisect run in a separate worktree (your\n"
      "checkout, branch, stash and uncommitted work are never touched), each commit built\n"
      "(or taken from the build cache, keyed by tree hash; a failed build is skipped) and\n"
      "judged by a smoke case against its golden from your checkout, or by a command");
  auto o = std::make_shared<bisect::CommitBisectOptions>();
  auto hang_is = std::make_shared<std::string>("bad");
  cmd->add_option("--good", o->good, "A commit that passes the gate")->required();
  cmd->add_option("--bad", o->bad, "A later commit that fails it")->required();
  cmd->add_option("--repo", o->repo, "The repository to bisect (default: the current one)");
  cmd->add_option("--build", o->build,
                  "Shell command that builds a commit, run in its worktree (default: lockstep's "
                  "own CMake build into build/; none: nothing to build, e.g. a Python trainer)");
  cmd->add_option("--artifact", o->artifacts,
                  "What the build produces, kept in the cache per tree: a path in the worktree "
                  "or an absolute path such as an install prefix (repeatable; default build: "
                  "build/cli/lockstep)");
  cmd->add_option("--trainer", o->trainer,
                  "The lockstep binary that runs the case's trainer: in the worktree or absolute "
                  "(default: build/cli/lockstep with the default build, else this one)");
  cmd->add_option("--case", o->case_path, "Smoke case whose golden decides good or bad");
  cmd->add_option("--hang-is", *hang_is, "What a hang (124) or crash (3) means: bad or skip")
      ->check(CLI::IsMember({"bad", "skip"}));
  cmd->add_option("--timeout", o->timeout,
                  "Seconds without output before a build or run counts as hung")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cache", o->cache_dir,
                  "Build cache directory (default: $XDG_CACHE_HOME/lockstep/bisect, else "
                  "~/.cache/lockstep/bisect)");
  cmd->add_option("--log", o->log_path,
                  "Save `git bisect log` here (default: in the cache directory)");
  cmd->add_option("CMD", o->command,
                  "After --: a command whose exit code judges each commit (0 good, "
                  "125 or 2 skip, other bad; one that cannot be started, or exits 126 "
                  "or 127, stops the bisect with exit 2), run in the worktree");
  cmd->footer(
      "Examples:\n"
      "  lockstep bisect commits --good v0.3.0 --bad main --case smoke/cases/tiny.toml\n"
      "  lockstep bisect commits --good HEAD~40 --bad HEAD --build 'make -j2' -- ./run-tests.sh\n"
      "  # a PyTorch trainer's repository, its case's command running train.py:\n"
      "  lockstep bisect commits --good v1.2 --bad main --build none --case smoke.toml\n"
      "  LD_LIBRARY_PATH=/tmp/ob/lib lockstep bisect commits --repo ../OpenBLAS \\\n"
      "      --good v0.3.21 --bad v0.3.26 --build 'make -j2 && make PREFIX=/tmp/ob install' \\\n"
      "      --artifact /tmp/ob --case smoke/cases/tiny-openblas.toml\n"
      "Exit codes: 0 culprit found, 1 no bad commit in the range (or the good end already\n"
      "fails, or only commits that could not be built or tested are left), 2 bad revisions,\n"
      "range, case or an oracle that cannot be run, 128+N interrupted by signal N (worktree\n"
      "removed).");
  cmd->callback([o, hang_is, &exit_code] {
    bisect::CommitBisectOptions options = *o;
    options.hang_is_skip = *hang_is == "skip";
    options.self = SelfPath();
    Result<bisect::CommitBisectResult> r = bisect::BisectCommits(options, std::cout);
    exit_code = r.ok() ? r->exit_code : Report(r.status());
  });

  auto* judge = bisect.add_subcommand("judge",
                                      "Judge the commit checked out in a bisect worktree "
                                      "(called by git bisect run)");
  judge->group("");  // hidden: an implementation detail of `commits`
  auto state = std::make_shared<std::string>();
  judge->add_option("--state", *state, "The bisection's state file")->required();
  judge->callback([state, &exit_code] { exit_code = bisect::JudgeCommit(*state, std::cout); });
}

}  // namespace lockstep::cli
