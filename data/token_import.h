// Token import: read token streams that other projects wrote, so that they can
// be turned into lockstep shards (data/shard.h) without re-tokenizing.
//
// Two foreign formats are understood:
//
//   llm.c (karpathy/llm.c, dev/data/data_common.py write_datafile, "gpt-2"):
//     one .bin file; a header of 256 little-endian int32
//       [0] magic 20240520, [1] version 1, [2] token count, the rest 0,
//     then token-count uint16 tokens. The file has no document boundaries.
//     (llm.c's "llama-3" variant, magic 20240801 with uint32 tokens, is
//     recognised and refused with a message saying so.)
//
//   Megatron (NVIDIA Megatron-LM / Megatron-Core indexed dataset, version 1):
//     a pair PREFIX.idx + PREFIX.bin. The .idx, all little-endian:
//       9 bytes  magic "MMIDIDX\0\0"
//       uint64   version, 1
//       uint8    dtype code of the .bin: 1 uint8, 2 int8, 3 int16, 4 int32,
//                5 int64, 6 float64, 7 float32, 8 uint16
//       uint64   S, the number of sequences
//       uint64   D, the number of document indices (documents + 1)
//       int32    sequence_lengths[S]    tokens per sequence
//       int64    sequence_pointers[S]   byte offset of each sequence in .bin
//       int64    document_indices[D]    0, then the sequence index one past the
//                                       end of each document; the last is S
//       int8     sequence_modes[S]      only in multimodal datasets; ignored
//     The .bin holds the sequences' tokens in the dtype above.
//
// Every reader returns the whole stream in memory as uint32 tokens. Input that
// is not what it claims to be (missing file, wrong magic, unsupported version
// or dtype, truncation, offsets outside the file, negative token ids) is
// Status::BadInput naming the file, what is wrong and what to try; no input
// crashes the reader. The host must be little-endian.
#ifndef LOCKSTEP_DATA_TOKEN_IMPORT_H_
#define LOCKSTEP_DATA_TOKEN_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace lockstep::data {

// A token stream read from a foreign format.
struct ImportedTokens {
  std::vector<std::uint32_t> tokens;
  // llm.c: 1 (the file has no document structure; 0 if it holds no tokens).
  // Megatron: the number of documents, D - 1.
  std::uint64_t documents = 0;
  std::uint32_t max_token = 0;  // largest token id seen (0 if empty)
  std::string format;           // "llm.c" or "megatron"
};

// Reads a llm.c token file (the layout above). The file must hold exactly the
// header and the announced tokens: a short file and trailing bytes are both
// errors.
Result<ImportedTokens> ReadLlmcTokens(const std::string& path);

// Reads a Megatron indexed dataset. `prefix_or_path` is PREFIX or the path of
// either file (a trailing ".idx" or ".bin" is stripped to find PREFIX). The
// sequences are concatenated in index order, each read from its own pointer,
// so the .bin need not store them contiguously. Integer dtypes are accepted;
// signed ones (int8, int16, int32, int64) only while every token is in
// [0, 2^32). Float dtypes are refused.
Result<ImportedTokens> ReadMegatronIndexed(const std::string& prefix_or_path);

// Reads `path` in the named `format`: "llmc" (or "llm.c"), "megatron", or
// "auto", which looks at the contents: a file starting with the llm.c magic is
// llm.c; a path ending in ".idx", or a path whose PREFIX.idx starts with the
// Megatron magic, is Megatron. Anything else is BadInput suggesting --format.
Result<ImportedTokens> ReadForeignTokens(const std::string& path, const std::string& format);

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_TOKEN_IMPORT_H_
