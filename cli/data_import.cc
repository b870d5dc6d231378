// lockstep data import: llm.c / nanoGPT and Megatron token files -> shards.
#include <iostream>

#include "cli/command.h"
#include "data/corpus_builder.h"

namespace lockstep::cli {

void RegisterDataImport(CLI::App& data, int& exit_code) {
  auto* cmd = data.add_subcommand(
      "import",
      "Import already tokenized data into pinned shards of a corpus: llm.c / nanoGPT .bin\n"
      "token files (magic 20240520, uint16) or Megatron .bin/.idx indexed datasets");
  auto o = std::make_shared<data::CorpusBuildOptions>();
  auto format = std::make_shared<std::string>("auto");
  auto vocab = std::make_shared<std::uint32_t>(0);
  cmd->add_option("--corpus", o->corpus, "Corpus name in the manifest")->required();
  cmd->add_option("--out", o->out_dir, "Output directory; shards go to OUT/CORPUS/NNN.bin")
      ->required();
  cmd->add_option("--manifest", o->manifest_path,
                  "Manifest to append to [default: OUT/manifest.toml]");
  cmd->add_option("--format", *format, "Input format")
      ->check(CLI::IsMember({"auto", "llmc", "megatron"}))
      ->capture_default_str();
  cmd->add_option("--vocab", *vocab,
                  "Vocab size [default: the manifest's, or largest token + 1 for a new one]");
  cmd->add_option("--shard-tokens", o->shard_tokens, "Tokens per shard")->capture_default_str();
  cmd->add_option("--seq-len", o->seq_len, "Sequence length of a newly created manifest")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Sampling seed of a newly created manifest")
      ->capture_default_str();
  cmd->add_option("FILE", o->inputs,
                  "llm.c .bin files, or Megatron dataset prefixes (or their .idx/.bin paths)")
      ->required();
  cmd->footer(
      "Examples:\n"
      "  lockstep data import --corpus fineweb --out out/data --vocab 50257 fineweb_train_*.bin\n"
      "  lockstep data import --corpus pile --out out/data --format megatron pile_text_document");
  cmd->callback([=, &exit_code] {
    exit_code = Report(data::ImportTokenCorpus(*o, *format, *vocab, std::cout));
  });
}

}  // namespace lockstep::cli
