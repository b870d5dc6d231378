#include "trainer/evaluation.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "data/synth.h"
#include "data/synth_generators.h"
#include "data/token_source.h"

namespace lockstep::trainer {

namespace {

// The corpus whose held-out text has a task with an exact answer.
constexpr char kArithCorpus[] = "arith";

bool IsDigit(std::uint32_t t) {
  return t >= '0' && t <= '9';
}

// Reads the decimal number at text[*at...] (at most 9 digits, so no
// overflow); false if there is none.
bool ReadNumber(std::span<const std::uint32_t> text, std::size_t* at, std::uint64_t* value) {
  std::size_t begin = *at;
  *value = 0;
  while (*at < text.size() && IsDigit(text[*at]) && *at - begin < 9) {
    *value = *value * 10 + (text[*at] - '0');
    ++*at;
  }
  return *at > begin && (*at >= text.size() || !IsDigit(text[*at]));
}

// The fact on the line starting at `begin`, if the line is one.
std::optional<ArithFact> ParseFact(std::span<const std::uint32_t> text, std::size_t begin) {
  std::size_t at = begin;
  std::uint64_t a = 0, b = 0, c = 0;
  if (!ReadNumber(text, &at, &a) || at >= text.size()) return std::nullopt;
  const std::uint32_t op = text[at++];
  if (op != '+' && op != '-' && op != '*') return std::nullopt;
  if (!ReadNumber(text, &at, &b) || at >= text.size() || text[at] != '=') return std::nullopt;
  const std::size_t equals = at++;
  if (!ReadNumber(text, &at, &c) || at >= text.size() || text[at] != '\n') return std::nullopt;
  const bool true_fact = op == '+' ? a + b == c : op == '*' ? a * b == c : a >= b && a - b == c;
  if (!true_fact || at - equals > kMaxAnswerTokens) return std::nullopt;
  ArithFact fact;
  fact.prompt.assign(text.begin() + static_cast<std::ptrdiff_t>(begin),
                     text.begin() + static_cast<std::ptrdiff_t>(equals + 1));
  fact.answer.assign(text.begin() + static_cast<std::ptrdiff_t>(equals + 1),
                     text.begin() + static_cast<std::ptrdiff_t>(at + 1));
  return fact;
}

// The first `tokens` tokens of the corpus `name` of the manifest at
// data.eval_manifest, its shards in order.
Result<std::vector<std::uint32_t>> HeldOutFromManifest(const data::Manifest& eval,
                                                       const data::TokenSource& source,
                                                       const std::string& name,
                                                       std::uint64_t tokens,
                                                       const TrainConfig& config) {
  const int c = eval.FindCorpus(name);
  if (c < 0) {
    return Status::BadInput(fmt::format(
        "{}: data.eval_manifest {} has no corpus \"{}\" (it has: {}); the held-out manifest "
        "needs every training corpus, by name",
        config.origin, eval.origin, name, fmt::join(eval.CorpusNames(), ", ")));
  }
  const data::Corpus& corpus = eval.corpora[static_cast<std::size_t>(c)];
  if (corpus.tokens() < tokens) {
    return Status::BadInput(fmt::format(
        "{}: corpus \"{}\" of data.eval_manifest {} holds {} tokens, fewer than eval.tokens = {}; "
        "lower eval.tokens or add held-out shards",
        config.origin, name, eval.origin, corpus.tokens(), tokens));
  }
  std::vector<std::uint32_t> out(tokens);
  std::uint64_t filled = 0;
  for (std::size_t s = 0; s < corpus.shards.size() && filled < tokens; ++s) {
    const data::Shard& shard = source.shard(static_cast<std::size_t>(c), s);
    const std::uint64_t n = std::min<std::uint64_t>(shard.size(), tokens - filled);
    shard.CopyTokens(0, std::span<std::uint32_t>(out).subspan(filled, n));
    filled += n;
  }
  return out;
}

}  // namespace

Result<Evaluator> Evaluator::Create(const TrainConfig& config, const data::Manifest& manifest) {
  Evaluator e;
  e.every_ = config.eval_every;
  e.last_step_ = config.steps;
  e.seq_len_ = manifest.seq_len;
  const auto tokens = static_cast<std::uint64_t>(config.eval_tokens);
  const std::uint64_t T = manifest.seq_len;
  e.samples_ = (tokens - 1) / T;
  if (e.samples_ == 0) {
    return Status::BadInput(fmt::format(
        "{}: eval.tokens = {} is too few for one evaluation sample of seq_len + 1 = {} tokens; "
        "set eval.tokens >= {}",
        config.origin, tokens, T + 1, T + 1));
  }

  std::optional<data::Manifest> eval;
  std::optional<data::TokenSource> source;
  if (!config.eval_manifest.empty()) {
    namespace fs = std::filesystem;
    fs::path p(config.eval_manifest);
    if (!p.is_absolute() && !config.base_dir.empty()) p = fs::path(config.base_dir) / p;
    Result<data::Manifest> m = data::LoadManifest(p.string());
    if (!m.ok()) return m.status().WithContext(config.origin + ": data.eval_manifest");
    if (m->vocab_size > static_cast<std::uint32_t>(config.model.vocab_size)) {
      return Status::BadInput(fmt::format(
          "{}: data.eval_manifest {} has vocab_size = {}, more than model.vocab_size = {}; use "
          "held-out shards of the training vocabulary",
          config.origin, m->origin, m->vocab_size, config.model.vocab_size));
    }
    Result<data::TokenSource> s = data::TokenSource::Open(*m);
    if (!s.ok()) return s.status().WithContext(config.origin + ": data.eval_manifest");
    eval = std::move(m).value();
    source = std::move(s).value();
  } else if (config.manifest != "embedded") {
    return Status::BadInput(fmt::format(
        "{}: eval.every = {} needs held-out text: set data.eval_manifest to a manifest of "
        "held-out shards (data.manifest is not \"embedded\")",
        config.origin, config.eval_every));
  }

  for (const data::Corpus& corpus : manifest.corpora) {
    HeldOut h;
    h.name = corpus.name;
    Result<std::vector<std::uint32_t>> text =
        eval ? HeldOutFromManifest(*eval, *source, corpus.name, tokens, config)
             : data::HeldOutSynthetic(corpus.name, tokens);
    if (!text.ok()) return eval ? text.status() : text.status().WithContext(config.origin);
    h.tokens = std::move(text).value();
    h.has_task = corpus.name == kArithCorpus && config.eval_prompts > 0;
    if (h.has_task) {
      const auto prompts = static_cast<std::size_t>(config.eval_prompts);
      h.facts = ExtractArithFacts(h.tokens, prompts);
      if (h.facts.size() < prompts) {
        return Status::BadInput(fmt::format(
            "{}: eval.prompts = {}, but the {} held-out tokens of \"{}\" (eval.tokens) hold only "
            "{} whole facts \"A op B=C\"; lower eval.prompts or raise eval.tokens",
            config.origin, prompts, tokens, corpus.name, h.facts.size()));
      }
    }
    e.corpora_.push_back(std::move(h));
  }
  return e;
}

bool Evaluator::Due(int step) const {
  return every_ > 0 && (step == 1 || step % every_ == 0 || step == last_step_);
}

std::uint64_t Evaluator::predicted_tokens() const {
  return samples_ * seq_len_;
}

EvalResult Evaluator::Evaluate(Gpt<float>& model) const {
  const std::size_t T = seq_len_, B = static_cast<std::size_t>(model.micro_batch()), width = T + 1;
  if (static_cast<std::size_t>(model.config().seq_len) != T) {
    throw std::logic_error("Evaluator::Evaluate: the model's seq_len is not the manifest's");
  }
  std::vector<std::uint32_t> batch(B * width);
  EvalResult result;
  double all_sum = 0;
  for (const HeldOut& h : corpora_) {
    double sum = 0;
    for (std::size_t first = 0; first < samples_; first += B) {
      const std::size_t count = std::min(B, samples_ - first);
      for (std::size_t b = 0; b < count; ++b) {
        const auto at = h.tokens.begin() + static_cast<std::ptrdiff_t>((first + b) * T);
        std::copy(at, at + static_cast<std::ptrdiff_t>(width), batch.begin() + b * width);
      }
      model.Forward(batch.data(), static_cast<int>(count));
      for (std::size_t b = 0; b < count; ++b) sum += model.sequence_loss(static_cast<int>(b));
    }
    all_sum += sum;
    CorpusEval c;
    c.name = h.name;
    c.loss = sum / static_cast<double>(predicted_tokens());
    if (h.has_task) {
      TokenCount tokens;
      const std::vector<bool> matches = GreedyMatches(
          h.facts, B, T, static_cast<std::size_t>(model.config().vocab_size),
          [&model](const std::uint32_t* samples) {
            model.Forward(samples);
            return model.probs();
          },
          &tokens);
      c.accuracy = static_cast<double>(std::count(matches.begin(), matches.end(), true)) /
                   static_cast<double>(matches.size());
      c.token_accuracy = static_cast<double>(tokens.right) / static_cast<double>(tokens.total);
    }
    result.corpora.push_back(std::move(c));
  }
  result.loss = all_sum / static_cast<double>(predicted_tokens() *
                                              static_cast<std::uint64_t>(corpora_.size()));
  return result;
}

void AddToRecord(const EvalResult& result, StepRecord* record) {
  record->eval_loss = static_cast<float>(result.loss);
  record->eval_corpora.clear();
  for (const CorpusEval& c : result.corpora) {
    StepRecord::EvalCorpus r;
    r.name = c.name;
    r.loss = static_cast<float>(c.loss);
    if (c.accuracy) r.accuracy = static_cast<float>(*c.accuracy);
    if (c.token_accuracy) r.token_accuracy = static_cast<float>(*c.token_accuracy);
    record->eval_corpora.push_back(std::move(r));
  }
}

std::string FormatEval(const EvalResult& result) {
  std::string line = fmt::format("eval  loss {:.4f}", result.loss);
  for (const CorpusEval& c : result.corpora) {
    line += fmt::format("  {} {:.4f}", c.name, c.loss);
    if (c.accuracy) line += fmt::format(" (acc {:.3f}", *c.accuracy);
    if (c.token_accuracy) line += fmt::format(", tokens {:.3f}", *c.token_accuracy);
    if (c.accuracy) line += ")";
  }
  return line;
}

std::vector<ArithFact> ExtractArithFacts(std::span<const std::uint32_t> text, std::size_t count) {
  std::vector<ArithFact> facts;
  for (std::size_t begin = 0; begin < text.size() && facts.size() < count;) {
    if (std::optional<ArithFact> fact = ParseFact(text, begin)) facts.push_back(std::move(*fact));
    while (begin < text.size() && text[begin] != '\n' && text[begin] != data::kEndOfDocument) {
      ++begin;
    }
    ++begin;  // past the line's end
  }
  return facts;
}

std::uint32_t GreedyToken(std::span<const float> probs) {
  std::size_t best = 0;
  for (std::size_t v = 1; v < probs.size(); ++v) {
    if (probs[v] > probs[best]) best = v;
  }
  return static_cast<std::uint32_t>(best);
}

std::vector<bool> GreedyMatches(const std::vector<ArithFact>& facts, std::size_t batch,
                                std::size_t seq_len, std::size_t vocab, const ProbsFn& forward,
                                TokenCount* tokens) {
  TokenCount count_here;
  const std::size_t width = seq_len + 1;
  std::vector<bool> matches(facts.size(), false);
  std::vector<std::uint32_t> samples(batch * width);
  for (std::size_t first = 0; first < facts.size(); first += batch) {
    const std::size_t count = std::min(batch, facts.size() - first);
    std::fill(samples.begin(), samples.end(), kPadToken);
    std::vector<bool> fits(count);
    for (std::size_t b = 0; b < count; ++b) {
      const ArithFact& f = facts[first + b];
      // The last answer token is predicted at position |prompt| + |answer| - 2.
      fits[b] =
          !f.prompt.empty() && !f.answer.empty() && f.prompt.size() + f.answer.size() <= width;
      if (!fits[b]) continue;
      auto slot = samples.begin() + static_cast<std::ptrdiff_t>(b * width);
      slot = std::copy(f.prompt.begin(), f.prompt.end(), slot);
      std::copy(f.answer.begin(), f.answer.end(), slot);
    }
    const float* probs = forward(samples.data());
    for (std::size_t b = 0; b < count; ++b) {
      const ArithFact& f = facts[first + b];
      count_here.total += f.answer.size();
      if (!fits[b]) continue;
      bool match = true;
      for (std::size_t j = 0; j < f.answer.size(); ++j) {
        const float* row = probs + (b * seq_len + f.prompt.size() - 1 + j) * vocab;
        const bool right = GreedyToken({row, vocab}) == f.answer[j];
        count_here.right += right;
        match = match && right;
      }
      matches[first + b] = match;
    }
  }
  if (tokens != nullptr) *tokens = count_here;
  return matches;
}

}  // namespace lockstep::trainer
