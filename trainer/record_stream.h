// RecordWriter: the record stream of docs/design.md. JSON Lines; line 1 is the
// header, then one line per optimizer step, flushed as the step ends so a
// crash or hang leaves every finished step on disk.
#ifndef LOCKSTEP_TRAINER_RECORD_STREAM_H_
#define LOCKSTEP_TRAINER_RECORD_STREAM_H_

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace lockstep::trainer {

struct StepRecord {
  int step = 0;
  float loss = 0;
  float grad_norm = 0;  // global L2 norm before clipping
  float lr = 0;
  std::uint64_t tokens = 0;
  std::uint64_t batch_digest = 0;
  std::uint64_t param_digest = 0;
  std::uint64_t mem_peak_bytes = 0;
  std::uint64_t rss_peak_bytes = 0;
  double step_ms = 0;
  // Health (golden/health.h): exactly-zero gradient elements before
  // clipping; samples per corpus in the global batch ("prose:3 arith:3
  // code:2"); the tensors whose update changed no element, space-separated,
  // with their values' RMS and the intended update's RMS.
  std::uint64_t grad_zeros = 0;
  std::string batch_mix;
  std::string params_unchanged;
  nlohmann::ordered_json unchanged_detail = nlohmann::ordered_json::object();
  // Per tensor, the number of elements this step's update changed (not
  // compared with goldens: params_unchanged and param_digest already are).
  nlohmann::ordered_json params_changed = nlohmann::ordered_json::object();
  std::string status = "ok";  // "ok", or why the run stopped here ("nonfinite")
  std::string cause;
  // The held-out evaluation (trainer/evaluation.h), on the steps that ran one.
  struct EvalCorpus {
    std::string name;
    float loss = 0;
    std::optional<float> accuracy;        // exact-match, where the corpus has a task
    std::optional<float> token_accuracy;  // its answer tokens right under teacher forcing
  };
  std::optional<float> eval_loss;  // over all held-out tokens of all corpora
  std::vector<EvalCorpus> eval_corpora;
};

// The JSON line of a step: floats as exact hex ("loss") and decimal ("loss_dec").
// With an evaluation: eval_loss, and per corpus eval_loss_<corpus>,
// eval_acc_<corpus> and eval_tokacc_<corpus>, each with its _dec.
nlohmann::ordered_json StepToJson(const StepRecord& r);

// An exact float field: "key" as a hex float (every bit) and "key_dec" as a
// decimal for people. `single`: the value is a float32, and its decimal is
// float32's shortest.
void PutExactFloat(nlohmann::ordered_json& line, const std::string& key, double value, bool single);

class RecordWriter {
 public:
  // Opens `path` for writing (truncating); "" writes nothing.
  static Result<RecordWriter> Open(const std::string& path);
  RecordWriter(RecordWriter&& o) noexcept : file_(o.file_) { o.file_ = nullptr; }
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;
  ~RecordWriter();

  void Write(const nlohmann::ordered_json& line);  // one line, flushed

 private:
  explicit RecordWriter(std::FILE* file) : file_(file) {}
  std::FILE* file_;
};

// A step of another trainer (the Python recorder, python/lockstep): the
// fields it could measure. Floats keep their width; absent fields are not
// written.
struct ExternalStep {
  std::int64_t step = 0;
  double loss = 0;
  bool loss_single = true;
  std::optional<double> grad_norm;
  bool grad_norm_single = true;
  std::optional<double> lr;
  bool lr_single = false;
  std::optional<std::uint64_t> tokens, batch_digest, param_digest, mem_peak_bytes, rss_peak_bytes,
      grad_zeros;
  std::optional<double> step_ms;
  std::optional<std::string> params_unchanged;
  nlohmann::ordered_json params_changed = nlohmann::ordered_json::object();
};

// The record stream of another trainer, written by the same code as
// lockstep's own: a header, then one flushed line per step. Steps must come
// in strictly increasing order; a non-finite loss or gradient norm is
// recorded with status "nonfinite" (the gate's crash diagnosis), after which
// no further step is taken.
class ExternalRecord {
 public:
  // Header: tool, version, `config` (any JSON object) and its XXH3-64
  // digest (of its compact dump), `env`, and optionally the data's
  // manifest and per-corpus digests (`data`: {"manifest_digest", "corpora"}).
  static Result<ExternalRecord> Open(const std::string& path, const nlohmann::ordered_json& config,
                                     const nlohmann::ordered_json& env,
                                     const nlohmann::ordered_json& data);
  Status Step(const ExternalStep& step);
  bool stopped() const { return stopped_; }

 private:
  explicit ExternalRecord(RecordWriter writer) : writer_(std::move(writer)) {}
  RecordWriter writer_;
  std::int64_t last_step_ = 0;
  bool stopped_ = false;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_RECORD_STREAM_H_
