// Synthetic corpora: small, byte-level training text that lockstep can make
// anywhere, with no download, and that a tiny transformer visibly learns.
//
// Three corpora, each with structure of a different kind:
//   prose       sentences from a small grammar: "The quiet fox watches two
//               old ships near the river." Subject and verb agree in number.
//   arithmetic  lines of true facts, operands 0..99: "37+45=82\n", "12*7=84\n".
//   code        bracket-structured pseudo-code: functions with nested if/while
//               blocks, calls f(a, b), indexing xs[i], 2-space indentation.
//
// Tokens are bytes (0..255) plus kEndOfDocument, which follows every document.
// A corpus is a pure function of (min_tokens, seed): all randomness comes from
// CounterRng and all arithmetic is on integers, so the bytes are the same on
// every machine, compiler and standard library. Documents are drawn in order
// from one stream, so a shorter corpus is a prefix of a longer one with the
// same seed.
#ifndef LOCKSTEP_DATA_SYNTH_GENERATORS_H_
#define LOCKSTEP_DATA_SYNTH_GENERATORS_H_

#include <cstdint>
#include <vector>

namespace lockstep::data {

inline constexpr std::uint32_t kByteVocab = 257;  // bytes 0..255, 256 = end of document
inline constexpr std::uint32_t kEndOfDocument = 256;

// Each returns whole documents of ASCII text, each followed by kEndOfDocument,
// until at least `min_tokens` tokens exist: generation stops after the document
// that reaches `min_tokens`, so the result is usually a little longer (and
// empty when `min_tokens` is 0).

// Documents of 3-8 sentences.
std::vector<std::uint32_t> GenerateProse(std::uint64_t min_tokens, std::uint64_t seed);

// Documents of 10-30 lines "A+B=C\n", "A-B=C\n" (A >= B) or "A*B=C\n".
std::vector<std::uint32_t> GenerateArithmetic(std::uint64_t min_tokens, std::uint64_t seed);

// Documents of 1-4 functions, blocks nested at most 4 deep (the function body
// is depth 1), separated by blank lines.
std::vector<std::uint32_t> GenerateCode(std::uint64_t min_tokens, std::uint64_t seed);

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_SYNTH_GENERATORS_H_
