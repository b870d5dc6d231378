#include "trainer/env_fingerprint.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/test_util.h"
#include "trainer/gemm.h"

namespace lockstep::trainer {
namespace {

using ::lockstep::testing::Contains;

// A fingerprint with every field distinct from its default and from the others.
EnvFingerprint Sample() {
  EnvFingerprint env;
  env.compiler = "GCC 12.2.0";
  env.compile_flags = "-O2 -ffp-contract=off";
  env.build_type = "Release";
  env.portable_isa = "avx2";
  env.blas = "OpenBLAS 0.3.21 (DYNAMIC_ARCH)";
  env.blas_core = "Prescott";
  env.blas_advice = "set OPENBLAS_CORETYPE=Haswell";
  env.blas_threads = 4;
  env.mpi = "Open MPI v4.1.4 (MPI 3.1)";
  env.cpu_model = "Some CPU";
  env.cpu_count = 8;
  env.os = "Linux 6.1.0 x86_64";
  env.libc = "glibc 2.36";
  env.world_size = 2;
  env.threads = 3;
  return env;
}

TEST(EnvFingerprintTest, CollectsThisMachine) {
  const EnvFingerprint env = CollectEnvFingerprint();
#if defined(__clang__)
  const std::string major = std::to_string(__clang_major__);
  EXPECT_TRUE(Contains(env.compiler, "Clang"));
#else
  const std::string major = std::to_string(__GNUC__);
  EXPECT_TRUE(Contains(env.compiler, "GCC"));
#endif
  EXPECT_TRUE(Contains(env.compiler, " " + major + "."));
  EXPECT_TRUE(Contains(env.blas, "OpenBLAS"));
  EXPECT_NE(env.blas, "OpenBLAS unknown");
  EXPECT_FALSE(env.blas_core.empty());
  EXPECT_NE(env.blas_core, "unknown");
  EXPECT_GE(env.blas_threads, 1);
  EXPECT_FALSE(env.mpi.empty());
  EXPECT_NE(env.mpi.rfind("unknown", 0), 0u) << env.mpi;
  EXPECT_TRUE(Contains(env.mpi, "(MPI "));
  EXPECT_GE(env.cpu_count, 1);
  EXPECT_TRUE(Contains(env.os, "Linux"));
  EXPECT_FALSE(env.compile_flags.empty());
  EXPECT_FALSE(env.build_type.empty());
  EXPECT_EQ(env.portable_isa, IsaName(WidestIsa()));
#if defined(__GLIBC__)
  EXPECT_TRUE(Contains(env.libc, "glibc " + std::to_string(__GLIBC__) + "."));
#endif
  // The CPU model must be found wherever /proc/cpuinfo names one.
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  bool has_model = false;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0 || line.rfind("CPU part", 0) == 0) has_model = true;
  }
  if (has_model) {
    EXPECT_NE(env.cpu_model, "unknown");
  }
  EXPECT_FALSE(env.cpu_model.empty());
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.threads, 1);
}

TEST(EnvFingerprintTest, JsonHasEveryKeyAndRoundTrips) {
  const EnvFingerprint env = Sample();
  const nlohmann::json json = ToJson(env);
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json.size(), kEnvKeys.size());
  for (std::string_view key : kEnvKeys) EXPECT_TRUE(json.contains(std::string(key))) << key;
  EXPECT_EQ(json["blas_threads"], 4);
  EXPECT_EQ(json["compiler"], "GCC 12.2.0");

  Result<EnvFingerprint> back = EnvFingerprintFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, env);
  // And through text, as a record header stores it.
  Result<EnvFingerprint> reparsed = EnvFingerprintFromJson(nlohmann::json::parse(json.dump()));
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().message();
  EXPECT_EQ(*reparsed, env);

  const EnvFingerprint collected = CollectEnvFingerprint();
  Result<EnvFingerprint> collected_back = EnvFingerprintFromJson(ToJson(collected));
  ASSERT_TRUE(collected_back.ok());
  EXPECT_EQ(*collected_back, collected);
}

TEST(EnvFingerprintTest, FromJsonRejectsWrongTypesAndKeepsDefaultsForMissingKeys) {
  nlohmann::json json = ToJson(Sample());
  json["cpu_count"] = "eight";
  Result<EnvFingerprint> bad = EnvFingerprintFromJson(json);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kBadInput);
  EXPECT_TRUE(Contains(bad.status().message(), "cpu_count"));

  json = ToJson(Sample());
  json["mpi"] = 3;
  EXPECT_FALSE(EnvFingerprintFromJson(json).ok());
  EXPECT_FALSE(EnvFingerprintFromJson(nlohmann::json::array()).ok());

  Result<EnvFingerprint> partial = EnvFingerprintFromJson({{"compiler", "Clang 14.0.6"}});
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->compiler, "Clang 14.0.6");
  EXPECT_EQ(partial->world_size, 1);
  EXPECT_EQ(partial->mpi, "");
}

TEST(EnvFingerprintTest, DiffIsEmptyForIdenticalInputs) {
  EXPECT_TRUE(DiffEnv(ToJson(Sample()), ToJson(Sample())).empty());
  const nlohmann::json here = ToJson(CollectEnvFingerprint());
  EXPECT_TRUE(DiffEnv(here, here).empty());
  EXPECT_TRUE(DiffEnv(nlohmann::json(), nlohmann::json::object()).empty());
}

TEST(EnvFingerprintTest, DiffReportsExactlyTheChangedKeys) {
  EnvFingerprint a = Sample();
  EnvFingerprint b = Sample();
  b.blas = "OpenBLAS 0.3.26 (DYNAMIC_ARCH)";
  b.world_size = 4;
  const std::vector<std::string> diff = DiffEnv(ToJson(a), ToJson(b));
  const std::vector<std::string> expected = {
      "blas: OpenBLAS 0.3.21 (DYNAMIC_ARCH) -> OpenBLAS 0.3.26 (DYNAMIC_ARCH)",
      "world_size: 2 -> 4",
  };
  EXPECT_EQ(diff, expected);

  // Each key alone is reported, and only it.
  for (std::string_view key : kEnvKeys) {
    nlohmann::json changed = ToJson(a);
    const std::string k(key);
    if (changed[k].is_string()) {
      changed[k] = changed[k].get<std::string>() + "x";
    } else {
      changed[k] = changed[k].get<int>() + 1;
    }
    const std::vector<std::string> one = DiffEnv(ToJson(a), changed);
    ASSERT_EQ(one.size(), 1u) << key;
    EXPECT_EQ(one[0].rfind(k + ": ", 0), 0u) << one[0];
  }
}

TEST(EnvFingerprintTest, DiffReportsMissingAndExtraKeys) {
  nlohmann::json a = ToJson(Sample());
  nlohmann::json b = a;
  b.erase("libc");
  b["gpu"] = "none";
  const std::vector<std::string> expected = {"libc: glibc 2.36 -> (missing)",
                                             "gpu: (missing) -> none"};
  EXPECT_EQ(DiffEnv(a, b), expected);
  EXPECT_EQ(DiffEnv(nlohmann::json(), nlohmann::json{{"threads", 2}}),
            std::vector<std::string>{"threads: (missing) -> 2"});
  EXPECT_EQ(DiffEnv(nlohmann::json(7), nlohmann::json(8)),
            std::vector<std::string>{"fingerprint: 7 -> 8"});
}

TEST(EnvFingerprintTest, TextHasEveryKeyWithAlignedValues) {
  const std::string text = ToText(Sample());
  std::size_t lines = 0;
  std::size_t value_column = std::string::npos;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    ASSERT_LT(lines, kEnvKeys.size()) << text;
    const std::string key(kEnvKeys[lines]);
    EXPECT_EQ(line.rfind(key + "  ", 0), 0u) << line;
    const std::size_t column = line.find_first_not_of(' ', key.size());
    if (value_column == std::string::npos) value_column = column;
    EXPECT_EQ(column, value_column) << line;
    ++lines;
  }
  EXPECT_EQ(lines, kEnvKeys.size());
  EXPECT_TRUE(Contains(text, "Open MPI v4.1.4 (MPI 3.1)"));
  EXPECT_TRUE(Contains(text, "blas_threads   4\n"));
  for (std::string_view key : kEnvKeys) EXPECT_TRUE(Contains(text, std::string(key) + " "));
}

TEST(EnvInternalTest, FormatsBlasConfig) {
  EXPECT_EQ(env_internal::FormatBlasConfig(
                "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64"),
            "OpenBLAS 0.3.21 (NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64)");
  EXPECT_EQ(env_internal::FormatBlasConfig("OpenBLAS 0.3.26 "), "OpenBLAS 0.3.26");
  EXPECT_EQ(env_internal::FormatBlasConfig(""), "OpenBLAS unknown");
  EXPECT_EQ(env_internal::FormatBlasConfig("weird"), "OpenBLAS (weird)");
}

TEST(EnvInternalTest, FormatsMpiVersion) {
  EXPECT_EQ(env_internal::FormatMpiVersion(
                "Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4", 3, 1),
            "Open MPI v4.1.4 (MPI 3.1)");
  EXPECT_EQ(env_internal::FormatMpiVersion("MPICH Version:\t4.0.2\nMPICH Release date: x\n", 4, 0),
            "MPICH Version: 4.0.2 (MPI 4.0)");
  EXPECT_EQ(env_internal::FormatMpiVersion("", 0, 0), "unknown");
}

TEST(EnvInternalTest, ParsesCpuModel) {
  EXPECT_EQ(env_internal::ParseCpuModel("processor\t: 0\nvendor_id\t: GenuineIntel\n"
                                        "model name\t: Intel(R) Xeon(R)  CPU @ 2.20GHz\n"
                                        "processor\t: 1\nmodel name\t: Other\n"),
            "Intel(R) Xeon(R) CPU @ 2.20GHz");
  EXPECT_EQ(env_internal::ParseCpuModel("processor\t: 0\nBogoMIPS\t: 50.00\n"
                                        "CPU implementer\t: 0x41\nCPU part\t: 0xd0c\n"),
            "ARM implementer 0x41 part 0xd0c");
  EXPECT_EQ(env_internal::ParseCpuModel("processor : 0\nHardware : BCM2835\n"), "BCM2835");
  EXPECT_EQ(env_internal::ParseCpuModel(""), "unknown");
  EXPECT_EQ(env_internal::ParseCpuModel("model name\t:\n"), "unknown");
}

TEST(EnvInternalTest, BlasAdviceNamesTheBetterCoreOnlyForAFallback) {
  env_internal::CpuFeatures avx512{true, true, true, true}, avx2{true, true, true, false},
      avx{true, false, false, false}, sse{};
  EXPECT_TRUE(Contains(env_internal::BlasAdvice("Prescott", avx512), "OPENBLAS_CORETYPE=SkylakeX"));
  EXPECT_TRUE(Contains(env_internal::BlasAdvice("Core2", avx2), "OPENBLAS_CORETYPE=Haswell"));
  EXPECT_TRUE(Contains(env_internal::BlasAdvice("GENERIC", avx), "OPENBLAS_CORETYPE=SandyBridge"));
  EXPECT_TRUE(Contains(env_internal::BlasAdvice("Prescott", avx2), "Prescott"));
  EXPECT_EQ(env_internal::BlasAdvice("Prescott", sse), "");    // nothing better to run
  EXPECT_EQ(env_internal::BlasAdvice("Haswell", avx512), "");  // not a fallback
  EXPECT_EQ(env_internal::BlasAdvice("Zen", avx2), "");
  EXPECT_EQ(env_internal::BlasAdvice("SkylakeX", avx512), "");
}

TEST(EnvInternalTest, ParsesOsReleasePrettyName) {
  EXPECT_EQ(env_internal::ParseOsReleasePrettyName(
                "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(env_internal::ParseOsReleasePrettyName("PRETTY_NAME=Alpine\n"), "Alpine");
  EXPECT_EQ(env_internal::ParseOsReleasePrettyName("NAME=x\n"), "");
}

}  // namespace
}  // namespace lockstep::trainer
