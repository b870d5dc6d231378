#include "trainer/tensor_trace.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "core/atomic_file.h"
#include "core/digest.h"

namespace lockstep::trainer {
namespace fs = std::filesystem;

namespace {

int PhaseRank(const std::string& phase) {
  if (phase == "forward") return 0;
  if (phase == "backward") return 1;
  if (phase == "reduce") return 2;
  return 3;
}

std::string RankStem(const std::string& dir, int rank) {
  return (fs::path(dir) / fmt::format("rank{}", rank)).string();
}

}  // namespace

Result<TraceValues> TraceValues::Parse(std::string_view text) {
  TraceValues v;
  if (text == "all") return v;
  v.all_ = false;
  if (text == "none") return v;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    const std::string_view name = text.substr(begin, comma - begin);
    if (name.empty()) {
      return Status::BadInput(fmt::format(
          "--trace-values \"{}\": an empty name; give all, none, or names separated by commas "
          "(h.1.fcprojb.grad,lnfw)",
          text));
    }
    v.names_.emplace(name);
    begin = comma + 1;
  }
  return v;
}

Result<TensorTrace> TensorTrace::Open(const std::string& dir, int rank, TraceValues values) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return Status::BadInput(fmt::format("--trace {}: cannot create it: {}", dir, ec.message()));
  TensorTrace t;
  t.dir_ = dir;
  t.rank_ = rank;
  t.values_ = std::move(values);
  const std::string tmp = RankStem(dir, rank) + ".bin.tmp";
  t.bin_ = std::fopen(tmp.c_str(), "wb");
  if (t.bin_ == nullptr)
    return Status::BadInput(fmt::format("--trace {}: cannot write {}", dir, tmp));
  return t;
}

TensorTrace::TensorTrace(TensorTrace&& o) noexcept
    : dir_(std::move(o.dir_)),
      rank_(o.rank_),
      values_(std::move(o.values_)),
      bin_(o.bin_),
      index_(std::move(o.index_)),
      phase_(std::move(o.phase_)),
      micro_batch_(o.micro_batch_),
      seq_(o.seq_),
      offset_(o.offset_) {
  o.bin_ = nullptr;
}

TensorTrace::~TensorTrace() {
  if (bin_ != nullptr) std::fclose(bin_);
}

void TensorTrace::Begin(std::string_view phase, int micro_batch) {
  phase_ = phase;
  micro_batch_ = micro_batch;
  seq_ = 0;
}

void TensorTrace::Add(std::string_view name, const float* values, std::size_t count) {
  AddStored(name, "float32", values, count * sizeof(float), values, count);
}

void TensorTrace::AddStored(std::string_view name, std::string_view dtype, const void* stored,
                            std::size_t stored_bytes, const float* values, std::size_t count) {
  TracedTensor t;
  t.phase = phase_;
  t.micro_batch = micro_batch_;
  t.seq = seq_++;
  t.name = name;
  t.dtype = dtype;
  t.count = count;
  t.digest = Xxh3_64(stored, stored_bytes);
  double sum = 0, max_abs = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const double v = values[i];
    sum += v * v;
    max_abs = std::max(max_abs, std::fabs(v));
  }
  t.norm = std::sqrt(sum);
  t.max_abs = max_abs;
  t.has_values = values_.Keeps(name);
  if (t.has_values) {
    t.offset = offset_;
    std::fwrite(values, sizeof(float), count, bin_);
    offset_ += count;
  }
  index_.push_back(std::move(t));
}

Status TensorTrace::Close() {
  const std::string stem = RankStem(dir_, rank_);
  if (std::fflush(bin_) != 0 || fsync(fileno(bin_)) != 0) {
    return Status::BadInput(fmt::format("--trace {}: writing {}.bin failed", dir_, stem));
  }
  std::fclose(bin_);
  bin_ = nullptr;
  std::string lines;
  for (const TracedTensor& t : index_) {
    nlohmann::ordered_json j;
    j["phase"] = t.phase;
    j["mb"] = t.micro_batch;
    j["seq"] = t.seq;
    j["name"] = t.name;
    j["count"] = t.count;
    if (t.has_values) j["offset"] = t.offset;
    if (t.dtype != "float32") j["dtype"] = t.dtype;
    j["digest"] = Hex64(t.digest);
    j["norm"] = t.norm;
    j["max_abs"] = t.max_abs;
    lines += j.dump() + "\n";
  }
  std::error_code ec;
  fs::rename(stem + ".bin.tmp", stem + ".bin", ec);
  if (ec) return Status::BadInput(fmt::format("--trace {}: {}", dir_, ec.message()));
  return WriteFileAtomically(stem + ".jsonl", lines);
}

Result<std::vector<TracedTensor>> LoadTrace(const std::string& dir) {
  std::vector<TracedTensor> all;
  std::set<std::tuple<int, std::string, std::string>> seen;  // (micro-batch, phase, name)
  for (int rank = 0;; ++rank) {
    const std::string stem = RankStem(dir, rank);
    if (!fs::exists(stem + ".jsonl")) {
      if (rank == 0) {
        return Status::BadInput(fmt::format(
            "{}: no trace (rank0.jsonl); write one with lockstep train --trace-step S --trace {}",
            dir, dir));
      }
      break;
    }
    Result<std::string> index = ReadFile(stem + ".jsonl");
    if (!index.ok()) return index.status();
    std::error_code ec;
    const std::uintmax_t bin_bytes = fs::file_size(stem + ".bin", ec);
    if (ec)
      return Status::BadInput(fmt::format("{}.bin: {}; write the trace again", stem, ec.message()));
    std::istringstream in(*index);
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      TracedTensor t;
      try {
        const nlohmann::json j = nlohmann::json::parse(line);
        t.phase = j.at("phase").get<std::string>();
        if (t.phase != "forward" && t.phase != "backward" && t.phase != "reduce" &&
            t.phase != "update") {
          throw std::invalid_argument("phase must be forward, backward, reduce or update");
        }
        // Integers read whole, then range-checked: nothing is narrowed.
        if (!j.at("mb").is_number_integer() || !j.at("seq").is_number_integer()) {
          throw std::invalid_argument("mb and seq must be integers");
        }
        const std::int64_t mb = j.at("mb").get<std::int64_t>(),
                           seq = j.at("seq").get<std::int64_t>();
        if (mb < -1 || mb > (1 << 24) || seq < 0 || seq > (1 << 30))
          throw std::out_of_range("mb or seq out of range");
        t.micro_batch = static_cast<int>(mb);
        t.seq = static_cast<int>(seq);
        t.name = j.at("name").get<std::string>();
        if (!j.at("count").is_number_unsigned())
          throw std::invalid_argument("count must be an integer >= 0");
        t.count = j.at("count").get<std::uint64_t>();
        t.has_values = j.contains("offset");
        if (t.has_values) {
          if (!j["offset"].is_number_unsigned())
            throw std::invalid_argument("offset must be an integer >= 0");
          t.offset = j["offset"].get<std::uint64_t>();
        }
        if (j.contains("dtype")) {
          t.dtype = j["dtype"].get<std::string>();
          if (t.dtype.empty() || t.dtype.size() > 32)
            throw std::invalid_argument("dtype must be a dtype's name");
        }
        const std::string digest = j.at("digest").get<std::string>();
        if (digest.size() != 16 ||
            digest.find_first_not_of("0123456789abcdef") != std::string::npos) {
          throw std::invalid_argument("digest must be 16 hex digits");
        }
        t.digest = std::stoull(digest, nullptr, 16);
        t.norm = j.at("norm").get<double>();
        t.max_abs = j.at("max_abs").get<double>();
      } catch (const std::exception& e) {
        return Status::BadInput(
            fmt::format("{}.jsonl:{}: not a trace line ({})", stem, line_no, e.what()));
      }
      t.rank = rank;
      const std::uint64_t bin_floats = bin_bytes / sizeof(float);
      if (t.has_values && (t.count > bin_floats || t.offset > bin_floats - t.count)) {
        return Status::BadInput(
            fmt::format("{}.jsonl:{}: {} points past the end of {}.bin; the "
                        "trace is incomplete, write it again",
                        stem, line_no, t.name, stem));
      }
      if (!seen.insert({t.micro_batch, t.phase, t.name}).second) continue;
      all.push_back(std::move(t));
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const TracedTensor& a, const TracedTensor& b) {
    const bool a_step = a.micro_batch < 0, b_step = b.micro_batch < 0;
    if (a_step != b_step) return !a_step;
    if (a.micro_batch != b.micro_batch) return a.micro_batch < b.micro_batch;
    if (PhaseRank(a.phase) != PhaseRank(b.phase)) return PhaseRank(a.phase) < PhaseRank(b.phase);
    return a.seq < b.seq;
  });
  return all;
}

Status ReadTraceValues(const std::string& dir, TracedTensor* t) {
  const std::string path = RankStem(dir, t->rank) + ".bin";
  if (!t->has_values) {
    return Status::BadInput(fmt::format(
        "{}: the trace kept no values of {}; write it again with --trace-values {} (or all)", dir,
        t->name, t->name));
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::BadInput(path + ": cannot open it; write the trace again");
  t->values.resize(t->count);
  const bool ok = std::fseek(f, static_cast<long>(t->offset * sizeof(float)), SEEK_SET) == 0 &&
                  std::fread(t->values.data(), sizeof(float), t->count, f) == t->count;
  std::fclose(f);
  if (!ok)
    return Status::BadInput(
        fmt::format("{}: {} is cut short; write the trace again", path, t->name));
  return Status::Ok();
}

}  // namespace lockstep::trainer
