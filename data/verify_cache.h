// VerifyCache: which shard files were read in full and found to match their
// pin, so that an unchanged 100 GB corpus is hashed once, not every run.
//
// A file is known by its device, inode, size, modification and change times
// (nanoseconds) and the digest it was verified against. Any write to the file
// changes its ctime, which no user call can set back, so a hit means the
// bytes are the ones that were hashed. The cache lives in one JSON file,
// written atomically; a missing, unreadable or damaged cache is an empty one
// (it only saves time: nothing is trusted that was not hashed here).
//
// Where: $LOCKSTEP_CACHE_DIR/verified-shards.json, else
// $XDG_CACHE_HOME/lockstep/..., else $HOME/.cache/lockstep/...;
// LOCKSTEP_CACHE_DIR=off turns the cache off (every run hashes every shard).
#ifndef LOCKSTEP_DATA_VERIFY_CACHE_H_
#define LOCKSTEP_DATA_VERIFY_CACHE_H_

#include <map>
#include <string>

#include "core/digest.h"
#include "core/status.h"
#include "data/shard.h"

namespace lockstep::data {

class VerifyCache {
 public:
  // The cache at the configured place ("" path: off).
  static VerifyCache Open();
  // A cache in `path` ("" = off); for tests.
  static VerifyCache AtPath(std::string path);

  // Shard::Verify(), unless this file was verified against `digest` before and
  // has not changed since. Remembers a success.
  Status Verify(const Shard& shard, const Digest128& digest);
  // Writes the remembered entries back if any were added. A cache that cannot
  // be written is reported on stderr once and otherwise ignored.
  void Save();

  // Files hashed (not found in the cache) since Open.
  int hashed() const { return hashed_; }

 private:
  struct Entry {
    std::uint64_t dev = 0, ino = 0, size = 0, mtime_ns = 0, ctime_ns = 0;
    std::string digest;
    bool operator==(const Entry&) const = default;
  };
  std::string path_;
  std::map<std::string, Entry> entries_;  // by absolute path
  bool dirty_ = false;
  int hashed_ = 0;
};

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_VERIFY_CACHE_H_
