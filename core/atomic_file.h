// AtomicFile: write a file so that readers see either the old contents or the
// complete new contents, never a half-written file. Bytes go to a temporary
// file beside the target; Commit() fsyncs it, renames it over the target and
// fsyncs the directory. A file that is never committed is removed.
#ifndef LOCKSTEP_CORE_ATOMIC_FILE_H_
#define LOCKSTEP_CORE_ATOMIC_FILE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace lockstep {

class AtomicFile {
 public:
  // Creates the temporary file `<path>.tmp.<pid>`; parent directories are
  // created as needed.
  static Result<AtomicFile> Create(const std::string& path);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temporary file unless committed

  Status Append(const void* data, std::size_t size);
  Status Append(std::string_view text) { return Append(text.data(), text.size()); }
  Status Commit();

  const std::string& path() const { return path_; }

 private:
  AtomicFile(std::string path, std::string temp_path, int fd)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd) {}
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `contents` to `path` atomically (AtomicFile in one call).
Status WriteFileAtomically(const std::string& path, std::string_view contents);

// Reads a whole file; a missing file is BadInput naming the path.
Result<std::string> ReadFile(const std::string& path);

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_ATOMIC_FILE_H_
