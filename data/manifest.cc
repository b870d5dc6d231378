#include "data/manifest.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "core/atomic_file.h"
#include "core/toml_fields.h"

namespace lockstep::data {
namespace {

// Turns a toml11 node into a "file:line: key" prefix for messages.
std::string Where(const std::string& origin, const toml::value& v, const std::string& key) {
  auto loc = v.location();
  if (loc.line() == 0) return fmt::format("{}: {}", origin, key);
  return fmt::format("{}:{}: {}", origin, loc.line(), key);
}

// The table's keys that are not in `known`, reported as an error naming the
// first one: a typo in a key must not be silently ignored.
Status RejectUnknownKeys(const toml::value& table, const std::set<std::string>& known,
                         const std::string& origin, const std::string& context) {
  for (const auto& [key, value] : table.as_table()) {
    if (known.count(key) == 0) {
      std::string valid;
      for (const auto& k : known) valid += (valid.empty() ? "" : ", ") + k;
      return Status::BadInput(fmt::format("{}: unknown key \"{}\" in {}; valid keys: {}",
                                          Where(origin, value, key), key, context, valid));
    }
  }
  return Status::Ok();
}

template <typename T>
Result<T> Required(const toml::value& table, const std::string& key, const std::string& origin,
                   const std::string& context) {
  if (!table.contains(key)) {
    return Status::BadInput(
        fmt::format("{}: {} is missing the required key \"{}\"", origin, context, key));
  }
  const toml::value& v = table.at(key);
  try {
    return toml::get<T>(v);
  } catch (const std::exception&) {
    return Status::BadInput(fmt::format("{}: has the wrong type in {} (got {})",
                                        Where(origin, v, key), context, toml::stringize(v.type())));
  }
}

Result<std::uint64_t> NonNegative(const toml::value& table, const std::string& key,
                                  const std::string& origin, const std::string& context) {
  Result<std::int64_t> v = Required<std::int64_t>(table, key, origin, context);
  if (!v.ok()) return v.status();
  if (*v < 0) {
    return Status::BadInput(
        fmt::format("{}: must be >= 0, got {}", Where(origin, table.at(key), key), *v));
  }
  return static_cast<std::uint64_t>(*v);
}

Result<BlendSchedule> ParseSchedule(const toml::value& array, const std::string& origin,
                                    const std::vector<std::string>& names) {
  if (!array.is_array()) {
    return Status::BadInput(fmt::format("{}: must be an array of tables ([[schedule]])",
                                        Where(origin, array, "schedule")));
  }
  BlendSchedule schedule;
  for (const toml::value& seg_value : array.as_array()) {
    std::string context = fmt::format("[[schedule]] segment {}", schedule.segments.size() + 1);
    if (!seg_value.is_table()) {
      return Status::BadInput(fmt::format("{}: {} is not a table", origin, context));
    }
    LOCKSTEP_RETURN_IF_ERROR(
        RejectUnknownKeys(seg_value, {"from_step", "weights"}, origin, context));
    BlendSegment seg;
    Result<std::uint64_t> from = NonNegative(seg_value, "from_step", origin, context);
    if (!from.ok()) return from.status();
    seg.from_step = *from;
    if (!seg_value.contains("weights") || !seg_value.at("weights").is_table()) {
      return Status::BadInput(fmt::format(
          "{}: {} needs a table `weights = {{ corpus = weight, ... }}`", origin, context));
    }
    seg.weights.assign(names.size(), 0.0);  // a corpus left out has weight 0
    for (const auto& [name, w] : seg_value.at("weights").as_table()) {
      auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end()) {
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        return Status::BadInput(
            fmt::format("{}: {} names unknown corpus \"{}\"; corpora in the manifest: {}",
                        Where(origin, w, "weights." + name), context, name, known));
      }
      if (!w.is_floating() && !w.is_integer()) {
        return Status::BadInput(
            fmt::format("{}: weight must be a number", Where(origin, w, "weights." + name)));
      }
      seg.weights[static_cast<std::size_t>(it - names.begin())] =
          w.is_floating() ? w.as_floating() : static_cast<double>(w.as_integer());
    }
    schedule.segments.push_back(std::move(seg));
  }
  LOCKSTEP_RETURN_IF_ERROR(ValidateSchedule(schedule, names, origin));
  return schedule;
}

// toml11's syntax_error carries the line of the region it was parsing, but
// the exact point is only in its rendered message: the last snippet line
// " N | text" followed by "   |    ^--- ...". Returns {line, column} of that
// caret, or {0, 0} if the message has none.
std::pair<std::size_t, std::size_t> CaretPosition(const std::string& message) {
  std::pair<std::size_t, std::size_t> found{0, 0};
  std::istringstream lines(message);
  std::string line, previous;
  while (std::getline(lines, line)) {
    auto bar = line.find(" | ");
    auto caret = line.find('^');
    auto prev_bar = previous.find(" | ");
    if (bar != std::string::npos && caret != std::string::npos && caret > bar &&
        line.find_first_not_of(' ') == bar + 1 && prev_bar != std::string::npos) {
      std::size_t number = 0;
      for (char c : previous.substr(0, prev_bar)) {
        if (c >= '0' && c <= '9') number = number * 10 + static_cast<std::size_t>(c - '0');
      }
      if (number > 0) found = {number, caret - (bar + 3) + 1};
    }
    previous = line;
  }
  return found;
}

Result<toml::value> ParseToml(std::string_view text, const std::string& origin) {
  LOCKSTEP_RETURN_IF_ERROR(CheckUtf8(text, origin));
  LOCKSTEP_RETURN_IF_ERROR(CheckTomlNesting(text, origin));
  std::istringstream in{std::string(text)};
  try {
    return toml::parse(in, origin);
  } catch (const toml::syntax_error& e) {
    auto [line, column] = CaretPosition(e.what());
    if (line == 0) {
      line = e.location().line();
      column = e.location().column();
    }
    return Status::BadInput(
        fmt::format("{}:{}:{}: TOML syntax error; fix the file at that line and column\n{}", origin,
                    line, column, e.what()));
  } catch (const std::exception& e) {
    return Status::BadInput(fmt::format("{}: cannot parse TOML: {}", origin, e.what()));
  }
}

Result<Corpus> ParseCorpus(const toml::value& cv, const std::string& origin, std::size_t index) {
  std::string context = fmt::format("[[corpus]] {}", index + 1);
  if (!cv.is_table())
    return Status::BadInput(fmt::format("{}: {} is not a table", origin, context));
  LOCKSTEP_RETURN_IF_ERROR(RejectUnknownKeys(cv, {"name", "shards"}, origin, context));
  Corpus corpus;
  Result<std::string> name = Required<std::string>(cv, "name", origin, context);
  if (!name.ok()) return name.status();
  corpus.name = *name;
  context = fmt::format("corpus \"{}\"", corpus.name);
  if (!cv.contains("shards") || !cv.at("shards").is_array() || cv.at("shards").size() == 0) {
    return Status::BadInput(fmt::format(
        "{}: {} needs a non-empty array `shards = [ {{ path = ..., tokens = ..., xxh3_128 = ... "
        "}} ]`",
        origin, context));
  }
  for (const toml::value& sv : cv.at("shards").as_array()) {
    std::string shard_context = fmt::format("{} shard {}", context, corpus.shards.size() + 1);
    if (!sv.is_table()) {
      return Status::BadInput(fmt::format("{}: {} is not a table", origin, shard_context));
    }
    LOCKSTEP_RETURN_IF_ERROR(
        RejectUnknownKeys(sv, {"path", "tokens", "xxh3_128"}, origin, shard_context));
    ShardEntry shard;
    Result<std::string> path = Required<std::string>(sv, "path", origin, shard_context);
    if (!path.ok()) return path.status();
    shard.path = *path;
    Result<std::uint64_t> tokens = NonNegative(sv, "tokens", origin, shard_context);
    if (!tokens.ok()) return tokens.status();
    shard.tokens = *tokens;
    Result<std::string> hex = Required<std::string>(sv, "xxh3_128", origin, shard_context);
    if (!hex.ok()) return hex.status();
    std::optional<Digest128> digest = Digest128::FromHex(*hex);
    if (!digest) {
      return Status::BadInput(fmt::format(
          "{}: \"{}\" is not 32 hex digits; `lockstep data inspect {}` prints the digest",
          Where(origin, sv.at("xxh3_128"), "xxh3_128"), *hex, shard.path));
    }
    shard.digest = *digest;
    corpus.shards.push_back(std::move(shard));
  }
  return corpus;
}

}  // namespace

std::uint64_t Corpus::tokens() const {
  std::uint64_t n = 0;
  for (const ShardEntry& s : shards) n += s.tokens;
  return n;
}

int Manifest::FindCorpus(std::string_view name) const {
  for (std::size_t i = 0; i < corpora.size(); ++i) {
    if (corpora[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> Manifest::CorpusNames() const {
  std::vector<std::string> names;
  for (const Corpus& c : corpora) names.push_back(c.name);
  return names;
}

std::string Manifest::ResolvePath(const ShardEntry& shard) const {
  std::filesystem::path p(shard.path);
  if (p.is_absolute() || base_dir.empty()) return p.string();
  return (std::filesystem::path(base_dir) / p).string();
}

std::vector<std::pair<std::string, std::string>> Manifest::CorpusDigests() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Corpus& corpus : corpora) {
    std::string pins;
    for (const ShardEntry& s : corpus.shards)
      pins += fmt::format("{}:{} ", s.tokens, s.digest.Hex());
    out.emplace_back(corpus.name, Hex64(Xxh3_64(pins.data(), pins.size())));
  }
  return out;
}

std::uint64_t Manifest::Digest() const {
  // A fixed, explicit serialisation: field order and widths never change
  // without a format version bump.
  std::string canon =
      fmt::format("lockstep-manifest-v1 seed={} seq_len={} vocab={}\n", seed, seq_len, vocab_size);
  for (const Corpus& c : corpora) {
    canon += fmt::format("corpus {}\n", c.name);
    for (const ShardEntry& s : c.shards) canon += fmt::format("{} {}\n", s.tokens, s.digest.Hex());
  }
  for (const BlendSegment& seg : schedule.segments) {
    canon += fmt::format("segment {}", seg.from_step);
    for (std::uint64_t q : QuantizeWeights(seg.weights)) canon += fmt::format(" {}", q);
    canon += "\n";
  }
  return Xxh3_64(canon.data(), canon.size());
}

std::string Manifest::ToToml() const {
  std::string out =
      "# lockstep data manifest: shards pinned by XXH3-128, blended by weights.\n"
      "# Format: data/README.md. Shard paths are relative to this file's directory.\n";
  out += fmt::format("seed = {}\nseq_len = {}\nvocab_size = {}\n", seed, seq_len, vocab_size);
  for (const Corpus& c : corpora) {
    out += fmt::format("\n[[corpus]]\nname = \"{}\"\nshards = [\n", c.name);
    for (const ShardEntry& s : c.shards) {
      out += fmt::format("  {{ path = \"{}\", tokens = {}, xxh3_128 = \"{}\" }},\n", s.path,
                         s.tokens, s.digest.Hex());
    }
    out += "]\n";
  }
  for (const BlendSegment& seg : schedule.segments) {
    out += fmt::format("\n[[schedule]]\nfrom_step = {}\nweights = {{ ", seg.from_step);
    for (std::size_t c = 0; c < seg.weights.size(); ++c) {
      // {} prints the shortest text that reads back as the same double; TOML
      // wants a '.' or an exponent to read it as a float.
      std::string w = fmt::format("{}", seg.weights[c]);
      if (w.find_first_of(".e") == std::string::npos) w += ".0";
      out += fmt::format("{}{} = {}", c ? ", " : "", corpora[c].name, w);
    }
    out += " }\n";
  }
  return out;
}

Result<Manifest> ParseManifest(std::string_view text, const std::string& origin,
                               const std::string& base_dir) {
  Result<toml::value> root = ParseToml(text, origin);
  if (!root.ok()) return root.status();
  const toml::value& doc = *root;
  LOCKSTEP_RETURN_IF_ERROR(RejectUnknownKeys(
      doc, {"seed", "seq_len", "vocab_size", "corpus", "schedule"}, origin, "the manifest"));
  Manifest m;
  m.origin = origin;
  m.base_dir = base_dir;
  Result<std::uint64_t> seed = NonNegative(doc, "seed", origin, "the manifest");
  if (!seed.ok()) return seed.status();
  m.seed = *seed;
  Result<std::uint64_t> seq_len = NonNegative(doc, "seq_len", origin, "the manifest");
  if (!seq_len.ok()) return seq_len.status();
  if (*seq_len == 0 || *seq_len > (1u << 24)) {
    return Status::BadInput(fmt::format("{}: seq_len = {} must be between 1 and 16777216",
                                        Where(origin, doc.at("seq_len"), "seq_len"), *seq_len));
  }
  m.seq_len = static_cast<std::uint32_t>(*seq_len);
  Result<std::uint64_t> vocab = NonNegative(doc, "vocab_size", origin, "the manifest");
  if (!vocab.ok()) return vocab.status();
  if (*vocab == 0 || *vocab > 0xffffffffULL) {
    return Status::BadInput(fmt::format("{}: vocab_size = {} must be between 1 and 2^32 - 1",
                                        Where(origin, doc.at("vocab_size"), "vocab_size"), *vocab));
  }
  m.vocab_size = static_cast<std::uint32_t>(*vocab);

  if (!doc.contains("corpus") || !doc.at("corpus").is_array() || doc.at("corpus").size() == 0) {
    return Status::BadInput(fmt::format(
        "{}: no [[corpus]] table; add one with a name and its shards (`lockstep data build` "
        "writes them)",
        origin));
  }
  std::set<std::string> seen;
  for (const toml::value& cv : doc.at("corpus").as_array()) {
    Result<Corpus> corpus = ParseCorpus(cv, origin, m.corpora.size());
    if (!corpus.ok()) return corpus.status();
    if (!seen.insert(corpus->name).second) {
      return Status::BadInput(fmt::format("{}: corpus \"{}\" is listed twice; merge the entries",
                                          origin, corpus->name));
    }
    m.corpora.push_back(std::move(corpus).value());
  }
  if (!doc.contains("schedule")) {
    return Status::BadInput(fmt::format(
        "{}: no [[schedule]]; add `[[schedule]]` with `from_step = 0` and `weights = {{ {} = 1.0 "
        "}}`",
        origin, m.corpora[0].name));
  }
  Result<BlendSchedule> schedule = ParseSchedule(doc.at("schedule"), origin, m.CorpusNames());
  if (!schedule.ok()) return schedule.status();
  m.schedule = std::move(schedule).value();
  return m;
}

Result<Manifest> LoadManifest(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return Status::BadInput(text.status().message() +
                            " (pass --manifest FILE; `lockstep data synth --out DIR` writes one)");
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return ParseManifest(*text, path, dir);
}

Status SaveManifest(const Manifest& manifest, const std::string& path) {
  return WriteFileAtomically(path, manifest.ToToml());
}

Result<BlendSchedule> ParseScheduleToml(std::string_view text, const std::string& origin,
                                        const std::vector<std::string>& corpus_names) {
  Result<toml::value> root = ParseToml(text, origin);
  if (!root.ok()) return root.status();
  if (!root->contains("schedule")) {
    return Status::BadInput(fmt::format("{}: no [[schedule]] array", origin));
  }
  return ParseSchedule(root->at("schedule"), origin, corpus_names);
}

}  // namespace lockstep::data
