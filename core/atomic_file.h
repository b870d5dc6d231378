// AtomicFile: write a file so that readers see either the old contents or the
// complete new contents, never a half-written file. Bytes go to a temporary
// file beside the target; Commit() fsyncs it, renames it over the target and
// fsyncs the directory. A file that is never committed is removed.
#ifndef LOCKSTEP_CORE_ATOMIC_FILE_H_
#define LOCKSTEP_CORE_ATOMIC_FILE_H_

#include <cstddef>
#include <cstdint>
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

// Inputs are read only from regular files of a sane size: a directory, a
// FIFO (which would block), a device such as /dev/zero (which never ends) or
// a file over the limit is BadInput naming the path, what it is and the limit.
inline constexpr std::uint64_t kMaxTextFileBytes = std::uint64_t{64}
                                                   << 20;  // configs, goldens, cases

// Opens `path` read-only if it is a regular file of at most `max_bytes`
// (O_NONBLOCK, so that a FIFO is refused instead of waited on). Returns the
// descriptor, which the caller closes; `*size` gets the file's size.
Result<int> OpenRegularFile(const std::string& path, std::uint64_t max_bytes, std::uint64_t* size);

// Reads a whole regular file of at most `max_bytes`; a missing file, a
// non-regular file or a larger one is BadInput naming the path.
Result<std::string> ReadFile(const std::string& path, std::uint64_t max_bytes = kMaxTextFileBytes);

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_ATOMIC_FILE_H_
