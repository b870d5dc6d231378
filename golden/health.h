// Health checks: silent training bugs that a golden can miss, because the
// golden was recorded from the buggy run, or because the run has no golden
// of its own yet. Each check reads a RunRecord only (pure functions) and
// returns one CheckResult.
//
//   frozen      a parameter tensor whose optimizer update changed no element
//               for `steps` consecutive steps (record-stream fields
//               params_unchanged, unchanged_detail, grad_zeros). The bug: an
//               update below half a ULP of the stored value (bf16 norm
//               weights), a tensor left out of the optimizer.
//               Default: steps = 5.
//   loss_scale  the step-1 loss within band x ln(vocab_size): a fresh model
//               predicts about uniformly. The bug: a loss divided by the
//               data-parallel world size. Optionally the loss at every step
//               bitwise equal to another golden's (`same_loss_as`: a run on N
//               ranks against the 1-rank golden). Default: band = [0.75, 1.5].
//   spike       loss or grad_norm above factor x the median of the previous
//               `window` steps, judged once `min_history` previous steps
//               exist; names the step's batch_mix. The bug: a bad batch, an
//               lr warmup or clipping that does not work.
//               Defaults: factor = 3, window = 10, min_history = 5.
//   learning    with two or more evaluation steps (eval_loss), the last
//               eval_loss at most first x (1 - margin). The bug: a run that
//               trains on something but does not learn the data.
//               Default: margin = 0.05.
//
// Every check has a policy, fail (the default), warn or off, and an outcome:
// pass, warn (tripped under policy warn), fail, off, or n/a when the run has
// no data for it (an external log without per-tensor updates); n/a never
// fails a case.
#ifndef LOCKSTEP_GOLDEN_HEALTH_H_
#define LOCKSTEP_GOLDEN_HEALTH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "golden/run_record.h"

namespace lockstep::golden {

enum class CheckPolicy { kFail, kWarn, kOff };
enum class CheckOutcome { kPass, kWarn, kFail, kOff, kNotApplicable };

const char* CheckOutcomeName(CheckOutcome o);  // "pass", "warn", "fail", "off", "n/a"
// "fail", "warn" or "off"; nullopt otherwise.
std::optional<CheckPolicy> ParseCheckPolicy(std::string_view text);

struct CheckResult {
  std::string check;  // frozen | loss_scale | spike | learning
  CheckOutcome outcome = CheckOutcome::kNotApplicable;
  std::string summary;              // one line
  std::vector<std::string> detail;  // lines for people, no trailing newline
};

struct FrozenOptions {
  CheckPolicy policy = CheckPolicy::kFail;
  int steps = 5;  // K: consecutive unchanged steps that trip it
};

struct LossScaleOptions {
  CheckPolicy policy = CheckPolicy::kFail;
  double band_low = 0.75;  // step-1 loss >= band_low x ln(vocab_size)
  double band_high = 1.5;  // step-1 loss <= band_high x ln(vocab_size)
  // 0: from the header's config (model.vocab_size); external logs have none.
  std::int64_t vocab_size = 0;
  // A golden file (resolved path) whose loss this run must equal bitwise at
  // every step both have; "" for none. The caller loads it.
  std::string same_loss_as;
};

struct SpikeOptions {
  CheckPolicy policy = CheckPolicy::kFail;
  double factor = 3;
  int window = 10;
  int min_history = 5;
};

struct LearningOptions {
  CheckPolicy policy = CheckPolicy::kFail;
  double margin = 0.05;  // last eval_loss <= first x (1 - margin)
};

struct HealthOptions {
  FrozenOptions frozen;
  LossScaleOptions loss_scale;
  SpikeOptions spike;
  LearningOptions learning;
};

// The checks, in the order they are reported.
CheckResult CheckFrozen(const RunRecord& run, const FrozenOptions& options);
// `same_loss_reference`: the golden named by options.same_loss_as, or nullptr
// to skip that comparison.
CheckResult CheckLossScale(const RunRecord& run, const LossScaleOptions& options,
                           const RunRecord* same_loss_reference = nullptr);
CheckResult CheckSpike(const RunRecord& run, const SpikeOptions& options);
CheckResult CheckLearning(const RunRecord& run, const LearningOptions& options);

// All four: frozen, loss_scale, spike, learning.
std::vector<CheckResult> RunHealthChecks(const RunRecord& run, const HealthOptions& options,
                                         const RunRecord* same_loss_reference = nullptr);

}  // namespace lockstep::golden

#endif  // LOCKSTEP_GOLDEN_HEALTH_H_
