// lockstep data synth: write the embedded synthetic corpora and their manifest.
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "data/synth.h"

namespace lockstep::cli {

void RegisterDataSynth(CLI::App& data, int& exit_code) {
  auto* cmd = data.add_subcommand(
      "synth",
      "Write the three embedded synthetic corpora (prose, arith, code) and their manifest;\n"
      "every shard is checked against the digests pinned in data/default_manifest.toml");
  auto out_dir = std::make_shared<std::string>();
  auto print_manifest = std::make_shared<bool>(false);
  auto verbose = std::make_shared<bool>(false);
  cmd->add_option("--out", *out_dir, "Directory for the shards and manifest.toml");
  cmd->add_flag("--print-manifest", *print_manifest,
                "Print the manifest the generators produce now (to re-pin after a deliberate "
                "generator change) instead of writing anything");
  cmd->add_flag("-v,--verbose", *verbose, "List every shard written (quiet on success otherwise)");
  cmd->footer("Example:\n  lockstep data synth --out out/data");
  cmd->callback([=, &exit_code] {
    if (*print_manifest) {
      std::cout << data::GenerateSyntheticManifest().ToToml();
      return;
    }
    if (out_dir->empty()) {
      exit_code = Report(Status::BadInput("--out DIR is required (where to write the corpora)"));
      return;
    }
    std::ostringstream sink;
    exit_code = Report(data::WriteSyntheticCorpora(*out_dir, *verbose ? std::cout : sink));
  });
}

}  // namespace lockstep::cli
