#include "trainer/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <type_traits>

#include "trainer/gemm_kernel.h"
#include "trainer/simd_clones.h"

namespace lockstep::trainer {
namespace {

using gemm_internal::MicroKernel;

// The blocking, chosen for speed only (no bit depends on it). A K block of
// kKc steps of kMc rows of packed A (96 KB) stays in L2 while the B panels
// (kKc x NR, 16-32 KB) stream through L1. kMc is a multiple of every MR.
constexpr std::size_t kKc = 256;
constexpr std::size_t kMc = 96;
// Multiples of every path's MR (4, 6, 8, 12) and NR (4, 12, 16, 32).
constexpr std::size_t kAnyMr = 24, kAnyNr = 96;

// Below this many flops the product runs on the caller: the pool's hand-off
// would cost more than a second thread gives. A first setting; 4x more
// changed nothing measurable on the smoke config (bench/README.md, "Threads").
constexpr double kParallelMinFlops = 4e6;

template <typename T>
struct Scalar {
  using Reg = T;
  static constexpr std::size_t kWidth = 1;
  static T Zero() { return T(0); }
  static T Load(const T* p) { return *p; }
  static void Store(T* p, T r) { *p = r; }
  static T Broadcast(T x) { return x; }
  static T Fma(T a, T b, T c) { return std::fma(a, b, c); }
};

template <typename T>
MicroKernel<T> ScalarKernel() {
  return {4, 4, &gemm_internal::Sweep<T, Scalar<T>, 4, 4>};
}

bool CpuRuns(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
#if defined(__x86_64__)
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f");
#elif defined(__aarch64__)
    case Isa::kNeon:
      return true;
#endif
    default:
      return false;  // not built for this architecture
  }
}

template <typename T>
MicroKernel<T> KernelFor(Isa isa) {
  if constexpr (std::is_same_v<T, float>) {
    switch (isa) {
#if defined(__x86_64__)
      case Isa::kAvx2:
        return gemm_internal::Avx2Kernel();
      case Isa::kAvx512:
        return gemm_internal::Avx512Kernel();
#elif defined(__aarch64__)
      case Isa::kNeon:
        return gemm_internal::NeonKernel();
#endif
      default:
        break;
    }
  }
  if (isa != Isa::kScalar) throw std::invalid_argument("Gemm: no such code path for this type");
  return ScalarKernel<T>();
}

std::size_t RoundUp(std::size_t x, std::size_t to) {
  return (x + to - 1) / to * to;
}

// One panel of packed A: rows [i0, i0 + rows) (rows <= MR; the rest of the
// panel is zeros), k in [p0, p0 + kc), row within the panel fastest. Packing
// only copies, so its speed is all that is at stake: MR is a constant (the
// copies of one k unroll into vector moves) and when A's rows are contiguous
// in k, the MR rows are read side by side, so the writes are contiguous too.
template <std::size_t MR, typename T>
inline __attribute__((always_inline)) void PackAPanel(const T* a, Strides s, std::size_t i0,
                                                      std::size_t rows, std::size_t p0,
                                                      std::size_t kc, T* __restrict out) {
  if (s.row == 1 && s.col != 1) {  // A stored [K, M] (TN): a row of k is contiguous in i
    for (std::size_t p = 0; p < kc; ++p) {
      const T* column = a + i0 + (p0 + p) * s.col;
      if (rows == MR) {
        for (std::size_t r = 0; r < MR; ++r) out[p * MR + r] = column[r];
      } else {
        for (std::size_t r = 0; r < MR; ++r) out[p * MR + r] = r < rows ? column[r] : T(0);
      }
    }
    return;
  }
  const T* row[MR];
  for (std::size_t r = 0; r < MR; ++r) row[r] = a + (i0 + (r < rows ? r : 0)) * s.row + p0 * s.col;
  for (std::size_t p = 0; p < kc; ++p) {
    for (std::size_t r = 0; r < MR; ++r) out[p * MR + r] = r < rows ? row[r][p * s.col] : T(0);
  }
}

// One panel of packed B: columns [j0, j0 + cols) (cols <= NR, zeros after),
// k in [p0, p0 + kc), column within the panel fastest; as PackAPanel.
template <std::size_t NR, typename T>
inline __attribute__((always_inline)) void PackBPanel(const T* b, Strides s, std::size_t p0,
                                                      std::size_t kc, std::size_t j0,
                                                      std::size_t cols, T* __restrict out) {
  if (s.col == 1) {  // B stored [K, N] (NN, TN): a row of k is contiguous in j
    for (std::size_t p = 0; p < kc; ++p) {
      const T* row = b + (p0 + p) * s.row + j0;
      if (cols == NR) {
        for (std::size_t j = 0; j < NR; ++j) out[p * NR + j] = row[j];
      } else {
        for (std::size_t j = 0; j < NR; ++j) out[p * NR + j] = j < cols ? row[j] : T(0);
      }
    }
    return;
  }
  const T* col[NR];
  for (std::size_t j = 0; j < NR; ++j) col[j] = b + p0 * s.row + (j0 + (j < cols ? j : 0)) * s.col;
  for (std::size_t p = 0; p < kc; ++p) {
    for (std::size_t j = 0; j < NR; ++j) out[p * NR + j] = j < cols ? col[j][p * s.row] : T(0);
  }
}

// The panel widths of every path (gemm_kernel.h), as constants.
template <typename T>
inline __attribute__((always_inline)) void PackA(const T* a, Strides s, std::size_t i0,
                                                 std::size_t rows, std::size_t p0, std::size_t kc,
                                                 std::size_t mr, T* out) {
  switch (mr) {
    case 4:
      return PackAPanel<4>(a, s, i0, rows, p0, kc, out);
    case 6:
      return PackAPanel<6>(a, s, i0, rows, p0, kc, out);
    case 8:
      return PackAPanel<8>(a, s, i0, rows, p0, kc, out);
    case 12:
      return PackAPanel<12>(a, s, i0, rows, p0, kc, out);
    default:
      throw std::logic_error("Gemm: no packing for this MR");
  }
}
template <typename T>
inline __attribute__((always_inline)) void PackB(const T* b, Strides s, std::size_t p0,
                                                 std::size_t kc, std::size_t j0, std::size_t cols,
                                                 std::size_t nr, T* out) {
  switch (nr) {
    case 4:
      return PackBPanel<4>(b, s, p0, kc, j0, cols, out);
    case 12:
      return PackBPanel<12>(b, s, p0, kc, j0, cols, out);
    case 16:
      return PackBPanel<16>(b, s, p0, kc, j0, cols, out);
    case 32:
      return PackBPanel<32>(b, s, p0, kc, j0, cols, out);
    default:
      throw std::logic_error("Gemm: no packing for this NR");
  }
}

// float packing for several instruction sets (wider copies; no arithmetic).
LOCKSTEP_SIMD_CLONES void PackAF32(const float* a, Strides s, std::size_t i0, std::size_t rows,
                                   std::size_t p0, std::size_t kc, std::size_t mr, float* out) {
  PackA(a, s, i0, rows, p0, kc, mr, out);
}
LOCKSTEP_SIMD_CLONES void PackBF32(const float* b, Strides s, std::size_t p0, std::size_t kc,
                                   std::size_t j0, std::size_t cols, std::size_t nr, float* out) {
  PackB(b, s, p0, kc, j0, cols, nr, out);
}
template <typename T>
void PackAnyA(const T* a, Strides s, std::size_t i0, std::size_t rows, std::size_t p0,
              std::size_t kc, std::size_t mr, T* out) {
  if constexpr (std::is_same_v<T, float>) {
    PackAF32(a, s, i0, rows, p0, kc, mr, out);
  } else {
    PackA(a, s, i0, rows, p0, kc, mr, out);
  }
}
template <typename T>
void PackAnyB(const T* b, Strides s, std::size_t p0, std::size_t kc, std::size_t j0,
              std::size_t cols, std::size_t nr, T* out) {
  if constexpr (std::is_same_v<T, float>) {
    PackBF32(b, s, p0, kc, j0, cols, nr, out);
  } else {
    PackB(b, s, p0, kc, j0, cols, nr, out);
  }
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kNeon:
      return "neon";
  }
  return "?";
}

std::vector<Isa> RunnableIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (CpuRuns(isa)) isas.push_back(isa);
  }
  return isas;
}

Isa WidestIsa() {
  return RunnableIsas().back();
}

Result<Isa> PortableIsa() {
  const std::vector<Isa> runnable = RunnableIsas();
  const char* forced = std::getenv("LOCKSTEP_PORTABLE_ISA");
  if (forced == nullptr || *forced == '\0') return runnable.back();
  std::string names;
  for (Isa isa : runnable) {
    if (IsaName(isa) == std::string_view(forced)) return isa;
    names += names.empty() ? "" : ", ";
    names += IsaName(isa);
  }
  return Status::BadInput("LOCKSTEP_PORTABLE_ISA='" + std::string(forced) +
                          "' is not a code path this build and CPU can run; use one of: " + names +
                          " (or unset it for the widest)");
}

std::size_t GemmWorkspaceSize(std::size_t m, std::size_t k, std::size_t n) {
  return (RoundUp(m, kAnyMr) + RoundUp(n, kAnyNr)) * std::min(k, kKc);
}

template <typename T>
void Gemm(Isa isa, ThreadPool& pool, TrackedBuffer<T>& workspace, MemoryTracker& tracker,
          const T* a, Strides as, const T* b, Strides bs, T* c, std::size_t m, std::size_t k,
          std::size_t n) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::fill(c, c + m * n, T(0));
    return;
  }
  const MicroKernel<T> kernel = KernelFor<T>(isa);
  const std::size_t mr = kernel.mr, nr = kernel.nr;
  const std::size_t a_panels = RoundUp(m, mr) / mr, b_panels = RoundUp(n, nr) / nr;
  const std::size_t kc_max = std::min(k, kKc);
  const std::size_t need = GemmWorkspaceSize(m, k, n);
  if (workspace.size() < need) {
    workspace = TrackedBuffer<T>();  // the old one goes first: the peak counts one
    workspace = TrackedBuffer<T>(tracker, need);
  }
  T* packed_a = workspace.data();
  T* packed_b = packed_a + a_panels * mr * kc_max;

  // Tasks: blocks of kMc rows times groups of B panels, enough of them to
  // balance the threads; each task sweeps its rectangle of C.
  const bool parallel =
      pool.threads() > 1 && 2.0 * double(m) * double(n) * double(k) >= kParallelMinFlops;
  const std::size_t row_blocks = (m + kMc - 1) / kMc;
  const std::size_t want = parallel ? 8 * std::size_t(pool.threads()) : 1;
  const std::size_t col_groups = std::min(b_panels, (want + row_blocks - 1) / row_blocks);
  const std::size_t panels_per_group = (b_panels + col_groups - 1) / col_groups;
  auto run = [&](std::size_t count, const std::function<void(std::size_t, std::size_t)>& body) {
    if (parallel) {
      pool.ParallelFor(count, ThreadPool::kSplit, body);
    } else {
      body(0, count);
    }
  };

  for (std::size_t p0 = 0; p0 < k; p0 += kKc) {
    const std::size_t kc = std::min(kKc, k - p0);
    run(a_panels + b_panels, [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t) {
        if (t < a_panels) {
          const std::size_t i0 = t * mr;
          PackAnyA(a, as, i0, std::min(mr, m - i0), p0, kc, mr, packed_a + i0 * kc);
        } else {
          const std::size_t j0 = (t - a_panels) * nr;
          PackAnyB(b, bs, p0, kc, j0, std::min(nr, n - j0), nr, packed_b + j0 * kc);
        }
      }
    });
    run(row_blocks * col_groups, [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t) {
        const std::size_t i0 = t / col_groups * kMc;
        const std::size_t j0 = t % col_groups * panels_per_group * nr;
        if (j0 >= n) continue;
        const std::size_t rows = std::min(kMc, m - i0);
        const std::size_t cols = std::min(panels_per_group * nr, n - j0);
        kernel.sweep(rows, cols, kc, packed_a + i0 * kc, packed_b + j0 * kc, c + i0 * n + j0, n,
                     p0 == 0);
      }
    });
  }
}

template void Gemm<float>(Isa, ThreadPool&, TrackedBuffer<float>&, MemoryTracker&, const float*,
                          Strides, const float*, Strides, float*, std::size_t, std::size_t,
                          std::size_t);
template void Gemm<double>(Isa, ThreadPool&, TrackedBuffer<double>&, MemoryTracker&, const double*,
                           Strides, const double*, Strides, double*, std::size_t, std::size_t,
                           std::size_t);

}  // namespace lockstep::trainer
