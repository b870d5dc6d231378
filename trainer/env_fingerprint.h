// The environment fingerprint: what a run was built with and ran on (compiler
// and flags, BLAS, MPI, CPU, OS). It goes into the record stream header and
// golden files, so that when two runs differ the gate can say "and also the
// environment changed: openblas 0.3.21 -> 0.3.26".
//
// Every field is a plain string or int, so the fingerprint is one flat JSON
// object; DiffEnv compares two such objects key by key.
#ifndef LOCKSTEP_TRAINER_ENV_FINGERPRINT_H_
#define LOCKSTEP_TRAINER_ENV_FINGERPRINT_H_

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace lockstep::trainer {

struct EnvFingerprint {
  std::string compiler;       // "GCC 12.2.0", "Clang 14.0.6"
  std::string compile_flags;  // LOCKSTEP_CXX_FLAGS (set by CMake), else "unknown"
  std::string build_type;     // LOCKSTEP_BUILD_TYPE (set by CMake), else "unknown"
  std::string portable_isa;   // the portable product's code path (trainer/gemm.h): "avx2"
  std::string blas;           // "OpenBLAS 0.3.21 (NO_LAPACKE DYNAMIC_ARCH ... MAX_THREADS=64)"
  std::string blas_core;      // the kernel set OpenBLAS picked at run time: "SkylakeX", "Haswell"
  std::string blas_advice;    // "" or, when blas_core is a generic fallback on a CPU that
                              // runs a better one: "set OPENBLAS_CORETYPE=Haswell ..."
  int blas_threads = 0;       // OpenBLAS's thread count when the fingerprint was taken
  std::string mpi;            // "Open MPI v4.1.4 (MPI 3.1)"
  std::string cpu_model;      // "Intel(R) Xeon(R) ...", "ARM implementer 0x41 part 0xd0c"
  int cpu_count = 0;          // hardware threads (std::thread::hardware_concurrency)
  std::string os;             // "Linux 6.1.0-18-amd64 x86_64 (Debian GNU/Linux 12 (bookworm))"
  std::string libc;           // "glibc 2.36", else "unknown"
  int world_size = 1;         // MPI ranks of the run: filled by the caller
  int threads = 1;            // trainer threads per rank: filled by the caller

  bool operator==(const EnvFingerprint&) const = default;
};

// The JSON keys, in field order (the order ToText prints them and DiffEnv
// reports them).
inline constexpr std::array<std::string_view, 15> kEnvKeys = {
    "compiler",    "compile_flags", "build_type", "portable_isa", "blas",      "blas_core",
    "blas_advice", "blas_threads",  "mpi",        "cpu_model",    "cpu_count", "os",
    "libc",        "world_size",    "threads"};

// Reads this process's environment. Never fails: what cannot be found is
// "unknown". Safe before MPI_Init (it uses only MPI_Get_version and
// MPI_Get_library_version, which MPI allows before MPI_Init). blas_threads is
// OpenBLAS's setting at the time of the call, so take the fingerprint after
// the trainer has set its thread count. world_size and threads are left at 1.
EnvFingerprint CollectEnvFingerprint();

// A flat JSON object whose keys are kEnvKeys (strings and ints).
nlohmann::json ToJson(const EnvFingerprint& env);

// The inverse of ToJson, for reading a record header or golden back. Keys that
// are absent keep their defaults (older files may lack newer keys) and unknown
// keys are ignored; a key with the wrong type, or a non-object, is BadInput
// naming the key.
Result<EnvFingerprint> EnvFingerprintFromJson(const nlohmann::json& json);

// For people: one "key  value" line per field, values aligned in a column.
std::string ToText(const EnvFingerprint& env);

// The keys whose values differ between two fingerprint objects, one
// "key: a -> b" line each (strings unquoted, "(missing)" for an absent key),
// known keys first in kEnvKeys order, then any other keys alphabetically.
// Identical inputs give an empty vector. A null input counts as an empty
// object; any other non-object is compared as a whole ("fingerprint: a -> b").
std::vector<std::string> DiffEnv(const nlohmann::json& a, const nlohmann::json& b);

// The parsers behind CollectEnvFingerprint, exposed for tests.
namespace env_internal {

// "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH" -> "OpenBLAS 0.3.21 (NO_LAPACKE DYNAMIC_ARCH)".
std::string FormatBlasConfig(std::string_view config);

// The advice for blas_advice: "" unless `core` is one of OpenBLAS's generic
// fallbacks (Prescott, Core2, Generic, ...) and the CPU's features run a
// better kernel set, which it names with the variable to set.
struct CpuFeatures {
  bool avx = false, avx2 = false, fma = false, avx512 = false;  // avx512: F, BW, DQ, VL
};
std::string BlasAdvice(std::string_view core, const CpuFeatures& cpu);

// "Open MPI v4.1.4, package: Debian OpenMPI, ..." + 3.1 -> "Open MPI v4.1.4 (MPI 3.1)".
// Keeps the first line up to its first comma, whitespace collapsed.
std::string FormatMpiVersion(std::string_view library_version, int major, int minor);

// The CPU model from the text of /proc/cpuinfo: "model name" (x86), else
// "CPU implementer"/"CPU part" (ARM), else "Hardware", else "unknown".
std::string ParseCpuModel(std::string_view cpuinfo);

// PRETTY_NAME from the text of /etc/os-release, unquoted; "" if absent.
std::string ParseOsReleasePrettyName(std::string_view os_release);

}  // namespace env_internal

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_ENV_FINGERPRINT_H_
