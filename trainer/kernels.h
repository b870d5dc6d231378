// Kernels: the matrix products of the trainer, in the two numerics profiles.
//
//   NN  C[M,N] = A[M,K] . B[K,N]
//   NT  C[M,N] = A[M,K] . B[N,K]^T
//   TN  C[M,N] = A[K,M]^T . B[K,N]
// All row-major; C is overwritten.
//
// portable: trainer/gemm.h, whose order is defined by fused multiply-add:
//   every C[i,j] is one accumulator, c = fma(A(i,k), B(k,j), c) for k = 0, 1,
//   ..., K-1 from +0, so the bits depend on the inputs alone: the same on any
//   CPU, code path (`isa`), compiler and thread count.
// openblas: cblas_sgemm on fixed blocks of rows of C (OpenBlasBlockRows), spread
//   over our threads with OpenBLAS itself single-threaded, so every sgemm call
//   has the same shape whatever the thread count: bit-exact on one machine and
//   library, not across CPU models. With `sequence_rows` set (the model's T),
//   the rows of A and C in NN and NT are sequences of that many rows, and no
//   block crosses a sequence: a sequence's bits do not depend on how many
//   sequences one call holds (OpenBLAS may pick its kernels by shape).
//
// compute = bf16 (numerics.compute, Kernels<float> only): A and B are first
//   rounded to bf16 (trainer/bf16.h) into tracked scratch copies, then the
//   same product runs on the copies. A product of two bf16 values is exact in
//   float (8 + 8 significant bits), so only the fp32 accumulation rounds, as
//   on bf16 hardware with fp32 accumulators. Attention's per-head products
//   are not GEMMs here: layers.h rounds their inputs when given the precision.
#ifndef LOCKSTEP_TRAINER_KERNELS_H_
#define LOCKSTEP_TRAINER_KERNELS_H_

#include <algorithm>
#include <cstddef>
#include <string>

#include "trainer/bf16.h"
#include "trainer/gemm.h"
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

  // compute = kBf16 is for Kernels<float> (std::invalid_argument otherwise).
  // sequence_rows: see above (0 = the rows are not grouped). isa: the
  // portable product's code path (a runnable one; Kernels<double> always
  // runs kScalar), by default the widest.
  Kernels(ThreadPool& pool, Profile profile, MemoryTracker& tracker,
          Precision compute = Precision::kFp32, std::size_t sequence_rows = 0,
          Isa isa = WidestIsa());

  void NN(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n);
  void NT(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n);
  void TN(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n);

  ThreadPool& pool() { return pool_; }
  Profile profile() const { return profile_; }
  Precision compute() const { return compute_; }
  Isa isa() const { return isa_; }
  std::size_t sequence_rows() const { return sequence_rows_; }

 private:
  void Portable(const T* a, Strides a_strides, const T* b, Strides b_strides, T* c, std::size_t m,
                std::size_t k, std::size_t n);
  // compute = bf16: points *a and *b at rounded copies of their first
  // a_count and b_count values.
  void RoundInputs(const T** a, std::size_t a_count, const T** b, std::size_t b_count);
  // cblas_sgemm on fixed blocks of rows of C, when this is the openblas
  // profile (float); false otherwise.
  // `group`: rows per sequence (no block crosses one), or m.
  bool OpenBlasRows(bool trans_a, bool trans_b, const T* a, const T* b, T* c, std::size_t m,
                    std::size_t k, std::size_t n, std::size_t group);

  ThreadPool& pool_;
  Profile profile_;
  MemoryTracker& tracker_;
  Precision compute_;
  std::size_t sequence_rows_;
  Isa isa_;
  TrackedBuffer<T> workspace_;              // packed panels (portable)
  TrackedBuffer<T> rounded_a_, rounded_b_;  // compute = bf16 only
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_KERNELS_H_
