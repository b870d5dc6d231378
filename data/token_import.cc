#include "data/token_import.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

namespace lockstep::data {
namespace {

static_assert(std::endian::native == std::endian::little,
              "token import reads little-endian files by memcpy; port it for big-endian hosts");

using Bytes = std::span<const std::byte>;

constexpr std::int32_t kLlmcMagic = 20240520;
constexpr std::int32_t kLlmcLlama3Magic = 20240801;  // llm.c's uint32 "llama-3" files
constexpr std::int32_t kLlmcVersion = 1;
constexpr std::size_t kLlmcHeaderBytes = 256 * sizeof(std::int32_t);

constexpr std::string_view kMegatronMagic("MMIDIDX\0\0", 9);
constexpr std::uint64_t kMegatronVersion = 1;
constexpr std::size_t kMegatronHeaderBytes = 9 + 8 + 1 + 8 + 8;
constexpr std::uint64_t kMaxToken = std::numeric_limits<std::uint32_t>::max();

std::string Str(std::uint64_t n) {
  return std::to_string(n);
}
std::string Str(std::int64_t n) {
  return std::to_string(n);
}

Status Bad(const std::string& path, const std::string& what) {
  return Status::BadInput(path + ": " + what);
}

// Reads a T stored little-endian at `offset`; the caller has checked bounds.
template <typename T>
T LoadAt(Bytes bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// A whole file mapped read-only. An empty file maps to an empty span.
class MappedFile {
 public:
  // `missing_hint` follows "no such file: " when the file does not exist.
  static Result<MappedFile> Open(const std::string& path, const std::string& missing_hint);

  MappedFile(MappedFile&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }

  Bytes bytes() const { return Bytes(static_cast<const std::byte*>(data_), size_); }

 private:
  MappedFile(void* data, std::size_t size) : data_(data), size_(size) {}
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

Result<MappedFile> MappedFile::Open(const std::string& path, const std::string& missing_hint) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Bad(path, "no such file: " + missing_hint);
    return Bad(path, std::string("cannot open: ") + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return Bad(path, "is not a regular file: pass the path of a token file");
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size == 0) {
    ::close(fd);
    return MappedFile(nullptr, 0);
  }
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (data == MAP_FAILED) return Bad(path, std::string("cannot map: ") + std::strerror(map_errno));
  return MappedFile(data, size);
}

// Where a run of tokens came from, for error messages.
struct Origin {
  const std::string& path;
  std::uint64_t sequence;
  std::uint64_t byte_offset;  // of the run's first token
};

Status BadToken(const Origin& origin, std::uint64_t index, std::size_t token_bytes,
                const std::string& value, const std::string& problem) {
  return Bad(origin.path, "token " + value + " (sequence " + Str(origin.sequence) +
                              ", byte offset " + Str(origin.byte_offset + index * token_bytes) +
                              ") " + problem +
                              ": token ids must be in [0, 2^32); was the dataset written with "
                              "the wrong dtype?");
}

// Appends the tokens of type T in `run` to `out`, refusing ids outside uint32.
template <typename T>
Status AppendTokens(Bytes run, const Origin& origin, ImportedTokens& out) {
  const std::size_t count = run.size() / sizeof(T);
  for (std::size_t i = 0; i < count; ++i) {
    const T value = LoadAt<T>(run, i * sizeof(T));
    if constexpr (std::is_signed_v<T>) {
      if (value < 0) return BadToken(origin, i, sizeof(T), Str(std::int64_t{value}), "is negative");
    }
    if constexpr (sizeof(T) > sizeof(std::uint32_t)) {
      if (static_cast<std::uint64_t>(value) > kMaxToken) {
        return BadToken(origin, i, sizeof(T), Str(std::int64_t{value}), "does not fit in 32 bits");
      }
    }
    const auto token = static_cast<std::uint32_t>(value);
    out.tokens.push_back(token);
    out.max_token = std::max(out.max_token, token);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// llm.c

Status CheckLlmcMagic(const std::string& path, std::int32_t magic) {
  if (magic == kLlmcLlama3Magic) {
    return Bad(path,
               "magic 20240801 marks llm.c's llama-3 layout (uint32 tokens), which is not "
               "supported: only the gpt-2 layout (magic 20240520, uint16 tokens) is");
  }
  if (magic != kLlmcMagic) {
    return Bad(path, "magic " + Str(std::int64_t{magic}) + " is not llm.c's " +
                         Str(std::int64_t{kLlmcMagic}) +
                         ": is this a llm.c token file? pass --format megatron for .bin/.idx "
                         "pairs");
  }
  return Status::Ok();
}

// Checks the header and the file size; returns the token count.
Result<std::uint64_t> ParseLlmcHeader(const std::string& path, Bytes file) {
  // The magic goes first: "not llm.c" says more than "too short" for a foreign file.
  if (file.size() >= sizeof(std::int32_t)) {
    LOCKSTEP_RETURN_IF_ERROR(CheckLlmcMagic(path, LoadAt<std::int32_t>(file, 0)));
  }
  if (file.size() < kLlmcHeaderBytes) {
    return Bad(path, "only " + Str(file.size()) + " bytes, shorter than llm.c's " +
                         Str(kLlmcHeaderBytes) +
                         "-byte header: the file is truncated or not a llm.c token file");
  }
  const auto version = LoadAt<std::int32_t>(file, 4);
  const auto count = LoadAt<std::int32_t>(file, 8);
  if (version != kLlmcVersion) {
    return Bad(path, "llm.c version " + Str(std::int64_t{version}) +
                         " is not supported (only version 1, uint16 tokens): re-run llm.c's data "
                         "preprocessing to write version 1");
  }
  if (count < 0) {
    return Bad(path, "token count " + Str(std::int64_t{count}) +
                         " in the header is negative: the header is corrupt");
  }
  const std::uint64_t payload = file.size() - kLlmcHeaderBytes;
  const std::uint64_t expected = static_cast<std::uint64_t>(count) * sizeof(std::uint16_t);
  if (payload != expected) {
    return Bad(path, "the header announces " + Str(std::int64_t{count}) + " tokens (" +
                         Str(expected) + " bytes) but " + Str(payload) +
                         " bytes follow it: the file is " +
                         (payload < expected ? "truncated" : "corrupt (trailing bytes)") +
                         "; re-run llm.c's data preprocessing");
  }
  return static_cast<std::uint64_t>(count);
}

// ---------------------------------------------------------------------------
// Megatron

struct Dtype {
  std::uint8_t code;
  const char* name;
  std::size_t bytes;
  bool is_float;
};

constexpr Dtype kDtypes[] = {
    {1, "uint8", 1, false},  {2, "int8", 1, false},   {3, "int16", 2, false},
    {4, "int32", 4, false},  {5, "int64", 8, false},  {6, "float64", 8, true},
    {7, "float32", 4, true}, {8, "uint16", 2, false},
};

const Dtype* FindDtype(std::uint8_t code) {
  for (const Dtype& dtype : kDtypes) {
    if (dtype.code == code) return &dtype;
  }
  return nullptr;
}

// The parsed .idx; the spans view the mapped file.
struct MegatronIndex {
  const Dtype* dtype = nullptr;
  std::uint64_t sequence_count = 0;
  std::uint64_t document_index_count = 0;
  Bytes lengths;           // int32[sequence_count]
  Bytes pointers;          // int64[sequence_count]
  Bytes document_indices;  // int64[document_index_count]

  std::int64_t length(std::uint64_t i) const { return LoadAt<std::int32_t>(lengths, i * 4); }
  std::int64_t pointer(std::uint64_t i) const { return LoadAt<std::int64_t>(pointers, i * 8); }
  std::int64_t document_index(std::uint64_t i) const {
    return LoadAt<std::int64_t>(document_indices, i * 8);
  }
};

std::string MegatronPrefix(const std::string& prefix_or_path) {
  if (prefix_or_path.ends_with(".idx") || prefix_or_path.ends_with(".bin")) {
    return prefix_or_path.substr(0, prefix_or_path.size() - 4);
  }
  return prefix_or_path;
}

Status CheckMegatronHeader(const std::string& path, Bytes file) {
  if (file.size() >= kMegatronMagic.size() &&
      std::memcmp(file.data(), kMegatronMagic.data(), kMegatronMagic.size()) != 0) {
    return Bad(path,
               "does not start with the Megatron index magic \"MMIDIDX\\0\\0\": is this a "
               "Megatron-LM .idx file? pass --format llmc for llm.c .bin files");
  }
  if (file.size() < kMegatronHeaderBytes) {
    return Bad(path, "only " + Str(file.size()) + " bytes, shorter than the " +
                         Str(kMegatronHeaderBytes) +
                         "-byte Megatron index header: the index is truncated");
  }
  const auto version = LoadAt<std::uint64_t>(file, 9);
  if (version != kMegatronVersion) {
    return Bad(path, "Megatron index version " + Str(version) +
                         " is not supported (only version 1, as Megatron-Core's "
                         "indexed_dataset.py writes): re-export the dataset");
  }
  const std::uint8_t code = LoadAt<std::uint8_t>(file, 17);
  const Dtype* dtype = FindDtype(code);
  if (dtype == nullptr) {
    return Bad(path, "dtype code " + Str(std::uint64_t{code}) +
                         " is not a Megatron dtype (codes are 1 to 8): the index is corrupt");
  }
  if (dtype->is_float) {
    return Bad(path, std::string("dtype ") + dtype->name + " (code " + Str(std::uint64_t{code}) +
                         ") holds floating-point values, not token ids: only datasets of "
                         "integer tokens can be imported");
  }
  return Status::Ok();
}

// Parses the .idx after CheckMegatronHeader; checks that the arrays fit.
Result<MegatronIndex> ParseMegatronIndex(const std::string& path, Bytes file) {
  LOCKSTEP_RETURN_IF_ERROR(CheckMegatronHeader(path, file));
  MegatronIndex index;
  index.dtype = FindDtype(LoadAt<std::uint8_t>(file, 17));
  index.sequence_count = LoadAt<std::uint64_t>(file, 18);
  index.document_index_count = LoadAt<std::uint64_t>(file, 26);
  const std::uint64_t left = file.size() - kMegatronHeaderBytes;
  const std::uint64_t s = index.sequence_count;
  const std::uint64_t d = index.document_index_count;
  // Written as divisions so that absurd counts cannot overflow.
  if (s > left / 12 || d > (left - s * 12) / 8) {
    return Bad(path, "the header lists " + Str(s) + " sequences and " + Str(d) +
                         " document indices (12 and 8 bytes each) but only " + Str(left) +
                         " bytes follow it: the index is truncated or corrupt");
  }
  // Multimodal datasets append int8 sequence_modes[S]; they are not needed.
  index.lengths = file.subspan(kMegatronHeaderBytes, s * 4);
  index.pointers = file.subspan(kMegatronHeaderBytes + s * 4, s * 8);
  index.document_indices = file.subspan(kMegatronHeaderBytes + s * 12, d * 8);
  return index;
}

Status CheckDocumentIndices(const std::string& path, const MegatronIndex& index) {
  const std::uint64_t d = index.document_index_count;
  if (d == 0) {
    return Bad(path,
               "the document index is empty (Megatron always writes a leading 0): the "
               "index is corrupt");
  }
  if (index.document_index(0) != 0) {
    return Bad(path, "document_indices[0] is " + Str(index.document_index(0)) +
                         ", not 0: the index is corrupt");
  }
  for (std::uint64_t i = 1; i < d; ++i) {
    if (index.document_index(i) < index.document_index(i - 1)) {
      return Bad(path, "document_indices[" + Str(i) + "] = " + Str(index.document_index(i)) +
                           " is below document_indices[" + Str(i - 1) +
                           "] = " + Str(index.document_index(i - 1)) + ": the index is corrupt");
    }
  }
  const std::int64_t last = index.document_index(d - 1);
  if (last < 0 || static_cast<std::uint64_t>(last) != index.sequence_count) {
    return Bad(path, "the last document index is " + Str(last) + " but there are " +
                         Str(index.sequence_count) +
                         " sequences; they must be equal: the index is corrupt");
  }
  return Status::Ok();
}

// Checks every sequence's length and that its bytes lie inside the .bin.
Status CheckSequenceExtents(const std::string& idx_path, const std::string& bin_path,
                            const MegatronIndex& index, std::uint64_t bin_size) {
  const std::uint64_t token_bytes = index.dtype->bytes;
  for (std::uint64_t i = 0; i < index.sequence_count; ++i) {
    const std::int64_t length = index.length(i);
    const std::int64_t pointer = index.pointer(i);
    if (length < 0) {
      return Bad(idx_path, "sequence " + Str(i) + " has negative length " + Str(length) +
                               ": the index is corrupt");
    }
    const std::uint64_t size = static_cast<std::uint64_t>(length) * token_bytes;
    if (pointer < 0 || static_cast<std::uint64_t>(pointer) > bin_size ||
        size > bin_size - static_cast<std::uint64_t>(pointer)) {
      return Bad(bin_path, "sequence " + Str(i) + " of " + idx_path + " spans bytes [" +
                               Str(pointer) + ", " + Str(pointer) + " + " + Str(size) +
                               ") but the .bin is " + Str(bin_size) +
                               " bytes: the .bin is truncated or belongs to another .idx");
    }
  }
  return Status::Ok();
}

Status AppendRun(const Dtype& dtype, Bytes run, const Origin& origin, ImportedTokens& out) {
  switch (dtype.code) {
    case 1:
      return AppendTokens<std::uint8_t>(run, origin, out);
    case 2:
      return AppendTokens<std::int8_t>(run, origin, out);
    case 3:
      return AppendTokens<std::int16_t>(run, origin, out);
    case 4:
      return AppendTokens<std::int32_t>(run, origin, out);
    case 5:
      return AppendTokens<std::int64_t>(run, origin, out);
    case 8:
      return AppendTokens<std::uint16_t>(run, origin, out);
    default:
      return Bad(origin.path, "internal: no decoder for dtype " + std::string(dtype.name));
  }
}

// Appends every sequence, in index order, after CheckSequenceExtents.
Status AppendSequences(const std::string& bin_path, const MegatronIndex& index, Bytes bin,
                       ImportedTokens& out) {
  const std::size_t token_bytes = index.dtype->bytes;
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < index.sequence_count; ++i) {
    total += static_cast<std::uint64_t>(index.length(i));
  }
  // Sequences may overlap, so `total` can exceed the .bin; reserve no more.
  out.tokens.reserve(std::min<std::uint64_t>(total, bin.size() / token_bytes));
  for (std::uint64_t i = 0; i < index.sequence_count; ++i) {
    const auto pointer = static_cast<std::uint64_t>(index.pointer(i));
    const auto size = static_cast<std::uint64_t>(index.length(i)) * token_bytes;
    const Origin origin{bin_path, i, pointer};
    LOCKSTEP_RETURN_IF_ERROR(AppendRun(*index.dtype, bin.subspan(pointer, size), origin, out));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Format detection

// The first `n` bytes of `path` (fewer if it is shorter); nullopt if it cannot
// be opened.
std::optional<std::string> ReadHead(const std::string& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string head(n, '\0');
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return head;
}

bool StartsWithLlmcMagic(const std::optional<std::string>& head) {
  if (!head || head->size() < sizeof(std::int32_t)) return false;
  std::int32_t magic;
  std::memcpy(&magic, head->data(), sizeof(magic));
  return magic == kLlmcMagic || magic == kLlmcLlama3Magic;
}

bool Exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

Result<ImportedTokens> ReadAutoDetected(const std::string& path) {
  if (path.ends_with(".idx")) return ReadMegatronIndexed(path);
  const std::optional<std::string> head = ReadHead(path, sizeof(std::int32_t));
  if (StartsWithLlmcMagic(head)) return ReadLlmcTokens(path);
  const std::string idx_path = MegatronPrefix(path) + ".idx";
  const std::optional<std::string> idx_head = ReadHead(idx_path, kMegatronMagic.size());
  if (idx_head && *idx_head == kMegatronMagic) return ReadMegatronIndexed(path);
  if (!Exists(path) && !Exists(idx_path)) {
    return Bad(path, "no such file (nor " + idx_path +
                         "): pass a llm.c .bin, a Megatron .idx/.bin path or a Megatron PREFIX");
  }
  return Bad(path, "cannot tell the format: it does not start with llm.c's magic 20240520, and " +
                       idx_path +
                       (Exists(idx_path) ? " does not start with Megatron's magic"
                                         : " (a Megatron index) does not exist") +
                       ": pass --format llmc or --format megatron to see what is wrong");
}

}  // namespace

Result<ImportedTokens> ReadLlmcTokens(const std::string& path) {
  Result<MappedFile> file = MappedFile::Open(path, "pass the path of a llm.c .bin token file");
  if (!file.ok()) return file.status();
  Result<std::uint64_t> count = ParseLlmcHeader(path, file->bytes());
  if (!count.ok()) return count.status();
  ImportedTokens out;
  out.format = "llm.c";
  out.documents = *count == 0 ? 0 : 1;
  out.tokens.reserve(*count);
  const Origin origin{path, 0, kLlmcHeaderBytes};
  LOCKSTEP_RETURN_IF_ERROR(
      AppendTokens<std::uint16_t>(file->bytes().subspan(kLlmcHeaderBytes), origin, out));
  return out;
}

Result<ImportedTokens> ReadMegatronIndexed(const std::string& prefix_or_path) {
  const std::string prefix = MegatronPrefix(prefix_or_path);
  const std::string idx_path = prefix + ".idx";
  const std::string bin_path = prefix + ".bin";
  Result<MappedFile> idx_file = MappedFile::Open(
      idx_path,
      "a Megatron dataset is a PREFIX.idx + PREFIX.bin pair; pass PREFIX or the path "
      "of either file");
  if (!idx_file.ok()) return idx_file.status();
  Result<MegatronIndex> index = ParseMegatronIndex(idx_path, idx_file->bytes());
  if (!index.ok()) return index.status();
  LOCKSTEP_RETURN_IF_ERROR(CheckDocumentIndices(idx_path, *index));
  Result<MappedFile> bin_file =
      MappedFile::Open(bin_path, "the Megatron index " + idx_path + " needs its .bin beside it");
  if (!bin_file.ok()) return bin_file.status();
  LOCKSTEP_RETURN_IF_ERROR(
      CheckSequenceExtents(idx_path, bin_path, *index, bin_file->bytes().size()));
  ImportedTokens out;
  out.format = "megatron";
  out.documents = index->document_index_count - 1;
  LOCKSTEP_RETURN_IF_ERROR(AppendSequences(bin_path, *index, bin_file->bytes(), out));
  return out;
}

Result<ImportedTokens> ReadForeignTokens(const std::string& path, const std::string& format) {
  if (format == "llmc" || format == "llm.c") return ReadLlmcTokens(path);
  if (format == "megatron") return ReadMegatronIndexed(path);
  if (format == "auto") return ReadAutoDetected(path);
  return Bad(path, "unknown token format \"" + format + "\": use auto, llmc or megatron");
}

}  // namespace lockstep::data
