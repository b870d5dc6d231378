// Turning users' data into pinned shards: `lockstep data build` (text files,
// byte-level tokens) and `lockstep data import` (llm.c / Megatron token files).
// Both cut the tokens into shards, write them atomically, and append the
// corpus to a manifest (created if missing).
#ifndef LOCKSTEP_DATA_CORPUS_BUILDER_H_
#define LOCKSTEP_DATA_CORPUS_BUILDER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"

namespace lockstep::data {

struct CorpusBuildOptions {
  std::string corpus;         // corpus name in the manifest
  std::string out_dir;        // shards go to out_dir/corpus/NNN.bin
  std::string manifest_path;  // default: out_dir/manifest.toml
  std::uint64_t shard_tokens = 1 << 20;
  std::uint32_t seq_len = 64;  // only used when a new manifest is created
  std::uint64_t seed = 1234;   // only used when a new manifest is created
  std::vector<std::string> inputs;
};

// Byte-level tokenisation: every byte is a token, and token 256 ends each
// input file (one file = one document). Vocab 257.
Status BuildTextCorpus(const CorpusBuildOptions& options, std::ostream& log);

// Imports tokenized files; `format` is "auto", "llmc" or "megatron".
// `vocab_size` 0 means: the manifest's, or the largest token + 1 for a new one.
Status ImportTokenCorpus(const CorpusBuildOptions& options, const std::string& format,
                         std::uint32_t vocab_size, std::ostream& log);

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_CORPUS_BUILDER_H_
