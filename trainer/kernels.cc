#include "trainer/kernels.h"

#include <cblas.h>

#include <algorithm>

namespace lockstep::trainer {

const char* ProfileName(Profile p) { return p == Profile::kPortable ? "portable" : "openblas"; }

template <typename T>
T* Kernels<T>::Workspace(std::size_t count) {
  if (workspace_.size() < count) workspace_ = TrackedBuffer<T>(tracker_, count);
  return workspace_.data();
}

template <typename T>
void Kernels<T>::Portable(const T* a, std::size_t rs, std::size_t cs, const T* b, T* c,
                          std::size_t m, std::size_t k, std::size_t n) {
  // Rows of C in blocks of 4 (each B row loaded once per 4 rows of C), columns
  // in tiles that keep the 4 C row pieces in L1. Neither blocking touches the
  // order in which one C[i,j] accumulates.
  constexpr std::size_t kRows = 4;
  constexpr std::size_t kTile = 256;
  const std::size_t blocks = (m + kRows - 1) / kRows;
  pool_.ParallelFor(blocks, [&](std::size_t begin, std::size_t end) {
    for (std::size_t blk = begin; blk < end; ++blk) {
      const std::size_t i0 = blk * kRows;
      const std::size_t rows = std::min(kRows, m - i0);
      for (std::size_t j0 = 0; j0 < n; j0 += kTile) {
        const std::size_t cols = std::min(kTile, n - j0);
        T* c0 = c + i0 * n + j0;
        for (std::size_t r = 0; r < rows; ++r) std::fill(c0 + r * n, c0 + r * n + cols, T(0));
        if (rows == kRows) {
          T* c1 = c0 + n;
          T* c2 = c1 + n;
          T* c3 = c2 + n;
          for (std::size_t p = 0; p < k; ++p) {
            const T a0 = a[i0 * rs + p * cs], a1 = a[(i0 + 1) * rs + p * cs];
            const T a2 = a[(i0 + 2) * rs + p * cs], a3 = a[(i0 + 3) * rs + p * cs];
            const T* bp = b + p * n + j0;
            for (std::size_t j = 0; j < cols; ++j) {
              const T bj = bp[j];
              c0[j] += a0 * bj;
              c1[j] += a1 * bj;
              c2[j] += a2 * bj;
              c3[j] += a3 * bj;
            }
          }
        } else {
          for (std::size_t r = 0; r < rows; ++r) {
            T* cr = c0 + r * n;
            for (std::size_t p = 0; p < k; ++p) {
              const T ar = a[(i0 + r) * rs + p * cs];
              const T* bp = b + p * n + j0;
              for (std::size_t j = 0; j < cols; ++j) cr[j] += ar * bp[j];
            }
          }
        }
      }
    }
  });
}

template <typename T>
void Kernels<T>::NN(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (profile_ == Profile::kOpenBlas) {
      const std::size_t blocks = (m + kOpenBlasRows - 1) / kOpenBlasRows;
      pool_.ParallelFor(blocks, [&](std::size_t begin, std::size_t end) {
        for (std::size_t blk = begin; blk < end; ++blk) {
          const std::size_t i0 = blk * kOpenBlasRows, rows = std::min(kOpenBlasRows, m - i0);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(n), int(k), 1.0f,
                      a + i0 * k, int(k), b, int(n), 0.0f, c + i0 * n, int(n));
        }
      });
      return;
    }
  }
  Portable(a, k, 1, b, c, m, k, n);
}

template <typename T>
void Kernels<T>::TN(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (profile_ == Profile::kOpenBlas) {
      const std::size_t blocks = (m + kOpenBlasRows - 1) / kOpenBlasRows;
      pool_.ParallelFor(blocks, [&](std::size_t begin, std::size_t end) {
        for (std::size_t blk = begin; blk < end; ++blk) {
          const std::size_t i0 = blk * kOpenBlasRows, rows = std::min(kOpenBlasRows, m - i0);
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(rows), int(n), int(k), 1.0f,
                      a + i0, int(m), b, int(n), 0.0f, c + i0 * n, int(n));
        }
      });
      return;
    }
  }
  Portable(a, 1, m, b, c, m, k, n);
}

template <typename T>
void Kernels<T>::NT(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (profile_ == Profile::kOpenBlas) {
      const std::size_t blocks = (m + kOpenBlasRows - 1) / kOpenBlasRows;
      pool_.ParallelFor(blocks, [&](std::size_t begin, std::size_t end) {
        for (std::size_t blk = begin; blk < end; ++blk) {
          const std::size_t i0 = blk * kOpenBlasRows, rows = std::min(kOpenBlasRows, m - i0);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(n), int(k), 1.0f,
                      a + i0 * k, int(k), b, int(k), 0.0f, c + i0 * n, int(n));
        }
      });
      return;
    }
  }
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
