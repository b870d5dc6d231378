// Helpers for tests only.
#ifndef LOCKSTEP_CORE_TEST_UTIL_H_
#define LOCKSTEP_CORE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace lockstep::testing {

// A fresh, empty directory unique to the running test (and process), so tests
// can run in parallel under ctest.
inline std::filesystem::path FreshTempDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("lockstep_") + info->test_suite_name() + "_" + info->name() + "_" +
                     std::to_string(::getpid());
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  auto dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// True when `haystack` contains `needle`; for readable message assertions.
inline ::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << needle << "\" not found in:\n" << haystack;
}

}  // namespace lockstep::testing

#endif  // LOCKSTEP_CORE_TEST_UTIL_H_
