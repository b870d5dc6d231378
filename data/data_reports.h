// The read-only data commands: `lockstep data verify`, `inspect` and
// `preview`. Each prints a report for people to `out` and returns the Status
// the command exits with.
#ifndef LOCKSTEP_DATA_DATA_REPORTS_H_
#define LOCKSTEP_DATA_DATA_REPORTS_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "core/status.h"
#include "data/manifest.h"

namespace lockstep::data {

// Hashes every shard's payload and compares it with the manifest's pin and the
// shard's own header. Prints a line per shard (status, tokens, size,
// throughput) and a total. BadInput if any shard is missing, truncated or
// differs; every shard is still checked and reported.
Status VerifyManifest(const Manifest& manifest, std::ostream& out);

// Header, digest check and the most frequent tokens of one shard file.
Status InspectShard(const std::string& path, std::ostream& out);

struct PreviewOptions {
  std::uint64_t first_step = 0;
  std::uint64_t end_step = 4;  // exclusive
  std::uint64_t global_batch = 8;
  std::uint32_t samples = 3;  // samples shown in full per step
  std::uint32_t chars = 64;   // detokenized characters shown per sample
};

// Per step: the corpus of every slot, the batch digest and the head of a few
// samples, detokenized (byte-level vocabularies print as text).
Status PreviewSteps(const Manifest& manifest, const PreviewOptions& options, std::ostream& out);

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_DATA_REPORTS_H_
