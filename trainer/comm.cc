#include "trainer/comm.h"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>

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
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  initialized_ = true;
  // Errors come back as codes (and become exit 3 naming the rank) instead of
  // aborting the whole job without a word.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

Communicator::~Communicator() {
  if (initialized_) MPI_Finalize();
}

Status Communicator::Check(int code, const char* what) const {
  if (code == MPI_SUCCESS) return Status::Ok();
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return Status::Crash(fmt::format("rank {} of {}: {} failed: {}", rank_, size_, what, std::string(text, len)));
}

Status Communicator::AllGather(const double* mine, std::size_t count, double* all) {
  if (!distributed()) {
    std::copy(mine, mine + count, all);
    return Status::Ok();
  }
  return Check(MPI_Allgather(mine, static_cast<int>(count), MPI_DOUBLE, all, static_cast<int>(count),
                             MPI_DOUBLE, MPI_COMM_WORLD),
               "MPI_Allgather");
}

Status Communicator::AllGatherBytes(const void* mine, std::size_t bytes, void* all) {
  if (!distributed()) {
    std::copy(static_cast<const char*>(mine), static_cast<const char*>(mine) + bytes, static_cast<char*>(all));
    return Status::Ok();
  }
  return Check(MPI_Allgather(mine, static_cast<int>(bytes), MPI_BYTE, all, static_cast<int>(bytes), MPI_BYTE,
                             MPI_COMM_WORLD),
               "MPI_Allgather");
}

std::vector<std::size_t> Communicator::SliceBounds(std::size_t n) const {
  std::vector<std::size_t> bounds(static_cast<std::size_t>(size_) + 1);
  for (int r = 0; r <= size_; ++r) bounds[static_cast<std::size_t>(r)] = SliceBegin(n, size_, r);
  return bounds;
}

Status Communicator::AllToAllSlices(const float* mine, const std::vector<std::size_t>& bounds, float* received) {
  const auto me = static_cast<std::size_t>(rank_);
  const std::size_t len = bounds[me + 1] - bounds[me];
  if (!distributed()) {
    std::copy(mine + bounds[0], mine + bounds[1], received);
    return Status::Ok();
  }
  if (bounds.back() > kMaxChunk) return Status::Crash("gradient too large for one MPI_Alltoallv");
  std::vector<int> send_counts(static_cast<std::size_t>(size_)), send_displs(send_counts.size());
  std::vector<int> recv_counts(send_counts.size()), recv_displs(send_counts.size());
  for (std::size_t q = 0; q < send_counts.size(); ++q) {
    send_counts[q] = static_cast<int>(bounds[q + 1] - bounds[q]);
    send_displs[q] = static_cast<int>(bounds[q]);
    recv_counts[q] = static_cast<int>(len);
    recv_displs[q] = static_cast<int>(q * len);
  }
  return Check(MPI_Alltoallv(mine, send_counts.data(), send_displs.data(), MPI_FLOAT, received,
                             recv_counts.data(), recv_displs.data(), MPI_FLOAT, MPI_COMM_WORLD),
               "MPI_Alltoallv");
}

Status Communicator::AllGatherSlices(const float* mine, const std::vector<std::size_t>& bounds, float* all) {
  const auto me = static_cast<std::size_t>(rank_);
  if (!distributed()) {
    std::copy(mine, mine + (bounds[me + 1] - bounds[me]), all + bounds[me]);
    return Status::Ok();
  }
  if (bounds.back() > kMaxChunk) return Status::Crash("gradient too large for one MPI_Allgatherv");
  std::vector<int> counts(static_cast<std::size_t>(size_)), displs(counts.size());
  for (std::size_t q = 0; q < counts.size(); ++q) {
    counts[q] = static_cast<int>(bounds[q + 1] - bounds[q]);
    displs[q] = static_cast<int>(bounds[q]);
  }
  return Check(MPI_Allgatherv(mine, counts[me], MPI_FLOAT, all, counts.data(), displs.data(), MPI_FLOAT,
                              MPI_COMM_WORLD),
               "MPI_Allgatherv");
}

Status Communicator::AllReduceSum(float* x, std::size_t count) {
  if (!distributed()) return Status::Ok();
  return Check(MPI_Allreduce(MPI_IN_PLACE, x, static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
               "MPI_Allreduce");
}

Status Communicator::AllReduceSum(double* x, std::size_t count) {
  if (!distributed()) return Status::Ok();
  return Check(MPI_Allreduce(MPI_IN_PLACE, x, static_cast<int>(count), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
               "MPI_Allreduce");
}

Status Communicator::Barrier() {
  if (!distributed()) return Status::Ok();
  return Check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

}  // namespace lockstep::trainer
