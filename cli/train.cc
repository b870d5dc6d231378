// lockstep train: the bit-exact reference trainer.
#include <iostream>

#include "cli/command.h"
#include "trainer/trainer.h"

namespace lockstep::cli {

void RegisterTrain(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "train",
      "Train the small GPT of a config and write the record stream: one JSON line per step\n"
      "with loss, grad-norm, lr, batch and parameter digests and tracked peak memory.\n"
      "Same config and seed, same bits, with any thread count (and, in the portable\n"
      "profile, on any CPU and compiler)");
  auto config_path = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto options = std::make_shared<trainer::TrainOptions>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("--config", *config_path, "Training config (TOML)")->required();
  cmd->add_option("--set", *overrides, "Override a config key, e.g. --set numerics.threads=2")
      ->type_name("KEY=VALUE");
  cmd->add_option("--record", options->record_path, "Write the record stream (JSON Lines) here");
  cmd->add_flag("-q,--quiet", *quiet, "No progress lines");
  auto* checkpoint = cmd->add_option("--checkpoint", options->checkpoint_dir,
                                     "Write checkpoints to DIR (with --checkpoint-every)");
  auto* every = cmd->add_option("--checkpoint-every", options->checkpoint_every,
                                "Checkpoint every K steps (with --checkpoint)")
                    ->check(CLI::PositiveNumber);
  checkpoint->needs(every);
  every->needs(checkpoint);
  cmd->add_option("--keep", options->keep, "Keep the newest M checkpoints (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--checkpoint-sync", options->checkpoint_sync,
                "Write each checkpoint before the next step instead of on the writer thread");
  cmd->add_option("--resume", options->resume_dir,
                  "Continue from DIR's latest complete checkpoint (every file verified)");
  cmd->add_option("--stop-at", options->stop_at,
                  "End after step S, as an interrupted run would (for resume tests and drills)")
      ->check(CLI::NonNegativeNumber);
  auto* trace_step =
      cmd->add_option("--trace-step", options->trace_step,
                      "Trace every tensor of step S (forward, backward, reduce, update) into "
                      "--trace DIR, for lockstep bisect steps")
          ->check(CLI::PositiveNumber);
  trace_step->needs(
      cmd->add_option("--trace", options->trace_dir, "Directory for --trace-step's files"));
  auto trace_values = std::make_shared<std::string>("all");
  cmd->add_option("--trace-values", *trace_values,
                  "Whose values the trace keeps: all, none (digests and statistics only), or "
                  "names separated by commas")
      ->type_name("all|none|NAME,...")
      ->needs(trace_step);
  cmd->add_option("--export", options->export_dir,
                  "Also write the initial parameters and every step's batch to DIR, for the "
                  "PyTorch reference (bench/torch_reference.py)");
  cmd->footer(
      "Example:\n"
      "  lockstep train --config trainer/configs/smoke.toml --record out/run.jsonl\n"
      "  lockstep train --config trainer/configs/smoke.toml --set numerics.threads=2 --set "
      "train.steps=10\n"
      "  lockstep train --config C --checkpoint ckpt --checkpoint-every 10 --stop-at 20\n"
      "  lockstep train --config C --resume ckpt      (steps 21.. with the same bits)\n"
      "Exit codes: 0 done, 2 bad config, data or checkpoint (before any step; or a checkpoint or\n"
      "trace that cannot be written), 3 loss or gradient not finite, or an MPI failure.");
  cmd->callback([=, &exit_code] {
    Result<trainer::TrainConfig> config = trainer::LoadTrainConfig(*config_path, *overrides);
    if (!config.ok()) {
      exit_code = Report(config.status());
      return;
    }
    trainer::TrainOptions o = *options;
    Result<trainer::TraceValues> values = trainer::TraceValues::Parse(*trace_values);
    if (!values.ok()) {
      exit_code = Report(values.status());
      return;
    }
    o.trace_values = *values;
    o.progress = *quiet ? nullptr : &std::cout;
    exit_code = Report(trainer::Train(*config, o, nullptr));
  });
}

}  // namespace lockstep::cli
