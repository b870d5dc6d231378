#include "data/shard.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/atomic_file.h"

namespace lockstep::data {

static_assert(std::endian::native == std::endian::little,
              "shards are little-endian and read by mmap without swapping");

namespace {

template <typename T>
void Put(unsigned char* at, T value) {
  std::memcpy(at, &value, sizeof value);
}
template <typename T>
T Get(const unsigned char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

void EncodeHeader(const ShardHeader& h, unsigned char out[kShardHeaderBytes]) {
  std::memset(out, 0, kShardHeaderBytes);
  std::memcpy(out, kShardMagic, sizeof kShardMagic);
  Put<std::uint32_t>(out + 8, h.version);
  Put<std::uint32_t>(out + 12, h.token_bytes);
  Put<std::uint32_t>(out + 16, h.vocab_size);
  Put<std::uint64_t>(out + 24, h.token_count);
  Put<std::uint64_t>(out + 32, h.payload_digest.high);
  Put<std::uint64_t>(out + 40, h.payload_digest.low);
}

std::uint32_t TokenBytesFor(std::uint32_t vocab_size) {
  return vocab_size <= 65536 ? 2 : 4;
}

std::vector<unsigned char> EncodePayload(std::span<const std::uint32_t> tokens,
                                         std::uint32_t token_bytes) {
  std::vector<unsigned char> payload(tokens.size() * token_bytes);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (token_bytes == 2) {
      Put<std::uint16_t>(&payload[i * 2], static_cast<std::uint16_t>(tokens[i]));
    } else {
      Put<std::uint32_t>(&payload[i * 4], tokens[i]);
    }
  }
  return payload;
}

}  // namespace

Digest128 ShardPayloadDigest(std::span<const std::uint32_t> tokens, std::uint32_t vocab_size) {
  std::vector<unsigned char> payload = EncodePayload(tokens, TokenBytesFor(vocab_size));
  return Xxh3_128(payload.data(), payload.size());
}

Result<ShardHeader> WriteShard(const std::string& path, std::span<const std::uint32_t> tokens,
                               std::uint32_t vocab_size) {
  ShardHeader header;
  header.vocab_size = vocab_size;
  header.token_count = tokens.size();
  header.token_bytes = TokenBytesFor(vocab_size);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= vocab_size) {
      return Status::BadInput(fmt::format(
          "{}: token {} at index {} is not below the vocab size {}: raise the vocab size", path,
          tokens[i], i, vocab_size));
    }
  }
  std::vector<unsigned char> payload = EncodePayload(tokens, header.token_bytes);
  header.payload_digest = Xxh3_128(payload.data(), payload.size());
  unsigned char encoded[kShardHeaderBytes];
  EncodeHeader(header, encoded);

  Result<AtomicFile> file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  LOCKSTEP_RETURN_IF_ERROR(file->Append(encoded, sizeof encoded));
  LOCKSTEP_RETURN_IF_ERROR(file->Append(payload.data(), payload.size()));
  LOCKSTEP_RETURN_IF_ERROR(file->Commit());
  return header;
}

Result<Shard> Shard::Open(const std::string& path) {
  std::uint64_t file_size = 0;
  // A regular file only: a FIFO would block, a device never end.
  Result<int> opened = OpenRegularFile(path, std::numeric_limits<std::uint64_t>::max(), &file_size);
  if (!opened.ok()) {
    std::string why = opened.status().message();
    if (why.rfind(path + ": ", 0) == 0) why.erase(0, path.size() + 2);
    return Status::BadInput(
        fmt::format("{}: cannot open shard: {} (is the path in the manifest relative to the "
                    "manifest's directory? "
                    "run `lockstep data synth` or `lockstep data build` to create it)",
                    path, why));
  }
  const int fd = *opened;
  const std::size_t size = static_cast<std::size_t>(file_size);
  if (size < kShardHeaderBytes) {
    ::close(fd);
    return Status::BadInput(
        fmt::format("{}: truncated shard: {} bytes, smaller than the {}-byte header; re-create it",
                    path, size, kShardHeaderBytes));
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    return Status::BadInput(fmt::format("{}: mmap failed: {}", path, std::strerror(errno)));
  }
  Shard shard;
  shard.path_ = path;
  shard.map_ = static_cast<const unsigned char*>(map);
  shard.map_size_ = size;

  const unsigned char* h = shard.map_;
  if (std::memcmp(h, kShardMagic, sizeof kShardMagic) != 0) {
    return Status::BadInput(fmt::format(
        "{}: not a lockstep shard (magic is not \"LKSTSHRD\"); llm.c or Megatron token files "
        "go through `lockstep data import`",
        path));
  }
  ShardHeader& hd = shard.header_;
  hd.version = Get<std::uint32_t>(h + 8);
  hd.token_bytes = Get<std::uint32_t>(h + 12);
  hd.vocab_size = Get<std::uint32_t>(h + 16);
  hd.token_count = Get<std::uint64_t>(h + 24);
  hd.payload_digest = {Get<std::uint64_t>(h + 32), Get<std::uint64_t>(h + 40)};
  if (hd.version != kShardVersion) {
    return Status::BadInput(fmt::format(
        "{}: shard format version {} is not supported (this lockstep reads version {}); "
        "re-create the shard with this lockstep",
        path, hd.version, kShardVersion));
  }
  if (hd.token_bytes != 2 && hd.token_bytes != 4) {
    return Status::BadInput(fmt::format(
        "{}: header says {} bytes per token; only 2 (uint16) and 4 (uint32) exist: the header "
        "is corrupt, re-create the shard",
        path, hd.token_bytes));
  }
  const std::uint64_t payload = size - kShardHeaderBytes;
  if (hd.token_count > payload / hd.token_bytes || payload != hd.token_count * hd.token_bytes) {
    return Status::BadInput(fmt::format(
        "{}: truncated or padded shard: header announces {} tokens ({} bytes) but the file "
        "holds {} payload bytes; re-copy or re-create it",
        path, hd.token_count, hd.token_count * hd.token_bytes, payload));
  }
  return shard;
}

Shard::Shard(Shard&& other) noexcept
    : path_(std::move(other.path_)),
      header_(other.header_),
      map_(other.map_),
      map_size_(other.map_size_) {
  other.map_ = nullptr;
  other.map_size_ = 0;
}

Shard& Shard::operator=(Shard&& other) noexcept {
  if (this != &other) {
    if (map_ != nullptr) ::munmap(const_cast<unsigned char*>(map_), map_size_);
    path_ = std::move(other.path_);
    header_ = other.header_;
    map_ = other.map_;
    map_size_ = other.map_size_;
    other.map_ = nullptr;
    other.map_size_ = 0;
  }
  return *this;
}

Shard::~Shard() {
  if (map_ != nullptr) ::munmap(const_cast<unsigned char*>(map_), map_size_);
}

std::uint32_t Shard::token(std::uint64_t i) const {
  const unsigned char* at = map_ + kShardHeaderBytes + i * header_.token_bytes;
  return header_.token_bytes == 2 ? Get<std::uint16_t>(at) : Get<std::uint32_t>(at);
}

void Shard::CopyTokens(std::uint64_t begin, std::span<std::uint32_t> out) const {
  if (out.empty()) return;
  const unsigned char* at = map_ + kShardHeaderBytes + begin * header_.token_bytes;
  if (header_.token_bytes == 2) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = Get<std::uint16_t>(at + 2 * i);
  } else {
    std::memcpy(out.data(), at, out.size() * 4);
  }
}

Digest128 Shard::ComputeDigest() const {
  return Xxh3_128(map_ + kShardHeaderBytes, map_size_ - kShardHeaderBytes);
}

namespace {

// The largest token in [begin, end): a branch-free max the compiler
// vectorises; the index of an offender is searched only when there is one.
template <typename Token>
Token MaxToken(const unsigned char* payload, std::uint64_t begin, std::uint64_t end) {
  Token m = 0;
  for (std::uint64_t i = begin; i < end; ++i) {
    Token t;
    std::memcpy(&t, payload + i * sizeof(Token), sizeof(Token));
    m = t > m ? t : m;
  }
  return m;
}

}  // namespace

std::optional<std::uint64_t> Shard::FirstTokenOutOfVocab(std::uint64_t begin,
                                                         std::uint64_t end) const {
  const std::uint32_t vocab = header_.vocab_size;
  const unsigned char* at = map_ + kShardHeaderBytes;
  const std::uint32_t max = header_.token_bytes == 2 ? MaxToken<std::uint16_t>(at, begin, end)
                                                     : MaxToken<std::uint32_t>(at, begin, end);
  if (end == begin || max < vocab) return std::nullopt;
  for (std::uint64_t i = begin; i < end; ++i) {
    if (token(i) >= vocab) return i;
  }
  return std::nullopt;
}

Status Shard::Verify() const {
  // One pass in cache-sized blocks: each block is hashed and its tokens are
  // checked against the vocab while it is in cache.
  constexpr std::uint64_t kBlockTokens = 64 * 1024;
  Xxh3_128Stream digest;
  std::optional<std::uint64_t> out_of_vocab;
  for (std::uint64_t begin = 0; begin < header_.token_count; begin += kBlockTokens) {
    const std::uint64_t end = std::min(header_.token_count, begin + kBlockTokens);
    digest.Update(map_ + kShardHeaderBytes + begin * header_.token_bytes,
                  (end - begin) * header_.token_bytes);
    if (!out_of_vocab) out_of_vocab = FirstTokenOutOfVocab(begin, end);
  }
  const Digest128 actual = digest.Finish();
  if (actual != header_.payload_digest) {
    return Status::BadInput(fmt::format(
        "{}: payload digest {} differs from the digest {} in its own header: the file is "
        "corrupt; re-copy or re-create it",
        path_, actual.Hex(), header_.payload_digest.Hex()));
  }
  if (out_of_vocab) {
    return Status::BadInput(fmt::format(
        "{}: token {} at index {} (byte offset {}) is not below the shard's vocab size {}: the "
        "shard "
        "was not written by lockstep, or its header lies; re-create it with `lockstep data import`",
        path_, token(*out_of_vocab), *out_of_vocab,
        kShardHeaderBytes + *out_of_vocab * header_.token_bytes, header_.vocab_size));
  }
  return Status::Ok();
}

}  // namespace lockstep::data
