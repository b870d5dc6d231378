#include "data/token_import.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace lockstep::data {
namespace {

// ---------------------------------------------------------------------------
// Test-local writers for the two foreign formats, written from the format
// descriptions in token_import.h (not with the reader's code).

template <typename T>
void Put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void WriteBytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// A llm.c file: 256 int32 header, then uint16 tokens.
std::string LlmcBytes(const std::vector<std::uint16_t>& tokens, std::int32_t magic = 20240520,
                      std::int32_t version = 1, std::optional<std::int32_t> count = std::nullopt) {
  std::string out;
  Put<std::int32_t>(out, magic);
  Put<std::int32_t>(out, version);
  Put<std::int32_t>(out, count.value_or(static_cast<std::int32_t>(tokens.size())));
  for (int i = 3; i < 256; ++i) Put<std::int32_t>(out, 0);
  for (std::uint16_t token : tokens) Put(out, token);
  return out;
}

enum DtypeCode : std::uint8_t {
  kUint8 = 1,
  kInt8 = 2,
  kInt16 = 3,
  kInt32 = 4,
  kInt64 = 5,
  kFloat64 = 6,
  kFloat32 = 7,
  kUint16 = 8,
};

void PutToken(std::string& out, std::uint8_t code, std::int64_t value) {
  switch (code) {
    case kUint8:
      return Put(out, static_cast<std::uint8_t>(value));
    case kInt8:
      return Put(out, static_cast<std::int8_t>(value));
    case kInt16:
      return Put(out, static_cast<std::int16_t>(value));
    case kUint16:
      return Put(out, static_cast<std::uint16_t>(value));
    case kInt32:
      return Put(out, static_cast<std::int32_t>(value));
    case kFloat32:
      return Put(out, static_cast<float>(value));
    case kFloat64:
      return Put(out, static_cast<double>(value));
    default:
      return Put(out, value);
  }
}

// Every field of a Megatron .idx, editable before it is serialized.
struct MegatronIdx {
  std::string magic = std::string("MMIDIDX\0\0", 9);
  std::uint64_t version = 1;
  std::uint8_t dtype = kUint16;
  std::optional<std::uint64_t> sequence_count;        // default: lengths.size()
  std::optional<std::uint64_t> document_index_count;  // default: document_indices.size()
  std::vector<std::int32_t> lengths;
  std::vector<std::int64_t> pointers;
  std::vector<std::int64_t> document_indices;
  std::string trailer;  // e.g. multimodal sequence_modes

  std::string Serialize() const {
    std::string out = magic;
    Put(out, version);
    Put(out, dtype);
    Put<std::uint64_t>(out, sequence_count.value_or(lengths.size()));
    Put<std::uint64_t>(out, document_index_count.value_or(document_indices.size()));
    for (std::int32_t length : lengths) Put(out, length);
    for (std::int64_t pointer : pointers) Put(out, pointer);
    for (std::int64_t index : document_indices) Put(out, index);
    return out + trailer;
  }
};

// A Megatron pair: documents of sequences of tokens, stored contiguously.
struct MegatronDataset {
  MegatronIdx idx;
  std::string bin;
};

MegatronDataset MakeMegatron(std::uint8_t dtype,
                             const std::vector<std::vector<std::vector<std::int64_t>>>& documents) {
  MegatronDataset data;
  data.idx.dtype = dtype;
  data.idx.document_indices.push_back(0);
  for (const auto& document : documents) {
    for (const auto& sequence : document) {
      data.idx.lengths.push_back(static_cast<std::int32_t>(sequence.size()));
      data.idx.pointers.push_back(static_cast<std::int64_t>(data.bin.size()));
      for (std::int64_t token : sequence) PutToken(data.bin, dtype, token);
    }
    data.idx.document_indices.push_back(static_cast<std::int64_t>(data.idx.lengths.size()));
  }
  return data;
}

// Three documents, five sequences, tokens 1..12 in order.
const std::vector<std::vector<std::vector<std::int64_t>>> kThreeDocuments = {
    {{1, 2, 3}, {4, 5}},
    {{6}},
    {{7, 8, 9, 10}, {11, 12}},
};
const std::vector<std::uint32_t> kThreeDocumentTokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

class TokenImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("lockstep_token_import_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::string WriteLlmc(const std::string& name, const std::string& bytes) {
    WriteBytes(dir_ / name, bytes);
    return Path(name);
  }

  // Writes PREFIX.idx and PREFIX.bin; returns PREFIX.
  std::string WriteMegatron(const std::string& prefix, const MegatronDataset& data) {
    WriteBytes(dir_ / (prefix + ".idx"), data.idx.Serialize());
    WriteBytes(dir_ / (prefix + ".bin"), data.bin);
    return Path(prefix);
  }

  std::filesystem::path dir_;
};

// Expects BadInput (exit code 2) whose message names `file`.
void ExpectBadInput(const Result<ImportedTokens>& result, const std::string& file,
                    const std::string& also = "") {
  ASSERT_FALSE(result.ok()) << "expected an error naming " << file;
  EXPECT_EQ(result.status().exit_code(), 2) << result.status().message();
  EXPECT_NE(result.status().message().find(file), std::string::npos)
      << "message does not name " << file << ": " << result.status().message();
  if (!also.empty()) {
    EXPECT_NE(result.status().message().find(also), std::string::npos)
        << "message lacks \"" << also << "\": " << result.status().message();
  }
}

// ---------------------------------------------------------------------------
// llm.c

TEST_F(TokenImportTest, LlmcRoundTrip) {
  const std::vector<std::uint16_t> tokens = {50256, 0, 1, 65535, 7, 7, 300};
  std::string path = WriteLlmc("train.bin", LlmcBytes(tokens));
  Result<ImportedTokens> result = ReadLlmcTokens(path);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tokens, std::vector<std::uint32_t>(tokens.begin(), tokens.end()));
  EXPECT_EQ(result->documents, 1u);
  EXPECT_EQ(result->max_token, 65535u);
  EXPECT_EQ(result->format, "llm.c");
}

TEST_F(TokenImportTest, LlmcEmptyFileHasNoTokensAndNoDocuments) {
  Result<ImportedTokens> result = ReadLlmcTokens(WriteLlmc("empty.bin", LlmcBytes({})));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->tokens.empty());
  EXPECT_EQ(result->documents, 0u);
  EXPECT_EQ(result->max_token, 0u);
}

TEST_F(TokenImportTest, LlmcTruncatedHeader) {
  std::string path = WriteLlmc("short.bin", LlmcBytes({1, 2}).substr(0, 100));
  ExpectBadInput(ReadLlmcTokens(path), "short.bin", "header");
}

TEST_F(TokenImportTest, LlmcEmptyFileIsATruncatedHeader) {
  ExpectBadInput(ReadLlmcTokens(WriteLlmc("zero.bin", "")), "zero.bin", "header");
}

TEST_F(TokenImportTest, LlmcTruncatedPayload) {
  std::string path = WriteLlmc("cut.bin", LlmcBytes({1, 2, 3, 4, 5}, 20240520, 1, 10));
  ExpectBadInput(ReadLlmcTokens(path), "cut.bin", "truncated");
}

TEST_F(TokenImportTest, LlmcHugeCountIsTruncatedNotACrash) {
  std::string path =
      WriteLlmc("huge.bin", LlmcBytes({1}, 20240520, 1, std::numeric_limits<std::int32_t>::max()));
  ExpectBadInput(ReadLlmcTokens(path), "huge.bin", "truncated");
}

TEST_F(TokenImportTest, LlmcTrailingBytes) {
  std::string path = WriteLlmc("long.bin", LlmcBytes({1, 2, 3}, 20240520, 1, 2));
  ExpectBadInput(ReadLlmcTokens(path), "long.bin", "trailing");
}

TEST_F(TokenImportTest, LlmcNegativeCount) {
  std::string path = WriteLlmc("negative.bin", LlmcBytes({1}, 20240520, 1, -1));
  ExpectBadInput(ReadLlmcTokens(path), "negative.bin", "negative");
}

TEST_F(TokenImportTest, LlmcWrongMagic) {
  std::string path = WriteLlmc("magic.bin", LlmcBytes({1}, 1234));
  ExpectBadInput(ReadLlmcTokens(path), "magic.bin", "20240520");
}

TEST_F(TokenImportTest, LlmcLlama3LayoutIsNamed) {
  std::string path = WriteLlmc("llama.bin", LlmcBytes({1}, 20240801, 7));
  ExpectBadInput(ReadLlmcTokens(path), "llama.bin", "llama-3");
}

TEST_F(TokenImportTest, LlmcUnsupportedVersion) {
  std::string path = WriteLlmc("v2.bin", LlmcBytes({1}, 20240520, 2));
  ExpectBadInput(ReadLlmcTokens(path), "v2.bin", "version 2");
}

TEST_F(TokenImportTest, LlmcMissingFile) {
  ExpectBadInput(ReadLlmcTokens(Path("absent.bin")), "absent.bin", "no such file");
}

TEST_F(TokenImportTest, LlmcDirectoryIsNotAFile) {
  ExpectBadInput(ReadLlmcTokens(dir_.string()), dir_.string(), "not a regular file");
}

// ---------------------------------------------------------------------------
// Megatron round trips

TEST_F(TokenImportTest, MegatronRoundTripUint16) {
  std::string prefix = WriteMegatron("corpus", MakeMegatron(kUint16, kThreeDocuments));
  Result<ImportedTokens> result = ReadMegatronIndexed(prefix);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tokens, kThreeDocumentTokens);
  EXPECT_EQ(result->documents, 3u);
  EXPECT_EQ(result->max_token, 12u);
  EXPECT_EQ(result->format, "megatron");
}

TEST_F(TokenImportTest, MegatronRoundTripInt32BeyondUint16) {
  const std::vector<std::vector<std::vector<std::int64_t>>> documents = {
      {{100000, 0}, {128255}},
      {{65536, 65535, 2147483647}},
  };
  std::string prefix = WriteMegatron("wide", MakeMegatron(kInt32, documents));
  Result<ImportedTokens> result = ReadMegatronIndexed(prefix);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tokens,
            (std::vector<std::uint32_t>{100000, 0, 128255, 65536, 65535, 2147483647}));
  EXPECT_EQ(result->documents, 2u);
  EXPECT_EQ(result->max_token, 2147483647u);
}

TEST_F(TokenImportTest, MegatronAcceptsEitherFilePathOrThePrefix) {
  std::string prefix = WriteMegatron("pair", MakeMegatron(kUint16, kThreeDocuments));
  for (const std::string& path : {prefix, prefix + ".idx", prefix + ".bin"}) {
    Result<ImportedTokens> result = ReadMegatronIndexed(path);
    ASSERT_TRUE(result.ok()) << path << ": " << result.status().message();
    EXPECT_EQ(result->tokens, kThreeDocumentTokens) << path;
  }
}

TEST_F(TokenImportTest, MegatronOtherIntegerDtypes) {
  for (std::uint8_t dtype : {kUint8, kInt8, kInt16, kInt64}) {
    std::string prefix =
        WriteMegatron("dtype" + std::to_string(dtype), MakeMegatron(dtype, kThreeDocuments));
    Result<ImportedTokens> result = ReadMegatronIndexed(prefix);
    ASSERT_TRUE(result.ok()) << int{dtype} << ": " << result.status().message();
    EXPECT_EQ(result->tokens, kThreeDocumentTokens) << int{dtype};
    EXPECT_EQ(result->documents, 3u);
  }
}

TEST_F(TokenImportTest, MegatronInt64UpToUint32Max) {
  std::string prefix = WriteMegatron("max", MakeMegatron(kInt64, {{{4294967295LL, 0}}}));
  Result<ImportedTokens> result = ReadMegatronIndexed(prefix);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tokens, (std::vector<std::uint32_t>{4294967295u, 0}));
  EXPECT_EQ(result->max_token, 4294967295u);
}

TEST_F(TokenImportTest, MegatronFollowsPointersInIndexOrder) {
  // The .bin stores sequence 1 before sequence 0; the index order wins.
  MegatronDataset data;
  data.idx.dtype = kUint16;
  for (std::uint16_t token : {30, 31, 10, 11, 12}) Put(data.bin, token);
  data.idx.lengths = {3, 2};
  data.idx.pointers = {4, 0};
  data.idx.document_indices = {0, 2};
  Result<ImportedTokens> result = ReadMegatronIndexed(WriteMegatron("shuffled", data));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tokens, (std::vector<std::uint32_t>{10, 11, 12, 30, 31}));
  EXPECT_EQ(result->documents, 1u);
}

TEST_F(TokenImportTest, MegatronEmptyDatasetAndEmptyDocuments) {
  MegatronDataset data;
  data.idx.document_indices = {0};
  Result<ImportedTokens> empty = ReadMegatronIndexed(WriteMegatron("nothing", data));
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE(empty->tokens.empty());
  EXPECT_EQ(empty->documents, 0u);

  MegatronDataset gaps = MakeMegatron(kUint16, {{{1}}, {}, {{2, 3}}});
  Result<ImportedTokens> result = ReadMegatronIndexed(WriteMegatron("gaps", gaps));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tokens, (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(result->documents, 3u);
}

TEST_F(TokenImportTest, MegatronIgnoresMultimodalSequenceModes) {
  MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
  data.idx.trailer = std::string(data.idx.lengths.size(), '\0');
  Result<ImportedTokens> result = ReadMegatronIndexed(WriteMegatron("modes", data));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tokens, kThreeDocumentTokens);
}

// ---------------------------------------------------------------------------
// Megatron bad input

TEST_F(TokenImportTest, MegatronMissingIdx) {
  WriteBytes(dir_ / "lonely.bin", MakeMegatron(kUint16, kThreeDocuments).bin);
  ExpectBadInput(ReadMegatronIndexed(Path("lonely.bin")), "lonely.idx", "no such file");
}

TEST_F(TokenImportTest, MegatronMissingBin) {
  WriteBytes(dir_ / "orphan.idx", MakeMegatron(kUint16, kThreeDocuments).idx.Serialize());
  ExpectBadInput(ReadMegatronIndexed(Path("orphan.idx")), "orphan.bin", "no such file");
}

TEST_F(TokenImportTest, MegatronWrongMagic) {
  MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
  data.idx.magic = std::string("TNTIDX\0\0\0", 9);
  ExpectBadInput(ReadMegatronIndexed(WriteMegatron("magic", data)), "magic.idx", "MMIDIDX");
}

TEST_F(TokenImportTest, MegatronUnsupportedVersion) {
  MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
  data.idx.version = 2;
  ExpectBadInput(ReadMegatronIndexed(WriteMegatron("v2", data)), "v2.idx", "version 2");
}

TEST_F(TokenImportTest, MegatronUnknownDtype) {
  for (std::uint8_t code : {0, 9, 255}) {
    MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
    data.idx.dtype = code;
    ExpectBadInput(ReadMegatronIndexed(WriteMegatron("unknown", data)), "unknown.idx",
                   "dtype code " + std::to_string(code));
  }
}

TEST_F(TokenImportTest, MegatronFloatDtypes) {
  for (std::uint8_t code : {kFloat32, kFloat64}) {
    MegatronDataset data = MakeMegatron(code, kThreeDocuments);
    ExpectBadInput(ReadMegatronIndexed(WriteMegatron("float", data)), "float.idx",
                   "floating-point");
  }
}

TEST_F(TokenImportTest, MegatronTruncatedHeader) {
  const std::string full = MakeMegatron(kUint16, kThreeDocuments).idx.Serialize();
  for (std::size_t size : {0, 5, 9, 20, 33}) {
    WriteBytes(dir_ / "short.idx", full.substr(0, size));
    WriteBytes(dir_ / "short.bin", "");
    ExpectBadInput(ReadMegatronIndexed(Path("short")), "short.idx");
  }
}

TEST_F(TokenImportTest, MegatronTruncatedArrays) {
  const std::string full = MakeMegatron(kUint16, kThreeDocuments).idx.Serialize();
  WriteBytes(dir_ / "cut.idx", full.substr(0, full.size() - 1));
  WriteBytes(dir_ / "cut.bin", MakeMegatron(kUint16, kThreeDocuments).bin);
  ExpectBadInput(ReadMegatronIndexed(Path("cut")), "cut.idx", "truncated");
}

TEST_F(TokenImportTest, MegatronAbsurdCountsAreNotACrash) {
  for (std::uint64_t count : {std::uint64_t{1} << 62, ~std::uint64_t{0}}) {
    MegatronDataset sequences = MakeMegatron(kUint16, kThreeDocuments);
    sequences.idx.sequence_count = count;
    ExpectBadInput(ReadMegatronIndexed(WriteMegatron("seqs", sequences)), "seqs.idx");
    MegatronDataset documents = MakeMegatron(kUint16, kThreeDocuments);
    documents.idx.document_index_count = count;
    ExpectBadInput(ReadMegatronIndexed(WriteMegatron("docs", documents)), "docs.idx");
  }
}

TEST_F(TokenImportTest, MegatronPointerPastTheEndOfBin) {
  MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
  data.idx.pointers.back() = static_cast<std::int64_t>(data.bin.size());  // 2 tokens past the end
  ExpectBadInput(ReadMegatronIndexed(WriteMegatron("past", data)), "past.bin", "sequence 4");
}

TEST_F(TokenImportTest, MegatronHugePointerIsNotACrash) {
  MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
  data.idx.pointers[1] = std::numeric_limits<std::int64_t>::max();
  ExpectBadInput(ReadMegatronIndexed(WriteMegatron("far", data)), "far.bin", "sequence 1");
}

TEST_F(TokenImportTest, MegatronTruncatedBin) {
  MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
  data.bin.pop_back();
  ExpectBadInput(ReadMegatronIndexed(WriteMegatron("shortbin", data)), "shortbin.bin", "truncated");
}

TEST_F(TokenImportTest, MegatronNegativePointer) {
  MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
  data.idx.pointers[2] = -2;
  ExpectBadInput(ReadMegatronIndexed(WriteMegatron("before", data)), "before.bin", "sequence 2");
}

TEST_F(TokenImportTest, MegatronNegativeLength) {
  MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
  data.idx.lengths[3] = -1;
  ExpectBadInput(ReadMegatronIndexed(WriteMegatron("minus", data)), "minus.idx", "negative length");
}

TEST_F(TokenImportTest, MegatronNegativeTokens) {
  for (std::uint8_t dtype : {kInt8, kInt16, kInt32, kInt64}) {
    std::string prefix = WriteMegatron("signed", MakeMegatron(dtype, {{{1, 2}}, {{3, -5, 4}}}));
    ExpectBadInput(ReadMegatronIndexed(prefix), "signed.bin", "token -5 (sequence 1");
  }
}

TEST_F(TokenImportTest, MegatronInt64TokenBeyond32Bits) {
  std::string prefix = WriteMegatron("big", MakeMegatron(kInt64, {{{1, 4294967296LL}}}));
  ExpectBadInput(ReadMegatronIndexed(prefix), "big.bin", "32 bits");
}

TEST_F(TokenImportTest, MegatronBadDocumentIndices) {
  auto with_documents = [](std::vector<std::int64_t> indices, std::optional<std::uint64_t> count) {
    MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
    data.idx.document_indices = std::move(indices);
    data.idx.document_index_count = count;
    return data;
  };
  // No entries at all; not starting at 0; decreasing; not ending at S (5).
  const MegatronDataset cases[] = {
      with_documents({}, std::nullopt),           with_documents({1, 2, 5}, std::nullopt),
      with_documents({0, 3, 2, 5}, std::nullopt), with_documents({0, 2, 4}, std::nullopt),
      with_documents({0, 2, 7}, std::nullopt),    with_documents({0, -1, 5}, std::nullopt),
  };
  for (const MegatronDataset& data : cases) {
    ExpectBadInput(ReadMegatronIndexed(WriteMegatron("docs", data)), "docs.idx", "corrupt");
  }
}

// ---------------------------------------------------------------------------
// Format detection

TEST_F(TokenImportTest, AutoDetectsLlmc) {
  std::string path = WriteLlmc("shard_000.bin", LlmcBytes({5, 6, 7}));
  Result<ImportedTokens> result = ReadForeignTokens(path, "auto");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->format, "llm.c");
  EXPECT_EQ(result->tokens, (std::vector<std::uint32_t>{5, 6, 7}));
}

TEST_F(TokenImportTest, AutoDetectsMegatronFromAnyOfItsNames) {
  std::string prefix = WriteMegatron("mega", MakeMegatron(kUint16, kThreeDocuments));
  for (const std::string& path : {prefix, prefix + ".idx", prefix + ".bin"}) {
    Result<ImportedTokens> result = ReadForeignTokens(path, "auto");
    ASSERT_TRUE(result.ok()) << path << ": " << result.status().message();
    EXPECT_EQ(result->format, "megatron") << path;
    EXPECT_EQ(result->tokens, kThreeDocumentTokens) << path;
    EXPECT_EQ(result->documents, 3u) << path;
  }
}

TEST_F(TokenImportTest, ExplicitFormatsAreObeyed) {
  std::string llmc = WriteLlmc("plain.bin", LlmcBytes({9}));
  std::string prefix = WriteMegatron("indexed", MakeMegatron(kUint16, kThreeDocuments));
  EXPECT_EQ(ReadForeignTokens(llmc, "llmc")->format, "llm.c");
  EXPECT_EQ(ReadForeignTokens(prefix + ".bin", "megatron")->format, "megatron");
  // Forcing the wrong reader reports that reader's complaint.
  ExpectBadInput(ReadForeignTokens(prefix + ".bin", "llmc"), "indexed.bin", "20240520");
  ExpectBadInput(ReadForeignTokens(llmc, "megatron"), "plain.idx", "no such file");
}

TEST_F(TokenImportTest, AutoRefusesUnknownContent) {
  std::string path = WriteLlmc("mystery.bin", std::string(2048, 'x'));
  ExpectBadInput(ReadForeignTokens(path, "auto"), "mystery.bin", "--format");
}

TEST_F(TokenImportTest, AutoWithAMegatronBinButNoIdx) {
  WriteBytes(dir_ / "half.bin", MakeMegatron(kUint16, kThreeDocuments).bin);
  ExpectBadInput(ReadForeignTokens(Path("half.bin"), "auto"), "half.bin", "half.idx");
}

TEST_F(TokenImportTest, AutoWithNothingThere) {
  ExpectBadInput(ReadForeignTokens(Path("ghost.bin"), "auto"), "ghost.bin", "no such file");
}

TEST_F(TokenImportTest, AutoWithACorruptIdxReportsTheIdx) {
  MegatronDataset data = MakeMegatron(kUint16, kThreeDocuments);
  data.idx.magic = std::string(9, 'z');
  std::string prefix = WriteMegatron("bad", data);
  ExpectBadInput(ReadForeignTokens(prefix + ".idx", "auto"), "bad.idx", "MMIDIDX");
}

TEST_F(TokenImportTest, UnknownFormatName) {
  std::string path = WriteLlmc("any.bin", LlmcBytes({1}));
  ExpectBadInput(ReadForeignTokens(path, "parquet"), "any.bin", "parquet");
}

}  // namespace
}  // namespace lockstep::data
