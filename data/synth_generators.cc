#include "data/synth_generators.h"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/counter_rng.h"

namespace lockstep::data {
namespace {

// The draws of one corpus, taken in sequence from a single CounterRng stream.
// Every choice takes the next index, so the text depends only on the seed and
// on the order of the choices. That order must be fixed by the code, never by
// the compiler: C++ leaves the evaluation order of function arguments and of
// `a + b` unspecified, so no expression below makes two draws; each draw (or
// each call that draws) is its own statement.
class Draws {
 public:
  Draws(std::uint64_t seed, std::string_view purpose) : rng_(seed, purpose) {}

  std::uint64_t Below(std::uint64_t bound) { return rng_.Below(next_++, bound); }
  std::uint64_t Between(std::uint64_t lo, std::uint64_t hi) { return lo + Below(hi - lo + 1); }
  bool OneIn(std::uint64_t n) { return Below(n) == 0; }

  template <typename T, std::size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }

 private:
  CounterRng rng_;
  std::uint64_t next_ = 0;
};

using DocumentWriter = void (*)(Draws&, std::string&);

std::vector<std::uint32_t> Generate(std::uint64_t min_tokens, std::uint64_t seed,
                                    std::string_view purpose, DocumentWriter write) {
  Draws draws(seed, purpose);
  std::vector<std::uint32_t> tokens;
  std::string document;
  while (tokens.size() < min_tokens) {
    document.clear();
    write(draws, document);
    for (char c : document) tokens.push_back(static_cast<unsigned char>(c));
    tokens.push_back(kEndOfDocument);
  }
  return tokens;
}

// Decimal digits by hand rather than std::to_string, so that no C library or
// locale stands between the number and its bytes.
void AppendNumber(std::uint64_t value, std::string& out) {
  char digits[20];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (count > 0) out += digits[--count];
}

// ---------------------------------------------------------------------------
// Prose. Agreement gives the model a long-range dependency to learn: the verb's
// form depends on the subject's determiner and noun, an adjective or two back.

struct Inflected {
  std::string_view singular;
  std::string_view plural;
};

// No "a"/"an": the article would depend on the next word's first letter.
constexpr std::string_view kSingularDeterminers[] = {"the", "this", "that", "every",
                                                     "one", "my",   "her",  "his"};
constexpr std::string_view kPluralDeterminers[] = {"the",  "these", "those", "some",
                                                   "many", "two",   "our",   "their"};
constexpr std::string_view kAdjectives[] = {
    "old",   "young", "quiet", "loud",  "small",  "large", "green",  "red",
    "brave", "tired", "happy", "sad",   "clever", "slow",  "quick",  "bright",
    "dark",  "warm",  "cold",  "proud", "gentle", "busy",  "hungry", "strange"};
constexpr Inflected kNouns[] = {
    {"dog", "dogs"},       {"cat", "cats"},         {"fox", "foxes"},      {"bird", "birds"},
    {"child", "children"}, {"teacher", "teachers"}, {"farmer", "farmers"}, {"king", "kings"},
    {"queen", "queens"},   {"river", "rivers"},     {"house", "houses"},   {"ship", "ships"},
    {"tree", "trees"},     {"garden", "gardens"},   {"city", "cities"},    {"village", "villages"},
    {"box", "boxes"},      {"book", "books"},       {"letter", "letters"}, {"horse", "horses"},
    {"wolf", "wolves"},    {"man", "men"},          {"woman", "women"},    {"stone", "stones"}};
constexpr Inflected kVerbs[] = {
    {"sees", "see"},           {"watches", "watch"},  {"carries", "carry"}, {"finds", "find"},
    {"likes", "like"},         {"follows", "follow"}, {"helps", "help"},    {"chases", "chase"},
    {"remembers", "remember"}, {"visits", "visit"},   {"paints", "paint"},  {"builds", "build"},
    {"guards", "guard"},       {"hears", "hear"},     {"knows", "know"},    {"loves", "love"},
    {"fears", "fear"},         {"pushes", "push"},    {"touches", "touch"}, {"reaches", "reach"},
    {"admires", "admire"},     {"calls", "call"},     {"leaves", "leave"},  {"has", "have"}};
constexpr std::string_view kPrepositions[] = {"near",   "behind", "under", "beside", "with",
                                              "across", "inside", "above", "around", "past"};

void AppendNounPhrase(Draws& d, bool plural, std::string& out) {
  out += plural ? d.Pick(kPluralDeterminers) : d.Pick(kSingularDeterminers);
  int adjectives = static_cast<int>(d.Below(4)) - 1;  // none half the time, else one or two
  for (int i = 0; i < adjectives; ++i) {
    out += ' ';
    out += d.Pick(kAdjectives);
  }
  const Inflected& noun = d.Pick(kNouns);
  out += ' ';
  out += plural ? noun.plural : noun.singular;
}

void WriteProse(Draws& d, std::string& doc) {
  std::uint64_t sentences = d.Between(3, 8);
  for (std::uint64_t s = 0; s < sentences; ++s) {
    if (s > 0) doc += ' ';
    std::size_t start = doc.size();
    bool plural_subject = d.OneIn(2);
    AppendNounPhrase(d, plural_subject, doc);
    const Inflected& verb = d.Pick(kVerbs);
    doc += ' ';
    doc += plural_subject ? verb.plural : verb.singular;
    doc += ' ';
    bool plural_object = d.OneIn(2);
    AppendNounPhrase(d, plural_object, doc);
    if (d.OneIn(2)) {
      doc += ' ';
      doc += d.Pick(kPrepositions);
      doc += ' ';
      bool plural_place = d.OneIn(2);
      AppendNounPhrase(d, plural_place, doc);
    }
    doc += '.';
    doc[start] = static_cast<char>(doc[start] - 'a' + 'A');  // words are lowercase ASCII
  }
}

// ---------------------------------------------------------------------------
// Arithmetic. Every line is true, so the digits after '=' are predictable from
// those before it: the loss on them falls only as the model learns to add.

void WriteArithmetic(Draws& d, std::string& doc) {
  std::uint64_t lines = d.Between(10, 30);
  for (std::uint64_t l = 0; l < lines; ++l) {
    std::uint64_t a = d.Between(0, 99);
    std::uint64_t b = d.Between(0, 99);
    char op = "+-*"[d.Below(3)];
    if (op == '-' && a < b) std::swap(a, b);  // results stay non-negative
    std::uint64_t result = op == '+' ? a + b : op == '-' ? a - b : a * b;
    AppendNumber(a, doc);
    doc += op;
    AppendNumber(b, doc);
    doc += '=';
    AppendNumber(result, doc);
    doc += '\n';
  }
}

// ---------------------------------------------------------------------------
// Code. Brackets are only ever written in matched pairs around a recursive
// call, so they balance by construction; what the model must learn is which
// closer comes next and how deep to indent.

constexpr int kMaxBlockDepth = 4;  // the function body is depth 1

constexpr std::string_view kFunctionNames[] = {"add",  "scale", "merge", "count", "find", "clamp",
                                               "swap", "step",  "fold",  "scan",  "mix",  "walk"};
constexpr std::string_view kVariables[] = {"a", "b", "c",   "i",   "j",   "k",
                                           "n", "x", "sum", "acc", "len", "pos"};
constexpr std::string_view kArrays[] = {"xs", "ys", "buf", "data", "out"};
constexpr std::string_view kArithmeticOps[] = {" + ", " - ", " * "};
constexpr std::string_view kComparisons[] = {" < ", " > ", " == ", " != ", " <= "};

void AppendExpression(Draws& d, int budget, std::string& out);

void AppendCall(Draws& d, int budget, std::string& out) {
  out += d.Pick(kFunctionNames);
  out += '(';
  AppendExpression(d, budget, out);
  out += ", ";
  AppendExpression(d, budget, out);
  out += ')';
}

// A variable, a digit, or (while `budget` lasts) an indexing, a call or a
// parenthesised sum, each of which spends budget to keep lines short.
void AppendOperand(Draws& d, int budget, std::string& out) {
  std::uint64_t kind = d.Below(budget > 0 ? 6 : 2);
  if (kind == 0) {
    out += d.Pick(kVariables);
  } else if (kind == 1) {
    AppendNumber(d.Below(10), out);
  } else if (kind <= 3) {
    out += d.Pick(kArrays);
    out += '[';
    AppendExpression(d, budget - 1, out);
    out += ']';
  } else if (kind == 4) {
    AppendCall(d, budget - 1, out);
  } else {
    out += '(';
    AppendOperand(d, budget - 1, out);
    out += d.Pick(kArithmeticOps);
    AppendOperand(d, budget - 1, out);
    out += ')';
  }
}

void AppendExpression(Draws& d, int budget, std::string& out) {
  AppendOperand(d, budget, out);
  if (d.OneIn(3)) {
    out += d.Pick(kArithmeticOps);
    AppendOperand(d, budget, out);
  }
}

void Indent(int depth, std::string& out) {
  out.append(static_cast<std::size_t>(2 * depth), ' ');
}

// Nested blocks are short (1-2 statements) so that a block holds on average
// fewer than one inner block: functions stay a few hundred bytes, within a tiny
// model's context, while depth 4 is still reached now and then.
void AppendStatements(Draws& d, int depth, bool may_return, std::string& out) {
  std::uint64_t count = depth == 1 ? d.Between(2, 4) : d.Between(1, 2);
  for (std::uint64_t s = 0; s < count; ++s) {
    Indent(depth, out);
    std::uint64_t kind = d.Below(depth < kMaxBlockDepth ? 5 : 3);
    if (kind == 0) {  // x = expr;
      out += d.Pick(kVariables);
      out += " = ";
      AppendExpression(d, 2, out);
    } else if (kind == 1) {  // xs[expr] = expr;
      out += d.Pick(kArrays);
      out += '[';
      AppendExpression(d, 1, out);
      out += "] = ";
      AppendExpression(d, 1, out);
    } else if (kind == 2) {  // f(expr, expr);
      AppendCall(d, 1, out);
    } else if (kind == 3) {  // if (cond) { ... }, sometimes with else { ... }
      out += "if (";
      AppendOperand(d, 1, out);
      out += d.Pick(kComparisons);
      AppendOperand(d, 1, out);
      out += ") {\n";
      AppendStatements(d, depth + 1, true, out);
      Indent(depth, out);
      out += '}';
      if (d.OneIn(3)) {
        out += " else {\n";
        AppendStatements(d, depth + 1, true, out);
        Indent(depth, out);
        out += '}';
      }
      out += '\n';
      continue;
    } else {  // while (v < bound) { ...; v = v + 1; }: the counter recurs, a pattern to learn
      std::string_view counter = d.Pick(kVariables);
      out += "while (";
      out += counter;
      out += " < ";
      AppendOperand(d, 1, out);
      out += ") {\n";
      AppendStatements(d, depth + 1, false, out);  // a return would skip the increment
      Indent(depth + 1, out);
      out += counter;
      out += " = ";
      out += counter;
      out += " + 1;\n";
      Indent(depth, out);
      out += "}\n";
      continue;
    }
    out += ";\n";
  }
  if (may_return && d.OneIn(4)) {  // an early return inside a block
    Indent(depth, out);
    out += "return ";
    AppendExpression(d, 1, out);
    out += ";\n";
  }
}

void WriteCode(Draws& d, std::string& doc) {
  std::uint64_t functions = d.Between(1, 4);
  for (std::uint64_t f = 0; f < functions; ++f) {
    if (f > 0) doc += '\n';
    doc += "fn ";
    doc += d.Pick(kFunctionNames);
    doc += '(';
    // Parameters are a run of consecutive names, so they never repeat.
    std::uint64_t first = d.Below(std::size(kVariables) - 2);
    std::uint64_t params = d.Between(1, 3);
    for (std::uint64_t p = 0; p < params; ++p) {
      if (p > 0) doc += ", ";
      doc += kVariables[first + p];
    }
    doc += ") {\n";
    AppendStatements(d, 1, false, doc);  // the function's own return follows
    Indent(1, doc);
    doc += "return ";
    AppendExpression(d, 2, doc);
    doc += ";\n}\n";
  }
}

}  // namespace

std::vector<std::uint32_t> GenerateProse(std::uint64_t min_tokens, std::uint64_t seed) {
  return Generate(min_tokens, seed, "synth/prose", WriteProse);
}

std::vector<std::uint32_t> GenerateArithmetic(std::uint64_t min_tokens, std::uint64_t seed) {
  return Generate(min_tokens, seed, "synth/arithmetic", WriteArithmetic);
}

std::vector<std::uint32_t> GenerateCode(std::uint64_t min_tokens, std::uint64_t seed) {
  return Generate(min_tokens, seed, "synth/code", WriteCode);
}

}  // namespace lockstep::data
