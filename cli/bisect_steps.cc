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
  cmd->add_option("--work-dir", o->work_dir,
                  "Keep the re-run records and traces here (default: a temp dir)");
  cmd->add_option("--rows", o->spread_rows, "Rows of the spread table")->check(CLI::PositiveNumber);
  auto json = std::make_shared<std::string>();
  cmd->add_option("--json", *json,
                  "Also write the result as JSON: step, first_tensor (with max_abs_diff, "
                  "first_index), spread, not_deterministic");
  cmd->footer(
      "Each side is re-run with its own binary, config, thread count and world size (from\n"
      "its record's header), so the two runs may differ in any of them.\n"
      "Example: an OpenBLAS upgrade changed the goldens; which op moved?\n"
      "  lockstep train --config trainer/configs/smoke.toml --record new.jsonl\n"
      "  lockstep bisect steps golden/cases/tiny.toml new.jsonl --binary-a "
      "/opt/lockstep-old/bin/lockstep\n"
      "Exit codes: 0 first divergent tensor found, 1 the runs agree (or the re-runs did not\n"
      "reproduce the divergence), 2 bad input or a re-run that failed.");
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
