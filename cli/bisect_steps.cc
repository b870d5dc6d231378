// lockstep bisect steps: the first step, then the first tensor, where two runs differ.
#include <iostream>

#include "bisect/step_bisect.h"
#include "cli/command.h"
#include "core/atomic_file.h"

namespace lockstep::cli {

void RegisterBisectSteps(CLI::App& bisect, int& exit_code) {
  auto* cmd = bisect.add_subcommand(
      "steps",
      "Find the first step at which two runs differ (loss, grad-norm, batch or parameter\n"
      "digest), re-run both sides to that step with a trace of every tensor's digest, and\n"
      "name the first tensor whose bits differ, with how the difference spreads after it\n"
      "(a second re-run keeps the values of the tensors shown; a side whose two re-runs\n"
      "trace different bits is named as not deterministic)");
  auto o = std::make_shared<bisect::StepBisectOptions>();
  cmd->add_option("RUN_A", o->run_a, "Record stream (.jsonl) or golden (.toml) of side A")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("RUN_B", o->run_b, "Record stream or golden of side B")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--binary-a", o->binary_a, "lockstep binary that re-runs A (default: this one)");
  cmd->add_option("--binary-b", o->binary_b, "lockstep binary that re-runs B (default: this one)");
  cmd->add_option("--config-a", o->config_a,
                  "Config to re-run A (default: the config in A's header)");
  cmd->add_option("--config-b", o->config_b,
                  "Config to re-run B (default: the config in B's header)");
  cmd->add_option("--case", o->case_path,
                  "Another trainer (a PyTorch loop recording with python/lockstep): the smoke "
                  "case whose command re-runs both sides, in the case's directory")
      ->check(CLI::ExistingFile);
  cmd->add_option("--command-a", o->command_a,
                  "Shell command that re-runs A (another trainer; default: the case's command)");
  cmd->add_option("--command-b", o->command_b,
                  "Shell command that re-runs B (another trainer; default: the case's command)");
  cmd->add_option("--dir-a", o->dir_a,
                  "Where A's command runs: a checkout of A's trainer (default: the case's "
                  "directory, or this one)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--dir-b", o->dir_b, "Where B's command runs: a checkout of B's trainer")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--work-dir", o->work_dir,
                  "Keep the re-run records and traces here (default: a temp dir)");
  cmd->add_option("--rows", o->spread_rows, "Rows of the spread table")->check(CLI::PositiveNumber);
  auto json = std::make_shared<std::string>();
  cmd->add_option("--json", *json,
                  "Also write the result as JSON: step, first_tensor (with max_abs_diff, "
                  "first_index), spread, not_deterministic");
  cmd->footer(
      "Each side of lockstep's trainer is re-run with its own binary, config, thread count\n"
      "and world size (from its record's header), so the two runs may differ in any of them.\n"
      "Another trainer is re-run with its command (--case, --command-a/-b) and told the step\n"
      "to trace in LOCKSTEP_TRACE_STEP, LOCKSTEP_TRACE_DIR and LOCKSTEP_TRACE_VALUES; its\n"
      "Recorder (given model= and optimizer=) traces module outputs, gradients and updates.\n"
      "When the batch differs at the first divergent step, that is the answer: nothing is\n"
      "re-run.\n"
      "Examples:\n"
      "  # an OpenBLAS upgrade changed the goldens; which op moved?\n"
      "  lockstep train --config trainer/configs/smoke.toml --record new.jsonl\n"
      "  lockstep bisect steps golden/cases/tiny.toml new.jsonl --binary-a "
      "/opt/lockstep-old/bin/lockstep\n"
      "  # a PyTorch trainer in two checkouts: which module's output moved?\n"
      "  lockstep bisect steps golden.toml new.jsonl --case smoke.toml --dir-a ../old --dir-b .\n"
      "Exit codes: 0 first divergent tensor (or a differing batch) found, 1 the runs agree (or\n"
      "the re-runs did not reproduce the divergence), 2 bad input or a re-run that failed.");
  cmd->callback([o, json, &exit_code] {
    bisect::StepBisectOptions options = *o;
    if (options.binary_a.empty()) options.binary_a = SelfPath();
    if (options.binary_b.empty()) options.binary_b = SelfPath();
    Result<bisect::StepBisectResult> r = bisect::BisectSteps(options, std::cout);
    if (!r.ok()) {
      exit_code = Report(r.status());
      return;
    }
    exit_code = r->exit_code;
    if (!json->empty()) {
      Status st = WriteFileAtomically(*json, bisect::StepBisectToJson(*r).dump(2) + "\n");
      if (!st.ok()) exit_code = Report(st);
    }
  });
}

}  // namespace lockstep::cli
