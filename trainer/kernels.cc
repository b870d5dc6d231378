#include "trainer/kernels.h"

#include <cblas.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>

namespace lockstep::trainer {

const char* ProfileName(Profile p) {
  return p == Profile::kPortable ? "portable" : "openblas";
}

template <typename T>
Kernels<T>::Kernels(ThreadPool& pool, Profile profile, MemoryTracker& tracker, Precision compute,
                    std::size_t sequence_rows)
    : pool_(pool),
      profile_(profile),
      tracker_(tracker),
      compute_(compute),
      sequence_rows_(sequence_rows) {
  if (!std::is_same_v<T, float> && compute != Precision::kFp32) {
    throw std::invalid_argument("Kernels: bf16 compute is emulated for float only");
  }
}

template <typename T>
T* Kernels<T>::Workspace(std::size_t count) {
  if (workspace_.size() < count) workspace_ = TrackedBuffer<T>(tracker_, count);
  return workspace_.data();
}

template <typename T>
void Kernels<T>::RoundInputs(const T** a, std::size_t a_count, const T** b, std::size_t b_count) {
  if constexpr (std::is_same_v<T, float>) {
    auto round_into = [&](TrackedBuffer<float>& buf, const float** x, std::size_t count) {
      if (buf.size() < count) {
        buf = TrackedBuffer<float>();  // the old copy goes first: the peak counts one
        buf = TrackedBuffer<float>(tracker_, count);
      }
      float* out = buf.data();
      const float* in = *x;
      pool_.ParallelFor(count, [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) out[i] = RoundToBf16(in[i]);
      });
      *x = out;
    };
    round_into(rounded_a_, a, a_count);
    round_into(rounded_b_, b, b_count);
  }
}

namespace {

// Rows [i0, i0 + rows) of C = A . B, A(i,k) = a[i * rs + k * cs]. Rows of C
// in blocks of 4 (each B row loaded once per 4 rows of C), columns in tiles
// that keep the 4 C row pieces in L1. Neither blocking touches the order in
// which one C[i,j] accumulates.
template <typename T>
inline __attribute__((always_inline)) void PortableRows(const T* a, std::size_t rs, std::size_t cs,
                                                        const T* b, T* c, std::size_t i0,
                                                        std::size_t rows, std::size_t k,
                                                        std::size_t n) {
  constexpr std::size_t kTile = 256;
  for (std::size_t j0 = 0; j0 < n; j0 += kTile) {
    const std::size_t cols = std::min(kTile, n - j0);
    for (std::size_t r0 = 0; r0 < rows; r0 += 4) {
      const std::size_t rr = std::min<std::size_t>(4, rows - r0);
      const std::size_t i = i0 + r0;
      T* c0 = c + i * n + j0;
      for (std::size_t r = 0; r < rr; ++r) std::fill(c0 + r * n, c0 + r * n + cols, T(0));
      if (rr == 4) {
        T* __restrict c1 = c0 + n;
        T* __restrict c2 = c1 + n;
        T* __restrict c3 = c2 + n;
        T* __restrict cc0 = c0;
        for (std::size_t p = 0; p < k; ++p) {
          const T a0 = a[i * rs + p * cs], a1 = a[(i + 1) * rs + p * cs];
          const T a2 = a[(i + 2) * rs + p * cs], a3 = a[(i + 3) * rs + p * cs];
          const T* __restrict bp = b + p * n + j0;
          for (std::size_t j = 0; j < cols; ++j) {
            const T bj = bp[j];
            cc0[j] += a0 * bj;
            c1[j] += a1 * bj;
            c2[j] += a2 * bj;
            c3[j] += a3 * bj;
          }
        }
      } else {
        for (std::size_t r = 0; r < rr; ++r) {
          T* __restrict cr = c0 + r * n;
          for (std::size_t p = 0; p < k; ++p) {
            const T ar = a[(i + r) * rs + p * cs];
            const T* __restrict bp = b + p * n + j0;
            for (std::size_t j = 0; j < cols; ++j) cr[j] += ar * bp[j];
          }
        }
      }
    }
  }
}

// The float kernel compiled for several instruction sets, picked at run time.
// The clones differ in how many j advance per instruction, never in the
// operations of one C[i,j], and -ffp-contract=off keeps FMA out of all of
// them: the same bits from each (KernelsTest checks the running one against a
// scalar loop).
__attribute__((target_clones("avx512f", "avx2", "default"))) void PortableRowsF32(
    const float* a, std::size_t rs, std::size_t cs, const float* b, float* c, std::size_t i0,
    std::size_t rows, std::size_t k, std::size_t n) {
  PortableRows(a, rs, cs, b, c, i0, rows, k, n);
}

void PortableRowsDispatch(const float* a, std::size_t rs, std::size_t cs, const float* b, float* c,
                          std::size_t i0, std::size_t rows, std::size_t k, std::size_t n) {
  PortableRowsF32(a, rs, cs, b, c, i0, rows, k, n);
}
void PortableRowsDispatch(const double* a, std::size_t rs, std::size_t cs, const double* b,
                          double* c, std::size_t i0, std::size_t rows, std::size_t k,
                          std::size_t n) {
  PortableRows(a, rs, cs, b, c, i0, rows, k, n);
}

}  // namespace

template <typename T>
void Kernels<T>::Portable(const T* a, std::size_t rs, std::size_t cs, const T* b, T* c,
                          std::size_t m, std::size_t k, std::size_t n) {
  // Threads take blocks of 16 rows; any split gives the same bits.
  constexpr std::size_t kRowsPerTask = 16;
  const std::size_t tasks = (m + kRowsPerTask - 1) / kRowsPerTask;
  pool_.ParallelFor(tasks, [&](std::size_t begin, std::size_t end) {
    const std::size_t i0 = begin * kRowsPerTask;
    const std::size_t i1 = std::min(m, end * kRowsPerTask);
    PortableRowsDispatch(a, rs, cs, b, c, i0, i1 - i0, k, n);
  });
}

template <typename T>
bool Kernels<T>::OpenBlasRows(bool trans_a, bool trans_b, const T* a, const T* b, T* c,
                              std::size_t m, std::size_t k, std::size_t n, std::size_t group) {
  if constexpr (std::is_same_v<T, float>) {
    if (profile_ != Profile::kOpenBlas) return false;
    // Rows [i0, i0 + rows) of C: A's rows start at i0 * k, or at column i0
    // of the stored [K, M] matrix when A is transposed. Blocks of `block`
    // rows within each group of `group` rows, the last one of a group shorter.
    if (group == 0 || group > m) group = m;
    const std::size_t block = OpenBlasBlockRows(m);
    const std::size_t per_group = (group + block - 1) / block;
    const std::size_t groups = (m + group - 1) / group;
    pool_.ParallelFor(groups * per_group, [&](std::size_t begin, std::size_t end) {
      for (std::size_t task = begin; task < end; ++task) {
        const std::size_t g0 = task / per_group * group;
        const std::size_t i0 = g0 + task % per_group * block;
        const std::size_t rows = std::min(block, std::min(g0 + group, m) - i0);
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, int(rows), int(n), int(k), 1.0f,
                    trans_a ? a + i0 : a + i0 * k, trans_a ? int(m) : int(k), b,
                    trans_b ? int(k) : int(n), 0.0f, c + i0 * n, int(n));
      }
    });
    return true;
  } else {
    return false;  // double is portable only (gradient checks)
  }
}

template <typename T>
void Kernels<T>::NN(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n) {
  if (compute_ == Precision::kBf16) RoundInputs(&a, m * k, &b, k * n);
  if (OpenBlasRows(false, false, a, b, c, m, k, n, sequence_rows_)) return;
  Portable(a, k, 1, b, c, m, k, n);
}

template <typename T>
void Kernels<T>::TN(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n) {
  if (compute_ == Precision::kBf16) RoundInputs(&a, k * m, &b, k * n);
  if (OpenBlasRows(true, false, a, b, c, m, k, n, m)) return;  // C's rows are not tokens
  Portable(a, 1, m, b, c, m, k, n);
}

template <typename T>
void Kernels<T>::NT(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n) {
  if (compute_ == Precision::kBf16) RoundInputs(&a, m * k, &b, n * k);
  if (OpenBlasRows(false, true, a, b, c, m, k, n, sequence_rows_)) return;
  // B is [N,K]; its transpose [K,N] makes this an NN product.
  T* bt = Workspace(n * k);
  pool_.ParallelFor(k, [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      for (std::size_t j = 0; j < n; ++j) bt[p * n + j] = b[j * k + p];
    }
  });
  Portable(a, k, 1, bt, c, m, k, n);
}

template class Kernels<float>;
template class Kernels<double>;

}  // namespace lockstep::trainer
