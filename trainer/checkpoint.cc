#include "trainer/checkpoint.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/atomic_file.h"
#include "core/digest.h"
#include "core/json_diff.h"
#include "core/test_hooks.h"

namespace lockstep::trainer {
namespace {

namespace fs = std::filesystem;

std::string StepName(int step) {
  return fmt::format("step-{:06}", step);
}

// checkpoint.json carries the XXH3-128 of its own compact text without this
// key, so an edited step or cursor is caught like a damaged shard.
std::string MetaDigest(nlohmann::json meta) {
  meta.erase("self_digest");
  const std::string text = meta.dump();
  return Xxh3_128(text.data(), text.size()).Hex();
}

// An integer field of checkpoint.json in [min, max], never narrowed.
Result<std::int64_t> MetaInt(const nlohmann::json& meta, const char* key, std::int64_t min,
                             std::int64_t max, const std::string& origin) {
  auto it = meta.find(key);
  const bool ok =
      it != meta.end() && (it->is_number_unsigned() || it->is_number_integer()) &&
      !(it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) &&
      it->get<std::int64_t>() >= min && it->get<std::int64_t>() <= max;
  if (!ok) {
    return Status::BadInput(
        fmt::format("{}: `{}` must be an integer from {} to {}; the checkpoint is damaged, "
                    "resume from another one",
                    origin, key, min, max));
  }
  return it->get<std::int64_t>();
}

// Writes floats to `path` atomically; returns the payload's XXH3-128.
Status WriteFloats(const std::string& path, const std::vector<const std::vector<float>*>& parts,
                   std::string* digest, std::uint64_t* bytes) {
  Result<AtomicFile> file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  Xxh3_128Stream hash;
  *bytes = 0;
  for (const std::vector<float>* p : parts) {
    const std::size_t n = p->size() * sizeof(float);
    LOCKSTEP_RETURN_IF_ERROR(file->Append(p->data(), n));
    hash.Update(p->data(), n);
    *bytes += n;
  }
  std::this_thread::sleep_for(test_hooks::CheckpointWriteDelay());  // 0 but in a test
  LOCKSTEP_RETURN_IF_ERROR(file->Commit());
  *digest = hash.Finish().Hex();
  return Status::Ok();
}

struct FileEntry {
  char name[64];
  char digest[33];
  std::uint64_t bytes;
};

}  // namespace

CheckpointWriter::~CheckpointWriter() {
  if (writer_.joinable()) writer_.join();
}

Status CheckpointWriter::Save(CheckpointState state) {
  LOCKSTEP_RETURN_IF_ERROR(Complete());
  const std::string partial = (fs::path(dir_) / ("." + StepName(state.step) + ".partial")).string();
  std::error_code ec;
  fs::create_directories(partial, ec);
  if (ec)
    return Status::BadInput(
        fmt::format("{}: cannot create checkpoint directory: {}", partial, ec.message()));
  pending_ = true;
  pending_step_ = state.step;
  pending_meta_ = {{"format", 1},
                   {"step", state.step},
                   {"config_digest", state.config_digest},
                   {"manifest_digest", state.manifest_digest},
                   {"identity", state.identity},
                   {"world_size", comm_.size()},
                   {"num_params", state.params.size()},
                   {"cursor", nlohmann::json::parse(state.cursor.ToJson())}};
  const int rank = comm_.rank(), ranks = comm_.size();
  writer_ = std::thread([this, partial, rank, ranks, state = std::move(state)]() {
    my_file_ = fmt::format("optim-r{}-of-{}.bin", rank, ranks);
    writer_status_ = WriteFloats((fs::path(partial) / my_file_).string(), {&state.m, &state.v},
                                 &my_digest_, &my_bytes_);
    if (writer_status_.ok() && rank == 0) {
      std::string digest;
      std::uint64_t bytes = 0;
      writer_status_ = WriteFloats((fs::path(partial) / "params.bin").string(), {&state.params},
                                   &digest, &bytes);
      pending_meta_["files"]["params.bin"] = {{"xxh3_128", digest}, {"bytes", bytes}};
    }
  });
  return Status::Ok();
}

Status CheckpointWriter::Complete() {
  if (!pending_) return Status::Ok();
  writer_.join();
  pending_ = false;
  // Every rank's file entry, gathered on the main thread (MPI is funneled).
  FileEntry mine{};
  std::snprintf(mine.name, sizeof mine.name, "%s", my_file_.c_str());
  std::snprintf(mine.digest, sizeof mine.digest, "%s", my_digest_.c_str());
  mine.bytes = writer_status_.ok() ? my_bytes_ : 0;
  std::vector<FileEntry> all(static_cast<std::size_t>(comm_.size()));
  LOCKSTEP_RETURN_IF_ERROR(comm_.AllGatherBytes(&mine, sizeof mine, all.data()));
  LOCKSTEP_RETURN_IF_ERROR(writer_status_);
  if (comm_.rank() != 0) return Status::Ok();
  for (const FileEntry& e : all) {
    if (e.bytes == 0) return Status::Crash(fmt::format("a rank failed to write {}", e.name));
    pending_meta_["files"][e.name] = {{"xxh3_128", e.digest}, {"bytes", e.bytes}};
  }
  const fs::path partial = fs::path(dir_) / ("." + StepName(pending_step_) + ".partial");
  const fs::path final_dir = fs::path(dir_) / StepName(pending_step_);
  pending_meta_["self_digest"] = MetaDigest(pending_meta_);
  LOCKSTEP_RETURN_IF_ERROR(
      WriteFileAtomically((partial / "checkpoint.json").string(), pending_meta_.dump(2) + "\n"));
  std::error_code ec;
  fs::remove_all(final_dir, ec);
  fs::rename(partial, final_dir, ec);
  if (ec)
    return Status::BadInput(
        fmt::format("{}: cannot publish the checkpoint: {}", final_dir.string(), ec.message()));
  LOCKSTEP_RETURN_IF_ERROR(
      WriteFileAtomically((fs::path(dir_) / "latest").string(), StepName(pending_step_) + "\n"));
  // Only now, with a newer complete checkpoint, may old ones go.
  std::vector<fs::path> complete;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("step-", 0) == 0) complete.push_back(e.path());
  }
  std::sort(complete.begin(), complete.end());
  for (std::size_t i = 0; keep_ > 0 && i + static_cast<std::size_t>(keep_) < complete.size(); ++i) {
    fs::remove_all(complete[i], ec);
  }
  return Status::Ok();
}

Status CheckpointWriter::Finish() {
  return Complete();
}

Result<LoadedCheckpoint> LoadLatestCheckpoint(const std::string& dir,
                                              const nlohmann::json& identity,
                                              std::size_t num_params) {
  Result<std::string> latest = ReadFile((fs::path(dir) / "latest").string());
  if (!latest.ok()) {
    return Status::BadInput(
        fmt::format("{}: no complete checkpoint (no `latest` file); pass the --checkpoint "
                    "directory of an earlier run",
                    dir));
  }
  std::string name = *latest;
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  // `latest` names a directory beside it, nothing else.
  const bool well_named = name.size() >= 11 && name.rfind("step-", 0) == 0 &&
                          name.find_first_not_of("0123456789", 5) == std::string::npos;
  if (!well_named) {
    return Status::BadInput(
        fmt::format("{}/latest: \"{}\" is not a checkpoint name (step-NNNNNN); the file is "
                    "damaged: write the name of a complete checkpoint in it",
                    dir, name.substr(0, 40)));
  }
  LoadedCheckpoint out;
  out.path = (fs::path(dir) / name).string();
  const std::string meta_path = (fs::path(out.path) / "checkpoint.json").string();
  Result<std::string> meta_text = ReadFile(meta_path);
  if (!meta_text.ok()) return meta_text.status();
  nlohmann::json meta = nlohmann::json::parse(*meta_text, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("files") ||
      !meta["files"].is_object() || !meta.contains("cursor") || !meta.contains("identity")) {
    return Status::BadInput(meta_path + ": not a lockstep checkpoint manifest");
  }
  if (!meta.contains("self_digest") || !meta["self_digest"].is_string() ||
      meta["self_digest"].get<std::string>() != MetaDigest(meta)) {
    return Status::BadInput(
        fmt::format("{}: its digest does not match its contents: the file was edited or "
                    "damaged (or written by a lockstep without checkpoint digests); resume "
                    "from another checkpoint",
                    meta_path));
  }
  Result<std::int64_t> step = MetaInt(meta, "step", 1, std::numeric_limits<int>::max(), meta_path);
  Result<std::int64_t> saved_ranks = MetaInt(meta, "world_size", 1, 1 << 20, meta_path);
  Result<std::int64_t> saved_params =
      MetaInt(meta, "num_params", 0, std::numeric_limits<std::int64_t>::max(), meta_path);
  for (const Status& st : {step.status(), saved_ranks.status(), saved_params.status()}) {
    if (!st.ok()) return st;
  }
  if (StepName(static_cast<int>(*step)) != name) {
    return Status::BadInput(fmt::format(
        "{}: says step {} but lies in {}; resume from another checkpoint", meta_path, *step, name));
  }
  std::vector<std::string> differ = JsonDiff(meta["identity"], identity);
  if (!differ.empty()) {
    return Status::BadInput(fmt::format(
        "{}: the checkpoint was written by another model or optimizer config; resume with the same "
        "[model] and seed. Keys that differ (checkpoint -> now):\n  {}",
        meta_path, fmt::join(differ, "\n  ")));
  }
  for (const auto& [file, entry] : meta["files"].items()) {
    const bool ok = entry.is_object() && entry.contains("xxh3_128") &&
                    entry["xxh3_128"].is_string() && entry.contains("bytes") &&
                    entry["bytes"].is_number_unsigned();
    if (!ok)
      return Status::BadInput(
          fmt::format("{}: files.{} needs xxh3_128 and bytes", meta_path, file));
  }
  // Every file listed must be there with its digest; read them whole.
  auto load = [&](const std::string& file, std::vector<float>& into) -> Status {
    const std::string path = (fs::path(out.path) / file).string();
    if (!meta["files"].contains(file)) {
      return Status::BadInput(fmt::format("{}: the manifest lists no {}", meta_path, file));
    }
    const std::uint64_t listed_bytes = meta["files"][file]["bytes"].get<std::uint64_t>();
    Result<std::string> bytes = ReadFile(path, listed_bytes);
    if (!bytes.ok()) {
      return Status::BadInput(
          fmt::format("{}: missing from the checkpoint (a rank's shard lost?); resume from "
                      "another checkpoint",
                      path));
    }
    const auto& entry = meta["files"][file];
    const std::string actual = Xxh3_128(bytes->data(), bytes->size()).Hex();
    const std::string want = entry["xxh3_128"].get<std::string>();
    const std::uint64_t want_bytes = entry["bytes"].get<std::uint64_t>();
    if (actual != want || bytes->size() != want_bytes) {
      return Status::BadInput(
          fmt::format("{}: corrupted or truncated: xxh3_128 {} ({} bytes), the manifest says "
                      "{} ({} bytes)",
                      path, actual, bytes->size(), want, want_bytes));
    }
    if (bytes->size() % sizeof(float) != 0) {
      return Status::BadInput(
          fmt::format("{}: {} bytes, not a whole number of float32 values", path, bytes->size()));
    }
    into.resize(bytes->size() / sizeof(float));
    std::memcpy(into.data(), bytes->data(), bytes->size());
    return Status::Ok();
  };
  if (static_cast<std::uint64_t>(*saved_params) != num_params) {
    return Status::BadInput(
        fmt::format("{}: the checkpoint holds {} parameters, the model {}; resume with the "
                    "model that wrote it",
                    meta_path, *saved_params, num_params));
  }
  LOCKSTEP_RETURN_IF_ERROR(load("params.bin", out.params));
  if (out.params.size() != num_params) {
    return Status::BadInput(
        fmt::format("{}/params.bin: {} values for a model of {} parameters; resume from "
                    "another checkpoint",
                    out.path, out.params.size(), num_params));
  }
  const int ranks = static_cast<int>(*saved_ranks);
  out.m.assign(num_params, 0.0f);
  out.v.assign(num_params, 0.0f);
  for (int r = 0; r < ranks; ++r) {
    std::vector<float> shard;
    const std::string file = fmt::format("optim-r{}-of-{}.bin", r, ranks);
    if (!meta["files"].contains(file)) {
      return Status::BadInput(fmt::format("{}: the manifest lists no {}", meta_path, file));
    }
    LOCKSTEP_RETURN_IF_ERROR(load(file, shard));
    const std::size_t begin = SliceBegin(num_params, ranks, r);
    const std::size_t len = SliceBegin(num_params, ranks, r + 1) - begin;
    if (shard.size() != 2 * len) return Status::BadInput(file + ": wrong size for its slice");
    std::copy(shard.begin(), shard.begin() + static_cast<std::ptrdiff_t>(len),
              out.m.begin() + static_cast<std::ptrdiff_t>(begin));
    std::copy(shard.begin() + static_cast<std::ptrdiff_t>(len), shard.end(),
              out.v.begin() + static_cast<std::ptrdiff_t>(begin));
  }
  out.step = static_cast<int>(*step);
  Result<data::SamplerCursor> cursor =
      data::SamplerCursor::FromJson(meta["cursor"].dump(), meta_path);
  if (!cursor.ok()) return cursor.status();
  if (cursor->step != static_cast<std::uint64_t>(*step) + 1) {
    return Status::BadInput(
        fmt::format("{}: its sampler cursor is at step {}, not {}: resume from another "
                    "checkpoint",
                    meta_path, cursor->step, *step + 1));
  }
  out.cursor = *cursor;
  return out;
}

}  // namespace lockstep::trainer
