#include "trainer/trainer.h"

#include <cblas.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

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
#include "trainer/reduction_tree.h"
#include "trainer/tensor_trace.h"
#include "trainer/thread_pool.h"

namespace lockstep::trainer {
namespace {

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

// The slots of the global batch one rank computes: B slots cut into N
// contiguous blocks as evenly as they go (rank r: [B r / N, B (r + 1) / N)),
// and the number of its first micro-batch counted over all ranks (traces
// name micro-batches so).
struct RankBlock {
  std::uint64_t begin = 0, end = 0;
  int first_micro_batch = 0;
};

RankBlock BlockOfRank(int batch, int micro_batch, int ranks, int rank) {
  auto begin = [&](int r) { return SliceBegin(static_cast<std::size_t>(batch), ranks, r); };
  RankBlock block{begin(rank), begin(rank + 1), 0};
  for (int q = 0; q < rank; ++q) {
    const std::size_t slots = begin(q + 1) - begin(q);
    block.first_micro_batch +=
        static_cast<int>((slots + static_cast<std::size_t>(micro_batch) - 1) /
                         static_cast<std::size_t>(micro_batch));
  }
  return block;
}

// Continues the reduction tree over the ranks' blocks. deterministic: each
// rank takes its slice of every rank's unmerged partial sums (the aligned
// blocks of that rank's slots; one MPI_Alltoallv per block index), pushes
// them in slot order into a tree over its slice, and the summed slices are
// gathered (MPI_Allgatherv): every element goes through the additions one
// process makes, so the bits are one process's. nondeterministic: each rank
// sums its block, then MPI_Allreduce in whatever order MPI sums.
class RankReduction {
 public:
  static Result<RankReduction> Create(Communicator& comm, int batch, int micro_batch,
                                      std::size_t params, bool deterministic,
                                      MemoryTracker& tracker) {
    Result<Slices> slices = comm.CutIntoSlices(params);
    if (!slices.ok()) return slices.status();
    RankReduction r(std::move(slices).value(), comm.rank(), tracker);
    int nodes = 0;
    for (int q = 0; q < comm.size(); ++q) {
      const RankBlock block = BlockOfRank(batch, micro_batch, comm.size(), q);
      r.blocks_.push_back(AlignedBlocks(block.begin, block.end));
      r.first_node_.push_back(nodes);
      nodes += static_cast<int>(r.blocks_.back().size());
      r.max_nodes_ = std::max(r.max_nodes_, r.blocks_.back().size());
    }
    // The same answer on every rank: the largest slice, not this rank's.
    const int largest = *std::max_element(r.slices_.count.begin(), r.slices_.count.end());
    if (static_cast<double>(nodes) * static_cast<double>(largest) > 0x1p31 - 1) {
      return Status::Crash(fmt::format(
          "{} parameters in {} partial sums are more than one MPI_Alltoallv can address "
          "(2^31 - 1 elements per rank); use more ranks, or numerics.reduction = "
          "\"nondeterministic\"",
          params, nodes));
    }
    if (deterministic) {  // MPI_Allreduce needs no slices
      r.received_ = TrackedBuffer<float>(tracker, static_cast<std::size_t>(nodes) * r.slice_);
    }
    r.losses_.resize(static_cast<std::size_t>(comm.size()) * r.max_nodes_);
    return r;
  }

  // `local` holds this rank's block, pushed slot by slot. On return *grads
  // and *loss are the sums over the global batch, the same on every rank.
  Status Sum(Communicator& comm, ThreadPool& pool, ReductionTree& local, bool deterministic,
             float** grads, double* loss) {
    const std::size_t n = slices_.total;
    if (!deterministic) {
      const float* mine = local.Finish(pool, loss);
      std::copy(mine, mine + n, summed_.data());
      LOCKSTEP_RETURN_IF_ERROR(comm.AllReduceSum(summed_.data(), n));
      LOCKSTEP_RETURN_IF_ERROR(comm.AllReduceSum(loss, 1));
      *grads = summed_.data();
      return Status::Ok();
    }
    const std::vector<ReductionTree::Node> nodes = local.Nodes();
    const std::vector<SlotBlock>& expected = blocks_[static_cast<std::size_t>(comm.rank())];
    if (nodes.size() != expected.size()) std::abort();  // the block was not pushed whole
    std::vector<double> my_losses(max_nodes_, 0.0);
    for (std::size_t i = 0; i < max_nodes_; ++i) {
      std::vector<int> received_at;
      for (std::size_t q = 0; q < blocks_.size(); ++q) {
        const bool sends = i < blocks_[q].size();
        received_at.push_back(
            sends ? (first_node_[q] + static_cast<int>(i)) * static_cast<int>(slice_) : -1);
      }
      if (i < nodes.size()) my_losses[i] = nodes[i].loss;
      LOCKSTEP_RETURN_IF_ERROR(comm.AllToAllSlices(i < nodes.size() ? nodes[i].grads : nullptr,
                                                   slices_, received_at, received_.data()));
    }
    LOCKSTEP_RETURN_IF_ERROR(comm.AllGather(my_losses.data(), max_nodes_, losses_.data()));
    tree_.Reset();
    for (std::size_t q = 0; q < blocks_.size(); ++q) {
      for (std::size_t i = 0; i < blocks_[q].size(); ++i) {
        float* slice = received_.data() +
                       static_cast<std::size_t>(first_node_[q] + static_cast<int>(i)) * slice_;
        tree_.PushInPlace(pool, slice, losses_[q * max_nodes_ + i], blocks_[q][i]);
      }
    }
    const float* mine = tree_.Finish(pool, loss);
    LOCKSTEP_RETURN_IF_ERROR(comm.AllGatherSlices(mine, slices_, summed_.data()));
    *grads = summed_.data();
    return Status::Ok();
  }

 private:
  RankReduction(Slices slices, int rank, MemoryTracker& tracker)
      : slices_(std::move(slices)),
        slice_(static_cast<std::size_t>(slices_.count[static_cast<std::size_t>(rank)])),
        tree_(slice_, tracker),
        summed_(tracker, slices_.total) {}

  Slices slices_;                               // the parameters, one slice per rank
  std::size_t slice_;                           // this rank's slice length
  std::vector<std::vector<SlotBlock>> blocks_;  // per rank, the aligned blocks of its slots
  std::vector<int> first_node_;                 // per rank, the index of its first block overall
  std::size_t max_nodes_ = 0;
  TrackedBuffer<float> received_;  // this rank's slice of every block, in slot order
  ReductionTree tree_;             // over those slices
  TrackedBuffer<float> summed_;    // the whole sum
  std::vector<double> losses_;     // every rank's block losses, max_nodes_ per rank
};

// One `lockstep train` run: set up by the constructor and Start, then Run
// takes the steps.
class Training {
 public:
  Training(const TrainConfig& config, const TrainOptions& options, Communicator& comm,
           data::Manifest manifest, data::Sampler sampler, data::TokenSource source,
           std::optional<Evaluator> evaluator, RecordWriter record, Isa isa)
      : config_(config),
        options_(options),
        comm_(comm),
        rank0_(comm.rank() == 0),
        manifest_(std::move(manifest)),
        sampler_(std::move(sampler)),
        source_(std::move(source)),
        evaluator_(std::move(evaluator)),
        record_(std::move(record)),
        block_(BlockOfRank(config.global_batch, config.micro_batch, comm.size(), comm.rank())),
        pool_(config.threads),
        kernels_(pool_, config.profile, tracker_, config.compute, manifest_.seq_len, isa),
        model_(ModelConfig(config, manifest_), ModelMicroBatch(config, comm.size()), kernels_,
               tracker_),
        adamw_(model_.num_params(), tracker_),
        tree_(model_.num_params(), tracker_),
        width_(std::size_t{manifest_.seq_len} + 1),
        samples_(tracker_, static_cast<std::size_t>(model_.micro_batch()) * width_),
        tokens_per_step_(static_cast<std::uint64_t>(config.global_batch) * manifest_.seq_len),
        loss_scale_(1.0f / static_cast<float>(tokens_per_step_)),
        progress_(rank0_ ? options.progress : nullptr) {}

  // Everything before the first step that can fail: the initial state,
  // export, resume, the ranks' reduction, the record's header.
  Status Start();
  Status Run(TrainResult* result);

 private:
  static GptConfig ModelConfig(const TrainConfig& config, const data::Manifest& manifest) {
    GptConfig model = config.model;
    model.seq_len = static_cast<int>(manifest.seq_len);
    return model;
  }
  // A model for the largest micro-batch this rank runs: no more sequences
  // than the largest rank block holds.
  static int ModelMicroBatch(const TrainConfig& config, int ranks) {
    return std::min(config.micro_batch, (config.global_batch + ranks - 1) / ranks);
  }

  Status OpenTrace(int step);
  void ForwardBackward(int step, StepRecord* rec);
  Status SumOverRanks(int step, StepRecord* rec, float** grads, double* loss_sum);
  Status MeasureGradients(float* grads, double loss_sum, StepRecord* rec);
  void ClipAndUpdate(int step, float* grads, StepRecord* rec);
  Status CloseTrace();
  Status SaveCheckpoint(int step);
  void Evaluate(int step, StepRecord* rec);
  void EndStep(std::chrono::steady_clock::time_point start, StepRecord* rec, TrainResult* result);
  void WriteHeader();

  const TrainConfig& config_;
  const TrainOptions& options_;
  Communicator& comm_;
  const bool rank0_;
  data::Manifest manifest_;
  data::Sampler sampler_;
  data::TokenSource source_;
  std::optional<Evaluator> evaluator_;  // held-out evaluation (trainer/evaluation.h)
  RecordWriter record_;
  RankBlock block_;  // the slots this rank computes
  MemoryTracker tracker_;
  ThreadPool pool_;
  Kernels<float> kernels_;
  Gpt<float> model_;
  AdamW adamw_;
  ReductionTree tree_;                  // over this rank's slots
  std::optional<RankReduction> ranks_;  // over the ranks' blocks (distributed only)
  std::size_t width_;                   // tokens per sample: seq_len + 1
  TrackedBuffer<std::uint32_t> samples_;
  std::uint64_t tokens_per_step_;
  float loss_scale_;
  std::ostream* progress_;
  // What a checkpoint must share with the run that resumes it: the model and
  // how it was initialised. Data, schedule, steps, threads, micro-batch and
  // ranks may change.
  nlohmann::json identity_;
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> batches_out_;  // --export-dir's batches.bin
  std::optional<CheckpointWriter> checkpoints_;
  std::optional<TensorTrace> trace_;   // of this step, when it is --trace-step
  std::vector<TensorUpdate> updates_;  // per tensor, what this step's AdamW did
  int first_step_ = 1;
};

Status Training::Start() {
  openblas_set_num_threads(1);  // our pool owns the threads; see kernels.h
  model_.Initialize(config_.seed);
  // bf16 master weights start as bf16 values (a resume below loads them so).
  if (config_.master == Precision::kBf16) {
    RoundToBf16(pool_, model_.params(), model_.num_params());
  }
  identity_ = {{"model", config_.resolved["model"]},
               {"seed", config_.resolved["train"]["seed"]},
               {"profile", config_.resolved["numerics"]["profile"]},
               {"master", config_.resolved["numerics"]["master"]}};
  if (!options_.export_dir.empty() && rank0_) {
    LOCKSTEP_RETURN_IF_ERROR(ExportInitialState(options_.export_dir, model_, config_));
    batches_out_.reset(
        std::fopen((std::filesystem::path(options_.export_dir) / "batches.bin").c_str(), "wb"));
    if (!batches_out_) return Status::BadInput(options_.export_dir + ": cannot write batches.bin");
  }
  if (!options_.resume_dir.empty()) {
    Result<LoadedCheckpoint> ckpt =
        LoadLatestCheckpoint(options_.resume_dir, identity_, model_.num_params());
    if (!ckpt.ok()) return ckpt.status();
    std::copy(ckpt->params.begin(), ckpt->params.end(), model_.params());
    std::copy(ckpt->m.begin(), ckpt->m.end(), adamw_.m());
    std::copy(ckpt->v.begin(), ckpt->v.end(), adamw_.v());
    LOCKSTEP_RETURN_IF_ERROR(sampler_.Restore(ckpt->cursor));
    first_step_ = ckpt->step + 1;
    if (progress_ != nullptr) {
      *progress_ << fmt::format("resuming from {} at step {}\n", ckpt->path, first_step_);
    }
  }
  if (!options_.checkpoint_dir.empty() && options_.checkpoint_every > 0) {
    checkpoints_.emplace(options_.checkpoint_dir, options_.keep, comm_);
  }
  if (comm_.distributed()) {
    Result<RankReduction> r =
        RankReduction::Create(comm_, config_.global_batch, config_.micro_batch, model_.num_params(),
                              config_.reduction != "nondeterministic", tracker_);
    if (!r.ok()) return r.status();
    ranks_.emplace(std::move(r).value());
  }
  WriteHeader();
  return Status::Ok();
}

void Training::WriteHeader() {
  EnvFingerprint env = CollectEnvFingerprint();
  env.threads = config_.threads;
  env.world_size = comm_.size();
  env.portable_isa = IsaName(kernels_.isa());
  nlohmann::ordered_json header;
  header["type"] = "header";
  header["tool"] = "lockstep";
  header["version"] = LOCKSTEP_VERSION;
  header["config"] = config_.resolved;
  header["config_digest"] = Hex64(config_.Digest());
  header["manifest_digest"] = Hex64(manifest_.Digest());
  // Per corpus, so a data diagnosis can say which corpus changed.
  nlohmann::ordered_json corpora = nlohmann::ordered_json::object();
  for (const auto& [name, digest] : manifest_.CorpusDigests()) corpora[name] = digest;
  header["corpora"] = corpora;
  header["profile"] = ProfileName(config_.profile);
  header["params"] = model_.num_params();
  header["env"] = ToJson(env);
  record_.Write(header);
  // Said even when quiet: the openblas profile on a fallback kernel set runs
  // at a fraction of its speed, and nothing else would tell.
  if (rank0_ && config_.profile == Profile::kOpenBlas && !env.blas_advice.empty()) {
    std::cerr << "lockstep: warning: " << env.blas_advice << "\n";
  }
  if (progress_ != nullptr) {
    *progress_ << fmt::format(
        "training {} parameters, {} steps of {} tokens, {} profile ({}), {} thread{}{}\n",
        model_.num_params(), config_.steps, tokens_per_step_, ProfileName(config_.profile),
        config_.profile == Profile::kPortable ? env.portable_isa : env.blas_core, config_.threads,
        config_.threads == 1 ? "" : "s",
        comm_.distributed()
            ? fmt::format(", {} ranks ({} reduction)", comm_.size(), config_.reduction)
            : "");
  }
}

// The step, top to bottom.
Status Training::Run(TrainResult* result) {
  const int last_step =
      options_.stop_at > 0 ? std::min(options_.stop_at, config_.steps) : config_.steps;
  for (int step = first_step_; step <= last_step; ++step) {
    const auto start = std::chrono::steady_clock::now();
    test_hooks::KillRankIfAsked(comm_.rank(), step);
    tracker_.ResetPeak();
    StepRecord rec;
    rec.step = step;
    rec.lr = LearningRate(config_, step) * test_hooks::LearningRateFactor(step);
    rec.batch_mix = BatchMix(sampler_, manifest_, step, config_.global_batch);
    rec.tokens = tokens_per_step_;
    LOCKSTEP_RETURN_IF_ERROR(OpenTrace(step));
    ForwardBackward(step, &rec);  // this rank's slots, micro-batch by micro-batch, into its tree
    float* grads = nullptr;
    double loss_sum = 0;
    LOCKSTEP_RETURN_IF_ERROR(SumOverRanks(step, &rec, &grads, &loss_sum));
    LOCKSTEP_RETURN_IF_ERROR(MeasureGradients(grads, loss_sum, &rec));  // loss, norm; finite?
    ClipAndUpdate(step, grads, &rec);
    LOCKSTEP_RETURN_IF_ERROR(CloseTrace());
    // Inside the step's time, so step_ms shows what a checkpoint costs the loop.
    LOCKSTEP_RETURN_IF_ERROR(SaveCheckpoint(step));
    Evaluate(step, &rec);
    EndStep(start, &rec, result);
  }
  if (checkpoints_) LOCKSTEP_RETURN_IF_ERROR(checkpoints_->Finish());
  // The ranks end together: rank 0 may still be evaluating the last step
  // while the others would already be shutting MPI down.
  return comm_.Barrier();
}

Status Training::OpenTrace(int step) {
  if (step != options_.trace_step || options_.trace_dir.empty()) return Status::Ok();
  Result<TensorTrace> t =
      TensorTrace::Open(options_.trace_dir, comm_.rank(), options_.trace_values);
  if (!t.ok()) return t.status();
  trace_.emplace(std::move(t).value());
  model_.set_trace(&*trace_);
  return Status::Ok();
}

void Training::ForwardBackward(int step, StepRecord* rec) {
  tree_.Reset();
  Xxh3_64Stream batch_digest;  // this rank's slots' tokens in slot order, as data::BatchDigest
  const auto micro_batch = static_cast<std::uint64_t>(model_.micro_batch());
  int m = block_.first_micro_batch;
  for (std::uint64_t first = block_.begin; first < block_.end; first += micro_batch, ++m) {
    const std::uint64_t count = std::min(micro_batch, block_.end - first);
    std::span<std::uint32_t> samples = samples_.span().first(count * width_);
    data::FillBatch(sampler_, source_, static_cast<std::uint64_t>(step), first, count, samples);
    batch_digest.Update(samples.data(), samples.size_bytes());
    if (batches_out_) {
      std::fwrite(samples.data(), sizeof(std::uint32_t), samples.size(), batches_out_.get());
    }
    if (trace_) trace_->Begin("forward", m);
    model_.Forward(samples.data(), static_cast<int>(count));
    if (trace_) trace_->Begin("backward", m);
    model_.Backward(loss_scale_, first);
    for (std::uint64_t s = 0; s < count; ++s) {
      const int si = static_cast<int>(s);
      tree_.Push(pool_, model_.grad_buffer(si), model_.sequence_loss(si), {first + s, 0});
    }
  }
  rec->batch_digest = batch_digest.Finish();
}

Status Training::SumOverRanks(int step, StepRecord* rec, float** grads, double* loss_sum) {
  if (!ranks_) {
    *grads = const_cast<float*>(tree_.Finish(pool_, loss_sum));
    return Status::Ok();
  }
  LOCKSTEP_RETURN_IF_ERROR(
      ranks_->Sum(comm_, pool_, tree_, config_.reduction != "nondeterministic", grads, loss_sum));
  // This rank saw only its slots: the whole batch's digest reads them all.
  rec->batch_digest =
      rank0_ ? data::BatchDigest(sampler_, source_, static_cast<std::uint64_t>(step)) : 0;
  return Status::Ok();
}

Status Training::MeasureGradients(float* grads, double loss_sum, StepRecord* rec) {
  const std::size_t n = model_.num_params();
  rec->loss = static_cast<float>(loss_sum / static_cast<double>(tokens_per_step_));
  rec->grad_norm = static_cast<float>(std::sqrt(SumOfSquares(pool_, grads, n)));
  rec->grad_zeros = CountZeros(pool_, grads, n);
  if (!std::isfinite(rec->loss) || !std::isfinite(rec->grad_norm)) {
    rec->status = "nonfinite";
    rec->cause = !std::isfinite(rec->loss) ? fmt::format("loss is {}", rec->loss)
                                           : fmt::format("gradient norm is {}", rec->grad_norm);
    rec->param_digest = Xxh3_64(model_.params(), n * sizeof(float));
    rec->mem_peak_bytes = tracker_.peak();
    rec->rss_peak_bytes = RssPeakBytes();
    record_.Write(StepToJson(*rec));
    return Status::Crash(fmt::format(
        "step {}: {}; training stopped (the record's last line has this step). Lower train.lr "
        "or check the data",
        rec->step, rec->cause));
  }
  if (trace_) {
    trace_->Begin("reduce", -1);
    trace_->Add("loss", &rec->loss, 1);
    for (const ParamTensor& t : model_.tensors()) {
      trace_->Add(t.name + ".grad", grads + t.offset, t.size);
    }
    trace_->Add("grad_norm", &rec->grad_norm, 1);
  }
  return Status::Ok();
}

void Training::ClipAndUpdate(int step, float* grads, StepRecord* rec) {
  const std::size_t n = model_.num_params();
  if (config_.grad_clip > 0 && rec->grad_norm > static_cast<float>(config_.grad_clip)) {
    Scale(pool_, grads, n, static_cast<float>(config_.grad_clip) / rec->grad_norm);
  }
  adamw_.Step(pool_, model_.tensors(), model_.params(), grads, rec->lr, config_, step, &updates_);
  for (std::size_t t = 0; t < updates_.size(); ++t) {
    const std::string& name = model_.tensors()[t].name;
    if (model_.tensors()[t].size == 0) continue;
    rec->params_changed[name] = updates_[t].changed;
    if (updates_[t].changed != 0) continue;
    rec->params_unchanged += (rec->params_unchanged.empty() ? "" : " ") + name;
    rec->unchanged_detail[name] = {{"value_rms", HexFloat(updates_[t].value_rms)},
                                   {"update_rms", HexFloat(updates_[t].update_rms)}};
  }
}

Status Training::CloseTrace() {
  if (!trace_) return Status::Ok();
  trace_->Begin("update", -1);
  for (const ParamTensor& t : model_.tensors()) {
    trace_->Add(t.name, model_.params() + t.offset, t.size);
  }
  model_.set_trace(nullptr);
  Status st = trace_->Close();
  trace_.reset();
  return st;
}

Status Training::SaveCheckpoint(int step) {
  if (!checkpoints_ || step % options_.checkpoint_every != 0) return Status::Ok();
  // Copies: the writer thread works from them while training goes on. They
  // are I/O staging, not training memory, so not tracked.
  CheckpointState state;
  state.step = step;
  state.params.assign(model_.params(), model_.params() + model_.num_params());
  const std::size_t begin = SliceBegin(model_.num_params(), comm_.size(), comm_.rank());
  const std::size_t end = SliceBegin(model_.num_params(), comm_.size(), comm_.rank() + 1);
  state.m.assign(adamw_.m() + begin, adamw_.m() + end);
  state.v.assign(adamw_.v() + begin, adamw_.v() + end);
  state.slice_begin = begin;
  state.cursor = sampler_.CursorAt(static_cast<std::uint64_t>(step) + 1);
  state.identity = identity_;
  state.config_digest = Hex64(config_.Digest());
  state.manifest_digest = Hex64(manifest_.Digest());
  LOCKSTEP_RETURN_IF_ERROR(checkpoints_->Save(std::move(state)));
  if (options_.checkpoint_sync) return checkpoints_->Finish();
  return Status::Ok();
}

// Forward only, after the update: changes no bit of training. Rank 0 writes
// the record, so only rank 0 evaluates (every rank has the model).
void Training::Evaluate(int step, StepRecord* rec) {
  if (!evaluator_ || !rank0_ || !evaluator_->Due(step)) return;
  EvalResult eval = evaluator_->Evaluate(model_);
  AddToRecord(eval, rec);
  if (progress_ != nullptr) {
    *progress_ << fmt::format("step {:>4}/{}  {}\n", step, config_.steps, FormatEval(eval));
  }
}

void Training::EndStep(std::chrono::steady_clock::time_point start, StepRecord* rec,
                       TrainResult* result) {
  rec->param_digest = Xxh3_64(model_.params(), model_.num_params() * sizeof(float));
  rec->mem_peak_bytes = tracker_.peak();
  rec->rss_peak_bytes = RssPeakBytes();
  rec->step_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  record_.Write(StepToJson(*rec));
  if (progress_ != nullptr) {
    *progress_ << fmt::format(
                      "step {:>4}/{}  loss {:.4f}  grad_norm {:.4f}  lr {:.3e}  {:.0f} ms\n",
                      rec->step, config_.steps, rec->loss, rec->grad_norm, rec->lr, rec->step_ms)
               << std::flush;
  }
  if (result != nullptr) {
    if (rec->step == first_step_) result->first_loss = rec->loss;
    result->last_loss = rec->loss;
    result->steps_done = rec->step;
  }
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
  if (comm.size() > config.global_batch) {
    return Status::BadInput(fmt::format(
        "{}: {} ranks for train.global_batch = {} sequences: every rank needs at least one "
        "sequence of the batch. Run on at most {} ranks, or raise train.global_batch",
        config.origin, comm.size(), config.global_batch, config.global_batch));
  }
  Result<data::Manifest> manifest = ResolveTrainingData(config);
  if (!manifest.ok()) return manifest.status();
  if (static_cast<std::uint32_t>(config.model.vocab_size) < manifest->vocab_size) {
    return Status::BadInput(fmt::format(
        "{}: model.vocab_size = {} is smaller than the data's vocab_size = {} ({}): tokens up to "
        "{} would index past the embedding; set model.vocab_size >= {}",
        config.origin, config.model.vocab_size, manifest->vocab_size, manifest->origin,
        manifest->vocab_size - 1, manifest->vocab_size));
  }
  LOCKSTEP_RETURN_IF_ERROR(
      CheckFitsInMemory(config, static_cast<int>(manifest->seq_len), comm.size()));
  Result<data::Sampler> sampler =
      data::Sampler::Create(*manifest, static_cast<std::uint64_t>(config.global_batch));
  if (!sampler.ok()) return sampler.status();
  Result<data::TokenSource> source = data::TokenSource::Open(*manifest);
  if (!source.ok()) return source.status();
  std::optional<Evaluator> evaluator;
  if (config.eval_every > 0) {
    Result<Evaluator> e = Evaluator::Create(config, *manifest);
    if (!e.ok()) return e.status();
    evaluator.emplace(std::move(e).value());
  }
  Result<Isa> isa = PortableIsa();
  if (!isa.ok()) return isa.status();
  Result<RecordWriter> record = RecordWriter::Open(comm.rank() == 0 ? options.record_path : "");
  if (!record.ok()) return record.status();
  Training training(config, options, comm, std::move(manifest).value(), std::move(sampler).value(),
                    std::move(source).value(), std::move(evaluator), std::move(record).value(),
                    *isa);
  LOCKSTEP_RETURN_IF_ERROR(training.Start());
  return training.Run(result);
}

}  // namespace lockstep::trainer
