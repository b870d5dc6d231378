// lockstep env: print the environment fingerprint a run would record.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "trainer/env_fingerprint.h"

namespace lockstep::cli {

void RegisterEnv(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "env",
      "Print the environment fingerprint a run records: compiler, flags, BLAS, MPI, CPU, OS");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json,
                "Print one JSON object (the record header's form) instead of text");
  cmd->footer(
      "The same fields `lockstep train --record` writes into its header, and a golden file\n"
      "keeps, to explain a mismatch (a BLAS kernel, an MPI or compiler version that changed).\n"
      "Examples:\n"
      "  lockstep env\n"
      "  lockstep env --json > env.json   # the form record headers and goldens keep\n"
      "world_size and threads print as 1 here; a run records its own.");
  cmd->callback([=, &exit_code] {
    const trainer::EnvFingerprint env = trainer::CollectEnvFingerprint();
    std::cout << (*json ? trainer::ToJson(env).dump(2) + "\n" : trainer::ToText(env));
    exit_code = 0;
  });
}

}  // namespace lockstep::cli
