#include "trainer/trainer.h"

#include <cblas.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>

#include "core/atomic_file.h"
#include "core/digest.h"
#include "core/hexfloat.h"
#include "core/test_hooks.h"
#include "data/sampler.h"
#include "data/synth.h"
#include "data/token_source.h"
#include "trainer/checkpoint.h"
#include "trainer/comm.h"
#include "trainer/env_fingerprint.h"
#include "trainer/evaluation.h"
#include "trainer/gpt.h"
#include "trainer/optimizer.h"
#include "trainer/record_stream.h"
#include "trainer/tensor_trace.h"
#include "trainer/thread_pool.h"

namespace lockstep::trainer {
namespace {

// Sums per-micro-batch gradients (and losses) in a fixed binary tree over the
// micro-batch index: like a binary counter, two partial sums of the same
// height merge as soon as both exist (left + right), and what remains at the
// end is folded right to left. The tree depends only on the number of
// micro-batches, so an aligned block of micro-batches (a rank's share, later)
// is a subtree.
class TreeAccumulator {
 public:
  // Room for the partial sums of up to `items` Pushes (none for PushScratch
  // alone: items = 0).
  TreeAccumulator(std::size_t size, int items, MemoryTracker& tracker) : size_(size) {
    const int slots = items == 0 ? 0 : std::bit_width(static_cast<unsigned>(items)) + 1;
    for (int i = 0; i < slots; ++i) buffers_.emplace_back(tracker, size);
  }

  void Reset() { stack_.clear(); }
  std::size_t size() const { return size_; }

  // `height` > 0 pushes a partial sum that already covers 2^height aligned
  // micro-batches (another rank's block): the tree stays the same.
  void Push(ThreadPool& pool, const float* grads, double loss, int height = 0) {
    float* mine = Free();
    std::copy(grads, grads + size_, mine);
    PushScratch(pool, mine, loss, height);
  }
  // Push without a copy: the tree sums into `grads` itself, which must stay
  // until Finish.
  void PushScratch(ThreadPool& pool, float* grads, double loss, int height = 0) {
    Partial p{grads, loss, height};
    while (!stack_.empty() && stack_.back().height == p.height) {
      Partial left = stack_.back();
      stack_.pop_back();
      Add(pool, left.grads, p.grads);  // left += right
      p = {left.grads, left.loss + p.loss, p.height + 1};
    }
    stack_.push_back(p);
  }

  // The total: grads and loss. Valid until the next Reset.
  const float* Finish(ThreadPool& pool, double* loss) {
    while (stack_.size() > 1) {
      Partial right = stack_.back();
      stack_.pop_back();
      Add(pool, stack_.back().grads, right.grads);
      stack_.back().loss += right.loss;
    }
    *loss = stack_.back().loss;
    return stack_.back().grads;
  }

 private:
  struct Partial {
    float* grads;
    double loss;
    int height;
  };
  float* Free() {
    for (auto& b : buffers_) {
      bool used = false;
      for (const Partial& p : stack_) used = used || p.grads == b.data();
      if (!used) return b.data();
    }
    std::abort();  // more live partial sums than the tree can have
  }
  void Add(ThreadPool& pool, float* left, const float* right) {
    pool.ParallelFor(size_, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) left[i] = left[i] + right[i];
    });
  }
  std::size_t size_;
  std::vector<TrackedBuffer<float>> buffers_;
  std::vector<Partial> stack_;
};

std::uint64_t RssPeakBytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

Result<data::BlendSchedule> ScheduleFromConfig(const nlohmann::json& j, const data::Manifest& m,
                                               const std::string& origin) {
  data::BlendSchedule s;
  for (const auto& seg : j) {
    data::BlendSegment segment{seg.at("from_step").get<std::uint64_t>(),
                               std::vector<double>(m.corpora.size(), 0.0)};
    for (const auto& [name, w] : seg.at("weights").items()) {
      int c = m.FindCorpus(name);
      if (c < 0) {
        return Status::BadInput(
            fmt::format("{}: data.schedule names unknown corpus \"{}\"; the manifest {} has: {}",
                        origin, name, m.origin, fmt::join(m.CorpusNames(), ", ")));
      }
      segment.weights[static_cast<std::size_t>(c)] = w.get<double>();
    }
    s.segments.push_back(segment);
  }
  LOCKSTEP_RETURN_IF_ERROR(data::ValidateSchedule(s, m.CorpusNames(), origin + " [data.schedule]"));
  return s;
}

Status ExportInitialState(const std::string& dir, const Gpt<float>& model,
                          const TrainConfig& config) {
  nlohmann::ordered_json index;
  index["config"] = config.resolved;
  index["seq_len"] = model.config().seq_len;
  index["num_params"] = model.num_params();
  for (const ParamTensor& t : model.tensors()) {
    index["tensors"].push_back({{"name", t.name}, {"offset", t.offset}, {"size", t.size}});
  }
  const std::string params(reinterpret_cast<const char*>(model.params()),
                           model.num_params() * sizeof(float));
  LOCKSTEP_RETURN_IF_ERROR(
      WriteFileAtomically((std::filesystem::path(dir) / "params.bin").string(), params));
  return WriteFileAtomically((std::filesystem::path(dir) / "tensors.json").string(),
                             index.dump(2) + "\n");
}

// What a rank holds to combine the ranks' partial sums: its slice of every
// rank's partial (the tree sums them in place) and the whole sum gathered
// back: 2 x the parameters whatever N (gathering whole partials held N x),
// and each rank receives about 2 x (N - 1) / N x the parameters per step, as
// a ring all-reduce does. Nothing is allocated on one rank.
struct RankReduction {
  RankReduction(const Communicator& comm, Slices cut, MemoryTracker& tracker)
      : slices(std::move(cut)),
        slice(static_cast<std::size_t>(slices.count[static_cast<std::size_t>(comm.rank())])),
        received(tracker, slice * static_cast<std::size_t>(comm.size())),
        tree(slice, 0, tracker),
        summed(tracker, slices.total),
        losses(static_cast<std::size_t>(comm.size())) {}
  Slices slices;                  // the parameters, one slice per rank
  std::size_t slice;              // this rank's slice length
  TrackedBuffer<float> received;  // slice x ranks, in rank order
  TreeAccumulator tree;           // over the ranks, this slice only, in `received`
  TrackedBuffer<float> summed;    // the whole sum
  std::vector<double> losses;     // every rank's partial loss
};

// Sums the ranks' block partials. deterministic: each rank takes its slice
// of every rank's partial (MPI_Alltoallv) and continues, on that slice, the
// same binary tree over blocks (each block is an aligned subtree of height
// log2(per_rank)); the summed slices are gathered (MPI_Allgatherv). Every
// element goes through the tree one rank would run, so the bits equal one
// rank's. The loss partials are gathered whole and summed in the same tree
// on every rank. nondeterministic: MPI_Allreduce, whatever order MPI sums in.
Status CombineRanks(Communicator& comm, const TrainConfig& config, ThreadPool& pool, int per_rank,
                    RankReduction& r, float** grads, double* loss) {
  const std::size_t n = r.slices.total;
  if (config.reduction == "nondeterministic") {
    std::copy(*grads, *grads + n, r.summed.data());
    LOCKSTEP_RETURN_IF_ERROR(comm.AllReduceSum(r.summed.data(), n));
    LOCKSTEP_RETURN_IF_ERROR(comm.AllReduceSum(loss, 1));
    *grads = r.summed.data();
    return Status::Ok();
  }
  LOCKSTEP_RETURN_IF_ERROR(comm.AllToAllSlices(*grads, r.slices, r.received.data()));
  LOCKSTEP_RETURN_IF_ERROR(comm.AllGather(loss, 1, r.losses.data()));
  r.tree.Reset();
  const int height = std::countr_zero(static_cast<unsigned>(per_rank));
  for (int q = 0; q < comm.size(); ++q) {
    r.tree.PushScratch(pool, r.received.data() + static_cast<std::size_t>(q) * r.slice,
                       r.losses[static_cast<std::size_t>(q)], height);
  }
  const float* mine = r.tree.Finish(pool, loss);
  LOCKSTEP_RETURN_IF_ERROR(comm.AllGatherSlices(mine, r.slices, r.summed.data()));
  *grads = r.summed.data();
  return Status::Ok();
}

// Samples per corpus in the step's global batch, in manifest order: "prose:3 arith:3 code:2".
std::string BatchMix(const data::Sampler& sampler, const data::Manifest& manifest, int step,
                     int batch) {
  std::vector<int> counts(manifest.corpora.size(), 0);
  for (int slot = 0; slot < batch; ++slot) {
    ++counts[sampler.Locate(static_cast<std::uint64_t>(step), static_cast<std::uint64_t>(slot))
                 .corpus];
  }
  std::string mix;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    mix += fmt::format("{}{}:{}", c == 0 ? "" : " ", manifest.corpora[c].name, counts[c]);
  }
  return mix;
}

}  // namespace

Result<data::Manifest> ResolveTrainingData(const TrainConfig& config) {
  namespace fs = std::filesystem;
  std::string manifest_path;
  if (config.manifest == "embedded") {
    Result<std::string> embedded = data::EmbeddedManifestPath();
    if (!embedded.ok()) return embedded.status();
    manifest_path = *embedded;
  } else {
    fs::path p(config.manifest);
    manifest_path = p.is_absolute() || config.base_dir.empty()
                        ? p.string()
                        : (fs::path(config.base_dir) / p).string();
  }
  Result<data::Manifest> manifest = data::LoadManifest(manifest_path);
  if (!manifest.ok()) return manifest.status();
  if (config.seq_len > 0) manifest->seq_len = static_cast<std::uint32_t>(config.seq_len);
  if (config.schedule) {
    Result<data::BlendSchedule> s = ScheduleFromConfig(*config.schedule, *manifest, config.origin);
    if (!s.ok()) return s.status();
    manifest->schedule = std::move(s).value();
  }
  return manifest;
}

Status Train(const TrainConfig& config, const TrainOptions& options, TrainResult* result) {
  Communicator comm;
  const int ranks = comm.size();
  const int micro_batches = config.global_batch / config.micro_batch;
  const int per_rank = micro_batches / ranks;
  if (micro_batches % ranks != 0 || !std::has_single_bit(static_cast<unsigned>(per_rank))) {
    std::vector<int> valid;
    for (int n = 1; n <= micro_batches; ++n) {
      if (micro_batches % n == 0 && std::has_single_bit(static_cast<unsigned>(micro_batches / n)))
        valid.push_back(n);
    }
    return Status::BadInput(fmt::format(
        "{}: {} micro-batches (train.global_batch / train.micro_batch) cannot be split over {} "
        "ranks in the same reduction tree as on one rank: each rank needs a power-of-two share. "
        "Run on {} rank(s), or change train.micro_batch",
        config.origin, micro_batches, ranks, fmt::join(valid, ", ")));
  }
  const bool rank0 = comm.rank() == 0;
  Result<data::Manifest> manifest = ResolveTrainingData(config);
  if (!manifest.ok()) return manifest.status();
  if (static_cast<std::uint32_t>(config.model.vocab_size) < manifest->vocab_size) {
    return Status::BadInput(fmt::format(
        "{}: model.vocab_size = {} is smaller than the data's vocab_size = {} ({}): tokens up to "
        "{} would index past the embedding; set model.vocab_size >= {}",
        config.origin, config.model.vocab_size, manifest->vocab_size, manifest->origin,
        manifest->vocab_size - 1, manifest->vocab_size));
  }
  LOCKSTEP_RETURN_IF_ERROR(CheckFitsInMemory(config, static_cast<int>(manifest->seq_len)));
  Result<data::Sampler> sampler =
      data::Sampler::Create(*manifest, static_cast<std::uint64_t>(config.global_batch));
  if (!sampler.ok()) return sampler.status();
  Result<data::TokenSource> source = data::TokenSource::Open(*manifest);
  if (!source.ok()) return source.status();
  std::optional<Evaluator> evaluator;  // held-out evaluation (trainer/evaluation.h)
  if (config.eval_every > 0) {
    Result<Evaluator> e = Evaluator::Create(config, *manifest);
    if (!e.ok()) return e.status();
    evaluator.emplace(std::move(e).value());
  }
  Result<RecordWriter> record = RecordWriter::Open(rank0 ? options.record_path : "");
  if (!record.ok()) return record.status();

  openblas_set_num_threads(1);  // our pool owns the threads; see kernels.h
  GptConfig model_config = config.model;
  model_config.seq_len = static_cast<int>(manifest->seq_len);
  MemoryTracker tracker;
  ThreadPool pool(config.threads);
  Kernels<float> kernels(pool, config.profile, tracker, config.compute);
  Gpt<float> model(model_config, config.micro_batch, kernels, tracker);
  model.Initialize(config.seed);
  // bf16 master weights start as bf16 values (a resume below loads them so).
  if (config.master == Precision::kBf16) RoundToBf16(pool, model.params(), model.num_params());
  // What a checkpoint must share with the run that resumes it: the model and
  // how it was initialised. Data, schedule, steps, threads and ranks may change.
  const nlohmann::json identity = {{"model", config.resolved["model"]},
                                   {"seed", config.resolved["train"]["seed"]},
                                   {"profile", config.resolved["numerics"]["profile"]},
                                   {"master", config.resolved["numerics"]["master"]}};
  std::FILE* batches_out = nullptr;
  if (!options.export_dir.empty() && rank0) {
    LOCKSTEP_RETURN_IF_ERROR(ExportInitialState(options.export_dir, model, config));
    batches_out =
        std::fopen((std::filesystem::path(options.export_dir) / "batches.bin").c_str(), "wb");
    if (batches_out == nullptr)
      return Status::BadInput(options.export_dir + ": cannot write batches.bin");
  }
  struct FileCloser {
    std::FILE* f;
    ~FileCloser() {
      if (f != nullptr) std::fclose(f);
    }
  } close_batches{batches_out};
  AdamW adamw(model.num_params(), tracker);
  int first_step = 1;
  if (!options.resume_dir.empty()) {
    Result<LoadedCheckpoint> ckpt =
        LoadLatestCheckpoint(options.resume_dir, identity, model.num_params());
    if (!ckpt.ok()) return ckpt.status();
    std::copy(ckpt->params.begin(), ckpt->params.end(), model.params());
    std::copy(ckpt->m.begin(), ckpt->m.end(), adamw.m());
    std::copy(ckpt->v.begin(), ckpt->v.end(), adamw.v());
    LOCKSTEP_RETURN_IF_ERROR(sampler->Restore(ckpt->cursor));
    first_step = ckpt->step + 1;
    if (rank0 && options.progress != nullptr) {
      *options.progress << fmt::format("resuming from {} at step {}\n", ckpt->path, first_step);
    }
  }
  std::optional<CheckpointWriter> checkpoints;
  if (!options.checkpoint_dir.empty() && options.checkpoint_every > 0) {
    checkpoints.emplace(options.checkpoint_dir, options.keep, comm);
  }
  TreeAccumulator accumulator(model.num_params(), per_rank, tracker);
  Result<Slices> slices = comm.CutIntoSlices(comm.distributed() ? model.num_params() : 0);
  if (!slices.ok()) return slices.status();
  RankReduction reduction(comm, std::move(slices).value(), tracker);
  const std::size_t width = std::size_t{manifest->seq_len} + 1;
  TrackedBuffer<std::uint32_t> samples(tracker,
                                       static_cast<std::size_t>(config.micro_batch) * width);
  const std::uint64_t tokens_per_step =
      static_cast<std::uint64_t>(config.global_batch) * manifest->seq_len;
  const float loss_scale = 1.0f / static_cast<float>(tokens_per_step);

  EnvFingerprint env = CollectEnvFingerprint();
  env.threads = config.threads;
  env.world_size = ranks;
  nlohmann::ordered_json header;
  header["type"] = "header";
  header["tool"] = "lockstep";
  header["version"] = LOCKSTEP_VERSION;
  header["config"] = config.resolved;
  header["config_digest"] = Hex64(config.Digest());
  header["manifest_digest"] = Hex64(manifest->Digest());
  // Per corpus, so a data diagnosis can say which corpus changed.
  nlohmann::ordered_json corpora = nlohmann::ordered_json::object();
  for (const auto& [name, digest] : manifest->CorpusDigests()) corpora[name] = digest;
  header["corpora"] = corpora;
  header["profile"] = ProfileName(config.profile);
  header["params"] = model.num_params();
  header["env"] = ToJson(env);
  record->Write(header);

  std::ostream* progress = rank0 ? options.progress : nullptr;
  if (progress != nullptr) {
    *progress << fmt::format(
        "training {} parameters, {} steps of {} tokens, {} profile, {} thread{}{}\n",
        model.num_params(), config.steps, tokens_per_step, ProfileName(config.profile),
        config.threads, config.threads == 1 ? "" : "s",
        ranks > 1 ? fmt::format(", {} ranks ({} reduction)", ranks, config.reduction) : "");
  }
  const int last_step =
      options.stop_at > 0 ? std::min(options.stop_at, config.steps) : config.steps;
  std::vector<TensorUpdate> updates;  // per tensor, what this step's AdamW did
  for (int step = first_step; step <= last_step; ++step) {
    const auto start = std::chrono::steady_clock::now();
    test_hooks::KillRankIfAsked(comm.rank(), step);
    tracker.ResetPeak();
    StepRecord rec;
    rec.step = step;
    rec.lr = LearningRate(config, step) * test_hooks::LearningRateFactor(step);
    rec.batch_mix = BatchMix(*sampler, *manifest, step, config.global_batch);
    rec.tokens = tokens_per_step;
    accumulator.Reset();
    std::optional<TensorTrace> trace;
    if (step == options.trace_step && !options.trace_dir.empty()) {
      Result<TensorTrace> t =
          TensorTrace::Open(options.trace_dir, comm.rank(), options.trace_values);
      if (!t.ok()) return t.status();
      trace.emplace(std::move(t).value());
      model.set_trace(&*trace);
    }
    Xxh3_64Stream batch_digest;  // all slots' tokens in slot order, as data::BatchDigest
    // This rank's aligned block of micro-batches, summed in the tree.
    for (int m = comm.rank() * per_rank; m < (comm.rank() + 1) * per_rank; ++m) {
      data::FillBatch(*sampler, *source, static_cast<std::uint64_t>(step),
                      static_cast<std::uint64_t>(m) * config.micro_batch,
                      static_cast<std::uint64_t>(config.micro_batch), samples.span());
      batch_digest.Update(samples.data(), samples.size() * sizeof(std::uint32_t));
      if (batches_out != nullptr) {
        std::fwrite(samples.data(), sizeof(std::uint32_t), samples.size(), batches_out);
      }
      if (trace) trace->Begin("forward", m);
      double loss_sum = model.Forward(samples.data());
      if (trace) trace->Begin("backward", m);
      model.Backward(loss_scale);
      accumulator.Push(pool, model.grads(), loss_sum);
    }
    double loss_total = 0;
    float* grads = const_cast<float*>(accumulator.Finish(pool, &loss_total));
    if (comm.distributed()) {
      Status st = CombineRanks(comm, config, pool, per_rank, reduction, &grads, &loss_total);
      if (!st.ok()) return st;
      rec.batch_digest =
          rank0 ? data::BatchDigest(*sampler, *source, static_cast<std::uint64_t>(step)) : 0;
    } else {
      rec.batch_digest = batch_digest.Finish();
    }
    rec.loss = static_cast<float>(loss_total / static_cast<double>(tokens_per_step));
    rec.grad_norm = static_cast<float>(std::sqrt(SumOfSquares(pool, grads, model.num_params())));
    rec.grad_zeros = CountZeros(pool, grads, model.num_params());
    if (!std::isfinite(rec.loss) || !std::isfinite(rec.grad_norm)) {
      rec.status = "nonfinite";
      rec.cause = !std::isfinite(rec.loss) ? fmt::format("loss is {}", rec.loss)
                                           : fmt::format("gradient norm is {}", rec.grad_norm);
      rec.param_digest = Xxh3_64(model.params(), model.num_params() * sizeof(float));
      rec.mem_peak_bytes = tracker.peak();
      rec.rss_peak_bytes = RssPeakBytes();
      record->Write(StepToJson(rec));
      return Status::Crash(fmt::format(
          "step {}: {}; training stopped (the record's last line has this step). Lower train.lr "
          "or check the data",
          step, rec.cause));
    }
    if (trace) {
      trace->Begin("reduce", -1);
      trace->Add("loss", &rec.loss, 1);
      for (const ParamTensor& t : model.tensors())
        trace->Add(t.name + ".grad", grads + t.offset, t.size);
      trace->Add("grad_norm", &rec.grad_norm, 1);
    }
    if (config.grad_clip > 0 && rec.grad_norm > static_cast<float>(config.grad_clip)) {
      Scale(pool, grads, model.num_params(), static_cast<float>(config.grad_clip) / rec.grad_norm);
    }
    adamw.Step(pool, model.tensors(), model.params(), grads, rec.lr, config, step, &updates);
    for (std::size_t t = 0; t < updates.size(); ++t) {
      const std::string& name = model.tensors()[t].name;
      if (model.tensors()[t].size == 0) continue;
      rec.params_changed[name] = updates[t].changed;
      if (updates[t].changed != 0) continue;
      rec.params_unchanged += (rec.params_unchanged.empty() ? "" : " ") + name;
      rec.unchanged_detail[name] = {{"value_rms", HexFloat(updates[t].value_rms)},
                                    {"update_rms", HexFloat(updates[t].update_rms)}};
    }
    if (trace) {
      trace->Begin("update", -1);
      for (const ParamTensor& t : model.tensors())
        trace->Add(t.name, model.params() + t.offset, t.size);
      model.set_trace(nullptr);
      LOCKSTEP_RETURN_IF_ERROR(trace->Close());
    }
    // Inside the step's time, so step_ms shows what a checkpoint costs the loop.
    if (checkpoints && step % options.checkpoint_every == 0) {
      // Copies: the writer thread works from them while training goes on.
      // They are I/O staging, not training memory, so not tracked.
      CheckpointState state;
      state.step = step;
      state.params.assign(model.params(), model.params() + model.num_params());
      const std::size_t begin = SliceBegin(model.num_params(), ranks, comm.rank());
      const std::size_t end = SliceBegin(model.num_params(), ranks, comm.rank() + 1);
      state.m.assign(adamw.m() + begin, adamw.m() + end);
      state.v.assign(adamw.v() + begin, adamw.v() + end);
      state.slice_begin = begin;
      state.cursor = sampler->CursorAt(static_cast<std::uint64_t>(step) + 1);
      state.identity = identity;
      state.config_digest = Hex64(config.Digest());
      state.manifest_digest = Hex64(manifest->Digest());
      LOCKSTEP_RETURN_IF_ERROR(checkpoints->Save(std::move(state)));
      if (options.checkpoint_sync) LOCKSTEP_RETURN_IF_ERROR(checkpoints->Finish());
    }
    // Forward only, after the update: changes no bit of training. Rank 0
    // writes the record, so only rank 0 evaluates (every rank has the model).
    if (evaluator && rank0 && evaluator->Due(step)) {
      EvalResult eval = evaluator->Evaluate(model);
      AddToRecord(eval, &rec);
      if (progress != nullptr) {
        *progress << fmt::format("step {:>4}/{}  {}\n", step, config.steps, FormatEval(eval));
      }
    }
    rec.param_digest = Xxh3_64(model.params(), model.num_params() * sizeof(float));
    rec.mem_peak_bytes = tracker.peak();
    rec.rss_peak_bytes = RssPeakBytes();
    rec.step_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    record->Write(StepToJson(rec));
    if (progress != nullptr) {
      *progress << fmt::format(
                       "step {:>4}/{}  loss {:.4f}  grad_norm {:.4f}  lr {:.3e}  {:.0f} ms\n", step,
                       config.steps, rec.loss, rec.grad_norm, rec.lr, rec.step_ms)
                << std::flush;
    }
    if (result != nullptr) {
      if (step == first_step) result->first_loss = rec.loss;
      result->last_loss = rec.loss;
      result->steps_done = step;
    }
  }
  if (checkpoints) LOCKSTEP_RETURN_IF_ERROR(checkpoints->Finish());
  // The ranks end together: rank 0 may still be evaluating the last step
  // while the others would already be shutting MPI down.
  return comm.Barrier();
}

}  // namespace lockstep::trainer
