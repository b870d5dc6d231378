#include "golden/health.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "core/hexfloat.h"
#include "core/ulp.h"
#include "golden/compare.h"  // UlpDistance
#include "golden/metric_text.h"

namespace lockstep::golden {
namespace {

// At most this many detail lines per check: a CI log stays readable when a
// whole model freezes or every step spikes.
constexpr std::size_t kMaxDetailLines = 12;
// At most this many tensor names on one grouped frozen line.
constexpr std::size_t kMaxNamesPerLine = 6;

std::optional<double> FloatOf(const StepRow& row, const std::string& name) {
  const MetricValue* m = row.Find(name);
  if (m == nullptr) return std::nullopt;
  switch (m->kind) {
    case MetricValue::Kind::kFloat:
      return m->f;
    case MetricValue::Kind::kInt:
      return static_cast<double>(m->i);
    case MetricValue::Kind::kText:
      return std::nullopt;
  }
  return std::nullopt;
}

// A hex-float string (or a JSON number) from a detail object.
std::optional<double> JsonFloat(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) return ParseNumber(it->get_ref<const std::string&>());
  return std::nullopt;
}

// Sorted copy; the mean of the two middle values for an even count. Sorting
// first makes the result independent of the order values arrived in.
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// "7.8e-3": two significant digits, no exponent padding.
std::string Sci(double x) {
  if (x == 0) return "0";
  if (!std::isfinite(x)) return fmt::format("{}", x);
  std::string s = fmt::format("{:.1e}", x);
  const std::size_t e = s.find('e');
  return s.substr(0, e) + "e" + std::to_string(std::stoi(s.substr(e + 1)));
}

// A scale for people: "1.0", "0.02", "12", else Sci.
std::string Approx(double x) {
  const double a = std::fabs(x);
  if (a == 0 || a < 0.01 || a >= 1000 || !std::isfinite(x)) return Sci(x);
  std::string s = fmt::format("{:.2g}", x);
  if (s.find_first_of(".e") == std::string::npos && a < 10) s += ".0";
  return s;
}

std::string Num(double x) {
  return fmt::format("{:.4g}", x);
}

std::string StepRange(std::int64_t first, std::int64_t last) {
  return first == last ? fmt::format("step {}", first) : fmt::format("steps {}-{}", first, last);
}

std::vector<std::string> SplitNames(const std::string& text) {
  std::vector<std::string> names;
  std::istringstream in(text);
  for (std::string name; in >> name;) names.push_back(name);
  return names;
}

void CapDetail(std::vector<std::string>& detail) {
  if (detail.size() <= kMaxDetailLines) return;
  const std::size_t more = detail.size() - (kMaxDetailLines - 1);
  detail.resize(kMaxDetailLines - 1);
  detail.push_back(fmt::format("... and {} more", more));
}

// The outcome under the policy: a tripped check fails or warns.
CheckResult Finish(CheckResult r, CheckPolicy policy) {
  if (r.outcome == CheckOutcome::kFail && policy == CheckPolicy::kWarn)
    r.outcome = CheckOutcome::kWarn;
  return r;
}

CheckResult Off(const char* check) {
  return CheckResult{check, CheckOutcome::kOff, "off (policy = \"off\")", {}};
}

// ---- frozen ----

struct FrozenSpan {
  std::string name;
  std::int64_t first = 0, last = 0;
  std::vector<double> value_rms, update_rms;  // from unchanged_detail, where given
};

std::string FrozenText(const FrozenSpan& s) {
  std::string text = "unchanged for " + StepRange(s.first, s.last);
  if (s.value_rms.empty()) return text;
  // The values did not change, so any step's value_rms is the scale.
  const double value = s.value_rms.front();
  const float scale = static_cast<float>(value);  // the values are floats
  const double bf16 = Bf16Ulp(scale), fp32 = Fp32Ulp(scale);
  text +=
      fmt::format(": values ~{} (bf16 ULP {}, fp32 ULP {})", Approx(value), Sci(bf16), Sci(fp32));
  if (s.update_rms.empty()) return text;
  const double update = Median(s.update_rms);
  if (update == 0) return text + ", updates 0: the optimizer does not move it";
  text += ", updates ~" + Sci(update);
  if (update < fp32 / 2) return text + " < fp32 ULP/2";
  if (update < bf16 / 2) return text + " < bf16 ULP/2";
  return text + ", above ULP/2: computed but not applied";
}

}  // namespace

const char* CheckOutcomeName(CheckOutcome o) {
  switch (o) {
    case CheckOutcome::kPass:
      return "pass";
    case CheckOutcome::kWarn:
      return "warn";
    case CheckOutcome::kFail:
      return "fail";
    case CheckOutcome::kOff:
      return "off";
    case CheckOutcome::kNotApplicable:
      return "n/a";
  }
  return "?";
}

std::optional<CheckPolicy> ParseCheckPolicy(std::string_view text) {
  if (text == "fail") return CheckPolicy::kFail;
  if (text == "warn") return CheckPolicy::kWarn;
  if (text == "off") return CheckPolicy::kOff;
  return std::nullopt;
}

namespace {

// The spans of at least `min_steps` consecutive steps over which a tensor
// was in params_unchanged, in closing order. *any: some step had the field.
struct FrozenScan {
  std::vector<FrozenSpan> spans;
  bool any = false;
  std::optional<double> max_zeros;  // the largest grad_zeros
};

FrozenScan ScanFrozen(const RunRecord& run, std::int64_t min_steps) {
  FrozenScan scan;
  std::map<std::string, FrozenSpan> open;  // by tensor name
  auto close = [&](const std::string& name) {
    auto it = open.find(name);
    if (it == open.end()) return;
    if (it->second.last - it->second.first + 1 >= min_steps) {
      scan.spans.push_back(std::move(it->second));
    }
    open.erase(it);
  };
  auto close_all = [&] {
    while (!open.empty()) close(open.begin()->first);
  };
  for (const StepRow& row : run.steps) {
    if (auto z = FloatOf(row, "grad_zeros")) {
      scan.max_zeros = std::max(scan.max_zeros.value_or(0), *z);
    }
    const MetricValue* unchanged = row.Find("params_unchanged");
    if (unchanged == nullptr || unchanged->kind != MetricValue::Kind::kText) {
      close_all();
      continue;
    }
    scan.any = true;
    const std::vector<std::string> names = SplitNames(unchanged->s);
    const std::set<std::string> now(names.begin(), names.end());
    std::vector<std::string> ended;
    for (const auto& [name, span] : open) {
      if (!now.count(name) || span.last != row.step - 1) ended.push_back(name);
    }
    for (const std::string& name : ended) close(name);
    const nlohmann::json* detail = nullptr;
    if (auto it = row.detail.find("unchanged_detail"); it != row.detail.end()) detail = &*it;
    for (const std::string& name : now) {
      FrozenSpan& span = open[name];
      if (span.name.empty()) {
        span.name = name;
        span.first = row.step;
      }
      span.last = row.step;
      if (detail != nullptr && detail->contains(name)) {
        if (auto v = JsonFloat((*detail)[name], "value_rms")) span.value_rms.push_back(*v);
        if (auto u = JsonFloat((*detail)[name], "update_rms")) span.update_rms.push_back(*u);
      }
    }
  }
  close_all();
  return scan;
}

// One detail line per distinct range and scales: tensors that share them
// share a line (all the norm weights of a bf16 model, say).
std::vector<std::string> FrozenLines(std::vector<FrozenSpan> frozen) {
  std::sort(frozen.begin(), frozen.end(), [](const FrozenSpan& a, const FrozenSpan& b) {
    return a.first != b.first ? a.first < b.first : a.name < b.name;
  });
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;  // first-seen order
  for (const FrozenSpan& s : frozen) {
    const std::string text = FrozenText(s);
    auto g =
        std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == text; });
    if (g == groups.end()) {
      groups.push_back({text, {s.name}});
    } else {
      g->second.push_back(s.name);
    }
  }
  std::vector<std::string> lines;
  for (const auto& [text, group] : groups) {
    std::string who;
    for (std::size_t i = 0; i < group.size() && i < kMaxNamesPerLine; ++i)
      who += (i ? ", " : "") + group[i];
    if (group.size() > kMaxNamesPerLine)
      who += fmt::format(" and {} more", group.size() - kMaxNamesPerLine);
    lines.push_back(who + " " + text);
  }
  return lines;
}

}  // namespace

CheckResult CheckFrozen(const RunRecord& run, const FrozenOptions& o) {
  if (o.policy == CheckPolicy::kOff) return Off("frozen");
  CheckResult r{"frozen", CheckOutcome::kPass, "", {}};
  const FrozenScan scan = ScanFrozen(run, o.steps);
  const std::string zeros =
      scan.max_zeros ? fmt::format("; max grad_zeros {:.0f}", *scan.max_zeros) : "";
  if (!scan.any) {
    r.outcome = CheckOutcome::kNotApplicable;
    r.summary = "no params_unchanged in the run's steps" + zeros;
    return r;
  }
  if (scan.spans.empty()) {
    r.summary = fmt::format("no tensor unchanged for {} consecutive steps{}", o.steps, zeros);
    return r;
  }
  r.detail = FrozenLines(scan.spans);
  CapDetail(r.detail);
  std::set<std::string> names;
  for (const FrozenSpan& s : scan.spans) names.insert(s.name);
  std::string listed;
  std::size_t i = 0;
  for (const std::string& n : names) {
    if (i == 3) {
      listed += ", ...";
      break;
    }
    listed += (i++ ? ", " : "") + n;
  }
  r.outcome = CheckOutcome::kFail;
  r.summary = fmt::format("{} tensor{} unchanged for {} or more consecutive steps: {}{}",
                          names.size(), names.size() == 1 ? "" : "s", o.steps, listed, zeros);
  return Finish(std::move(r), o.policy);
}

namespace {

// One half of the loss_scale check: a summary part, whether it judged
// anything, whether that failed, and detail lines.
struct LossJudgement {
  std::string part;
  bool judged = false;
  bool failed = false;
  std::vector<std::string> detail;
};

// Step 1 of a fresh model predicts about uniformly over the vocabulary: its
// loss lies in a band around ln(vocab). A whole-number ratio names the usual
// culprit.
LossJudgement JudgeLossBand(const RunRecord& run, const LossScaleOptions& o) {
  LossJudgement j;
  std::int64_t vocab = o.vocab_size;
  if (vocab <= 0) {
    auto model = run.header.config.find("model");
    if (model != run.header.config.end() && model->is_object()) {
      auto v = model->find("vocab_size");
      if (v != model->end() && v->is_number_integer()) vocab = v->get<std::int64_t>();
    }
  }
  const std::optional<double> loss =
      run.steps.empty() ? std::nullopt : FloatOf(run.steps.front(), "loss");
  if (run.steps.empty() || run.steps.front().step != 1 || !loss) {
    j.part = run.steps.empty() ? "no steps"
             : run.steps.front().step != 1
                 ? fmt::format("the first recorded step is {}, not 1: band not judged",
                               run.steps.front().step)
                 : "no loss at step 1: band not judged";
    return j;
  }
  if (vocab < 2) {
    j.part =
        "no vocab size (header config model.vocab_size, or [checks.loss_scale] vocab_size): band "
        "not judged";
    return j;
  }
  j.judged = true;
  const double ln_v = std::log(static_cast<double>(vocab));
  const double lo = o.band_low * ln_v, hi = o.band_high * ln_v;
  const double ratio = *loss / ln_v;
  if (*loss >= lo && *loss <= hi) {
    j.part = fmt::format("step-1 loss {} = {:.3g} x ln({}), within [{}, {}]", Num(*loss), ratio,
                         vocab, o.band_low, o.band_high);
    return j;
  }
  j.failed = true;
  j.part =
      fmt::format("step-1 loss {} = {:.3g} x ln({}), outside [{}, {}] x ln({}) = [{:.4g}, {:.4g}]",
                  Num(*loss), ratio, vocab, o.band_low, o.band_high, vocab, lo, hi);
  if (*loss > 0 && std::isfinite(*loss)) {
    const double below = ln_v / *loss, above = *loss / ln_v;
    const double n = std::round(below >= 1 ? below : above);
    const double off = std::fabs((below >= 1 ? below : above) - n) / n;
    if (n >= 2 && off < 0.05) {
      j.detail.push_back(below >= 1
                             ? fmt::format("about ln({}) / {:.0f}: a loss divided by the "
                                           "data-parallel world size ({:.0f} ranks) or "
                                           "by the micro-batch count once too often?",
                                           vocab, n, n)
                             : fmt::format("about {:.0f} x ln({}): a loss summed over ranks or "
                                           "micro-batches instead of averaged?",
                                           n, vocab));
    }
  }
  return j;
}

// Bitwise the same loss as another golden, step for step.
LossJudgement JudgeSameLoss(const RunRecord& run, const RunRecord& reference,
                            const std::string& ref_name) {
  LossJudgement j;
  j.judged = true;
  std::map<std::int64_t, double> ref_loss;
  for (const StepRow& row : reference.steps) {
    if (auto l = FloatOf(row, "loss")) ref_loss[row.step] = *l;
  }
  std::int64_t common = 0, differing = 0;
  for (const StepRow& row : run.steps) {
    auto l = FloatOf(row, "loss");
    auto it = ref_loss.find(row.step);
    if (!l || it == ref_loss.end()) continue;
    ++common;
    if (std::memcmp(&*l, &it->second, sizeof(double)) == 0) continue;
    if (differing++ == 0) {
      j.detail.push_back(
          fmt::format("first difference at step {}: loss {} ({}), {} has {} ({}): {} ULPs",
                      row.step, HexFloat(*l), Num(*l), ref_name, HexFloat(it->second),
                      Num(it->second), UlpDistance(*l, it->second)));
    }
  }
  j.failed = common == 0 || differing > 0;
  j.part = common == 0 ? fmt::format("no step in common with {}", ref_name)
           : differing > 0
               ? fmt::format("loss differs from {} at {} of {} common steps", ref_name, differing,
                             common)
               : fmt::format("loss bitwise equal to {} at all {} common steps", ref_name, common);
  return j;
}

}  // namespace

CheckResult CheckLossScale(const RunRecord& run, const LossScaleOptions& o,
                           const RunRecord* reference) {
  if (o.policy == CheckPolicy::kOff) return Off("loss_scale");
  CheckResult r{"loss_scale", CheckOutcome::kNotApplicable, "", {}};
  std::vector<LossJudgement> judgements = {JudgeLossBand(run, o)};
  if (reference != nullptr) {
    judgements.push_back(
        JudgeSameLoss(run, *reference, o.same_loss_as.empty() ? "the reference" : o.same_loss_as));
  }
  std::vector<std::string> parts;
  bool failed = false, judged = false;
  for (const LossJudgement& j : judgements) {
    parts.push_back(j.part);
    judged = judged || j.judged;
    failed = failed || j.failed;
    r.detail.insert(r.detail.end(), j.detail.begin(), j.detail.end());
  }
  r.summary = fmt::format("{}", fmt::join(parts, "; "));
  if (!judged) return r;  // n/a
  r.outcome = failed ? CheckOutcome::kFail : CheckOutcome::kPass;
  CapDetail(r.detail);
  return Finish(std::move(r), o.policy);
}

CheckResult CheckSpike(const RunRecord& run, const SpikeOptions& o) {
  if (o.policy == CheckPolicy::kOff) return Off("spike");
  CheckResult r{"spike", CheckOutcome::kNotApplicable, "", {}};
  struct Spike {
    std::int64_t step;
    int metric;  // 0 loss, 1 grad_norm: the order within a step
    double value, median;
    std::string line;
  };
  std::vector<Spike> spikes;
  std::optional<std::int64_t> first_judged;
  std::map<std::int64_t, std::string> mix;  // step -> batch_mix
  for (const StepRow& row : run.steps) {
    if (const MetricValue* m = row.Find("batch_mix");
        m != nullptr && m->kind == MetricValue::Kind::kText) {
      mix[row.step] = m->s;
    }
  }
  const char* const kMetrics[] = {"loss", "grad_norm"};
  for (int mi = 0; mi < 2; ++mi) {
    const char* metric = kMetrics[mi];
    std::vector<std::pair<std::int64_t, double>>
        series;  // (step, value), finite values in record order
    for (const StepRow& row : run.steps) {
      if (auto v = FloatOf(row, metric); v && std::isfinite(*v)) series.emplace_back(row.step, *v);
    }
    for (std::size_t i = 0; i < series.size(); ++i) {
      const std::size_t from =
          i > static_cast<std::size_t>(o.window) ? i - static_cast<std::size_t>(o.window) : 0;
      if (i - from < static_cast<std::size_t>(o.min_history)) continue;
      std::vector<double> history;
      for (std::size_t k = from; k < i; ++k) history.push_back(series[k].second);
      const double median = Median(std::move(history));
      if (!first_judged || series[i].first < *first_judged) first_judged = series[i].first;
      if (series[i].second > o.factor * median) {
        const std::int64_t h0 = series[from].first, h1 = series[i - 1].first;
        std::string line =
            fmt::format("step {}: {} {} = {:.3g} x the median {} of {}", series[i].first, metric,
                        Num(series[i].second), median > 0 ? series[i].second / median : INFINITY,
                        Num(median), StepRange(h0, h1));
        if (auto it = mix.find(series[i].first); it != mix.end()) line += "; batch " + it->second;
        spikes.push_back({series[i].first, mi, series[i].second, median, std::move(line)});
      }
    }
  }
  const std::string rule =
      fmt::format("above {} x the median of the previous {} steps", o.factor, o.window);
  if (!first_judged) {
    r.summary = fmt::format("fewer than {} steps before any loss or grad_norm: not judged",
                            o.min_history + 1);
    return r;
  }
  if (spikes.empty()) {
    r.outcome = CheckOutcome::kPass;
    r.summary = fmt::format("no loss or grad_norm {} (judged from step {})", rule, *first_judged);
    return r;
  }
  std::sort(spikes.begin(), spikes.end(), [](const Spike& a, const Spike& b) {
    return a.step != b.step ? a.step < b.step : a.metric < b.metric;
  });
  for (const Spike& s : spikes) r.detail.push_back(s.line);
  const Spike& s = spikes.front();
  r.outcome = CheckOutcome::kFail;
  r.summary = fmt::format("{} spike{} {}; first: {} {} at step {}, median {}", spikes.size(),
                          spikes.size() == 1 ? "" : "s", rule, kMetrics[s.metric], Num(s.value),
                          s.step, Num(s.median));
  CapDetail(r.detail);
  return Finish(std::move(r), o.policy);
}

CheckResult CheckLearning(const RunRecord& run, const LearningOptions& o) {
  if (o.policy == CheckPolicy::kOff) return Off("learning");
  CheckResult r{"learning", CheckOutcome::kNotApplicable, "", {}};
  std::vector<const StepRow*> evals;
  for (const StepRow& row : run.steps) {
    if (FloatOf(row, "eval_loss")) evals.push_back(&row);
  }
  if (evals.size() < 2) {
    r.summary = fmt::format("{} evaluation step{} (eval_loss): needs 2", evals.size(),
                            evals.size() == 1 ? "" : "s");
    return r;
  }
  const StepRow& a = *evals.front();
  const StepRow& b = *evals.back();
  const double first = *FloatOf(a, "eval_loss"), last = *FloatOf(b, "eval_loss");
  const double limit = first * (1 - o.margin);
  const bool ok = last <= limit;  // false for NaN
  std::string accs;
  for (const auto& [key, value] : b.metrics) {
    if (key.starts_with("eval_loss_")) {
      auto f = FloatOf(a, key), l = FloatOf(b, key);
      if (l) r.detail.push_back(fmt::format("{} {} -> {}", key, f ? Num(*f) : "-", Num(*l)));
    }
  }
  for (const auto& [key, value] : b.metrics) {
    if (key.starts_with("eval_acc_") || key.starts_with("eval_tokacc_")) {
      auto f = FloatOf(a, key), l = FloatOf(b, key);
      if (!l) continue;
      accs += fmt::format("; {} {} -> {:.3f}", key.substr(std::strlen("eval_")),
                          f ? fmt::format("{:.3f}", *f) : "-", *l);
    }
  }
  const double change = first != 0 ? (last - first) / first * 100 : 0;
  r.summary = fmt::format("eval_loss {} (step {}) -> {} (step {}), {:+.1f}%", Num(first), a.step,
                          Num(last), b.step, change);
  if (!ok) {
    r.summary +=
        fmt::format(", not below first x (1 - {}) = {}: not learning", o.margin, Num(limit));
  }
  r.summary += accs;
  r.outcome = ok ? CheckOutcome::kPass : CheckOutcome::kFail;
  CapDetail(r.detail);
  return Finish(std::move(r), o.policy);
}

std::vector<CheckResult> RunHealthChecks(const RunRecord& run, const HealthOptions& o,
                                         const RunRecord* same_loss_reference) {
  return {CheckFrozen(run, o.frozen), CheckLossScale(run, o.loss_scale, same_loss_reference),
          CheckSpike(run, o.spike), CheckLearning(run, o.learning)};
}

}  // namespace lockstep::golden
