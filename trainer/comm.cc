#include "trainer/comm.h"

#include <fmt/format.h>

#if LOCKSTEP_HAVE_MPI
#include <mpi.h>
// Every MPI call goes through this macro; a build without MPI (a world of one
// rank, for cross builds) drops the call's tokens, so none of it is compiled.
#define LOCKSTEP_MPI(call, what) Check(call, what)
#else
#define LOCKSTEP_MPI(call, what) \
  Status::Crash(fmt::format("{}: this lockstep was built without MPI (LOCKSTEP_MPI=OFF)", what))
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace lockstep::trainer {
namespace {

bool LaunchedByMpirun() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

// Collectives move at most INT_MAX elements per call; split larger ones.
constexpr std::size_t kMaxChunk = std::size_t{1} << 30;

}  // namespace

Communicator::Communicator() {
  if (!LaunchedByMpirun()) return;
#if LOCKSTEP_HAVE_MPI
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  initialized_ = true;
  // Errors come back as codes (and become exit 3 naming the rank) instead of
  // aborting the whole job without a word.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
#else
  std::fprintf(stderr,
               "lockstep: warning: started by mpirun, but this lockstep was built without MPI "
               "(LOCKSTEP_MPI=OFF): every process trains alone, as a world of one\n");
#endif
}

Communicator::~Communicator() {
#if LOCKSTEP_HAVE_MPI
  if (initialized_) MPI_Finalize();
#endif
}

#if LOCKSTEP_HAVE_MPI
Status Communicator::Check(int code, const char* what) const {
  if (code == MPI_SUCCESS) return Status::Ok();
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return Status::Crash(
      fmt::format("rank {} of {}: {} failed: {}", rank_, size_, what, std::string(text, len)));
}
#endif

Status Communicator::AllGather(const double* mine, std::size_t count, double* all) {
  if (!distributed()) {
    std::copy(mine, mine + count, all);
    return Status::Ok();
  }
  return LOCKSTEP_MPI(MPI_Allgather(mine, static_cast<int>(count), MPI_DOUBLE, all,
                                    static_cast<int>(count), MPI_DOUBLE, MPI_COMM_WORLD),
                      "MPI_Allgather");
}

Status Communicator::AllGatherBytes(const void* mine, std::size_t bytes, void* all) {
  if (!distributed()) {
    std::copy(static_cast<const char*>(mine), static_cast<const char*>(mine) + bytes,
              static_cast<char*>(all));
    return Status::Ok();
  }
  return LOCKSTEP_MPI(MPI_Allgather(mine, static_cast<int>(bytes), MPI_BYTE, all,
                                    static_cast<int>(bytes), MPI_BYTE, MPI_COMM_WORLD),
                      "MPI_Allgather");
}

Result<Slices> Communicator::CutIntoSlices(std::size_t n) const {
  if (n > kMaxChunk) return Status::Crash("gradient too large for one MPI_Alltoallv");
  Slices s;
  s.total = n;
  for (int r = 0; r < size_; ++r) {
    s.begin.push_back(static_cast<int>(SliceBegin(n, size_, r)));
    s.count.push_back(static_cast<int>(SliceBegin(n, size_, r + 1) - SliceBegin(n, size_, r)));
  }
  return s;
}

Status Communicator::AllToAllSlices(const float* mine, const Slices& s,
                                    const std::vector<int>& received_at, float* received) {
  const auto me = static_cast<std::size_t>(rank_);
  if (!distributed()) {
    if (mine != nullptr && received_at[0] >= 0) {
      std::copy(mine + s.begin[me], mine + s.begin[me] + s.count[me], received + received_at[0]);
    }
    return Status::Ok();
  }
  const std::vector<int> none(s.count.size(), 0);
  std::vector<int> received_count, received_begin;
  for (int at : received_at) {
    received_count.push_back(at >= 0 ? s.count[me] : 0);
    received_begin.push_back(at >= 0 ? at : 0);
  }
  return LOCKSTEP_MPI(MPI_Alltoallv(mine, mine != nullptr ? s.count.data() : none.data(),
                                    s.begin.data(), MPI_FLOAT, received, received_count.data(),
                                    received_begin.data(), MPI_FLOAT, MPI_COMM_WORLD),
                      "MPI_Alltoallv");
}

Status Communicator::AllGatherSlices(const float* mine, const Slices& s, float* all) {
  const auto me = static_cast<std::size_t>(rank_);
  if (!distributed()) {
    std::copy(mine, mine + s.count[me], all + s.begin[me]);
    return Status::Ok();
  }
  return LOCKSTEP_MPI(MPI_Allgatherv(mine, s.count[me], MPI_FLOAT, all, s.count.data(),
                                     s.begin.data(), MPI_FLOAT, MPI_COMM_WORLD),
                      "MPI_Allgatherv");
}

Status Communicator::AllReduceSum(float* x, std::size_t count) {
  if (!distributed()) return Status::Ok();
  return LOCKSTEP_MPI(
      MPI_Allreduce(MPI_IN_PLACE, x, static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
      "MPI_Allreduce");
}

Status Communicator::AllReduceSum(double* x, std::size_t count) {
  if (!distributed()) return Status::Ok();
  return LOCKSTEP_MPI(
      MPI_Allreduce(MPI_IN_PLACE, x, static_cast<int>(count), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
      "MPI_Allreduce");
}

Status Communicator::Barrier() {
  if (!distributed()) return Status::Ok();
  return LOCKSTEP_MPI(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

}  // namespace lockstep::trainer
