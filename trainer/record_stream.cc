#include "trainer/record_stream.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/digest.h"
#include "core/hexfloat.h"

namespace lockstep::trainer {

void PutExactFloat(nlohmann::ordered_json& line, const std::string& key, double value,
                   bool single) {
  line[key] = HexFloat(value);
  if (single) {
    // float32's shortest decimal, not the double's digits of the same value.
    line[key + "_dec"] = std::stod(fmt::format("{}", static_cast<float>(value)));
  } else {
    line[key + "_dec"] = value;
  }
}

nlohmann::ordered_json StepToJson(const StepRecord& r) {
  nlohmann::ordered_json j;
  j["step"] = r.step;
  PutExactFloat(j, "loss", r.loss, true);
  PutExactFloat(j, "grad_norm", r.grad_norm, true);
  PutExactFloat(j, "lr", r.lr, true);
  j["tokens"] = r.tokens;
  j["batch_digest"] = Hex64(r.batch_digest);
  j["param_digest"] = Hex64(r.param_digest);
  j["mem_peak_bytes"] = r.mem_peak_bytes;
  j["rss_peak_bytes"] = r.rss_peak_bytes;
  j["step_ms"] = r.step_ms;
  j["grad_zeros"] = r.grad_zeros;
  j["batch_mix"] = r.batch_mix;
  j["params_unchanged"] = r.params_unchanged;
  if (!r.unchanged_detail.empty()) j["unchanged_detail"] = r.unchanged_detail;
  if (!r.params_changed.empty()) j["params_changed"] = r.params_changed;
  auto add_float = [&j](const std::string& key, float value) {
    PutExactFloat(j, key, value, true);
  };
  if (r.eval_loss) add_float("eval_loss", *r.eval_loss);
  for (const StepRecord::EvalCorpus& c : r.eval_corpora) {
    add_float("eval_loss_" + c.name, c.loss);
    if (c.accuracy) add_float("eval_acc_" + c.name, *c.accuracy);
    if (c.token_accuracy) add_float("eval_tokacc_" + c.name, *c.token_accuracy);
  }
  if (r.status != "ok") {
    j["status"] = r.status;
    j["cause"] = r.cause;
  }
  return j;
}

Result<RecordWriter> RecordWriter::Open(const std::string& path) {
  if (path.empty()) return RecordWriter(nullptr);
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return Status::BadInput(path + ": cannot write the record stream: " + std::strerror(errno));
  }
  return RecordWriter(f);
}

RecordWriter::~RecordWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void RecordWriter::Write(const nlohmann::ordered_json& line) {
  if (file_ == nullptr) return;
  std::string text = line.dump() + "\n";
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

Result<ExternalRecord> ExternalRecord::Open(const std::string& path,
                                            const nlohmann::ordered_json& config,
                                            const nlohmann::ordered_json& env,
                                            const nlohmann::ordered_json& data) {
  if (!config.is_object() || !env.is_object() || !data.is_object()) {
    return Status::BadInput("config, env and data must be JSON objects");
  }
  if (path.empty()) return Status::BadInput("the record stream needs a path");
  Result<RecordWriter> writer = RecordWriter::Open(path);
  if (!writer.ok()) return writer.status();
  nlohmann::ordered_json header;
  header["type"] = "header";
  header["tool"] = "lockstep-python";
  header["version"] = LOCKSTEP_VERSION;
  header["config"] = config;
  const std::string text = config.dump();
  header["config_digest"] = Hex64(Xxh3_64(text.data(), text.size()));
  if (data.contains("manifest_digest")) header["manifest_digest"] = data["manifest_digest"];
  if (data.contains("corpora")) header["corpora"] = data["corpora"];
  header["profile"] = "pytorch";
  header["env"] = env;
  ExternalRecord record(std::move(writer).value());
  record.writer_.Write(header);
  return record;
}

Status ExternalRecord::Step(const ExternalStep& s) {
  if (stopped_) {
    return Status::BadInput(
        fmt::format("step {}: the run already recorded a non-finite value at step {} and "
                    "stopped there",
                    s.step, last_step_));
  }
  if (s.step <= last_step_) {
    return Status::BadInput(fmt::format(
        "step {} after step {}: steps must be recorded in increasing order", s.step, last_step_));
  }
  nlohmann::ordered_json j;
  j["step"] = s.step;
  PutExactFloat(j, "loss", s.loss, s.loss_single);
  if (s.grad_norm) PutExactFloat(j, "grad_norm", *s.grad_norm, s.grad_norm_single);
  if (s.lr) PutExactFloat(j, "lr", *s.lr, s.lr_single);
  if (s.tokens) j["tokens"] = *s.tokens;
  if (s.batch_digest) j["batch_digest"] = Hex64(*s.batch_digest);
  if (s.param_digest) j["param_digest"] = Hex64(*s.param_digest);
  if (s.mem_peak_bytes) j["mem_peak_bytes"] = *s.mem_peak_bytes;
  if (s.rss_peak_bytes) j["rss_peak_bytes"] = *s.rss_peak_bytes;
  if (s.step_ms) j["step_ms"] = *s.step_ms;
  if (s.grad_zeros) j["grad_zeros"] = *s.grad_zeros;
  if (s.params_unchanged) j["params_unchanged"] = *s.params_unchanged;
  if (!s.params_changed.empty()) j["params_changed"] = s.params_changed;
  const bool finite = std::isfinite(s.loss) && (!s.grad_norm || std::isfinite(*s.grad_norm));
  if (!finite) {
    j["status"] = "nonfinite";
    j["cause"] = std::isfinite(s.loss) ? "grad_norm is not finite" : "loss is not finite";
    stopped_ = true;
  }
  writer_.Write(j);
  last_step_ = s.step;
  return Status::Ok();
}

}  // namespace lockstep::trainer
