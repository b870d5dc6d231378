// Held-out evaluation: the held-out text continues the training corpora and
// never overlaps them; a fresh model's loss is near ln(vocab) with the same
// bits on any thread count and leaves the model untouched; the greedy decoder
// and the exact-match comparison, against stub models; the [eval] keys.
#include "trainer/evaluation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/counter_rng.h"
#include "core/hexfloat.h"
#include "core/test_util.h"
#include "data/shard.h"
#include "data/synth.h"
#include "data/synth_generators.h"
#include "data/token_source.h"
#include "trainer/trainer.h"

namespace lockstep::trainer {
namespace {

using ::lockstep::testing::Contains;
using ::lockstep::testing::FreshTempDir;

constexpr char kSmoke[] = LOCKSTEP_SOURCE_DIR "/trainer/configs/smoke.toml";

std::vector<std::uint32_t> Bytes(const std::string& text) {
  return std::vector<std::uint32_t>(text.begin(), text.end());
}

TrainConfig SmokeConfig(std::vector<std::string> overrides = {}) {
  Result<TrainConfig> config = LoadTrainConfig(kSmoke, overrides);
  EXPECT_TRUE(config.ok()) << config.status().message();
  return *config;
}

data::Manifest TrainingData(const TrainConfig& config) {
  Result<data::Manifest> m = ResolveTrainingData(config);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return *m;
}

// A corpus's training tokens: its pinned shards, in order.
std::vector<std::uint32_t> TrainingTokens(const data::Manifest& m, const data::TokenSource& source,
                                          std::size_t c) {
  std::vector<std::uint32_t> tokens;
  for (std::size_t s = 0; s < m.corpora[c].shards.size(); ++s) {
    const data::Shard& shard = source.shard(c, s);
    std::vector<std::uint32_t> part(shard.size());
    shard.CopyTokens(0, part);
    tokens.insert(tokens.end(), part.begin(), part.end());
  }
  return tokens;
}

// Whole documents (each ending at kEndOfDocument) of `tokens`.
std::vector<std::vector<std::uint32_t>> Documents(const std::vector<std::uint32_t>& tokens) {
  std::vector<std::vector<std::uint32_t>> docs(1);
  for (std::uint32_t t : tokens) {
    docs.back().push_back(t);
    if (t == data::kEndOfDocument) docs.emplace_back();
  }
  docs.pop_back();  // unterminated, or empty
  return docs;
}

TEST(HeldOutTextTest, ContinuesEachGeneratorExactlyWhereTheTrainingShardsEnd) {
  const TrainConfig config = SmokeConfig();
  const data::Manifest m = TrainingData(config);
  Result<data::TokenSource> source = data::TokenSource::Open(m);
  ASSERT_TRUE(source.ok()) << source.status().message();
  const std::map<std::string, std::vector<std::uint32_t> (*)(std::uint64_t, std::uint64_t)>
      generators = {{"prose", data::GenerateProse},
                    {"arith", data::GenerateArithmetic},
                    {"code", data::GenerateCode}};
  ASSERT_EQ(m.corpora.size(), generators.size());
  for (std::size_t c = 0; c < m.corpora.size(); ++c) {
    const std::string& name = m.corpora[c].name;
    SCOPED_TRACE(name);
    const std::vector<std::uint32_t> train = TrainingTokens(m, *source, c);
    Result<std::vector<std::uint32_t>> held = data::HeldOutSynthetic(name, 4096);
    ASSERT_TRUE(held.ok()) << held.status().message();
    ASSERT_EQ(held->size(), 4096u);
    EXPECT_EQ(*data::HeldOutSynthetic(name, 4096), *held);  // deterministic
    // A shorter request is a prefix of a longer one.
    const std::vector<std::uint32_t> short_held = *data::HeldOutSynthetic(name, 100);
    EXPECT_TRUE(std::equal(short_held.begin(), short_held.end(), held->begin()));

    // The training shards are the generator's stream (seed 1) up to a
    // document's end, and the held-out text is that stream's continuation.
    auto generate = generators.at(name);
    ASSERT_EQ(generate(train.size(), 1), train) << "the shards are not generator seed 1's stream";
    ASSERT_EQ(train.back(), data::kEndOfDocument);
    const std::vector<std::uint32_t> stream = generate(train.size() + 4096, 1);
    EXPECT_TRUE(std::equal(held->begin(), held->end(), stream.begin() + train.size()));

    // No held-out document is a training document, and no held-out text sits
    // at the training text's offsets.
    const auto train_docs = Documents(train);
    const std::set<std::vector<std::uint32_t>> trained(train_docs.begin(), train_docs.end());
    const auto held_docs = Documents(*held);
    ASSERT_GE(held_docs.size(), 2u);
    for (const auto& doc : held_docs) EXPECT_EQ(trained.count(doc), 0u);
    EXPECT_FALSE(std::equal(held->begin(), held->end(), train.begin()));
  }
  Result<std::vector<std::uint32_t>> unknown = data::HeldOutSynthetic("poetry", 10);
  EXPECT_EQ(unknown.status().exit_code(), 2);
  EXPECT_TRUE(Contains(unknown.status().message(), "data.eval_manifest"));
}

// A smoke-config model, initialised, with its own pool and tracker.
struct Model {
  Model(const TrainConfig& config, const data::Manifest& m, int threads) : pool(threads) {
    kernels = std::make_unique<Kernels<float>>(pool, config.profile, tracker, config.compute,
                                               std::size_t{m.seq_len});
    GptConfig gc = config.model;
    gc.seq_len = static_cast<int>(m.seq_len);
    gpt = std::make_unique<Gpt<float>>(gc, config.micro_batch, *kernels, tracker);
    gpt->Initialize(config.seed);
  }
  MemoryTracker tracker;
  ThreadPool pool;
  std::unique_ptr<Kernels<float>> kernels;
  std::unique_ptr<Gpt<float>> gpt;
};

void ExpectSameBits(const EvalResult& a, const EvalResult& b) {
  EXPECT_EQ(std::memcmp(&a.loss, &b.loss, sizeof(double)), 0) << a.loss << " vs " << b.loss;
  ASSERT_EQ(a.corpora.size(), b.corpora.size());
  for (std::size_t c = 0; c < a.corpora.size(); ++c) {
    EXPECT_EQ(a.corpora[c].name, b.corpora[c].name);
    EXPECT_EQ(std::memcmp(&a.corpora[c].loss, &b.corpora[c].loss, sizeof(double)), 0)
        << a.corpora[c].name;
    EXPECT_EQ(a.corpora[c].accuracy, b.corpora[c].accuracy) << a.corpora[c].name;
  }
}

TEST(EvaluatorTest, FreshModelNearLogVocabSameBitsOnAnyThreadsAndModelUntouched) {
  const TrainConfig config = SmokeConfig({"eval.tokens=4096", "eval.prompts=16"});
  const data::Manifest m = TrainingData(config);
  Result<Evaluator> evaluator = Evaluator::Create(config, m);
  ASSERT_TRUE(evaluator.ok()) << evaluator.status().message();
  ASSERT_EQ(evaluator->num_corpora(), 3u);

  Model one(config, m, 1);
  // The kernels size their workspace at the first product: in a run, the
  // first step's Forward has done so before any evaluation.
  one.gpt->Forward(evaluator->held_out(0).data());
  const std::vector<float> params(one.gpt->params(), one.gpt->params() + one.gpt->num_params());
  const std::vector<float> grads(one.gpt->grads(), one.gpt->grads() + one.gpt->num_params());
  const std::size_t current = one.tracker.current(), peak = one.tracker.peak();
  const EvalResult first = evaluator->Evaluate(*one.gpt);

  const double ln_vocab = std::log(257.0);
  EXPECT_NEAR(first.loss, ln_vocab, 0.05 * ln_vocab);
  ASSERT_EQ(first.corpora.size(), 3u);
  double mean_of_corpora = 0;
  for (const CorpusEval& c : first.corpora) {
    EXPECT_NEAR(c.loss, ln_vocab, 0.05 * ln_vocab) << c.name;
    EXPECT_EQ(c.accuracy.has_value(), c.name == "arith") << c.name;
    mean_of_corpora += c.loss / 3;
  }
  // Every corpus predicts as many tokens, so the overall mean is their mean.
  EXPECT_NEAR(first.loss, mean_of_corpora, 1e-12);
  // An untrained model does not do arithmetic.
  EXPECT_LE(*first.corpora[1].accuracy, 1.0 / 16);

  // Twice: the same bits, and nothing of the model or the tracker changed.
  ExpectSameBits(first, evaluator->Evaluate(*one.gpt));
  EXPECT_EQ(std::memcmp(params.data(), one.gpt->params(), params.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(grads.data(), one.gpt->grads(), grads.size() * sizeof(float)), 0);
  EXPECT_EQ(one.tracker.current(), current);
  EXPECT_EQ(one.tracker.peak(), peak);

  Model two(config, m, 2);
  ExpectSameBits(first, evaluator->Evaluate(*two.gpt));
}

TEST(EvaluatorTest, LossCoversEveryWholeSampleOfTheHeldOutTokens) {
  for (std::uint64_t tokens : {1024, 1000, 4096}) {
    SCOPED_TRACE(tokens);
    const TrainConfig config = SmokeConfig({"eval.tokens=" + std::to_string(tokens)});
    const data::Manifest m = TrainingData(config);
    Result<Evaluator> evaluator = Evaluator::Create(config, m);
    ASSERT_TRUE(evaluator.ok()) << evaluator.status().message();
    const std::uint64_t predicted = evaluator->predicted_tokens();
    EXPECT_EQ(predicted % m.seq_len, 0u);
    EXPECT_LE(predicted, tokens - 1);              // every target is a held-out token
    EXPECT_GT(predicted + m.seq_len, tokens - 1);  // and no whole sample more would fit
    for (std::size_t c = 0; c < evaluator->num_corpora(); ++c) {
      EXPECT_EQ(evaluator->held_out(c), *data::HeldOutSynthetic(m.corpora[c].name, tokens));
    }
  }
}

// The micro-batch only decides how many samples one Forward takes: the
// results are the same bits for any.
TEST(EvaluatorTest, SameBitsForAnyMicroBatch) {
  std::optional<EvalResult> first;
  for (int micro_batch : {1, 3, 8}) {
    SCOPED_TRACE(micro_batch);
    const TrainConfig config = SmokeConfig({"train.micro_batch=" + std::to_string(micro_batch)});
    const data::Manifest m = TrainingData(config);
    Result<Evaluator> evaluator = Evaluator::Create(config, m);
    ASSERT_TRUE(evaluator.ok()) << evaluator.status().message();
    Model model(config, m, 1);
    const EvalResult r = evaluator->Evaluate(*model.gpt);
    if (!first) {
      first = r;
      continue;
    }
    ExpectSameBits(r, *first);
    for (std::size_t c = 0; c < r.corpora.size(); ++c) {
      EXPECT_EQ(r.corpora[c].token_accuracy, first->corpora[c].token_accuracy);
    }
  }
}

// The probabilities Evaluate decodes from are the model's softmax: rows sum
// to one and the targets' -log p add up to Forward's loss.
TEST(EvaluatorTest, ProbsAccessorHoldsTheLastForwardsSoftmax) {
  const TrainConfig config = SmokeConfig();
  const data::Manifest m = TrainingData(config);
  Model model(config, m, 1);
  const std::size_t T = m.seq_len, V = 257, B = 2;
  const std::vector<std::uint32_t> held = *data::HeldOutSynthetic("prose", B * (T + 1));
  const double loss = model.gpt->Forward(held.data());
  double from_probs = 0;
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t t = 0; t < T; ++t) {
      const float* row = model.gpt->probs() + (b * T + t) * V;
      double sum = 0;
      for (std::size_t v = 0; v < V; ++v) sum += row[v];
      EXPECT_NEAR(sum, 1.0, 1e-5);
      from_probs -= std::log(static_cast<double>(row[held[b * (T + 1) + t + 1]]));
    }
  }
  EXPECT_NEAR(from_probs, loss, 1e-4 * loss);
}

TEST(ArithFactsTest, TakesWholeTrueLinesOnly) {
  std::vector<std::uint32_t> text = Bytes("7+45=82\n");  // cut from "37+45=82": false, skipped
  for (std::uint32_t t : Bytes("12*7=84\n9-3=6\n")) text.push_back(t);
  text.push_back(data::kEndOfDocument);
  for (std::uint32_t t : Bytes("3-9=6\n1+1=3\nx+1=2\n99*99=9801\n12+1=")) text.push_back(t);
  const std::vector<ArithFact> facts = ExtractArithFacts(text, 10);
  ASSERT_EQ(facts.size(), 3u);
  EXPECT_EQ(facts[0].prompt, Bytes("12*7="));
  EXPECT_EQ(facts[0].answer, Bytes("84\n"));
  EXPECT_EQ(facts[1].prompt, Bytes("9-3="));
  EXPECT_EQ(facts[1].answer, Bytes("6\n"));
  // After a document's end; "12+1=" has no line end and is not whole.
  EXPECT_EQ(facts[2].prompt, Bytes("99*99="));
  EXPECT_EQ(facts[2].answer, Bytes("9801\n"));
  EXPECT_EQ(ExtractArithFacts(text, 2).size(), 2u);
}

TEST(GreedyDecodeTest, GreedyTokenTiesGoToTheLowestId) {
  EXPECT_EQ(GreedyToken(std::vector<float>{0.25f, 0.5f, 0.5f, 0.1f}), 1u);
  EXPECT_EQ(GreedyToken(std::vector<float>{0.2f, 0.2f, 0.2f}), 0u);
  EXPECT_EQ(GreedyToken(std::vector<float>{0.1f, 0.2f, 0.7f}), 2u);
}

constexpr std::size_t kV = 257;

// A stub model: for every sample and position, a one-hot row on what `next`
// says follows the tokens at positions 0..t (only those: causal), given as
// text; `next` returns -1 for "no idea" (a uniform row).
class StubModel {
 public:
  StubModel(std::size_t batch, std::size_t seq_len, std::function<int(const std::string&)> next)
      : batch_(batch), seq_len_(seq_len), next_(std::move(next)), probs_(batch * seq_len * kV) {}

  ProbsFn fn() {
    return [this](const std::uint32_t* samples) {
      ++calls_;
      for (std::size_t b = 0; b < batch_; ++b) {
        std::string prefix;
        for (std::size_t t = 0; t < seq_len_; ++t) {
          prefix += static_cast<char>(samples[b * (seq_len_ + 1) + t]);
          float* row = probs_.data() + (b * seq_len_ + t) * kV;
          const int token = next_(prefix);
          std::fill(row, row + kV, token < 0 ? 1.0f / kV : 0.0f);
          if (token >= 0) row[token] = 1.0f;
        }
      }
      return probs_.data();
    };
  }
  int calls() const { return calls_; }

 private:
  std::size_t batch_, seq_len_;
  std::function<int(const std::string&)> next_;
  std::vector<float> probs_;
  int calls_ = 0;
};

// Knows arithmetic: after "A op B=" and some answer digits, the next one.
int Oracle(const std::string& prefix) {
  unsigned a = 0, b = 0;
  char op = 0;
  int used = 0;
  if (std::sscanf(prefix.c_str(), "%u%c%u=%n", &a, &op, &b, &used) < 3 || used == 0) return -1;
  const unsigned c = op == '+' ? a + b : op == '-' ? a - b : a * b;
  const std::string answer = std::to_string(c) + "\n";
  const std::string written = prefix.substr(static_cast<std::size_t>(used));
  if (written.size() >= answer.size() || answer.compare(0, written.size(), written) != 0) return -1;
  return static_cast<unsigned char>(answer[written.size()]);
}

// Greedy decoding as the definition says it, one call per answer token: the
// reference GreedyMatches must agree with.
std::vector<std::vector<std::uint32_t>> GreedyDecode(const std::vector<ArithFact>& facts,
                                                     std::size_t batch, std::size_t seq_len,
                                                     const ProbsFn& forward) {
  const std::size_t width = seq_len + 1;
  std::vector<std::vector<std::uint32_t>> decoded(facts.size());
  std::vector<std::uint32_t> samples(batch * width);
  for (std::size_t first = 0; first < facts.size(); first += batch) {
    const std::size_t count = std::min(batch, facts.size() - first);
    std::fill(samples.begin(), samples.end(), kPadToken);
    std::vector<std::size_t> length(count);  // tokens in the slot: prompt + decoded so far
    std::vector<bool> done(count);
    for (std::size_t b = 0; b < count; ++b) {
      const std::vector<std::uint32_t>& p = facts[first + b].prompt;
      length[b] = std::min(p.size(), seq_len);
      std::copy(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(length[b]),
                samples.begin() + static_cast<std::ptrdiff_t>(b * width));
      done[b] = p.empty() || p.size() > seq_len;
    }
    while (std::find(done.begin(), done.end(), false) != done.end()) {
      const float* probs = forward(samples.data());
      for (std::size_t b = 0; b < count; ++b) {
        if (done[b]) continue;
        const float* row = probs + (b * seq_len + length[b] - 1) * kV;
        const std::uint32_t token = GreedyToken({row, kV});
        std::vector<std::uint32_t>& out = decoded[first + b];
        out.push_back(token);
        if (token == '\n' || out.size() == kMaxAnswerTokens || length[b] == seq_len) {
          done[b] = true;
        } else {
          samples[b * width + length[b]++] = token;
        }
      }
    }
  }
  return decoded;
}

std::vector<bool> DecodedMatches(const std::vector<ArithFact>& facts, std::size_t batch,
                                 std::size_t seq_len, const ProbsFn& forward) {
  const auto decoded = GreedyDecode(facts, batch, seq_len, forward);
  std::vector<bool> m;
  for (std::size_t i = 0; i < facts.size(); ++i) m.push_back(decoded[i] == facts[i].answer);
  return m;
}

TEST(GreedyMatchesTest, AModelThatKnowsArithmeticMatchesEveryFactInOneCallPerBatch) {
  const std::vector<ArithFact> facts =
      ExtractArithFacts(Bytes("37+45=82\n12*7=84\n99*99=9801\n"), 3);
  ASSERT_EQ(facts.size(), 3u);
  StubModel oracle(2, 16, Oracle);
  TokenCount tokens;
  EXPECT_EQ(GreedyMatches(facts, 2, 16, kV, oracle.fn(), &tokens),
            (std::vector<bool>{true, true, true}));
  EXPECT_EQ(tokens.right, 11u);  // "82\n", "84\n", "9801\n"
  EXPECT_EQ(tokens.total, 11u);
  EXPECT_EQ(oracle.calls(), 2);  // decoding takes 8: "82\n" and "84\n" in 3, "9801\n" in 5
  StubModel decoder(2, 16, Oracle);
  EXPECT_EQ(DecodedMatches(facts, 2, 16, decoder.fn()), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(decoder.calls(), 8);
}

TEST(GreedyMatchesTest, WrongOrUnterminatedAnswersDoNotMatch) {
  const std::vector<ArithFact> facts = ExtractArithFacts(Bytes("37+45=82\n12*7=84\n"), 2);
  ASSERT_EQ(facts.size(), 2u);
  StubModel newline(2, 16, [](const std::string&) { return '\n'; });
  EXPECT_EQ(GreedyMatches(facts, 2, 16, kV, newline.fn()), (std::vector<bool>{false, false}));
  // Uniform rows: ties go to token 0.
  StubModel clueless(2, 16, [](const std::string&) { return -1; });
  EXPECT_EQ(GreedyMatches(facts, 2, 16, kV, clueless.fn()), (std::vector<bool>{false, false}));
  // The right digits without the line end are wrong.
  StubModel rambling(2, 16, [](const std::string& p) {
    const int next = Oracle(p);
    return next == '\n' ? '7' : next < 0 ? '7' : next;
  });
  EXPECT_EQ(GreedyMatches(facts, 2, 16, kV, rambling.fn()), (std::vector<bool>{false, false}));
  // Knows addition only: one of two.
  StubModel adder(2, 16, [](const std::string& p) {
    return p.find('*') == std::string::npos ? Oracle(p) : '1';
  });
  TokenCount tokens;
  EXPECT_EQ(GreedyMatches(facts, 2, 16, kV, adder.fn(), &tokens), (std::vector<bool>{true, false}));
  EXPECT_EQ(tokens.right, 3u) << "all of 82\\n, none of 84\\n";
  EXPECT_EQ(tokens.total, 6u);
  // Right but for the last digit: no match, yet most tokens right.
  StubModel off_by_one(2, 16, [](const std::string& p) {
    const int next = Oracle(p);
    return p.ends_with("=8") ? '5' : next;  // "85\n" for both
  });
  EXPECT_EQ(GreedyMatches(facts, 2, 16, kV, off_by_one.fn(), &tokens),
            (std::vector<bool>{false, false}));
  EXPECT_EQ(tokens.right, 4u)
      << "the 8s and the line ends: each token sees the true answer before it";
  EXPECT_EQ(tokens.total, 6u);
}

TEST(GreedyMatchesTest, AnAnswerThatDoesNotFitTheSampleDoesNotMatch) {
  const std::vector<ArithFact> facts = ExtractArithFacts(Bytes("12+34=46\n"), 1);
  ASSERT_EQ(facts.size(), 1u);
  // Positions 0..6: the prompt fills 0..5, "4" is predicted at 5, "6" at 6,
  // and "\n" would be predicted at 7: no such position.
  StubModel oracle(1, 7, Oracle);
  TokenCount tokens;
  EXPECT_EQ(GreedyMatches(facts, 1, 7, kV, oracle.fn(), &tokens), std::vector<bool>{false});
  EXPECT_EQ(tokens.right, 0u);
  EXPECT_EQ(tokens.total, 3u);
  EXPECT_EQ(DecodedMatches(facts, 1, 7, oracle.fn()), std::vector<bool>{false});
  StubModel roomy(1, 8, Oracle);
  EXPECT_EQ(GreedyMatches(facts, 1, 8, kV, roomy.fn()), std::vector<bool>{true});
  EXPECT_EQ(DecodedMatches(facts, 1, 8, roomy.fn()), std::vector<bool>{true});
}

TEST(GreedyMatchesTest, AgreesWithGreedyDecodingForModelsThatAreOftenRight) {
  // Models that follow the oracle except where a keyed coin says otherwise
  // (then a digit or '\n' from the prefix's hash): every fact, every model,
  // both answers agree, for sample lengths from too short to roomy.
  const std::vector<ArithFact> facts = ExtractArithFacts(
      Bytes("37+45=82\n12*7=84\n99*99=9801\n5-3=2\n100+1=101\n8*8=64\n71-70=1\n"), 7);
  ASSERT_EQ(facts.size(), 7u);
  std::size_t matched = 0, total = 0;
  for (std::uint64_t model = 0; model < 200; ++model) {
    auto next = [model](const std::string& prefix) {
      CounterRng rng(model, "test/greedy-matches");
      const std::uint64_t h = std::hash<std::string>{}(prefix);
      if (rng.Below(h, 5) != 0) return Oracle(prefix);
      const std::uint64_t pick = rng.Below(h + 1, 11);
      return pick == 10 ? int{'\n'} : static_cast<int>('0' + pick);
    };
    for (std::size_t seq_len : {8u, 10u, 16u}) {
      for (std::size_t batch : {1u, 3u}) {
        StubModel a(batch, seq_len, next), b(batch, seq_len, next);
        const std::vector<bool> fast = GreedyMatches(facts, batch, seq_len, kV, a.fn());
        ASSERT_EQ(fast, DecodedMatches(facts, batch, seq_len, b.fn()))
            << "model " << model << " seq_len " << seq_len << " batch " << batch;
        matched += static_cast<std::size_t>(std::count(fast.begin(), fast.end(), true));
        total += fast.size();
      }
    }
  }
  // Both outcomes occur often, or the comparison would prove little.
  EXPECT_GT(matched, total / 10);
  EXPECT_LT(matched, total - total / 10);
}

TEST(EvaluatorTest, RecordFieldsAreExactHexFloatsWithDecimals) {
  EvalResult r;
  r.loss = 3.25;
  r.corpora = {{"prose", 3.5, std::nullopt, std::nullopt}, {"arith", 3.0, 0.125, 0.375}};
  StepRecord rec;
  AddToRecord(r, &rec);
  const nlohmann::ordered_json j = StepToJson(rec);
  EXPECT_EQ(*ParseHexFloat(j["eval_loss"].get<std::string>()), 3.25);
  EXPECT_EQ(j["eval_loss_dec"].get<double>(), 3.25);
  EXPECT_EQ(*ParseHexFloat(j["eval_loss_prose"].get<std::string>()), 3.5);
  EXPECT_EQ(*ParseHexFloat(j["eval_loss_arith"].get<std::string>()), 3.0);
  EXPECT_EQ(*ParseHexFloat(j["eval_acc_arith"].get<std::string>()), 0.125);
  EXPECT_EQ(j["eval_acc_arith_dec"].get<double>(), 0.125);
  EXPECT_EQ(*ParseHexFloat(j["eval_tokacc_arith"].get<std::string>()), 0.375);
  EXPECT_FALSE(j.contains("eval_acc_prose"));
  EXPECT_FALSE(j.contains("eval_tokacc_prose"));
  // A step without an evaluation has none of the fields.
  EXPECT_FALSE(StepToJson(StepRecord{}).contains("eval_loss"));
  EXPECT_TRUE(Contains(FormatEval(r), "arith 3.0000 (acc 0.125, tokens 0.375)"));
}

TEST(EvalConfigTest, DefaultsAreOffAndResolved) {
  Result<TrainConfig> c = ParseTrainConfig("", "<test>", "", {});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->eval_every, 0);
  EXPECT_EQ(c->resolved["eval"]["every"], 0);
  EXPECT_EQ(c->resolved["eval"]["tokens"], 4096);
  EXPECT_EQ(c->resolved["eval"]["prompts"], 16);
  EXPECT_EQ(c->resolved["data"]["eval_manifest"], "");
  // The smoke config evaluates every 10 steps.
  EXPECT_EQ(SmokeConfig().eval_every, 10);
  EXPECT_EQ(SmokeConfig().resolved["eval"]["every"], 10);
  EXPECT_EQ(SmokeConfig().resolved["eval"]["tokens"], 1024);
}

TEST(EvalConfigTest, BadValuesNameTheKey) {
  const struct {
    std::vector<std::string> overrides;
    const char* names;
  } cases[] = {
      {{"eval.every=-1"}, "eval.every"},
      {{"eval.tokens=1"}, "eval.tokens"},
      {{"eval.prompts=-2"}, "eval.prompts"},
      {{"eval.evry=3"}, "did you mean \"eval.every\""},
      {{"eval.every=\"often\""}, "eval.every must be an integer"},
      {{"data.manifest=\"other.toml\"", "eval.every=5"}, "data.eval_manifest"},
  };
  for (const auto& c : cases) {
    Result<TrainConfig> r = ParseTrainConfig("", "<test>", "", c.overrides);
    ASSERT_FALSE(r.ok()) << c.names;
    EXPECT_EQ(r.status().exit_code(), 2);
    EXPECT_TRUE(Contains(r.status().message(), c.names));
    EXPECT_TRUE(Contains(r.status().message(), "<test>"));
  }
  // Evaluation off needs no held-out text.
  EXPECT_TRUE(ParseTrainConfig("", "<test>", "", {"data.manifest=\"other.toml\""}).ok());
}

TEST(EvaluatorTest, TooFewTokensOrTooManyPromptsAreBadInput) {
  const TrainConfig smoke = SmokeConfig();
  const data::Manifest m = TrainingData(smoke);
  Result<Evaluator> few = Evaluator::Create(SmokeConfig({"eval.tokens=64"}), m);
  EXPECT_EQ(few.status().exit_code(), 2);
  EXPECT_TRUE(Contains(few.status().message(), "eval.tokens >= 65"));
  EXPECT_TRUE(Evaluator::Create(SmokeConfig({"eval.tokens=65", "eval.prompts=1"}), m).ok());
  Result<Evaluator> many = Evaluator::Create(SmokeConfig({"eval.prompts=1000"}), m);
  EXPECT_EQ(many.status().exit_code(), 2);
  EXPECT_TRUE(Contains(many.status().message(), "eval.prompts = 1000"));
}

TEST(EvaluatorTest, DueAtStepOneEveryNthAndTheLastStep) {
  const data::Manifest m = TrainingData(SmokeConfig());
  Result<Evaluator> e = Evaluator::Create(SmokeConfig({"eval.every=20", "train.steps=50"}), m);
  ASSERT_TRUE(e.ok());
  std::vector<int> due;
  for (int step = 1; step <= 50; ++step) {
    if (e->Due(step)) due.push_back(step);
  }
  EXPECT_EQ(due, (std::vector<int>{1, 20, 40, 50}));
  Result<Evaluator> off = Evaluator::Create(SmokeConfig({"eval.every=0"}), m);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->Due(1));
}

// Writes a held-out manifest of `names`, each the embedded held-out text of
// `tokens` tokens in two shards; returns its path.
std::string WriteEvalManifest(const std::filesystem::path& dir,
                              const std::vector<std::string>& names, std::uint64_t tokens) {
  data::Manifest m;
  m.seed = 1;
  m.seq_len = 64;
  m.vocab_size = data::kByteVocab;
  for (const std::string& name : names) {
    const std::vector<std::uint32_t> text = *data::HeldOutSynthetic(name, tokens);
    data::Corpus corpus{name, {}};
    const std::size_t cut = 3000;
    for (int s = 0; s < 2; ++s) {
      std::span<const std::uint32_t> part =
          s == 0 ? std::span(text).first(cut) : std::span(text).subspan(cut);
      const std::string rel = name + "/" + std::to_string(s) + ".bin";
      std::filesystem::create_directories(dir / name);
      Result<data::ShardHeader> h = data::WriteShard((dir / rel).string(), part, m.vocab_size);
      EXPECT_TRUE(h.ok()) << h.status().message();
      corpus.shards.push_back({rel, part.size(), h->payload_digest});
    }
    m.corpora.push_back(corpus);
  }
  m.schedule.segments.push_back({0, std::vector<double>(names.size(), 1.0)});
  const std::string path = (dir / "eval.toml").string();
  EXPECT_TRUE(data::SaveManifest(m, path).ok());
  return path;
}

TEST(EvaluatorTest, EvalManifestShardsGiveTheSameTextAndResults) {
  auto dir = FreshTempDir();
  const std::string path = WriteEvalManifest(dir, {"prose", "arith", "code"}, 5000);
  // 4096 tokens: across the two shards of each corpus.
  const TrainConfig from_manifest =
      SmokeConfig({"eval.tokens=4096", "data.eval_manifest=\"" + path + "\""});
  const TrainConfig embedded = SmokeConfig({"eval.tokens=4096"});
  const data::Manifest m = TrainingData(embedded);
  Result<Evaluator> a = Evaluator::Create(from_manifest, m);
  ASSERT_TRUE(a.ok()) << a.status().message();
  Result<Evaluator> b = Evaluator::Create(embedded, m);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(a->num_corpora(), 3u);
  for (std::size_t c = 0; c < 3; ++c) EXPECT_EQ(a->held_out(c), b->held_out(c)) << c;
  Model model(embedded, m, 1);
  ExpectSameBits(a->Evaluate(*model.gpt), b->Evaluate(*model.gpt));

  // Too few held-out tokens, or a training corpus missing: BadInput.
  Result<Evaluator> short_text = Evaluator::Create(
      SmokeConfig({"eval.tokens=6000", "data.eval_manifest=\"" + path + "\""}), m);
  EXPECT_EQ(short_text.status().exit_code(), 2);
  EXPECT_TRUE(Contains(short_text.status().message(), "eval.tokens = 6000"));
  auto dir2 = dir / "partial";
  const std::string partial = WriteEvalManifest(dir2, {"prose", "arith"}, 5000);
  Result<Evaluator> missing =
      Evaluator::Create(SmokeConfig({"data.eval_manifest=\"" + partial + "\""}), m);
  EXPECT_EQ(missing.status().exit_code(), 2);
  EXPECT_TRUE(Contains(missing.status().message(), "no corpus \"code\""));
  EXPECT_TRUE(Contains(missing.status().message(), "data.eval_manifest"));
}

}  // namespace
}  // namespace lockstep::trainer
