#include "trainer/record_stream.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/digest.h"
#include "core/hexfloat.h"

namespace lockstep::trainer {

nlohmann::ordered_json StepToJson(const StepRecord& r) {
  nlohmann::ordered_json j;
  j["step"] = r.step;
  j["loss"] = HexFloat(r.loss);
  j["loss_dec"] = r.loss;
  j["grad_norm"] = HexFloat(r.grad_norm);
  j["grad_norm_dec"] = r.grad_norm;
  j["lr"] = HexFloat(r.lr);
  j["lr_dec"] = r.lr;
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
    j[key] = HexFloat(value);
    j[key + "_dec"] = value;
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

}  // namespace lockstep::trainer
