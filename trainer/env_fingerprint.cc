#include "trainer/env_fingerprint.h"

#include <sys/utsname.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

#include "core/text.h"
#include "trainer/gemm.h"

// OpenBLAS's openblas_config.h declares C99 _Complex typedefs, which Clang's
// -Wpedantic rejects in C++ when the header is not on a -isystem path (CMake's
// imported pkg-config target makes it one; a plain -I does not).
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc99-extensions"
#endif
#include <cblas.h>
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

// Only the C API of MPI is used here; keep mpi.h from pulling in the MPI-2 C++
// bindings (which would need libmpi_cxx). FindMPI sets these too when
// MPI_CXX_SKIP_MPICXX is on.
#if LOCKSTEP_HAVE_MPI
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
#endif

#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

namespace lockstep::trainer {
namespace {

constexpr const char* kUnknown = "unknown";

// Trims and replaces every run of whitespace (tabs, newlines) by one space.
std::string CollapseSpace(std::string_view s) {
  std::string out;
  bool pending_space = false;
  for (char c : Trim(s)) {
    if (IsSpace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  if (!in) return "";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Calls `visit(key, value)` for each "key: value" (or "key=value") line, both
// trimmed, until it returns true.
template <typename Visit>
void ForEachKeyValue(std::string_view text, char separator, Visit visit) {
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    const std::size_t sep = line.find(separator);
    if (sep == std::string_view::npos) continue;
    if (visit(Trim(line.substr(0, sep)), Trim(line.substr(sep + 1)))) return;
  }
}

std::string CompilerName() {
#if defined(__clang__)
  return "Clang " + std::to_string(__clang_major__) + "." + std::to_string(__clang_minor__) + "." +
         std::to_string(__clang_patchlevel__);
#elif defined(__GNUC__)
  return "GCC " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#elif defined(__VERSION__)
  return __VERSION__;
#else
  return kUnknown;
#endif
}

std::string MpiVersion() {
#if !LOCKSTEP_HAVE_MPI
  return "none (built without MPI: a world of one rank)";
#else
  char library[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  int major = 0;
  int minor = 0;
  // Both are among the few MPI calls allowed before MPI_Init.
  if (MPI_Get_library_version(library, &length) != MPI_SUCCESS) length = 0;
  if (MPI_Get_version(&major, &minor) != MPI_SUCCESS) major = minor = 0;
  length = std::clamp(length, 0, MPI_MAX_LIBRARY_VERSION_STRING - 1);
  return env_internal::FormatMpiVersion(std::string_view(library, static_cast<std::size_t>(length)),
                                        major, minor);
#endif
}

std::string OsName() {
  std::string os;
  struct utsname info {};
  if (uname(&info) == 0) {
    os = std::string(info.sysname) + " " + info.release + " " + info.machine;
  }
  std::string pretty = env_internal::ParseOsReleasePrettyName(ReadSmallFile("/etc/os-release"));
  if (pretty.empty()) {
    pretty = env_internal::ParseOsReleasePrettyName(ReadSmallFile("/usr/lib/os-release"));
  }
  if (!pretty.empty()) os += os.empty() ? pretty : " (" + pretty + ")";
  return os.empty() ? kUnknown : os;
}

env_internal::CpuFeatures ThisCpu() {
  env_internal::CpuFeatures cpu;
#if defined(__x86_64__)
  cpu.avx = __builtin_cpu_supports("avx");
  cpu.avx2 = __builtin_cpu_supports("avx2");
  cpu.fma = __builtin_cpu_supports("fma");
  cpu.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
  return cpu;
}

std::string LibcVersion() {
#if defined(__GLIBC__)
  return std::string("glibc ") + gnu_get_libc_version();
#else
  return kUnknown;
#endif
}

// Field access by key, so ToJson, FromJson and ToText share one table.
using StringField = std::string EnvFingerprint::*;
using IntField = int EnvFingerprint::*;
struct FieldRef {
  std::string_view key;
  StringField text = nullptr;  // exactly one of text/number is set
  IntField number = nullptr;
};

const std::array<FieldRef, kEnvKeys.size()>& Fields() {
  static const std::array<FieldRef, kEnvKeys.size()> fields = {{
      {kEnvKeys[0], &EnvFingerprint::compiler, nullptr},
      {kEnvKeys[1], &EnvFingerprint::compile_flags, nullptr},
      {kEnvKeys[2], &EnvFingerprint::build_type, nullptr},
      {kEnvKeys[3], &EnvFingerprint::portable_isa, nullptr},
      {kEnvKeys[4], &EnvFingerprint::blas, nullptr},
      {kEnvKeys[5], &EnvFingerprint::blas_core, nullptr},
      {kEnvKeys[6], &EnvFingerprint::blas_advice, nullptr},
      {kEnvKeys[7], nullptr, &EnvFingerprint::blas_threads},
      {kEnvKeys[8], &EnvFingerprint::mpi, nullptr},
      {kEnvKeys[9], &EnvFingerprint::cpu_model, nullptr},
      {kEnvKeys[10], nullptr, &EnvFingerprint::cpu_count},
      {kEnvKeys[11], &EnvFingerprint::os, nullptr},
      {kEnvKeys[12], &EnvFingerprint::libc, nullptr},
      {kEnvKeys[13], nullptr, &EnvFingerprint::world_size},
      {kEnvKeys[14], nullptr, &EnvFingerprint::threads},
  }};
  return fields;
}

std::string FieldText(const EnvFingerprint& env, const FieldRef& field) {
  return field.text != nullptr ? env.*field.text : std::to_string(env.*field.number);
}

// How DiffEnv shows one value: strings bare, everything else as JSON.
std::string ShowValue(const nlohmann::json* value) {
  if (value == nullptr) return "(missing)";
  if (value->is_string()) {
    const std::string text = value->get<std::string>();
    return text.empty() ? "\"\"" : text;
  }
  return value->dump();
}

}  // namespace

namespace env_internal {

std::string FormatBlasConfig(std::string_view config) {
  const std::string text = CollapseSpace(config);
  if (text.empty()) return "OpenBLAS unknown";
  constexpr std::string_view kName = "OpenBLAS";
  if (text.rfind(kName, 0) != 0) return "OpenBLAS (" + text + ")";
  // "OpenBLAS 0.3.21 OPTIONS..." -> name and version, then the options.
  const std::size_t version_begin = text.find_first_not_of(' ', kName.size());
  if (version_begin == std::string::npos) return std::string(kName);
  const std::size_t version_end = text.find(' ', version_begin);
  std::string out = text.substr(0, version_end);
  if (version_end != std::string::npos) out += " (" + text.substr(version_end + 1) + ")";
  return out;
}

std::string FormatMpiVersion(std::string_view library_version, int major, int minor) {
  std::string_view first_line = library_version.substr(0, library_version.find('\n'));
  std::string name = CollapseSpace(first_line.substr(0, first_line.find(',')));
  if (name.empty()) name = kUnknown;
  if (major > 0) name += " (MPI " + std::to_string(major) + "." + std::to_string(minor) + ")";
  return name;
}

std::string ParseCpuModel(std::string_view cpuinfo) {
  std::map<std::string, std::string, std::less<>> first;  // first value of each key
  ForEachKeyValue(cpuinfo, ':', [&](std::string_view key, std::string_view value) {
    if (!value.empty()) first.emplace(std::string(key), CollapseSpace(value));
    return false;
  });
  const auto get = [&](std::string_view key) -> std::string {
    auto it = first.find(key);
    return it == first.end() ? "" : it->second;
  };
  if (std::string model = get("model name"); !model.empty()) return model;  // x86
  const std::string implementer = get("CPU implementer");                   // ARM
  const std::string part = get("CPU part");
  if (!part.empty()) {
    std::string model = "ARM";
    if (!implementer.empty()) model += " implementer " + implementer;
    model += " part " + part;
    if (std::string hardware = get("Hardware"); !hardware.empty()) model += " (" + hardware + ")";
    return model;
  }
  for (std::string_view key : {"Hardware", "Processor", "cpu", "uarch"}) {
    if (std::string model = get(key); !model.empty()) return model;
  }
  return kUnknown;
}

std::string BlasAdvice(std::string_view core, const CpuFeatures& cpu) {
  // OpenBLAS's kernel sets that use no more than SSE3: what it falls back to
  // when it does not recognise a CPU.
  static constexpr std::string_view kFallbacks[] = {"Prescott", "Core2",      "Generic",
                                                    "Katmai",   "Coppermine", "Northwood",
                                                    "Banias",   "Atom",       "Nano"};
  const bool fallback =
      std::find_if(std::begin(kFallbacks), std::end(kFallbacks), [&](std::string_view name) {
        return ToLower(name) == ToLower(core);
      }) != std::end(kFallbacks);
  if (!fallback) return "";
  std::string better;
  if (cpu.avx512) {
    better = "SkylakeX";
  } else if (cpu.avx2 && cpu.fma) {
    better = "Haswell";
  } else if (cpu.avx) {
    better = "SandyBridge";
  } else {
    return "";
  }
  return "OpenBLAS runs its generic " + std::string(core) + " kernels on a CPU that runs " +
         better + "'s: set OPENBLAS_CORETYPE=" + better +
         " for its fast ones (the openblas profile's bits depend on the kernel set: re-record "
         "openblas goldens after changing it)";
}

std::string ParseOsReleasePrettyName(std::string_view os_release) {
  std::string pretty;
  ForEachKeyValue(os_release, '=', [&](std::string_view key, std::string_view value) {
    if (key != "PRETTY_NAME") return false;
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    pretty = CollapseSpace(value);
    return true;
  });
  return pretty;
}

}  // namespace env_internal

EnvFingerprint CollectEnvFingerprint() {
  EnvFingerprint env;
  env.compiler = CompilerName();
#if defined(LOCKSTEP_CXX_FLAGS)
  env.compile_flags = CollapseSpace(LOCKSTEP_CXX_FLAGS);
  if (env.compile_flags.empty()) env.compile_flags = "(none)";
#else
  env.compile_flags = kUnknown;
#endif
#if defined(LOCKSTEP_BUILD_TYPE)
  env.build_type = LOCKSTEP_BUILD_TYPE;
  if (env.build_type.empty()) env.build_type = kUnknown;
#else
  env.build_type = kUnknown;
#endif
  Result<Isa> isa = PortableIsa();
  env.portable_isa = isa.ok() ? IsaName(*isa) : kUnknown;
  const char* config = openblas_get_config();
  env.blas = env_internal::FormatBlasConfig(config != nullptr ? config : "");
  const char* core = openblas_get_corename();
  env.blas_core = core != nullptr && *core != '\0' ? CollapseSpace(core) : kUnknown;
  env.blas_advice = env_internal::BlasAdvice(env.blas_core, ThisCpu());
  env.blas_threads = openblas_get_num_threads();
  env.mpi = MpiVersion();
  env.cpu_model = env_internal::ParseCpuModel(ReadSmallFile("/proc/cpuinfo"));
  env.cpu_count = static_cast<int>(std::thread::hardware_concurrency());
  env.os = OsName();
  env.libc = LibcVersion();
  return env;
}

nlohmann::json ToJson(const EnvFingerprint& env) {
  nlohmann::json json = nlohmann::json::object();
  for (const FieldRef& field : Fields()) {
    const std::string key(field.key);
    if (field.text != nullptr) {
      json[key] = env.*field.text;
    } else {
      json[key] = env.*field.number;
    }
  }
  return json;
}

Result<EnvFingerprint> EnvFingerprintFromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return Status::BadInput("environment fingerprint: expected a JSON object, got " +
                            std::string(json.type_name()));
  }
  EnvFingerprint env;
  for (const FieldRef& field : Fields()) {
    auto it = json.find(std::string(field.key));
    if (it == json.end()) continue;
    if (field.text != nullptr) {
      if (!it->is_string()) {
        return Status::BadInput("environment fingerprint: key \"" + std::string(field.key) +
                                "\" must be a string, got " + it->dump());
      }
      env.*field.text = it->get<std::string>();
    } else {
      if (!it->is_number_integer()) {
        return Status::BadInput("environment fingerprint: key \"" + std::string(field.key) +
                                "\" must be an integer, got " + it->dump());
      }
      env.*field.number = it->get<int>();
    }
  }
  return env;
}

std::string ToText(const EnvFingerprint& env) {
  std::size_t width = 0;
  for (std::string_view key : kEnvKeys) width = std::max(width, key.size());
  std::string out;
  for (const FieldRef& field : Fields()) {
    out += field.key;
    out.append(width - field.key.size() + 2, ' ');
    const std::string text = FieldText(env, field);
    out += text.empty() ? "(none)" : text;
    out += '\n';
  }
  return out;
}

std::vector<std::string> DiffEnv(const nlohmann::json& a, const nlohmann::json& b) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json& left = a.is_null() ? kEmpty : a;
  const nlohmann::json& right = b.is_null() ? kEmpty : b;
  std::vector<std::string> lines;
  if (!left.is_object() || !right.is_object()) {
    if (left != right) lines.push_back("fingerprint: " + left.dump() + " -> " + right.dump());
    return lines;
  }
  // Known keys in field order, then the rest of the union alphabetically
  // (nlohmann::json objects iterate in key order).
  std::vector<std::string> keys(kEnvKeys.begin(), kEnvKeys.end());
  const auto known = [](const std::string& key) {
    return std::find(kEnvKeys.begin(), kEnvKeys.end(), key) != kEnvKeys.end();
  };
  std::vector<std::string> extra;
  for (const nlohmann::json* side : {&left, &right}) {
    for (auto it = side->begin(); it != side->end(); ++it) {
      if (!known(it.key())) extra.push_back(it.key());
    }
  }
  std::sort(extra.begin(), extra.end());
  extra.erase(std::unique(extra.begin(), extra.end()), extra.end());
  keys.insert(keys.end(), extra.begin(), extra.end());

  for (const std::string& key : keys) {
    auto in_left = left.find(key);
    auto in_right = right.find(key);
    const nlohmann::json* l = in_left == left.end() ? nullptr : &*in_left;
    const nlohmann::json* r = in_right == right.end() ? nullptr : &*in_right;
    if (l == nullptr && r == nullptr) continue;
    if (l != nullptr && r != nullptr && *l == *r) continue;
    lines.push_back(key + ": " + ShowValue(l) + " -> " + ShowValue(r));
  }
  return lines;
}

}  // namespace lockstep::trainer
