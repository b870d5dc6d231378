// GitRepo: the few git questions a bisection asks, answered by running git.
#ifndef LOCKSTEP_BISECT_GIT_H_
#define LOCKSTEP_BISECT_GIT_H_

#include <string>
#include <vector>

#include "core/status.h"
#include "core/subprocess.h"

namespace lockstep::bisect {

struct CommitInfo {
  std::string hash;
  std::string subject;
  std::string author;              // "Name <email>"
  std::string date;                // ISO 8601, the author date
  std::vector<std::string> files;  // "M\tpath", as git show --name-status
};

class GitRepo {
 public:
  // The repository containing `dir`; BadInput if it is not in one.
  static Result<GitRepo> Open(const std::string& dir);

  const std::string& root() const { return root_; }

  // `git -C root args...`; BadInput with git's message on a non-zero exit.
  Result<std::string> Run(const std::vector<std::string>& args) const;
  // The same, exit code and both streams as they came.
  Result<Captured> RunRaw(const std::vector<std::string>& args) const;

  // The full hash of REV; BadInput naming `what` (e.g. "--good") if REV is
  // not a commit here.
  Result<std::string> ResolveCommit(const std::string& rev, const std::string& what) const;
  Result<std::string> TreeOf(const std::string& commit) const;
  Result<bool> IsAncestor(const std::string& ancestor, const std::string& descendant) const;
  Result<CommitInfo> Describe(const std::string& commit) const;
  // The first parent, or "" for a root commit.
  Result<std::string> ParentOf(const std::string& commit) const;

 private:
  explicit GitRepo(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace lockstep::bisect

#endif  // LOCKSTEP_BISECT_GIT_H_
