// lockstep bisect: which commit broke the gate, and which tensor first changed.
#include "cli/command.h"

namespace lockstep::cli {

void RegisterBisect(CLI::App& app, int& exit_code) {
  CLI::App* bisect = app.add_subcommand(
      "bisect",
      "Localise a regression: `commits` finds the commit that broke the gate (git bisect run\n"
      "in a separate worktree, failed builds skipped); `steps` finds the first step and then\n"
      "the first tensor at which two runs differ");
  bisect->require_subcommand(1);
  bisect->footer(
      "Examples:\n"
      "  lockstep bisect commits --good v0.3.0 --bad main --case smoke/cases/tiny.toml\n"
      "  lockstep bisect steps golden/cases/tiny.toml out/runs/tiny.jsonl\n"
      "`lockstep bisect commits --help` and `lockstep bisect steps --help` say more.");
  RegisterBisectCommits(*bisect, exit_code);
  RegisterBisectSteps(*bisect, exit_code);
}

}  // namespace lockstep::cli
