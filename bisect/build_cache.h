// BuildCache: what building a tree produced, kept by the tree's hash, so a
// bisection that meets a tree again (a re-run, a revert, a rebase with the
// same content) neither rebuilds it nor retries a build that failed.
//
//   DIR/<tree>/build.json       {"ok": true, "seconds": 41.2, "log_tail": "..."}
//   DIR/<tree>/worktree/<path>  artifacts given relative to the worktree
//   DIR/<tree>/absolute/<path>  artifacts given as absolute paths (an install prefix)
//
// Files keep their modification times both ways, so a restored artifact
// looks as old as it is to make and ninja.
#ifndef LOCKSTEP_BISECT_BUILD_CACHE_H_
#define LOCKSTEP_BISECT_BUILD_CACHE_H_

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace lockstep::bisect {

struct CachedBuild {
  bool ok = false;
  double seconds = 0;
  std::string log_tail;  // the build's last lines when it failed
};

class BuildCache {
 public:
  explicit BuildCache(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }

  std::optional<CachedBuild> Find(const std::string& tree) const;
  // Copies the artifacts back: relative ones into `worktree`, absolute ones
  // to where they were.
  Status Restore(const std::string& tree, const std::string& worktree,
                 const std::vector<std::string>& artifacts) const;
  // Where the cache keeps `artifact` of `tree`'s successful build, if it does
  // (for running a cached binary in place: lockstep bisect steps --binary-a).
  std::optional<std::string> ArtifactPath(const std::string& tree,
                                          const std::string& artifact) const;
  // Records a build; on success also copies its artifacts (all must exist).
  // Written to a temporary directory and renamed: never half an entry.
  Status Store(const std::string& tree, const CachedBuild& build, const std::string& worktree,
               const std::vector<std::string>& artifacts) const;

 private:
  std::string dir_;
};

}  // namespace lockstep::bisect

#endif  // LOCKSTEP_BISECT_BUILD_CACHE_H_
