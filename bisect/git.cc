#include "bisect/git.h"

#include <fmt/format.h>

#include <sstream>

namespace lockstep::bisect {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<GitRepo> GitRepo::Open(const std::string& dir) {
  Result<Captured> r = RunCapture({"git", "-C", dir, "rev-parse", "--show-toplevel"});
  if (!r.ok()) return Status::BadInput("git is needed for bisect commits: " + r.status().message());
  if (r->exit_code != 0) {
    return Status::BadInput(
        fmt::format("--repo {}: not a git repository ({}); pass --repo DIR", dir, Trim(r->err)));
  }
  return GitRepo(Trim(r->out));
}

Result<Captured> GitRepo::RunRaw(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"git", "-C", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCapture(argv);
}

Result<std::string> GitRepo::Run(const std::vector<std::string>& args) const {
  Result<Captured> r = RunRaw(args);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return Status::BadInput(
        fmt::format("git {} in {} failed: {}", fmt::join(args, " "), root_, Trim(r->err)));
  }
  return Trim(r->out);
}

Result<std::string> GitRepo::ResolveCommit(const std::string& rev, const std::string& what) const {
  Result<Captured> r = RunRaw({"rev-parse", "--verify", "--quiet", rev + "^{commit}"});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0 || rev.empty()) {
    return Status::BadInput(
        fmt::format("{} {}: not a commit in {}; give a hash, branch or tag "
                    "(git log --oneline shows them)",
                    what, rev, root_));
  }
  return Trim(r->out);
}

Result<std::string> GitRepo::TreeOf(const std::string& commit) const {
  return Run({"rev-parse", commit + "^{tree}"});
}

Result<bool> GitRepo::IsAncestor(const std::string& ancestor, const std::string& descendant) const {
  Result<Captured> r = RunRaw({"merge-base", "--is-ancestor", ancestor, descendant});
  if (!r.ok()) return r.status();
  return r->exit_code == 0;
}

Result<std::string> GitRepo::ParentOf(const std::string& commit) const {
  Result<Captured> r = RunRaw({"rev-parse", "--verify", "--quiet", commit + "^1"});
  if (!r.ok()) return r.status();
  return r->exit_code == 0 ? Trim(r->out) : std::string();
}

Result<CommitInfo> GitRepo::Describe(const std::string& commit) const {
  Result<std::string> head = Run({"show", "-s", "--format=%H%n%s%n%an <%ae>%n%aI", commit});
  if (!head.ok()) return head.status();
  CommitInfo info;
  std::istringstream in(*head);
  std::getline(in, info.hash);
  std::getline(in, info.subject);
  std::getline(in, info.author);
  std::getline(in, info.date);
  Result<std::string> files = Run({"show", "--format=", "--name-status", commit});
  if (!files.ok()) return files.status();
  std::istringstream f(*files);
  for (std::string line; std::getline(f, line);) {
    if (!line.empty()) info.files.push_back(line);
  }
  return info;
}

}  // namespace lockstep::bisect
