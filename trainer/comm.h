// Communicator: the data-parallel world of `mpirun -np N lockstep train`.
//
// Outside mpirun it is a world of one and MPI is never initialised. Every
// collective here moves bytes without arithmetic (MPI_Allgather(v),
// MPI_Alltoallv), except AllReduceSum, the deliberately nondeterministic
// comparison mode: the deterministic reduction itself is the trainer's
// (trainer/reduction_tree.h), so its bits do not depend on MPI's summation order.
#ifndef LOCKSTEP_TRAINER_COMM_H_
#define LOCKSTEP_TRAINER_COMM_H_

#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"

namespace lockstep::trainer {

// Where rank r's slice of n elements begins, for `ranks` ranks: the
// gradient slices each rank sums and the AdamW state each rank checkpoints.
inline std::size_t SliceBegin(std::size_t n, int ranks, int r) {
  return n * static_cast<std::size_t>(r) / static_cast<std::size_t>(ranks);
}

// A vector of `total` elements cut into one slice per rank (rank r's begins
// at SliceBegin(total, ranks, r)), in the int arrays MPI's v-collectives
// take: computed once, used every step.
struct Slices {
  std::size_t total = 0;
  std::vector<int> count, begin;  // slice r: [begin[r], begin[r] + count[r])
};

class Communicator {
 public:
  // Initialises MPI when this process was started by mpirun (Open MPI, MPICH
  // or PMIx environment), else makes a world of one.
  Communicator();
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }

  // all[r * count .. (r + 1) * count) = rank r's `mine`, on every rank.
  Status AllGather(const double* mine, std::size_t count, double* all);
  // Bytes: all[r * bytes .. (r + 1) * bytes) = rank r's `mine`.
  Status AllGatherBytes(const void* mine, std::size_t bytes, void* all);
  // n elements cut into size() slices; Crash when a slice collective could
  // not count them (more than 2^30).
  Result<Slices> CutIntoSlices(std::size_t n) const;
  // Every rank sends slice q of its `mine` to rank q, or nothing when `mine`
  // is null. On return, for every rank q that sent (received_at[q] >= 0),
  // received[received_at[q] ..] holds slice rank() of rank q's `mine`.
  // received_at must be the same on every rank.
  Status AllToAllSlices(const float* mine, const Slices& slices,
                        const std::vector<int>& received_at, float* received);
  // all[slice r] = rank r's `mine` (its slice), on every rank.
  Status AllGatherSlices(const float* mine, const Slices& slices, float* all);
  // x = sum over ranks in MPI's order: the nondeterministic reduction.
  Status AllReduceSum(float* x, std::size_t count);
  Status AllReduceSum(double* x, std::size_t count);
  // Returns when every rank has called it.
  Status Barrier();

 private:
  Status Check(int code, const char* what) const;  // MPI builds only
  bool initialized_ = false;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_COMM_H_
