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
                    std::size_t sequence_rows, Isa isa)
    : pool_(pool),
      profile_(profile),
      tracker_(tracker),
      compute_(compute),
      sequence_rows_(sequence_rows),
      isa_(std::is_same_v<T, float> ? isa : Isa::kScalar) {
  if (!std::is_same_v<T, float> && compute != Precision::kFp32) {
    throw std::invalid_argument("Kernels: bf16 compute is emulated for float only");
  }
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
      pool_.ParallelFor(count, 2, [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) out[i] = RoundToBf16(in[i]);
      });
      *x = out;
    };
    round_into(rounded_a_, a, a_count);
    round_into(rounded_b_, b, b_count);
  }
}

template <typename T>
void Kernels<T>::Portable(const T* a, Strides a_strides, const T* b, Strides b_strides, T* c,
                          std::size_t m, std::size_t k, std::size_t n) {
  Gemm<T>(isa_, pool_, workspace_, tracker_, a, a_strides, b, b_strides, c, m, k, n);
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
    pool_.ParallelFor(groups * per_group, 2 * std::min(group, OpenBlasBlockRows(m)) * k * n,
                      [&](std::size_t begin, std::size_t end) {
                        for (std::size_t task = begin; task < end; ++task) {
                          const std::size_t g0 = task / per_group * group;
                          const std::size_t i0 = g0 + task % per_group * block;
                          const std::size_t rows = std::min(block, std::min(g0 + group, m) - i0);
                          cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                                      trans_b ? CblasTrans : CblasNoTrans, int(rows), int(n),
                                      int(k), 1.0f, trans_a ? a + i0 : a + i0 * k,
                                      trans_a ? int(m) : int(k), b, trans_b ? int(k) : int(n), 0.0f,
                                      c + i0 * n, int(n));
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
  Portable(a, {k, 1}, b, {n, 1}, c, m, k, n);
}

template <typename T>
void Kernels<T>::TN(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n) {
  if (compute_ == Precision::kBf16) RoundInputs(&a, k * m, &b, k * n);
  if (OpenBlasRows(true, false, a, b, c, m, k, n, m)) return;  // C's rows are not tokens
  Portable(a, {1, m}, b, {n, 1}, c, m, k, n);
}

template <typename T>
void Kernels<T>::NT(const T* a, const T* b, T* c, std::size_t m, std::size_t k, std::size_t n) {
  if (compute_ == Precision::kBf16) RoundInputs(&a, m * k, &b, n * k);
  if (OpenBlasRows(false, true, a, b, c, m, k, n, sequence_rows_)) return;
  Portable(a, {k, 1}, b, {1, k}, c, m, k, n);  // B(k,j) = b[j * K + k]
}

template class Kernels<float>;
template class Kernels<double>;

}  // namespace lockstep::trainer
