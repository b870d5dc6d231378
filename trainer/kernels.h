// Kernels: the matrix products of the trainer, in the two numerics profiles.
//
//   NN  C[M,N] = A[M,K] . B[K,N]
//   NT  C[M,N] = A[M,K] . B[N,K]^T
//   TN  C[M,N] = A[K,M]^T . B[K,N]
// All row-major; C is overwritten.
//
// portable: every C[i,j] is one accumulator, starting at 0 and adding
//   A(i,k) * B(k,j) for k = 0, 1, ..., K-1 in that order, each product and
//   each sum rounded once (no FMA: the build uses -ffp-contract=off). Loops run
//   across j, so vectorising changes how many outputs advance at once but never
//   the order of one output's operations: the same bits on any CPU, SIMD width
//   and thread count. NT transposes B into a workspace first.
// openblas: cblas_sgemm on fixed blocks of rows of C (OpenBlasBlockRows), spread
//   over our threads with OpenBLAS itself single-threaded, so every sgemm call
//   has the same shape whatever the thread count: bit-exact on one machine and
//   library, not across CPU models.
#ifndef LOCKSTEP_TRAINER_KERNELS_H_
#define LOCKSTEP_TRAINER_KERNELS_H_

#include <algorithm>
#include <cstddef>
#include <string>

#include "trainer/memory.h"
#include "trainer/thread_pool.h"

namespace lockstep::trainer {

enum class Profile { kPortable, kOpenBlas };
const char* ProfileName(Profile p);

template <typename T>
class Kernels {
 public:
  // Rows of C per cblas_sgemm call: a constant, never a function of the
  // thread count. 512 measured fastest on the bench model (64 packed B once
  // per 64 rows: 19% of the step in OpenBLAS's copy routines).
  static std::size_t OpenBlasBlockRows(std::size_t) { return 512; }

  Kernels(ThreadPool& pool, Profile profile, MemoryTracker& tracker)
      : pool_(pool), profile_(profile), tracker_(tracker) {}

  void NN(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n);
  void NT(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n);
  void TN(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n);

  ThreadPool& pool() { return pool_; }
  Profile profile() const { return profile_; }

 private:
  // C = A . B with A(i,k) = a[i * row_stride + k * col_stride].
  void Portable(const T* a, std::size_t row_stride, std::size_t col_stride, const T* b, T* c,
                std::size_t m, std::size_t k, std::size_t n);
  T* Workspace(std::size_t count);
  // cblas_sgemm on fixed blocks of rows of C, when this is the openblas
  // profile (float); false otherwise.
  bool OpenBlasRows(bool trans_a, bool trans_b, const T* a, const T* b, T* c, std::size_t m,
                    std::size_t k, std::size_t n);

  ThreadPool& pool_;
  Profile profile_;
  MemoryTracker& tracker_;
  TrackedBuffer<T> workspace_;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_KERNELS_H_
