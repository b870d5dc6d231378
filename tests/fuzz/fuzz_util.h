// Helpers shared by the fuzz targets: the input as text, a second input split
// off it, and a per-process scratch directory for parsers that take a path.
#ifndef LOCKSTEP_TESTS_FUZZ_FUZZ_UTIL_H_
#define LOCKSTEP_TESTS_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

namespace lockstep::fuzz {

inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `text` at the first `separator`: (before, after); after is empty
// when there is none.
inline std::pair<std::string_view, std::string_view> SplitOnce(std::string_view text,
                                                               std::string_view separator) {
  const std::size_t at = text.find(separator);
  if (at == std::string_view::npos) return {text, {}};
  return {text.substr(0, at), text.substr(at + separator.size())};
}

// Aborts (a finding) with a message: for properties a target checks itself.
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "FUZZ PROPERTY VIOLATED: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// /tmp/lockstep-fuzz-<name>-<pid>, created on first use and removed at a
// normal exit. Every file a target writes is inside it.
inline const std::filesystem::path& ScratchDir(const char* name) {
  static const std::filesystem::path dir = [name] {
    std::filesystem::path d =
        std::filesystem::temp_directory_path() /
        ("lockstep-fuzz-" + std::string(name) + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
  }();
  static const bool cleanup = [] {
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    return true;
  }();
  (void)cleanup;
  return dir;
}

// Replaces `path` with exactly `bytes`; aborts when the write fails (that is
// the harness's problem, not the parser's).
inline void WriteBytes(const std::filesystem::path& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) Fail("cannot open " + path.string() + " for writing");
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    std::fclose(f);
    Fail("cannot write " + path.string());
  }
  if (std::fclose(f) != 0) Fail("cannot close " + path.string());
}

}  // namespace lockstep::fuzz

#endif  // LOCKSTEP_TESTS_FUZZ_FUZZ_UTIL_H_
