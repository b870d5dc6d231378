// lockstep data inspect: one shard's header, digest and token histogram head.
#include <iostream>

#include "cli/command.h"
#include "data/data_reports.h"

namespace lockstep::cli {

void RegisterDataInspect(CLI::App& data, int& exit_code) {
  auto* cmd = data.add_subcommand(
      "inspect", "Print a shard's header, check its payload digest, list its most frequent tokens");
  auto path = std::make_shared<std::string>();
  cmd->add_option("FILE", *path, "Shard file")->required();
  cmd->footer("Example:\n  lockstep data inspect out/data/prose/000.bin");
  cmd->callback([=, &exit_code] { exit_code = Report(data::InspectShard(*path, std::cout)); });
}

}  // namespace lockstep::cli
