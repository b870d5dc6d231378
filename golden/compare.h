// Comparing a run against its golden: per-metric policies, the first
// divergent step, and a diagnosis of what kind of change it is.
//
// Diagnosis at the first divergent step, from the recorded fields:
//   config    config digests differ: not compared at all; the differing keys
//   data      batch_digest differs (and which corpus, if the data changed)
//   numerics  same batch, loss or grad_norm differs (by how many ULPs)
//   state     same batch and loss, param_digest differs
//   memory    mem_peak_bytes differs (by how much)
//   crash     the run stopped early or recorded a non-finite step
// (hang is the smoke runner's: the watchdog killed the run.)
#ifndef LOCKSTEP_GOLDEN_COMPARE_H_
#define LOCKSTEP_GOLDEN_COMPARE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "golden/run_record.h"

namespace lockstep::golden {

struct MetricPolicy {
  enum class Kind { kExact, kUlps, kTolerance, kIgnore };
  Kind kind = Kind::kExact;
  std::int64_t ulps = 0;  // kUlps: allowed distance
  double rtol = 0;        // kTolerance: |a - b| <= atol + rtol * |golden|
  double atol = 0;
  std::string ToString() const;
};

// Policies for every metric; unnamed metrics use the defaults of docs/design.md:
// exact for loss, grad_norm, lr, tokens, digests and mem_peak_bytes;
// rtol 0.25 for rss_peak_bytes; step_ms ignored; exact for anything else.
struct Policies {
  std::map<std::string, MetricPolicy> per_metric;
  MetricPolicy For(const std::string& metric) const;
};

// Parses a policy written in a case file: "exact", "ignore", "ulps = N"
// style tables are read by the case parser; this takes the parts.
MetricPolicy ExactPolicy();
MetricPolicy IgnorePolicy();
MetricPolicy UlpsPolicy(std::int64_t ulps);
MetricPolicy TolerancePolicy(double rtol, double atol);

// kDataOrNumerics: a loss, gradient norm or learning rate differs in a log
// that has no batch digest, so the batch could not be checked.
enum class Diagnosis {
  kPass,
  kConfig,
  kData,
  kNumerics,
  kDataOrNumerics,
  kState,
  kMemory,
  kCrash,
  kHang
};
const char* DiagnosisName(Diagnosis d);

struct MetricDiff {
  std::string metric;
  std::string golden;  // as text (hex floats exact)
  std::string run;
  std::optional<std::int64_t> ulps;  // exact float metrics: distance in float32 (or double) ULPs
  std::optional<double> abs;  // float metrics from rounded decimals (text logs): |run - golden|
  std::optional<double> rel;  // float or count metrics: |run - golden| / |golden|
};

struct Comparison {
  Diagnosis diagnosis = Diagnosis::kPass;
  std::optional<std::int64_t> first_divergent_step;
  std::vector<MetricDiff> diffs;  // every metric out of policy at that step
  bool ulps_measured = false;     // some exact float was compared (max_ulps means something)
  std::int64_t steps_compared = 0;
  std::int64_t golden_steps = 0;
  std::int64_t max_ulps = 0;  // over all compared float values
  double max_rel = 0;
  std::vector<std::string> config_diff;  // kConfig: "key: golden -> run"
  std::vector<std::string> env_diff;     // always: the environment difference
  std::string summary;                   // one line for people
  std::string detail;                    // a paragraph: the diagnosis explained
};

// Distance between two floats in units in the last place: counted in float32
// when both are exactly floats, else in double. Same sign-magnitude order as
// the bits, so +0 and -0 are 0 apart.
std::int64_t UlpDistance(double a, double b);

// Does `run` keep `golden` under `policy`?
bool Within(const MetricValue& golden, const MetricValue& run, const MetricPolicy& policy);

// Why a step of a run is a crash, not a value to compare: a `status` other
// than "ok" (lockstep's trainer) or a non-finite loss or grad_norm (any log).
std::optional<std::string> NonFinite(const StepRow& row);

// Compares step by step up to the shorter of the two; a run shorter than its
// golden is a crash unless it diverged earlier. Steps are paired by position
// and must carry the same numbers; a run longer than its golden, or steps
// numbered differently, is kConfig: the golden does not cover the run.
Comparison Compare(const RunRecord& golden, const RunRecord& run, const Policies& policies);

}  // namespace lockstep::golden

#endif  // LOCKSTEP_GOLDEN_COMPARE_H_
