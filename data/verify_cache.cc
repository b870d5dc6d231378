#include "data/verify_cache.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace lockstep::data {
namespace {

constexpr int kCacheVersion = 1;

std::string DefaultPath() {
  const char* dir = std::getenv("LOCKSTEP_CACHE_DIR");
  if (dir != nullptr) {
    if (std::string(dir) == "off" || std::string(dir).empty()) return "";
    return (std::filesystem::path(dir) / "verified-shards.json").string();
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return (std::filesystem::path(xdg) / "lockstep" / "verified-shards.json").string();
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return (std::filesystem::path(home) / ".cache" / "lockstep" / "verified-shards.json").string();
  }
  return "";
}

std::uint64_t Nanos(const struct timespec& t) {
  return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(t.tv_nsec);
}

}  // namespace

VerifyCache VerifyCache::Open() {
  return AtPath(DefaultPath());
}

VerifyCache VerifyCache::AtPath(std::string path) {
  VerifyCache cache;
  cache.path_ = std::move(path);
  if (cache.path_.empty()) return cache;
  Result<std::string> text = ReadFile(cache.path_);
  if (!text.ok()) return cache;  // none yet
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("version", 0) != kCacheVersion ||
      !j.contains("files") || !j["files"].is_object()) {
    return cache;  // damaged or another version: start afresh
  }
  for (const auto& [file, e] : j["files"].items()) {
    Entry entry;
    try {
      entry.dev = e.at("dev").get<std::uint64_t>();
      entry.ino = e.at("ino").get<std::uint64_t>();
      entry.size = e.at("size").get<std::uint64_t>();
      entry.mtime_ns = e.at("mtime_ns").get<std::uint64_t>();
      entry.ctime_ns = e.at("ctime_ns").get<std::uint64_t>();
      entry.digest = e.at("digest").get<std::string>();
    } catch (const nlohmann::json::exception&) {
      continue;  // an entry of the wrong shape is no entry
    }
    cache.entries_[file] = entry;
  }
  return cache;
}

Status VerifyCache::Verify(const Shard& shard, const Digest128& digest) {
  std::error_code ec;
  const std::string key = std::filesystem::absolute(shard.path(), ec).lexically_normal().string();
  struct stat st {};
  const bool can_key = !ec && ::stat(shard.path().c_str(), &st) == 0;
  Entry now;
  if (can_key) {
    now = {static_cast<std::uint64_t>(st.st_dev),
           static_cast<std::uint64_t>(st.st_ino),
           static_cast<std::uint64_t>(st.st_size),
           Nanos(st.st_mtim),
           Nanos(st.st_ctim),
           digest.Hex()};
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second == now && now.size == shard.file_bytes())
      return Status::Ok();
  }
  ++hashed_;
  LOCKSTEP_RETURN_IF_ERROR(shard.Verify());
  if (shard.header().payload_digest != digest) {
    return Status::BadInput(fmt::format("{}: its digest {} is not the pinned {}", shard.path(),
                                        shard.header().payload_digest.Hex(), digest.Hex()));
  }
  if (can_key && !path_.empty()) {
    entries_[key] = now;
    dirty_ = true;
  }
  return Status::Ok();
}

void VerifyCache::Save() {
  if (!dirty_ || path_.empty()) return;
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [file, e] : entries_) {
    files[file] = {{"dev", e.dev},           {"ino", e.ino},           {"size", e.size},
                   {"mtime_ns", e.mtime_ns}, {"ctime_ns", e.ctime_ns}, {"digest", e.digest}};
  }
  nlohmann::json j = {{"version", kCacheVersion}, {"files", files}};
  Status st = WriteFileAtomically(path_, j.dump(1) + "\n");
  if (!st.ok()) {
    std::cerr << "lockstep: note: the shard verification cache was not saved (" << st.message()
              << "); the next run hashes the shards again. Set LOCKSTEP_CACHE_DIR to a writable "
                 "directory.\n";
  }
  dirty_ = false;
}

}  // namespace lockstep::data
