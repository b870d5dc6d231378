#include "data/data_reports.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>

#include "data/sampler.h"
#include "data/shard.h"
#include "data/synth_generators.h"
#include "data/token_source.h"

namespace lockstep::data {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string Megabytes(std::uint64_t bytes) {
  return fmt::format("{:.2f} MB", bytes / 1e6);
}

// Byte tokens as printable text: control bytes escaped, end of document as ⏎.
std::string Detokenize(const std::uint32_t* tokens, std::size_t n, std::uint32_t vocab) {
  std::string text;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t t = tokens[i];
    if (vocab > kByteVocab) {
      text += fmt::format("{}{}", i ? " " : "", t);
    } else if (t == kEndOfDocument) {
      text += "\u23ce";
    } else if (t == '\n') {
      text += "\\n";
    } else if (t >= 32 && t < 127) {
      text += static_cast<char>(t);
    } else {
      text += fmt::format("\\x{:02x}", t);
    }
  }
  return text;
}

}  // namespace

Status VerifyManifest(const Manifest& manifest, std::ostream& out) {
  std::size_t shard_count = 0;
  for (const Corpus& c : manifest.corpora) shard_count += c.shards.size();
  out << fmt::format("verifying {}: {} corpora, {} shards\n", manifest.origin,
                     manifest.corpora.size(), shard_count);
  std::uint64_t bytes = 0;
  double hash_seconds = 0;
  std::size_t failed = 0;
  Status first_failure;
  for (const Corpus& corpus : manifest.corpora) {
    for (const ShardEntry& pin : corpus.shards) {
      const std::string path = manifest.ResolvePath(pin);
      Result<Shard> shard = Shard::Open(path);
      Status status = shard.status();
      std::string detail;
      if (shard.ok()) {
        auto start = std::chrono::steady_clock::now();
        Digest128 actual = shard->ComputeDigest();
        double seconds = SecondsSince(start);
        hash_seconds += seconds;
        bytes += shard->file_bytes();
        if (actual != pin.digest) {
          status = Status::BadInput(fmt::format(
              "{}: xxh3_128 is {} but {} pins {} (upstream shard churn?): restore the pinned "
              "file, or re-pin on purpose with `lockstep data build` and commit the manifest",
              path, actual.Hex(), manifest.origin, pin.digest.Hex()));
        } else {
          status = shard->Verify();  // payload vs. its own header
          if (status.ok()) status = CheckShardAgainstPin(*shard, pin, manifest, corpus.name);
        }
        detail = fmt::format("{:>10} tokens  {:>10}  {:6.2f} GB/s", shard->size(),
                             Megabytes(shard->file_bytes()),
                             seconds > 0 ? shard->file_bytes() / seconds / 1e9 : 0.0);
      }
      out << fmt::format("  {:<8}  {:<8}  {}  {}\n", status.ok() ? "ok" : "FAILED", corpus.name,
                         pin.path, detail);
      if (!status.ok()) {
        out << "            " << status.message() << "\n";
        if (failed++ == 0) first_failure = status;
      }
    }
  }
  out << fmt::format("{} of {} shards ok; hashed {} at {:.2f} GB/s\n", shard_count - failed,
                     shard_count, Megabytes(bytes),
                     hash_seconds > 0 ? bytes / hash_seconds / 1e9 : 0.0);
  if (failed == 0) return Status::Ok();
  if (failed == 1) return first_failure;
  return Status::BadInput(
      fmt::format("{} shards failed verification; first: {}", failed, first_failure.message()));
}

Status InspectShard(const std::string& path, std::ostream& out) {
  Result<Shard> shard = Shard::Open(path);
  if (!shard.ok()) return shard.status();
  const ShardHeader& h = shard->header();
  Digest128 actual = shard->ComputeDigest();
  out << fmt::format(
      "{}\n  format version  {}\n  token type      uint{}\n  vocab size      {}\n"
      "  tokens          {}\n  xxh3_128        {} ({})\n",
      path, h.version, h.token_bytes * 8, h.vocab_size, h.token_count, h.payload_digest.Hex(),
      actual == h.payload_digest ? std::string("payload matches")
                                 : fmt::format("PAYLOAD DIFFERS: {}", actual.Hex()));
  std::map<std::uint32_t, std::uint64_t> histogram;
  for (std::uint64_t i = 0; i < shard->size(); ++i) ++histogram[shard->token(i)];
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_count;
  for (auto [token, count] : histogram) by_count.emplace_back(count, token);
  // Most frequent first; equal counts by token id, so the report is stable.
  std::sort(by_count.begin(), by_count.end(), [](auto a, auto b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  out << fmt::format("  distinct tokens {}\n  most frequent:\n", histogram.size());
  for (std::size_t i = 0; i < std::min<std::size_t>(10, by_count.size()); ++i) {
    auto [count, token] = by_count[i];
    out << fmt::format("    {:>6}  {:>8}  {:5.2f}%  {}\n", token, count,
                       100.0 * count / std::max<std::uint64_t>(1, h.token_count),
                       h.vocab_size <= kByteVocab
                           ? fmt::format("'{}'", Detokenize(&token, 1, h.vocab_size))
                           : std::string());
  }
  return shard->Verify();
}

Status PreviewSteps(const Manifest& manifest, const PreviewOptions& o, std::ostream& out) {
  if (o.end_step <= o.first_step) {
    return Status::BadInput(
        fmt::format("--steps {}:{} is empty; give A:B with A < B", o.first_step, o.end_step));
  }
  Result<Sampler> sampler = Sampler::Create(manifest, o.global_batch);
  if (!sampler.ok()) return sampler.status();
  Result<TokenSource> source = TokenSource::Open(manifest);
  if (!source.ok()) return source.status();
  const std::size_t width = std::size_t{manifest.seq_len} + 1;
  std::vector<std::uint32_t> sample(width);
  // One letter per corpus for the slot map: initials when they are distinct,
  // else the corpus index.
  std::string letters;
  for (const Corpus& c : manifest.corpora) letters += c.name[0];
  std::string sorted = letters;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    letters.clear();
    for (std::size_t c = 0; c < manifest.corpora.size(); ++c) {
      letters += "0123456789abcdefghijklmnopqrstuvwxyz"[std::min<std::size_t>(c, 35)];
    }
  }
  out << "slot map: ";
  for (std::size_t c = 0; c < manifest.corpora.size(); ++c) {
    out << fmt::format("{}{} = {}", c ? ", " : "", letters[c], manifest.corpora[c].name);
  }
  out << "\n";
  for (std::uint64_t step = o.first_step; step < o.end_step; ++step) {
    std::string mix;
    std::map<std::uint32_t, std::uint64_t> per_corpus;
    for (std::uint64_t slot = 0; slot < o.global_batch; ++slot) {
      SampleRef ref = sampler->Locate(step, slot);
      ++per_corpus[ref.corpus];
      if (slot < 64) mix += letters[ref.corpus];
    }
    std::string counts;
    for (auto [c, n] : per_corpus) {
      counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", manifest.corpora[c].name, n);
    }
    out << fmt::format("step {}  batch_digest {}  slots {}{}  ({})\n", step,
                       Hex64(BatchDigest(*sampler, *source, step)), mix,
                       o.global_batch > 64 ? "..." : "", counts);
    for (std::uint64_t slot = 0; slot < std::min<std::uint64_t>(o.samples, o.global_batch);
         ++slot) {
      SampleRef ref = sampler->Locate(step, slot);
      source->Fetch(ref, manifest.seq_len, sample);
      const Corpus& corpus = manifest.corpora[ref.corpus];
      out << fmt::format(
          "  slot {:<3} {:<8} epoch {} seq {:<7} {}  \"{}\"\n", slot, corpus.name, ref.epoch,
          ref.sequence, corpus.shards[ref.shard].path,
          Detokenize(sample.data(), std::min<std::size_t>(o.chars, width), manifest.vocab_size));
    }
  }
  return Status::Ok();
}

}  // namespace lockstep::data
