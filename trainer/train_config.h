// TrainConfig: everything `lockstep train` needs, read from TOML with
// `--set key=value` overrides. See trainer/configs/smoke.toml for every key.
//
//   [model]     vocab_size n_layer n_embd n_head norm ("layernorm" | "rmsnorm") init_std
//   [train]     steps global_batch micro_batch lr min_lr warmup_steps weight_decay
//               beta1 beta2 eps grad_clip seed
//   [numerics]  profile ("portable" | "openblas") threads
//               reduction ("deterministic" | "nondeterministic": across MPI ranks)
//               compute ("fp32" | "bf16": GEMM and attention inputs rounded to bf16)
//               master ("fp32" | "bf16": parameters kept as bf16 values)
//   [data]      manifest ("embedded" or a path, relative to the config file)
//               seq_len (0 = the manifest's)   [[data.schedule]] (overrides the manifest's)
//               eval_manifest (held-out shards for [eval]; "" = the embedded corpora's own)
//   [eval]      every (0 = off) tokens prompts: held-out evaluation (trainer/evaluation.h)
//
// An unknown key is an error that names the nearest valid key. The config as
// resolved (every key, defaults included) is what the record stream's header
// carries, and its XXH3-64 is the config digest.
#ifndef LOCKSTEP_TRAINER_TRAIN_CONFIG_H_
#define LOCKSTEP_TRAINER_TRAIN_CONFIG_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/blend_schedule.h"
#include "trainer/gpt.h"
#include "trainer/kernels.h"

namespace lockstep::trainer {

struct TrainConfig {
  GptConfig model;  // model.seq_len is filled from data.seq_len or the manifest
  int steps = 50;
  int global_batch = 8;  // sequences per optimizer step
  int micro_batch = 4;   // sequences per forward/backward
  double lr = 3e-3;
  double min_lr = 3e-4;
  int warmup_steps = 5;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double grad_clip = 1.0;  // global L2 norm; 0 disables clipping
  std::uint64_t seed = 1;
  Profile profile = Profile::kPortable;
  int threads = 1;
  std::string reduction = "deterministic";  // across ranks; "nondeterministic" = MPI_Allreduce
  // bf16 emulation (trainer/bf16.h): the inputs of every product, and the
  // parameters after initialisation and after every update.
  Precision compute = Precision::kFp32;
  Precision master = Precision::kFp32;
  std::string manifest = "embedded";
  int seq_len = 0;
  std::optional<nlohmann::json> schedule;  // [{from_step, weights: {corpus: w}}]
  // Held-out evaluation (trainer/evaluation.h) every `eval_every` steps.
  // Held-out text: the manifest at eval_manifest (relative to the config
  // file), or for manifest = "embedded" when that is "", the continuation of
  // the synthetic generators past the training corpora.
  std::string eval_manifest;
  int eval_every = 0;      // 0 = off
  int eval_tokens = 4096;  // held-out tokens per corpus
  int eval_prompts = 16;   // arithmetic prompts for the exact-match accuracy

  std::string origin;       // the config file, for messages
  std::string base_dir;     // relative paths resolve against it
  nlohmann::json resolved;  // every key with its value, for the record header
  // XXH3-64 of resolved.dump() without numerics.threads and train.micro_batch,
  // which change no bit.
  std::uint64_t Digest() const;
};

// A lower bound on the bytes a rank of `ranks` needs to train `config` with
// sequences of `seq_len` tokens: parameters and AdamW's two moments, a
// gradient per sequence of a micro-batch, the reduction tree's partial sums,
// one micro-batch's logits and their gradient. In double, so that no config
// overflows it.
double MinimumTrainingBytes(const TrainConfig& config, int seq_len, int ranks = 1);

// BadInput when MinimumTrainingBytes exceeds the machine's physical memory:
// refused before anything is allocated, naming the bytes and the keys to lower.
Status CheckFitsInMemory(const TrainConfig& config, int seq_len, int ranks = 1);

// Reads `path`, applies `overrides` ("model.n_layer=4"; values parse as TOML,
// bare words as strings) and validates. BadInput names the file and the key.
Result<TrainConfig> LoadTrainConfig(const std::string& path,
                                    const std::vector<std::string>& overrides);
// The same from TOML text (tests, embedded configs).
Result<TrainConfig> ParseTrainConfig(const std::string& text, const std::string& origin,
                                     const std::string& base_dir,
                                     const std::vector<std::string>& overrides);

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_TRAIN_CONFIG_H_
