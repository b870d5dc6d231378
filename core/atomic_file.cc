#include "core/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lockstep {
namespace {

std::string ErrnoText() {
  return std::strerror(errno);
}

Status SyncDirectoryOf(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Status::BadInput(dir.string() + ": cannot open directory: " + ErrnoText());
  ::fsync(fd);  // best effort: some file systems refuse fsync on directories
  ::close(fd);
  return Status::Ok();
}

}  // namespace

Result<AtomicFile> AtomicFile::Create(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Status::BadInput(parent.string() + ": cannot create directory: " + ec.message());
    }
  }
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::BadInput(temp + ": cannot create: " + ErrnoText() +
                            " (check that the directory is writable)");
  }
  return AtomicFile(path, temp, fd);
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(other.fd_),
      committed_(other.committed_) {
  other.fd_ = -1;
  other.committed_ = true;  // the moved-from object owns nothing to clean up
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

Status AtomicFile::Append(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::BadInput(temp_path_ + ": write failed: " + ErrnoText());
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status AtomicFile::Commit() {
  if (::fsync(fd_) != 0) return Status::BadInput(temp_path_ + ": fsync failed: " + ErrnoText());
  ::close(fd_);
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return Status::BadInput(path_ + ": rename from temporary file failed: " + ErrnoText());
  }
  committed_ = true;
  return SyncDirectoryOf(path_);
}

Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  Result<AtomicFile> file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  LOCKSTEP_RETURN_IF_ERROR(file->Append(contents));
  return file->Commit();
}

Result<int> OpenRegularFile(const std::string& path, std::uint64_t max_bytes, std::uint64_t* size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::BadInput(path + ": cannot open: " + ErrnoText());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = ErrnoText();
    ::close(fd);
    return Status::BadInput(path + ": cannot stat: " + why);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    const char* what = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    return Status::BadInput(
        fmt::format("{}: is {}, not a regular file; pass the path of a file", path, what));
  }
  const auto bytes = static_cast<std::uint64_t>(st.st_size);
  if (bytes > max_bytes) {
    ::close(fd);
    return Status::BadInput(
        fmt::format("{}: {} bytes, over the limit of {} bytes for this kind of file; "
                    "is it the right file?",
                    path, bytes, max_bytes));
  }
  // Regular files never block; reads go on as usual.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  *size = bytes;
  return fd;
}

Result<std::string> ReadFile(const std::string& path, std::uint64_t max_bytes) {
  std::uint64_t size = 0;
  Result<int> fd = OpenRegularFile(path, max_bytes, &size);
  if (!fd.ok()) return fd.status();
  std::string out(size, '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(*fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? ErrnoText() : "the file shrank while it was read";
      ::close(*fd);
      return Status::BadInput(path + ": read failed: " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(*fd);
  return out;
}

}  // namespace lockstep
