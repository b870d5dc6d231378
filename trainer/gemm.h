// The portable profile's matrix product, defined by fused multiply-add:
//
//   C[i,j] = c_K, where c_0 = +0 and c_{k+1} = fma(A(i,k), B(k,j), c_k)
//   for k = 0, 1, ..., K-1 in that order
//
// (IEEE 754 fusedMultiplyAdd: the exact a*b + c, rounded once). Nothing else
// enters an output's bits: not the blocking over K (a block continues each
// output's chain from where the previous one left it in C), the packing, the
// register tiling, the vector width or the thread split. FMA is the same
// operation in every instruction set that has it and in std::fma, so every
// code path below gives the same bits on every CPU and compiler.
//
// A(i,k) = a[i * a.row + k * a.col] and B(k,j) = b[k * b.row + j * b.col]:
// the strides express the transposes (NN, NT, TN) without copies beyond the
// packing every product does anyway. C is row-major with n columns and is
// overwritten.
#ifndef LOCKSTEP_TRAINER_GEMM_H_
#define LOCKSTEP_TRAINER_GEMM_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "trainer/memory.h"
#include "trainer/thread_pool.h"

namespace lockstep::trainer {

// The code paths of the float product. Each is a register-tiled micro-kernel
// built for one instruction set; which ones exist depends on the target
// architecture, which one may run on the CPU.
enum class Isa { kScalar, kAvx2, kAvx512, kNeon };

const char* IsaName(Isa isa);  // "scalar", "avx2", "avx512", "neon"

// The paths this build has and this CPU can run, scalar first.
std::vector<Isa> RunnableIsas();

// The widest of RunnableIsas().
Isa WidestIsa();

// The path the portable profile uses: LOCKSTEP_PORTABLE_ISA when set (one of
// the names above), else the widest runnable one. A name this build lacks or
// this CPU cannot run is BadInput naming the runnable ones. Read once per
// call; the trainer calls it once per run.
Result<Isa> PortableIsa();

struct Strides {
  std::size_t row, col;
};

// The workspace Gemm needs, in elements: packed A and B for one K block, each
// rounded up to a tile multiple of every code path, so that the tracked peak
// memory (a recorded field) is the same whichever path runs.
std::size_t GemmWorkspaceSize(std::size_t m, std::size_t k, std::size_t n);

// C[m,n] = A[m,k] . B[k,n] in the order above, on `isa` (must be runnable;
// for double only kScalar, which the gradient checks use). Threads split C
// into rectangles (blocks of rows by groups of column panels) when the product
// is large enough to gain from it. `workspace` holds the packed panels; it
// grows to the largest product and is reused.
template <typename T>
void Gemm(Isa isa, ThreadPool& pool, TrackedBuffer<T>& workspace, MemoryTracker& tracker,
          const T* a, Strides a_strides, const T* b, Strides b_strides, T* c, std::size_t m,
          std::size_t k, std::size_t n);

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_GEMM_H_
