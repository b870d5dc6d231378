#include "data/corpus_builder.h"

#include <fmt/format.h>

#include <filesystem>
#include <span>

#include "core/atomic_file.h"
#include "data/manifest.h"
#include "data/shard.h"
#include "data/synth_generators.h"
#include "data/token_import.h"

namespace lockstep::data {
namespace {

namespace fs = std::filesystem;

std::string ManifestPathOf(const CorpusBuildOptions& o) {
  return o.manifest_path.empty() ? (fs::path(o.out_dir) / "manifest.toml").string()
                                 : o.manifest_path;
}

// The manifest to append to: the existing file, or a new one whose schedule
// gives the first corpus all the weight.
Result<Manifest> OpenOrCreateManifest(const CorpusBuildOptions& o, std::uint32_t vocab_size,
                                      bool* created) {
  const std::string path = ManifestPathOf(o);
  *created = !fs::exists(path);
  if (!*created) return LoadManifest(path);
  Manifest m;
  m.origin = path;
  m.base_dir = fs::path(path).parent_path().string();
  m.seed = o.seed;
  m.seq_len = o.seq_len;
  m.vocab_size = vocab_size;
  return m;
}

Status CheckOptions(const CorpusBuildOptions& o) {
  if (o.corpus.empty() || o.corpus.find_first_of(" \t\"'/\\=.") != std::string::npos) {
    return Status::BadInput(fmt::format(
        "--corpus \"{}\": give a name of letters, digits, '-' or '_' (it becomes a TOML key and "
        "a directory)",
        o.corpus));
  }
  if (o.shard_tokens == 0) return Status::BadInput("--shard-tokens must be at least 1");
  if (o.inputs.empty()) return Status::BadInput("no input files given");
  return Status::Ok();
}

// Writes `tokens` as shards of the corpus and appends them to the manifest.
Status AppendCorpus(const CorpusBuildOptions& o, Manifest manifest, bool created,
                    std::span<const std::uint32_t> tokens, std::ostream& log) {
  int index = manifest.FindCorpus(o.corpus);
  if (index < 0) {
    manifest.corpora.push_back({o.corpus, {}});
    index = static_cast<int>(manifest.corpora.size()) - 1;
    if (created) {
      manifest.schedule.segments.push_back({0, {1.0}});
    } else {
      // An existing schedule's weights are the user's decision: the new
      // corpus joins every segment with weight 0 until they give it one.
      for (BlendSegment& seg : manifest.schedule.segments) seg.weights.push_back(0.0);
      log << fmt::format(
          "note: corpus \"{}\" has weight 0 in every [[schedule]] segment of {}; add it to the "
          "weights to train on it\n",
          o.corpus, manifest.origin);
    }
  }
  Corpus& corpus = manifest.corpora[static_cast<std::size_t>(index)];
  const fs::path manifest_dir = fs::path(manifest.origin).parent_path();
  // Check every target before writing any, so a refusal leaves no shard behind.
  std::vector<fs::path> shard_paths;
  for (std::size_t at = 0; at < tokens.size(); at += o.shard_tokens) {
    shard_paths.push_back(fs::path(o.out_dir) / o.corpus /
                          fmt::format("{:03}.bin", corpus.shards.size() + shard_paths.size()));
    if (fs::exists(shard_paths.back())) {
      return Status::BadInput(
          fmt::format("{}: already exists but is not in {}; move it away or pick another --out",
                      shard_paths.back().string(), manifest.origin));
    }
  }
  for (std::size_t i = 0; i < shard_paths.size(); ++i) {
    std::size_t at = i * o.shard_tokens;
    auto piece = tokens.subspan(at, std::min<std::size_t>(o.shard_tokens, tokens.size() - at));
    Result<ShardHeader> header = WriteShard(shard_paths[i].string(), piece, manifest.vocab_size);
    if (!header.ok()) return header.status();
    std::string relative =
        fs::proximate(shard_paths[i], manifest_dir.empty() ? fs::path(".") : manifest_dir).string();
    corpus.shards.push_back({relative, header->token_count, header->payload_digest});
    log << fmt::format("wrote {}  {} tokens  xxh3_128 {}\n", shard_paths[i].string(),
                       header->token_count, header->payload_digest.Hex());
  }
  LOCKSTEP_RETURN_IF_ERROR(SaveManifest(manifest, manifest.origin));
  log << fmt::format("{} {}: corpus \"{}\" now has {} shards, {} tokens\n",
                     created ? "created" : "updated", manifest.origin, o.corpus,
                     corpus.shards.size(), corpus.tokens());
  return Status::Ok();
}

}  // namespace

Status BuildTextCorpus(const CorpusBuildOptions& o, std::ostream& log) {
  LOCKSTEP_RETURN_IF_ERROR(CheckOptions(o));
  std::vector<std::uint32_t> tokens;
  for (const std::string& input : o.inputs) {
    Result<std::string> text = ReadFile(input);
    if (!text.ok()) return text.status();
    for (unsigned char byte : *text) tokens.push_back(byte);
    tokens.push_back(kEndOfDocument);
  }
  bool created = false;
  Result<Manifest> manifest = OpenOrCreateManifest(o, kByteVocab, &created);
  if (!manifest.ok()) return manifest.status();
  if (manifest->vocab_size < kByteVocab) {
    return Status::BadInput(fmt::format(
        "{}: vocab_size = {} is smaller than the byte-level vocab 257; byte-level text needs a "
        "manifest of its own (--manifest)",
        manifest->origin, manifest->vocab_size));
  }
  return AppendCorpus(o, std::move(manifest).value(), created, tokens, log);
}

Status ImportTokenCorpus(const CorpusBuildOptions& o, const std::string& format,
                         std::uint32_t vocab_size, std::ostream& log) {
  LOCKSTEP_RETURN_IF_ERROR(CheckOptions(o));
  std::vector<std::uint32_t> tokens;
  std::uint32_t max_token = 0;
  for (const std::string& input : o.inputs) {
    Result<ImportedTokens> imported = ReadForeignTokens(input, format);
    if (!imported.ok()) return imported.status();
    log << fmt::format("read {} ({}): {} tokens, {} documents, largest token {}\n", input,
                       imported->format, imported->tokens.size(), imported->documents,
                       imported->max_token);
    max_token = std::max(max_token, imported->max_token);
    tokens.insert(tokens.end(), imported->tokens.begin(), imported->tokens.end());
  }
  if (vocab_size != 0 && max_token >= vocab_size) {
    return Status::BadInput(
        fmt::format("--vocab {} is too small: the input holds token {}; pass --vocab {} or more",
                    vocab_size, max_token, std::uint64_t{max_token} + 1));
  }
  bool created = false;
  Result<Manifest> manifest =
      OpenOrCreateManifest(o, vocab_size != 0 ? vocab_size : max_token + 1, &created);
  if (!manifest.ok()) return manifest.status();
  if (max_token >= manifest->vocab_size) {
    return Status::BadInput(fmt::format(
        "{}: vocab_size = {} but the imported data holds token {}; raise vocab_size to at least "
        "{}",
        manifest->origin, manifest->vocab_size, max_token, std::uint64_t{max_token} + 1));
  }
  return AppendCorpus(o, std::move(manifest).value(), created, tokens, log);
}

}  // namespace lockstep::data
