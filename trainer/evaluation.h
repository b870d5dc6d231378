// Evaluator: held-out evaluation during training, the answer to "is it
// learning?" as numbers a smoke check can compare.
//
// Per corpus of the training manifest, on eval.tokens held-out tokens:
//   loss      the mean token loss. The text is cut into samples of seq_len + 1
//             tokens at stride seq_len (inputs and targets shifted by one, as
//             the sampler cuts training text), as many as fit, run through
//             Gpt::Forward up to micro_batch at a time. The sum is a double:
//             each sample's sum (its tokens in order) added in sample order,
//             so it does not depend on the micro-batch. The mean divides it
//             by samples * seq_len, the tokens predicted.
//   accuracy  for the corpus "arith" only: exact match on the first
//             eval.prompts facts "A op B=C\n" of its held-out text. The model
//             sees "A op B=" at positions 0.. of a sample (padding after it:
//             causality keeps it from earlier positions) and decodes greedily
//             until '\n' or 6 tokens; correct iff it wrote "C\n" (found in one
//             Forward per micro_batch facts: GreedyMatches).
//   token accuracy  of the same rows: the fraction of all answer tokens that
//             are the greedy token given the prompt and the answer before
//             them. It moves long before whole answers come out right.
// and over all corpora, the loss of every held-out token: the corpora's sums
// added in manifest order, over their token counts.
//
// Held-out text: for data.manifest = "embedded", the continuation of each
// synthetic generator past its training corpus (data::HeldOutSynthetic), so
// never in a training shard; otherwise the first eval.tokens tokens of the
// corpus of the same name in data.eval_manifest, its shards in order.
//
// Evaluate runs only Forward, on the training model itself, after the step's
// update: it overwrites activations (the next step's Forward recomputes them)
// and touches no parameter, gradient or optimizer state, so a run has the same
// bits with evaluation on or off. The held-out text is data, kept outside the
// MemoryTracker like the mapped shards, and Evaluate allocates no tensor, so
// mem_peak_bytes is the same too. Forward has the same bits with any thread
// count, and so has everything here.
#ifndef LOCKSTEP_TRAINER_EVALUATION_H_
#define LOCKSTEP_TRAINER_EVALUATION_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/manifest.h"
#include "trainer/gpt.h"
#include "trainer/record_stream.h"
#include "trainer/train_config.h"

namespace lockstep::trainer {

struct CorpusEval {
  std::string name;
  double loss = 0;                       // mean over the corpus's held-out tokens
  std::optional<double> accuracy;        // exact match in [0, 1], where the corpus has a task
  std::optional<double> token_accuracy;  // its answer tokens right under teacher forcing
};

struct EvalResult {
  double loss = 0;                  // mean over the held-out tokens of every corpus
  std::vector<CorpusEval> corpora;  // in manifest order
};

// A fact "A op B=C\n": prompt "A op B=", answer "C\n", as byte tokens.
struct ArithFact {
  std::vector<std::uint32_t> prompt;
  std::vector<std::uint32_t> answer;
};

class Evaluator {
 public:
  // Reads the held-out text of every corpus of `manifest` (the training data
  // as resolved) and picks the accuracy prompts. BadInput, naming the key,
  // when there is no held-out text for a corpus, when eval.tokens is too few
  // for one sample, or eval.prompts more facts than the
  // held-out arith text has.
  static Result<Evaluator> Create(const TrainConfig& config, const data::Manifest& manifest);

  // Whether step `step` evaluates: step 1, every eval.every-th step and the
  // config's last step (train.steps; not a --stop-at step, so a stopped and
  // resumed run records what the straight run does).
  bool Due(int step) const;

  // `model` must have been built for the manifest's seq_len. Every result
  // is the same for any micro_batch the model was built for.
  EvalResult Evaluate(Gpt<float>& model) const;

  std::size_t num_corpora() const { return corpora_.size(); }
  // The held-out tokens of corpus `c` (manifest order).
  const std::vector<std::uint32_t>& held_out(std::size_t c) const { return corpora_[c].tokens; }
  // Tokens each corpus's loss averages over.
  std::uint64_t predicted_tokens() const;

 private:
  struct HeldOut {
    std::string name;
    std::vector<std::uint32_t> tokens;
    bool has_task = false;  // accuracy on `facts`
    std::vector<ArithFact> facts;
  };
  Evaluator() = default;

  int every_ = 0;
  int last_step_ = 0;
  std::uint32_t seq_len_ = 0;
  std::uint64_t samples_ = 0;  // per corpus
  std::vector<HeldOut> corpora_;
};

// The record's eval fields (trainer/record_stream.h), rounded to float as the
// record's loss is.
void AddToRecord(const EvalResult& result, StepRecord* record);
// One line for people: "eval  loss 3.1234  prose 3.0123  arith 2.9876 (acc 0.062) ...".
std::string FormatEval(const EvalResult& result);

// The pieces of the accuracy, apart so that tests can drive them without a
// model.

inline constexpr std::size_t kMaxAnswerTokens = 6;
inline constexpr std::uint32_t kPadToken = 0;  // fills a sample after its prompt

// The first `count` (or fewer) whole lines of `text` of the form A op B=C and
// '\n', with A, B, C decimal numbers, op one of + - *, and C true: a line
// cut at the start of `text` cannot pass for one. Lines start at `text`'s
// start and after '\n' or data::kEndOfDocument. Answers longer than
// kMaxAnswerTokens are skipped: decoding could not match them.
std::vector<ArithFact> ExtractArithFacts(std::span<const std::uint32_t> text, std::size_t count);

// The token greedy decoding picks from one position's probabilities: the most
// probable, ties to the lowest token id.
std::uint32_t GreedyToken(std::span<const float> probs);

// Runs a model on `batch` samples of seq_len + 1 tokens; returns its
// probabilities (batch, seq_len, vocab), valid until the next call.
using ProbsFn = std::function<const float*(const std::uint32_t* samples)>;

// Whether greedy decoding of each fact's prompt would write exactly its
// answer. Greedy decoding (the prompt at positions 0.. of a sample,
// kPadToken after it; each step appends the GreedyToken of the last filled
// position, until '\n', kMaxAnswerTokens tokens or a full sample) writes the
// answer if and only if, at every answer position, the GreedyToken given the
// prompt and the answer before it is the answer's token. So one call of
// `forward` per `batch` facts (fact i in slot i % batch of call i / batch)
// holds prompt + answer and checks every position at once, where decoding
// would take one call per answer token. Causality makes the rows the same
// bits as decoding's. A fact whose prompt and answer do not fit in a sample
// of seq_len + 1 tokens does not match, as decoding would cut it short.
// `tokens`, if given, gets the per-token view of the same rows: of all the
// facts' answer tokens, how many are the GreedyToken given the prompt and the
// answer before them (a fact that does not fit gets none right).
struct TokenCount {
  std::size_t right = 0;
  std::size_t total = 0;
};
std::vector<bool> GreedyMatches(const std::vector<ArithFact>& facts, std::size_t batch,
                                std::size_t seq_len, std::size_t vocab, const ProbsFn& forward,
                                TokenCount* tokens = nullptr);

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_EVALUATION_H_
