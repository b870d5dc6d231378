// Manifest: which bytes a training run may read, and how they are blended.
//
// A manifest (TOML, see data/README.md) lists corpora, each a list of shards
// pinned by token count and XXH3-128 digest; a blend schedule; the sampling
// seed and the sequence length. Together with the global batch size it fixes
// the tokens at every (step, slot) of a run.
#ifndef LOCKSTEP_DATA_MANIFEST_H_
#define LOCKSTEP_DATA_MANIFEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "core/status.h"
#include "data/blend_schedule.h"

namespace lockstep::data {

struct ShardEntry {
  std::string path;  // as written in the manifest: relative to its directory, or absolute
  std::uint64_t tokens = 0;
  Digest128 digest;  // XXH3-128 of the shard's payload
};

struct Corpus {
  std::string name;
  std::vector<ShardEntry> shards;
  std::uint64_t tokens() const;
};

struct Manifest {
  std::string origin;    // the file it was read from, for messages ("<embedded>" if none)
  std::string base_dir;  // shard paths are relative to this directory
  std::uint64_t seed = 0;
  std::uint32_t seq_len = 0;
  std::uint32_t vocab_size = 0;
  std::vector<Corpus> corpora;
  BlendSchedule schedule;

  // Index of the corpus called `name`, or -1.
  int FindCorpus(std::string_view name) const;
  std::vector<std::string> CorpusNames() const;
  // The path to open for a shard: base_dir joined with the entry's path.
  std::string ResolvePath(const ShardEntry& shard) const;
  // XXH3-64 over everything that decides which tokens a run sees (seed,
  // sequence length, vocab, corpus names, shard digests and sizes, schedule),
  // but not over shard paths: moving the files does not change the data.
  std::uint64_t Digest() const;
  // Per corpus, the XXH3-64 of its shards' pins ("tokens:digest " each, in
  // order), as 16 hex digits: what the record header's "corpora" holds, so a
  // data diagnosis can say which corpus changed.
  std::vector<std::pair<std::string, std::string>> CorpusDigests() const;
  // The canonical TOML text of this manifest.
  std::string ToToml() const;
};

// Parses manifest text; `origin` names it in messages, `base_dir` anchors
// relative shard paths. Any problem is BadInput naming origin, line and key.
Result<Manifest> ParseManifest(std::string_view text, const std::string& origin,
                               const std::string& base_dir);
// Reads and parses a manifest file.
Result<Manifest> LoadManifest(const std::string& path);
// Writes ToToml() atomically.
Status SaveManifest(const Manifest& manifest, const std::string& path);

// Parses a `[[schedule]]` array given as TOML text (a trainer config carries
// one to override the manifest's), checked against the manifest's corpora.
Result<BlendSchedule> ParseScheduleToml(std::string_view text, const std::string& origin,
                                        const std::vector<std::string>& corpus_names);

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_MANIFEST_H_
