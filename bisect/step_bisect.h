// BisectSteps: where, inside training, two runs that should agree first
// differ. `lockstep bisect steps RUN_A RUN_B`:
//
//   step   = first step whose loss, grad_norm, batch or parameter digest differ
//   re-run each side to that step with --trace-step (its own binary, config,
//          thread count and world size, taken from its record's header),
//          keeping digests only
//   tensor = first tensor, in the order the step computes them (forward
//            activations, loss, backward gradients, summed gradients,
//            updated parameters: trainer/tensor_trace.h), whose digest differs;
//            then how the difference spreads through the next tensors
//   values = a second re-run of each side keeps the values of just the tensors
//            the report shows, to measure their differences element by
//            element; its digests must equal the first re-run's, or that side
//            is not deterministic (and the report says so).
//
// The runs may differ in anything: the binary (--binary-a/-b), the config,
// the environment (threads, ranks, profile).
//
// Another trainer (a PyTorch loop that records with python/lockstep's
// Recorder) is re-run with its own command: a smoke case's `command`
// (--case) or a shell command per side (--command-a/-b), in a directory per
// side (--dir-a/-b: two checkouts of the trainer), with the step to trace in
// LOCKSTEP_TRACE_STEP, the trace's directory in LOCKSTEP_TRACE_DIR and the
// values to keep in LOCKSTEP_TRACE_VALUES. Its trace has the same format.
//
// When the batch differs at the first divergent step, the runs trained on
// different data: that is the answer, and nothing is re-run.
#ifndef LOCKSTEP_BISECT_STEP_BISECT_H_
#define LOCKSTEP_BISECT_STEP_BISECT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "golden/run_record.h"
#include "trainer/tensor_trace.h"

namespace lockstep::bisect {

struct StepBisectOptions {
  std::string run_a, run_b;        // record streams (.jsonl) or golden files (.toml)
  std::string binary_a, binary_b;  // lockstep binaries that re-run each side
  std::string config_a, config_b;  // configs to re-run (default: each run's header config)
  // Another trainer: its smoke case (whose command re-runs both sides) and/or
  // a shell command per side; each runs in its dir (default: the case's
  // directory, or the current one).
  std::string case_path;
  std::string command_a, command_b;
  std::string dir_a, dir_b;
  std::string work_dir;  // re-run records and traces ("" = a temp dir)
  int spread_rows = 8;   // rows of the "how it spreads" table
  double timeout = 600;  // seconds without output before a re-run counts as hung
};

// How one traced tensor compares between the two sides.
struct TensorDiff {
  std::string phase;
  int micro_batch = -1;
  std::string name;
  std::string name_b;  // B's name when it differs: matched by position, renamed
  std::uint64_t count = 0;
  std::uint64_t differing = 0;  // elements whose bits differ
  std::optional<std::uint64_t> first_index;
  double max_abs_diff = 0;
  double rel_diff = 0;  // ||a - b|| / ||a||
  bool shape_differs = false;
  bool digest_only = false;  // values not at hand: only the digests say they differ
  bool same() const { return differing == 0 && !shape_differs && !digest_only; }
};

// The first step whose loss, grad_norm, batch_digest or param_digest differ
// (bitwise) among the steps both runs have; `what` says which values and
// how, `keys` lists them.
std::optional<std::int64_t> FirstDivergentStep(const golden::RunRecord& a,
                                               const golden::RunRecord& b, std::string* what,
                                               std::vector<std::string>* keys = nullptr);

// A tensor one side calls by another name, at the same position.
struct Renamed {
  std::string phase;
  int micro_batch = -1;
  std::string name_a, name_b;
};

// Compares two traces of the same step tensor by tensor, in A's order,
// matched by (micro-batch, phase, name), or, for a name only one side has,
// by (micro-batch, phase, position) with a name only the other side has (a
// renamed module: listed in `renamed`, and compared like any other). By
// digest, then element by element where the digests differ and both sides'
// values are filled in (see trainer::ReadTraceValues; without them the diff
// is `digest_only`). Tensors only one side has are skipped (a micro-batch
// another world size ran elsewhere). Returns the first differing tensor and
// every differing tensor after it, in order, or nothing if all agree;
// `identical_before` counts the tensors compared equal before it.
std::vector<TensorDiff> FirstDivergentTensor(const std::vector<trainer::TracedTensor>& a,
                                             const std::vector<trainer::TracedTensor>& b,
                                             std::size_t* identical_before,
                                             std::vector<Renamed>* renamed = nullptr);

struct StepBisectResult {
  std::optional<std::int64_t> step;     // none: the runs agree on every common step
  std::string step_differs;             // what differs at `step`: "param_digest 1a.. vs 2b.."
  bool batch_differs = false;           // the batch differs at `step`: data, nothing re-run
  std::vector<Renamed> renamed;         // tensors matched by position under another name
  std::size_t identical_before = 0;     // tensors bit-identical before the first that differs
  std::size_t traced = 0;               // tensors in side A's trace of `step`
  std::vector<TensorDiff> tensors;      // the first differing tensor and every later one
                                        // that differs; empty: the traces agree
  std::vector<char> not_deterministic;  // the sides ('A', 'B') whose two re-runs traced
                                        // different bits
  int exit_code = 1;                    // 0 when a first divergent tensor was found
  std::string work_dir;                 // the re-runs' records and traces
};

// The result for machines (`bisect steps --json`): step, step_differs,
// batch_differs, first_tensor and spread (TensorDiff fields), renamed,
// identical_before, traced, not_deterministic, work_dir, exit_code.
nlohmann::ordered_json StepBisectToJson(const StepBisectResult& result);

// BadInput for unreadable runs or configs; the re-runs' failures are
// reported with their output.
Result<StepBisectResult> BisectSteps(const StepBisectOptions& options, std::ostream& out);

}  // namespace lockstep::bisect

#endif  // LOCKSTEP_BISECT_STEP_BISECT_H_
