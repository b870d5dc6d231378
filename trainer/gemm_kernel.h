// Internal to the portable GEMM (trainer/gemm.h): the register-tiled
// micro-kernel, written once over a vector type V, and compiled once per
// instruction set in its own file (gemm_avx2.cc, ...) with that set's flags.
//
// V provides Reg (one vector of kWidth floats), Zero(), Load(p), Store(p, r),
// Broadcast(x) and Fma(a, b, c) = the fused a*b + c lane by lane. Every lane
// of every accumulator is one output C[i,j], and the only arithmetic on it is
// Fma with A(i,k) and B(k,j) for k in order: the width of V, MR and NR choose
// how many outputs advance together, never the operations of one.
//
// Each file includes this header with V defined in an anonymous namespace, so
// every instantiation has internal linkage and code built with one set's flags
// can never be linked in for another. For the same reason it calls nothing
// from the standard library.
#ifndef LOCKSTEP_TRAINER_GEMM_KERNEL_H_
#define LOCKSTEP_TRAINER_GEMM_KERNEL_H_

#include <cstddef>

namespace lockstep::trainer::gemm_internal {

// One sweep: `rows` rows of C (packed A: ceil(rows / MR) panels of kc x MR,
// row within panel fastest) times `cols` columns (packed B: ceil(cols / NR)
// panels of kc x NR, column within panel fastest), k from the block's first
// to its last. first: the outputs start at +0, else they continue from C.
template <typename T>
using SweepFn = void (*)(std::size_t rows, std::size_t cols, std::size_t kc, const T* packed_a,
                         const T* packed_b, T* c, std::size_t ldc, bool first);

template <typename T>
struct MicroKernel {
  std::size_t mr, nr;  // the tile: rows of A panels, columns of B panels
  SweepFn<T> sweep;
};

// One MR x NR tile of C over one K block.
template <typename T, class V, std::size_t MR, std::size_t NV>
inline __attribute__((always_inline)) void Tile(std::size_t kc, const T* __restrict pa,
                                                const T* __restrict pb, T* c, std::size_t ldc,
                                                bool first) {
  constexpr std::size_t W = V::kWidth, NR = NV * W;
  typename V::Reg acc[MR][NV];
#pragma GCC unroll 32
  for (std::size_t r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v)
      acc[r][v] = first ? V::Zero() : V::Load(c + r * ldc + v * W);
  }
  for (std::size_t p = 0; p < kc; ++p) {
    typename V::Reg b[NV];
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) b[v] = V::Load(pb + p * NR + v * W);
#pragma GCC unroll 32
    for (std::size_t r = 0; r < MR; ++r) {
      const typename V::Reg a = V::Broadcast(pa[p * MR + r]);
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) acc[r][v] = V::Fma(a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 32
  for (std::size_t r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) V::Store(c + r * ldc + v * W, acc[r][v]);
  }
}

// The sweep of SweepFn over whole tiles; a tile cut by the edge of C runs on
// a copy padded with zeros (the padded lanes of packed A and B are zeros too,
// and their outputs are dropped).
template <typename T, class V, std::size_t MR, std::size_t NV>
void Sweep(std::size_t rows, std::size_t cols, std::size_t kc, const T* packed_a, const T* packed_b,
           T* c, std::size_t ldc, bool first) {
  constexpr std::size_t NR = NV * V::kWidth;
  for (std::size_t j0 = 0; j0 < cols; j0 += NR) {
    const T* pb = packed_b + j0 * kc;  // panel j0 / NR
    const std::size_t nc = cols - j0 < NR ? cols - j0 : NR;
    for (std::size_t i0 = 0; i0 < rows; i0 += MR) {
      const T* pa = packed_a + i0 * kc;  // panel i0 / MR
      const std::size_t mc = rows - i0 < MR ? rows - i0 : MR;
      T* tile = c + i0 * ldc + j0;
      if (mc == MR && nc == NR) {
        Tile<T, V, MR, NV>(kc, pa, pb, tile, ldc, first);
        continue;
      }
      alignas(64) T edge[MR * NR];
      for (std::size_t r = 0; r < MR; ++r) {
        for (std::size_t j = 0; j < NR; ++j) {
          edge[r * NR + j] = (!first && r < mc && j < nc) ? tile[r * ldc + j] : T(0);
        }
      }
      Tile<T, V, MR, NV>(kc, pa, pb, edge, NR, first);
      for (std::size_t r = 0; r < mc; ++r) {
        for (std::size_t j = 0; j < nc; ++j) tile[r * ldc + j] = edge[r * NR + j];
      }
    }
  }
}

// The kernels of each instruction set (gemm_<isa>.cc; only those the target
// architecture has are built).
MicroKernel<float> Avx2Kernel();
MicroKernel<float> Avx512Kernel();
MicroKernel<float> NeonKernel();

}  // namespace lockstep::trainer::gemm_internal

#endif  // LOCKSTEP_TRAINER_GEMM_KERNEL_H_
