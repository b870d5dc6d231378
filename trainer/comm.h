// Communicator: the data-parallel world of `mpirun -np N lockstep train`.
//
// Outside mpirun it is a world of one and MPI is never initialised. Every
// collective here moves bytes without arithmetic (MPI_Allgather), except
// AllReduceSum, the deliberately nondeterministic comparison mode: the
// deterministic reduction itself is the trainer's (TreeAccumulator), so its
// bits do not depend on MPI's summation order.
#ifndef LOCKSTEP_TRAINER_COMM_H_
#define LOCKSTEP_TRAINER_COMM_H_

#include <cstddef>
#include <string>

#include "core/status.h"

namespace lockstep::trainer {

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
  Status AllGather(const float* mine, std::size_t count, float* all);
  Status AllGather(const double* mine, std::size_t count, double* all);
  // Bytes: all[r * bytes .. (r + 1) * bytes) = rank r's `mine`.
  Status AllGatherBytes(const void* mine, std::size_t bytes, void* all);
  // x = sum over ranks in MPI's order: the nondeterministic reduction.
  Status AllReduceSum(float* x, std::size_t count);
  Status AllReduceSum(double* x, std::size_t count);
  // Returns when every rank has called it.
  Status Barrier();

 private:
  Status Check(int code, const char* what) const;
  bool initialized_ = false;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_COMM_H_
