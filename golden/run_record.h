// RunRecord: a run's header and its step rows, whether read from a record
// stream (what `lockstep train --record` writes), a golden file, or another
// trainer's log. Golden files are RunRecords written as TOML.
//
// Golden file (TOML, format version 1), human-readable and git-diffable:
//
//   [header]
//   case = "tiny"
//   format_version = 1
//   config_digest = "82f4b26ace0be67a"
//   manifest_digest = "bbe3ebbdefeb1acb"
//   profile = "portable"
//   tool_version = "0.1.0"
//   [header.corpora]            # per-corpus digests of the data
//   [header.env]                # the environment it was recorded in
//   [header.config.model]       # the resolved config, one table per section
//   ...
//   [record]
//   steps = [
//     { step = 1, loss = "0x1.6149f4p+2", grad_norm = "0x1.474cfep+1", ... },  # loss 5.5201
//   ]
//
// Floats are exact C99 hex floats; a trailing comment gives decimals for
// people. Golden files are only written by an explicit `--update`,
// atomically.
#ifndef LOCKSTEP_GOLDEN_RUN_RECORD_H_
#define LOCKSTEP_GOLDEN_RUN_RECORD_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "golden/metric_text.h"  // StepRowFromJson
#include "golden/step_row.h"

namespace lockstep::golden {

inline constexpr int kGoldenFormatVersion = 1;

// Metrics that every step of a run has when any step has them; evaluation
// and health fields come on some steps only. A golden step lacking one is
// damaged; a run step carrying one its golden step lacks is a difference.
inline constexpr const char* kCoreMetrics[] = {
    "loss", "grad_norm", "lr", "tokens", "batch_digest", "param_digest", "mem_peak_bytes"};

struct RunHeader {
  std::string case_name;
  std::string config_digest;
  std::string manifest_digest;
  std::string profile;
  std::string tool_version;
  nlohmann::json corpora = nlohmann::json::object();  // corpus name -> digest
  nlohmann::json env = nlohmann::json::object();      // flat: key -> value
  nlohmann::json config = nlohmann::json::object();   // nested: section -> key -> value
};

struct RunRecord {
  RunHeader header;
  std::vector<StepRow> steps;
};

// The record stream's header line as a RunHeader; a field of another type
// than the header's is left empty (and so compares as changed), never thrown on.
RunHeader HeaderFromJson(const nlohmann::json& header);
// j[key] if it is a string, else "".
std::string JsonText(const nlohmann::json& j, const char* key);

// Reads a record stream (JSON Lines). A missing file, a first line that is
// not a header, a line that is not JSON (but for a last line cut short
// without its newline: a run killed mid-write), a line without a valid step,
// or steps out of order are BadInput naming file and line.
inline constexpr std::uint64_t kMaxRecordStreamBytes = std::uint64_t{1} << 30;
Result<RunRecord> LoadRecordStream(const std::string& path);

// Golden files. ParseGolden is strict: unknown keys, a field of the wrong
// kind (a malformed hex float, a negative count, a digest that is not 16 hex
// digits), a non-finite value, or steps that are not numbered from 1 in
// strictly increasing order, or that lack a field the others have, are
// BadInput "damaged golden: ...; ... re-record ... --update".
std::string GoldenToToml(const RunRecord& record);
Result<RunRecord> ParseGolden(const std::string& text, const std::string& origin);
Result<RunRecord> LoadGolden(const std::string& path);
// Refuses (BadInput, nothing written) a record CheckRecordShape refuses or
// whose text would not parse back to the same steps; else writes atomically.
Status SaveGolden(const RunRecord& record, const std::string& path);

// The shape every golden has: at least one step, steps numbered from 1 and
// strictly increasing, `loss` in every step, a core metric (loss, grad_norm,
// lr, tokens, batch_digest, param_digest, mem_peak_bytes) that one step has
// in every step, and finite floats only.
Status CheckRecordShape(const RunRecord& record);
// Steps numbered from 1, strictly increasing (part of CheckRecordShape; a
// record stream's steps may hold non-finite values, a golden's may not).
Status CheckStepOrder(const RunRecord& record);
// For a case of lockstep's trainer: the golden holds exactly steps 1..steps.
Status CheckGoldenSteps(const RunRecord& golden, std::int64_t steps, const std::string& origin);

}  // namespace lockstep::golden

#endif  // LOCKSTEP_GOLDEN_RUN_RECORD_H_
