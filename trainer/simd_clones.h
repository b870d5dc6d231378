// LOCKSTEP_SIMD_CLONES: compile a float loop for several instruction sets and
// pick one at run time. The clones differ in how many elements advance per
// instruction, never in the operations of one element: the build uses
// -ffp-contract=off (no FMA contraction) and no -ffast-math (a float
// reduction is never reassociated into vector lanes). So the clones give the
// same bits; the tests beside each loop compare the running clone with scalar
// code.
//
// On x86-64: AVX-512, AVX2 and the baseline. Elsewhere one build, since the
// baseline has the vectors (AArch64's NEON) and `target_clones` takes x86
// names only.
#ifndef LOCKSTEP_TRAINER_SIMD_CLONES_H_
#define LOCKSTEP_TRAINER_SIMD_CLONES_H_

#if defined(__x86_64__)
#define LOCKSTEP_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LOCKSTEP_SIMD_CLONES
#endif

#endif  // LOCKSTEP_TRAINER_SIMD_CLONES_H_
