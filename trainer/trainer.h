// Train: the whole training run of `lockstep train`, one step at a time:
//
//   for step = 1..steps:
//     this rank's slots [B r / N, B (r + 1) / N) of the global batch of B,
//     a micro-batch (up to train.micro_batch sequences) at a time:
//       tokens   = sampler(step, slot) for its slots           data/
//       loss_s   = model.Forward(tokens), per sequence s        trainer/gpt.h
//       grads_s  = model.Backward(1 / global tokens), per sequence s
//       push each (grads_s, loss_s) into the tree at its slot  trainer/reduction_tree.h
//     the ranks' partial sums continue the same tree: the sum over B slots
//     grad_norm = sqrt(sum of squares in fixed chunks)
//     stop with exit 3 if loss or grad_norm is not finite
//     clip to grad_clip; AdamW; write the step's record; checkpoint; evaluate
//
// The order of every sum, in one sentence: each parameter's gradient (and
// the loss) is the sum of the B per-sequence gradients in the binary tree
// over slot indices (siblings added left + right, the leftover aligned
// blocks of a B that is no power of two added right to left), and each
// per-sequence gradient sums its tokens in order. So the same config and
// seed give the same bits with any thread count, any number of ranks up to
// B, any micro-batch size, across a stop and resume on other ranks, and in
// the portable profile on any CPU and compiler.
#ifndef LOCKSTEP_TRAINER_TRAINER_H_
#define LOCKSTEP_TRAINER_TRAINER_H_

#include <ostream>
#include <string>

#include "core/status.h"
#include "data/manifest.h"
#include "trainer/tensor_trace.h"
#include "trainer/train_config.h"

namespace lockstep::trainer {

struct TrainOptions {
  std::string record_path;           // "" = no record stream
  std::ostream* progress = nullptr;  // a line per step for people, or nothing
  // For the PyTorch reference (bench/torch_reference.py): write the initial
  // parameters (params.bin, float32 little-endian, layout in tensors.json) and
  // every step's global batch (batches.bin, uint32, steps x batch x (T + 1)).
  std::string export_dir;
  // Checkpoints (trainer/checkpoint.h): every `checkpoint_every` steps into
  // `checkpoint_dir`, keeping the newest `keep` (0 = all).
  std::string checkpoint_dir;
  int checkpoint_every = 0;
  int keep = 0;
  std::string resume_dir;  // continue from its latest complete checkpoint
  int stop_at = 0;         // end after this step, as an interrupted run would (0 = run to the end)
  bool checkpoint_sync = false;  // write checkpoints in the step loop (to measure what async saves)
  // Trace every tensor of step `trace_step` into `trace_dir` (trainer/tensor_trace.h).
  int trace_step = 0;
  std::string trace_dir;
  TraceValues trace_values;  // whose values the trace keeps (digests: always all)
};

struct TrainResult {
  int steps_done = 0;
  float first_loss = 0;
  float last_loss = 0;
};

// Resolves the config's data: the embedded synthetic corpora (written once to
// a cache directory under the system temp dir) or a manifest path relative to
// the config; applies data.seq_len and data.schedule.
Result<data::Manifest> ResolveTrainingData(const TrainConfig& config);

// BadInput before any work for config or data problems; Crash when the loss
// or the gradient norm stops being finite (that step's record says which).
Status Train(const TrainConfig& config, const TrainOptions& options, TrainResult* result);

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_TRAINER_H_
