// TensorTrace: every named tensor of one training step, in the order the
// step computes it, with its XXH3 digest, a few statistics and its values, so
// that `lockstep bisect steps` can name the first operation whose result
// changed between two runs.
//
// Order within the traced step (`lockstep train --trace-step S --trace DIR`):
//   for each micro-batch m this rank runs, in order:
//     forward   mb m: encoded, h.0.ln1, h.0.qkv, h.0.atty, ..., lnf, probs, losses
//     backward  mb m: dlogits, wte.grad (head), dlnf, lnfw.grad, ... , wpe.grad, wte.grad
//   reduce:  loss, then each parameter's gradient summed over micro-batches and ranks
//   update:  each parameter after the optimizer step
//
// Files: DIR/rank<R>.jsonl (one line per tensor: phase, micro-batch, sequence
// number, name, count, digest, norm, max_abs, `offset` when its values are
// kept, and `dtype` when the tensor was not float32: a PyTorch trace,
// python/lockstep/trace.py) and DIR/rank<R>.bin (the kept values, float32 little-endian, at
// `offset` floats). Both are written to temporary names and renamed when the
// step is complete.
//
// Values can be left out (TraceValues): a traced step holds every activation,
// gradient and parameter, 300 MB for a 5 M parameter model, so `bisect steps`
// first traces digests only and then the values of the few tensors it shows.
#ifndef LOCKSTEP_TRAINER_TENSOR_TRACE_H_
#define LOCKSTEP_TRAINER_TENSOR_TRACE_H_

#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace lockstep::trainer {

struct TracedTensor {
  std::string phase;     // forward | backward | reduce | update
  int micro_batch = -1;  // the global micro-batch index; -1 for reduce and update
  int seq = 0;           // position in its micro-batch's (or the step's) sequence
  std::string name;      // "h.1.fcprojb.grad", "h.0.qkv", ...
  std::uint64_t count = 0;
  bool has_values = true;         // false: the trace kept only digest and statistics
  std::uint64_t offset = 0;       // in floats, into the .bin file (when has_values)
  std::uint64_t digest = 0;       // XXH3-64 of the tensor's bytes as stored (float32 here)
  std::string dtype = "float32";  // as stored: "bfloat16", "int64", ... (PyTorch traces)
  double norm = 0;                // L2 norm: squares summed in double in index order
  double max_abs = 0;
  int rank = 0;               // whose files hold it
  std::vector<float> values;  // empty until ReadTraceValues fills it
};

// Which tensors' values a trace keeps; every tensor gets its digest and
// statistics regardless.
class TraceValues {
 public:
  // "all", "none", or a comma-separated list of tensor names ("h.1.fcprojb.grad,lnfw"),
  // each kept wherever it occurs (every micro-batch, reduce, update).
  static Result<TraceValues> Parse(std::string_view text);
  static TraceValues All() { return TraceValues(); }
  bool Keeps(std::string_view name) const { return all_ || names_.contains(std::string(name)); }

 private:
  bool all_ = true;
  std::set<std::string, std::less<>> names_;
};

class TensorTrace {
 public:
  // Starts DIR/rank<rank>.{jsonl,bin}; creates DIR.
  static Result<TensorTrace> Open(const std::string& dir, int rank,
                                  TraceValues values = TraceValues::All());
  TensorTrace(TensorTrace&&) noexcept;
  TensorTrace(const TensorTrace&) = delete;
  TensorTrace& operator=(const TensorTrace&) = delete;
  ~TensorTrace();

  // Where the next tensors belong: a micro-batch's forward/backward, or the
  // step's reduce/update (micro_batch -1). Resets the sequence number.
  void Begin(std::string_view phase, int micro_batch);
  void Add(std::string_view name, const float* values, std::size_t count);
  void Add(std::string_view name, const double*, std::size_t) { (void)name; }  // gradient checks
  // A tensor stored as another dtype (a PyTorch trace): the digest is over
  // its `stored` bytes, the statistics and kept values over `values`, its
  // elements converted to float32.
  void AddStored(std::string_view name, std::string_view dtype, const void* stored,
                 std::size_t stored_bytes, const float* values, std::size_t count);
  // Writes the index and publishes both files.
  Status Close();

 private:
  TensorTrace() = default;
  std::string dir_;
  int rank_ = 0;
  TraceValues values_;
  std::FILE* bin_ = nullptr;
  std::vector<TracedTensor> index_;
  std::string phase_;
  int micro_batch_ = -1;
  int seq_ = 0;
  std::uint64_t offset_ = 0;
};

// All ranks' trace indexes of DIR (no values: a traced step of a 5 M
// parameter model is 300 MB), in the canonical order: the micro-batches'
// forward and backward by micro-batch index, then reduce, then update. A
// tensor present in several ranks' files (reduce, update) is kept once, from
// the lowest rank.
Result<std::vector<TracedTensor>> LoadTrace(const std::string& dir);

// Reads `t`'s values from DIR's .bin file into t->values; BadInput when the
// trace did not keep them.
Status ReadTraceValues(const std::string& dir, TracedTensor* t);

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_TENSOR_TRACE_H_
