// lockstep data build: text files -> byte-level shards appended to a manifest.
#include <iostream>

#include "cli/command.h"
#include "data/corpus_builder.h"

namespace lockstep::cli {

void RegisterDataBuild(CLI::App& data, int& exit_code) {
  auto* cmd = data.add_subcommand(
      "build",
      "Tokenize text files (byte-level: one token per byte, 256 ends each file) into pinned\n"
      "shards of a corpus and append them to a manifest (created if missing)");
  auto o = std::make_shared<data::CorpusBuildOptions>();
  cmd->add_option("--corpus", o->corpus, "Corpus name in the manifest")->required();
  cmd->add_option("--out", o->out_dir, "Output directory; shards go to OUT/CORPUS/NNN.bin")
      ->required();
  cmd->add_option("--manifest", o->manifest_path,
                  "Manifest to append to [default: OUT/manifest.toml]");
  cmd->add_option("--shard-tokens", o->shard_tokens, "Tokens per shard")->capture_default_str();
  cmd->add_option("--seq-len", o->seq_len, "Sequence length of a newly created manifest")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Sampling seed of a newly created manifest")
      ->capture_default_str();
  cmd->add_option("FILE", o->inputs, "Text files, one document each")->required();
  cmd->footer("Example:\n  lockstep data build --corpus wiki --out out/data docs/*.txt");
  cmd->callback([o, &exit_code] { exit_code = Report(data::BuildTextCorpus(*o, std::cout)); });
}

}  // namespace lockstep::cli
