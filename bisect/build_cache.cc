#include "bisect/build_cache.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace lockstep::bisect {
namespace fs = std::filesystem;

namespace {

// Where an artifact lives in a cache entry.
fs::path InEntry(const fs::path& entry, const std::string& artifact) {
  const fs::path a(artifact);
  return a.is_absolute() ? entry / "absolute" / a.relative_path() : entry / "worktree" / a;
}

fs::path Source(const std::string& worktree, const std::string& artifact) {
  const fs::path a(artifact);
  return a.is_absolute() ? a : fs::path(worktree) / a;
}

// Copies a file or a directory tree, keeping modification times.
void CopyKeepingTimes(const fs::path& from, const fs::path& to, std::error_code& ec) {
  fs::create_directories(to.parent_path(), ec);
  if (ec) return;
  fs::copy(from, to,
           fs::copy_options::recursive | fs::copy_options::overwrite_existing |
               fs::copy_options::copy_symlinks,
           ec);
  if (ec) return;
  if (!fs::is_directory(from)) {
    fs::last_write_time(to, fs::last_write_time(from), ec);
    return;
  }
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(from, ec)) {
    if (e.is_symlink()) continue;
    fs::last_write_time(to / fs::relative(e.path(), from), e.last_write_time(), ec);
    if (ec) return;
  }
}

}  // namespace

std::optional<CachedBuild> BuildCache::Find(const std::string& tree) const {
  Result<std::string> text = ReadFile((fs::path(dir_) / tree / "build.json").string());
  if (!text.ok()) return std::nullopt;
  try {
    const nlohmann::json j = nlohmann::json::parse(*text);
    return CachedBuild{j.at("ok").get<bool>(), j.at("seconds").get<double>(),
                       j.at("log_tail").get<std::string>()};
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable: build again
  }
}

std::optional<std::string> BuildCache::ArtifactPath(const std::string& tree,
                                                    const std::string& artifact) const {
  const std::optional<CachedBuild> build = Find(tree);
  if (!build || !build->ok) return std::nullopt;
  const fs::path path = InEntry(fs::path(dir_) / tree, artifact);
  if (!fs::exists(path)) return std::nullopt;
  return path.string();
}

Status BuildCache::Restore(const std::string& tree, const std::string& worktree,
                           const std::vector<std::string>& artifacts) const {
  const fs::path entry = fs::path(dir_) / tree;
  for (const std::string& a : artifacts) {
    const fs::path to = Source(worktree, a);
    std::error_code ec;
    fs::remove_all(to, ec);
    CopyKeepingTimes(InEntry(entry, a), to, ec);
    if (ec) {
      return Status::BadInput(
          fmt::format("build cache {}: cannot restore {} to {}: {}; delete the "
                      "entry to rebuild",
                      entry.string(), a, to.string(), ec.message()));
    }
  }
  return Status::Ok();
}

Status BuildCache::Store(const std::string& tree, const CachedBuild& build,
                         const std::string& worktree,
                         const std::vector<std::string>& artifacts) const {
  const fs::path entry = fs::path(dir_) / tree;
  const fs::path tmp = fs::path(dir_) / fmt::format(".{}.tmp{}", tree, ::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Status::BadInput(fmt::format("build cache {}: {}", dir_, ec.message()));
  if (build.ok) {
    for (const std::string& a : artifacts) {
      const fs::path from = Source(worktree, a);
      if (!fs::exists(from)) {
        fs::remove_all(tmp, ec);
        return Status::BadInput(
            fmt::format("the build succeeded but did not produce the artifact {}; check --artifact",
                        from.string()));
      }
      CopyKeepingTimes(from, InEntry(tmp, a), ec);
      if (ec)
        return Status::BadInput(
            fmt::format("build cache: copying {}: {}", from.string(), ec.message()));
    }
  }
  const nlohmann::json j = {
      {"ok", build.ok}, {"seconds", build.seconds}, {"log_tail", build.log_tail}};
  LOCKSTEP_RETURN_IF_ERROR(WriteFileAtomically((tmp / "build.json").string(), j.dump(2) + "\n"));
  fs::remove_all(entry, ec);
  fs::rename(tmp, entry, ec);
  if (ec) return Status::BadInput(fmt::format("build cache {}: {}", entry.string(), ec.message()));
  return Status::Ok();
}

}  // namespace lockstep::bisect
