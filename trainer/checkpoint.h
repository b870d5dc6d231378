// Checkpoints: everything a run needs to continue with the same bits as if it
// had never stopped, written so that a crash never leaves one that looks
// complete.
//
//   DIR/step-000020/params.bin          parameters, float32 (rank 0)
//   DIR/step-000020/optim-r1-of-4.bin   AdamW m then v for rank 1's quarter of
//                                       the parameters (each rank its own)
//   DIR/step-000020/checkpoint.json     step, digests of config and data, the
//                                       sampler cursor, and the XXH3-128 of
//                                       every file above (rank 0, last)
//   DIR/latest                          "step-000020", replaced last
//
// A checkpoint is assembled in DIR/.step-000020.partial and renamed whole
// once every file and the manifest are on disk; `latest` moves after that,
// and older checkpoints beyond --keep are deleted only then. Writing runs on
// a thread of its own from copies: the step loop goes on.
#ifndef LOCKSTEP_TRAINER_CHECKPOINT_H_
#define LOCKSTEP_TRAINER_CHECKPOINT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "data/sampler.h"
#include "trainer/comm.h"

namespace lockstep::trainer {

struct CheckpointState {
  int step = 0;               // the last finished step
  std::vector<float> params;  // all of them (written by rank 0)
  std::vector<float> m, v;    // this rank's slice of the AdamW state
  std::size_t slice_begin = 0;
  data::SamplerCursor cursor;  // where step + 1 starts
  nlohmann::json identity;     // the config keys a resume must match
  std::string config_digest;
  std::string manifest_digest;
};

class CheckpointWriter {
 public:
  CheckpointWriter(std::string dir, int keep, Communicator& comm)
      : dir_(std::move(dir)), keep_(keep), comm_(comm) {}
  ~CheckpointWriter();
  // Completes the previous checkpoint, then starts writing `state` on the
  // writer thread and returns.
  Status Save(CheckpointState state);
  // Completes the pending checkpoint, if any.
  Status Finish();

 private:
  Status Complete();  // joins the writer; collectives; rank 0 publishes
  std::string dir_;
  int keep_;
  Communicator& comm_;
  std::thread writer_;
  bool pending_ = false;
  int pending_step_ = 0;
  nlohmann::json pending_meta_;
  Status writer_status_;
  std::string my_file_;
  std::string my_digest_;
  std::uint64_t my_bytes_ = 0;
};

struct LoadedCheckpoint {
  int step = 0;
  std::string path;
  std::vector<float> params, m, v;  // m and v whole, from every rank's slice
  data::SamplerCursor cursor;
};

// The latest complete checkpoint in `dir`, every file verified against its
// digest. BadInput names the file: a missing rank shard, a digest or size that
// differs, a config whose `identity` keys differ (listed).
Result<LoadedCheckpoint> LoadLatestCheckpoint(const std::string& dir,
                                              const nlohmann::json& identity,
                                              std::size_t num_params);

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_CHECKPOINT_H_
