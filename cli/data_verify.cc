// lockstep data verify: hash every shard and compare with the manifest's pins.
#include <iostream>

#include "cli/command.h"
#include "data/data_reports.h"
#include "data/manifest.h"

namespace lockstep::cli {

void RegisterDataVerify(CLI::App& data, int& exit_code) {
  auto* cmd = data.add_subcommand(
      "verify",
      "Check every shard of a manifest against its pinned XXH3-128 digest and token count;\n"
      "prints a line per shard with its status and hashing throughput");
  auto manifest_path = std::make_shared<std::string>();
  cmd->add_option("--manifest", *manifest_path, "Manifest (TOML)")->required();
  cmd->footer(
      "Example:\n  lockstep data verify --manifest out/data/manifest.toml\n"
      "Exit 0 when every shard matches, 2 otherwise (each failure is named).");
  cmd->callback([=, &exit_code] {
    Result<data::Manifest> manifest = data::LoadManifest(*manifest_path);
    exit_code =
        Report(manifest.ok() ? data::VerifyManifest(*manifest, std::cout) : manifest.status());
  });
}

}  // namespace lockstep::cli
